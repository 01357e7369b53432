"""Which Serverless Framework produced a package, and so which CLI deploys it.

The CLI's own calls differ per Framework line (iamfit.predict.serverless_cli), so the variant is read from, first
that answers (``--framework`` always wins):

1. the package itself: a code ``S3Bucket`` (or the ``ServerlessDeploymentBucketName`` output) that is a literal
   ``serverless-framework-deployments-<region>-<id>`` name is v4's shared deployment bucket (serverless/serverless
   packages/util/src/globalBucket/deployment.js: ``${S3_BUCKET_NAME_PREFIX}-${region}-${uuidv4().slice(0, 13)}``;
   packages/serverless/lib/plugins/aws/package/lib/generate-core-template.js puts its name in the template), unless
   ``provider.deploymentBucket`` names it; ``.serverless/meta.json``, which only v4 writes
   (packages/sf-core/src/lib/meta/index.js), records ``versionFramework``;
2. the CLI installed for the service: ``node_modules/osls`` or ``node_modules/serverless/package.json``'s version,
   in the service directory or a parent (Node's module resolution);
3. ``frameworkVersion`` in serverless.yml, else as serverless-state.json records it;
4. the template's own shape: Framework v1 before 1.42.0 wrote the region of the execution role's ``RoleName`` as a
   literal (lib/plugins/aws/lib/naming.js ``getRoleName``; ``{ Ref: 'AWS::Region' }`` from v1.42.0 on).

When none tells, every variant is a candidate: the prediction grants what each candidate CLI needs and says so.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

VARIANTS = ("v1", "v2", "v3", "v4", "osls")
"""Serverless Framework v1, v2, v3, v4 (serverless.com) and osls (oss-serverless, the maintained v3 fork)."""

UNTOLD = ("osls", "v1", "v2", "v3", "v4")
"""The candidates when nothing tells; the first (iamfit's pinned CLI) is the one the sandbox runs."""

CLI_MODEL = {"v1": "v1", "v2": "v2", "v3": "v3", "osls": "v3", "v4": "v4"}
"""Variants whose CLIs make the same calls share a model: osls is the maintained fork of v3 (its 3.x and 4.x
releases keep v3's stack bucket and change sets: oss-serverless/serverless lib/plugins/aws/provider.js,
deploy/lib/create-stack.js)."""

BY_MAJOR = {1: ("v1",), 2: ("v2",), 3: ("v3", "osls"), 4: ("v4", "osls")}
"""The variants a ``frameworkVersion`` major admits: osls releases 3.x and 4.x (the pinned one is 4.3.1) and
checks ``frameworkVersion`` against its own version (osls lib/classes/service.js)."""

_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
SHARED_BUCKET = re.compile(rf"^serverless-framework-deployments-(?P<region>{_REGION})-[0-9a-f]{{8}}-[0-9a-f]{{4}}$")
SHARED_BUCKET_PARAMETER = "/serverless-framework/deployment/s3-bucket"
META_FILE = "meta.json"
_VERSION = re.compile(r"^\s*frameworkVersion\s*:\s*(?P<value>[^#\n]+)", re.MULTILINE)
_COMPARATOR = re.compile(
    r"(?P<op>>=|<=|>|<|=|\^|~)?\s*v?(?P<major>\d+|[xX*])(?:\.(?P<minor>\d+|[xX*]))?(?:\.(?P<patch>\d+|[xX*]))?"
)


@dataclass(frozen=True)
class Framework:
    """The candidate Framework variants of a service (one when told), and where they were read."""

    variants: tuple[str, ...]
    source: str

    @property
    def told(self) -> bool:
        """One CLI model: the candidates make the same calls."""
        return len({CLI_MODEL[v] for v in self.variants}) == 1

    @property
    def primary(self) -> str:
        return self.variants[0]


NOT_TOLD = Framework(UNTOLD, "not told")


def deployment_method(variant: str, provider: dict[str, Any]) -> str:
    """``changesets`` or ``direct``: how the variant's CLI creates and updates the stack.

    v1 and v2 always call CreateStack/UpdateStack (lib/plugins/aws/lib/updateStack.js at v1.83.0 and v2.72.0);
    v3 and osls use change sets unless ``provider.deploymentMethod: direct`` (re-introduced in v3.16.0,
    lib/plugins/aws/deploy/lib/create-stack.js); v4 is direct unless ``deploymentMethod: changesets``
    (packages/serverless/lib/plugins/aws/deploy/lib/create-stack.js, lib/update-stack.js)."""
    method = provider.get("deploymentMethod")
    if variant in ("v1", "v2"):
        return "direct"
    if variant == "v4":
        return "changesets" if method == "changesets" else "direct"
    return "direct" if method == "direct" else "changesets"


def majors(constraint: str) -> tuple[int, ...]:
    """The Framework majors (1-4) a ``frameworkVersion`` semver range admits (``3``, ``^3.0.0``,
    ``>=1.1.0 <2.0.0``, ``>=2 || 4``); empty when it admits none or cannot be read."""
    out: set[int] = set()
    for alternative in constraint.strip().strip("'\"").split("||"):
        comparators = [c for c in _COMPARATOR.finditer(alternative) if c["major"].isdigit()]
        if not comparators:
            continue
        admitted = set(range(1, 5))
        for comp in comparators:
            op, major = comp["op"] or "=", int(comp["major"])
            above_zero = any(p is not None and p.isdigit() and int(p) > 0 for p in (comp["minor"], comp["patch"]))
            if op in ("=", "^", "~"):
                admitted &= {major}
            elif op in (">=", ">"):
                admitted = {m for m in admitted if m >= major}
            elif op == "<":  # <2.0.0 ends v1; <2.1.0 admits early 2.x
                admitted = {m for m in admitted if m < major or (m == major and above_zero)}
            elif op == "<=":
                admitted = {m for m in admitted if m <= major}
        out |= admitted
    return tuple(sorted(out))


def _variant_of_version(version: str) -> str | None:
    m = re.match(r"\s*v?(\d+)\.", version)
    if m and 1 <= int(m.group(1)) <= 4:
        return f"v{m.group(1)}"
    return None


def _installed_cli(start: Path) -> tuple[str, str] | None:
    """(variant, where) of the Framework CLI Node would resolve from ``start``: node_modules/osls or
    node_modules/serverless in it or a parent directory."""
    for directory in (start, *start.parents):
        modules = directory / "node_modules"
        osls = modules / "osls" / "package.json"
        if osls.is_file():
            return "osls", f"{directory.name}/node_modules/osls"
        manifest = modules / "serverless" / "package.json"
        if manifest.is_file():
            try:
                version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
            except (OSError, ValueError, AttributeError):
                version = None
            variant = _variant_of_version(version) if isinstance(version, str) else None
            if variant is not None:
                return variant, f"{directory.name}/node_modules/serverless {version}"
    return None


def _meta_version(package: Path) -> tuple[str, str] | None:
    """v4's ``.serverless/meta.json``: ``{<service path>: {"versionFramework": "4.4.11", ...}}``."""
    path = package / META_FILE
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(meta, dict):
        for entry in meta.values():
            version = entry.get("versionFramework") if isinstance(entry, dict) else None
            variant = _variant_of_version(version) if isinstance(version, str) else None
            if variant is not None:
                return variant, f".serverless/{META_FILE}: versionFramework {version}"
    return None


def shared_bucket_in(template: dict[str, Any]) -> str | None:
    """The literal v4 shared deployment bucket the template's code (or bucket-name output) names, if any."""
    resources: dict[str, Any] = template.get("Resources") or {}
    for body in resources.values():
        props = body.get("Properties") if isinstance(body, dict) else None
        if not isinstance(props, dict):
            continue
        for key in ("Code", "Content"):
            code = props.get(key)
            bucket = code.get("S3Bucket") if isinstance(code, dict) else None
            if isinstance(bucket, str) and SHARED_BUCKET.match(bucket):
                return bucket
    outputs: dict[str, Any] = template.get("Outputs") or {}
    output = outputs.get("ServerlessDeploymentBucketName")
    value = output.get("Value") if isinstance(output, dict) else None
    if isinstance(value, str) and SHARED_BUCKET.match(value):
        return value
    return None


def _v1_role_region(template: dict[str, Any]) -> bool:
    """The execution role's RoleName joins a literal region (Framework v1 before 1.42.0)."""
    role = ((template.get("Resources") or {}).get("IamRoleLambdaExecution") or {})
    props = role.get("Properties") if isinstance(role, dict) else None
    name = props.get("RoleName") if isinstance(props, dict) else None
    join = name.get("Fn::Join") if isinstance(name, dict) else None
    if isinstance(join, list) and len(join) == 2 and isinstance(join[1], list) and len(join[1]) == 4:
        region = join[1][2]
        return isinstance(region, str) and join[1][3] == "lambdaRole" and bool(re.fullmatch(_REGION, region))
    return False


def detect_framework(
    *,
    override: str | None,
    template: dict[str, Any],
    provider: dict[str, Any],
    service_dir: Path | None,
    package_dir: Path | None,
    config_text: str,
    recorded_version: str | None,
) -> Framework:
    """The Framework variant(s) of a service (see the module docstring for the order)."""
    if override is not None:
        return Framework((override,), "--framework")
    custom = provider.get("deploymentBucket")
    bucket = shared_bucket_in(template)
    if bucket is not None and not custom:
        return Framework(("v4",), f"the template's code bucket {bucket} is v4's shared deployment bucket")
    if package_dir is not None:
        meta = _meta_version(package_dir)
        if meta is not None:
            return Framework((meta[0],), meta[1])
    if service_dir is not None:
        installed = _installed_cli(service_dir.resolve())
        if installed is not None:
            return Framework((installed[0],), f"the installed CLI {installed[1]}")
    for value, where in ((_config_version(config_text), "serverless.yml"),
                         (recorded_version, "serverless-state.json")):
        if value:
            found = majors(value)
            if found:
                variants = tuple(dict.fromkeys(v for m in found for v in BY_MAJOR[m]))
                return Framework(variants, f"frameworkVersion {value.strip().strip(chr(39) + chr(34))!r} in {where}")
    if _v1_role_region(template):
        return Framework(("v1",), "the execution role's RoleName joins a literal region (Framework v1 before 1.42.0)")
    return NOT_TOLD


def _config_version(text: str) -> str | None:
    m = _VERSION.search(text)
    return m["value"].strip() if m else None


def untold_warning(framework: Framework) -> str | None:
    """The warning when the variant cannot be told (None when it can)."""
    if framework.told:
        return None
    why = ("nothing tells it: no frameworkVersion, no CLI in node_modules, no v4 or v1 mark in the template"
           if framework is NOT_TOLD or framework.source == NOT_TOLD.source else f"{framework.source} admits several")
    return (
        f"cannot tell which Serverless Framework deploys this service ({why}): granting what each of "
        f"{', '.join(sorted(framework.variants))} needs (change sets and direct stack calls, and v4's shared "
        f"deployment bucket where v4 would use it; the sandbox runs {framework.primary}'s calls); "
        "set frameworkVersion in serverless.yml or pass --framework"
    )

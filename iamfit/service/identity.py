"""Which service, stage and region a compiled package or a bare template is for.

Every ARN iamfit writes is built from the service's name, stage and region, so a wrong guess makes every statement
miss. The sources, first that answers wins (an explicit flag always wins, with a warning when it contradicts the
package):

1. The package's own record, ``serverless-state.json``, which the Framework writes next to the template
   (osls lib/plugins/aws/package/lib/save-service-state.js): ``service.service``; the stage from
   ``package.artifactDirectoryName`` = ``<deploymentPrefix>/<service>/<stage>/<timestamp>``
   (lib/plugins/aws/package/lib/generate-artifact-directory-name.js, ``generateArtifactDirectoryName``), since
   ``provider.stage`` keeps the serverless.yml value when ``--stage`` was given; ``provider.region``, which the
   provider overwrites with the resolved region (lib/plugins/aws/provider.js, ``getRegion``).
2. For a bare template (no record, no serverless.yml), the names the Framework compiles into it (see ``_split_sources``
   and ``_combined_sources``), and the region from literal ARNs, service endpoints and the role name where they agree.

When the template does not tell, the caller stops with a bad-input message naming the flags to set.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamfit.errors import BadInputError
from iamfit.knowledge.regions import partition_of
from iamfit.service.framework import SHARED_BUCKET

logger = logging.getLogger(__name__)

_ARTIFACT_KEY = re.compile(r"^(?P<prefix>.+?)/(?P<service>[^/]+)/(?P<stage>[^/]+)/(?P<dir>\d{13}-[^/]+)/")
# A region as it appears in an ARN (arn:<partition>:<service>:<region>:) or an endpoint host (<service>.<region>.).
_ARN_REGION = re.compile(r"\barn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-[a-z]+)+-\d+):")
_HOST_REGION = re.compile(r"\b[a-z0-9-]+\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com")
_ROLE_NAME = re.compile(r"^(?P<rest>.+)-(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)-lambdaRole$")


@dataclass(frozen=True)
class PackageRecord:
    """What ``serverless-state.json`` says about the package."""

    service: str | None
    stage: str | None
    region: str | None
    provider: dict[str, Any]
    artifact_dir: str | None
    framework_version: str | None
    plugins: tuple[str, ...] = ()  # service.plugins: the list, or v1/v2's {localPath, modules}


@dataclass(frozen=True)
class Identity:
    name: str
    stage: str
    region: str
    artifact_dir: str | None
    provider: dict[str, Any]
    warnings: tuple[str, ...] = ()


@dataclass
class Evidence:
    """Identity read from a bare template: each candidate with where it was read."""

    pairs: list[tuple[str, str, str]] = field(default_factory=list)  # (service, stage, where)
    combined: list[tuple[str, str]] = field(default_factory=list)  # ("<service>-<stage>", where)
    regions: list[tuple[str, str]] = field(default_factory=list)  # (region, where)
    artifact_dir: str | None = None
    deployment_prefix: str | None = None
    deployment_bucket: str | None = None  # provider.deploymentBucket, when the code names it literally


def read_package_record(state: Any, where: Path) -> PackageRecord:
    """The identity fields of a parsed ``serverless-state.json``."""
    if not isinstance(state, dict) or not isinstance(state.get("service"), dict):
        raise BadInputError(f"{where}: not a serverless-state.json")
    svc = state["service"]
    provider: dict[str, Any] = svc["provider"] if isinstance(svc.get("provider"), dict) else {}
    name = svc.get("service") if isinstance(svc.get("service"), str) else None
    if name is None and isinstance(svc.get("serviceObject"), dict):
        obj_name = svc["serviceObject"].get("name")
        name = obj_name if isinstance(obj_name, str) else None
    package: Any = state.get("package")
    artifact_dir = package.get("artifactDirectoryName") if isinstance(package, dict) else None
    artifact_dir = artifact_dir if isinstance(artifact_dir, str) and artifact_dir else None
    stage: str | None = None
    if artifact_dir is not None:
        parts = artifact_dir.rsplit("/", 3)  # the deployment prefix may itself contain "/"
        if len(parts) == 4 and (name is None or parts[1] == name):
            stage = parts[2]
    if stage is None and isinstance(provider.get("stage"), str):
        stage = provider["stage"]
    region = provider.get("region") if isinstance(provider.get("region"), str) else None
    version: Any = svc.get("frameworkVersion")
    initial = svc.get("initialServerlessConfig")
    if version is None and isinstance(initial, dict):
        version = initial.get("frameworkVersion")
    return PackageRecord(
        service=name,
        stage=stage,
        region=region,
        provider=provider,
        artifact_dir=artifact_dir,
        framework_version=str(version) if isinstance(version, (str, int, float)) else None,
        plugins=_plugins(svc.get("plugins")),
    )


def _plugins(value: Any) -> tuple[str, ...]:
    """The plugin names of ``service.plugins``: a list, or ``{localPath, modules: [...]}`` (Framework docs,
    "Plugins": the object form sets a local path for the modules)."""
    if isinstance(value, dict):
        value = value.get("modules")
    if not isinstance(value, list):
        return ()
    return tuple(sorted({v for v in value if isinstance(v, str) and v}))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _join_parts(value: Any) -> list[Any] | None:
    if isinstance(value, dict) and list(value) == ["Fn::Join"]:
        join = value["Fn::Join"]
        if isinstance(join, list) and len(join) == 2 and join[0] == "-" and isinstance(join[1], list):
            return list(join[1])
    return None


def template_evidence(template: dict[str, Any]) -> Evidence:
    """Everything a Framework-compiled template says about its service, stage and region."""
    ev = Evidence()
    resources: dict[str, Any] = template.get("Resources") or {}
    for logical_id, body in resources.items():
        props = (body.get("Properties") or {}) if isinstance(body, dict) else {}
        if not isinstance(props, dict):
            continue
        # Code artifacts: <deploymentPrefix>/<service>/<stage>/<timestamp>/<file>
        # (package/lib/generate-artifact-directory-name.js, generateArtifactDirectoryName).
        code = props.get("Code") or props.get("Content")
        if isinstance(code, dict) and isinstance(code.get("S3Key"), str):
            m = _ARTIFACT_KEY.match(code["S3Key"])
            if m:
                ev.pairs.append((m["service"], m["stage"], f"{logical_id}'s S3Key"))
                if ev.artifact_dir is None:
                    ev.artifact_dir = f"{m['prefix']}/{m['service']}/{m['stage']}/{m['dir']}"
                    ev.deployment_prefix = m["prefix"]
                # With provider.deploymentBucket the Framework drops ServerlessDeploymentBucket and writes the
                # bucket's name into the code (osls lib/plugins/aws/package/lib/generate-core-template.js sets
                # package.deploymentBucket, package/compile/functions.js copies it into Code.S3Bucket); v4's
                # shared bucket is told apart (framework.py, SHARED_BUCKET).
                bucket = code.get("S3Bucket")
                if (ev.deployment_bucket is None and isinstance(bucket, str) and bucket
                        and not SHARED_BUCKET.match(bucket)):
                    ev.deployment_bucket = bucket
        if logical_id == "IamRoleLambdaExecution":
            _role_evidence(props, ev)
        # Lambda log groups: /aws/lambda/<service>-<stage>-<function> (function names from classes/service.js,
        # log group names from naming.js getLogGroupName).
        name = props.get("LogGroupName")
        if isinstance(name, str) and name.startswith("/aws/lambda/"):
            ev.combined.append((name[len("/aws/lambda/"):], f"{logical_id}'s LogGroupName"))
    # Output exports: sls-<service>-<stage>-<OutputKey> (package/lib/add-export-name-for-outputs.js).
    outputs: dict[str, Any] = template.get("Outputs") or {}
    for key, output in outputs.items():
        export = output.get("Export") if isinstance(output, dict) else None
        name = export.get("Name") if isinstance(export, dict) else None
        if isinstance(name, str) and name.startswith("sls-") and name.endswith(f"-{key}"):
            ev.combined.append((name[len("sls-"):-len(key) - 1] + "-", f"Output {key}'s export name"))
    for text in _strings(template.get("Resources")):
        for pattern in (_ARN_REGION, _HOST_REGION):
            for m in pattern.finditer(text):
                if partition_of(m.group(1)) is not None:
                    ev.regions.append((m.group(1), f"literal {text[:80]!r}"))
    return ev


def _role_evidence(props: dict[str, Any], ev: Evidence) -> None:
    """The Framework's execution role: RoleName <service>-<stage>-<region>-lambdaRole (naming.js getRoleName),
    joined with "-" from separate parts (Framework v1 wrote the region as a literal, later ones Ref AWS::Region)."""
    role = props.get("RoleName")
    parts = _join_parts(role)
    if parts is not None and len(parts) == 4 and parts[3] == "lambdaRole":
        if isinstance(parts[0], str) and isinstance(parts[1], str):
            ev.pairs.append((parts[0], parts[1], "IamRoleLambdaExecution's RoleName"))
        if isinstance(parts[2], str) and partition_of(parts[2]) is not None:
            ev.regions.append((parts[2], "IamRoleLambdaExecution's RoleName"))
    elif isinstance(role, str):
        m = _ROLE_NAME.match(role)
        if m and partition_of(m["region"]) is not None:
            ev.regions.append((m["region"], "IamRoleLambdaExecution's RoleName"))
            ev.combined.append((m["rest"] + "-", "IamRoleLambdaExecution's RoleName"))
    # The policy name (naming.js getPolicyName) is not read: Framework v1 joined it as [stage, service, 'lambda'].


def _stop(source: Path, what: str, flags: str) -> BadInputError:
    return BadInputError(
        f"{source}: {what}; this is a bare template (no serverless-state.json, no serverless.yml): set {flags}"
    )


def _name_and_stage(ev: Evidence, service: str | None, stage: str | None, source: Path) -> tuple[str, str]:
    pairs = sorted({(s, st) for s, st, _ in ev.pairs})
    if service is not None and stage is not None:
        return service, stage
    if len(pairs) > 1:
        listing = "; ".join(f"{s}/{st} ({w})" for s, st, w in ev.pairs[:4])
        if service is None or stage is None:
            candidates = [p for p in pairs if (service is None or p[0] == service) and (stage is None or p[1] == stage)]
            if len(candidates) != 1:
                raise _stop(source, f"the template names different services or stages: {listing}",
                            "--service and --stage")
            pairs = candidates
    if len(pairs) == 1:
        return service or pairs[0][0], stage or pairs[0][1]
    # Only "<service>-<stage>-" prefixes: a flag splits them (both may contain "-").
    prefixes = sorted({c for c, _ in ev.combined})
    if service is not None:
        stages = {c[len(service) + 1:-1] for c in prefixes if c.startswith(service + "-") and len(c) > len(service) + 2}
        if len(stages) == 1:
            return service, stages.pop()
    if stage is not None:
        names = {c[: -len(stage) - 2] for c in prefixes if c.endswith(f"-{stage}-") and len(c) > len(stage) + 2}
        if len(names) == 1:
            return names.pop(), stage
    if prefixes:
        raise _stop(
            source,
            f"cannot tell the service name from its stage in {ev.combined[0][0]!r} ({ev.combined[0][1]})",
            "--service NAME (or --stage STAGE)",
        )
    raise _stop(source, "the service name and stage cannot be read from the template", "--service and --stage")


def _region(ev: Evidence, source: Path) -> str:
    regions = sorted({r for r, _ in ev.regions})
    if len(regions) == 1:
        return regions[0]
    if regions:
        raise _stop(source, f"the template's literal ARNs and names disagree on the region ({', '.join(regions)})",
                    "--region")
    raise _stop(source, "the region cannot be read from the template (no literal ARN or regional name)", "--region")


def resolve_identity(
    source: Path,
    template: dict[str, Any],
    record: PackageRecord | None,
    *,
    service: str | None,
    stage: str | None,
    region: str | None,
) -> Identity:
    """The service's name, stage and region: flags, else the package's record, else the template's names."""
    warnings: list[str] = []
    if record is not None:
        ev = template_evidence(template)
        name = record.service or None
        if name is None:
            if service is None:
                raise BadInputError(f"{source}: serverless-state.json names no service: set --service")
            name = service
        for flag, value, packaged in (("--service", service, name), ("--stage", stage, record.stage),
                                      ("--region", region, record.region)):
            if value is not None and packaged is not None and value != packaged:
                warnings.append(
                    f"{flag} {value} wins over the package's {packaged!r}, but the package was compiled for "
                    f"{packaged!r}: names the Framework compiled into the template stay as they are; "
                    f"recompile (osls package {flag} {value}) for an exact prediction"
                )
        the_name = service or name
        the_stage = stage or record.stage or "dev"
        the_region = region or record.region or "us-east-1"
        if record.stage is None and stage is None:
            warnings.append("the package records no stage; using 'dev' (the Framework's default)")
        if record.region is None and region is None:
            warnings.append("the package records no region; using 'us-east-1' (the Framework's default)")
        artifact_dir = record.artifact_dir or ev.artifact_dir
        return Identity(the_name, the_stage, the_region, artifact_dir, record.provider, tuple(warnings))
    ev = template_evidence(template)
    the_name, the_stage = _name_and_stage(ev, service, stage, source)
    the_region = region if region is not None else _region(ev, source)
    read = {"--service": {p[0] for p in ev.pairs}, "--stage": {p[1] for p in ev.pairs},
            "--region": {r for r, _ in ev.regions}}
    for flag, value in (("--service", service), ("--stage", stage), ("--region", region)):
        if value is not None and len(read[flag]) == 1 and value not in read[flag]:
            warnings.append(
                f"{flag} {value} wins over the template's {next(iter(read[flag]))!r}: names the Framework compiled "
                "into the template stay as they are; recompile for an exact prediction"
            )
    provider: dict[str, Any] = {}
    if ev.deployment_prefix is not None and ev.deployment_prefix != "serverless":
        provider["deploymentPrefix"] = ev.deployment_prefix
    if ev.deployment_bucket is not None:
        provider["deploymentBucket"] = ev.deployment_bucket
    logger.debug("identity of %s from its template: %s, %s, %s", source, the_name, the_stage, the_region)
    return Identity(the_name, the_stage, the_region, ev.artifact_dir, provider, tuple(warnings))

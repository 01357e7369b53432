"""One observation: the real Serverless CLI through create, update and remove against the local AWS.

1. The service directory is copied into a run directory (its ``node_modules``, or the nearest one above it, is
   linked next to the copy, so ``npx osls`` and the service's plugins resolve as they do in place), and the
   service is loaded (compiled if needed) for its identity and the predicted deployer policy
   (:func:`iamfit.generate.generate_policies`, the deployer principal).
2. :class:`~iamfit.observe.local_aws.LocalAws` starts; what the service expects to exist is prepared first, not
   recorded: a custom deployment bucket (``provider.deploymentBucket.name``) and the deployment role
   (``provider.iam.deploymentRole``).
3. The commands run as ``--target aws`` runs them (:mod:`iamfit.targets.aws.cli_deploy`: ``{stage}``, the default
   commands, ``IAMFIT_PHASE``, ``IAMFIT_DISABLE_ROLLBACK``), with throwaway credentials of a role in the account
   (STS AssumeRole in the local AWS), ``AWS_ENDPOINT_URL`` set, ``HOME`` and the AWS config files inside the run
   directory, and no ``AWS_*`` / ``IAMFIT_*`` variable of iamfit's own environment. The update phase deploys
   again with ``IAMFIT_PHASE=update`` after a code change (a comment appended to each function's handler file,
   found from the template's ``Handler``), so the Framework does not skip the deploy as unchanged.
4. A phase that exits non-zero stops the observation: the report's ``incomplete`` says which phase and the last
   line the CLI printed (a resource type or API the local AWS cannot serve).
5. Every call is mapped (:mod:`iamfit.observe.mapping`) and evaluated against the predicted deployer policy
   (:mod:`iamfit.policy.evaluate`): an (action, resource) it does not allow is ``unpredicted``.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamfit.errors import BadInputError, UsageError
from iamfit.observe import SCHEMA
from iamfit.observe.local_aws import DEFAULT_ACCOUNT, LocalAws
from iamfit.observe.mapping import Mapped, expand, map_call, to_record
from iamfit.observe.proxy import ObserveProxy, through_proxy
from iamfit.targets.aws.cli_deploy import DEFAULT_DEPLOY, DEFAULT_REMOVE, command_line

logger = logging.getLogger(__name__)

PHASES = ("create", "update", "remove")
ROLE_NAME = "iamfit-observe"
_HANDLER_EXTENSIONS = {".js": "//", ".mjs": "//", ".cjs": "//", ".ts": "//", ".py": "#", ".rb": "#"}
_CLI_PACKAGES = {"osls": "osls", "sls": "serverless", "serverless": "serverless"}
_ENV_PREFIXES = ("AWS_", "IAMFIT_", "SLS_", "SERVERLESS_")


@dataclass
class PhaseRun:
    exit_code: int
    calls: int
    seconds: float
    output: str = ""


@dataclass
class Observation:
    """What one observation saw; :meth:`report` is the ``iamfit.observe/1`` document."""

    service: str
    stage: str
    region: str
    account: str
    command: str
    version: str | None
    phases: dict[str, PhaseRun] = field(default_factory=dict)
    mapped: list[Mapped] = field(default_factory=list)
    unpredicted: list[dict[str, str | None]] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    not_created: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.incomplete

    def report(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "service": self.service,
            "stage": self.stage,
            "region": self.region,
            "account": self.account,
            "cli": {"command": self.command, "version": self.version},
            "phases": {name: {"exit_code": p.exit_code, "calls": p.calls} for name, p in self.phases.items()},
            "calls": [
                {"phase": m.call.phase, "service": m.call.service, "operation": m.call.operation,
                 "action": m.action, "resource": m.resource, "status": m.call.status, "source": m.call.source}
                for m in self.mapped if m.dropped is None
            ],
            "dropped": [
                {"phase": m.call.phase, "service": m.call.service, "operation": m.call.operation,
                 "reason": m.dropped}
                for m in self.mapped if m.dropped is not None
            ],
            "unpredicted": self.unpredicted,
            "not_created": self.not_created,
            "refused": self.refused,
            "incomplete": self.incomplete,
        }


def cli_version(argv: list[str], service_dir: Path) -> str | None:
    """The version of the CLI the command runs: ``<package>@<version>`` from the package.json of the nearest
    ``node_modules/<package>`` (``npx osls`` -> osls, ``npx serverless`` / ``sls`` -> serverless), else None."""
    words = argv[1:] if argv and Path(argv[0]).name == "npx" else argv
    words = [w for w in words if not w.startswith("-")]
    if not words:
        return None
    package = _CLI_PACKAGES.get(Path(words[0]).name)
    if package is None:
        return None
    for folder in (service_dir, *service_dir.parents):
        manifest = folder / "node_modules" / package / "package.json"
        if manifest.is_file():
            try:
                version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
            except (OSError, ValueError):
                return None
            return f"{package}@{version}" if isinstance(version, str) else None
    return None


def _node_modules(service_dir: Path) -> Path | None:
    for folder in (service_dir, *service_dir.parents):
        if (folder / "node_modules").is_dir():
            return folder / "node_modules"
    return None


def _copy_service(service_dir: Path, run_dir: Path) -> Path:
    """The service copied to ``run_dir/service/<name>`` (no ``.serverless``, no ``node_modules``), with the
    ``node_modules`` it resolves from linked in the copy (its own) or next to it (an ancestor's)."""
    copy = run_dir / "service" / service_dir.name
    shutil.copytree(service_dir, copy, symlinks=True, ignore=shutil.ignore_patterns(".serverless", "node_modules",
                                                                                     ".iamfit"))
    modules = _node_modules(service_dir)
    if modules is not None:
        link = copy / "node_modules" if modules.parent == service_dir else copy.parent / "node_modules"
        link.symlink_to(modules.resolve(), target_is_directory=True)
    return copy


def change_code(service_dir: Path, template: Mapping[str, Any]) -> list[Path]:
    """Append a comment to each Lambda function's handler file (from the template's ``Handler``): the update
    phase's code change. Returns the files changed."""
    changed: list[Path] = []
    resources = template.get("Resources") or {}
    for body in resources.values():
        if not isinstance(body, Mapping) or body.get("Type") != "AWS::Lambda::Function":
            continue
        handler = (body.get("Properties") or {}).get("Handler")
        if not isinstance(handler, str) or "." not in handler:
            continue
        module = handler.rsplit(".", 1)[0]
        for ext, comment in _HANDLER_EXTENSIONS.items():
            path = service_dir / (module + ext)
            if path.is_file() and path not in changed:
                with path.open("a", encoding="utf-8") as out:
                    out.write(f"\n{comment} iamfit observe: update phase\n")
                changed.append(path)
                break
    return changed


def _environment(run_dir: Path, endpoint: str, region: str, credentials: Mapping[str, str],
                 phase: str) -> dict[str, str]:
    home = run_dir / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIXES)}
    env.update({
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": endpoint,
        "IAMFIT_DISABLE_ROLLBACK": "true",
        "IAMFIT_PHASE": phase,
        "SLS_TELEMETRY_DISABLED": "1",
        "SLS_NOTIFICATIONS_MODE": "off",
    })
    return env


def _run(argv: list[str], cwd: Path, env: Mapping[str, str], timeout: float) -> tuple[int, str]:
    """Run the command in a session of its own, so that on a timeout or an interrupt (Ctrl-C) the whole tree it
    started (``npx`` -> ``sh`` -> ``node``) is killed, not only its first process."""
    try:
        process = subprocess.Popen(  # noqa: S603 - the user's own deploy command
            argv, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise UsageError(f"deploy command not found: {argv[0]}") from None
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        out, _ = process.communicate()
        return 124, out.decode("utf-8", "replace") + f"\niamfit: the command timed out after {timeout:.0f}s\n"
    except BaseException:
        _kill(process)
        process.wait()
        raise
    return process.returncode, out.decode("utf-8", "replace")


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["(no output)"])[-1][:300]


Reach = Callable[[LocalAws, Path], AbstractContextManager[Mapping[str, str]]]
"""How the CLI reaches the local AWS besides AWS_ENDPOINT_URL: (local AWS, run directory) -> a context manager
yielding environment variables for the CLI."""


@contextmanager
def _endpoint_only(aws: LocalAws, run_dir: Path) -> Iterator[Mapping[str, str]]:
    yield {}


def _prepare(aws: LocalAws, region: str, account: str, bucket: str | None, role: str | None) -> dict[str, str]:
    """Throwaway credentials of a role in ``account``, and what the service expects to exist, made with them."""
    sts = aws.client("sts", region)
    creds: dict[str, str] = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ROLE_NAME}",
                                            RoleSessionName=ROLE_NAME)["Credentials"]
    keys = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]}
    if bucket:
        s3 = aws.client("s3", region, keys)
        s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else
                                            {"CreateBucketConfiguration": {"LocationConstraint": region}}))
    if role and ":role/" in role:
        path_and_name = role.split(":role/", 1)[1]
        name = path_and_name.rsplit("/", 1)[-1]
        path = "/" + path_and_name[: -len(name)] if "/" in path_and_name else "/"
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"Service": "cloudformation.amazonaws.com"}}]}
        aws.client("iam", region, keys).create_role(RoleName=name, Path=path.replace("//", "/"),
                                                    AssumeRolePolicyDocument=json.dumps(trust))
    return creds


def observe(
    service_dir: Path,
    *,
    deploy_command: str | None = None,
    remove_command: str | None = None,
    stage: str | None = None,
    region: str | None = None,
    account: str | None = None,
    timeout_seconds: float = 1800.0,
    progress: Callable[[str], None] | None = None,
    reach: Reach | None = None,
) -> Observation:
    """Observe ``service_dir``'s CLI through create, update and remove (see the module's docstring).

    ``reach``, when given, is entered once the local AWS runs, with it and the run directory, and yields more
    environment variables for the CLI (another way to reach the local AWS besides ``AWS_ENDPOINT_URL`` and
    iamfit's HTTPS proxy, :mod:`iamfit.observe.proxy`, which always runs: it reports what it refused back into the
    observation); it is exited before the local AWS stops."""
    from iamfit.generate import generate_policies
    from iamfit.principals import DEPLOYER
    from iamfit.service.compile import config_file
    from iamfit.service.model import load_service

    if not service_dir.is_dir() or config_file(service_dir) is None:
        raise BadInputError(f"{service_dir}: not a service directory (no serverless.yml)")
    deploy_template = deploy_command or DEFAULT_DEPLOY
    remove_template = remove_command or DEFAULT_REMOVE
    service = load_service(service_dir, stage=stage, region=region, account=account)
    account = service.account or DEFAULT_ACCOUNT
    service = service.with_account(account)
    the_stage = service.stage
    command_line(deploy_template, the_stage)  # a usage error before anything starts
    command_line(remove_template, the_stage)
    predicted = generate_policies(service).policies.get(DEPLOYER)
    obs = Observation(service.name, the_stage, service.region, account, deploy_template,
                      cli_version(command_line(deploy_template, the_stage), service_dir))
    run_dir = Path(tempfile.mkdtemp(prefix="iamfit-observe-"))
    try:
        copy = _copy_service(service_dir, run_dir)
        with LocalAws() as aws, ObserveProxy(run_dir, aws.endpoint_url) as proxy, \
                (reach or _endpoint_only)(aws, run_dir) as extra_env:
            creds = _prepare(aws, service.region, account, service.custom_bucket, service.deployment_role)
            for phase in PHASES:
                if phase == "update":
                    change_code(copy, service.template)
                template = remove_template if phase == "remove" else deploy_template
                env = {**_environment(run_dir, aws.endpoint_url, service.region, creds, phase), **extra_env}
                env.update(through_proxy(proxy, env))  # the HTTPS proxy, always: for AWS SDK v2 clients
                before = len(aws.calls)
                if progress:
                    progress(f"{phase}: {' '.join(shlex.quote(a) for a in command_line(template, the_stage))}")
                started = time.monotonic()
                aws.phase = phase
                try:
                    code, output = _run(command_line(template, the_stage), copy, env, timeout_seconds)
                finally:
                    aws.phase = None
                obs.phases[phase] = PhaseRun(code, len(aws.calls) - before, time.monotonic() - started, output)
                if code != 0:
                    obs.incomplete.append(f"{phase}: the command exited {code}: {_last_line(output)}")
                    logger.info("%s phase output:\n%s", phase, output)
                    break
            calls = expand(list(aws.calls))
            obs.not_created = sorted(aws.not_created)
            obs.refused = list(proxy.refused)
            obs.incomplete.extend(f"proxy: the CLI did not trust the run's CA for {host}: its calls there were not "
                                  "observed" for host in proxy.tls_failures)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    principal = f"arn:aws:sts::{account}:assumed-role/{ROLE_NAME}/{ROLE_NAME}"
    obs.mapped = [map_call(call, account, principal) for call in calls]
    obs.records = [to_record(m.call, account, principal, m.resource) for m in obs.mapped]
    obs.unpredicted = unpredicted(obs.mapped, predicted)
    return obs


def unpredicted(mapped: list[Mapped], policy: Any) -> list[dict[str, str | None]]:
    """Every observed (action, resource) ``policy`` does not allow, once, with the first operation and phase that
    needed it. A call whose resource is not known counts as allowed when the policy allows the action on some
    resource it names."""
    from iamfit.policy.evaluate import PolicySet

    policies = PolicySet.of(policy) if policy is not None else None
    patterns = sorted({r for st in policy.statements for r in st.resources}) if policy is not None else []
    seen: set[tuple[str, str | None]] = set()
    out: list[dict[str, str | None]] = []
    for m in mapped:
        if m.action is None or (m.action, m.resource) in seen:
            continue
        seen.add((m.action, m.resource))
        if policies is not None:
            if m.resource is not None and policies.allows(m.action, m.resource):
                continue
            if m.resource is None and any(policies.allows(m.action, r) for r in patterns or ["*"]):
                continue
        out.append({"action": m.action, "resource": m.resource, "operation": f"{m.call.service}:{m.call.operation}",
                    "phase": m.call.phase})
    return out

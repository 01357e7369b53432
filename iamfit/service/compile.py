"""Compile a Serverless service into its `.serverless/` package with the real Serverless Framework.

iamfit reads what `serverless package` writes (the CloudFormation templates and serverless-state.json);
it never re-implements the Framework's compilation. This module finds a Framework CLI (osls, the
maintained fork of Serverless v3, or `serverless`/`sls`), tells when a package is stale, and runs
`<framework> package` with telemetry, notifications, colours and prompts turned off.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from iamfit.errors import BadInputError, FrameworkMissingError

logger = logging.getLogger(__name__)

FRAMEWORK_ENV_VAR = "IAMFIT_SERVERLESS"
"""A command string (shlex-split) that overrides the Framework search, e.g. `npx osls`."""

FRAMEWORK_NAMES: tuple[str, ...] = ("osls", "serverless", "sls")
"""Executable names, in order of preference, searched in node_modules/.bin and on PATH."""

CONFIG_NAMES: tuple[str, ...] = (
    "serverless.yml",
    "serverless.yaml",
    "serverless.js",
    "serverless.ts",
    "serverless.json",
)
"""The service configuration files the Framework reads, in its own order of preference."""

PACKAGE_DIR = ".serverless"
UPDATE_TEMPLATE = "cloudformation-template-update-stack.json"

MTIME_SLACK_SECONDS = 2.0
"""A configuration file counts as newer than the package only by more than this. A fresh git checkout
writes `.serverless/` before `serverless.yml` (path order), microseconds apart; that is not an edit."""

INSTALL_HINT = (
    "install it with `npm install --save-dev osls` in the service (or `npm install -g osls`), "
    f"or set {FRAMEWORK_ENV_VAR} to the command that runs it"
)

QUIET_ENV: Mapping[str, str] = {
    "SLS_TELEMETRY_DISABLED": "1",
    "SLS_TRACKING_DISABLED": "1",
    "SLS_NOTIFICATIONS_MODE": "off",
    "SLS_INTERACTIVE_SETUP_DISABLE": "1",
    "NO_COLOR": "1",
    "FORCE_COLOR": "0",
    "NODE_NO_WARNINGS": "1",
}
"""Environment settings that keep the Framework from prompting, phoning home or colouring output."""

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
_BOX = re.compile(r"[\u2500-\u257f\u2580-\u259f]")
_NOISE = re.compile(
    r"^(?:"
    r"Environment:|Docs:|Support:|Bugs:|Issues:|Your Environment Information|Operating System:|"
    r"Node Version:|Framework Version:|Plugin Version:|SDK Version:|Components Version:|"
    r"Learn more about|Get Support|For debugging logs|\(node:\d+\)|\(Use `node --trace|"
    r"Packaging .* for stage|Serverless Error|Error:?$|[-=_*~.\s]*$|"
    r"\d+ \|"  # a source excerpt under a YAML parse error ("  3 | provider: [")
    r"|[-\s]*\^\s*$"  # the caret line under it
    r")",
    re.IGNORECASE,
)
_NODE_WARNING_END = re.compile(r"^\(Use `node --trace")
_ERROR_HEADER = re.compile(r"^(?:serverless )?error:?\s*[-=]*$", re.IGNORECASE)


def find_framework(service_dir: Path) -> list[str] | None:
    """The command that runs the Serverless Framework for `service_dir`, or None when there is none.

    Search order: the `IAMFIT_SERVERLESS` environment variable (a shlex-split command string); the
    service's own `node_modules/.bin/{osls,serverless,sls}`; the same in each parent directory (so a
    service inside a repository that installs osls at a higher level finds it); then `osls`,
    `serverless`, `sls` on PATH.
    """
    override = os.environ.get(FRAMEWORK_ENV_VAR, "").strip()
    if override:
        return shlex.split(override)
    start = service_dir.resolve()
    for directory in (start, *start.parents):
        bin_dir = directory / "node_modules" / ".bin"
        for name in FRAMEWORK_NAMES:
            candidate = bin_dir / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return [str(candidate)]
    for name in FRAMEWORK_NAMES:
        found = shutil.which(name)
        if found is not None:
            return [found]
    return None


def config_file(service_dir: Path) -> Path | None:
    """The service's configuration file (serverless.yml and its variants), or None."""
    for name in CONFIG_NAMES:
        candidate = service_dir / name
        if candidate.is_file():
            return candidate
    return None


def needs_compile(service_dir: Path) -> bool:
    """True when the package is missing or older than the service's configuration file.

    The package is `.serverless/cloudformation-template-update-stack.json`. The configuration counts
    as newer only when its modification time is more than `MTIME_SLACK_SECONDS` later, so a fresh
    checkout of a committed package is not taken as stale.
    """
    template = service_dir / PACKAGE_DIR / UPDATE_TEMPLATE
    if not template.is_file():
        return True
    built = template.stat().st_mtime
    return any(
        (service_dir / name).is_file() and (service_dir / name).stat().st_mtime > built + MTIME_SLACK_SECONDS
        for name in CONFIG_NAMES
    )


def quiet_environment(base: Mapping[str, str]) -> dict[str, str]:
    """`base` (normally os.environ) with the settings that keep the Framework quiet and non-interactive."""
    env = dict(base)
    env.update(QUIET_ENV)
    return env


def framework_error_line(output: str) -> str:
    """The last meaningful line of a Framework's error output, for a one-line error message.

    ANSI escapes and box-drawing characters are removed; the Framework's banners, environment
    footer, documentation links and Node.js warnings are skipped. When the error block starts with a
    heading ending in a colon ("Configuration error:"), the heading is kept in front of the line.
    """
    lines: list[str] = []
    in_node_warning = False
    for raw in output.splitlines():
        line = " ".join(_BOX.sub(" ", _ANSI.sub("", raw)).split())
        if line.startswith("(node:"):
            in_node_warning = True
        if in_node_warning:
            if _NODE_WARNING_END.match(line):
                in_node_warning = False
            continue
        if _ERROR_HEADER.match(line):
            lines = []
            continue
        if line and not _NOISE.match(line):
            lines.append(line)
    if not lines:
        return ""
    last = lines[-1].lstrip("-*✖× ").strip()
    heading = lines[0]
    if len(lines) > 1 and heading.endswith(":") and heading != lines[-1]:
        return f"{heading} {last}"
    return last


def compile_service(
    service_dir: Path,
    *,
    stage: str | None = None,
    region: str | None = None,
    timeout: float = 300,
) -> Path:
    """Run `<framework> package [--stage S] [--region R]` in `service_dir`; return its `.serverless` dir.

    Raises FrameworkMissingError when no Framework CLI is found (or the configured one cannot be
    started), and BadInputError when the directory holds no service, when packaging fails (with the
    Framework's own last error line) or when it takes longer than `timeout` seconds.
    """
    service_dir = service_dir.resolve()
    if not service_dir.is_dir():
        raise BadInputError(f"{service_dir} is not a directory")
    if config_file(service_dir) is None:
        raise BadInputError(f"{service_dir} holds no serverless.yml (nor .yaml, .js, .ts, .json)")
    command = find_framework(service_dir)
    if command is None:
        raise FrameworkMissingError(
            f"No Serverless Framework CLI found to compile {service_dir}: {INSTALL_HINT}"
        )
    name = Path(command[0]).name
    args = [*command, "package"]
    if stage is not None:
        args += ["--stage", stage]
    if region is not None:
        args += ["--region", region]
    logger.info("compiling %s: %s", service_dir, shlex.join(args))
    output, returncode = _run(args, service_dir, timeout, name)
    if returncode != 0:
        detail = framework_error_line(output) or f"exit code {returncode}, no error text"
        raise BadInputError(f"`{name} package` failed in {service_dir}: {detail}")
    package_dir = service_dir / PACKAGE_DIR
    if not (package_dir / UPDATE_TEMPLATE).is_file():
        raise BadInputError(
            f"`{name} package` succeeded in {service_dir} but wrote no {PACKAGE_DIR}/{UPDATE_TEMPLATE}"
        )
    return package_dir


def _run(args: list[str], cwd: Path, timeout: float, name: str) -> tuple[str, int]:
    """Run the Framework; return its combined output and exit code. Kills its process group on timeout."""
    try:
        process = subprocess.Popen(
            args,
            cwd=cwd,
            env=quiet_environment(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        raise FrameworkMissingError(
            f"Cannot run the Serverless Framework command {args[0]!r}: {exc.strerror or exc}; {INSTALL_HINT}"
        ) from exc
    with process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.communicate()
            raise BadInputError(f"`{name} package` timed out after {timeout:g} s in {cwd}") from None
    return output, process.returncode


def _kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()

"""Deploying with the user's own Serverless CLI, as a subprocess with the candidate role's credentials.

The command (``--deploy-command``, default ``npx osls deploy --stage {stage}``) runs in the service
directory with ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` of the assumed
candidate role, ``AWS_REGION``, ``AWS_ENDPOINT_URL`` when an endpoint is set, and ``AWS_PROFILE`` removed.
``{stage}`` in the command becomes the discovery stage (appended as ``--stage`` when absent). Rollback:
the Framework has no command-line switch for it; iamfit sets ``IAMFIT_DISABLE_ROLLBACK=true`` and the
service opts in with ``provider.disableRollback: ${env:IAMFIT_DISABLE_ROLLBACK, false}`` (docs/aws.md).
``IAMFIT_PHASE`` tells the service which phase runs (create, update, remove).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from iamfit.errors import UsageError

DEFAULT_DEPLOY = "npx osls deploy --stage {stage}"
DEFAULT_REMOVE = "npx osls remove --stage {stage}"
_DROP = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def command_line(template: str, stage: str) -> list[str]:
    if "{stage}" not in template:
        template = template + " --stage {stage}"
    try:
        argv = [part.replace("{stage}", stage) for part in shlex.split(template)]
    except ValueError as exc:
        raise UsageError(f"--deploy-command: {exc}") from None
    if not argv:
        raise UsageError("--deploy-command is empty")
    return argv


@dataclass(frozen=True)
class CliResult:
    output: str
    exit_code: int


@dataclass
class CliDeployer:
    deploy_command: str
    remove_command: str
    cwd: Path
    timeout_seconds: float = 3600.0

    def run(self, phase: str, stage: str, env: Mapping[str, str]) -> CliResult:
        template = self.remove_command if phase == "remove" else self.deploy_command
        return run_command(command_line(template, stage), self.cwd, env, self.timeout_seconds, phase)


def run_command(argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float, phase: str) -> CliResult:
    environment = {k: v for k, v in os.environ.items() if k not in _DROP}
    environment.update(env)
    environment["IAMFIT_DISABLE_ROLLBACK"] = "true"
    environment["IAMFIT_PHASE"] = phase
    try:
        done = subprocess.run(  # noqa: S603 - the user's own deploy command
            list(argv),
            cwd=cwd,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise UsageError(f"deploy command not found: {argv[0]}") from None
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else ""
        return CliResult(out + f"\niamfit: the deploy command timed out after {timeout:.0f}s\n", 124)
    return CliResult(done.stdout.decode("utf-8", "replace"), done.returncode)

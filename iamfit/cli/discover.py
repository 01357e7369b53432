"""``iamfit discover``: run the deploy → fail → grant → retry loop until the policy verifies."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import click

from iamfit import api, discover_run
from iamfit.cli.framework_option import framework_option
from iamfit.cli.observed_option import observed_option
from iamfit.cli.options import (
    account_option,
    echo_warnings,
    format_option,
    load,
    region_option,
    service_argument,
    service_option,
    stage_option,
    summary_option,
    write_policies,
    write_summary,
)
from iamfit.discover import ProgressEvent, ProgressKind, discover
from iamfit.discover_run import AwsAccess, LoopOptions
from iamfit.errors import EXIT_FINDINGS
from iamfit.targets.base import Target


class _Progress:
    """One status line per event on a terminal (stderr); silent in pipes."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.started = time.monotonic()

    def __call__(self, event: ProgressEvent) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        modeled = event.modeled_seconds
        clock = f"{elapsed:6.1f}s" + (f", {modeled / 60:5.1f} min modeled" if modeled is not None else "")
        where = f"[{clock}] {event.round} {event.phase} attempt {event.number}"
        if event.kind is ProgressKind.ATTEMPT:
            click.echo(f"{where}: deploying…", err=True)
        elif event.kind is ProgressKind.PASSED:
            click.echo(f"{where}: passed", err=True)
        elif event.kind is ProgressKind.DENIALS:
            click.echo(f"{where}: {event.denials} denial(s), granted {event.granted}", err=True)


def _report_cleanup(target: Target) -> None:
    """Say what cleaning up an AWS account removed, and loudly what it could not."""
    cleanup = getattr(target, "last_cleanup", None)
    if cleanup is None:
        return
    for item in cleanup.deleted:
        click.echo(f"iamfit: cleanup: deleted {item}", err=True)
    for problem in cleanup.problems:
        click.echo(f"iamfit: warning: cleanup: {problem} (see `iamfit cleanup`)", err=True)


@click.command("discover")
@service_argument
@service_option
@framework_option
@stage_option
@region_option
@account_option
@click.option(
    "--target",
    "target_name",
    type=click.Choice(["sandbox", "aws"]),
    default="sandbox",
    show_default=True,
    help="Where attempts run: the built-in sandbox (no AWS account) or a real sandbox account.",
)
@click.option("--from-scratch", is_flag=True, help="Start from an empty policy instead of the prediction.")
@click.option("--prune", is_flag=True, help="After all phases pass, drop predicted actions no attempt used, re-verify.")
@click.option("--max-attempts", default=25, show_default=True, help="Attempts per phase before giving up.")
@click.option("--allow", multiple=True, metavar="ACTION", help="Allow a guardrail action by name (repeatable).")
@click.option("--resume", "resume_id", metavar="RUN_ID",
              help="Continue a run that was interrupted (its stage, region, account and loop options come from "
              "its journal).")
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="Write the JSON report here.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Directory for the verified policies (default: policies/<service>).",
)
@click.option("--profile", help="[aws] AWS profile of the operator.")
@click.option("--endpoint-url", help="[aws] Endpoint URL (LocalStack, moto server).")
@click.option("--account-guard", help="[aws] The account id the operator must be in; required with --target aws.")
@click.option("--deploy-command", help="[aws] Deploy with this command instead of the built-in deployer.")
@click.option("--keep", is_flag=True, help="[aws] Keep the discovery stack and roles (default: delete them).")
@click.option("--settle-seconds", default=300.0, show_default=True,
              help="[aws] How long to wait for CloudTrail to deliver an attempt's records (ends early once every "
              "denial the stack reported has been seen).")
@click.option("--propagation-seconds", default=8.0, show_default=True, type=click.FloatRange(min=0),
              help="[aws] How long to wait after putting a policy before deploying with it (IAM is eventually "
              "consistent; 0 for a local endpoint such as a moto server).")
@click.option("--skip-failed-rollback-resources", is_flag=True,
              help="[aws] Consent to skip resources that block ContinueUpdateRollback (UPDATE_ROLLBACK_FAILED).")
@observed_option
@summary_option
@format_option
def discover_command(
    service_path: Path,
    service_name: str | None,
    framework: str | None,
    stage: str | None,
    region: str | None,
    account: str | None,
    target_name: str,
    from_scratch: bool,
    prune: bool,
    max_attempts: int,
    allow: tuple[str, ...],
    resume_id: str | None,
    report_path: Path | None,
    out_dir: Path | None,
    summary_path: Path | None,
    observed: Path | None,
    fmt: str,
    **aws_options: Any,
) -> None:
    """Find the deploy policy of SERVICE_DIR by deploying it: each attempt's denials (stack events,
    CloudTrail, CLI output) are granted at once, scoped to the service's ARNs, and the deploy is retried in
    place, through create, update (code, configuration and a replacement) and remove.

    The journal in .iamfit/runs/<run-id>/ lets --resume continue a killed run. Exit 0 when verified,
    1 when the loop stopped (guardrail, explicit deny, no progress, --max-attempts).
    """
    root = Path.cwd()
    aws = AwsAccess(**aws_options)
    given = LoopOptions(target_name, from_scratch, prune, max_attempts, allow)
    resumed = discover_run.resume(root, resume_id, stage=stage, region=region, account=account, options=given)
    guard = aws.account_guard if target_name == "aws" else None
    service = load(service_path, resumed.stage, resumed.region, resumed.account or guard, service_name, framework)
    echo_warnings(service.warnings)
    extra = api.read_observed(observed, service)
    echo_warnings(extra.warnings if extra else [])
    run = discover_run.start(root, service, resumed)
    opts = run.options
    target = discover_run.make_target(service, opts.target, run.journal.run_id, aws)

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        result = discover(service, target, run.journal, from_scratch=opts.from_scratch, prune=opts.prune,
                          max_attempts=opts.max_attempts, allow=opts.allow, progress=_Progress(),
                          start=extra.needs if extra else ())
    except KeyboardInterrupt:
        from iamfit.report.discover import resume_command

        command = resume_command(service_path, run.journal.run_id, opts.target, aws, out_dir, report_path, fmt,
                                 service_name, framework)
        click.echo(f"iamfit: run {run.journal.run_id} interrupted; resume it with:\n  {command}", err=True)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        _report_cleanup(target)
    outcome = discover_run.finish(run, result, root, report_path)
    if summary_path is not None:
        from iamfit.report.summary import discover_summary

        write_summary(summary_path, discover_summary(result, outcome.by_hand))
    target_dir = out_dir or Path("policies") / service.name
    if result.verified:
        write_policies(target_dir, result.policies, fmt, service, outcome.cfn_role_arn)
    from iamfit.report.discover import summary

    click.echo(summary(result, outcome.report, opts.prune))
    if result.verified:
        click.echo(f"policies written to {target_dir}/")
    else:
        sys.exit(EXIT_FINDINGS)

"""``iamfit discover``: run the deploy → fail → grant → retry loop until the policy verifies."""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import click

from iamfit.by_hand import BY_HAND_ESTIMATE_SHORT, BY_HAND_MODEL_SHORT, by_hand_estimate
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
    write_json,
    write_policies,
    write_summary,
)
from iamfit.discover import DiscoveryResult, discover, report
from iamfit.errors import EXIT_FINDINGS, BadInputError, UsageError
from iamfit.journal import Journal
from iamfit.service.model import Service
from iamfit.targets.base import Target


def _in_sandbox_account(service: Service) -> Service:
    """The service with an account the sandbox can name resources in (its own, when the user gives none)."""
    from iamfit.targets.sandbox import SANDBOX_ACCOUNT

    if service.account is not None:
        return service
    return dataclasses.replace(service, account=SANDBOX_ACCOUNT, warnings=[])


def make_target(service: Service, name: str, run_id: str, aws: dict[str, Any]) -> Target:
    if name == "sandbox":
        from iamfit.targets.sandbox import SandboxTarget

        return SandboxTarget(_in_sandbox_account(service), seed=run_id)
    if not aws.get("account_guard"):
        raise UsageError("--target aws needs --account-guard ACCOUNT_ID (the sandbox account you mean to use)")
    from iamfit.aws.session import operator_session
    from iamfit.targets.aws import make_aws_target

    session = operator_session(profile=aws.get("profile"), region=service.region, endpoint_url=aws.get("endpoint_url"))
    target: Target = make_aws_target(
        service,
        session=session,
        account_guard=aws["account_guard"],
        deploy_command=aws.get("deploy_command"),
        keep=aws.get("keep", False),
        run_id=run_id,
        settle_seconds=aws.get("settle_seconds", 300.0),
        propagation_seconds=aws.get("propagation_seconds", 8.0),
        skip_failed_rollback_resources=aws.get("skip_failed_rollback_resources", False),
    )
    return target


class _Progress:
    """One status line per event on a terminal (stderr); silent in pipes."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.started = time.monotonic()

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        modeled = data.get("modeled_seconds")
        clock = f"{elapsed:6.1f}s" + (f", {modeled / 60:5.1f} min modeled" if modeled is not None else "")
        where = f"[{clock}] {data.get('round', '')} {data.get('phase', '')} attempt {data.get('number', '')}"
        if kind == "attempt":
            click.echo(f"{where}: deploying…", err=True)
        elif kind == "passed":
            click.echo(f"{where}: passed", err=True)
        elif kind == "denials":
            click.echo(f"{where}: {data['denials']} denial(s), granted {data['granted']}", err=True)


def _report_cleanup(target: Target) -> None:
    """Say what cleaning up an AWS account removed, and loudly what it could not."""
    cleanup = getattr(target, "last_cleanup", None)
    if cleanup is None:
        return
    for item in cleanup.deleted:
        click.echo(f"iamfit: cleanup: deleted {item}", err=True)
    for problem in cleanup.problems:
        click.echo(f"iamfit: warning: cleanup: {problem} (see `iamfit cleanup`)", err=True)


def _prune_lines(result: DiscoveryResult) -> list[str]:
    """What --prune dropped, per principal (and what a phase then needed back), or why nothing was."""
    if not result.pruned:
        if result.stop is not None:
            return ["  prune: not run (the discover round did not verify)"]
        return ["  prune: nothing could be pruned (every predicted action was used by an attempt, "
                "or is never in CloudTrail)"]
    final = {(n.principal, n.action.lower()) for n in result.needs}
    dropped: dict[str, list[str]] = {}
    back: dict[str, list[str]] = {}
    for item in result.pruned:
        principal, action = item.split(":", 1)
        (back if (principal, action.lower()) in final else dropped).setdefault(principal, []).append(action)
    lines = [f"  pruned {sum(map(len, dropped.values()))} predicted action(s) no attempt used"]
    lines.extend(f"    {p}: {', '.join(actions)}" for p, actions in sorted(dropped.items()))
    lines.extend(f"    {p}, needed back by the re-verification: {', '.join(actions)}" for p, actions in
                 sorted(back.items()))
    return lines


def summary(result: DiscoveryResult, rep: dict[str, Any], prune: bool = False) -> str:
    lines = [f"{result.service.name} ({result.service.stage}) on {result.target}, run {result.run_id}"]
    for round_name, phases in rep["phases"].items():
        for phase, body in phases.items():
            granted = sum(len(a["granted"]) for a in body["attempts"])
            lines.append(
                f"  {round_name:<8} {phase:<6} {len(body['attempts']):>2} attempt(s), {body['failed_attempts']} "
                f"failed, {granted} grant(s), {body['modeled_seconds']:.0f} s modeled"
            )
    totals = rep["totals"]
    lines.append(
        f"  total: {totals['attempts']} attempts ({totals['attempts_reaching_cloudformation']} reached "
        f"CloudFormation), {totals['modeled_seconds'] / 60:.1f} min modeled"
    )
    if totals.get("by_hand"):
        bh = totals["by_hand"]
        lines.append(f"  by hand: ~{bh['attempts']} attempts, {bh['modeled_seconds'] / 60:.1f} min modeled "
                     f"({BY_HAND_MODEL_SHORT if bh.get('model') == 'simulated' else BY_HAND_ESTIMATE_SHORT})")
    lines.append("  actions: " + ", ".join(f"{p} {n}" for p, n in totals["actions"].items()))
    if prune:
        lines.extend(_prune_lines(result))
    unread = result.unavailable_evidence
    if unread:
        lines.append(
            "  evidence not read: "
            + "; ".join(f"{source}: {reason}" for source, reason in sorted(unread.items()))
        )
    without = " and ".join(sorted(unread))
    if result.stop:
        lines.append(f"STOPPED ({result.stop.reason}): {result.stop.message}")
        lines.extend(f"  - {item}" for item in result.stop.action_items)
        if unread:
            lines.append(f"  - the attempts had no {without} evidence: denials only it shows are not in this verdict")
    else:
        passed = "create, update and remove all passed with these policies"
        if unread:
            passed += f", judged on stack events and deploy output only ({without} evidence was unavailable)"
        if result.target == "sandbox":
            from iamfit.targets.sandbox.coverage import Unverified, verdict_lines

            unverified = tuple(Unverified(u["logical_id"], u["type"], u["reason"]) for u in rep.get("unverified", ()))
            lines.extend(verdict_lines(unverified, passed))
        else:
            lines.append(f"VERIFIED on {result.target}: {passed}")
    return "\n".join(lines)


def _journaled(run: dict[str, Any], name: str, given: str | None) -> str | None:
    """The run's ``name`` (stage, region, account) as its journal recorded it; ``given`` must agree."""
    if name not in run:  # a journal from before iamfit recorded it
        return given
    recorded = None if run[name] is None else str(run[name])
    if given is not None and given != recorded:
        made = f"with --{name} {recorded}" if recorded is not None else f"without --{name}"
        raise UsageError(f"run was made {made}, not --{name} {given}; leave --{name} out to resume it")
    return recorded


def resume_command(
    service_path: Path,
    run_id: str,
    target_name: str,
    aws: dict[str, Any],
    out_dir: Path | None,
    report_path: Path | None,
    fmt: str,
    service_name: str | None = None,
) -> str:
    """The command that resumes ``run_id``: the journal has the run's identity and loop options; what it
    does not keep (AWS access, where the outputs go) is repeated."""
    import shlex

    words = ["iamfit", "discover", str(service_path), "--resume", run_id]
    if service_name is not None:  # not journaled: the package (or template) is read again on resume
        words += ["--service", service_name]
    if target_name == "aws":
        words += ["--target", "aws"]
        for flag in ("account_guard", "profile", "endpoint_url", "deploy_command"):
            if aws.get(flag):
                words += ["--" + flag.replace("_", "-"), str(aws[flag])]
        if aws.get("keep"):
            words.append("--keep")
    if out_dir is not None:
        words += ["--out", str(out_dir)]
    if report_path is not None:
        words += ["--report", str(report_path)]
    if fmt != "json":
        words += ["--format", fmt]
    return shlex.join(words)


@click.command("discover")
@service_argument
@service_option
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
@summary_option
@format_option
def discover_command(
    service_path: Path,
    service_name: str | None,
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
    profile: str | None,
    endpoint_url: str | None,
    account_guard: str | None,
    deploy_command: str | None,
    keep: bool,
    settle_seconds: float,
    propagation_seconds: float,
    skip_failed_rollback_resources: bool,
    summary_path: Path | None,
    fmt: str,
) -> None:
    """Find the deploy policy of SERVICE_DIR by deploying it: each attempt's denials (stack events,
    CloudTrail, CLI output) are granted at once, scoped to the service's ARNs, and the deploy is retried in
    place, through create, update (code, configuration and a replacement) and remove.

    The journal in .iamfit/runs/<run-id>/ lets --resume continue a killed run. Exit 0 when verified,
    1 when the loop stopped (guardrail, explicit deny, no progress, --max-attempts).
    """
    root = Path.cwd()
    resumed = Journal.open(root, resume_id) if resume_id else None
    first = resumed.get("run") if resumed else None
    if first and not (isinstance(first.get("from_scratch"), bool) and isinstance(first.get("prune"), bool)
                      and isinstance(first.get("max_attempts"), int)
                      and all(isinstance(a, str) for a in first.get("allow", ()))
                      and all(isinstance(first.get(k), str | None) for k in ("stage", "region", "account"))):
        raise BadInputError(f"run {resume_id}: the journal's run entry is not one iamfit wrote")
    if first:  # the run's identity comes from its journal; a flag given again must agree with it
        stage, region, account = (
            _journaled(first, "stage", stage),
            _journaled(first, "region", region),
            _journaled(first, "account", account),
        )
    service = load(
        service_path, stage, region, account or (account_guard if target_name == "aws" else None), service_name
    )
    echo_warnings(service.warnings)
    journal = resumed or Journal.create(root)
    if resume_id:
        if first and first.get("service") != service.name:
            raise UsageError(f"run {resume_id} was for service {first.get('service')}, not {service.name}")
        if first:
            from_scratch, prune, max_attempts = first["from_scratch"], first["prune"], first["max_attempts"]
            allow = tuple(first.get("allow", ()))
            target_name = first.get("target", target_name)
    aws = {
        "profile": profile,
        "endpoint_url": endpoint_url,
        "account_guard": account_guard,
        "deploy_command": deploy_command,
        "keep": keep,
        "settle_seconds": settle_seconds,
        "propagation_seconds": propagation_seconds,
        "skip_failed_rollback_resources": skip_failed_rollback_resources,
    }
    target = make_target(service, target_name, journal.run_id, aws)

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        result = discover(
            service,
            target,
            journal,
            from_scratch=from_scratch,
            prune=prune,
            max_attempts=max_attempts,
            allow=allow,
            progress=_Progress(),
        )
    except KeyboardInterrupt:
        command = resume_command(
            service_path, journal.run_id, target_name, aws, out_dir, report_path, fmt, service_name
        )
        click.echo(f"iamfit: run {journal.run_id} interrupted; resume it with:\n  {command}", err=True)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        _report_cleanup(target)
    by_hand = by_hand_estimate(result, _in_sandbox_account(service))
    rep = report(result, by_hand)
    if summary_path is not None:
        from iamfit.report.summary import discover_summary

        write_summary(summary_path, discover_summary(result, by_hand))
    journal.write_file("report.json", json.dumps(rep, indent=2) + "\n")
    if result.verified:  # `iamfit check` adds the needs of the last verified discovery it finds here
        write_json(root / ".iamfit" / "reports" / f"{service.name}.json", rep)
    if report_path:
        write_json(report_path, rep)
    target_dir = out_dir or Path("policies") / service.name
    if result.verified:
        from iamfit.predict import predict

        role = predict(service, commands=("deploy",)).cloudformation_role_arn
        write_policies(target_dir, result.policies, fmt, service, role)
    click.echo(summary(result, rep, prune))
    if result.verified:
        click.echo(f"policies written to {target_dir}/")
    else:
        sys.exit(EXIT_FINDINGS)

"""Around the ``discover`` loop: the run's options (restored from its journal on resume), the target it runs on,
and what a finished run leaves behind (the by-hand figure, the JSON report, the report ``check`` reads).

:func:`iamfit.api.discover` runs all of it in one call; the CLI calls the steps one by one, so that it can say
what it read before the loop starts and how to resume a run that is interrupted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamfit.errors import BadInputError, UsageError
from iamfit.journal import Journal
from iamfit.service.model import Service
from iamfit.targets.base import Target

if TYPE_CHECKING:
    from iamfit.discover import DiscoveryResult

_IDENTITY = ("stage", "region", "account")


@dataclass(frozen=True)
class AwsAccess:
    """How the ``aws`` target reaches the sandbox account (``--profile`` ... ``--skip-failed-rollback-resources``);
    ``session`` (an :class:`iamfit.aws.session.AwsSession`) is used instead of building one when given."""

    account_guard: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    deploy_command: str | None = None
    keep: bool = False
    settle_seconds: float = 300.0
    propagation_seconds: float = 8.0
    skip_failed_rollback_resources: bool = False
    session: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class LoopOptions:
    """The options of the loop the journal keeps, so that a resumed run goes on as it started."""

    target: str = "sandbox"
    from_scratch: bool = False
    prune: bool = False
    max_attempts: int = 25
    allow: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resume:
    """What ``--resume RUN_ID`` takes from the run's journal: its identity (stage, region, account) and loop
    options; ``journal`` is None for a new run (then everything is as given)."""

    journal: Journal | None
    stage: str | None
    region: str | None
    account: str | None
    options: LoopOptions


@dataclass(frozen=True)
class DiscoverRun:
    """A run about to start (or to resume): the service, its journal and the loop's options."""

    service: Service
    journal: Journal
    options: LoopOptions


@dataclass(frozen=True)
class DiscoverOutcome:
    """A finished run: the loop's result, the JSON report (schema in docs/discover.md) with its by-hand figure,
    the CloudFormation role the policies are rendered for, and the run's warnings (the service's)."""

    result: DiscoveryResult
    report: dict[str, Any]
    by_hand: dict[str, Any]
    cfn_role_arn: str | None
    warnings: tuple[str, ...] = ()

    @property
    def verified(self) -> bool:
        return self.result.verified


def _journaled(run: dict[str, Any], name: str, given: str | None) -> str | None:
    """The run's ``name`` (stage, region, account) as its journal recorded it; ``given`` must agree."""
    if name not in run:  # a journal from before iamfit recorded it
        return given
    recorded = None if run[name] is None else str(run[name])
    if given is not None and given != recorded:
        made = f"with --{name} {recorded}" if recorded is not None else f"without --{name}"
        raise UsageError(f"run was made {made}, not --{name} {given}; leave --{name} out to resume it")
    return recorded


def resume(
    root: Path,
    resume_id: str | None,
    *,
    stage: str | None = None,
    region: str | None = None,
    account: str | None = None,
    options: LoopOptions = LoopOptions(),
) -> Resume:
    """The identity and loop options of run ``resume_id`` under ``root`` (None: a new run, as given). A flag
    given again must agree with the journal's; the journal's loop options win."""
    if not resume_id:
        return Resume(None, stage, region, account, options)
    journal = Journal.open(root, resume_id)
    first = journal.get("run")
    if first and not (isinstance(first.get("from_scratch"), bool) and isinstance(first.get("prune"), bool)
                      and isinstance(first.get("max_attempts"), int)
                      and all(isinstance(a, str) for a in first.get("allow", ()))
                      and all(isinstance(first.get(k), str | None) for k in _IDENTITY)):
        raise BadInputError(f"run {resume_id}: the journal's run entry is not one iamfit wrote")
    if not first:
        return Resume(journal, stage, region, account, options)
    return Resume(
        journal,
        _journaled(first, "stage", stage),
        _journaled(first, "region", region),
        _journaled(first, "account", account),
        LoopOptions(
            target=first.get("target", options.target),
            from_scratch=first["from_scratch"],
            prune=first["prune"],
            max_attempts=first["max_attempts"],
            allow=tuple(first.get("allow", ())),
        ),
    )


def start(root: Path, service: Service, resumed: Resume) -> DiscoverRun:
    """The run of ``service``: a new journal under ``root``, or the resumed run's (which must be this service's)."""
    journal = resumed.journal or Journal.create(root)
    if resumed.journal is not None:
        first = journal.get("run")
        if first and first.get("service") != service.name:
            raise UsageError(f"run {journal.run_id} was for service {first.get('service')}, not {service.name}")
    return DiscoverRun(service, journal, resumed.options)


def in_sandbox_account(service: Service) -> Service:
    """The service with an account the sandbox can name resources in (its own, when the user gives none)."""
    from iamfit.targets.sandbox import SANDBOX_ACCOUNT

    return service if service.account is not None else service.with_account(SANDBOX_ACCOUNT)


def make_target(service: Service, name: str, run_id: str, aws: AwsAccess | None = None) -> Target:
    """The target attempts run on: the built-in sandbox, or a real sandbox account (``aws``)."""
    if name == "sandbox":
        from iamfit.targets.sandbox import SandboxTarget

        return SandboxTarget(in_sandbox_account(service), seed=run_id)
    aws = aws or AwsAccess()
    if not aws.account_guard:
        raise UsageError("--target aws needs --account-guard ACCOUNT_ID (the sandbox account you mean to use)")
    from iamfit.aws.session import operator_session
    from iamfit.targets.aws import make_aws_target

    session = aws.session or operator_session(
        profile=aws.profile, region=service.region, endpoint_url=aws.endpoint_url
    )
    target: Target = make_aws_target(
        service,
        session=session,
        account_guard=aws.account_guard,
        deploy_command=aws.deploy_command,
        keep=aws.keep,
        run_id=run_id,
        settle_seconds=aws.settle_seconds,
        propagation_seconds=aws.propagation_seconds,
        skip_failed_rollback_resources=aws.skip_failed_rollback_resources,
    )
    return target


def reports_path(root: Path, service_name: str) -> Path:
    """Where a verified discovery leaves its report for ``iamfit check`` (``default_discover_report``)."""
    return root / ".iamfit" / "reports" / f"{service_name}.json"


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def finish(run: DiscoverRun, result: DiscoveryResult, root: Path, report_path: Path | None = None) -> DiscoverOutcome:
    """The by-hand figure and the report of a finished loop, written to the journal, to ``report_path`` when
    given, and (when verified) to :func:`reports_path`, where ``check`` adds its needs."""
    from iamfit.by_hand import by_hand_estimate
    from iamfit.discover import report
    from iamfit.predict import predict

    by_hand = by_hand_estimate(result, in_sandbox_account(run.service))
    rep = report(result, by_hand)
    run.journal.write_file("report.json", json.dumps(rep, indent=2) + "\n")
    if result.verified:
        _write_json(reports_path(root, run.service.name), rep)
    if report_path:
        _write_json(report_path, rep)
    role = predict(run.service, commands=("deploy",)).cloudformation_role_arn if result.verified else None
    return DiscoverOutcome(result, rep, by_hand, role, tuple(run.service.warnings))

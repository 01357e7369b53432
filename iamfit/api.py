"""iamfit as a library: one function per job, plain typed arguments in, the job's result object out.

Nothing here prints, exits or reads the clock behind your back (``now`` may be given); bad input raises
:class:`iamfit.errors.IamfitError` (``UsageError``, ``BadInputError``, ``AwsError``), whose ``exit_code`` is the
one the CLI would exit with. AWS is reached only through what you pass (``session``: an
:class:`iamfit.aws.session.AwsSession`, or ``clients``: a function from a service name to a boto3 client), or
else through a session built from ``profile`` / ``endpoint_url``, as the CLI does. Example::

    from pathlib import Path
    from iamfit import api

    generated = api.generate(Path("my-service"), account="123456789012")
    generated.policies["deployer"].dumps()
    checked = api.check(Path("my-service"), policy_files=[Path("policies/my-service/deployer.json")])
    checked.failing()  # the findings that fail the check (missing, excess, escalation)

A service is given as a path (service directory, ``.serverless`` package or template) or as a loaded
:class:`iamfit.service.model.Service`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamfit.errors import UsageError

logger = logging.getLogger(__name__)

if TYPE_CHECKING:  # imported where used: ``iamfit explain`` should not load the service model, and so on
    from iamfit.audit import AuditResult
    from iamfit.check import CheckResult
    from iamfit.discover import ProgressCallback
    from iamfit.discover_run import AwsAccess, DiscoverOutcome
    from iamfit.evidence.explain import Explanation
    from iamfit.evidence.trail.model import Progress, TrailAggregate
    from iamfit.evidence.trail.sources import Source
    from iamfit.generate import GeneratedPolicies
    from iamfit.observe.observed import Observed
    from iamfit.observe.run import Observation
    from iamfit.policy.document import PolicyDocument
    from iamfit.replay import ReplayResult
    from iamfit.service.model import Service
    from iamfit.targets.base import Phase
    from iamfit.targets.sandbox.plan import Plan

__all__ = [
    "audit",
    "check",
    "discover",
    "explain",
    "generate",
    "observe",
    "plan",
    "replay",
]

Clients = Callable[[str], Any]
"""A boto3 client maker: service name (``"iam"``, ``"s3"``, ...) -> client."""

DEFAULT_AUDIT_WINDOW = timedelta(days=90)


def _service(service: Path | Service, stage: str | None, region: str | None, account: str | None) -> Service:
    from iamfit.service.model import Service, load_service

    if isinstance(service, Service):
        return service
    return load_service(service, stage=stage, region=region, account=account)


def _policy(policy: Path | PolicyDocument) -> PolicyDocument:
    from iamfit.files import read_text
    from iamfit.policy.document import PolicyDocument

    if isinstance(policy, PolicyDocument):
        return policy
    return PolicyDocument.from_text(read_text(policy, "policy"), str(policy))


def _policies(policy: Path | PolicyDocument | Sequence[Path | PolicyDocument]) -> PolicyDocument:
    """One document, or several evaluated together (identity policies of one principal: their statements'
    union), as one."""
    from iamfit.policy.document import merge

    if isinstance(policy, (str, Path)) or not isinstance(policy, Sequence):
        return _policy(policy)
    if not policy:
        raise UsageError("no policy given")
    return _policy(policy[0]) if len(policy) == 1 else merge(_policy(p) for p in policy)


def _clients(session: Any, clients: Clients | None, profile: str | None, region: str | None,
             endpoint_url: str | None) -> Clients:
    """``clients`` when given, else clients of ``session``, else of the operator session built on first use."""
    if clients is not None:
        return clients
    made: list[Any] = [session] if session is not None else []

    def make(name: str) -> Any:
        if not made:
            from iamfit.aws.session import operator_session

            made.append(operator_session(profile=profile, region=region, endpoint_url=endpoint_url))
        return made[0].client(name)

    return make


def generate(
    service: Path | Service,
    *,
    stage: str | None = None,
    region: str | None = None,
    account: str | None = None,
    commands: Sequence[str] | None = None,
    split: bool = False,
    observed: Path | None = None,
) -> GeneratedPolicies:
    """The predicted deploy policies of ``service`` (``iamfit generate``); nothing is written.
    ``result.prediction.warnings`` says what the prediction could not know. ``observed``, an ``iamfit observe``
    report, adds the deployer needs the observed CLI had and the prediction lacks (source ``observed: ...``)."""
    from iamfit.generate import generate_policies, policies_from_needs
    from iamfit.predict.serverless_cli import DEFAULT_COMMANDS

    svc = _service(service, stage, region, account)
    extra = read_observed(observed, svc)
    result = generate_policies(svc, commands=tuple(commands or DEFAULT_COMMANDS), split=split)
    if extra:
        prediction = result.prediction
        prediction.needs.extend(n for n in extra.needs if n not in set(prediction.needs))
        prediction.warnings.extend(extra.warnings)
        result.policies = policies_from_needs(prediction.needs, prediction.has_cloudformation_principal)
    return result


def read_observed(path: Path | None, service: Service) -> Observed | None:
    """The deployer needs the ``iamfit observe`` report at ``path`` adds to ``service`` (``--observed``), with
    its warnings; None without a report. Not such a report, or another service's: BadInputError."""
    if path is None:
        return None
    from iamfit.observe.observed import read_observed as read

    return read(path, service)


def observe(
    service: Path,
    *,
    deploy_command: str | None = None,
    remove_command: str | None = None,
    stage: str | None = None,
    region: str | None = None,
    account: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Observation:
    """Run ``service``'s real Serverless CLI through create, update and remove against a local AWS (a moto
    server in this process), record every call, and compare it with the predicted deployer policy
    (``iamfit observe``). ``result.report()`` is the ``iamfit.observe/1`` document; ``result.complete`` is False
    when a phase failed (``result.incomplete`` says why)."""
    from iamfit.observe.run import observe as run_observe

    return run_observe(service, deploy_command=deploy_command, remove_command=remove_command, stage=stage,
                       region=region, account=account, progress=progress)


def plan(
    service: Path | Service,
    policy: Path | PolicyDocument | Sequence[Path | PolicyDocument],
    *,
    cfn_role_policy: Path | PolicyDocument | Sequence[Path | PolicyDocument] | None = None,
    phases: Sequence[Phase] | None = None,
    stage: str | None = None,
    region: str | None = None,
    account: str | None = None,
) -> Plan:
    """Deploy ``service`` in the built-in sandbox with the deployer's ``policy`` (and the deploymentRole's
    ``cfn_role_policy``) through ``phases`` (default: create, update, remove), and every denial on every path
    (``iamfit plan``). Each may be several documents (the files ``generate`` splits a large policy into), evaluated
    together. With no account, the one the policies name is used, else the sandbox's own. A ``cfn_role_policy``
    for a service that sets no deploymentRole plans as if the role ``generate --split`` recommends were set
    (``plan.notes`` says so)."""
    import dataclasses

    from iamfit.check_run import literal_arns, pinned_account
    from iamfit.predict import recommended_role_name
    from iamfit.principals import CLOUDFORMATION, DEPLOYER
    from iamfit.targets.base import PHASES
    from iamfit.targets.sandbox import SANDBOX_ACCOUNT
    from iamfit.targets.sandbox.plan import plan as run_plan

    svc = _service(service, stage, region, account)
    policies: dict[str, PolicyDocument] = {DEPLOYER: _policies(policy)}
    if cfn_role_policy is not None:
        policies[CLOUDFORMATION] = _policies(cfn_role_policy)
    if svc.account is None:  # the account the policies are pinned to, else the sandbox's own
        svc = svc.with_account(pinned_account(policies.values(), literal_arns(svc)) or SANDBOX_ACCOUNT)
    notes: tuple[str, ...] = ()
    if CLOUDFORMATION in policies and not svc.deployment_role:
        role = svc.arn("arn:{partition}:iam::{account}:role/{name}", recommended_role_name(svc))
        iam = svc.provider.get("iam")
        provider = {**svc.provider, "iam": {**(iam if isinstance(iam, dict) else {}), "deploymentRole": role}}
        svc = dataclasses.replace(svc, provider=provider)
        notes = (f"the service sets no deploymentRole: planned as if provider.iam.deploymentRole were {role}, the "
                 "role generate --split recommends (set it in serverless.yml to deploy this way)",)
    result = run_plan(svc, policies, tuple(phases or PHASES))
    return dataclasses.replace(result, notes=notes) if notes else result


def discover(
    service: Path,
    *,
    root: Path | None = None,
    stage: str | None = None,
    region: str | None = None,
    account: str | None = None,
    target: str = "sandbox",
    from_scratch: bool = False,
    prune: bool = False,
    max_attempts: int = 25,
    allow: Sequence[str] = (),
    resume: str | None = None,
    report_path: Path | None = None,
    aws: AwsAccess | None = None,
    progress: ProgressCallback | None = None,
    observed: Path | None = None,
) -> DiscoverOutcome:
    """Run the deploy -> fail -> grant -> retry loop (``iamfit discover``) on ``target``: ``sandbox``, or ``aws``
    (which needs ``aws``, an :class:`iamfit.discover_run.AwsAccess` with ``account_guard``). The run is journaled
    under ``root`` (default: the current directory) in ``.iamfit/runs/<run-id>/``; ``resume`` continues a run from
    its journal. The report is written to the journal, to ``report_path`` when given and, when verified, to
    ``.iamfit/reports/<service>.json`` for :func:`check`. The policies are in ``outcome.result.policies``;
    nothing else is written. The target is cleaned up on every exit (``KeyboardInterrupt`` included).
    ``observed``, an ``iamfit observe`` report, grants the deployer needs it adds before the first attempt."""
    from iamfit import discover_run
    from iamfit.discover import discover as run_loop
    from iamfit.discover_run import LoopOptions
    from iamfit.service.model import load_service

    base = root if root is not None else Path.cwd()
    given = LoopOptions(target, from_scratch, prune, max_attempts, tuple(allow))
    resumed = discover_run.resume(base, resume, stage=stage, region=region, account=account, options=given)
    guard = aws.account_guard if aws is not None and target == "aws" else None
    svc = load_service(service, stage=resumed.stage, region=resumed.region, account=resumed.account or guard)
    extra = read_observed(observed, svc)
    for warning in extra.warnings if extra else ():
        logger.warning("%s", warning)
    run = discover_run.start(base, svc, resumed)
    opts = run.options
    the_target = discover_run.make_target(svc, opts.target, run.journal.run_id, aws)
    result = run_loop(svc, the_target, run.journal, from_scratch=opts.from_scratch, prune=opts.prune,
                      max_attempts=opts.max_attempts, allow=opts.allow, progress=progress,
                      start=extra.needs if extra else ())
    return discover_run.finish(run, result, base, report_path)


def check(
    service: Path | Service,
    *,
    policy_files: Sequence[Path] = (),
    boundary_file: Path | None = None,
    role_name: str | None = None,
    cfn_policy_files: Sequence[Path] = (),
    cfn_role_name: str | None = None,
    stage: str | None = None,
    region: str | None = None,
    account: str | None = None,
    commands: Sequence[str] | None = None,
    discover_report: Path | None = None,
    use_discover_report: bool = True,
    cwd: Path | None = None,
    iam: Any = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> CheckResult:
    """Check the deployer's policies (``policy_files`` + ``boundary_file``, or the live ``role_name``) and the
    CloudFormation role's against what ``service`` needs (``iamfit check``). ``iam`` is the IAM client for live
    roles (default: one from ``profile`` / ``endpoint_url``). With no account, the one the policies name is used
    (``result.service.account``). A discover report (``discover_report``, else ``.iamfit/reports/<service>.json``
    in the service's directory or ``cwd``) adds its needs; ``result.discover_report`` says which."""
    from iamfit import check_run
    from iamfit.check import ReportChoice, check_service, choose_discover_report
    from iamfit.predict.serverless_cli import DEFAULT_COMMANDS

    sources = check_run.CheckSources(tuple(policy_files), boundary_file, role_name, tuple(cfn_policy_files),
                                     cfn_role_name)
    sources.validate()
    svc = _service(service, stage, region, account)
    client = (lambda: iam) if iam is not None else (
        lambda: check_run.iam_client(profile, region or svc.region, endpoint_url))
    grants = check_run.read_grants(svc, sources, client)
    svc, _note = check_run.in_policies_account(svc, grants)
    choice = ReportChoice()
    if discover_report is not None or use_discover_report:
        search = check_run.discover_report_search(svc, cwd if cwd is not None else Path())
        choice = choose_discover_report(svc, given=discover_report, search=search)
    result = check_service(svc, grants, commands=tuple(commands or DEFAULT_COMMANDS), extra_needs=choice.needs)
    result.discover_report = choice.to_json()
    return result


def explain(source: bytes | str | Path, *, origin: str = "input") -> Explanation:
    """Read a permission failure (``iamfit explain``): failure text (``str`` / ``bytes``), a file (text,
    CloudTrail ``.json`` / ``.json.gz``) or a folder of CloudTrail files (``Path``)."""
    from iamfit.evidence.explain import explain_input

    return explain_input(source, origin=str(source) if isinstance(source, Path) else origin)


def _read_usage(
    trail_source: Source,
    source: str,
    principal: str,
    *,
    since: datetime | None,
    until: datetime,
    strict: bool = False,
    progress: Progress | None = None,
) -> TrailAggregate:
    """The calls of ``principal`` in ``trail_source`` (named ``source`` in messages) between ``since`` and
    ``until``; bad input when nothing could be read or nothing of the principal is in the window."""
    from iamfit.evidence.trail import aggregate
    from iamfit.evidence.trail.model import require_evidence

    trail = aggregate(trail_source, principal=principal, since=since, until=until, strict=strict, progress=progress)
    require_evidence(trail.stats, source, principal, f"{since:%Y-%m-%dT%H:%M:%SZ}" if since else None,
                     f"{until:%Y-%m-%dT%H:%M:%SZ}")
    return trail


def replay(
    cloudtrail: str,
    principal: str,
    *,
    service: Path | Service | None = None,
    cfn_principal: str | None = None,
    stage: str | None = None,
    region: str | None = None,
    account: str | None = None,
    split: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    strict: bool = False,
    athena_output: str | None = None,
    athena_workgroup: str | None = None,
    session: Any = None,
    clients: Clients | None = None,
    profile: str | None = None,
    aws_region: str | None = None,
    endpoint_url: str | None = None,
    progress: Progress | None = None,
) -> ReplayResult:
    """A policy from what ``principal`` (and ``cfn_principal``, the deploymentRole) did, read from ``cloudtrail``
    (a path, ``s3://BUCKET/PREFIX``, ``lookup`` or ``athena:DB.TABLE``) between ``since`` and ``until``
    (default: now) (``iamfit replay``). Deploy-aware when ``service`` is given. ``result.needs`` is empty when
    the principal made no successful call the catalog knows."""
    from iamfit.evidence.trail import parse_source
    from iamfit.evidence.trail.model import ReadStats, TrailAggregate, TrailRow
    from iamfit.replay import replay as run_replay

    svc = _service(service, stage, region, account) if service is not None else None
    make = _clients(session, clients, profile, aws_region, endpoint_url)
    trail_source = parse_source(cloudtrail, make, athena_output=athena_output, athena_workgroup=athena_workgroup)
    start, end = since, until or now or datetime.now(UTC)
    rows: list[TrailRow] = []
    stats: ReadStats | None = None
    for who in [principal] + ([cfn_principal] if cfn_principal else []):
        if stats is None:  # the principal's own read: nothing of it is no evidence to build a policy from
            trail = _read_usage(trail_source, cloudtrail, who, since=start, until=end, strict=strict,
                               progress=progress)
        else:
            from iamfit.evidence.trail import aggregate

            trail = aggregate(trail_source, principal=who, since=start, until=end, strict=strict, progress=progress)
        rows.extend(trail.rows)
        stats = stats or trail.stats
    assert stats is not None
    combined = TrailAggregate(tuple(sorted(set(rows), key=lambda r: r.sort_key())), stats)
    return run_replay(combined, service=svc, cfn_principal=cfn_principal, split=split)


def audit_usage(role_name: str | None, policies: bool, cloudtrail: str | None, access_advisor: bool) -> None:
    """A usage error unless the audit has one kind of grants (a role or ``policies``) and usage evidence."""
    if bool(role_name) == policies:
        raise UsageError("give exactly one of --role-name and --policy")
    if not cloudtrail and not access_advisor:
        raise UsageError("give --cloudtrail SOURCE and/or --access-advisor: usage to compare the grants against")
    if access_advisor and not role_name:
        raise UsageError("--access-advisor needs --role-name")


def audit(
    *,
    role_name: str | None = None,
    policy_files: Sequence[Path] = (),
    policies: Sequence[tuple[str, PolicyDocument]] = (),
    cloudtrail: str | None = None,
    principal: str | None = None,
    access_advisor: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    strict: bool = False,
    athena_output: str | None = None,
    athena_workgroup: str | None = None,
    session: Any = None,
    clients: Clients | None = None,
    profile: str | None = None,
    aws_region: str | None = None,
    endpoint_url: str | None = None,
    progress: Progress | None = None,
) -> AuditResult:
    """Granted vs used (``iamfit audit``) for the live ``role_name``, or ``policy_files`` / ``policies``
    ((origin, document) pairs), against ``cloudtrail`` (window: ``since``, default 90 days before now,
    to ``until``, default now) and/or IAM Access Advisor (``access_advisor``, with ``role_name``)."""
    from iamfit.audit import audit as run_audit

    audit_usage(role_name, bool(policy_files) or bool(policies), cloudtrail, access_advisor)
    make = _clients(session, clients, profile, aws_region, endpoint_url)
    granted = list(policies) + [(str(p), _policy(p)) for p in policy_files]
    role_arn = None
    if role_name:
        from iamfit.aws.iam_reader import read_role

        role = read_role(make("iam"), role_name)
        role_arn = role.role_arn
        granted = [(p.origin, p.document) for p in role.identity]
    who = principal or role_arn
    rows: tuple[Any, ...] = ()
    stats = None
    if cloudtrail:
        if not who:
            raise UsageError("--cloudtrail with --policy needs --principal (whose calls count as use)")
        from iamfit.evidence.trail import parse_source

        trail_source = parse_source(cloudtrail, make, athena_output=athena_output, athena_workgroup=athena_workgroup)
        moment = now or datetime.now(UTC)
        start, end = since or moment - DEFAULT_AUDIT_WINDOW, until or moment
        trail = _read_usage(trail_source, cloudtrail, who, since=start, until=end, strict=strict, progress=progress)
        rows, stats = trail.rows, trail.stats
    last_accessed = None
    if access_advisor and role_arn:
        from iamfit.aws.access_advisor import last_accessed_actions

        last_accessed = last_accessed_actions(make("iam"), role_arn)
    account = who.split(":")[4] if who and who.count(":") >= 5 and who.split(":")[4] else None
    return run_audit(granted, rows=rows, last_accessed=last_accessed, principal=who, account=account, stats=stats)

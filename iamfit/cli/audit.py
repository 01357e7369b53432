"""``iamfit audit``: granted vs used for an existing role or policy files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from iamfit.cli.options import echo_warnings, read_policy, read_text, size_summary, summary_option, write_summary
from iamfit.cli.trail_options import client_factory, parse_when, progress_bar, trail_options
from iamfit.errors import EXIT_FINDINGS, UsageError
from iamfit.knowledge.arn import Arn


def render_text(result: Any, sizes: list[str]) -> str:
    lines = [f"audit of {result.principal or 'the given policies'}: {result.granted_actions} actions granted, "
             f"{len(result.used)} used"]
    by_kind: dict[str, list[Any]] = {}
    for f in result.findings:
        by_kind.setdefault(f.kind, []).append(f)
    for kind in ("escalation", "unused-action", "over-broad-resource", "lint"):
        for f in by_kind.get(kind, []):
            where = f" [{f.policy}{' ' + f.sid if f.sid else ''}]" if f.policy else ""
            lines.append(f"  {f.severity:<7} {f.rule_id} {kind}: {f.message}{where}")
    lines.extend(f"  warning: {w}" for w in result.warnings)
    if result.not_observable:
        lines.append(f"not observable ({len(result.not_observable)}): the evidence cannot show their use; kept in "
                     "the proposal, never counted unused")
        for n in result.not_observable:
            where = f" [{n.policy}{' ' + n.sid if n.sid else ''}]" if n.policy else ""
            lines.append(f"  {n.action}: {n.reason}{where}")
    if result.stats is not None:
        lines.append(f"CloudTrail: {result.stats.summary()}")
        lines.extend(f"  skipped {f.path}: {f.reason}" for f in result.stats.files_skipped[:10])
        if len(result.stats.files_skipped) > 10:
            lines.append(f"  ... and {len(result.stats.files_skipped) - 10} more skipped (--format json lists all)")
    if not result.findings:
        lines.append("  no findings: everything granted was used, on resources no broader than needed")
    lines.append("right-sized proposal (what was used):")
    lines.extend(sizes)
    return "\n".join(lines)


def render_sarif(result: Any, texts: dict[str, str]) -> str:
    """SARIF 2.1.0; results point into the policy file when the grant came from one."""
    from iamfit import __version__
    from iamfit.audit import AUDIT_RULES
    from iamfit.policy.lint import RULES as LINT_RULES
    from iamfit.report.locate import policy_line

    rule_ids = sorted({f.rule_id for f in result.findings})
    rules = []
    for rid in rule_ids:
        if rid in AUDIT_RULES:
            level, title, text = AUDIT_RULES[rid]
        else:
            lr = LINT_RULES[rid]
            level, title, text = lr.severity.value, lr.title, lr.description
        rules.append({"id": rid, "shortDescription": {"text": title}, "fullDescription": {"text": text},
                      "defaultConfiguration": {"level": {"info": "note"}.get(level, level)},
                      "helpUri": "https://github.com/iamfit/iamfit/blob/main/docs/cloudtrail.md#audit"})
    results = []
    for f in result.findings:
        entry: dict[str, Any] = {"ruleId": f.rule_id, "ruleIndex": rule_ids.index(f.rule_id),
                                 "level": {"info": "note"}.get(f.severity, f.severity),
                                 "message": {"text": f.message}}
        if f.policy in texts:
            entry["locations"] = [{"physicalLocation": {
                "artifactLocation": {"uri": f.policy, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": policy_line(texts[f.policy], f.action, f.sid)}}}]
        results.append(entry)
    run: dict[str, Any] = {"tool": {"driver": {"name": "iamfit", "version": __version__,
                                               "informationUri": "https://github.com/iamfit/iamfit", "rules": rules}},
                           "results": results}
    notifications: list[dict[str, Any]] = [{"level": "warning", "message": {"text": w}} for w in result.warnings]
    if result.stats is not None:
        notifications.extend({"level": "warning", "message": {"text": f"CloudTrail file skipped: {f.reason}"},
                              "locations": [{"physicalLocation": {"artifactLocation": {"uri": f.path}}}]}
                             for f in result.stats.files_skipped)
    run["invocations"] = [{"executionSuccessful": True, "toolExecutionNotifications": notifications}]
    run["properties"] = {
        "cloudtrail": result.stats.to_json() if result.stats is not None else None,
        "notObservable": [{"action": n.action, "reason": n.reason, "policy": n.policy, "sid": n.sid}
                          for n in result.not_observable],
    }
    log = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2) + "\n"


@click.command("audit")
@click.option("--role-name", help="Audit this role (inline, attached managed and boundary, read with IAM APIs).")
@click.option("--policy", "policy_files", multiple=True, type=click.Path(path_type=Path),
              help="Audit these policy files instead (repeatable).")
@click.option("--cloudtrail", "source", help="Usage from CloudTrail: PATH, s3://BUCKET/PREFIX, lookup, or "
              "athena:DB.TABLE.")
@click.option("--principal", help="Whose calls count as use (default: the role's ARN with --role-name).")
@click.option("--access-advisor", is_flag=True, help="Also use IAM Access Advisor's action-level "
              "last-accessed data (needs --role-name).")
@trail_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
@click.option("--proposal", "proposal_path", type=click.Path(path_type=Path),
              help="Write the right-sized policy (what was used) here.")
@summary_option
def audit_command(
    role_name: str | None,
    policy_files: tuple[Path, ...],
    source: str | None,
    principal: str | None,
    access_advisor: bool,
    since: str | None,
    until: str | None,
    strict: bool,
    athena_output: str | None,
    athena_workgroup: str | None,
    profile: str | None,
    aws_region: str | None,
    endpoint_url: str | None,
    fmt: str,
    proposal_path: Path | None,
    summary_path: Path | None,
) -> None:
    """Compare what a role (or policy files) grants with what was used: unused actions, resources broader than
    used, escalation-capable grants, and a right-sized proposal. Exit 1 when there are findings.

    Actions the evidence cannot show (iam:PassRole, data events such as S3 object calls or Lambda Invoke when the
    trail has none) are listed as not observable and kept in the proposal, never called unused. A CloudTrail
    source from which nothing could be read, or with no record of the principal in the window, is exit 3.
    """
    from iamfit.audit import audit

    if bool(role_name) == bool(policy_files):
        raise UsageError("give exactly one of --role-name and --policy")
    if not source and not access_advisor:
        raise UsageError("give --cloudtrail SOURCE and/or --access-advisor: usage to compare the grants against")
    if access_advisor and not role_name:
        raise UsageError("--access-advisor needs --role-name")
    now = datetime.now(UTC)
    clients = client_factory(profile, aws_region, endpoint_url)
    texts: dict[str, str] = {}
    policies = []
    role_arn = None
    if role_name:
        from iamfit.aws.iam_reader import read_role

        role = read_role(clients("iam"), role_name)
        role_arn = role.role_arn
        policies = [(p.origin, p.document) for p in role.identity]
    else:
        for path in policy_files:
            texts[str(path)] = read_text(path, "policy")
            policies.append((str(path), read_policy(path)))
    who = principal or role_arn
    rows: tuple[Any, ...] = ()
    stats = None
    if source:
        if not who:
            raise UsageError("--cloudtrail with --policy needs --principal (whose calls count as use)")
        from iamfit.evidence.trail import aggregate, parse_source

        trail_source = parse_source(source, clients, athena_output=athena_output, athena_workgroup=athena_workgroup)
        from iamfit.evidence.trail.model import require_evidence

        start = parse_when(since or "90d", now, "--since")
        end = parse_when(until, now, "--until") or now
        with progress_bar("reading CloudTrail") as progress:
            trail = aggregate(trail_source, principal=who, since=start, until=end, strict=strict, progress=progress)
        rows, stats = trail.rows, trail.stats
        require_evidence(stats, source, who, f"{start:%Y-%m-%dT%H:%M:%SZ}" if start else None,
                         f"{end:%Y-%m-%dT%H:%M:%SZ}")
    last_accessed = None
    if access_advisor and role_arn:
        from iamfit.aws.access_advisor import last_accessed_actions

        last_accessed = last_accessed_actions(clients("iam"), role_arn)
    who_arn = Arn.parse_or_none(who)
    account = (who_arn.account or None) if who_arn is not None else None
    result = audit(policies, rows=rows, last_accessed=last_accessed, principal=who, account=account, stats=stats)
    sizes, size_warnings = size_summary({"proposal": result.proposal},
                                        lambda _: str(proposal_path or "--proposal FILE writes it"))
    echo_warnings(size_warnings)
    if summary_path is not None:
        from iamfit.report.summary import audit_summary

        write_summary(summary_path, audit_summary(result, texts))
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2))
    elif fmt == "sarif":
        click.echo(render_sarif(result, texts), nl=False)
    else:
        click.echo(render_text(result, sizes))
    if proposal_path:
        proposal_path.parent.mkdir(parents=True, exist_ok=True)
        proposal_path.write_text(result.proposal.dumps(), encoding="utf-8")
    if result.findings:
        raise SystemExit(EXIT_FINDINGS)

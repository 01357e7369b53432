"""``iamfit audit``: granted vs used for an existing role or policy files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from iamfit.cli.options import echo_warnings, read_text, summary_option, write_summary
from iamfit.cli.trail_options import client_factory, parse_when, progress_bar, trail_options
from iamfit.errors import EXIT_FINDINGS
from iamfit.policy.document import PolicyDocument
from iamfit.report.text import size_summary


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
    from iamfit import api

    api.audit_usage(role_name, bool(policy_files), source, access_advisor)  # before reading any file
    now = datetime.now(UTC)
    texts = {str(path): read_text(path, "policy") for path in policy_files}
    window = (parse_when(since or "90d", now, "--since"), parse_when(until, now, "--until")) if source else (None, None)
    policies = [(str(path), PolicyDocument.from_text(texts[str(path)], str(path))) for path in policy_files]
    with progress_bar("reading CloudTrail") as progress:
        result = api.audit(role_name=role_name, policies=policies,
                           cloudtrail=source, principal=principal, access_advisor=access_advisor, since=window[0],
                           until=window[1], now=now, strict=strict, athena_output=athena_output,
                           athena_workgroup=athena_workgroup, clients=client_factory(profile, aws_region, endpoint_url),
                           progress=progress)
    sizes, size_warnings = size_summary({"proposal": result.proposal},
                                        lambda _: str(proposal_path or "--proposal FILE writes it"))
    echo_warnings(size_warnings)
    if summary_path is not None:
        from iamfit.report.summary import audit_summary

        write_summary(summary_path, audit_summary(result, texts))
    if fmt == "json":
        from iamfit.report.formats import render_audit_json

        click.echo(render_audit_json(result), nl=False)
    elif fmt == "sarif":
        from iamfit.report.sarif import render_audit_sarif

        click.echo(render_audit_sarif(result, texts), nl=False)
    else:
        from iamfit.report.formats import render_audit_text

        click.echo(render_audit_text(result, sizes), nl=False)
    if proposal_path:
        proposal_path.parent.mkdir(parents=True, exist_ok=True)
        proposal_path.write_text(result.proposal.dumps(), encoding="utf-8")
    if result.findings:
        raise SystemExit(EXIT_FINDINGS)

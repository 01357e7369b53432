"""``iamfit check``: CI drift check of a committed policy or a live role against what the service needs."""

from __future__ import annotations

from pathlib import Path

import click

from iamfit.cli.framework_option import framework_option
from iamfit.cli.options import (
    account_option,
    commands_option,
    echo_runtime_warnings,
    echo_warnings,
    load,
    parse_commands,
    region_option,
    service_argument,
    service_option,
    stage_option,
    summary_option,
    write_summary,
)
from iamfit.errors import EXIT_FINDINGS, UsageError


def parse_fail_on(value: str) -> frozenset[str]:
    from iamfit.check import KINDS

    if value.strip().lower() in ("", "none"):
        return frozenset()
    kinds = frozenset(k.strip().lower() for k in value.split(",") if k.strip())
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise UsageError(
            f"--fail-on takes a comma-separated list of {', '.join(KINDS)} (or none); unknown: {', '.join(unknown)}"
        )
    return kinds


@click.command("check")
@service_argument
@click.option(
    "--policy",
    "policy_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="The deployer's policy (JSON; repeat for several, evaluated together).",
)
@click.option(
    "--boundary",
    "boundary_file",
    type=click.Path(path_type=Path),
    help="A permissions boundary applied to the --policy files.",
)
@click.option("--role-name", help="Check the live role NAME (inline + attached managed policies + boundary).")
@click.option(
    "--cfn-role-policy",
    "cfn_policy_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="The CloudFormation deployment role's policy (JSON; repeatable).",
)
@click.option("--cfn-role-name", help="Check the live CloudFormation deployment role NAME.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--output", "-o", "output", type=click.Path(path_type=Path), help="Write the report to a file instead of stdout."
)
@click.option(
    "--fail-on",
    default="missing,excess,escalation",
    show_default=True,
    help="Finding kinds that make the exit code 1: missing, excess, escalation, lint (or none).",
)
@click.option(
    "--discover-report",
    type=click.Path(path_type=Path),
    help="A discover report whose needs are added (default: .iamfit/reports/<service>.json when present). "
    "Used only when its service, stage, region and account are the check's.",
)
@click.option("--no-discover-report", is_flag=True, help="Do not read a discover report automatically.")
@summary_option
@service_option
@framework_option
@stage_option
@region_option
@account_option
@commands_option
@click.option("--profile", help="AWS profile for --role-name / --cfn-role-name.")
@click.option("--endpoint-url", help="IAM endpoint for --role-name / --cfn-role-name (e.g. a local emulator).")
def check(
    service_path: Path,
    policy_files: tuple[Path, ...],
    boundary_file: Path | None,
    role_name: str | None,
    cfn_policy_files: tuple[Path, ...],
    cfn_role_name: str | None,
    fmt: str,
    output: Path | None,
    fail_on: str,
    discover_report: Path | None,
    no_discover_report: bool,
    summary_path: Path | None,
    service_name: str | None,
    framework: str | None,
    stage: str | None,
    region: str | None,
    account: str | None,
    commands: str,
    profile: str | None,
    endpoint_url: str | None,
) -> None:
    """Check that the policies of a deploy principal fit SERVICE_DIR|TEMPLATE: report missing permissions
    (the deploy would fail), excess grants (actions and resources nobody needs) and escalation-capable grants.
    Warns on stderr about Lambda runtimes AWS has deprecated.

    Exit codes: 0 the policies fit, 1 findings of a --fail-on kind, 2 usage, 3 bad input, 4 AWS error.
    """
    from iamfit import check_run
    from iamfit.check import ReportChoice, check_service, choose_discover_report

    sources = check_run.CheckSources(policy_files, boundary_file, role_name, cfn_policy_files, cfn_role_name)
    sources.validate()
    kinds = parse_fail_on(fail_on)
    command_list = parse_commands(commands)
    service = load(service_path, stage, region, account, service_name, framework)
    grants = check_run.read_grants(
        service, sources, lambda: check_run.iam_client(profile, region or service.region, endpoint_url)
    )
    service, note = check_run.in_policies_account(service, grants)
    if note:
        click.echo(f"iamfit: note: {note}", err=True)
    choice = ReportChoice()
    if discover_report is not None or not no_discover_report:
        choice = choose_discover_report(
            service, given=discover_report, search=check_run.discover_report_search(service, Path())
        )
    if choice.note:
        click.echo(f"iamfit: note: {choice.note}", err=True)
    result = check_service(service, grants, commands=command_list, extra_needs=choice.needs)
    result.discover_report = choice.to_json()
    echo_warnings(result.warnings)
    echo_runtime_warnings(service)
    if summary_path is not None:
        from iamfit.report.summary import check_summary

        write_summary(summary_path, check_summary(result, kinds, grants))

    if fmt == "json":
        from iamfit.report.formats import render_json

        text = render_json(result, kinds)
    elif fmt == "sarif":
        from iamfit.report.sarif import render_sarif

        text = render_sarif(result, kinds)
    elif fmt == "github":
        from iamfit.report.formats import render_github

        text = render_github(result, kinds)
    else:
        from iamfit.report.formats import render_text

        text = render_text(result, kinds)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        if fmt != "text":
            from iamfit.report.formats import render_text

            click.echo(render_text(result, kinds), nl=False)
    else:
        click.echo(text, nl=False)
    if result.failing(kinds):
        click.get_current_context().exit(EXIT_FINDINGS)

"""``iamfit replay``: a policy from what a principal actually did, read from CloudTrail."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from iamfit.cli.options import (
    account_option,
    echo_warnings,
    format_option,
    load,
    region_option,
    service_option,
    stage_option,
    write_json,
    write_policies,
)
from iamfit.cli.trail_options import client_factory, parse_when, progress_bar, trail_options
from iamfit.errors import BadInputError
from iamfit.report.text import size_summary


@click.command("replay")
@click.argument("service_path", metavar="[SERVICE]", required=False, type=click.Path(path_type=Path))
@click.option("--cloudtrail", "source", required=True,
              help="PATH (file, directory, AWSLogs/ layout), s3://BUCKET/PREFIX, lookup, or athena:DB.TABLE.")
@click.option("--principal", required=True, help="The deployer's ARN (a role ARN matches all its sessions).")
@click.option("--cfn-principal", help="The deploymentRole's ARN, when CloudFormation used one.")
@trail_options
@service_option
@stage_option
@region_option
@account_option
@click.option("--split", is_flag=True, help="Separate the CloudFormation principal's policy (recommend a "
              "deploymentRole).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Directory for the policies "
              "(default: policies/<service>-replay, or policies/replay).")
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="Write the JSON report here.")
@format_option
def replay_command(
    service_path: Path | None,
    source: str,
    principal: str,
    cfn_principal: str | None,
    since: str | None,
    until: str | None,
    strict: bool,
    athena_output: str | None,
    athena_workgroup: str | None,
    profile: str | None,
    aws_region: str | None,
    endpoint_url: str | None,
    service_name: str | None,
    stage: str | None,
    region: str | None,
    account: str | None,
    split: bool,
    out_dir: Path | None,
    report_path: Path | None,
    fmt: str,
) -> None:
    """Build a policy from what PRINCIPAL did (a deploy someone once ran as admin, months of CI deploys).

    Deploy-aware when SERVICE is given: calls CloudFormation made on the principal's behalf (invokedBy) go to
    the CloudFormation principal; what CloudTrail never shows (iam:PassRole, the CLI's S3 object calls) is
    added from the knowledge base, marked as inferred; resources are the service's ARN patterns.
    """
    from iamfit import api

    now = datetime.now(UTC)
    service = load(service_path, stage, region, account, service_name) if service_path else None
    if service:
        echo_warnings(service.warnings)
    start, end = parse_when(since, now, "--since"), parse_when(until, now, "--until") or now
    with progress_bar("reading CloudTrail") as progress:
        result = api.replay(source, principal, service=service, cfn_principal=cfn_principal, split=split,
                            since=start, until=end, strict=strict, athena_output=athena_output,
                            athena_workgroup=athena_workgroup, clients=client_factory(profile, aws_region,
                                                                                      endpoint_url),
                            progress=progress)
    stats = result.stats
    if not stats.clean:
        click.echo(f"iamfit: warning: {len(stats.files_skipped)} file(s) skipped, {stats.bad_records} bad "
                   "record(s); the rest was read (--strict makes this an error)", err=True)
    if not result.needs:
        raise BadInputError(f"no successful calls of {principal} in the window ({stats.matched_records:,} of its "
                            f"records read, all failed or unknown to the catalog): no policy can be built from them")
    name = f"{service.name}-replay" if service else "replay"
    target = out_dir or Path("policies") / name
    role = None
    if service is not None:
        from iamfit.predict import predict

        role = cfn_principal or predict(service, split=split).cloudformation_role_arn
    written = write_policies(target, result.policies, fmt, service, role)
    if report_path:
        write_json(report_path, result.report())
    click.echo(f"CloudTrail: {stats.summary()}")
    click.echo(f"{len(result.needs)} grants from "
               f"CloudTrail, {len(result.inferred)} inferred (never in CloudTrail), {len(result.denials)} denied "
               "call(s) seen (not granted)")
    sizes, warnings = size_summary(result.policies, lambda p: str(target / f"{p}.json"))
    echo_warnings(warnings)
    click.echo("\n".join(sizes))
    if result.unknown_actions:
        click.echo(f"  unknown to the catalog (not granted): {', '.join(result.unknown_actions)}")
    if fmt != "json" and service:
        click.echo(f"  {fmt}: {written[-1]}")

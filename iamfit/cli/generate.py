"""``iamfit generate``: predict the deploy policy from a compiled Serverless package."""

from __future__ import annotations

from pathlib import Path

import click

from iamfit import api
from iamfit.cli.framework_option import framework_option
from iamfit.cli.observed_option import observed_lines, observed_option
from iamfit.cli.options import (
    account_option,
    commands_option,
    echo_runtime_warnings,
    echo_warnings,
    format_option,
    load,
    parse_commands,
    region_option,
    service_argument,
    service_option,
    stage_option,
    write_json,
    write_policies,
)
from iamfit.report.text import generate_text


@click.command("generate")
@service_argument
@service_option
@framework_option
@stage_option
@region_option
@account_option
@commands_option
@click.option("--split", is_flag=True, help="Recommend a deploymentRole: separate CloudFormation policy + PassRole.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Directory for the policies (default: policies/<service>).",
)
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="Write every action's reasons (JSON).")
@observed_option
@format_option
def generate(
    service_path: Path,
    service_name: str | None,
    framework: str | None,
    stage: str | None,
    region: str | None,
    account: str | None,
    commands: str,
    split: bool,
    out_dir: Path | None,
    report_path: Path | None,
    observed: Path | None,
    fmt: str,
) -> None:
    """Predict the least-privilege deploy policy of SERVICE_DIR (a Serverless service, compiled with
    `osls package` when needed) or TEMPLATE (a compiled CloudFormation template, JSON or YAML).

    Writes deployer.json (and cloudformation.json with a deploymentRole or --split) and prints a summary;
    warns on stderr about Lambda runtimes AWS has deprecated. With --observed, adds what `iamfit observe`
    saw the real CLI call that the prediction lacks.
    """
    service = load(service_path, stage, region, account, service_name, framework)
    result = api.generate(service, commands=parse_commands(commands), split=split, observed=observed)
    echo_warnings(result.prediction.warnings)
    echo_runtime_warnings(service)
    target = out_dir or Path("policies") / service.name
    written = write_policies(target, result.policies, fmt, service, result.prediction.cloudformation_role_arn)
    if report_path:
        write_json(report_path, result.report())
    text, size_warnings = generate_text(result, target)
    echo_warnings(size_warnings)
    click.echo("\n".join([text, *observed_lines(result, observed)]))
    if fmt != "json":
        click.echo(f"  {fmt}: {written[-1]}")

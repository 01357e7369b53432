"""``iamfit observe``: run the real Serverless CLI against a local AWS and record every call it makes."""

from __future__ import annotations

from pathlib import Path

import click

from iamfit.cli.options import check_account, check_region, stage_option


@click.command("observe")
@click.argument("service_path", metavar="SERVICE_DIR", type=click.Path(path_type=Path))
@click.option("--deploy-command", help="The deploy command, run in a copy of SERVICE_DIR; {stage} becomes the "
              "stage (default: npx osls deploy --stage {stage}).")
@click.option("--remove-command", help="The remove command (default: npx osls remove --stage {stage}).")
@stage_option
@click.option("--region", callback=check_region, help="The region the CLI deploys to (default: the service's "
              "provider.region); a command that does not read it from serverless.yml must be given it.")
@click.option("--account", callback=check_account, help="12-digit account the throwaway role is in (default: the "
              "service's, else 123456789012).")
@click.option("--report", "report_path", type=click.Path(path_type=Path),
              help="Write the JSON report (schema iamfit.observe/1) here.")
@click.option("--records", "records_path", type=click.Path(path_type=Path),
              help="Write the calls as CloudTrail records here (iamfit replay/explain/audit read them).")
def observe_command(
    service_path: Path,
    deploy_command: str | None,
    remove_command: str | None,
    stage: str | None,
    region: str | None,
    account: str | None,
    report_path: Path | None,
    records_path: Path | None,
) -> None:
    """Deploy SERVICE_DIR with its real Serverless CLI (create, update, remove) against a local AWS (a moto
    server in this process) and record every AWS call the CLI and its plugins make.

    The CLI runs with throwaway credentials, AWS_ENDPOINT_URL pointing at the local AWS (AWS SDK v3), an HTTPS
    proxy with a CA made for the run (HTTPS_PROXY, NODE_EXTRA_CA_CERTS: AWS SDK v2, Serverless v3; non-AWS hosts
    refused), and HOME and the AWS config files in a temporary run directory. Each call is mapped to the IAM
    action and resource AWS would authorize and compared with the predicted deployer policy (iamfit generate):
    `unpredicted` lists what it does not allow. Exit 0 when every phase completed, 1 when a phase failed (the
    report says where and why). See docs/observe.md.
    """
    from iamfit import api
    from iamfit.report.observe import render_json, render_records, render_text

    def progress(line: str) -> None:
        click.echo(f"iamfit: {line}", err=True)

    observation = api.observe(service_path, deploy_command=deploy_command, remove_command=remove_command,
                              stage=stage, region=region, account=account, progress=progress)
    if report_path:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(render_json(observation), encoding="utf-8")
    if records_path:
        records_path.parent.mkdir(parents=True, exist_ok=True)
        records_path.write_text(render_records(observation), encoding="utf-8")
    click.echo(render_text(observation), nl=False)
    if not observation.complete:
        raise SystemExit(1)

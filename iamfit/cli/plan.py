"""`iamfit plan`: deploy in the sandbox with a policy and report every denial."""

from __future__ import annotations

import json
from pathlib import Path

import click

from iamfit.cli.framework_option import framework_option
from iamfit.cli.options import check_account, check_region


@click.command("plan")
@click.argument("source", metavar="SERVICE|TEMPLATE", type=click.Path(path_type=Path))
@click.option("--policy", "policy_files", required=True, multiple=True, type=click.Path(path_type=Path),
              help="The deployer's policy (JSON; repeat for several, evaluated together); also CloudFormation's "
              "when there is no deploymentRole.")
@click.option("--cfn-role-policy", "cfn_policy_files", multiple=True, type=click.Path(path_type=Path),
              help="The deploymentRole's policy (JSON; repeatable). For a service that sets no deploymentRole: "
              "planned as if the role generate --split recommends were set.")
@click.option("--phase", type=click.Choice(["create", "update", "remove", "all"]), default="all", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as one JSON object.")
@click.option("--account", default=None, callback=check_account,
              help="Account id for ARNs (default: the service's, else the one the policies name, else the "
              "sandbox's own, 123456789012).")
@click.option("--region", default=None, callback=check_region, help="Region (default: the service's).")
@click.option("--stage", default=None, help="Stage (default: the service's).")
@click.option("--service", "service_name", metavar="NAME", default=None,
              help="Service name (default: from the package, else from the template's names).")
@framework_option
def plan(source: Path, policy_files: tuple[Path, ...], cfn_policy_files: tuple[Path, ...], phase: str, as_json: bool,
         account: str | None, region: str | None, stage: str | None, service_name: str | None,
         framework: str | None) -> None:
    """Deploy SERVICE (a service directory, a .serverless package or a template) in the built-in sandbox
    with the given policy, and report every denial that would occur on every path, the failure
    CloudFormation would report first, the stack's end state and the modeled time.

    Exit 0 when every requested phase succeeds with no denial, 1 when not, 3 on bad input.
    """
    from iamfit import api
    from iamfit.cli.options import read_policy  # "-": standard input
    from iamfit.service.model import load_service
    from iamfit.targets.base import PHASES, Phase

    service = load_service(source, stage=stage, region=region, account=account, service_name=service_name,
                           framework=framework)
    from iamfit.service.framework import untold_warning

    if (note := untold_warning(service.framework)) is not None:
        click.echo(f"iamfit: warning: {note}", err=True)
    phases: tuple[Phase, ...] = PHASES if phase == "all" else (phase,)  # type: ignore[assignment]
    result = api.plan(service, [read_policy(p) for p in policy_files], phases=phases,
                      cfn_role_policy=[read_policy(p) for p in cfn_policy_files] or None)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        from iamfit.report.text import plan_text

        click.echo(plan_text(result.to_json(), service.deployment_role is not None and not cfn_policy_files))
    raise SystemExit(0 if result.fits else 1)

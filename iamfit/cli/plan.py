"""`iamfit plan`: deploy in the sandbox with a policy and report every denial."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from iamfit.cli.options import check_account, check_region


def _minutes(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


@click.command("plan")
@click.argument("source", metavar="SERVICE|TEMPLATE", type=click.Path(path_type=Path))
@click.option("--policy", "policy_file", required=True, type=click.Path(path_type=Path),
              help="The deployer's policy (JSON); also CloudFormation's when the service sets no deploymentRole.")
@click.option("--cfn-role-policy", "cfn_policy_file", type=click.Path(path_type=Path),
              help="The deploymentRole's policy (JSON), for services that set provider.iam.deploymentRole.")
@click.option("--phase", type=click.Choice(["create", "update", "remove", "all"]), default="all", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as one JSON object.")
@click.option("--account", default=None, callback=check_account,
              help="Account id for ARNs (default: the service's, else the one the policies name, else the "
              "sandbox's own, 123456789012).")
@click.option("--region", default=None, callback=check_region, help="Region (default: the service's).")
@click.option("--stage", default=None, help="Stage (default: the service's).")
@click.option("--service", "service_name", metavar="NAME", default=None,
              help="Service name (default: from the package, else from the template's names).")
def plan(source: Path, policy_file: Path, cfn_policy_file: Path | None, phase: str, as_json: bool,
         account: str | None, region: str | None, stage: str | None, service_name: str | None) -> None:
    """Deploy SERVICE (a service directory, a .serverless package or a template) in the built-in sandbox
    with the given policy, and report every denial that would occur on every path, the failure
    CloudFormation would report first, the stack's end state and the modeled time.

    Exit 0 when every requested phase succeeds with no denial, 1 when not, 3 on bad input.
    """
    from iamfit import api
    from iamfit.cli.options import read_policy
    from iamfit.service.model import load_service
    from iamfit.targets.base import PHASES, Phase

    service = load_service(source, stage=stage, region=region, account=account, service_name=service_name)
    cfn = cfn_policy_file
    phases: tuple[Phase, ...] = PHASES if phase == "all" else (phase,)  # type: ignore[assignment]
    result = api.plan(service, read_policy(policy_file), phases=phases,
                      cfn_role_policy=read_policy(cfn) if cfn is not None and str(cfn) == "-" else cfn)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(_human(result.to_json(), service.deployment_role is not None and cfn_policy_file is None))
    raise SystemExit(0 if result.fits else 1)


def _human(data: dict[str, Any], missing_cfn_policy: bool) -> str:
    from iamfit.targets.sandbox.coverage import MODEL_NOTE

    lines = [f"iamfit plan: stack {data['stack']} (account {data['account']}, {data['region']}) in the sandbox"]
    if missing_cfn_policy:
        lines.append("note: the service sets a deploymentRole and no --cfn-role-policy was given: "
                     "CloudFormation's requests are all denied")
    for p in data["phases"]:
        state = "ok" if p["fits"] else ("FAILED" if not p["succeeded"] else "DENIALS")
        lines.append(f"\n{p['phase']:<7} {state:<8} stack {p['stack_status'] or '-'}  "
                     f"modeled {_minutes(p['modeled_seconds'])}")
        if p["first_failure"]:
            lines.append(f"  first failure: {p['first_failure']}")
        if p["denials"]:
            lines.append(f"  denials ({len(p['denials'])}, every path):")
            for d in p["denials"]:
                note = " [tolerated by the CLI]" if d["tolerated"] else ""
                lines.append(f"    {d['principal']:<14} {d['action']} on {d['resource']}{note}")
                lines.append(f"    {'':<14}   at {d['where']} ({d['cause']})")
    actions = data["denied_actions"]
    lines.append("")
    if data["fits"]:
        total = _minutes(data["modeled_seconds"])
        lines.append(f"The policy fits in the sandbox model ({MODEL_NOTE}): every phase succeeds with no denial "
                     f"(modeled {total}).")
    else:
        lines.append(f"The policy does not fit: {len(actions)} denied action(s): {', '.join(actions) or '-'}.")
    unverified = data.get("unverified", [])
    if unverified:
        lines.append(f"Not verified: {len(unverified)} resource(s) whose needs the sandbox could not check "
                     "(verify with `iamfit discover --target aws`, or grant their needs by hand):")
        lines.extend(f"  - {u['logical_id']} ({u['type']}): {u['reason']}" for u in unverified)
    return "\n".join(lines)

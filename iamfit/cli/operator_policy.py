"""``iamfit operator-policy``: the least-privilege policy the operator needs to run the AWS target."""

from __future__ import annotations

from pathlib import Path

import click

from iamfit.cli.options import check_account, check_region


@click.command("operator-policy")
@click.argument("service_path", metavar="[SERVICE_DIR|TEMPLATE]", required=False, type=click.Path(path_type=Path))
@click.option("--account", callback=check_account, help="12-digit account id for the ARNs (default: '*').")
@click.option("--region", callback=check_region, help="Region for the ARNs (default: '*').")
def operator_policy(service_path: Path | None, account: str | None, region: str | None) -> None:
    """Print the IAM policy the operator (whoever runs `iamfit discover --target aws`) needs.

    With SERVICE, stacks and buckets are scoped to that service's discovery stacks, and the policy adds
    the delete permissions of its resource types (CloudFormation deletes with the caller's permissions
    when the service has no deploymentRole).
    """
    from iamfit.service.model import load_service
    from iamfit.targets.aws.operator import operator_policy as build

    name = None
    types: tuple[str, ...] = ()
    if service_path is not None:
        service = load_service(service_path)
        name = service.name
        types = tuple(sorted({r.type for r in service.resources.values()}))
    document = build(name, resource_types=types, account=account or "*", region=region or "*")
    click.echo(document.dumps(), nl=False)

"""``iamfit operator-policy``: the least-privilege policy the operator needs to run the AWS target."""

from __future__ import annotations

from pathlib import Path

import click

from iamfit.cli.options import check_account, check_region


@click.command("operator-policy")
@click.argument("service_path", metavar="[SERVICE_DIR|TEMPLATE]", required=False, type=click.Path(path_type=Path))
@click.option(
    "--account",
    callback=check_account,
    help="12-digit account id for the ARNs (default: '*'; required with --boundary).",
)
@click.option("--region", callback=check_region, help="Region for the ARNs (default: '*').")
@click.option("--service", "service_name", metavar="NAME",
              help="Service name (default: from the package, else from the template's names).")
@click.option(
    "--boundary",
    "print_boundary",
    is_flag=True,
    help="Print the permissions boundary policy `iamfit-boundary` instead (for an administrator to create it "
    "before the operator's first run).",
)
def operator_policy(
    service_path: Path | None, account: str | None, region: str | None, service_name: str | None,
    print_boundary: bool,
) -> None:
    """Print the IAM policy the operator (whoever runs `iamfit discover --target aws`) needs.

    The operator may create and edit only roles named iamfit-* that carry the permissions boundary
    iamfit-boundary (which the AWS target creates), and may never change or delete that boundary.

    With SERVICE, stacks and buckets are scoped to that service's discovery stacks, and the policy adds
    the delete permissions of its resource types (CloudFormation deletes with the caller's permissions
    when the service has no deploymentRole); delete permissions that would let the operator escalate are
    left out and named on stderr.
    """
    from iamfit.errors import UsageError
    from iamfit.service.model import load_service
    from iamfit.targets.aws.boundary import boundary_policy
    from iamfit.targets.aws.operator import delete_permissions
    from iamfit.targets.aws.operator import operator_policy as build

    if print_boundary:
        if account is None:
            raise UsageError("--boundary needs --account: the boundary names its own ARN in the account")
        click.echo(boundary_policy("aws", account).dumps(), nl=False)
        return
    name = None
    types: tuple[str, ...] = ()
    if service_path is not None:
        service = load_service(service_path, region=region, service_name=service_name)
        name = service.name
        types = tuple(sorted({r.type for r in service.resources.values()}))
    document = build(name, resource_types=types, account=account or "*", region=region or "*")
    for action, by in delete_permissions(types).left_out.items():
        click.echo(
            f"iamfit: note: left out {action} (a delete permission of {', '.join(by)}): granted on * it would let "
            "the operator escalate; deleting such a stack may need someone with more rights",
            err=True,
        )
    click.echo(document.dumps(), nl=False)

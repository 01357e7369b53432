"""``iamfit cleanup``: find what iamfit left in an AWS account (by its tags) and delete it."""

from __future__ import annotations

import click

from iamfit.aws.session import operator_session
from iamfit.cli.options import check_region


@click.command("cleanup")
@click.option("--profile", help="AWS profile of the operator (as the AWS CLI spells it).")
@click.option("--region", callback=check_region, help="AWS region (default: the profile's, else us-east-1).")
@click.option("--endpoint-url", help="Another endpoint for every AWS call (LocalStack, a moto server).")
@click.option("--yes", is_flag=True, help="Delete without asking.")
def cleanup(profile: str | None, region: str | None, endpoint_url: str | None, yes: bool) -> None:
    """Find stacks, roles and policies tagged iamfit:managed=true and delete them after confirmation."""
    from iamfit.errors import AwsError
    from iamfit.targets.aws.calls import AWS_ERRORS, error_message
    from iamfit.targets.aws.leftovers import delete_leftovers, find_leftovers

    session = operator_session(profile=profile, region=region, endpoint_url=endpoint_url)
    cfn, iam, s3 = session.client("cloudformation"), session.client("iam"), session.client("s3")
    try:
        leftovers = find_leftovers(cfn, iam)
    except AWS_ERRORS as exc:
        raise AwsError(f"listing iamfit's leftovers failed: {error_message(exc)}") from None
    if not leftovers:
        click.echo(f"nothing iamfit made is left in {session.region}")
        return
    click.echo(f"iamfit left {len(leftovers)} thing(s) in {session.region}:")
    for item in leftovers:
        click.echo(f"  {item.describe()}")
    if not yes and not click.confirm("Delete them?", default=False):
        click.echo("nothing deleted")
        return
    deleted, problems = delete_leftovers(leftovers, cfn, iam, s3)
    for line in deleted:
        click.echo(f"deleted {line}")
    for line in problems:
        click.echo(f"iamfit: could not delete {line}", err=True)
    if problems:
        raise click.exceptions.Exit(4)

"""What ``check`` reads before it compares: the grants of each principal (policy files, or a live role read with
IAM APIs), the account they are pinned to, and the IAM client for live roles.

:func:`iamfit.api.check` runs it all in one call; the CLI calls the steps one by one, printing each note as it
comes, then :func:`iamfit.check.check_service`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iamfit.check import Grants, PolicyInput
from iamfit.errors import UsageError
from iamfit.knowledge.arn import Arn
from iamfit.policy.document import PolicyDocument
from iamfit.service.locate import ServiceLocator
from iamfit.service.model import Service

IamClient = Callable[[], Any]
"""Makes the IAM client for live roles, once, when a live role is first read."""


@dataclass(frozen=True)
class CheckSources:
    """Whose policies ``check`` reads: the deployer's (``policy_files`` with an optional ``boundary_file``, or
    the live ``role_name``) and optionally the CloudFormation role's (``cfn_policy_files`` or ``cfn_role_name``)."""

    policy_files: tuple[Path, ...] = ()
    boundary_file: Path | None = None
    role_name: str | None = None
    cfn_policy_files: tuple[Path, ...] = ()
    cfn_role_name: str | None = None

    def validate(self) -> None:
        """A usage error when the sources do not name one deployer (and at most one CloudFormation role)."""
        if bool(self.policy_files) == bool(self.role_name):
            raise UsageError("pass exactly one of --policy FILE... and --role-name NAME")
        if self.cfn_policy_files and self.cfn_role_name:
            raise UsageError("pass at most one of --cfn-role-policy and --cfn-role-name")
        if self.boundary_file and self.role_name:
            raise UsageError("--boundary goes with --policy; a live role's boundary is read from the role")

    @property
    def live(self) -> bool:
        return bool(self.role_name or self.cfn_role_name)


def iam_client(profile: str | None, region: str | None, endpoint_url: str | None) -> Any:
    """An IAM client for ``--profile`` / ``--endpoint-url`` (region: ``region``, else us-east-1)."""
    import boto3
    from botocore.exceptions import BotoCoreError

    from iamfit.errors import AwsError

    try:
        session = boto3.Session(profile_name=profile, region_name=region or "us-east-1")
        return session.client("iam", endpoint_url=endpoint_url)
    except BotoCoreError as exc:
        raise AwsError(f"AWS session: {exc}") from None


def live_grants(iam: Any, name: str, principal: str, locator: ServiceLocator) -> Grants:
    """The grants of the live role ``name`` (inline, attached managed policies and boundary). A live role has no
    file: its findings point at the serverless.yml key that names the role."""
    from iamfit.aws.iam_reader import read_role

    role = read_role(iam, name)
    fallback = locator.locate("", "iam:PassRole" if principal == "cloudformation" else "")
    policies = tuple(PolicyInput(f"role/{name} {p.origin}", p.document, None, fallback) for p in role.identity)
    boundary = (
        PolicyInput(f"role/{name} {role.boundary.origin}", role.boundary.document, None, fallback)
        if role.boundary
        else None
    )
    return Grants(policies, boundary, label=f"role/{name}")


def read_grants(service: Service, sources: CheckSources, iam: IamClient | None = None) -> dict[str, Grants]:
    """Principal -> its grants, from ``sources`` (:meth:`CheckSources.validate` first); ``iam`` makes the IAM
    client, needed only for a live role."""
    sources.validate()
    locator = ServiceLocator.for_service(service.source)
    client: list[Any] = []

    def live(name: str, principal: str) -> Grants:
        if iam is None:
            raise UsageError("reading a live role needs an IAM client")
        if not client:
            client.append(iam())
        return live_grants(client[0], name, principal, locator)

    grants: dict[str, Grants] = {}
    if sources.role_name:
        grants["deployer"] = live(sources.role_name, "deployer")
    else:
        boundary = PolicyInput.from_file(sources.boundary_file) if sources.boundary_file else None
        grants["deployer"] = Grants(tuple(PolicyInput.from_file(p) for p in sources.policy_files), boundary)
    if sources.cfn_role_name:
        grants["cloudformation"] = live(sources.cfn_role_name, "cloudformation")
    elif sources.cfn_policy_files:
        grants["cloudformation"] = Grants(tuple(PolicyInput.from_file(p) for p in sources.cfn_policy_files))
    return grants


def literal_arns(service: Service) -> frozenset[str]:
    """Every ARN the service's template writes as a literal string (at any depth): a layer, a destination, a topic
    of another account is granted as written, so its account says nothing about the deploy account."""
    found: set[str] = set()
    stack: list[object] = [service.template]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and Arn.parse_or_none(node) is not None:
            found.add(node)
    return frozenset(found)


def pinned_account(documents: Iterable[PolicyDocument], literals: frozenset[str] = frozenset()) -> str | None:
    """The one account the policies' ARNs name, None when they name none or several; ARNs in ``literals`` (the
    template's own literal ARNs, see ``literal_arns``) are left out."""
    accounts = set()
    for doc in documents:
        for statement in doc.statements:
            for resource in statement.resources:
                arn = Arn.parse_or_none(resource)
                if arn is not None and arn.account_id and resource not in literals:
                    accounts.add(arn.account_id)
    return accounts.pop() if len(accounts) == 1 else None


def in_policies_account(service: Service, grants: Mapping[str, Grants]) -> tuple[Service, str]:
    """The service in the account the checked policies are pinned to, when it names none (compare like with
    like), and the note that says so ("" when the service is unchanged)."""
    if service.account is not None:
        return service, ""
    account = pinned_account((p.document for g in grants.values() for p in g.policies), literal_arns(service))
    if account is None:
        return service, ""
    return service.with_account(account), f"no --account given: using {account}, the account the policies name"


def discover_report_search(service: Service, cwd: Path) -> Sequence[Path]:
    """Where ``check`` looks for ``.iamfit/reports/<service>.json``: the service's directory, then ``cwd``."""
    base = service.source if service.source and service.source.is_dir() else cwd
    return [base, cwd]

"""Read what a live IAM role may do: inline policies, attached managed policies, permissions boundary.

The IAM client is injected (``session.client("iam")`` built by the CLI, or a moto/Stubber client in tests).
botocore errors become :class:`~iamfit.errors.AwsError` (exit 4) with one line naming the call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from iamfit.errors import AwsError, BadInputError
from iamfit.policy.document import PolicyDocument
from iamfit.policy.evaluate import PolicySet


@dataclass(frozen=True, order=True)
class NamedPolicy:
    """One policy of a role: ``kind`` inline, managed or boundary; ``name`` the inline name or the ARN."""

    kind: str
    name: str
    document: PolicyDocument

    @property
    def origin(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class RolePolicies:
    role_name: str
    role_arn: str
    inline: tuple[NamedPolicy, ...]
    managed: tuple[NamedPolicy, ...]
    boundary: NamedPolicy | None = None

    @property
    def identity(self) -> tuple[NamedPolicy, ...]:
        return self.inline + self.managed

    def policy_set(self) -> PolicySet:
        """Identity policies evaluated together, limited by the boundary when the role has one."""
        return PolicySet(
            tuple(p.document for p in self.identity),
            boundary=self.boundary.document if self.boundary else None,
        )


@contextmanager
def _aws(call: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise AwsError(f"{call}: {err.get('Code', 'error')}: {err.get('Message', '')}".rstrip(": ")) from None
    except BotoCoreError as exc:  # NoCredentialsError, EndpointConnectionError, ...
        raise AwsError(f"{call}: {exc}") from None


def _document(raw: Any, origin: str) -> PolicyDocument:
    """A policy document as IAM returns it: a dict (boto3 decodes it) or URL-encoded JSON text."""
    if isinstance(raw, str):
        text = unquote(raw)
        return PolicyDocument.from_text(text, origin)
    try:
        return PolicyDocument.from_json(raw)
    except BadInputError as exc:
        raise BadInputError(f"{origin}: {exc.message}") from None


def _paginate(iam: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    items: list[Any] = []
    with _aws(f"iam {operation}"):
        for page in iam.get_paginator(operation).paginate(**kwargs):
            items.extend(page.get(key, []))
    return items


def _managed_document(iam: Any, arn: str, kind: str) -> NamedPolicy:
    with _aws(f"iam GetPolicy {arn}"):
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    with _aws(f"iam GetPolicyVersion {arn} {version}"):
        raw = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    return NamedPolicy(kind, arn, _document(raw, f"{kind} policy {arn}"))


def read_role(iam: Any, role_name: str) -> RolePolicies:
    """Every policy that bounds what ``role_name`` may do, read through the injected IAM client."""
    with _aws(f"iam GetRole {role_name}"):
        role = iam.get_role(RoleName=role_name)["Role"]
    inline = []
    for name in sorted(_paginate(iam, "list_role_policies", "PolicyNames", RoleName=role_name)):
        with _aws(f"iam GetRolePolicy {role_name}/{name}"):
            raw = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        inline.append(NamedPolicy("inline", name, _document(raw, f"inline policy {role_name}/{name}")))
    attached = _paginate(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=role_name)
    managed = [_managed_document(iam, arn, "managed") for arn in sorted(p["PolicyArn"] for p in attached)]
    boundary_arn = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    boundary = _managed_document(iam, boundary_arn, "boundary") if boundary_arn else None
    return RolePolicies(role_name, str(role.get("Arn", "")), tuple(inline), tuple(managed), boundary)

"""The candidate roles: created by iamfit, given each attempt's policy, assumed per attempt.

``deployer`` is what the Serverless CLI runs as; ``cfn`` (only when the service sets a deploymentRole) is
the role CloudFormation acts with. Both trust only the operator principal; ``cfn`` also trusts
cloudformation.amazonaws.com. Both have ``iamfit-boundary`` as their permissions boundary
(:mod:`iamfit.targets.aws.boundary`), created before the first role. A policy goes in as the inline
policy ``iamfit-attempt`` when it fits the 10,240-character inline quota, else as up to 10 managed policies
(:func:`iamfit.policy.pack.pack`).

IAM is eventually consistent: after a change iamfit reads the policy back until IAM returns it, assumes the
role with retries (a new role's trust policy can take seconds to apply), then waits ``propagation_seconds``
more before the attempt, all with bounded retries and an injectable clock.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped,unused-ignore]

from iamfit.aws.session import Credentials
from iamfit.errors import AwsError, SafetyError
from iamfit.policy.document import PolicyDocument
from iamfit.policy.pack import PolicyTooLargeError, pack
from iamfit.targets.aws.boundary import boundary_arn, ensure_boundary
from iamfit.targets.aws.calls import AWS_ERRORS, Clock, error_code, error_message
from iamfit.targets.aws.guard import Operator
from iamfit.targets.aws.names import INLINE_POLICY, Names, check_session_name, is_managed

logger = logging.getLogger(__name__)

CFN_SERVICE = "cloudformation.amazonaws.com"
_RETRYABLE_ASSUME = frozenset({"AccessDenied", "AccessDeniedException", "InvalidClientTokenId"})


def trust_policy(operator: Operator, purpose: str) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Principal": {"AWS": operator.principal_arn}, "Action": "sts:AssumeRole"}
    ]
    if purpose == "cfn":
        statements.append({"Effect": "Allow", "Principal": {"Service": CFN_SERVICE}, "Action": "sts:AssumeRole"})
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass
class CandidateRoles:
    iam: Any
    sts: Any
    names: Names
    operator: Operator
    purposes: tuple[str, ...] = ("deployer",)
    clock: Clock = field(default_factory=Clock)
    propagation_seconds: float = 8.0
    max_tries: int = 15
    created: list[str] = field(default_factory=list)
    _managed: dict[str, list[str]] = field(default_factory=dict)
    _boundary: str | None = None

    @property
    def boundary_arn(self) -> str:
        """The ARN of ``iamfit-boundary``, every candidate role's permissions boundary."""
        return boundary_arn(self.operator.partition, self.operator.account)

    def ensure_boundary(self) -> str:
        """Create (once) or check the boundary policy: :func:`iamfit.targets.aws.boundary.ensure_boundary`."""
        if self._boundary is None:
            self._boundary = ensure_boundary(self.iam, self.operator.partition, self.operator.account)
        return self._boundary

    def role_arn(self, purpose: str) -> str:
        return f"arn:{self.operator.partition}:iam::{self.operator.account}:role/{self.names.role_name(purpose)}"

    def ensure(self) -> None:
        """Create the roles that do not exist yet, each with the permissions boundary; refuse a same-named
        role iamfit did not create; give an unbounded role of iamfit's (an earlier version's) the boundary."""
        boundary = self.ensure_boundary()
        for purpose in self.purposes:
            name = self.names.role_name(purpose)
            logger.info("iam:GetRole %s", name)
            try:
                role = self.iam.get_role(RoleName=name)["Role"]
            except AWS_ERRORS as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise AwsError(f"iam:GetRole {name} failed: {error_message(exc)}") from None
                role = None
            if role is not None:
                tags = self.iam.list_role_tags(RoleName=name).get("Tags", [])
                if not is_managed(tags):
                    raise SafetyError(f"role {name} exists and is not tagged iamfit:managed=true; refusing to use it")
                if name not in self.created:
                    self.created.append(name)
                current = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
                if current != boundary:
                    logger.info("iam:PutRolePermissionsBoundary %s %s", name, boundary)
                    try:
                        self.iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)
                    except AWS_ERRORS as exc:
                        raise AwsError(f"iam:PutRolePermissionsBoundary {name} failed: {error_message(exc)}") from None
                continue
            logger.info("iam:CreateRole %s", name)
            try:
                self.iam.create_role(
                    RoleName=name,
                    AssumeRolePolicyDocument=json.dumps(trust_policy(self.operator, purpose)),
                    Description=f"iamfit {purpose} role, {self.names.stack_name}, run {self.names.run_id}",
                    MaxSessionDuration=3600,
                    Tags=self.names.tags(),
                    PermissionsBoundary=boundary,
                )
            except AWS_ERRORS as exc:
                raise AwsError(f"iam:CreateRole {name} failed: {error_message(exc)}") from None
            self.created.append(name)

    # --- policies -------------------------------------------------------------------------------------
    def put_policy(self, purpose: str, document: PolicyDocument) -> None:
        """Make ``document`` the role's whole identity policy (inline if it fits, else managed)."""
        role = self.names.role_name(purpose)
        try:
            inline: tuple[PolicyDocument, ...] | None = pack(document, kind="inline")
        except PolicyTooLargeError:
            inline = None
        try:
            if inline is not None:
                self._drop_managed(purpose)
                logger.info("iam:PutRolePolicy %s %s (%d characters)", role, INLINE_POLICY, len(inline[0].dumps()))
                self.iam.put_role_policy(RoleName=role, PolicyName=INLINE_POLICY, PolicyDocument=inline[0].dumps())
                self._read_back_inline(role, inline[0])
                return
            parts = pack(document, kind="managed")
            self._drop_inline(role)
            self._drop_managed(purpose)
            arns = []
            for index, part in enumerate(parts, start=1):
                logger.info("iam:CreatePolicy, iam:AttachRolePolicy %s part %d/%d", role, index, len(parts))
                created = self.iam.create_policy(
                    PolicyName=self.names.managed_policy_name(purpose, index),
                    PolicyDocument=part.dumps(),
                    Description=f"iamfit attempt policy {index}/{len(parts)} for {role}",
                    Tags=self.names.tags(),
                )
                arn = str(created["Policy"]["Arn"])
                arns.append(arn)
                self._managed.setdefault(purpose, []).append(arn)
                self.iam.attach_role_policy(RoleName=role, PolicyArn=arn)
            self._read_back_attached(role, arns)
        except (AwsError, PolicyTooLargeError):
            raise
        except AWS_ERRORS as exc:
            raise AwsError(f"updating the policy of {role} failed: {error_message(exc)}") from None

    def _read_back_inline(self, role: str, document: PolicyDocument) -> None:
        want = document.to_json()
        for n in range(1, self.max_tries + 1):
            logger.info("iam:GetRolePolicy %s %s", role, INLINE_POLICY)
            try:
                got = self.iam.get_role_policy(RoleName=role, PolicyName=INLINE_POLICY)["PolicyDocument"]
            except ClientError as exc:  # NoSuchEntity right after a put is eventual consistency; other errors are not
                if error_code(exc) != "NoSuchEntity":
                    raise
                logger.warning("IAM does not return the policy of %s yet (NoSuchEntity): read %d/%d", role, n,
                               self.max_tries)
                self.clock.sleep(1.0)
                continue
            if isinstance(got, str):
                from urllib.parse import unquote

                got = json.loads(unquote(got))
            if PolicyDocument.from_json(got).to_json() == want:
                return
            logger.warning("IAM returns an earlier policy of %s: read %d/%d", role, n, self.max_tries)
            self.clock.sleep(1.0)
        raise AwsError(f"IAM did not return the new policy of {role} after {self.max_tries} reads")

    def _read_back_attached(self, role: str, arns: list[str]) -> None:
        for n in range(1, self.max_tries + 1):
            logger.info("iam:ListAttachedRolePolicies %s", role)
            attached = self.iam.list_attached_role_policies(RoleName=role).get("AttachedPolicies", [])
            if set(arns) <= {p["PolicyArn"] for p in attached}:
                return
            logger.warning("IAM does not list the new managed policies of %s yet: read %d/%d", role, n, self.max_tries)
            self.clock.sleep(1.0)
        raise AwsError(f"IAM did not list the new managed policies of {role} after {self.max_tries} reads")

    def _drop_inline(self, role: str) -> None:
        logger.info("iam:DeleteRolePolicy %s %s", role, INLINE_POLICY)
        try:
            self.iam.delete_role_policy(RoleName=role, PolicyName=INLINE_POLICY)
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise

    def _drop_managed(self, purpose: str) -> None:
        role = self.names.role_name(purpose)
        for arn in self._managed.pop(purpose, []):
            delete_managed_policy(self.iam, arn, role)

    # --- assuming --------------------------------------------------------------------------------------
    def assume(self, purpose: str, session_name: str) -> Credentials:
        """Credentials of the role for one attempt; retried while a fresh role or policy propagates."""
        check_session_name(session_name)
        arn = self.role_arn(purpose)
        last = ""
        delay = 1.0
        for n in range(1, self.max_tries + 1):
            logger.info("sts:AssumeRole %s as %s", arn, session_name)
            try:
                response = self.sts.assume_role(RoleArn=arn, RoleSessionName=session_name, DurationSeconds=3600)
            except AWS_ERRORS as exc:
                code = error_code(exc)
                if code not in _RETRYABLE_ASSUME:
                    raise AwsError(f"sts:AssumeRole {arn} failed: {error_message(exc)}") from None
                last = error_message(exc)
                logger.warning(
                    "sts:AssumeRole %s denied (%s; a new role or policy propagates): retrying in %g s, try %d/%d",
                    arn, code, delay, n, self.max_tries,
                )
                self.clock.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            if self.propagation_seconds > 0:
                logger.info("waiting %g s for IAM to propagate the policy of %s", self.propagation_seconds, arn)
                self.clock.sleep(self.propagation_seconds)
            return Credentials.from_sts(response)
        raise AwsError(f"sts:AssumeRole {arn} still denied after {self.max_tries} tries: {last}")

    # --- cleanup ---------------------------------------------------------------------------------------
    def delete_all(self) -> list[str]:
        """Delete the roles this run created (policies first). Returns what could not be deleted."""
        problems = []
        for name in list(self.created):
            try:
                delete_role(self.iam, name)
                self.created.remove(name)
            except Exception as exc:  # noqa: BLE001 - cleanup goes on with the other roles; the error is recorded
                logger.info("deleting role %s failed: %s", name, error_message(exc))
                problems.append(f"role {name}: {error_message(exc)}")
        return problems


def delete_managed_policy(iam: Any, arn: str, role: str | None = None) -> None:
    def tolerant(call: Any, **kwargs: Any) -> None:
        logger.info("iam:%s %s", getattr(call, "__name__", "call"), arn)
        try:
            call(**kwargs)
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise

    if role is not None:
        tolerant(iam.detach_role_policy, RoleName=role, PolicyArn=arn)
    try:
        versions = iam.list_policy_versions(PolicyArn=arn).get("Versions", [])
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return
        raise
    for version in versions:
        if not version.get("IsDefaultVersion"):
            tolerant(iam.delete_policy_version, PolicyArn=arn, VersionId=version["VersionId"])
    tolerant(iam.delete_policy, PolicyArn=arn)


def delete_role(iam: Any, name: str) -> None:
    """Delete a role with its inline and attached policies (iamfit-made managed policies are deleted too)."""
    logger.info("iam:DeleteRole %s (its policies first)", name)
    try:
        inline = iam.list_role_policies(RoleName=name).get("PolicyNames", [])
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return
        raise
    for policy in inline:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for attached in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", []):
        arn = attached["PolicyArn"]
        if ":policy/iamfit-" in arn:
            delete_managed_policy(iam, arn, name)
        else:
            iam.detach_role_policy(RoleName=name, PolicyArn=arn)
    try:
        iam.delete_role(RoleName=name)
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise

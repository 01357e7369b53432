"""The least-privilege policy the operator needs to run the AWS target (iamfit eats its own cooking).

Scoped to what the target touches: roles and managed policies named ``iamfit-*``, passing the cfn role to
CloudFormation only, stacks in a discovery stage (``<service>-iamfit*``), their change sets, and the
deployment buckets of those stacks. Read-only calls that IAM cannot scope (GetCallerIdentity,
LookupEvents, ListStacks, DecodeAuthorizationMessage) are on ``*``.

Every grant that creates or edits a role carries ``iam:PermissionsBoundary = iamfit-boundary`` (the
operator can only make roles bounded by :mod:`iamfit.targets.aws.boundary`), removing a boundary is never
granted and denied outright, and the boundary policy can be created but never versioned or deleted. The
policy passes iamfit's own lint with no escalation finding (tests/targets/aws/test_boundary.py).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from iamfit.policy.document import PolicyDocument
from iamfit.targets.aws.boundary import (
    BOUNDARY_NAME,
    BOUNDARY_POLICY_EDIT,
    BOUNDARY_REMOVAL,
    ROLE_EDITING,
    USER_EDITING,
)

_ROLE_READ_DELETE = (
    "iam:DeleteRole",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:ListRoleTags",
    "iam:TagRole",
)
# what the operator may do to iamfit's roles, with the boundary condition: the boundary's list of role edits,
# less iam:UpdateAssumeRolePolicy (it could make any role trust the operator; lint flags it as escalation)
_ROLE_EDIT = tuple(a for a in ROLE_EDITING if a != "iam:UpdateAssumeRolePolicy")


@dataclass(frozen=True)
class DeletePermissions:
    """The delete-handler actions of a service's resource types, sorted into what the operator may have on
    ``*``, what only with the boundary condition (role and user edits: the stack's own roles and users are
    bounded, :func:`iamfit.targets.aws.boundary.add_boundary`), and what
    is left out because it would let the operator escalate (PassRole or AssumeRole on ``*``, whole-service
    wildcards, compute-creating actions beside PassRole), with the types that list it."""

    plain: tuple[str, ...] = ()
    bounded: tuple[str, ...] = ()
    left_out: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _boundary_condition(partition: str, account: str) -> dict[str, Any]:
    arn = f"arn:{partition}:iam::{account}:policy/{BOUNDARY_NAME}"
    return {"StringLike" if "*" in account else "StringEquals": {"iam:PermissionsBoundary": arn}}


def operator_policy(
    service: str | None = None,
    *,
    resource_types: tuple[str, ...] = (),
    partition: str = "aws",
    account: str = "*",
    region: str = "*",
) -> PolicyDocument:
    """``resource_types``: the service's CloudFormation types. Without a deploymentRole, CloudFormation
    deletes a stack with its caller's permissions, so cleanup needs each type's delete-handler actions
    (from the registry schemas) -- on ``*``, as the registry lists them."""
    stack = f"{service}-iamfit*" if service else "*-iamfit*"
    boundary = f"arn:{partition}:iam::{account}:policy/{BOUNDARY_NAME}"
    bounded = _boundary_condition(partition, account)
    bucket = f"{service.lower()[:10]}*serverlessdeploymentbucket*" if service else "*serverlessdeploymentbucket*"
    iam = f"arn:{partition}:iam::{account}"
    cfn = f"arn:{partition}:cloudformation:{region}:{account}"
    statements = [
        {
            "Sid": "CandidateRoles",
            "Effect": "Allow",
            "Action": list(_ROLE_READ_DELETE),
            "Resource": f"{iam}:role/iamfit-*",
        },
        {
            "Sid": "CreateOrChangeOnlyWithBoundary",
            "Effect": "Allow",
            "Action": list(_ROLE_EDIT),
            "Resource": f"{iam}:role/iamfit-*",
            "Condition": bounded,
        },
        {
            "Sid": "CandidatePoliciesAndTheBoundary",
            "Effect": "Allow",
            "Action": [
                "iam:CreatePolicy",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
                "iam:ListPolicyTags",
                "iam:ListPolicyVersions",
                "iam:TagPolicy",
            ],
            "Resource": f"{iam}:policy/iamfit-*",
        },
        {"Sid": "NoBoundaryPolicyEdit", "Effect": "Deny", "Action": list(BOUNDARY_POLICY_EDIT), "Resource": boundary},
        {"Sid": "NoBoundaryRemoval", "Effect": "Deny", "Action": list(BOUNDARY_REMOVAL), "Resource": "*"},
        {"Sid": "FindLeftovers", "Effect": "Allow", "Action": ["iam:ListPolicies", "iam:ListRoles"], "Resource": "*"},
        {
            "Sid": "DeleteStacksWithTheCfnRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": f"{iam}:role/iamfit-*",
            "Condition": {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
        },
        {"Sid": "AssumeCandidates", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"{iam}:role/iamfit-*"},
        {
            "Sid": "Evidence",
            "Effect": "Allow",
            "Action": [
                "cloudformation:ListStacks",
                "cloudtrail:LookupEvents",
                "sts:DecodeAuthorizationMessage",
                "sts:GetCallerIdentity",
            ],
            "Resource": "*",
        },
        {
            "Sid": "DiscoveryStacks",
            "Effect": "Allow",
            "Action": [
                "cloudformation:ContinueUpdateRollback",
                "cloudformation:DeleteStack",
                "cloudformation:DescribeStackEvents",
                "cloudformation:DescribeStackResource",
                "cloudformation:DescribeStackResources",
                "cloudformation:DescribeStacks",
            ],
            "Resource": f"{cfn}:stack/{stack}/*",
        },
        {
            "Sid": "DiscoveryArtifacts",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:ListBucket", "s3:ListBucketVersions"],
            "Resource": [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"],
        },
    ]
    deletes = delete_permissions(resource_types)
    if deletes.plain:
        statements.append({"Sid": "DeleteStackResources", "Effect": "Allow", "Action": list(deletes.plain),
                           "Resource": "*"})
    if deletes.bounded:
        statements.append({"Sid": "DeleteStackResourcesBounded", "Effect": "Allow", "Action": list(deletes.bounded),
                           "Resource": "*", "Condition": bounded})
    return PolicyDocument.from_json({"Version": "2012-10-17", "Statement": statements})


def delete_permissions(resource_types: Iterable[str]) -> DeletePermissions:
    """The registry's delete-handler actions of ``resource_types``, sorted as :class:`DeletePermissions` says,
    by the same lint ``iamfit check`` runs (:mod:`iamfit.policy.lint`)."""
    from iamfit.knowledge.registry import schema
    from iamfit.policy.lint import COMPUTE_ACTIONS, ESCALATION_RULES, lint

    def escalates(action: str, condition: dict[str, Any] | None = None) -> bool:
        statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": "*"}
        if condition:
            statement["Condition"] = condition
        document = PolicyDocument.from_json({"Statement": [statement]})
        return any(f.rule_id in ESCALATION_RULES for f in lint(document))

    by_action: dict[str, set[str]] = {}
    for resource_type in resource_types:
        found = schema(resource_type)
        for action in found.permissions("delete") if found is not None else ():
            service, _, name = action.partition(":")
            if not service or not name:
                continue  # a malformed entry in a registry schema
            by_action.setdefault(f"{service.lower()}:{name}", set()).add(resource_type)
    plain: list[str] = []
    bounded: list[str] = []
    left_out: dict[str, tuple[str, ...]] = {}
    condition = _boundary_condition("aws", "*")
    editing = {a.lower() for a in (*ROLE_EDITING, *USER_EDITING)}
    for action in sorted(by_action, key=lambda a: (a.lower(), a)):
        compute = any(fnmatch.fnmatchcase(c.lower(), action.lower()) for c in COMPUTE_ACTIONS)
        if action.lower() in editing:  # removing a (deny) policy edits a role too: only bounded ones
            bounded.append(action)
        elif not compute and not escalates(action):
            plain.append(action)
        elif not compute and not escalates(action, condition):
            bounded.append(action)
        else:
            left_out[action] = tuple(sorted(by_action[action]))
    return DeletePermissions(tuple(plain), tuple(bounded), left_out)

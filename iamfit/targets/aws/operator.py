"""The least-privilege policy the operator needs to run the AWS target (iamfit eats its own cooking).

Scoped to what the target touches: roles and managed policies named ``iamfit-*``, passing the cfn role to
CloudFormation only, stacks in a discovery stage (``<service>-iamfit*``), their change sets, and the
deployment buckets of those stacks. Read-only calls that IAM cannot scope (GetCallerIdentity,
LookupEvents, ListStacks, DecodeAuthorizationMessage) are on ``*``.
"""

from __future__ import annotations

from iamfit.policy.document import PolicyDocument


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
    bucket = f"{service.lower()[:10]}*serverlessdeploymentbucket*" if service else "*serverlessdeploymentbucket*"
    iam = f"arn:{partition}:iam::{account}"
    cfn = f"arn:{partition}:cloudformation:{region}:{account}"
    statements = [
        {
            "Sid": "CandidateRoles",
            "Effect": "Allow",
            "Action": [
                "iam:AttachRolePolicy",
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListRolePolicies",
                "iam:ListRoleTags",
                "iam:PutRolePolicy",
                "iam:TagRole",
            ],
            "Resource": f"{iam}:role/iamfit-*",
        },
        {
            "Sid": "CandidatePolicies",
            "Effect": "Allow",
            "Action": [
                "iam:CreatePolicy",
                "iam:CreatePolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:GetPolicy",
                "iam:ListPolicyTags",
                "iam:ListPolicyVersions",
                "iam:TagPolicy",
            ],
            "Resource": f"{iam}:policy/iamfit-*",
        },
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
    delete_actions = sorted({a for t in resource_types for a in _delete_permissions(t)}, key=lambda a: (a.lower(), a))
    if delete_actions:
        statements.append({"Sid": "DeleteStackResources", "Effect": "Allow", "Action": delete_actions, "Resource": "*"})
    return PolicyDocument.from_json({"Version": "2012-10-17", "Statement": statements})


def _delete_permissions(resource_type: str) -> tuple[str, ...]:
    from iamfit.knowledge.registry import schema

    found = schema(resource_type)
    return found.permissions("delete") if found is not None else ()

"""The permissions boundary of everything the AWS target lets the operator create: ``iamfit-boundary``.

The operator may create roles named ``iamfit-*``, give them any policy and assume them. Without a ceiling
that is administrator access: create a role, attach AdministratorAccess, assume it. So every candidate role
is created with the customer managed policy ``iamfit-boundary`` as its permissions boundary, and the
operator's every role-editing grant carries ``iam:PermissionsBoundary = <this policy's ARN>``
(:mod:`iamfit.targets.aws.operator`). This follows the delegation example of AWS's "Permissions boundaries
for IAM entities" (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html,
"Delegating responsibility to others using permissions boundaries": statements
``CreateOrChangeOnlyWithBoundary``, ``NoBoundaryPolicyEdit``, ``NoBoundaryUserDelete``).

The boundary itself allows every action (a candidate needs whatever the deploy needs; that is what discovery
finds out) and denies the ways out of the ceiling:

* creating or changing a role or user (policies, boundary, trust) unless it carries this same boundary --
  the discovery stack's own roles get it too (:func:`add_boundary` rewrites the template), so no role the
  candidates make or touch is unbounded;
* removing any permissions boundary; editing, versioning or deleting this policy;
* new versions of managed policies outside the discovery stage (``*-iamfit*``): an existing policy attached
  to an unbounded principal (the operator's own) would otherwise be rewritten;
* credentials for IAM users (access keys, passwords, SSH keys, service credentials) and group memberships or
  group policies (a group's members carry no boundary);
* passing a role other than iamfit's (``iamfit-*``) or the discovery stage's (``*-iamfit*``), and assuming
  any role;
* running code as an existing role: updating the code of a function, or updating a stack (a stack keeps
  its service role), outside the discovery stage (privilege escalation methods 18 and 19 of
  https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/).

The operator can create the policy (once: ``iam:CreatePolicy``) but never version, replace or delete it
(both its own policy and the boundary deny that), so once it exists its content is fixed; an administrator
who does not want the operator to choose its first content creates it beforehand (``iamfit operator-policy
--boundary``). iamfit checks the content of an existing boundary and refuses a different one. The boundary is
kept across runs (an operator that could delete it could re-create it with other content).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote

from iamfit.errors import AwsError, BadInputError, SafetyError
from iamfit.policy.document import PolicyDocument
from iamfit.targets.aws.calls import AWS_ERRORS, error_code, error_message
from iamfit.targets.aws.names import TAG_MANAGED

logger = logging.getLogger(__name__)

BOUNDARY_NAME = "iamfit-boundary"
# what the discovery stage names: the stack <service>-iamfit<run> and every <service>-<stage> name in it
DISCOVERY_PATTERN = "*-iamfit*"
ROLE_EDITING = (
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
)
USER_EDITING = (
    "iam:AttachUserPolicy",
    "iam:CreateUser",
    "iam:DeleteUserPolicy",
    "iam:DetachUserPolicy",
    "iam:PutUserPermissionsBoundary",
    "iam:PutUserPolicy",
)
BOUNDARY_REMOVAL = ("iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary")
POLICY_VERSIONING = ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion")
BOUNDARY_POLICY_EDIT = ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                        "iam:SetDefaultPolicyVersion")
CREDENTIALS_AND_GROUPS = (
    "iam:AddUserToGroup",
    "iam:AttachGroupPolicy",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:CreateServiceSpecificCredential",
    "iam:DeleteGroupPolicy",
    "iam:DetachGroupPolicy",
    "iam:PutGroupPolicy",
    "iam:ResetServiceSpecificCredential",
    "iam:UpdateAccessKey",
    "iam:UpdateLoginProfile",
    "iam:UploadSSHPublicKey",
    "iam:UploadSigningCertificate",
)
STACK_UPDATES = ("cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet", "cloudformation:UpdateStack")


def boundary_arn(partition: str, account: str) -> str:
    return f"arn:{partition}:iam::{account}:policy/{BOUNDARY_NAME}"


def boundary_policy(partition: str, account: str) -> PolicyDocument:
    """The boundary's document for ``account`` (its ARNs name the account: the boundary of one account)."""
    arn = boundary_arn(partition, account)
    iam = f"arn:{partition}:iam::{account}"
    statements: list[dict[str, Any]] = [
        {"Sid": "DeployActions", "Effect": "Allow", "Action": "*", "Resource": "*"},
        {
            "Sid": "CreateOrChangeOnlyWithBoundary",
            "Effect": "Deny",
            "Action": [*ROLE_EDITING, *USER_EDITING],
            "Resource": "*",
            "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": arn}},
        },
        {"Sid": "NoBoundaryRemoval", "Effect": "Deny", "Action": list(BOUNDARY_REMOVAL), "Resource": "*"},
        {"Sid": "NoBoundaryPolicyEdit", "Effect": "Deny", "Action": list(BOUNDARY_POLICY_EDIT), "Resource": arn},
        {
            "Sid": "NoPolicyVersionsOutsideDiscovery",
            "Effect": "Deny",
            "Action": list(POLICY_VERSIONING),
            "NotResource": f"{iam}:policy/{DISCOVERY_PATTERN}",
        },
        {"Sid": "NoCredentialsOrGroups", "Effect": "Deny", "Action": list(CREDENTIALS_AND_GROUPS), "Resource": "*"},
        {
            "Sid": "PassOnlyIamfitAndDiscoveryRoles",
            "Effect": "Deny",
            "Action": "iam:PassRole",
            "NotResource": [f"{iam}:role/iamfit-*", f"{iam}:role/{DISCOVERY_PATTERN}"],
        },
        {"Sid": "NoAssumingRoles", "Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"},
        {
            "Sid": "NoCodeOutsideDiscovery",
            "Effect": "Deny",
            "Action": "lambda:UpdateFunctionCode",
            "NotResource": f"arn:{partition}:lambda:*:{account}:function:{DISCOVERY_PATTERN}",
        },
        {
            "Sid": "NoStackUpdatesOutsideDiscovery",
            "Effect": "Deny",
            "Action": list(STACK_UPDATES),
            "NotResource": [
                f"arn:{partition}:cloudformation:*:{account}:stack/{DISCOVERY_PATTERN}/*",
                f"arn:{partition}:cloudformation:*:{account}:changeSet/{DISCOVERY_PATTERN}/*",
            ],
        },
    ]
    return PolicyDocument.from_json({"Version": "2012-10-17", "Statement": statements})


def add_boundary(template: dict[str, Any], arn: str) -> dict[str, Any]:
    """The template with ``arn`` as the permissions boundary of every IAM role and user it creates (a
    boundary the service sets itself is replaced for the discovery stack: the candidates may create only
    roles and users bounded like themselves)."""
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        return template
    for body in resources.values():
        if isinstance(body, dict) and body.get("Type") in ("AWS::IAM::Role", "AWS::IAM::User"):
            properties = body.setdefault("Properties", {})
            if isinstance(properties, dict):
                properties["PermissionsBoundary"] = arn
    return template


def ensure_boundary(iam: Any, partition: str, account: str) -> str:
    """Create ``iamfit-boundary`` when it does not exist; check an existing one says what iamfit expects.
    Returns its ARN."""
    arn = boundary_arn(partition, account)
    want = boundary_policy(partition, account)
    logger.info("iam:GetPolicy %s", arn)
    try:
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
    except AWS_ERRORS as exc:
        if error_code(exc) != "NoSuchEntity":
            raise AwsError(f"iam:GetPolicy {arn} failed: {error_message(exc)}") from None
        policy = None
    if policy is None:
        logger.info("iam:CreatePolicy %s", BOUNDARY_NAME)
        try:
            iam.create_policy(
                PolicyName=BOUNDARY_NAME,
                PolicyDocument=want.dumps(),
                Description="iamfit: permissions boundary of the roles iamfit creates (see iamfit docs/aws.md)",
                Tags=[{"Key": TAG_MANAGED, "Value": "true"}],
            )
            logger.info("created the permissions boundary %s", arn)
            return arn
        except AWS_ERRORS as exc:
            if error_code(exc) != "EntityAlreadyExists":  # else: created meanwhile; check it below
                raise AwsError(f"iam:CreatePolicy {BOUNDARY_NAME} failed: {error_message(exc)}") from None
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
    unreadable: tuple[type[Exception], ...] = (*AWS_ERRORS, BadInputError, ValueError, KeyError, TypeError)
    try:
        version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        got = version["Document"]
        if isinstance(got, str):
            got = json.loads(unquote(got))
        same = PolicyDocument.from_json(got).to_json() == want.to_json()
    except unreadable as exc:  # unreadable counts as different
        logger.debug("reading %s: %s", arn, exc)
        same = False
    if not same:
        raise SafetyError(
            f"{arn} exists with other content than iamfit's boundary; refusing to create roles bounded by it "
            "(an administrator can replace it with the output of `iamfit operator-policy --boundary`)"
        )
    return arn

"""The operator policy passes iamfit's own lint, and the permissions boundary keeps the roles it lets the
operator create from escalating (AWS's delegation example in "Permissions boundaries for IAM entities")."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from iamfit.aws.session import AwsSession
from iamfit.cli import cli
from iamfit.errors import SafetyError
from iamfit.knowledge.registry import all_types
from iamfit.policy.document import PolicyDocument
from iamfit.policy.evaluate import PolicySet
from iamfit.policy.lint import ESCALATION_RULES, lint
from iamfit.service.model import Service
from iamfit.targets.aws.boundary import add_boundary, boundary_policy, ensure_boundary
from iamfit.targets.aws.names import TAG_MANAGED
from iamfit.targets.aws.operator import delete_permissions, operator_policy
from iamfit.targets.aws.target import make_aws_target
from tests.targets.aws.conftest import ACCOUNT, FakeClock, local_policies

BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/iamfit-boundary"
IAM = f"arn:aws:iam::{ACCOUNT}"
WITH_BOUNDARY = {"iam:PermissionsBoundary": BOUNDARY}


@pytest.mark.parametrize("account", [ACCOUNT, "*"])
@pytest.mark.parametrize("service", [None, "svc"])
def test_the_operator_policy_has_no_escalation_finding_even_with_every_resource_type(
    account: str, service: str | None
) -> None:
    """The same rules `iamfit check` reports as escalation, over the delete permissions of all 1,800+
    registry types (PassRole, AssumeRole, policy edits and wildcards among them)."""
    document = operator_policy(service, resource_types=all_types(), account=account)
    findings = [f for f in lint(document) if f.rule_id in ESCALATION_RULES]
    assert findings == []
    left_out = delete_permissions(all_types()).left_out
    assert {"iam:PassRole", "sts:AssumeRole", "s3:*"} <= set(left_out)  # what the filter had to keep out


def test_every_role_edit_needs_the_boundary_and_no_grant_removes_one() -> None:
    document = operator_policy("svc", resource_types=("AWS::IAM::Role", "AWS::Cognito::UserPoolClient"),
                               account=ACCOUNT)
    allows = [s for s in document.statements if s.effect == "Allow"]
    role_edits = {"iam:createrole", "iam:putrolepolicy", "iam:attachrolepolicy", "iam:deleterolepolicy",
                  "iam:detachrolepolicy", "iam:putrolepermissionsboundary"}
    for statement in allows:
        edits = {a.lower() for a in statement.actions} & role_edits
        if edits:
            assert statement.conditions == (("StringEquals", (("iam:PermissionsBoundary", (BOUNDARY,)),)),), edits
        assert not {a.lower() for a in statement.actions} & {"iam:deleterolepermissionsboundary", "iam:*"}
    (passrole,) = [s for s in allows if "iam:PassRole" in s.actions]
    assert passrole.resources == (f"{IAM}:role/iamfit-*",)
    assert passrole.conditions == (("StringEquals", (("iam:PassedToService", ("cloudformation.amazonaws.com",)),)),)

    operator = PolicySet.of(document)
    role = f"{IAM}:role/iamfit-svc-iamfitx-deployer"
    assert not operator.allows("iam:CreateRole", role)  # no boundary in the request
    assert not operator.allows("iam:CreateRole", role, {"iam:PermissionsBoundary": f"{IAM}:policy/mine"})
    assert operator.allows("iam:CreateRole", role, WITH_BOUNDARY)
    assert not operator.allows("iam:PutRolePolicy", role)  # an unbounded iamfit-* role
    assert operator.allows("iam:PutRolePolicy", role, WITH_BOUNDARY)
    assert not operator.allows("iam:DeleteRolePermissionsBoundary", role, WITH_BOUNDARY)
    assert not operator.allows("iam:PassRole", role, {"iam:PassedToService": "lambda.amazonaws.com"})
    # the boundary: created (CreatePolicy), never versioned, replaced or deleted
    assert operator.allows("iam:CreatePolicy", BOUNDARY)
    for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy",
                   "iam:DeletePolicyVersion"):
        assert not operator.allows(action, BOUNDARY), action
    assert operator.allows("iam:DeletePolicy", f"{IAM}:policy/iamfit-svc-iamfitx-deployer-1")


def test_a_bounded_candidate_can_deploy_but_not_escalate() -> None:
    """Whatever policy the operator gives a bounded role (here: everything), the role cannot leave the
    boundary: no unbounded role or user, no boundary removal or boundary edit, no other role passed or
    assumed, no code run as an existing role -- and the deploy itself still works."""
    admin = PolicyDocument.from_json({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    candidate = PolicySet((admin,), boundary=boundary_policy("aws", ACCOUNT))
    lambda_role = f"{IAM}:role/svc-iamfitab12-us-east-1-lambdaRole"
    allowed = [
        ("lambda:CreateFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:svc-iamfitab12-worker", {}),
        ("lambda:UpdateFunctionCode", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:svc-iamfitab12-worker", {}),
        ("iam:CreateRole", lambda_role, WITH_BOUNDARY),
        ("iam:PutRolePolicy", lambda_role, WITH_BOUNDARY),
        ("iam:PassRole", lambda_role, {"iam:PassedToService": "lambda.amazonaws.com"}),
        ("iam:PassRole", f"{IAM}:role/iamfit-svc-iamfitab12-cfn", {}),
        ("cloudformation:CreateChangeSet", f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/svc-iamfitab12/x", {}),
        ("sqs:CreateQueue", f"arn:aws:sqs:us-east-1:{ACCOUNT}:svc-iamfitab12-work", {}),
        ("iam:CreatePolicyVersion", f"{IAM}:policy/svc-iamfitab12-Policy-ABC", {}),
    ]
    for action, resource, context in allowed:
        assert candidate.allows(action, resource, context), (action, resource)
    denied = [
        ("iam:CreateRole", f"{IAM}:role/escape", {}),
        ("iam:CreateRole", f"{IAM}:role/escape", {"iam:PermissionsBoundary": f"{IAM}:policy/AllowAll"}),
        ("iam:AttachRolePolicy", f"{IAM}:role/Admin", {}),
        ("iam:UpdateAssumeRolePolicy", f"{IAM}:role/Admin", {}),
        ("iam:PutUserPolicy", f"{IAM}:user/operator", {}),
        ("iam:CreateUser", f"{IAM}:user/new", {}),
        ("iam:CreateAccessKey", f"{IAM}:user/admin", {}),
        ("iam:AddUserToGroup", f"{IAM}:group/Admins", {}),
        ("iam:DeleteRolePermissionsBoundary", f"{IAM}:role/iamfit-svc-iamfitab12-deployer", WITH_BOUNDARY),
        ("iam:PutRolePermissionsBoundary", f"{IAM}:role/iamfit-x", {"iam:PermissionsBoundary": f"{IAM}:policy/o"}),
        ("iam:CreatePolicyVersion", BOUNDARY, {}),
        ("iam:DeletePolicy", BOUNDARY, {}),
        ("iam:CreatePolicyVersion", f"{IAM}:policy/iamfit-operator", {}),  # the operator's own policy
        ("iam:SetDefaultPolicyVersion", f"{IAM}:policy/ProdDeployers", {}),
        ("iam:PassRole", f"{IAM}:role/Admin", {"iam:PassedToService": "lambda.amazonaws.com"}),
        ("sts:AssumeRole", f"{IAM}:role/Admin", {}),
        ("lambda:UpdateFunctionCode", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:prod-admin-task", {}),
        ("cloudformation:UpdateStack", f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/prod/abc", {}),
    ]
    for action, resource, context in denied:
        assert not candidate.allows(action, resource, context), (action, resource)


def test_the_discovery_template_bounds_every_role_and_user() -> None:
    template: dict[str, Any] = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"PermissionsBoundary": "arn:aws:iam::1:policy/own"}},
            "Bare": {"Type": "AWS::IAM::Role"},
            "User": {"Type": "AWS::IAM::User", "Properties": {}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        }
    }
    add_boundary(template, BOUNDARY)
    resources = template["Resources"]
    assert [resources[k]["Properties"].get("PermissionsBoundary") for k in ("Role", "Bare", "User", "Queue")] == [
        BOUNDARY,
        BOUNDARY,
        BOUNDARY,
        None,
    ]


def test_the_boundary_is_created_once_checked_and_kept(session: AwsSession, small_service: Service,
                                                         clock: FakeClock) -> None:
    iam = session.client("iam")
    assert ensure_boundary(iam, "aws", ACCOUNT) == BOUNDARY
    assert ensure_boundary(iam, "aws", ACCOUNT) == BOUNDARY  # idempotent
    assert local_policies(iam) == ["iamfit-boundary"]
    policy = iam.get_policy(PolicyArn=BOUNDARY)["Policy"]
    document = iam.get_policy_version(PolicyArn=BOUNDARY, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    assert PolicyDocument.from_json(document["Document"]) == boundary_policy("aws", ACCOUNT)
    tags = iam.list_policy_tags(PolicyArn=BOUNDARY)["Tags"]
    assert {"Key": TAG_MANAGED, "Value": "true"} in tags

    # an earlier iamfit's unbounded role gets the boundary; a new role is created with it
    names = make_aws_target(small_service, session=session, account_guard=ACCOUNT, run_id="b1", clock=clock).names
    old = names.role_name("deployer")
    iam.create_role(RoleName=old, AssumeRolePolicyDocument=json.dumps({"Statement": []}), Tags=names.tags())
    target = make_aws_target(small_service, session=session, account_guard=ACCOUNT, run_id="b1", clock=clock,
                             settle_seconds=0, propagation_seconds=0)
    target.harvester.cloudtrail = None
    with target:
        target.roles.ensure()
        assert iam.get_role(RoleName=old)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == BOUNDARY
    assert iam.list_roles()["Roles"] == []
    assert local_policies(iam) == ["iamfit-boundary"]


def test_a_boundary_with_other_content_is_refused(session: AwsSession) -> None:
    iam = session.client("iam")
    iam.create_policy(PolicyName="iamfit-boundary",
                      PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                          {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    with pytest.raises(SafetyError, match="other content"):
        ensure_boundary(iam, "aws", ACCOUNT)


def test_operator_policy_cli_prints_the_boundary(tmp_path: Any) -> None:
    result = CliRunner().invoke(cli, ["operator-policy", "--boundary", "--account", ACCOUNT])
    assert result.exit_code == 0, result.output
    assert PolicyDocument.from_json(json.loads(result.stdout)) == boundary_policy("aws", ACCOUNT)
    no_account = CliRunner().invoke(cli, ["operator-policy", "--boundary"])
    assert no_account.exit_code == 2 and "--account" in no_account.stderr


def test_the_cli_deployer_is_told_the_boundary(session: AwsSession, small_service: Service, clock: FakeClock) -> None:
    """A service deployed by its own CLI opts in with provider.iam.role.permissionsBoundary:
    ${env:IAMFIT_PERMISSIONS_BOUNDARY, null}; the variable names the boundary."""
    import sys

    script = "import os, sys; print('boundary=' + os.environ['IAMFIT_PERMISSIONS_BOUNDARY']); sys.exit(1)"
    target = make_aws_target(small_service, session=session, account_guard=ACCOUNT, run_id="cli1", clock=clock,
                             settle_seconds=0, propagation_seconds=0, deploy_command=f'{sys.executable} -c "{script}"')
    import boto3
    from botocore.stub import Stubber

    trail = boto3.client("cloudtrail", region_name="us-east-1")
    stub = Stubber(trail)
    for _ in range(3):  # the attempt's lookups find no record: the denial is in the CLI's output
        stub.add_response("lookup_events", {"Events": []})
    stub.activate()
    target.harvester.cloudtrail = trail
    with target:
        attempt = target.attempt("create", {}, attempt_id="a", session_name="iamfit-cli1-a")
    assert attempt.cli_exit_code == 1
    assert f"boundary={BOUNDARY}" in attempt.cli_output

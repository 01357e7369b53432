from __future__ import annotations

import json
from pathlib import Path

from iamfit.predict.resource_needs import resource_needs
from iamfit.service.model import load_service

from ..conftest import EXAMPLES


def _needs(service, logical_id: str, op: str):  # type: ignore[no-untyped-def]
    return resource_needs(service, service.resources[logical_id], op)


def test_lambda_create_is_scoped_to_the_function_role_and_code() -> None:
    svc = load_service(EXAMPLES / "vpc-kms", account="123456789012", compile_if_needed=False)
    fn = next(lid for lid, r in svc.resources.items() if r.type == "AWS::Lambda::Function")
    rn = _needs(svc, fn, "create")
    by_action = {}
    for n in rn.needs:
        by_action.setdefault(n.action, set()).add(n.resource)
    name = svc.physical_name(fn)
    assert by_action["lambda:CreateFunction"] == {f"arn:aws:lambda:us-east-1:123456789012:function:{name}"}
    assert by_action["ec2:DescribeSubnets"] == {"*"}  # no resource-level permissions
    assert all(r.startswith("arn:aws:kms:us-east-1:123456789012:key/") for r in by_action["kms:CreateGrant"])
    (code,) = by_action["s3:GetObject"]
    assert code.endswith("/serverless/iamfit-vpc-kms/dev/*")
    pass_role = [n for n in rn.needs if n.action == "iam:PassRole"]
    assert pass_role and all(":role/" in n.resource for n in pass_role)
    assert pass_role[0].conditions == (("StringEquals", "iam:PassedToService", ("lambda.amazonaws.com",)),)


def test_tag_actions_follow_the_operation() -> None:
    svc = load_service(EXAMPLES / "sqs-worker", account="123456789012", compile_if_needed=False)
    queue = next(lid for lid, r in svc.resources.items() if r.type == "AWS::SQS::Queue")
    create = {n.action for n in _needs(svc, queue, "create").needs}
    delete = {n.action for n in _needs(svc, queue, "delete").needs}
    assert "sqs:TagQueue" in create and "sqs:UntagQueue" not in create
    assert not {a for a in delete if "Tag" in a}


def test_unknown_types_are_reported_not_crashed(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"Resources": {"X": {"Type": "AWS::Nope::Thing"}, "Q": {"Type": "AWS::SQS::Queue"}}}')
    svc = load_service(path, service_name="svc", stage="dev", region="us-east-1")
    rn = _needs(svc, "X", "create")
    assert not rn.known_type and rn.needs == ()


def test_custom_resources_need_invoke_on_their_service_token(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(
        '{"Resources": {"C": {"Type": "Custom::Thing", "Properties": {"ServiceToken": '
        '"arn:aws:lambda:us-east-1:123456789012:function:provider"}}}}'
    )
    svc = load_service(path, service_name="svc", stage="dev", region="us-east-1")
    (need,) = _needs(svc, "C", "create").needs
    assert (need.action, need.resource) == (
        "lambda:InvokeFunction",
        "arn:aws:lambda:us-east-1:123456789012:function:provider",
    )


def test_a_role_named_by_ref_is_passed_as_that_role_not_any_role(tmp_path: Path) -> None:
    """`Ref` of an AWS::IAM::Role is its name (CloudFormation reference, Return values), and an ECS service's
    `Role` takes the name: PassRole on that role's ARN (with its path), not role/* (aws-cloudformation-templates'
    ECS_Schedule_Example writes `Role: !Ref ECSServiceRole`)."""
    template = tmp_path / "t.json"
    template.write_text(json.dumps({"Resources": {
        "ServiceRole": {"Type": "AWS::IAM::Role", "Properties": {"Path": "/ecs/", "AssumeRolePolicyDocument": {}}},
        "Cluster": {"Type": "AWS::ECS::Cluster"},
        "Service": {"Type": "AWS::ECS::Service", "Properties": {
            "Cluster": {"Ref": "Cluster"}, "Role": {"Ref": "ServiceRole"}, "DesiredCount": 1,
            "TaskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/app:1"}},
    }}))
    svc = load_service(template, service_name="svc", stage="dev", region="us-east-1", account="123456789012")
    (need,) = [n for n in _needs(svc, "Service", "create").needs if n.action == "iam:PassRole"]
    assert need.resource == "arn:aws:iam::123456789012:role/ecs/svc-dev-ServiceRole-*"
    assert need.conditions == (("StringEquals", "iam:PassedToService", ("ecs.amazonaws.com",)),)

"""iam:PassRole always with iam:PassedToService, iam:CreateServiceLinkedRole always with iam:AWSServiceName."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from iamfit.generate import generate_policies
from iamfit.knowledge.registry import all_types, schema
from iamfit.policy.document import PolicyDocument
from iamfit.predict.resource_needs import resource_needs
from iamfit.service.model import Resource, Service, load_service

from ..conftest import EXAMPLES

ACCOUNT = "123456789012"
FIXTURES = Path(__file__).parent / "fixtures"
_GUARDED = {"iam:passrole": "iam:passedtoservice", "iam:createservicelinkedrole": "iam:awsservicename"}


def _templates() -> Iterator[Path]:
    """Every template the test suite carries: the bundled examples, the real public templates of
    tests/predict/fixtures and tests/service/fixtures."""
    yield from sorted(p for p in EXAMPLES.iterdir() if (p / ".serverless").is_dir())
    yield from sorted(p for p in FIXTURES.iterdir() if (p / ".serverless").is_dir())
    yield from sorted(FIXTURES.glob("*.json"))
    yield from sorted((Path(__file__).parents[1] / "service" / "fixtures" / "identity").glob("*.json"))


def unconditioned(doc: PolicyDocument) -> list[str]:
    """Statements granting PassRole / CreateServiceLinkedRole without their guarding condition key."""
    bad = []
    for st in doc.statements:
        keys = {key.lower() for _op, entries in st.conditions for key, _values in entries}
        for action in st.actions:
            guard = _GUARDED.get(action.lower())
            if guard and guard not in keys:
                bad.append(f"{action} on {', '.join(st.resources)}")
    return bad


@pytest.mark.parametrize("path", list(_templates()), ids=lambda p: p.name)
def test_no_template_yields_an_unconditioned_passrole_or_service_linked_role(path: Path) -> None:
    if path.is_dir():
        service = load_service(path, account=ACCOUNT, compile_if_needed=False)
    else:
        service = load_service(path, service_name="svc", stage="dev", region="us-east-1", account=ACCOUNT)
    for split in (False, True):
        for principal, doc in generate_policies(service, split=split).policies.items():
            assert unconditioned(doc) == [], (path.name, principal)


def _one(tmp_path: Path, resources: dict[str, object]) -> Service:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"Resources": resources}))
    return load_service(path, service_name="svc", stage="dev", region="us-east-1", account=ACCOUNT)


def _conditions(service: Service, logical_id: str, action: str) -> set[tuple[str, str, tuple[str, ...]]]:
    rn = resource_needs(service, service.resources[logical_id], "create")
    found = {c for n in rn.needs if n.action == action for c in n.conditions}
    assert found, (logical_id, action, [n.action for n in rn.needs])
    return found


_ROLE = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": [
    {"Effect": "Allow", "Principal": {"Service": ["datasync.amazonaws.com"]}, "Action": "sts:AssumeRole"}]}}}


@pytest.mark.parametrize(
    "type_name, props, expected",
    [
        ("AWS::ECS::TaskDefinition", {"ExecutionRoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                                      "ContainerDefinitions": [{"Name": "c", "Image": "i"}]},
         ("ecs-tasks.amazonaws.com",)),
        ("AWS::Glue::Job", {"Role": {"Fn::GetAtt": ["Role", "Arn"]},
                            "Command": {"Name": "glueetl", "ScriptLocation": "s3://b/k"}}, ("glue.amazonaws.com",)),
        ("AWS::AppSync::DataSource", {"ApiId": "a", "Name": "d", "Type": "AWS_LAMBDA",
                                      "ServiceRoleArn": {"Fn::GetAtt": ["Role", "Arn"]}}, ("appsync.amazonaws.com",)),
        ("AWS::Events::Rule", {"Targets": [{"Id": "t", "Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:s",
                                            "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]}}]},
         ("events.amazonaws.com",)),
        ("AWS::StepFunctions::StateMachine", {"RoleArn": {"Fn::GetAtt": ["Role", "Arn"]}, "DefinitionString": "{}"},
         ("states.amazonaws.com",)),
        # no table row: the role's trust policy names the service
        ("AWS::DataSync::LocationS3", {"S3BucketArn": "arn:aws:s3:::b",
                                       "S3Config": {"BucketAccessRoleArn": {"Fn::GetAtt": ["Role", "Arn"]}}},
         ("datasync.amazonaws.com",)),
    ],
)
def test_passrole_names_the_service_the_role_is_passed_to(
    tmp_path: Path, type_name: str, props: dict[str, object], expected: tuple[str, ...]
) -> None:
    service = _one(tmp_path, {"Role": _ROLE, "Thing": {"Type": type_name, "Properties": props}})
    assert _conditions(service, "Thing", "iam:PassRole") == {("StringEquals", "iam:PassedToService", expected)}


def test_service_linked_roles_name_their_service_and_path(tmp_path: Path) -> None:
    service = _one(tmp_path, {
        "Scaling": {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": {
            "ServiceNamespace": "lambda", "ScalableDimension": "lambda:function:ProvisionedConcurrency",
            "ResourceId": "function:f:live", "MinCapacity": 1, "MaxCapacity": 2}},
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "ContributorInsightsSpecification": {"Enabled": True},
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}},
    })
    assert _conditions(service, "Scaling", "iam:CreateServiceLinkedRole") == {
        ("StringEquals", "iam:AWSServiceName", ("lambda.application-autoscaling.amazonaws.com",))}
    rn = resource_needs(service, service.resources["Table"], "create")
    (cslr,) = [n for n in rn.needs if n.action == "iam:CreateServiceLinkedRole"]
    assert cslr.resource == ("arn:aws:iam::123456789012:role/aws-service-role/"
                             "contributorinsights.dynamodb.amazonaws.com/*")
    assert cslr.conditions == (("StringEquals", "iam:AWSServiceName",
                                ("contributorinsights.dynamodb.amazonaws.com",)),)


@pytest.mark.data
def test_every_registry_type_that_passes_a_role_or_links_one_is_conditioned(tmp_path: Path) -> None:
    """Whatever the type: a resource with a role property yields only conditioned PassRole and
    CreateServiceLinkedRole needs (a table row, the trust policy, or the naming rule, which the warnings name)."""
    service = _one(tmp_path, {"Role": _ROLE})
    props = {"RoleArn": "arn:aws:iam::123456789012:role/r", "ServiceRoleArn": "arn:aws:iam::123456789012:role/r"}
    checked = 0
    for type_name in all_types():
        s = schema(type_name)
        if s is None:
            continue
        actions = {a.lower() for op in ("create", "update") for a in s.permissions(op)}
        if not actions & set(_GUARDED):
            continue
        resource = Resource("Thing", type_name, props, {"Type": type_name, "Properties": props})
        for op in ("create", "update"):
            for need in resource_needs(service, resource, op).needs:
                if need.action.lower() in _GUARDED:
                    keys = {c[1].lower() for c in need.conditions}
                    assert _GUARDED[need.action.lower()] in keys, (type_name, need)
                    checked += 1
    assert checked > 300

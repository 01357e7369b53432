from __future__ import annotations

import json
from pathlib import Path

import pytest

from iamfit.errors import BadInputError, UsageError
from iamfit.knowledge.arns import NAME_RULES, generated_name, generated_name_pattern
from iamfit.service.model import load_service

from ..conftest import EXAMPLES

TEMPLATE_YAML = """
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-worker"
      Role: !GetAtt Role.Arn
      Code: {S3Bucket: b, S3Key: serverless/svc/prod/1795713860651-2026-11-26T17:24:20.651Z/svc.zip}
      Environment:
        Variables:
          QUEUE: !Ref Queue
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Join ["-", [svc, prod, !Ref "AWS::Region", lambdaRole]]
      AssumeRolePolicyDocument: {}
"""


def test_yaml_template_with_short_form_intrinsics(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(TEMPLATE_YAML)
    svc = load_service(path, account="111122223333", region="eu-west-1")
    assert (svc.name, svc.stage, svc.stack_name) == ("svc", "prod", "svc-prod")
    assert svc.resource_arns("Fn") == ("arn:aws:lambda:eu-west-1:111122223333:function:svc-prod-worker",)
    assert svc.resolve_one(svc.resources["Fn"].properties["Role"]) == (
        "arn:aws:iam::111122223333:role/svc-prod-eu-west-1-lambdaRole"
    )
    queue_url = svc.resolve_one(svc.resources["Fn"].properties["Environment"]["Variables"]["QUEUE"])
    assert queue_url == "https://sqs.eu-west-1.amazonaws.com/111122223333/svc-prod-Queue-*"
    assert svc.graph.dependencies("Fn") == ("Queue", "Role")
    assert svc.graph.depth() == 2


def test_generated_names_match_their_pattern_even_when_truncated() -> None:
    rule = NAME_RULES["AWS::S3::Bucket"]
    stack = "thisisareallylongservicename-production"
    name = generated_name(stack, "ServerlessDeploymentBucket", rule, "1aljxweu3wjjd")
    pattern = generated_name_pattern(stack, "ServerlessDeploymentBucket", rule)
    assert len(name) <= 63 and name == name.lower()
    import fnmatch

    assert fnmatch.fnmatchcase(name, pattern)


def test_default_bucket_pattern_of_an_example() -> None:
    svc = load_service(EXAMPLES / "rest-api", compile_if_needed=False)
    assert svc.bucket_arn == "arn:aws:s3:::iamfit-rest-api-dev-serverlessdeploymentbucket-*"
    assert svc.account is None and any("--account" in w for w in svc.warnings)


def test_service_is_frozen_and_with_account_builds_a_new_one() -> None:
    import dataclasses

    svc = load_service(EXAMPLES / "rest-api", compile_if_needed=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        svc.account = "123456789012"  # type: ignore[misc]
    pinned = svc.with_account("123456789012")
    assert svc.account is None and "no --account given: ARNs use '*' for the account id" in svc.warnings
    assert pinned.account == "123456789012" and not any("--account" in w for w in pinned.warnings)
    assert pinned.stack_arn == svc.stack_arn.replace(":*:stack/", ":123456789012:stack/")
    assert pinned.identity()["account"] == "123456789012" and pinned.stack_name == svc.stack_name
    fn = next(lid for lid, r in svc.resources.items() if r.type == "AWS::Lambda::Function")
    assert svc.resource_arns(fn)[0].split(":")[4] == "*"
    assert pinned.resource_arns(fn)[0].split(":")[4] == "123456789012"
    assert pinned.resolve_one({"Ref": "AWS::AccountId"}) == "123456789012"
    assert pinned.with_account(None).account is None


def test_custom_bucket_and_deployment_role() -> None:
    svc = load_service(EXAMPLES / "deployment-role", compile_if_needed=False)
    assert svc.custom_bucket and svc.bucket_arn == f"arn:aws:s3:::{svc.custom_bucket}"
    assert svc.deployment_role and svc.account == "123456789012"  # taken from the role ARN
    assert svc.deployment_method == "direct"


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("{not json", "not valid JSON"),
        ("Resources: [1, 2", "not a readable"),
        ('{"Resources": {}}', "no Resources"),
        ('{"Resources": {"A": {"Properties": {}}}}', "has no Type"),
        ("- just\n- a list\n", "mapping at the top level"),
    ],
)
def test_bad_templates_are_bad_input(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(text)
    with pytest.raises(BadInputError, match=message):
        load_service(path)


def test_cycles_are_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(
        '{"Resources": {"A": {"Type": "AWS::SQS::Queue", "DependsOn": "B"},'
        ' "B": {"Type": "AWS::SQS::Queue", "DependsOn": "A"}}}'
    )
    with pytest.raises(BadInputError, match="circular"):
        load_service(path, service_name="svc", stage="dev", region="us-east-1")


def test_bad_account_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="12-digit"):
        load_service(EXAMPLES / "rest-api", account="12345", compile_if_needed=False)


def test_a_template_with_a_transform_says_iamfit_reads_it_unexpanded(tmp_path: Path) -> None:
    path = tmp_path / "sam.json"
    path.write_text(json.dumps({"Transform": "AWS::Serverless-2016-10-31", "Resources": {
        "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "index.handler"}}}}))
    service = load_service(path, service_name="svc", stage="dev", region="us-east-1", account="123456789012")
    (warning,) = [w for w in service.warnings if "Transform" in w]
    assert "Transform AWS::Serverless-2016-10-31" in warning and "--template-stage Processed" in warning
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}))
    assert not [w for w in load_service(plain, service_name="svc", stage="dev", region="us-east-1").warnings
                if "Transform" in w]


def test_a_cycle_in_an_unexpanded_template_says_the_transform_is_not_run(tmp_path: Path) -> None:
    # the shape of aws-samples/serverless-patterns apigw-lambda-json-xml-vtl-transformation/template.yaml: the
    # function's event names the API and the API's definition names the function, which SAM's expansion splits
    path = tmp_path / "sam.json"
    path.write_text(json.dumps({"Transform": "AWS::Serverless-2016-10-31", "Resources": {
        "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {"Api": {"Properties": {
            "RestApiId": {"Ref": "Api"}}}}}},
        "Api": {"Type": "AWS::Serverless::Api", "Properties": {"DefinitionBody": {"x": {"Fn::GetAtt": ["Fn", "Arn"]}}}},
    }}))
    with pytest.raises(BadInputError, match="circular dependency.*declares a Transform, which iamfit does not run"):
        load_service(path, service_name="svc", stage="dev", region="us-east-1")

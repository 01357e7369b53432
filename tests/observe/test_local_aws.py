"""The local AWS: moto, recording, and no stricter than AWS (each fix of iamfit.observe.local_aws.FIXES)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from iamfit.knowledge.arns import NAME_RULES, generated_name_pattern
from iamfit.observe.local_aws import FIXES, LocalAws
from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws() as local:
        yield local


def test_every_fix_says_how_aws_differs() -> None:
    assert len({f.name for f in FIXES}) == len(FIXES)
    assert all("AWS" in f.why for f in FIXES)


def test_validate_template_accepts_what_aws_accepts_and_rejects_what_it_rejects(aws: LocalAws) -> None:
    """moto's cfn-lint-based ValidateTemplate rejected http-api-jwt on a warning ("dependency already enforced by
    a Ref"); AWS checks the template's syntax."""
    cfn = aws.client("cloudformation", "us-east-1")
    body = (EXAMPLES / "http-api-jwt" / ".serverless" / "cloudformation-template-update-stack.json").read_text()
    cfn.validate_template(TemplateBody=body)
    cfn.validate_template(TemplateBody="Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n"
                                       "      QueueName: !Sub '${AWS::StackName}-q'\n")
    with pytest.raises(botocore.exceptions.ClientError, match="Template format error"):
        cfn.validate_template(TemplateBody="Resources: [unclosed")


def _stack(aws: LocalAws, name: str, template: dict[str, Any]) -> dict[str, str]:
    cfn = aws.client("cloudformation", "us-east-1")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    resources = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}


def test_generated_bucket_names_are_cloudformations(aws: LocalAws) -> None:
    stack = "iamfit-http-api-jwt-dev"
    ids = _stack(aws, stack, {"Resources": {"ServerlessDeploymentBucket": {"Type": "AWS::S3::Bucket"}}})
    name = ids["ServerlessDeploymentBucket"]
    pattern = generated_name_pattern(stack, "ServerlessDeploymentBucket", NAME_RULES["AWS::S3::Bucket"])
    assert re.fullmatch(pattern.replace("*", "[a-z0-9]{13}"), name), (name, pattern)
    assert len(name) <= 63


def test_a_stack_update_keeps_resources_moto_cannot_update_and_remove_deletes_with_exports(aws: LocalAws) -> None:
    cfn = aws.client("cloudformation", "us-east-1")
    template: dict[str, Any] = {
        "Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17",
                                                                                  "Statement": []}}},
                      "Bucket": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}},
    }
    _stack(aws, "fixes", template)
    template["Resources"]["Key"]["Properties"]["Tags"] = [{"Key": "iamfit-update", "Value": "1"}]
    template["Resources"]["Bucket"]["Properties"] = {"Tags": [{"Key": "iamfit-update", "Value": "1"}]}
    template["Outputs"]["KeyArn"]["Export"] = {"Name": "fixes-key"}
    cfn.update_stack(StackName="fixes", TemplateBody=json.dumps(template))
    stack = cfn.describe_stacks(StackName="fixes")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack
    assert {r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName="fixes")["StackResourceSummaries"]} \
        == {"Key", "Bucket"}
    cfn.delete_stack(StackName="fixes")
    assert all(s["StackName"] != "fixes" for s in cfn.list_stacks(StackStatusFilter=["CREATE_COMPLETE",
                                                                                     "UPDATE_COMPLETE"])
               ["StackSummaries"])


def test_only_calls_made_in_a_phase_are_recorded(aws: LocalAws) -> None:
    before = len(aws.calls)
    aws.client("sqs", "us-east-1").list_queues()
    aws.phase = "create"
    try:
        aws.client("sqs", "us-east-1").list_queues()
    finally:
        aws.phase = None
    new = aws.calls[before:]
    assert [(c.phase, c.service, c.operation, c.status) for c in new] == [("create", "sqs", "ListQueues", 200)]
    assert aws.wsgi_app is not None and aws.endpoint_url.startswith("http://127.0.0.1:")

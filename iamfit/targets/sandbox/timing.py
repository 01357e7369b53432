"""The sandbox's timing model: how long each operation would take against AWS, in seconds.

Every figure names where it comes from (docs/sandbox.md has the table). ``estimate`` marks a figure that is
an informed estimate rather than a published or measured number; treat those as order-of-magnitude.

Sources (short names used below):

* ``abefarris`` -- abefarris/cfn-least-privilege results/admin-timing.json: a 23-resource stack deployed in
  131 s and deleted in 162 s as admin (≈ 5.7 s per resource create on the critical path, 7 s per delete).
* ``vpc-eni`` -- VPC Lambda ENI cleanup: "up to 20 minutes" (awslabs/aws-support-tools PR #174); 25-45 min
  observed (serverless/serverless#5008, aws-cloudformation/cloudformation-coverage-roadmap#392, #414).
* ``issue-4`` -- the project brief: a typical rollback "~2 min".
* ``iam-propagation`` -- IAM eventual consistency: CloudFormation waits for new roles to be usable; the
  Terraform AWS provider allows 2 min (hashicorp/terraform-provider-aws internal/service/iam/wait.go);
  typical role creates in stack events take 10-20 s (estimate).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OperationTimes:
    create: float
    update: float
    delete: float
    source: str


DEFAULT = OperationTimes(6.0, 6.0, 7.0, "abefarris (131 s / 23 resources create, 162 s delete)")

RESOURCE_SECONDS: dict[str, OperationTimes] = {
    "AWS::IAM::Role": OperationTimes(15.0, 10.0, 8.0, "iam-propagation (estimate)"),
    "AWS::IAM::Policy": OperationTimes(15.0, 10.0, 5.0, "iam-propagation (estimate)"),
    "AWS::IAM::ManagedPolicy": OperationTimes(10.0, 8.0, 5.0, "iam-propagation (estimate)"),
    "AWS::Lambda::Function": OperationTimes(8.0, 10.0, 5.0, "abefarris; estimate for update (code + config)"),
    "AWS::Lambda::Version": OperationTimes(4.0, 4.0, 2.0, "estimate"),
    "AWS::Lambda::Permission": OperationTimes(2.0, 2.0, 2.0, "estimate"),
    "AWS::Lambda::EventSourceMapping": OperationTimes(60.0, 30.0, 60.0, "estimate (mappings enable asynchronously)"),
    "AWS::Logs::LogGroup": OperationTimes(2.0, 2.0, 2.0, "estimate"),
    "AWS::S3::Bucket": OperationTimes(22.0, 5.0, 5.0, "estimate (bucket creates report ~20 s in stack events)"),
    "AWS::S3::BucketPolicy": OperationTimes(2.0, 2.0, 2.0, "estimate"),
    "AWS::DynamoDB::Table": OperationTimes(20.0, 10.0, 15.0, "estimate (table ACTIVE wait)"),
    "AWS::SQS::Queue": OperationTimes(3.0, 61.0, 3.0, "estimate; SQS attribute changes take up to 60 s to propagate"),
    "AWS::SNS::Topic": OperationTimes(5.0, 5.0, 5.0, "estimate"),
    "AWS::KMS::Key": OperationTimes(10.0, 5.0, 5.0, "estimate (delete schedules key deletion)"),
    "AWS::ApiGateway::Deployment": OperationTimes(3.0, 3.0, 2.0, "estimate"),
    "AWS::ApiGateway::RestApi": OperationTimes(3.0, 3.0, 3.0, "estimate"),
    "AWS::Cognito::UserPool": OperationTimes(5.0, 5.0, 5.0, "estimate"),
    "AWS::Events::Rule": OperationTimes(3.0, 3.0, 3.0, "estimate"),
}

VPC_LAMBDA_DELETE = 1200.0  # vpc-eni: "up to 20 minutes"; 25-45 min observed
VPC_LAMBDA_SOURCE = "vpc-eni (AWS Support tools PR #174: up to 20 min; 25-45 min observed)"

DENIED_CALL = 2.0  # a handler that gets AccessDenied fails fast; estimate
STACK_OPERATION = 10.0  # stack start + completion events, change-set creation for change sets; estimate
CHANGE_SET = 8.0  # CreateChangeSet -> CREATE_COMPLETE of the change set; estimate
CLI_START = 8.0  # Framework start, config resolution, credential checks; estimate
CLI_PACKAGE = 12.0  # packaging and artifact upload; estimate
CLI_CALL = 0.3  # one SDK call; estimate
ROLLBACK_TYPICAL = 120.0  # issue-4: "~2 min"
STACK_DELETE_FAILED_CREATE = 30.0  # deleting a ROLLBACK_COMPLETE stack before redeploying; estimate


def is_vpc_lambda(resource_type: str, properties: Mapping[str, Any]) -> bool:
    vpc = properties.get("VpcConfig")
    return resource_type == "AWS::Lambda::Function" and isinstance(vpc, dict) and bool(vpc.get("SubnetIds"))


def operation_seconds(resource_type: str, operation: str, properties: Mapping[str, Any]) -> float:
    """Seconds one resource operation takes (create / update / delete) when it succeeds."""
    if operation == "delete" and is_vpc_lambda(resource_type, properties):
        return VPC_LAMBDA_DELETE
    times = RESOURCE_SECONDS.get(resource_type, DEFAULT)
    return {"create": times.create, "update": times.update, "delete": times.delete}[operation]


def cli_seconds(calls: int, *, packages: bool) -> float:
    """The CLI's own time: start, packaging and upload (deploys), and its SDK calls."""
    return CLI_START + (CLI_PACKAGE if packages else 0.0) + CLI_CALL * calls


def by_hand_seconds(failed_attempts: int, failed_attempt_seconds: float, rollback_seconds: float,
                    final_seconds: float) -> float:
    """The by-hand loop: each missing grant costs one failed deploy plus its rollback, then one clean deploy.

    ``failed_attempt_seconds``: a deploy until its first failure; ``rollback_seconds``: the rollback (use
    :func:`rollback_seconds`); ``final_seconds``: the deploy that finally succeeds.
    """
    return failed_attempts * (failed_attempt_seconds + rollback_seconds) + final_seconds


def rollback_seconds(deleted: Mapping[str, tuple[str, Mapping[str, Any]]] | None = None) -> float:
    """A rollback: the typical ~2 min, or longer when what it deletes takes longer (VPC Lambdas).

    ``deleted``: logical id -> (type, properties) of what the rollback deletes.
    """
    slowest = max((operation_seconds(t, "delete", p) for t, p in (deleted or {}).values()), default=0.0)
    return max(ROLLBACK_TYPICAL, STACK_OPERATION + slowest)

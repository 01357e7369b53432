"""Fixtures for the AWS target: moto, a fake clock, a small service package, Stubber-backed clients."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from iamfit.aws.session import AwsSession
from iamfit.service.model import Service, load_service
from iamfit.targets.aws.calls import Clock

ACCOUNT = "123456789012"  # moto's default account
REPO = Path(__file__).resolve().parents[3]
SQS_WORKER = REPO / "examples" / "sqs-worker" / ".serverless"


class FakeClock(Clock):
    """Monotonic time that moves only when something sleeps; records every sleep."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []
        super().__init__(monotonic=lambda: self.t, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def session(aws: None) -> AwsSession:
    return AwsSession(boto3.session.Session(), "us-east-1")


SMALL_TEMPLATE: dict[str, Any] = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "ServerlessDeploymentBucket": {"Type": "AWS::S3::Bucket"},
        "WorkQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "small-svc-dev-work"}},
        "WorkerLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": "/aws/lambda/small-svc-dev-worker"},
        },
    },
    "Outputs": {"ServerlessDeploymentBucketName": {"Value": {"Ref": "ServerlessDeploymentBucket"}}},
}


@pytest.fixture
def small_service(tmp_path: Path) -> Service:
    """A two-resource package (plus the deployment bucket) with a state file and one artifact."""
    package = tmp_path / "small" / ".serverless"
    package.mkdir(parents=True)
    core = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"ServerlessDeploymentBucket": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {"ServerlessDeploymentBucketName": {"Value": {"Ref": "ServerlessDeploymentBucket"}}},
    }
    (package / "cloudformation-template-create-stack.json").write_text(json.dumps(core))
    (package / "cloudformation-template-update-stack.json").write_text(json.dumps(SMALL_TEMPLATE))
    state = {"service": {"service": "small-svc", "provider": {"name": "aws", "stage": "dev", "region": "us-east-1"}}}
    (package / "serverless-state.json").write_text(json.dumps(state))
    (package / "small-svc.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    return load_service(package, compile_if_needed=False)


@pytest.fixture
def sqs_worker(tmp_path: Path) -> Service:
    copy = tmp_path / "sqs-worker" / ".serverless"
    shutil.copytree(SQS_WORKER, copy)
    return load_service(copy, compile_if_needed=False)


def live_stacks(client: Any) -> list[str]:
    return [s["StackName"] for s in client.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]


def local_policies(iam: Any) -> list[str]:
    """Names of the account's customer managed policies."""
    return sorted(p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"])


def moto_variant(service: Service) -> Service:
    """The real update variant, minus tag changes on S3 buckets: moto's bucket update reads a BucketName
    property the Framework's deployment bucket does not have (a moto bug, KeyError 'BucketName')."""
    import copy
    import dataclasses

    from iamfit.service.mutate import update_variant

    variant = update_variant(service)
    template = copy.deepcopy(variant.template)
    for body in template["Resources"].values():
        if body.get("Type") == "AWS::S3::Bucket" and "BucketName" not in body.get("Properties", {}):
            body.get("Properties", {}).pop("Tags", None)
    return dataclasses.replace(variant, template=template)

"""The local AWS's ``lambda-version-after-update`` fix (iamfit.observe.local_aws.FIXES): a redeploy with new code
adds an AWS::Lambda::Version (the Framework names it after the code's hash); AWS updates the function first (the
version's FunctionName refers to it) and publishes version 2. moto created the added version before updating the
function, published nothing, and serverless-prune-plugin had no old version to delete."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from iamfit.observe.local_aws import LocalAws

ROLE = "arn:aws:iam::123456789012:role/iamfit-fn"


def template(key: str, version: str) -> str:
    resources: dict[str, Any] = {
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": "iamfit-versions", "Runtime": "python3.12", "Handler": "index.handler", "Role": ROLE,
            "Code": {"S3Bucket": "iamfit-code", "S3Key": key}}},
        version: {"Type": "AWS::Lambda::Version", "DeletionPolicy": "Retain",
                  "Properties": {"FunctionName": {"Ref": "Fn"}}},
    }
    return json.dumps({"Resources": resources})


def zipped(code: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("index.py", code)
    return out.getvalue()


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws() as local:
        yield local


def test_a_redeploy_publishes_the_new_code_as_a_new_version(aws: LocalAws) -> None:
    iam = aws.client("iam", "us-east-1")
    iam.create_role(RoleName="iamfit-fn", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))
    s3 = aws.client("s3", "us-east-1")
    s3.create_bucket(Bucket="iamfit-code")
    for key, body in (("a.zip", b"def handler(e, c): return 1"), ("b.zip", b"def handler(e, c): return 2")):
        s3.put_object(Bucket="iamfit-code", Key=key, Body=zipped(body))
    cfn = aws.client("cloudformation", "us-east-1")
    # as the Framework deploys: the code from the deployment bucket, a new Version resource for new code
    cfn.create_stack(StackName="iamfit-versions", TemplateBody=template("a.zip", "VersionA"))
    cfn.update_stack(StackName="iamfit-versions", TemplateBody=template("b.zip", "VersionB"))
    lam = aws.client("lambda", "us-east-1")
    versions = lam.list_versions_by_function(FunctionName="iamfit-versions")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    latest = {v["Version"]: v["CodeSha256"] for v in versions}
    assert latest["2"] == latest["$LATEST"] != latest["1"]  # version 2 is the new code
    resources = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                 for r in cfn.list_stack_resources(StackName="iamfit-versions")["StackResourceSummaries"]}
    assert "VersionB" in resources  # the stack holds the added version

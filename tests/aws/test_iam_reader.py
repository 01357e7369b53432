"""iamfit.aws.iam_reader on moto: inline + attached managed policies + permissions boundary."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from iamfit.aws.iam_reader import read_role
from iamfit.errors import AwsError, BadInputError

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def iam() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("iam", region_name="us-east-1")


def make_role(iam: Any, name: str = "deployer", boundary: bool = True) -> None:
    b = iam.create_policy(
        PolicyName="boundary",
        PolicyDocument=policy({"Effect": "Allow", "Action": ["s3:*", "lambda:*"], "Resource": "*"}),
    )["Policy"]["Arn"]
    kwargs = {"PermissionsBoundary": b} if boundary else {}
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), **kwargs)
    iam.put_role_policy(
        RoleName=name,
        PolicyName="b-inline",
        PolicyDocument=policy(
            {"Sid": "S3", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}
        ),
    )
    iam.put_role_policy(
        RoleName=name,
        PolicyName="a-inline",
        PolicyDocument=policy({"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"}),
    )
    managed = iam.create_policy(
        PolicyName="managed",
        PolicyDocument=policy({"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": "*"}),
    )["Policy"]["Arn"]
    # a second version becomes the default: the reader must read the default version, not v1
    iam.create_policy_version(
        PolicyArn=managed,
        SetAsDefault=True,
        PolicyDocument=policy(
            {"Effect": "Allow", "Action": ["lambda:GetFunction", "lambda:CreateFunction"], "Resource": "*"}
        ),
    )
    iam.attach_role_policy(RoleName=name, PolicyArn=managed)


def test_reads_inline_managed_and_boundary(iam: Any) -> None:
    make_role(iam)
    role = read_role(iam, "deployer")
    assert role.role_arn == "arn:aws:iam::123456789012:role/deployer"
    assert [p.name for p in role.inline] == ["a-inline", "b-inline"]
    assert [p.name for p in role.managed] == ["arn:aws:iam::123456789012:policy/managed"]
    assert role.managed[0].document.actions() == {"lambda:GetFunction", "lambda:CreateFunction"}
    assert role.boundary is not None and role.boundary.origin == "boundary:arn:aws:iam::123456789012:policy/boundary"
    decisions = role.policy_set()
    assert decisions.allows("s3:GetObject", "arn:aws:s3:::bucket/k")
    assert decisions.allows("lambda:CreateFunction", "arn:aws:lambda:us-east-1:123456789012:function:f")
    assert not decisions.allows("ec2:DescribeVpcs", "*")  # granted inline, outside the boundary
    assert not decisions.allows("s3:PutObject", "arn:aws:s3:::bucket/k")  # inside the boundary, not granted


def test_role_without_boundary(iam: Any) -> None:
    make_role(iam, boundary=False)
    role = read_role(iam, "deployer")
    assert role.boundary is None and role.policy_set().allows("ec2:DescribeVpcs", "*")


def test_missing_role_is_an_aws_error(iam: Any) -> None:
    with pytest.raises(AwsError, match="GetRole nope: NoSuchEntity"):
        read_role(iam, "nope")


def test_url_encoded_documents_and_bad_documents() -> None:
    client = boto3.client("iam", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_response(
        "get_role",
        {
            "Role": {
                "RoleName": "r",
                "RoleId": "AROAEXAMPLEEXAMPLE1",
                "Path": "/",
                "Arn": "arn:aws:iam::123456789012:role/r",
                "CreateDate": "2024-01-01T00:00:00Z",
            }
        },
        {"RoleName": "r"},
    )
    stub.add_response("list_role_policies", {"PolicyNames": ["p"], "IsTruncated": False}, {"RoleName": "r"})
    encoded = quote(policy({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}))
    stub.add_response(
        "get_role_policy",
        {"RoleName": "r", "PolicyName": "p", "PolicyDocument": encoded},
        {"RoleName": "r", "PolicyName": "p"},
    )
    stub.add_response("list_attached_role_policies", {"AttachedPolicies": [], "IsTruncated": False}, {"RoleName": "r"})
    with stub:
        role = read_role(client, "r")
    assert role.inline[0].document.actions() == {"sqs:SendMessage"}

    stub = Stubber(client)
    stub.add_response(
        "get_role",
        {
            "Role": {
                "RoleName": "r",
                "RoleId": "AROAEXAMPLEEXAMPLE1",
                "Path": "/",
                "Arn": "arn:aws:iam::123456789012:role/r",
                "CreateDate": "2024-01-01T00:00:00Z",
            }
        },
        {"RoleName": "r"},
    )
    stub.add_response("list_role_policies", {"PolicyNames": ["p"], "IsTruncated": False}, {"RoleName": "r"})
    stub.add_response(
        "get_role_policy",
        {"RoleName": "r", "PolicyName": "p", "PolicyDocument": quote("{nope")},
        {"RoleName": "r", "PolicyName": "p"},
    )
    with stub, pytest.raises(BadInputError, match="inline policy r/p"):
        read_role(client, "r")


def test_access_denied_is_an_aws_error() -> None:
    client = boto3.client("iam", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("get_role", "AccessDenied", "not authorized to perform: iam:GetRole")
    with stub, pytest.raises(AwsError, match="AccessDenied: not authorized"):
        read_role(client, "r")

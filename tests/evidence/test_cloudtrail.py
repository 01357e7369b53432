"""Single CloudTrail records -> Denial / Usage (own fixtures in CloudTrail's exact record format)."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamfit.errors import BadInputError
from iamfit.evidence.cloudtrail import load_cloudtrail_path, loads_cloudtrail, read_record, read_records
from iamfit.evidence.model import Cause, Denial, Usage

ACCT = "210987654321"
ROLE_SESSION = f"arn:aws:sts::{ACCT}:assumed-role/orders-cfn-exec/AWSCloudFormation"


def _assumed_role(session: str = "AWSCloudFormation", invoked_by: str | None = None) -> dict[str, Any]:
    ui: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLEID:{session}",
        "arn": f"arn:aws:sts::{ACCT}:assumed-role/orders-cfn-exec/{session}",
        "accountId": ACCT,
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEID",
                "arn": f"arn:aws:iam::{ACCT}:role/orders-cfn-exec",
                "accountId": ACCT,
                "userName": "orders-cfn-exec",
            },
            "attributes": {"creationDate": "2025-03-01T10:00:00Z", "mfaAuthenticated": "false"},
        },
    }
    if invoked_by:
        ui["invokedBy"] = invoked_by
    return ui


def _user(name: str = "ci-deployer") -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": f"arn:aws:iam::{ACCT}:user/{name}",
        "accountId": ACCT,
        "userName": name,
    }


def record(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": _user(),
        "eventTime": "2025-03-01T10:00:05Z",
        "eventSource": "lambda.amazonaws.com",
        "eventName": "CreateFunction20150331",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15",
        "requestParameters": {"functionName": "orders-dev-api"},
        "responseElements": None,
        "requestID": "r-1",
        "eventID": "e-1",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCT,
    }
    base.update(kw)
    return base


DENIED_CREATE_FUNCTION = record(
    userIdentity=_assumed_role(invoked_by="cloudformation.amazonaws.com"),
    sourceIPAddress="cloudformation.amazonaws.com",
    errorCode="AccessDenied",
    errorMessage=(
        f"User: {ROLE_SESSION} is not authorized to perform: lambda:CreateFunction on resource: "
        f"arn:aws:lambda:eu-west-1:{ACCT}:function:orders-dev-api because no identity-based policy allows the "
        "lambda:CreateFunction action"
    ),
)


def test_denied_record_reads_message_and_identity() -> None:
    d = read_record(DENIED_CREATE_FUNCTION)
    assert isinstance(d, Denial)
    assert d.action == "lambda:CreateFunction"
    assert d.resource == f"arn:aws:lambda:eu-west-1:{ACCT}:function:orders-dev-api"
    assert d.principal == ROLE_SESSION
    assert d.session_name == "AWSCloudFormation"
    assert d.invoked_by == "cloudformation.amazonaws.com"
    assert d.cause is Cause.IDENTITY_NO_ALLOW
    assert d.source == "cloudtrail"
    assert d.event_time == "2025-03-01T10:00:05Z"


def test_successful_versioned_event_is_usage_with_resource_from_params() -> None:
    u = read_record(record(eventName="UpdateFunctionCode20150331v2"))
    assert u == Usage(
        "lambda:UpdateFunctionCode",
        f"arn:aws:lambda:eu-west-1:{ACCT}:function:orders-dev-api",
        f"arn:aws:iam::{ACCT}:user/ci-deployer",
        event_time="2025-03-01T10:00:05Z",
    )


@pytest.mark.parametrize(
    ("source", "name", "params", "action", "resource"),
    [
        (
            "s3.amazonaws.com",
            "ListObjects",
            {"bucketName": "orders-deploys"},
            "s3:ListBucket",
            "arn:aws:s3:::orders-deploys",
        ),
        (
            "s3.amazonaws.com",
            "HeadObject",
            {"bucketName": "orders-deploys", "key": "a/b.zip"},
            "s3:GetObject",
            "arn:aws:s3:::orders-deploys/a/b.zip",
        ),
        (
            "iam.amazonaws.com",
            "GetRole",
            {"roleName": "orders-role"},
            "iam:GetRole",
            f"arn:aws:iam::{ACCT}:role/orders-role",
        ),
        (
            "cloudformation.amazonaws.com",
            "DescribeStacks",
            {"stackName": "orders-dev"},
            "cloudformation:DescribeStacks",
            f"arn:aws:cloudformation:eu-west-1:{ACCT}:stack/orders-dev/*",
        ),
        (
            "sqs.amazonaws.com",
            "GetQueueAttributes",
            {"queueUrl": f"https://sqs.eu-west-1.amazonaws.com/{ACCT}/orders-q"},
            "sqs:GetQueueAttributes",
            f"arn:aws:sqs:eu-west-1:{ACCT}:orders-q",
        ),
        (
            "sns.amazonaws.com",
            "Subscribe",
            {"topicArn": f"arn:aws:sns:eu-west-1:{ACCT}:t"},
            "sns:Subscribe",
            f"arn:aws:sns:eu-west-1:{ACCT}:t",
        ),
        (
            "dynamodb.amazonaws.com",
            "DescribeTable",
            {"tableName": "orders"},
            "dynamodb:DescribeTable",
            f"arn:aws:dynamodb:eu-west-1:{ACCT}:table/orders",
        ),
        (
            "logs.amazonaws.com",
            "CreateLogGroup",
            {"logGroupName": "/aws/lambda/orders"},
            "logs:CreateLogGroup",
            f"arn:aws:logs:eu-west-1:{ACCT}:log-group:/aws/lambda/orders",
        ),
        (
            "apigateway.amazonaws.com",
            "GetResource",
            {"restApiId": "a1b2c3", "resourceId": "r9"},
            "apigateway:GET",
            "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/resources/r9",
        ),
        (
            "apigateway.amazonaws.com",
            "CreateDeployment",
            {"restApiId": "a1b2c3"},
            "apigateway:POST",
            "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3",
        ),
        ("monitoring.amazonaws.com", "PutMetricAlarm", {"alarmName": "x"}, "cloudwatch:PutMetricAlarm", None),
        (
            "sts.amazonaws.com",
            "AssumeRole",
            {"roleArn": f"arn:aws:iam::{ACCT}:role/r"},
            "sts:AssumeRole",
            f"arn:aws:iam::{ACCT}:role/r",
        ),
    ],
)
def test_usage_mapping(source: str, name: str, params: dict[str, Any], action: str, resource: str | None) -> None:
    u = read_record(record(eventSource=source, eventName=name, requestParameters=params))
    assert isinstance(u, Usage)
    assert (u.action, u.resource) == (action, resource)


def test_resources_array_wins() -> None:
    r = record(resources=[{"ARN": f"arn:aws:lambda:eu-west-1:{ACCT}:function:other", "type": "AWS::Lambda::Function"}])
    u = read_record(r)
    assert u is not None and u.resource == f"arn:aws:lambda:eu-west-1:{ACCT}:function:other"


@pytest.mark.parametrize("code", ["Client.UnauthorizedOperation", "UnauthorizedOperation", "AccessDeniedException"])
def test_error_codes_that_are_denials(code: str) -> None:
    r = record(
        eventSource="ec2.amazonaws.com",
        eventName="DescribeVpcs",
        requestParameters={},
        errorCode=code,
        errorMessage="You are not authorized to perform this operation.",
    )
    d = read_record(r)
    assert isinstance(d, Denial) and d.action == "ec2:DescribeVpcs" and d.cause is Cause.UNKNOWN


def test_vpce_denial_and_plain_s3_access_denied() -> None:
    r = record(
        eventSource="s3.amazonaws.com",
        eventName="GetObject",
        errorCode="VpceAccessDenied",
        errorMessage="The request was denied due to a VPC endpoint policy",
        requestParameters={"bucketName": "orders-data", "key": "k.csv"},
    )
    d = read_record(r)
    assert isinstance(d, Denial)
    assert (d.action, d.resource, d.cause) == ("s3:GetObject", "arn:aws:s3:::orders-data/k.csv", Cause.VPC_ENDPOINT)
    r2 = dict(r, errorCode="AccessDenied", errorMessage="Access Denied")
    d2 = read_record(r2)
    assert isinstance(d2, Denial) and d2.cause is Cause.UNKNOWN and d2.action == "s3:GetObject"


def test_other_errors_are_neither() -> None:
    r = record(errorCode="ResourceConflictException", errorMessage="Function already exist: orders-dev-api")
    assert read_record(r) is None
    # Cognito's NotAuthorizedException is a wrong password, not an IAM denial.
    r2 = record(
        eventSource="cognito-idp.amazonaws.com",
        eventName="InitiateAuth",
        errorCode="NotAuthorizedException",
        errorMessage="Incorrect username or password.",
    )
    assert read_record(r2) is None


def test_aws_service_principal_is_none_and_invoked_by_kept() -> None:
    r = record(
        eventSource="sts.amazonaws.com",
        eventName="AssumeRole",
        userIdentity={"type": "AWSService", "invokedBy": "lambda.amazonaws.com"},
        requestParameters={"roleArn": f"arn:aws:iam::{ACCT}:role/orders-fn-role", "roleSessionName": "x"},
    )
    u = read_record(r)
    assert isinstance(u, Usage)
    assert u.principal is None and u.invoked_by == "lambda.amazonaws.com"


def test_records_document_and_list() -> None:
    ok = record()
    out = read_records({"Records": [ok, DENIED_CREATE_FUNCTION]})
    assert [type(e).__name__ for e in out] == ["Usage", "Denial"]
    assert read_records([ok]) == read_records(ok)


def test_files_gz_and_directories(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.json").write_text(json.dumps({"Records": [record()]}))
    (tmp_path / "a" / "two.json.gz").write_bytes(gzip.compress(json.dumps(DENIED_CREATE_FUNCTION).encode()))
    (tmp_path / "notes.txt").write_text("ignored")
    out = load_cloudtrail_path(tmp_path)
    assert sorted(type(e).__name__ for e in out) == ["Denial", "Usage"]
    assert len(load_cloudtrail_path(tmp_path / "a" / "two.json.gz")) == 1


@pytest.mark.parametrize(
    "text",
    [
        "not json at all",
        '{"Records": [{"eventSource": "s3.amazonaws.com", "eventName": "GetObject"',  # truncated
        '{"hello": "world"}',
        '{"Records": "nope"}',
        '{"Records": [{"eventSource": "s3.amazonaws.com"}]}',
        "[1, 2, 3]",
    ],
)
def test_bad_input(text: str) -> None:
    with pytest.raises(BadInputError):
        loads_cloudtrail(text)


def test_bad_files(tmp_path: Path) -> None:
    (tmp_path / "x.json.gz").write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(BadInputError):
        load_cloudtrail_path(tmp_path / "x.json.gz")
    with pytest.raises(BadInputError):
        load_cloudtrail_path(tmp_path / "missing.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInputError):
        load_cloudtrail_path(empty)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(_json)
def test_reader_never_raises_anything_but_bad_input(value: Any) -> None:
    rec = copy.deepcopy(record())
    rec["requestParameters"] = value
    rec["userIdentity"] = value
    rec["resources"] = value
    try:
        read_records(rec)
        read_records(value)
    except BadInputError:
        pass


def test_error_message_names_win_over_the_record() -> None:
    other = "arn:aws:sts::999900001111:assumed-role/orders-ci/run-7"
    r = record(
        eventSource="ec2.amazonaws.com",
        eventName="RunInstances",
        requestParameters={"instanceType": "t3.micro"},
        errorCode="Client.UnauthorizedOperation",
        errorMessage=(
            f"You are not authorized to perform this operation. User: {other} is not authorized to perform: "
            "ec2:RunInstances on resource: arn:aws:ec2:eu-west-1:999900001111:instance/* with an explicit deny "
            "in a permissions boundary. Encoded authorization failure message: QUJD-_x"
        ),
    )
    d = read_record(r)
    assert isinstance(d, Denial)
    assert (d.principal, d.resource, d.cause) == (
        other,
        "arn:aws:ec2:eu-west-1:999900001111:instance/*",
        Cause.PERMISSIONS_BOUNDARY,
    )

"""Recorded calls -> IAM action and resource, the comparison with a policy, and the CloudTrail records that
``iamfit replay`` / ``explain`` / ``audit`` read unchanged. The calls are real: boto3 against the recording
local AWS."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from iamfit import api
from iamfit.observe.local_aws import DEFAULT_ACCOUNT, LocalAws
from iamfit.observe.mapping import expand, map_call, to_record
from iamfit.observe.record import Call, source_of
from iamfit.observe.run import unpredicted
from iamfit.policy.document import PolicyDocument

PRINCIPAL = f"arn:aws:sts::{DEFAULT_ACCOUNT}:assumed-role/iamfit-observe/iamfit-observe"


@pytest.fixture(scope="module")
def calls() -> Iterator[list[Call]]:
    with LocalAws() as aws:
        s3 = aws.client("s3", "us-east-1")
        s3.create_bucket(Bucket="deploy-bucket")  # not recorded: no phase
        aws.phase = "create"
        s3.head_bucket(Bucket="deploy-bucket")
        s3.put_object(Bucket="deploy-bucket", Key="serverless/svc/dev/1/svc.zip", Body=b"zip")
        aws.client("sts", "us-east-1").get_caller_identity()
        apigw = aws.client("apigateway", "us-east-1")
        api_id = apigw.create_rest_api(name="svc-dev")["id"]
        apigw.get_resources(restApiId=api_id)
        aws.phase = "remove"
        s3.delete_objects(Bucket="deploy-bucket", Delete={"Objects": [{"Key": "serverless/svc/dev/1/svc.zip"},
                                                                      {"Key": "serverless/svc/dev/1/state.json"}]})
        yield expand(list(aws.calls))


def _mapped(calls: list[Call]) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(c.operation or "", (m := map_call(c, DEFAULT_ACCOUNT, PRINCIPAL)).action, m.resource, m.dropped)
            for c in calls]


def test_calls_map_to_the_action_and_resource_aws_authorises(calls: list[Call]) -> None:
    mapped = _mapped(calls)
    assert [c.phase for c in calls] == ["create"] * 5 + ["remove"] * 2
    assert mapped[0] == ("HeadBucket", "s3:ListBucket", "arn:aws:s3:::deploy-bucket", None)
    assert mapped[1] == ("PutObject", "s3:PutObject", "arn:aws:s3:::deploy-bucket/serverless/svc/dev/1/svc.zip",
                         None)
    operation, action, resource, dropped = mapped[2]
    assert (operation, action, resource) == ("GetCallerIdentity", None, None)
    assert dropped is not None and "no permission is required" in dropped
    # API Gateway: the HTTP verb on the resource path
    assert mapped[3][:3] == ("CreateRestApi", "apigateway:POST", "arn:aws:apigateway:us-east-1::/restapis")
    assert mapped[4][1] == "apigateway:GET" and mapped[4][2] is not None
    assert re.fullmatch(r"arn:aws:apigateway:us-east-1::/restapis/[a-z0-9]+/resources", mapped[4][2])
    # DeleteObjects: s3:DeleteObject on each object
    assert mapped[5:] == [
        ("DeleteObjects", "s3:DeleteObject", "arn:aws:s3:::deploy-bucket/serverless/svc/dev/1/svc.zip", None),
        ("DeleteObjects", "s3:DeleteObject", "arn:aws:s3:::deploy-bucket/serverless/svc/dev/1/state.json", None),
    ]
    assert {c.source for c in calls} == {"cli"}


def test_unpredicted_is_what_the_policy_does_not_allow(calls: list[Call]) -> None:
    policy = PolicyDocument.from_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::deploy-bucket"},
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"],
         "Resource": "arn:aws:s3:::deploy-bucket/serverless/svc/dev/*"},
        {"Effect": "Allow", "Action": ["apigateway:POST"], "Resource": "arn:aws:apigateway:*::/restapis"},
    ]}), "test")
    out = unpredicted([map_call(c, DEFAULT_ACCOUNT, PRINCIPAL) for c in calls], policy)
    assert [(u["action"], u["operation"], u["phase"]) for u in out] == [("apigateway:GET", "apigateway:GetResources",
                                                                         "create")]


def test_records_are_read_unchanged_by_replay_explain_and_audit(calls: list[Call], tmp_path: Path) -> None:
    records = tmp_path / "records.json"
    mapped = [map_call(c, DEFAULT_ACCOUNT, PRINCIPAL) for c in calls]
    records.write_text(json.dumps({"Records": [to_record(m.call, DEFAULT_ACCOUNT, PRINCIPAL, m.resource)
                                               for m in mapped]}))
    observed = {(m.action, m.resource) for c in calls if (m := map_call(c, DEFAULT_ACCOUNT, PRINCIPAL)).action}
    explained = api.explain(records)
    assert {(u.action, u.resource) for u in explained.usage} - {("sts:GetCallerIdentity", "*")} == observed
    replayed = api.replay(str(records), PRINCIPAL)
    assert {n.action for n in replayed.needs} - {"sts:GetCallerIdentity"} == {a for a, _ in observed}
    policy = tmp_path / "deployer.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:*", "apigateway:GET"], "Resource": "*"}]}))
    audited = api.audit(policy_files=[policy], cloudtrail=str(records), principal=PRINCIPAL)
    assert audited is not None


def test_an_error_answer_becomes_an_error_record_and_the_call_still_maps() -> None:
    call = Call("create", "cloudformation", "DescribeStacks", {"StackName": "svc-dev"}, "us-east-1", "aws-sdk-js/3",
                400, "cli", "2026-01-01T00:00:00Z", error_code="ValidationError")
    assert to_record(call, DEFAULT_ACCOUNT, PRINCIPAL)["errorCode"] == "ValidationError"
    mapped = map_call(call, DEFAULT_ACCOUNT, PRINCIPAL)
    assert (mapped.action, mapped.resource) == (
        "cloudformation:DescribeStacks", f"arn:aws:cloudformation:us-east-1:{DEFAULT_ACCOUNT}:stack/svc-dev/*")


@pytest.mark.parametrize(("agent", "source"), [
    ("aws-sdk-js/3.700.0 ua/2.1 os/linux lang/js md/nodejs#20.20.2", "cli"),
    ("aws-sdk-nodejs/2.1692.0 linux/v20.20.2 serverless-domain-manager/8.0.0", "plugin:serverless-domain-manager"),
    ("aws-sdk-nodejs/2.1692.0 serverless/3.39.0", "cli"),
])
def test_source_is_a_plugin_only_when_the_user_agent_names_one(agent: str, source: str) -> None:
    assert source_of(agent) == source


def test_a_log_groups_actions_are_on_its_arn_with_the_stream_wildcard() -> None:
    call = Call("create", "logs", "DeleteLogGroup", {"logGroupName": "/aws/api-gateway/svc-dev"}, "us-east-1",
                "aws-sdk-js/3", 200, "cli", "2026-01-01T00:00:00Z")
    mapped = map_call(call, DEFAULT_ACCOUNT, PRINCIPAL)
    assert (mapped.action, mapped.resource) == (
        "logs:DeleteLogGroup", f"arn:aws:logs:us-east-1:{DEFAULT_ACCOUNT}:log-group:/aws/api-gateway/svc-dev:*")
    record = to_record(call, DEFAULT_ACCOUNT, PRINCIPAL, mapped.resource)
    assert [(u.action, u.resource) for u in api.explain(json.dumps(record)).usage] == [
        (mapped.action, mapped.resource)]


def test_api_gateway_v2_and_tag_paths_are_the_resource() -> None:
    v2 = Call("create", "apigateway", "GetApis", {}, "eu-west-1", "aws-sdk-js/3", 200, "cli", "2026-01-01T00:00:00Z",
              method="GET", path="/v2/apis")
    tags = Call("create", "apigateway", "TagResource", {"resourceArn": "x"}, "us-east-1", "aws-sdk-js/3", 200, "cli",
                "2026-01-01T00:00:00Z", method="PUT",
                path="/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Frestapis%2Fa1%2Fstages%2Fdev")
    assert (map_call(v2, DEFAULT_ACCOUNT, PRINCIPAL).resource) == "arn:aws:apigateway:eu-west-1::/apis"
    mapped = map_call(tags, DEFAULT_ACCOUNT, PRINCIPAL)
    assert (mapped.action, mapped.resource) == (
        "apigateway:PUT", "arn:aws:apigateway:us-east-1::/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Frestapis%2Fa1"
                          "%2Fstages%2Fdev")

"""Failure paths against botocore Stubber responses in AWS's exact formats."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from iamfit.errors import AwsError
from iamfit.service.model import Service
from iamfit.targets.aws.evidence import (
    TrailHarvester,
    attach_decoded,
    decode_messages,
    first_failure,
    reported_denials,
    stack_events_since,
)
from iamfit.targets.aws.names import Names
from iamfit.targets.aws.stack import Outcome, StackDeployer
from tests.targets.aws.conftest import ACCOUNT, FakeClock

T0 = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
STACK = "small-svc-iamfitr"
STACK_ID = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{STACK}/5b6f0f40-ab12-11ef-9b4b-0affd1c2b3e5"
SESSION = "iamfit-r-create-1"
DEPLOYER = f"arn:aws:sts::{ACCOUNT}:assumed-role/iamfit-small-svc-iamfitr-deployer/{SESSION}"
SQS_REASON = (
    'Resource handler returned message: "User: ' + DEPLOYER + " is not authorized to perform: "
    f"sqs:createqueue on resource: arn:aws:sqs:us-east-1:{ACCOUNT}:small-svc-iamfitr-work because no "
    "identity-based policy allows the sqs:createqueue action (Service: Sqs, Status Code: 403, Request ID: "
    '7a1c1c2e-5d7f-5b0e-9a55-1f3f0c1d2e3f)" (RequestToken: 5f3b2a8c-0d4e-6f7a-8b9c-0d1e2f3a4b5c, '
    "HandlerErrorCode: AccessDenied)"
)
LOGS_REASON = (
    'Resource handler returned message: "User: ' + DEPLOYER + " is not authorized to perform: "
    f"logs:CreateLogGroup on resource: arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/"
    "small-svc-iamfitr-worker:log-stream: because no identity-based policy allows the logs:CreateLogGroup "
    'action (Service: CloudWatchLogs, Status Code: 400, Request ID: 0c0c5a1e-2f3d-4b5a-8c9d-0e1f2a3b4c5d)" '
    "(RequestToken: 1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d, HandlerErrorCode: AccessDenied)"
)


def _event(
    i: int, logical: str, rtype: str, status: str, reason: str | None = None, seconds: int = 0
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "StackId": STACK_ID,
        "EventId": f"{logical}-{status}-{i}",
        "StackName": STACK,
        "LogicalResourceId": logical,
        "PhysicalResourceId": "",
        "ResourceType": rtype,
        "Timestamp": T0 + timedelta(seconds=seconds),
        "ResourceStatus": status,
    }
    if reason:
        event["ResourceStatusReason"] = reason
    return event


def _client(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name="us-east-1")
    return client, Stubber(client)


def _stack(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackId": STACK_ID,
                "StackName": STACK,
                "CreationTime": T0,
                "StackStatus": status,
                "Tags": [{"Key": "iamfit:managed", "Value": "true"}],
                **extra,
            }
        ]
    }


def _names() -> Names:
    return Names(service="small-svc", source_stage="dev", stage="iamfitr", run_id="r")


# --- stack events ------------------------------------------------------------------------------------------


def test_permission_failures_in_stack_events_since_the_attempt_began() -> None:
    cfn, stub = _client("cloudformation")
    newest_first = [
        _event(
            9,
            STACK,
            "AWS::CloudFormation::Stack",
            "UPDATE_FAILED",
            "The following resource(s) failed to create: [WorkQueue, WorkerLogGroup]. ",
            seconds=40,
        ),
        _event(8, "WorkerFunction", "AWS::Lambda::Function", "CREATE_FAILED", "Resource creation cancelled", 35),
        _event(7, "WorkerLogGroup", "AWS::Logs::LogGroup", "CREATE_FAILED", LOGS_REASON, seconds=31),
        _event(6, "WorkQueue", "AWS::SQS::Queue", "CREATE_FAILED", SQS_REASON, seconds=30),
    ]
    older = [
        _event(5, "WorkQueue", "AWS::SQS::Queue", "CREATE_IN_PROGRESS", seconds=10),
        _event(4, STACK, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS", "User Initiated", seconds=5),
        _event(3, STACK, "AWS::CloudFormation::Stack", "CREATE_COMPLETE", seconds=-60),  # the marker
        _event(2, STACK, "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", seconds=-90),
    ]
    stub.add_response(
        "describe_stack_events", {"StackEvents": newest_first, "NextToken": "p2"}, {"StackName": STACK_ID}
    )
    stub.add_response("describe_stack_events", {"StackEvents": older}, {"StackName": STACK_ID, "NextToken": "p2"})
    with stub:
        events = stack_events_since(cfn, STACK_ID, older[2]["EventId"], T0)
    assert [e["EventId"] for e in events] == [e["EventId"] for e in newest_first + older[:2]]
    assert events[0]["Timestamp"] == "2026-11-26T10:00:40Z"  # JSON-able, as the AWS CLI prints it
    json.dumps(events)
    # the earliest real failure, not the cancellation and not the stack's summary
    failure = first_failure(events)
    assert failure is not None and failure.startswith("CREATE_FAILED WorkQueue (AWS::SQS::Queue): Resource handler")
    texts = [e.get("ResourceStatusReason", "") for e in events]
    assert reported_denials(texts) == {"sqs:createqueue", "logs:createloggroup"}
    unlogged = (
        f"User: {DEPLOYER} is not authorized to perform: iam:PassRole on resource: arn:aws:iam::{ACCOUNT}:role/x\n"
        f"User: {DEPLOYER} is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::b/k"
    )
    assert reported_denials([unlogged]) == set()  # never in management history: not waited for


# --- CloudTrail ---------------------------------------------------------------------------------------------


def _trail_event(name: str, source: str, error: str | None, event_id: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLEID:{SESSION}",
            "arn": DEPLOYER,
            "accountId": ACCOUNT,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/iamfit-small-svc-iamfitr-deployer",
                    "userName": "iamfit-small-svc-iamfitr-deployer",
                },
            },
            "invokedBy": "cloudformation.amazonaws.com",
        },
        "eventTime": "2026-11-26T10:00:30Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "cloudformation.amazonaws.com",
        "userAgent": "cloudformation.amazonaws.com",
        "requestParameters": {"queueName": "small-svc-iamfitr-work"},
        "responseElements": None,
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }
    if error:
        record["errorCode"] = error
        record["errorMessage"] = f"User: {DEPLOYER} is not authorized to perform: {name}"
    return {
        "EventId": event_id,
        "EventName": name,
        "EventTime": T0,
        "EventSource": source,
        "Username": SESSION,
        "CloudTrailEvent": json.dumps(record),
    }


def _lookup_params(token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": SESSION}],
        "MaxResults": 50,
        "StartTime": T0 - timedelta(minutes=5),
    }
    if token:
        params["NextToken"] = token
    return params


def test_lookup_events_late_and_throttled_until_every_reported_denial_is_seen(clock: FakeClock) -> None:
    trail, stub = _client("cloudtrail")
    # round 1: CloudTrail has delivered nothing yet
    stub.add_response("lookup_events", {"Events": []}, _lookup_params())
    # round 2: throttled once, then two pages; the SQS denial arrived, the Logs one not yet
    stub.add_client_error(
        "lookup_events", "ThrottlingException", "Rate exceeded", 400, expected_params=_lookup_params()
    )
    stub.add_response(
        "lookup_events",
        {"Events": [_trail_event("CreateQueue", "sqs.amazonaws.com", "AccessDenied", "e1")], "NextToken": "t2"},
        _lookup_params(),
    )
    stub.add_response(
        "lookup_events",
        {"Events": [_trail_event("DescribeStacks", "cloudformation.amazonaws.com", None, "e0")]},
        _lookup_params("t2"),
    )
    # round 3: everything is there (the earlier records again, and the Logs denial)
    stub.add_response(
        "lookup_events",
        {
            "Events": [
                _trail_event("CreateLogGroup", "logs.amazonaws.com", "AccessDenied", "e2"),
                _trail_event("CreateQueue", "sqs.amazonaws.com", "AccessDenied", "e1"),
            ]
        },
        _lookup_params(),
    )
    harvester = TrailHarvester(trail, clock=clock, settle_seconds=600, poll_seconds=30)
    with stub:
        records = harvester.harvest(SESSION, T0, {"sqs:createqueue", "logs:createloggroup"})
    stub.assert_no_pending_responses()
    assert [r["eventID"] for r in records] == ["e0", "e1", "e2"]
    assert 1.0 in clock.sleeps  # the throttling backoff
    assert clock.sleeps.count(30) == 2  # two polls, then it ended early: well inside the 600 s window
    assert clock.t < 100


def test_the_settle_window_ends_even_when_a_denial_never_arrives(clock: FakeClock) -> None:
    trail, stub = _client("cloudtrail")
    for _ in range(4):
        stub.add_response("lookup_events", {"Events": []}, _lookup_params())
    harvester = TrailHarvester(trail, clock=clock, settle_seconds=90, poll_seconds=30)
    with stub:
        assert harvester.harvest(SESSION, T0, {"sqs:createqueue"}) == []
    stub.assert_no_pending_responses()
    assert 90 <= clock.t < 100


def test_lookup_unavailable_is_warned_once_and_not_asked_again(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    trail, stub = _client("cloudtrail")
    # moto's answer: LookupEvents is not implemented, HTTP 500 (botocore has retried it already)
    stub.add_client_error("lookup_events", "500", "Internal Server Error", 500, expected_params=_lookup_params())
    harvester = TrailHarvester(trail, clock=clock, settle_seconds=600, poll_seconds=30)
    with stub, caplog.at_level(logging.WARNING, logger="iamfit"):
        assert harvester.harvest(SESSION, T0, {"sqs:createqueue"}) == []
        assert harvester.harvest(SESSION, T0, {"sqs:createqueue"}) == []  # no second request (none is stubbed)
    stub.assert_no_pending_responses()
    assert harvester.unavailable is not None and "HTTP 500" in harvester.unavailable
    assert clock.t == 0  # no settle window spent waiting for records that cannot come
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("CloudTrail LookupEvents is unavailable (the endpoint kept answering HTTP 500")
    assert "stack events and deploy output only" in warnings[0]


def test_a_failed_lookup_keeps_what_earlier_pages_gave(clock: FakeClock) -> None:
    trail, stub = _client("cloudtrail")
    stub.add_response(
        "lookup_events",
        {"Events": [_trail_event("CreateQueue", "sqs.amazonaws.com", "AccessDenied", "e1")], "NextToken": "t2"},
        _lookup_params(),
    )
    stub.add_client_error("lookup_events", "AccessDenied", "explicit deny in a service control policy", 403)
    harvester = TrailHarvester(trail, clock=clock, settle_seconds=0)
    with stub:
        records = harvester.harvest(SESSION, T0, set())
    assert [r["eventID"] for r in records] == ["e1"]
    assert harvester.unavailable is not None and "AccessDenied" in harvester.unavailable


def test_encoded_authorization_messages_are_decoded_when_allowed() -> None:
    sts, stub = _client("sts")
    blob = "4a8Jd9fLq2Zx0v7PbQkR1sT3uV5wY6zA8cE0gI2kM4oQ6sU8wY0aC2eG4iK6mO8"
    decoded = json.dumps({"allowed": False, "explicitDeny": False, "context": {"action": "ec2:CreateSecurityGroup"}})
    stub.add_response("decode_authorization_message", {"DecodedMessage": decoded}, {"EncodedMessage": blob})
    reason = f"You are not authorized to perform this operation. Encoded authorization failure message: {blob}"
    events = [{"EventId": "1", "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": reason}]
    with stub:
        found = decode_messages(sts, [reason, reason])
    assert found == {blob: decoded}
    assert attach_decoded(events, found)[0]["DecodedAuthorizationMessage"] == decoded
    sts2, stub2 = _client("sts")
    stub2.add_client_error("decode_authorization_message", "AccessDenied", "not allowed", 403)
    with stub2:
        assert decode_messages(sts2, [reason]) == {}


# --- recovery -----------------------------------------------------------------------------------------------


def test_update_rollback_failed_continues_and_skips_only_with_consent(small_service: Service, clock: FakeClock) -> None:
    def script(stub: Stubber, consent: bool) -> None:
        stub.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_FAILED"), {"StackName": STACK})
        stub.add_response("continue_update_rollback", {}, {"StackName": STACK})
        stub.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_IN_PROGRESS"), {"StackName": STACK})
        stub.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_FAILED"), {"StackName": STACK})
        stub.add_response(
            "describe_stack_resources",
            {
                "StackResources": [
                    {
                        "LogicalResourceId": "WorkQueue",
                        "ResourceType": "AWS::SQS::Queue",
                        "Timestamp": T0,
                        "ResourceStatus": "UPDATE_FAILED",
                        "ResourceStatusReason": SQS_REASON,
                    },
                    {
                        "LogicalResourceId": "WorkerLogGroup",
                        "ResourceType": "AWS::Logs::LogGroup",
                        "Timestamp": T0,
                        "ResourceStatus": "UPDATE_COMPLETE",
                    },
                ]
            },
            {"StackName": STACK},
        )
        if consent:
            stub.add_response("continue_update_rollback", {}, {"StackName": STACK, "ResourcesToSkip": ["WorkQueue"]})
            stub.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": STACK})

    cfn, stub = _client("cloudformation")
    script(stub, consent=False)
    deployer = StackDeployer(small_service, _names(), clock=clock)
    with stub, pytest.raises(AwsError, match="--skip-failed-rollback-resources"):
        deployer.recover(cfn)
    stub.assert_no_pending_responses()

    cfn, stub = _client("cloudformation")
    script(stub, consent=True)
    deployer = StackDeployer(small_service, _names(), clock=clock, skip_failed_rollback_resources=True)
    with stub:
        status, log = deployer.recover(cfn)
    stub.assert_no_pending_responses()
    assert status == "UPDATE_ROLLBACK_COMPLETE"
    assert any("skipping WorkQueue" in line for line in log)


def test_rollback_complete_is_deleted_before_the_next_create(small_service: Service, clock: FakeClock) -> None:
    cfn, stub = _client("cloudformation")
    stub.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE"), {"StackName": STACK})
    stub.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE"), {"StackName": STACK})
    stub.add_response("delete_stack", {}, {"StackName": STACK})
    stub.add_response("describe_stacks", _stack("DELETE_IN_PROGRESS"), {"StackName": STACK})
    stub.add_client_error(
        "describe_stacks",
        "ValidationError",
        f"Stack with id {STACK} does not exist",
        400,
        expected_params={"StackName": STACK},
    )
    with stub:
        status, log = StackDeployer(small_service, _names(), clock=clock).recover(cfn)
    stub.assert_no_pending_responses()
    assert status is None and "ROLLBACK_COMPLETE" in log[0]


def test_a_failed_create_is_retried_in_place_with_rollback_disabled(small_service: Service, clock: FakeClock) -> None:
    cfn, stub = _client("cloudformation")
    s3, s3stub = _client("s3")
    bucket = "small-svc-iamfitr-serverlessdeploymentbucket-1x2y3z4w5v6u"
    stub.add_response("describe_stacks", _stack("UPDATE_FAILED"), {"StackName": STACK})
    stub.add_response(
        "describe_stack_resource",
        {
            "StackResourceDetail": {
                "LogicalResourceId": "ServerlessDeploymentBucket",
                "PhysicalResourceId": bucket,
                "ResourceType": "AWS::S3::Bucket",
                "LastUpdatedTimestamp": T0,
                "ResourceStatus": "CREATE_COMPLETE",
            }
        },
        {"StackName": STACK, "LogicalResourceId": "ServerlessDeploymentBucket"},
    )
    s3stub.add_response(
        "list_objects_v2", {"KeyCount": 0}, {"Bucket": bucket, "Prefix": "serverless/small-svc/iamfitr"}
    )
    s3stub.add_response("put_object", {}, {"Bucket": bucket, "Key": ANY, "Body": ANY})
    s3stub.add_response(
        "put_object", {}, {"Bucket": bucket, "Key": ANY, "Body": ANY, "ContentType": "application/json"}
    )
    stub.add_response("list_change_sets", {"Summaries": []}, {"StackName": STACK})
    stub.add_response(
        "create_change_set",
        {"Id": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:changeSet/{STACK}-change-set/1", "StackId": STACK_ID},
        {
            "StackName": STACK,
            "ChangeSetName": f"{STACK}-change-set",
            "ChangeSetType": "UPDATE",
            "Capabilities": ANY,
            "Tags": ANY,
            "TemplateURL": ANY,
        },
    )
    stub.add_response("describe_change_set", {"Status": "CREATE_PENDING"}, {"StackName": STACK, "ChangeSetName": ANY})
    stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE"}, {"StackName": STACK, "ChangeSetName": ANY})
    stub.add_response(
        "execute_change_set", {}, {"StackName": STACK, "ChangeSetName": f"{STACK}-change-set", "DisableRollback": True}
    )
    stub.add_response("describe_stacks", _stack("UPDATE_IN_PROGRESS"), {"StackName": STACK})
    stub.add_response("describe_stacks", _stack("UPDATE_COMPLETE"), {"StackName": STACK})
    outcome = Outcome()
    with stub, s3stub:
        StackDeployer(small_service, _names(), clock=clock).deploy(
            cfn, s3, small_service, role_arn=None, outcome=outcome
        )
    stub.assert_no_pending_responses()
    s3stub.assert_no_pending_responses()
    assert outcome.succeeded and outcome.stack_status == "UPDATE_COMPLETE"
    assert not any("core stack" in line for line in outcome.lines)  # no new stack: Retry of the same one


def test_a_denied_deployer_call_is_evidence_in_the_output(small_service: Service, clock: FakeClock) -> None:
    cfn, stub = _client("cloudformation")
    message = (
        f"User: {DEPLOYER} is not authorized to perform: cloudformation:DescribeStacks on resource: "
        f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{STACK}/* because no identity-based policy allows "
        "the cloudformation:DescribeStacks action"
    )
    stub.add_client_error("describe_stacks", "AccessDenied", message, 403)
    outcome = Outcome()
    with stub:
        StackDeployer(small_service, _names(), clock=clock).deploy(
            cfn, None, small_service, role_arn=None, outcome=outcome
        )
    assert not outcome.succeeded and not outcome.reached_stack
    assert outcome.output.startswith("Error: An error occurred (AccessDenied) when calling the DescribeStacks")
    assert reported_denials([outcome.output]) == {"cloudformation:describestacks"}

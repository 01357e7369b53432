"""The AWS target reads paged calls through botocore's paginators (stack events, list objects)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from iamfit.targets.aws.evidence import stack_events_since
from iamfit.targets.aws.stack import empty_prefix

T0 = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/5b6f0f40-ab12-11ef-9b4b-0affd1c2b3e5"


def _recording(service: str) -> tuple[Any, Stubber, list[str]]:
    client = boto3.client(service, region_name="us-east-1")
    used: list[str] = []
    get_paginator = client.get_paginator

    def recording_get_paginator(name: str) -> Any:
        used.append(name)
        return get_paginator(name)

    client.get_paginator = recording_get_paginator
    return client, Stubber(client), used


def _event(i: int, seconds: int) -> dict[str, Any]:
    return {"StackId": STACK, "EventId": f"e{i}", "StackName": "s", "LogicalResourceId": "s",
            "ResourceType": "AWS::CloudFormation::Stack", "Timestamp": T0 + timedelta(seconds=seconds),
            "ResourceStatus": "UPDATE_IN_PROGRESS"}


def test_stack_events_are_paged_and_older_pages_are_not_fetched_past_the_marker() -> None:
    cfn, stub, used = _recording("cloudformation")
    stub.add_response("describe_stack_events", {"StackEvents": [_event(9, 30), _event(8, 20)], "NextToken": "p2"},
                      {"StackName": STACK})
    stub.add_response("describe_stack_events", {"StackEvents": [_event(7, 10), _event(6, 0)], "NextToken": "p3"},
                      {"StackName": STACK, "NextToken": "p2"})
    with stub:  # a third page (p3) would be an unexpected call: the Stubber raises on it
        events = stack_events_since(cfn, STACK, "e6", T0)
    stub.assert_no_pending_responses()
    assert [e["EventId"] for e in events] == ["e9", "e8", "e7"]
    assert used == ["describe_stack_events"]


def test_stack_events_of_a_stack_that_does_not_exist_are_none() -> None:
    cfn, stub, _ = _recording("cloudformation")
    stub.add_client_error("describe_stack_events", "ValidationError", "Stack with id s does not exist")
    with stub:
        assert stack_events_since(cfn, STACK, None, T0) == []


def test_stack_events_other_errors_are_raised() -> None:
    cfn, stub, _ = _recording("cloudformation")
    stub.add_client_error("describe_stack_events", "AccessDenied", "no")
    with stub, pytest.raises(Exception, match="AccessDenied"):
        stack_events_since(cfn, STACK, None, T0)


def test_empty_prefix_deletes_every_page_of_objects() -> None:
    s3, stub, used = _recording("s3")
    pages = [["p/a", "p/b"], ["p/c"]]
    stub.add_response("list_objects_v2", {"Contents": [{"Key": k} for k in pages[0]], "IsTruncated": True,
                                          "NextContinuationToken": "t2"}, {"Bucket": "b", "Prefix": "p/"})
    stub.add_response("delete_objects", {}, {"Bucket": "b", "Delete": {"Objects": [{"Key": "p/a"}, {"Key": "p/b"}],
                                                                       "Quiet": True}})
    stub.add_response("list_objects_v2", {"Contents": [{"Key": k} for k in pages[1]], "IsTruncated": False},
                      {"Bucket": "b", "Prefix": "p/", "ContinuationToken": "t2"})
    stub.add_response("delete_objects", {}, {"Bucket": "b", "Delete": {"Objects": [{"Key": "p/c"}], "Quiet": True}})
    with stub:
        assert empty_prefix(s3, "b", "p/") == 3
    stub.assert_no_pending_responses()
    assert used == ["list_objects_v2"]


def test_empty_prefix_of_nothing_deletes_nothing() -> None:
    s3, stub, _ = _recording("s3")
    stub.add_response("list_objects_v2", {"KeyCount": 0, "IsTruncated": False}, {"Bucket": "b", "Prefix": "p/"})
    with stub:
        assert empty_prefix(s3, "b", "p/") == 0
    stub.assert_no_pending_responses()

"""LookupSource with Stubber: pages, throttling backoff, the 2 requests/s limit (on an injected clock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from botocore.parsers import ResponseParserError
from botocore.stub import Stubber

from iamfit.errors import AwsError
from iamfit.evidence.trail import LookupSource, TokenBucket, aggregate
from iamfit.evidence.trail.sources import LookupUnavailableError

from .records import DEPLOY_ROLE, record

SINCE = datetime(2026, 10, 2, tzinfo=UTC)
UNTIL = datetime(2026, 10, 3, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def event(rec: dict[str, Any]) -> dict[str, Any]:
    return {"EventId": "e", "EventName": rec["eventName"], "CloudTrailEvent": json.dumps(rec)}


def test_pages_throttling_and_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client("cloudtrail", region_name="us-east-1")
    clock = FakeClock()
    calls: list[float] = []
    real = client.lookup_events

    def timed(**kwargs: Any) -> Any:
        calls.append(clock.now)
        return real(**kwargs)

    monkeypatch.setattr(client, "lookup_events", timed)
    base = {"StartTime": SINCE, "EndTime": UNTIL, "MaxResults": 50}
    stub = Stubber(client)
    stub.add_response("lookup_events", {"Events": [event(record())] * 2, "NextToken": "t1"}, base)
    stub.add_client_error("lookup_events", "ThrottlingException", expected_params={**base, "NextToken": "t1"})
    stub.add_response(
        "lookup_events",
        {
            "Events": [
                event(record("s3.amazonaws.com", "HeadObject")),
                {"EventId": "x", "CloudTrailEvent": "{"},
            ],
            "NextToken": "t2",
        },
        {**base, "NextToken": "t1"},
    )
    stub.add_response("lookup_events", {"Events": [event(record(who="user"))]}, {**base, "NextToken": "t2"})
    source = LookupSource(client, clock=clock, sleep=clock.sleep)
    with stub:
        result = aggregate(source, principal=DEPLOY_ROLE, since=SINCE, until=UNTIL)
        stub.assert_no_pending_responses()

    assert [(r.action, r.count) for r in result.rows] == [("lambda:CreateFunction", 2), ("s3:GetObject", 1)]
    assert result.stats.records == 5 and result.stats.bad_records == 1  # the unparsable CloudTrailEvent
    assert result.stats.files_read == 3  # one per page
    assert len(calls) == 4
    assert all(b - a >= 0.5 - 1e-9 for a, b in zip(calls, calls[1:], strict=False))  # never over 2 requests/s
    assert 1.0 in clock.sleeps  # the throttling backoff


def test_keeps_throttling_then_gives_up() -> None:
    client = boto3.client("cloudtrail", region_name="us-east-1")
    clock = FakeClock()
    stub = Stubber(client)
    for _ in range(3):
        stub.add_client_error("lookup_events", "ThrottlingException")
    with stub, pytest.raises(AwsError, match="ThrottlingException"):
        aggregate(LookupSource(client, max_retries=2, clock=clock, sleep=clock.sleep))


def test_other_errors_are_aws_errors() -> None:
    client = boto3.client("cloudtrail", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("lookup_events", "AccessDeniedException")
    with stub, pytest.raises(AwsError, match="AccessDeniedException"):
        aggregate(LookupSource(client))


def test_token_bucket_spacing() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, 1.0, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(5):
        bucket.acquire()
        stamps.append(clock.now)
    assert stamps == [1000.0, 1000.5, 1001.0, 1001.5, 1002.0]
    clock.now += 10  # idle time does not bank more than one request
    bucket.acquire()
    bucket.acquire()
    assert stamps[-1] + 10 + 0.5 == clock.now


class _Raising:
    """A CloudTrail client whose LookupEvents raises ``error`` (errors Stubber cannot make)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.calls = 0

    def lookup_events(self, **kwargs: Any) -> Any:
        self.calls += 1
        raise self.error


def _stubbed_error(code: str, status: int) -> Any:
    client = boto3.client("cloudtrail", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("lookup_events", code, "message", status)
    stub.activate()
    return client


@pytest.mark.parametrize(
    ("make_client", "reason"),
    [
        # a local endpoint without the operation: moto answers HTTP 500, others 501 or UnknownOperationException
        (lambda: _stubbed_error("UnknownOperationException", 400), "does not implement it (UnknownOperationException)"),
        (lambda: _stubbed_error("NotImplemented", 501), "does not implement it (NotImplemented)"),
        (lambda: _stubbed_error("500", 500), "kept answering HTTP 500 (server error)"),
        (lambda: _stubbed_error("InternalFailure", 500), "kept answering HTTP 500 InternalFailure"),
        # an IAM policy or an SCP denies it
        (lambda: _stubbed_error("AccessDeniedException", 400), "may not call it (AccessDeniedException; an IAM"),
        # a partition or region without CloudTrail: no endpoint to reach
        (
            lambda: _Raising(EndpointConnectionError(endpoint_url="https://cloudtrail.mars-1.amazonaws.com/")),
            "no CloudTrail endpoint could be reached (EndpointConnectionError",
        ),
        # an answer that is not in CloudTrail's format at all
        (lambda: _Raising(ResponseParserError("invalid XML received")), "not in CloudTrail's format"),
    ],
)
def test_lookup_unavailable_is_told_apart(make_client: Any, reason: str) -> None:
    with pytest.raises(LookupUnavailableError) as caught:
        aggregate(LookupSource(make_client()))
    assert reason in caught.value.reason
    assert isinstance(caught.value, AwsError)  # replay and audit still stop with exit 4


@pytest.mark.parametrize(
    "client",
    [
        _Raising(ClientError({"Error": {"Code": "InvalidLookupAttributesException"}}, "LookupEvents")),
        _Raising(NoCredentialsError()),
    ],
)
def test_an_error_of_one_request_is_not_unavailability(client: Any) -> None:
    with pytest.raises(AwsError) as caught:
        aggregate(LookupSource(client))
    assert not isinstance(caught.value, LookupUnavailableError)


def test_a_bug_is_not_turned_into_an_aws_error() -> None:
    client = _Raising(TypeError("lookup_events() got an unexpected keyword argument"))
    with pytest.raises(TypeError):
        aggregate(LookupSource(client))

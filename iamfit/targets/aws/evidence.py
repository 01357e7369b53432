"""Evidence of one attempt: stack events since it began, and its CloudTrail records.

CloudTrail: LookupEvents with ``Username = <session name>`` (the per-attempt role session name is the
Username of an assumed-role call), through :class:`iamfit.evidence.trail.sources.LookupSource` (2
requests/s, NextToken pages, throttling backoff). Delivery takes minutes, so lookups repeat every
``poll_seconds`` within a settle window of ``settle_seconds``; the window ends early once every denial the
stack events or the CLI output reported has been seen in CloudTrail (and ``min_settle_seconds`` passed).
Encoded authorization messages are decoded with sts:DecodeAuthorizationMessage when the operator may.

When LookupEvents cannot be used at all (an endpoint that does not implement it, such as a moto server; a
denial by an IAM policy or an SCP; no CloudTrail endpoint in the partition or region), the harvester logs
one warning, stops looking up for the rest of the run, and :attr:`TrailHarvester.unavailable` says why:
attempts then carry stack events and CLI output only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped,unused-ignore]

from iamfit.evidence.failure_text import parse_failure_text
from iamfit.evidence.trail.ratelimit import TokenBucket
from iamfit.evidence.trail.sources import LookupSource, LookupUnavailableError
from iamfit.knowledge.eventnames import event_to_action
from iamfit.targets.aws.calls import AWS_ERRORS, Clock, error_code, jsonable

_ENCODED = re.compile(r"Encoded authorization failure message:\s*([A-Za-z0-9_\-]{20,})")
_DENIED_CODES = ("AccessDenied", "UnauthorizedOperation", "AuthorizationError", "Forbidden")
CFN_SESSION = "AWSCloudFormation"
# Denials CloudTrail's management history never shows: iam:PassRole is not logged, and S3 object calls are
# data events. Waiting for them would only run the settle window out.
_UNLOGGED = frozenset({"iam:passrole"})
_SKEW = timedelta(minutes=5)

log = logging.getLogger(__name__)


def latest_event_id(cloudformation: Any, stack_name: str) -> str | None:
    log.info("cloudformation:DescribeStackEvents %s (the latest event)", stack_name)
    try:
        events = cloudformation.describe_stack_events(StackName=stack_name).get("StackEvents", [])
    except ClientError as exc:
        if error_code(exc) == "ValidationError":
            return None
        raise
    return str(events[0]["EventId"]) if events else None


def stack_events_since(cloudformation: Any, stack: str, marker: str | None, since: datetime) -> list[dict[str, Any]]:
    """DescribeStackEvents entries newer than ``marker`` (or than ``since`` minus clock skew), newest first."""
    out: list[dict[str, Any]] = []
    floor = since - _SKEW
    log.info("cloudformation:DescribeStackEvents %s", stack)
    try:
        # pages are fetched as they are read: the loop stops at the marker without fetching older pages
        for page in cloudformation.get_paginator("describe_stack_events").paginate(StackName=stack):
            for event in page.get("StackEvents", []):
                stamp = event.get("Timestamp")
                if event.get("EventId") == marker or (isinstance(stamp, datetime) and stamp < floor):
                    return out
                out.append(jsonable(dict(event)))
    except ClientError as exc:
        if error_code(exc) == "ValidationError":
            return out
        raise
    return out


def first_failure(events: Iterable[dict[str, Any]]) -> str | None:
    """The earliest *_FAILED event that is not a cancellation, as the Attempt protocol words it."""
    for event in reversed(list(events)):
        status = str(event.get("ResourceStatus", ""))
        reason = str(event.get("ResourceStatusReason", ""))
        if status.endswith("_FAILED") and "cancelled" not in reason.lower():
            return f"{status} {event.get('LogicalResourceId')} ({event.get('ResourceType')}): {reason}"
    return None


def reported_denials(texts: Iterable[str], ignore_principal: str | None = None) -> set[str]:
    """Lower-case actions the failure texts name as denied that CloudTrail's management events can show
    (what the settle window waits for)."""
    actions: set[str] = set()
    for text in texts:
        if not text:
            continue
        for denial in parse_failure_text(text).denials:
            if denial.action is None:
                continue
            if ignore_principal and denial.principal and ignore_principal in denial.principal:
                continue
            action = denial.action.lower()
            if action in _UNLOGGED or (action.startswith("s3:") and "object" in action):
                continue
            actions.add(action)
    return actions


def denied_actions(records: Iterable[dict[str, Any]]) -> set[str]:
    actions = set()
    for record in records:
        code = str(record.get("errorCode") or "")
        if not any(c in code for c in _DENIED_CODES):
            continue
        action = event_to_action(
            str(record.get("eventSource", "")), str(record.get("eventName", "")), record.get("requestParameters")
        )
        if action:
            actions.add(action.lower())
    return actions


@dataclass
class TrailHarvester:
    """Collects an attempt's CloudTrail records within a settle window. ``settle_seconds=0``: one lookup."""

    cloudtrail: Any
    clock: Clock = field(default_factory=Clock)
    settle_seconds: float = 300.0
    min_settle_seconds: float = 0.0
    poll_seconds: float = 20.0
    rate: float = 2.0
    unavailable: str | None = None  # why LookupEvents cannot be used in this run (set on the first such error)
    _bucket: TokenBucket | None = None

    def _source(self, username: str) -> LookupSource:
        if self._bucket is None:  # one limiter for the whole account/region, across lookups
            self._bucket = TokenBucket(self.rate, 1.0, clock=self.clock.monotonic, sleep=self.clock.sleep)
        return LookupSource(
            client=self.cloudtrail,
            lookup_attributes=({"AttributeKey": "Username", "AttributeValue": username},),
            rate=self.rate,
            clock=self.clock.monotonic,
            sleep=self.clock.sleep,
            bucket=self._bucket,
        )

    def harvest(
        self,
        session_name: str,
        since: datetime,
        expected: set[str],
        *,
        cfn_role_arn: str | None = None,
    ) -> list[dict[str, Any]]:
        """Records of the attempt's session (and of the cfn role's CloudFormation sessions since ``since``).

        Once LookupEvents proved unavailable (see :attr:`unavailable`), only what was read before that.
        """
        found: dict[str, dict[str, Any]] = {}
        if self.unavailable is None:
            try:
                self._settle(session_name, since, expected, cfn_role_arn, found)
            except LookupUnavailableError as exc:
                self.unavailable = exc.reason
                log.warning(
                    "CloudTrail LookupEvents is unavailable (%s): this run reads denials from stack events "
                    "and deploy output only",
                    exc.reason,
                )
        return sorted(found.values(), key=lambda r: (str(r.get("eventTime", "")), str(r.get("eventID", ""))))

    def _settle(
        self,
        session_name: str,
        since: datetime,
        expected: set[str],
        cfn_role_arn: str | None,
        found: dict[str, dict[str, Any]],
    ) -> None:
        start = self.clock.monotonic()
        while True:
            for record in self._lookup(session_name, since):
                found[str(record.get("eventID") or id(record))] = record
            if cfn_role_arn:
                for record in self._lookup(CFN_SESSION, since):
                    issuer = (record.get("userIdentity") or {}).get("sessionContext", {}).get("sessionIssuer", {})
                    if issuer.get("arn") == cfn_role_arn:
                        found[str(record.get("eventID") or id(record))] = record
            elapsed = self.clock.monotonic() - start
            complete = expected <= denied_actions(found.values())
            if (complete and elapsed >= self.min_settle_seconds) or elapsed >= self.settle_seconds:
                return
            self.clock.sleep(min(self.poll_seconds, max(self.settle_seconds - elapsed, 0.0)) or self.poll_seconds)

    def _lookup(self, username: str, since: datetime) -> Iterator[dict[str, Any]]:
        """Each readable record, page by page (a later page's failure keeps the earlier pages' records)."""
        for page in self._source(username).pages(since - _SKEW, None):
            yield from (r for r in page if not r.get("_unreadable"))


def decode_messages(sts: Any, texts: Iterable[str]) -> dict[str, str]:
    """Encoded authorization message -> its decoded JSON, for those the operator may decode."""
    decoded: dict[str, str] = {}
    for text in texts:
        for blob in _ENCODED.findall(text or ""):
            if blob in decoded:
                continue
            log.info("sts:DecodeAuthorizationMessage (%d characters)", len(blob))
            try:
                decoded[blob] = str(sts.decode_authorization_message(EncodedMessage=blob)["DecodedMessage"])
            except AWS_ERRORS as exc:  # not allowed or not decodable: the encoded text stays evidence
                reason = error_code(exc) or type(exc).__name__
                log.info("sts:DecodeAuthorizationMessage failed (%s): the encoded message stays as it is", reason)
                continue
    return decoded


def attach_decoded(events: list[dict[str, Any]], decoded: dict[str, str]) -> list[dict[str, Any]]:
    """Stack events with ``DecodedAuthorizationMessage`` added where their reason carries an encoded one."""
    out = []
    for event in events:
        reason = str(event.get("ResourceStatusReason", ""))
        blobs = [b for b in _ENCODED.findall(reason) if b in decoded]
        if blobs:
            event = dict(event, DecodedAuthorizationMessage=decoded[blobs[0]])
        out.append(event)
    return out

"""Typed evidence: what was denied (Denial) and what was used (Usage)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Cause(StrEnum):
    """Why a request was denied, as the failure text words it."""

    IDENTITY_NO_ALLOW = "identity-no-allow"
    EXPLICIT_DENY = "explicit-deny"
    SCP = "scp"
    RCP = "rcp"
    PERMISSIONS_BOUNDARY = "permissions-boundary"
    SESSION_POLICY = "session-policy"
    RESOURCE_POLICY = "resource-policy"
    VPC_ENDPOINT = "vpc-endpoint"
    TRUST_POLICY = "trust-policy"
    UNKNOWN = "unknown"

    @property
    def fixable_by_grant(self) -> bool:
        """Only a missing identity-based Allow is fixed by granting; an unknown cause may be."""
        return self in (Cause.IDENTITY_NO_ALLOW, Cause.UNKNOWN)

    @property
    def where_the_block_lives(self) -> str:
        return {
            Cause.IDENTITY_NO_ALLOW: "no identity-based policy of the principal allows it",
            Cause.EXPLICIT_DENY: "an explicit Deny in a policy that applies to the principal",
            Cause.SCP: "a service control policy of the AWS Organization",
            Cause.RCP: "a resource control policy of the AWS Organization",
            Cause.PERMISSIONS_BOUNDARY: "the principal's permissions boundary",
            Cause.SESSION_POLICY: "the session policy passed when the role was assumed",
            Cause.RESOURCE_POLICY: "the resource's own policy (bucket, key or queue policy)",
            Cause.VPC_ENDPOINT: "a VPC endpoint policy",
            Cause.TRUST_POLICY: "the trust policy of the role being assumed",
            Cause.UNKNOWN: "a policy the text does not name",
        }[self]


# Where a piece of evidence came from.
SOURCE_STACK_EVENT = "stack-event"
SOURCE_CLI = "cli-output"
SOURCE_CLOUDTRAIL = "cloudtrail"
SOURCE_TEXT = "text"


@dataclass(frozen=True, order=True)
class Denial:
    """One denied request.

    ``action`` is None when the text names none; then ``candidates`` lists the actions the knowledge base
    narrows it to (inferred, not read). ``resource`` is an ARN where one could be known, else the text's own
    wording. ``invoked_by`` is the service that made the call on the principal's behalf
    (``cloudformation.amazonaws.com``), when known.
    """

    action: str | None
    resource: str | None
    principal: str | None
    cause: Cause
    source: str
    raw: str = ""
    candidates: tuple[str, ...] = ()
    invoked_by: str | None = None
    session_name: str | None = None
    event_time: str | None = None

    @property
    def inferred(self) -> bool:
        return self.action is None and bool(self.candidates)

    def to_json(self) -> dict[str, Any]:
        """The reported shape (``iamfit explain --json``, discover reports): candidates only when there are."""
        out: dict[str, Any] = {
            "action": self.action,
            "resource": self.resource,
            "principal": self.principal,
            "cause": self.cause.value,
            "source": self.source,
        }
        if self.candidates:
            out["candidates"] = list(self.candidates)
        return out


@dataclass(frozen=True, order=True)
class Usage:
    """One successful request seen in CloudTrail."""

    action: str
    resource: str | None
    principal: str | None
    invoked_by: str | None = None
    session_name: str | None = None
    event_time: str | None = None

"""What a CloudTrail read returns: reduced rows, read statistics, and the progress callback type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from iamfit.evidence.model import SOURCE_CLOUDTRAIL, Cause, Denial, Usage

# callback(files_done, files_total, records_read); files_total is None while it is not known yet.
Progress = Callable[[int, "int | None", int], None]

# errorCode values that mean "the principal was not allowed", as services spell them.
DENIAL_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "Client.UnauthorizedOperation",
        "UnauthorizedOperation",
        "Client.AccessDenied",
        "UnauthorizedAccess",
        "AuthorizationError",
        "AuthorizationErrorException",
    }
)


@dataclass(frozen=True, order=True)
class SkippedFile:
    """A log file (or S3 object) that was not read, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class ReadStats:
    """Counts of one read. ``bad_records`` lack eventTime, eventSource, eventName or userIdentity.

    ``first_event`` / ``last_event``: the eventTime of the first and last matched record (the principal's, in
    the window): the time the read actually covers, which may be much less than the window asked for.
    """

    files_read: int = 0
    files_skipped: tuple[SkippedFile, ...] = ()
    records: int = 0
    matched_records: int = 0
    bad_records: int = 0
    unmapped_events: tuple[str, ...] = ()
    first_event: str = ""
    last_event: str = ""

    @property
    def clean(self) -> bool:
        return not self.files_skipped and not self.bad_records

    def to_json(self) -> dict[str, Any]:
        """What was read and what was not, for reports (JSON, SARIF run properties)."""
        return {
            "records": self.records,
            "matched_records": self.matched_records,
            "bad_records": self.bad_records,
            "files_read": self.files_read,
            "files_skipped": [{"path": f.path, "reason": f.reason} for f in self.files_skipped],
            "first_event": self.first_event or None,
            "last_event": self.last_event or None,
        }

    def summary(self) -> str:
        """One line: records and files read, files skipped, the time covered."""
        text = f"read {self.records:,} record(s) in {self.files_read} file(s)"
        if self.files_skipped:
            text += f", skipped {len(self.files_skipped)} unreadable file(s)"
        if self.bad_records:
            text += f", {self.bad_records} bad record(s)"
        text += f"; {self.matched_records:,} of the principal in the window"
        if self.first_event:
            text += f", covering {self.first_event} .. {self.last_event}"
        return text


def require_evidence(stats: ReadStats, source: str, principal: str | None, since: str | None,
                     until: str | None) -> None:
    """Raise BadInputError when the read gives nothing to judge by: no file could be read, no record was read,
    or no record of ``principal`` falls in the window. A verdict from such a read would be one from no evidence.
    """
    from iamfit.errors import BadInputError

    skipped = ""
    if stats.files_skipped:
        first = stats.files_skipped[0]
        skipped = f", {len(stats.files_skipped)} skipped (first: {first.path}: {first.reason})"
    if stats.records == 0 and stats.files_read == 0 and stats.files_skipped:
        raise BadInputError(f"nothing could be read from {source}: 0 file(s) read{skipped}; repair or remove "
                            "the unreadable files, or point --cloudtrail at readable logs")
    window = f"between {since or 'the start'} and {until or 'now'}"
    if stats.records == 0:
        raise BadInputError(f"no CloudTrail records {window} in {source} ({stats.files_read} file(s) read"
                            f"{skipped}); point --cloudtrail at the trail's logs, or check --since/--until")
    if stats.matched_records == 0:
        who = principal or "any principal"
        raise BadInputError(f"no CloudTrail records of {who} {window} in {source} ({stats.records:,} record(s) "
                            f"read in {stats.files_read} file(s){skipped}); check --principal (a role ARN "
                            "matches its sessions) and --since/--until")


@dataclass(frozen=True)
class TrailRow:
    """Distinct (principal, action, resource, invoked_by, error) with how often and when it was seen.

    ``resource`` is an ARN when the record names one (``resources[]``) or the request parameters let one be
    built; else None. ``events`` are the ``eventSource:eventName`` pairs that mapped to ``action``.
    """

    principal: str
    action: str
    resource: str | None
    invoked_by: str | None
    error_code: str | None
    count: int
    first_seen: str
    last_seen: str
    error_message: str | None = None
    events: tuple[str, ...] = field(default=(), compare=False)

    @property
    def denied(self) -> bool:
        return self.error_code in DENIAL_CODES

    def sort_key(self) -> tuple[str, ...]:
        """Stable ordering: principal, action, resource, invoked_by, error (None sorts first)."""
        return (
            self.principal,
            self.action,
            self.resource or "",
            self.invoked_by or "",
            self.error_code or "",
            self.error_message or "",
        )


@dataclass(frozen=True)
class TrailAggregate:
    """The reduced result of one read: sorted rows and the read's statistics."""

    rows: tuple[TrailRow, ...]
    stats: ReadStats

    def usages(self) -> tuple[Usage, ...]:
        """One Usage per successful row (calls that failed for other reasons are not usage)."""
        return tuple(
            Usage(
                action=row.action,
                resource=row.resource,
                principal=row.principal,
                invoked_by=row.invoked_by,
                event_time=row.last_seen,
            )
            for row in self.rows
            if row.error_code is None
        )

    def denials(self) -> tuple[Denial, ...]:
        """One Denial per denied row; the cause is read from AWS's errorMessage wording."""
        return tuple(
            Denial(
                action=row.action,
                resource=row.resource,
                principal=row.principal,
                cause=denial_cause(row.error_message or ""),
                source=SOURCE_CLOUDTRAIL,
                raw=row.error_message or "",
                invoked_by=row.invoked_by,
                event_time=row.last_seen,
            )
            for row in self.rows
            if row.denied
        )


def denial_cause(message: str) -> Cause:
    """The cause AWS's denial wording names (``... with an explicit deny in a service control policy``)."""
    text = message.lower()
    for needle, cause in (
        ("service control policy", Cause.SCP),
        ("resource control policy", Cause.RCP),
        ("permissions boundary", Cause.PERMISSIONS_BOUNDARY),
        ("session policy", Cause.SESSION_POLICY),
        ("vpc endpoint policy", Cause.VPC_ENDPOINT),
        ("resource-based policy", Cause.RESOURCE_POLICY),
        ("explicit deny", Cause.EXPLICIT_DENY),
        ("no identity-based policy allows", Cause.IDENTITY_NO_ALLOW),
    ):
        if needle in text:
            return cause
    return Cause.UNKNOWN

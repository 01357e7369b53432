"""Small helpers for AWS calls: error codes, and a clock/sleep pair tests can replace."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped,unused-ignore]
from botocore.parsers import ResponseParserError  # type: ignore[import-untyped,unused-ignore]

# What an AWS call raises: an error answer (ClientError, with a code), no answer (BotoCoreError: endpoint,
# credentials, timeouts), or an answer not in AWS's format. Anything else is a bug and reaches the CLI's handler.
AWS_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError, ResponseParserError)

THROTTLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"}
)


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def error_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Message", "")) or str(exc)
    return str(exc)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Clock:
    """Monotonic seconds, wall-clock time and sleep -- injected so tests run without waiting."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = field(default=_utcnow)


def iso(value: Any) -> Any:
    """A datetime as ISO 8601 text (as the AWS CLI prints it); anything else unchanged."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def jsonable(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: iso(v) for k, v in entry.items()}

"""Small CloudTrail fixtures for the trail tests: given_* helpers that write records the way AWS does."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
DEPLOY_ROLE = f"arn:aws:iam::{ACCOUNT}:role/deploy"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"


def record(
    source: str = "lambda.amazonaws.com",
    name: str = "CreateFunction20150331",
    *,
    when: str = "2026-10-02T10:00:00Z",
    who: str = "role",
    invoked_by: str | None = None,
    error: str | None = None,
    params: dict[str, Any] | None = None,
    resources: list[dict[str, str]] | None = None,
    region: str = "us-east-1",
) -> dict[str, Any]:
    if who == "role":
        identity: dict[str, Any] = {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/ci-1",
            "accountId": ACCOUNT,
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": DEPLOY_ROLE, "userName": "deploy"}},
        }
    else:
        identity = {"type": "IAMUser", "arn": USER, "accountId": ACCOUNT, "userName": "alice"}
    if invoked_by:
        identity["invokedBy"] = invoked_by
    out: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": when,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": invoked_by or "203.0.113.9",
        "requestParameters": params,
        "recipientAccountId": ACCOUNT,
    }
    if resources is not None:
        out["resources"] = resources
    if error:
        action = f"{source.split('.')[0]}:{name}"
        out["errorCode"] = error
        out["errorMessage"] = (
            f"User: {identity['arn']} is not authorized to perform: {action} on resource: * "
            f"because no identity-based policy allows the {action} action"
        )
    return out


def log_key(region: str = "us-east-1", day: str = "2026/10/02", n: int = 0, account: str = ACCOUNT) -> str:
    stamp = day.replace("/", "") + "T1005Z"
    return f"AWSLogs/{account}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_{stamp}_{n:04d}.json.gz"


def document(records: list[dict[str, Any]], compact: bool = True) -> bytes:
    """A log file's JSON: compact, as CloudTrail writes it (the engine stages these), or spaced (read whole)."""
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps({"Records": records}, separators=separators).encode()


def payload(records: list[dict[str, Any]], compact: bool = True) -> bytes:
    return gzip.compress(document(records, compact))


def given_log(root: Path, key: str, records: list[dict[str, Any]], compact: bool = True) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload(records, compact) if key.endswith(".gz") else document(records, compact))
    return path

"""Read any failure input (text or CloudTrail JSON) into denials, usage and the smallest fixing policy.

The library side of ``iamfit explain``: it never prints. Input detection:

* a folder, or a ``.gz`` file, is CloudTrail;
* text that parses as JSON and is CloudTrail-shaped (a record, ``{"Records": [...]}``, a list of records,
  or one record per line) is CloudTrail;
* text that *looks* like CloudTrail (``"eventSource"`` and ``"eventName"`` keys) but is not valid JSON is
  bad input (BadInputError) -- a truncated trail file must not read as "not a permission failure";
* anything else is failure text. Empty input and binary garbage are bad input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iamfit.errors import BadInputError
from iamfit.evidence.cloudtrail import (
    is_cloudtrail_shaped,
    load_cloudtrail_path,
    loads_cloudtrail,
    read_records,
)
from iamfit.evidence.failure_text import parse_failure_text
from iamfit.evidence.model import Denial, Usage
from iamfit.files import loads_json

__all__ = ["Explanation", "explain_input", "fix_policy"]


@dataclass(frozen=True)
class Explanation:
    permission_related: bool
    denials: tuple[Denial, ...]
    usage: tuple[Usage, ...]
    fix: dict[str, Any] | None
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "permission_related": self.permission_related,
            "denials": [d.to_json() for d in self.denials],
            "usage": [
                {"action": u.action, "resource": u.resource, "principal": u.principal} for u in self.usage
            ],
            "fix": self.fix,
        }


def explain_input(data: bytes | str | Path, *, origin: str = "input", catalog: Any = None) -> Explanation:
    """Read bytes/text (auto-detected) or a path (file or folder of CloudTrail) into an Explanation."""
    if isinstance(data, Path):
        return _from_evidence(load_cloudtrail_path(data), catalog)
    text = _decode(data, origin)
    if not text.strip():
        raise BadInputError(f"{origin}: the input is empty")
    records = _maybe_cloudtrail(text, origin)
    if records is not None:
        return _from_evidence(records, catalog)
    reading = parse_failure_text(text, catalog=catalog)
    return _finish(reading.permission_related, reading.denials, (), catalog)


def _decode(data: bytes | str, origin: str) -> str:
    if isinstance(data, str):
        text = data
    else:
        if data[:2] == b"\x1f\x8b":
            raise BadInputError(f"{origin}: gzip data; pass the .json.gz file by name")
        text = data.decode("utf-8", "replace")
    if "\x00" in text:
        raise BadInputError(f"{origin}: binary data, not text or JSON")
    sample = text[:65536]
    if sample:
        bad = sum(1 for c in sample if c == "\ufffd" or (ord(c) < 32 and c not in "\t\n\r\x1b\x0c"))
        if bad > max(8, len(sample) // 20):
            raise BadInputError(f"{origin}: binary data, not text or JSON")
    return text


def _looks_like_cloudtrail(text: str) -> bool:
    head = text[:20000]
    return ('"eventSource"' in head and '"eventName"' in head) or head.lstrip().startswith('{"Records"')


def _maybe_cloudtrail(text: str, origin: str) -> list[Denial | Usage] | None:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        obj = loads_json(stripped, origin)
    except BadInputError:  # not JSON, or nested too deeply: JSON lines, CloudTrail-like text, or failure text
        lines = [ln for ln in stripped.splitlines() if ln.strip()]
        if len(lines) > 1 and all(ln.lstrip().startswith("{") for ln in lines):
            try:
                objs = [loads_json(ln, origin) for ln in lines]
            except BadInputError:
                objs = []
            if objs and all(is_cloudtrail_shaped(o) and isinstance(o, dict) for o in objs):
                out: list[Denial | Usage] = []
                for o in objs:
                    out.extend(read_records(o))
                return out
        if _looks_like_cloudtrail(stripped):
            return loads_cloudtrail(stripped, origin)  # raises BadInputError with the JSON error
        return None
    if is_cloudtrail_shaped(obj):
        try:
            return read_records(obj)
        except BadInputError as exc:
            raise BadInputError(f"{origin}: {exc.message}") from None
    if isinstance(obj, dict) and "Records" in obj:
        raise BadInputError(f"{origin}: Records is not a list of CloudTrail records")
    return None


def _from_evidence(evidence: Iterable[Denial | Usage], catalog: Any) -> Explanation:
    denials = tuple(e for e in evidence if isinstance(e, Denial))
    seen: set[tuple[str, str | None, str | None]] = set()
    usage: list[Usage] = []
    for e in evidence:
        if isinstance(e, Usage) and (e.action, e.resource, e.principal) not in seen:
            seen.add((e.action, e.resource, e.principal))
            usage.append(e)
    return _finish(bool(denials), denials, tuple(usage), catalog)


def _finish(
    permission_related: bool, denials: tuple[Denial, ...], usage: tuple[Usage, ...], catalog: Any
) -> Explanation:
    fix, notes = fix_policy(denials, catalog=catalog)
    return Explanation(permission_related, denials, usage, fix, notes)


def fix_policy(
    denials: Iterable[Denial], *, catalog: Any = None
) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    """The smallest identity policy that grants the grantable denials, and notes for a person.

    Only denials with a named action and a cause that granting can fix (identity-no-allow, unknown) are
    granted. Each action gets the denial's resource ARN; ``*`` when the resource is unknown, not an ARN, or
    the action takes no resource-level permissions. Actions with the same resources share a statement.
    """
    if catalog is None:
        from iamfit.knowledge.catalog import default_catalog

        catalog = default_catalog()
    by_action: dict[str, set[str]] = {}
    notes: list[str] = []
    for d in denials:
        if d.action is None:
            if d.candidates:
                notes.append(
                    "a denial names no action; the knowledge base narrows it to "
                    + ", ".join(d.candidates)
                    + " (inferred, not granted automatically)"
                )
            continue
        if not d.cause.fixable_by_grant:
            notes.append(
                f"{d.action}: blocked by {d.cause.where_the_block_lives}; adding an Allow will not help"
            )
            continue
        info = catalog.info(d.action)
        action = info.action if info else d.action
        resource = (
            d.resource if d.resource and d.resource.startswith("arn:") and " " not in d.resource else None
        )
        if info is not None and not info.supports_resource_level:
            resource = "*"
        if resource is None:
            resource = "*"
            notes.append(f'{action}: the resource is unknown, so the statement uses "*"; scope it if you can')
        by_action.setdefault(action, set()).add(resource)
    if not by_action:
        return None, tuple(dict.fromkeys(notes))
    groups: dict[tuple[str, ...], list[str]] = {}
    for action, resources in sorted(by_action.items()):
        res = ("*",) if "*" in resources else tuple(sorted(resources))
        groups.setdefault(res, []).append(action)
    statements = []
    for res, actions in sorted(groups.items(), key=lambda kv: (kv[1], kv[0])):
        statements.append(
            {
                "Effect": "Allow",
                "Action": actions[0] if len(actions) == 1 else sorted(actions),
                "Resource": res[0] if len(res) == 1 else list(res),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}, tuple(dict.fromkeys(notes))

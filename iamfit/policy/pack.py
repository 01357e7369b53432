"""Fit policy documents under IAM's size quotas without changing what they allow.

Quotas (IAM User Guide, "IAM and AWS STS quotas"; whitespace is not counted, as ``PolicyDocument.size()``
counts): a managed policy holds at most 6,144 characters and a role has at most 10 managed policies by
default; all inline policies of one role together hold at most 10,240 characters.

Identity-based policies attached to one principal are evaluated together, so moving statements between
documents never changes a decision. ``compact`` first merges statements without changing their meaning:
same effect, Resource and Condition -> one statement with the union of the actions; then same effect,
Action and Condition -> the union of the resources. (NotAction / NotResource statements are left alone:
their union is not a merge.) A merged statement keeps the Sid of the first statement merged into it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from iamfit.errors import EXIT_FINDINGS, IamfitError
from iamfit.policy.document import PolicyDocument, Statement

MANAGED_LIMIT = 6_144
INLINE_LIMIT = 10_240
MAX_MANAGED = 10

Kind = Literal["managed", "inline"]


class PolicyTooLargeError(IamfitError):
    """Even compacted and split, the policy does not fit IAM's size quotas."""

    exit_code = EXIT_FINDINGS


def _dedupe(values: tuple[str, ...], ignore_case: bool) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for v in values:
        seen.setdefault(v.lower() if ignore_case else v, v)
    return tuple(sorted(seen.values(), key=lambda v: (v.lower(), v)))


def _merge_by(statements: list[Statement], by_actions: bool) -> list[Statement]:
    """Merge statements that agree on everything but Action (by_actions) or Resource."""
    merged: dict[tuple[object, ...], Statement] = {}
    order: list[tuple[object, ...]] = []
    for s in statements:
        mergeable = bool(s.actions) and bool(s.resources)
        if by_actions:
            key: tuple[object, ...] = ("r", s.effect, s.resources, s.conditions)
        else:
            key = ("a", s.effect, _dedupe(s.actions, True), s.conditions)
        if not mergeable:
            key = ("keep", len(order))
        if key in merged:
            old = merged[key]
            if by_actions:
                merged[key] = replace(old, actions=_dedupe(old.actions + s.actions, True))
            else:
                merged[key] = replace(old, resources=_dedupe(old.resources + s.resources, False))
        else:
            merged[key] = s
            order.append(key)
    return [merged[k] for k in order]


def compact(document: PolicyDocument) -> PolicyDocument:
    """The same permissions in fewer, larger statements (duplicates dropped)."""
    statements = [
        replace(
            s,
            actions=_dedupe(s.actions, True),
            resources=_dedupe(s.resources, False),
            not_actions=_dedupe(s.not_actions, True),
            not_resources=_dedupe(s.not_resources, False),
        )
        for s in document.statements
    ]
    statements = _merge_by(_merge_by(statements, by_actions=True), by_actions=False)
    unique: dict[Statement, None] = {}
    for s in statements:
        unique.setdefault(s, None)
    return PolicyDocument(tuple(unique), document.version)


def _size(statement: Statement) -> int:
    return PolicyDocument((statement,)).size() - PolicyDocument(()).size()


def _split_statement(statement: Statement, budget: int) -> list[Statement]:
    """Split one statement along its Action (then Resource) list until each part fits ``budget``."""
    if _size(statement) <= budget:
        return [statement]
    # Splitting Action or Resource is a union; splitting NotAction / NotResource would not be.
    if len(statement.actions) > 1 or len(statement.resources) > 1:
        if len(statement.actions) > 1:
            half = len(statement.actions) // 2
            first = replace(statement, actions=statement.actions[:half])
            second = replace(statement, actions=statement.actions[half:])
        else:
            half = len(statement.resources) // 2
            first = replace(statement, resources=statement.resources[:half])
            second = replace(statement, resources=statement.resources[half:])
        second = replace(second, sid="")  # Sids stay unique within a document
        return _split_statement(first, budget) + _split_statement(second, budget)
    raise PolicyTooLargeError(
        f"one statement ({_size(statement)} characters, Sid {statement.sid or '-'}) is larger than "
        f"the {budget}-character room of one policy and cannot be split"
    )


def pack(document: PolicyDocument, *, kind: Kind) -> tuple[PolicyDocument, ...]:
    """Documents that together allow exactly what ``document`` allows, each within the quota of ``kind``.

    ``managed``: up to 10 documents of at most 6,144 characters each. ``inline``: one document of at most
    10,240 characters (the quota is for all inline policies of a role together, so splitting does not
    help). A document that already fits is returned as it is; a larger one is compacted, then split.
    Raises PolicyTooLargeError when that is impossible.
    """
    if kind not in ("managed", "inline"):
        raise ValueError(f"unknown policy kind {kind!r}")
    limit = MANAGED_LIMIT if kind == "managed" else INLINE_LIMIT
    if document.size() <= limit:
        return (document,)  # fits as written: keep the author's statements untouched
    compacted = compact(document)
    if kind == "inline":
        if compacted.size() > INLINE_LIMIT:
            raise PolicyTooLargeError(
                f"the inline policy needs {compacted.size()} characters after compaction; a role's inline "
                f"policies may hold {INLINE_LIMIT} in total -- use managed policies"
            )
        return (compacted,)
    if compacted.size() <= MANAGED_LIMIT:
        return (compacted,)
    empty = PolicyDocument((), document.version).size()
    budget = MANAGED_LIMIT - empty - 1  # one comma between statements
    pieces = [p for s in compacted.statements for p in _split_statement(s, budget)]
    # First fit decreasing; within a document statements keep their original order.
    order = sorted(range(len(pieces)), key=lambda i: (-_size(pieces[i]), i))
    bins: list[list[int]] = []
    used: list[int] = []
    for i in order:
        cost = _size(pieces[i]) + 1
        for b, room in enumerate(used):
            if room + cost <= MANAGED_LIMIT - empty + 1:
                bins[b].append(i)
                used[b] += cost
                break
        else:
            bins.append([i])
            used.append(cost)
    if len(bins) > MAX_MANAGED:
        raise PolicyTooLargeError(
            f"the policy needs {len(bins)} managed policies of {MANAGED_LIMIT} characters after compaction; "
            f"a role may have {MAX_MANAGED} -- scope it down or request a quota increase"
        )
    bins.sort(key=min)
    return tuple(PolicyDocument(tuple(pieces[i] for i in sorted(b)), document.version) for b in bins)


@dataclass(frozen=True)
class SizeReport:
    """How one document fits IAM's size quotas: what ``generate``, ``replay`` and ``audit`` report."""

    size: int
    managed: int | None  # managed policies it packs into (1: fits as written); None: it cannot be packed
    inline: bool  # fits a role's inline quota (after compaction)
    problem: str | None = None  # why it cannot be packed

    @property
    def fits(self) -> bool:
        """Fits as one managed policy, as written."""
        return self.size <= MANAGED_LIMIT

    @property
    def verdict(self) -> str:
        if self.fits:
            return "fits"
        if self.managed is None:
            return "too large for IAM even packed"
        parts = f"packs into {self.managed} managed policies"
        return f"inline only, or {parts}" if self.inline else f"needs packing: {parts}"

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "managed_policies": self.managed, "fits_inline": self.inline,
                "problem": self.problem}


def size_report(document: PolicyDocument) -> SizeReport:
    """The document's size against the managed (6,144) and inline (10,240) quotas, and how ``pack`` splits it."""
    size = document.size()
    if size <= MANAGED_LIMIT:
        return SizeReport(size, 1, True)
    inline = compact(document).size() <= INLINE_LIMIT
    try:
        return SizeReport(size, len(pack(document, kind="managed")), inline)
    except PolicyTooLargeError as exc:
        return SizeReport(size, None, inline, exc.message)

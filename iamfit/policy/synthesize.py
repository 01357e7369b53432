"""Needs → policy documents: one per principal, scoped, grouped, deterministic, with Sids."""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from collections.abc import Iterable

from iamfit.needs import Condition, Need
from iamfit.policy.document import PolicyDocument, Statement


def _condition_block(
    conditions: tuple[Condition, ...],
) -> tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...]:
    by_op: dict[str, dict[str, tuple[str, ...]]] = defaultdict(dict)
    for op, key, values in conditions:
        by_op[op][key] = tuple(sorted(set(by_op[op].get(key, ()) + values)))
    return tuple(sorted((op, tuple(sorted(keys.items()))) for op, keys in by_op.items()))


def _covered(resource: str, others: Iterable[str]) -> bool:
    """True when another pattern of the same grant matches every ARN ``resource`` matches.

    With ``*`` as the only wildcard, pattern P is within pattern O exactly when O, as a glob, matches
    P's text (each ``*`` of P is absorbed by a ``*`` of O)."""
    return any(o != resource and "?" not in o and "[" not in o and fnmatch.fnmatchcase(resource, o) for o in others)


def _sid(actions: tuple[str, ...], index: int) -> str:
    services = sorted({a.split(":")[0] for a in actions})
    name = "".join(re.sub(r"[^A-Za-z0-9]", "", s).capitalize() for s in services)[:40]
    return f"{name}{index}"


def synthesize(needs: Iterable[Need], principal: str) -> PolicyDocument:
    """The policy that grants exactly ``needs`` of one principal: actions grouped by (resources, conditions)."""
    grants: dict[tuple[str, tuple[Condition, ...]], set[str]] = defaultdict(set)
    spelled: dict[str, str] = {}
    for need in needs:
        if need.principal != principal:
            continue
        key = need.action.lower()
        spelled.setdefault(key, need.action)
        grants[(key, tuple(sorted(need.conditions)))].add(need.resource)
    by_target: dict[tuple[tuple[str, ...], tuple[Condition, ...]], set[str]] = defaultdict(set)
    for (action, conditions), resources in grants.items():
        kept: tuple[str, ...] = tuple(sorted(r for r in resources if not _covered(r, resources)))
        if "*" in kept:
            kept = ("*",)
        by_target[(kept, conditions)].add(spelled[action])
    statements = []
    ordered = sorted(by_target.items(), key=lambda kv: (sorted(kv[1])[0].lower(), kv[0]))
    counters: dict[str, int] = defaultdict(int)
    for (targets, conditions), actions in ordered:
        acts = tuple(sorted(actions, key=str.lower))
        base = _sid(acts, 0)[:-1]
        counters[base] += 1
        statements.append(
            Statement(
                effect="Allow",
                actions=acts,
                resources=targets,
                conditions=_condition_block(conditions),
                sid=f"{base}{counters[base]}",
            )
        )
    return PolicyDocument(tuple(statements))

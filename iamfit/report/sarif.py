"""SARIF 2.1.0 for ``iamfit check`` and ``iamfit audit``, in the shape GitHub code scanning accepts: one builder.

One run; ``tool.driver.rules`` lists every rule a result uses (id, name, short/full description, helpUri,
``defaultConfiguration.level``, ``properties.tags``); each result has ruleId, ruleIndex, level, message and,
when the finding sits in a file, one physical location (a path relative to the repository root, ``uriBaseId``
``%SRCROOT%``, a 1-based line). ``partialFingerprints`` make a finding keep its identity across line moves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from iamfit import __version__
from iamfit.audit import AUDIT_RULES, AuditResult
from iamfit.check import CHECK_RULES, DEFAULT_FAIL_ON, CheckResult
from iamfit.findings import Finding, Rule
from iamfit.policy.lint import RULES as LINT_RULES
from iamfit.service.locate import policy_line, relative_path

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/iamfit/iamfit"
RULES: dict[str, Rule] = {**LINT_RULES, **CHECK_RULES, **AUDIT_RULES}


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.rule_id,
        "name": "".join(w.capitalize() for w in "".join(c if c.isalnum() else " " for c in rule.title).split()),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description},
        "helpUri": rule.help_uri,
        "help": {"text": rule.description},
        "defaultConfiguration": {"level": rule.level.sarif},
        "properties": {"tags": ["security", "iam", rule.kind]},
    }


def _uri(path: str, root: Path) -> str:
    rel = relative_path(path, root)
    return Path(rel).resolve().as_uri() if Path(rel).is_absolute() else rel


def _fingerprint(f: Finding) -> str:
    key = "\0".join((f.rule_id, f.principal, f.action.lower(), f.resource, f.policy, f.sid))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _result(f: Finding, index: int, failing: bool, root: Path) -> dict[str, Any]:
    level = f.level.sarif if failing else "note"
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": index,
        "level": level,
        "kind": "fail" if level != "note" else "review" if f.accepted else "informational",
        "message": {"text": f.message},
    }
    if f.path:
        uri = _uri(f.path, root)
        location: dict[str, Any] = {"artifactLocation": {"uri": uri}, "region": {"startLine": max(1, f.line)}}
        if not uri.startswith("file:"):
            location["artifactLocation"]["uriBaseId"] = "%SRCROOT%"
        result["locations"] = [{"physicalLocation": location}]
    result["partialFingerprints"] = {"iamfitFinding/v1": _fingerprint(f)}
    result["properties"] = {
        **({"principal": f.principal} if f.principal else {}),
        "action": f.action,
        "resource": f.resource,
        "findingKind": f.kind,
        **({"reason": f.reason} if f.reason else {}),
        **({"knowledgeSource": f.source} if f.source else {}),
        **({"policy": f.policy} if f.policy else {}),
        **({"suggestion": list(f.suggestion)} if f.suggestion else {}),
        **({"accepted": True} if f.accepted else {}),
    }
    return result


def sarif_log(
    findings: Sequence[Finding],
    *,
    failing: Callable[[Finding], bool],
    root: Path,
    properties: dict[str, Any],
    automation_id: str | None = None,
    notifications: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The SARIF log of ``findings``: a finding for which ``failing`` is false gets level ``note``;
    ``notifications`` (tool execution notifications) make an ``invocations`` entry."""
    rule_ids = sorted({f.rule_id for f in findings})
    index = {rid: i for i, rid in enumerate(rule_ids)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "iamfit",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_rule(RULES[rid]) for rid in rule_ids],
            }
        },
    }
    if automation_id is not None:
        run["automationDetails"] = {"id": automation_id}
    run["results"] = [_result(f, index[f.rule_id], failing(f), root) for f in findings]
    if notifications is not None:
        run["invocations"] = [{"executionSuccessful": True, "toolExecutionNotifications": notifications}]
    run["properties"] = properties
    return {"$schema": SCHEMA, "version": VERSION, "runs": [run]}


def _dumps(log: dict[str, Any]) -> str:
    return json.dumps(log, indent=2, sort_keys=False) + "\n"


def to_sarif(result: CheckResult, fail_on: Iterable[str] = DEFAULT_FAIL_ON, root: Path | None = None) -> dict[str, Any]:
    """``check``'s SARIF log. Findings whose kind is not in ``fail_on`` (and accepted ones) get level ``note``."""
    fail_on = frozenset(fail_on)
    svc = result.service
    return sarif_log(
        result.findings,
        failing=lambda f: f.kind in fail_on and not f.accepted,
        root=root or Path.cwd(),
        automation_id=f"iamfit-check/{svc.name}/{svc.stage}/",
        properties={"service": svc.name, "stage": svc.stage, "region": svc.region, "summary": result.counts()},
    )


def render_sarif(result: CheckResult, fail_on: Iterable[str] = DEFAULT_FAIL_ON, root: Path | None = None) -> str:
    return _dumps(to_sarif(result, fail_on, root))


def audit_to_sarif(result: AuditResult, texts: Mapping[str, str], root: Path | None = None) -> dict[str, Any]:
    """``audit``'s SARIF log: every finding fails; a finding points into its policy file when ``texts`` (policy
    file path -> text) holds it; warnings and skipped CloudTrail files are tool execution notifications."""
    findings = [
        replace(f, path=f.policy, line=policy_line(texts[f.policy], f.action, f.sid)) if f.policy in texts else f
        for f in result.findings
    ]
    notifications: list[dict[str, Any]] = [{"level": "warning", "message": {"text": w}} for w in result.warnings]
    if result.stats is not None:
        notifications.extend({"level": "warning", "message": {"text": f"CloudTrail file skipped: {f.reason}"},
                              "locations": [{"physicalLocation": {"artifactLocation": {"uri": f.path}}}]}
                             for f in result.stats.files_skipped)
    return sarif_log(
        findings,
        failing=lambda f: True,
        root=root or Path.cwd(),
        notifications=notifications,
        properties={
            "cloudtrail": result.stats.to_json() if result.stats is not None else None,
            "notObservable": [{"action": n.action, "reason": n.reason, "policy": n.policy, "sid": n.sid}
                              for n in result.not_observable],
        },
    )


def render_audit_sarif(result: AuditResult, texts: Mapping[str, str], root: Path | None = None) -> str:
    return _dumps(audit_to_sarif(result, texts, root))

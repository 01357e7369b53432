"""SARIF 2.1.0 for ``iamfit check``, in the shape GitHub code scanning accepts.

One run; ``tool.driver.rules`` lists every rule a result uses (id, name, short/full description, helpUri,
``defaultConfiguration.level``, ``properties.tags``); each result has ruleId, ruleIndex, level, message and
one physical location (a path relative to the repository root, ``uriBaseId`` ``%SRCROOT%``, a 1-based
line). ``partialFingerprints`` make a finding keep its identity across line moves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from iamfit import __version__
from iamfit.check import CHECK_RULES, DEFAULT_FAIL_ON, CheckFinding, CheckResult, rule_kind
from iamfit.policy.lint import RULES as LINT_RULES
from iamfit.service.locate import relative_path

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/iamfit/iamfit"
LINT_HELP = "https://github.com/iamfit/iamfit/blob/main/docs/lint.md#"


def _rule(rule_id: str) -> dict[str, Any]:
    if rule_id in CHECK_RULES:
        r = CHECK_RULES[rule_id]
        title, description, help_uri, level = r.title, r.description, r.help_uri, r.level
    else:
        lr = LINT_RULES[rule_id]
        title, description = lr.title, lr.description
        help_uri = LINT_HELP + rule_id.lower()
        level = {"error": "error", "warning": "warning"}.get(lr.severity.value, "note")
    return {
        "id": rule_id,
        "name": "".join(w.capitalize() for w in "".join(c if c.isalnum() else " " for c in title).split()),
        "shortDescription": {"text": title},
        "fullDescription": {"text": description},
        "helpUri": help_uri,
        "help": {"text": description},
        "defaultConfiguration": {"level": level},
        "properties": {"tags": ["security", "iam", rule_kind(rule_id)]},
    }


def _uri(path: str, root: Path) -> str:
    rel = relative_path(path, root)
    return Path(rel).resolve().as_uri() if Path(rel).is_absolute() else rel


def _fingerprint(f: CheckFinding) -> str:
    key = "\0".join((f.rule_id, f.principal, f.action.lower(), f.resource, f.policy, f.sid))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def to_sarif(result: CheckResult, fail_on: Iterable[str] = DEFAULT_FAIL_ON, root: Path | None = None) -> dict[str, Any]:
    """The SARIF log. Findings whose kind is not in ``fail_on`` (and accepted ones) get level ``note``."""
    root = root or Path.cwd()
    fail_on = frozenset(fail_on)
    rule_ids = sorted({f.rule_id for f in result.findings})
    index = {rid: i for i, rid in enumerate(rule_ids)}
    results = []
    for f in result.findings:
        level = f.level if (f.kind in fail_on and not f.accepted) else "note"
        uri = _uri(f.path, root)
        location: dict[str, Any] = {"artifactLocation": {"uri": uri}, "region": {"startLine": max(1, f.line)}}
        if not uri.startswith("file:"):
            location["artifactLocation"]["uriBaseId"] = "%SRCROOT%"
        results.append(
            {
                "ruleId": f.rule_id,
                "ruleIndex": index[f.rule_id],
                "level": level,
                "kind": "fail" if level != "note" else "review" if f.accepted else "informational",
                "message": {"text": f.message},
                "locations": [{"physicalLocation": location}],
                "partialFingerprints": {"iamfitFinding/v1": _fingerprint(f)},
                "properties": {
                    "principal": f.principal,
                    "action": f.action,
                    "resource": f.resource,
                    "findingKind": f.kind,
                    **({"reason": f.reason} if f.reason else {}),
                    **({"knowledgeSource": f.source} if f.source else {}),
                    **({"policy": f.policy} if f.policy else {}),
                    **({"suggestion": list(f.suggestion)} if f.suggestion else {}),
                    **({"accepted": True} if f.accepted else {}),
                },
            }
        )
    svc = result.service
    return {
        "$schema": SCHEMA,
        "version": VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "iamfit",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule(rid) for rid in rule_ids],
                    }
                },
                "automationDetails": {"id": f"iamfit-check/{svc.name}/{svc.stage}/"},
                "results": results,
                "properties": {
                    "service": svc.name,
                    "stage": svc.stage,
                    "region": svc.region,
                    "summary": result.counts(),
                },
            }
        ],
    }


def render_sarif(result: CheckResult, fail_on: Iterable[str] = DEFAULT_FAIL_ON, root: Path | None = None) -> str:
    return json.dumps(to_sarif(result, fail_on, root), indent=2, sort_keys=False) + "\n"

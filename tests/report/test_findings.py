"""lint, check and audit report one Finding type, define one Rule type, and share one SARIF builder."""

from __future__ import annotations

import json
from pathlib import Path

from iamfit.audit import AUDIT_RULES, audit
from iamfit.check import CHECK_RULES
from iamfit.findings import Finding, Level, Rule
from iamfit.policy.document import PolicyDocument
from iamfit.policy.lint import RULES as LINT_RULES
from iamfit.policy.lint import lint
from iamfit.report.sarif import RULES, audit_to_sarif, render_audit_sarif, to_sarif
from tests.check.fixtures import REPO
from tests.check.test_sarif import failing_result

RISKY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
    {"Sid": "Queues", "Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
]}


def test_every_rule_is_one_rule_type_with_a_kind_and_a_help_page() -> None:
    assert RULES == {**LINT_RULES, **CHECK_RULES, **AUDIT_RULES}
    assert len(RULES) == len(LINT_RULES) + len(CHECK_RULES) + len(AUDIT_RULES)  # no id defined twice
    for rule in RULES.values():
        assert isinstance(rule, Rule) and isinstance(rule.level, Level)
        assert rule.kind in ("missing", "excess", "escalation", "lint", "unused-action", "over-broad-resource")
        assert rule.help_uri.startswith("https://github.com/iamfit/iamfit/blob/main/docs/")
    e001 = LINT_RULES["IAMFIT-E001"]
    assert e001.kind == "escalation" and e001.help_uri.endswith("#iamfit-e001")


def test_lint_check_and_audit_findings_are_one_type() -> None:
    doc = PolicyDocument.from_json(RISKY)
    linted = lint(doc)
    checked = failing_result().findings
    audited = audit([("p.json", doc)]).findings
    assert linted and checked and audited
    assert all(type(f) is Finding for f in (*linted, *checked, *audited))
    # the same lint finding, as check and audit report it: same rule, level, action, resource and statement
    passrole = next(f for f in linted if f.rule_id == "IAMFIT-E001")
    in_audit = next(f for f in audited if f.rule_id == "IAMFIT-E001")
    assert (in_audit.level, in_audit.action, in_audit.resource, in_audit.sid, in_audit.kind, in_audit.policy) == (
        passrole.level, passrole.action, passrole.resource, passrole.sid, "escalation", "p.json")
    assert {f.kind for f in audited} >= {"escalation", "unused-action"}


def test_audit_and_check_sarif_share_rules_and_result_shape(tmp_path: Path) -> None:
    """One builder: a rule both report is described the same way; audit results carry fingerprints."""
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(RISKY, indent=2))
    result = audit([(str(policy), PolicyDocument.from_json(RISKY))])
    audit_run = audit_to_sarif(result, {str(policy): policy.read_text()}, root=tmp_path)["runs"][0]
    check_run = to_sarif(failing_result(), root=REPO)["runs"][0]
    audit_rules = {r["id"]: r for r in audit_run["tool"]["driver"]["rules"]}
    check_rules = {r["id"]: r for r in check_run["tool"]["driver"]["rules"]}
    assert audit_rules["IAMFIT-E001"] == check_rules["IAMFIT-E001"]
    assert audit_rules["IAMFIT-A001"]["properties"]["tags"] == ["security", "iam", "unused-action"]
    assert audit_run["tool"]["driver"] == {**check_run["tool"]["driver"], "rules": audit_run["tool"]["driver"]["rules"]}
    for entry in audit_run["results"]:
        assert set(entry) == {"ruleId", "ruleIndex", "level", "kind", "message", "locations", "partialFingerprints",
                              "properties"}
        location = entry["locations"][0]["physicalLocation"]
        # the policy file lies under the root: a relative URI, as check writes it
        assert location["artifactLocation"] == {"uri": "p.json", "uriBaseId": "%SRCROOT%"}
        assert location["region"]["startLine"] > 1
    passrole = next(e for e in audit_run["results"] if e["ruleId"] == "IAMFIT-E001")
    assert passrole["level"] == "error" and passrole["kind"] == "fail"
    assert passrole["properties"] == {"action": "iam:PassRole", "resource": "*", "findingKind": "escalation",
                                      "policy": str(policy)}


def test_audit_sarif_points_at_a_policy_outside_the_root_with_a_file_uri(tmp_path: Path) -> None:
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(RISKY, indent=2))
    result = audit([(str(policy), PolicyDocument.from_json(RISKY))])
    log = json.loads(render_audit_sarif(result, {str(policy): policy.read_text()}, root=tmp_path / "elsewhere"))
    where = [e["locations"][0]["physicalLocation"]["artifactLocation"] for e in log["runs"][0]["results"]]
    assert where and all(w == {"uri": policy.as_uri()} for w in where)  # no %SRCROOT% base for an absolute file

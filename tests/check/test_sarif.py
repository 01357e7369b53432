"""SARIF 2.1.0 output validates against the schema and has what GitHub code scanning needs; github format."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from iamfit.check import CheckResult, Grants, PolicyInput, check_service
from iamfit.policy.document import PolicyDocument, Statement
from iamfit.report.formats import render_github, render_json, render_text
from iamfit.report.sarif import render_sarif, to_sarif
from iamfit.service.locate import KeyIndex, ServiceLocator, normalized_function_name, policy_line
from tests.check.fixtures import REPO, document, service

SCHEMA = json.loads((Path(__file__).parent / "sarif-2.1.0-subset.schema.json").read_text())


def failing_result() -> CheckResult:
    """rest-api with lambda:CreateFunction removed, ec2:RunInstances added and iam:PassRole on *."""
    doc = document("rest-api", "deployer")
    statements = []
    for s in doc.statements:
        kept = tuple(a for a in s.actions if a != "lambda:CreateFunction")
        if kept:
            statements.append(Statement(s.effect, kept, s.resources, conditions=s.conditions, sid=s.sid))
    statements += [
        Statement("Allow", ("ec2:RunInstances",), ("*",), sid="Extra"),
        Statement("Allow", ("iam:PassRole",), ("*",), sid="Risky"),
    ]
    broken = PolicyDocument(tuple(statements))
    origin = "policies/rest-api/deployer.json"
    return check_service(service("rest-api"), {"deployer": Grants((PolicyInput(origin, broken, broken.dumps()),))})


def test_sarif_validates_against_the_2_1_0_schema() -> None:
    log = to_sarif(failing_result(), root=REPO)
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.validate(log, SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def test_sarif_has_what_github_code_scanning_needs() -> None:
    result = failing_result()
    log = to_sarif(result, root=REPO)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert ids == sorted(set(ids)) and {"IAMFIT-C001", "IAMFIT-C002", "IAMFIT-E001"} <= set(ids)
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["helpUri"].startswith("https://")
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert len(run["results"]) == len(result.findings)
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        loc = res["locations"][0]["physicalLocation"]
        uri = loc["artifactLocation"]["uri"]
        assert not uri.startswith("/") and loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert (REPO / uri).is_file() and loc["region"]["startLine"] >= 1
        assert res["partialFingerprints"]["iamfitFinding/v1"]
    missing = [r for r in run["results"] if r["ruleId"] == "IAMFIT-C001"]
    assert missing and all(r["level"] == "error" for r in missing)
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in missing} == {
        "examples/rest-api/serverless.yml"
    }
    excess = next(r for r in run["results"] if r["ruleId"] == "IAMFIT-C002")
    assert excess["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "policies/rest-api/deployer.json"
    accepted = [r for r in run["results"] if r["properties"].get("accepted")]
    assert accepted and all(r["level"] == "note" for r in accepted)


def test_sarif_levels_follow_fail_on() -> None:
    log = to_sarif(failing_result(), fail_on=frozenset({"missing"}), root=REPO)
    levels = {r["ruleId"]: r["level"] for r in log["runs"][0]["results"]}
    assert levels["IAMFIT-C001"] == "error" and levels["IAMFIT-C002"] == "note" and levels["IAMFIT-E001"] == "note"


def test_every_format_is_deterministic() -> None:
    for render in (render_text, render_json, render_github):
        assert render(failing_result()) == render(failing_result())
    assert render_sarif(failing_result(), root=REPO) == render_sarif(failing_result(), root=REPO)


def test_github_annotations() -> None:
    lines = render_github(failing_result(), root=REPO).splitlines()
    assert lines[-1].startswith("FAIL: ")
    errors = [ln for ln in lines if ln.startswith("::error file=examples/rest-api/serverless.yml,line=")]
    assert errors and all(
        "title=IAMFIT-C001 missing::" in ln and "lambda%3ACreateFunction" not in ln.split("::")[2] for ln in errors
    )
    assert any(
        ln.startswith("::warning file=policies/rest-api/deployer.json,line=") and "ec2:RunInstances" in ln
        for ln in lines
    )
    assert not any("accepted" in ln for ln in lines[:-1])


def test_text_names_the_action_and_where_it_comes_from() -> None:
    text = render_text(failing_result())
    assert "MISSING (4)" in text and "lambda:CreateFunction" in text
    assert "needed by AWS::Lambda::Function CreateItemLambdaFunction" in text
    assert "examples/rest-api/serverless.yml:" in text and "(functions.createItem)" in text
    assert "EXCESS (2)" in text and "ec2:RunInstances is granted (Sid Extra) but no need uses it" in text
    assert "iam:PassRole granted on *, broader than needed; scope to arn:aws:iam::" in text
    assert "LINT (2) (reported, not failing: see --fail-on)" in text
    assert text.rstrip().endswith("FAIL: 4 missing, 2 excess, 3 escalation")


def test_key_index_and_anchors(tmp_path: Path) -> None:
    yml = tmp_path / "serverless.yml"
    yml.write_text(
        "service: s\n"
        "provider:\n  name: aws\n  iam:\n    deploymentRole: arn:aws:iam::1:role/r\n"
        "functions:\n  my-fn:\n    handler: h\n    events:\n      - http:\n          path: x\n"
        "  other_fn:\n    handler: h\n"
        "resources:\n  Resources:\n    Queue:\n      Type: AWS::SQS::Queue\n"
    )
    index = KeyIndex(yml.read_text())
    assert index.line("functions.my-fn") == 7 and index.line("resources.Resources.Queue") == 16
    assert index.line("functions.my-fn.events.http") is None  # inside a list item
    assert (
        normalized_function_name("my-fn") == "MyDashfn" and normalized_function_name("other_fn") == "OtherUnderscorefn"
    )
    locator = ServiceLocator(yml)
    assert locator.anchor("AWS::Lambda::Function MyDashfnLambdaFunction create") == "functions.my-fn"
    assert locator.anchor("AWS::Logs::LogGroup OtherUnderscorefnLogGroup create") == "functions.other_fn"
    assert locator.anchor("AWS::SQS::Queue Queue delete") == "resources.Resources.Queue"
    assert locator.anchor("AWS::ApiGateway::RestApi ApiGatewayRestApi create") == "functions"
    assert locator.anchor("serverless deploy: IAM.PassRole", "iam:PassRole") == "provider.iam.deploymentRole"
    assert locator.anchor("serverless deploy: S3.PutObject", "s3:PutObject") == "provider"
    assert locator.locate("AWS::SQS::Queue Queue delete").line == 16
    assert ServiceLocator(None).locate("anything").line == 1


@pytest.mark.parametrize(("sid", "line"), [("", 3), ("B", 6)])
def test_policy_line(sid: str, line: int) -> None:
    text = (
        '{\n "Statement": [\n  {"Sid": "A", "Action": "s3:GetObject"},\n  {"Sid": "x"},\n  {"Sid": "B",\n'
        '   "Action": "s3:GetObject"}]}'
    )
    assert policy_line(text, "s3:GetObject", sid) == line

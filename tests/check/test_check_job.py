"""iamfit.check: committed policies fit; removing any needed action is missing; extras are excess."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from iamfit.check import (
    DEFAULT_FAIL_ON,
    Grants,
    PolicyInput,
    ReportChoice,
    check_needs,
    check_service,
    choose_discover_report,
    concrete,
    read_discover_report,
    request_for,
    service_needs,
)
from iamfit.errors import BadInputError
from iamfit.needs import Need
from iamfit.policy.document import PolicyDocument, Statement
from tests.check.fixtures import EXAMPLES, document, policy_texts, service

SERVERLESS_YML = "serverless.yml"


def grants_for(name: str, docs: dict[str, PolicyDocument] | None = None) -> dict[str, Grants]:
    docs = docs or {p: document(name, p) for p in policy_texts(name)}
    return {p: Grants((PolicyInput(f"policies/{name}/{p}.json", d, d.dumps()),)) for p, d in docs.items()}


def without_action(doc: PolicyDocument, action: str) -> PolicyDocument:
    statements = []
    for s in doc.statements:
        kept = tuple(a for a in s.actions if a != action)
        if kept:
            statements.append(dataclasses.replace(s, actions=kept))
    return PolicyDocument(tuple(statements))


def with_statement(doc: PolicyDocument, statement: Statement) -> PolicyDocument:
    return PolicyDocument(doc.statements + (statement,))


@pytest.mark.parametrize("name", EXAMPLES)
def test_committed_policy_fits(name: str) -> None:
    result = check_service(service(name), grants_for(name))
    assert result.failing(DEFAULT_FAIL_ON) == ()
    assert result.counts()["missing"] == 0 and result.counts()["excess"] == 0
    for info in result.checked.values():
        assert info["needs"] > 0 and info["met"] == info["needs"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_removing_any_needed_action_is_missing_and_says_where_from(name: str) -> None:
    svc = service(name)
    docs = {p: document(name, p) for p in policy_texts(name)}
    _prediction, needs = service_needs(svc, separate="cloudformation" in docs)
    checked = 0
    for principal, doc in docs.items():
        for action in sorted(doc.actions()):
            broken = dict(docs, **{principal: without_action(doc, action)})
            result = check_needs(svc, needs, grants_for(name, broken))
            missing = [f for f in result.failing() if f.kind == "missing"]
            assert missing, f"{name}: removing {action} from {principal} went unnoticed"
            assert {f.action for f in missing} == {action}
            for f in missing:
                assert f.principal == principal
                assert action in f.message and f.reason and f.reason in f.message
                assert f.source  # the knowledge that said so
                assert f.path.endswith(SERVERLESS_YML) and f.line > 1
            checked += 1
    assert checked == sum(len(d.actions()) for d in docs.values())


@pytest.mark.parametrize("name", EXAMPLES)
def test_extra_unrelated_action_is_excess(name: str) -> None:
    doc = document(name, "deployer")
    extra = Statement("Allow", ("ec2:RunInstances",), ("*",), sid="Extra")
    result = check_service(
        service(name), dict(grants_for(name), **grants_for(name, {"deployer": with_statement(doc, extra)}))
    )
    excess = [f for f in result.failing() if f.kind == "excess"]
    assert [(f.rule_id, f.action, f.sid) for f in excess] == [("IAMFIT-C002", "ec2:RunInstances", "Extra")]
    text = with_statement(doc, extra).dumps()
    assert text.splitlines()[excess[0].line - 1].strip().startswith('"Action": "ec2:RunInstances"')
    assert result.failing(frozenset({"missing"})) == ()


def test_missing_need_points_at_its_function_in_serverless_yml() -> None:
    svc = service("rest-api")
    doc = document("rest-api", "deployer")
    broken = without_action(doc, "lambda:CreateFunction")
    result = check_service(svc, grants_for("rest-api", {"deployer": broken}))
    missing = [f for f in result.findings if f.kind == "missing"]
    lines = (Path(svc.source or ".") / SERVERLESS_YML).read_text().splitlines()
    anchors = {f.anchor for f in missing}
    assert anchors == {"functions.createItem", "functions.getItem", "functions.listItems", "functions.onItemChange"}
    for f in missing:
        function = f.anchor.split(".")[1]
        assert lines[f.line - 1].strip() == f"{function}:"
        assert f.source.startswith("registry:AWS::Lambda::Function")


def test_star_resource_is_broader_than_needed_with_the_needed_scope_suggested() -> None:
    doc = document("sqs-worker", "deployer")
    target = next(s for s in doc.statements if "sqs:CreateQueue" in s.actions)
    widened = PolicyDocument(
        tuple(dataclasses.replace(s, resources=("*",)) if s is target else s for s in doc.statements)
    )
    result = check_service(service("sqs-worker"), grants_for("sqs-worker", {"deployer": widened}))
    broad = [f for f in result.failing() if f.rule_id == "IAMFIT-C003"]
    assert len(broad) == 1 and broad[0].resource == "*"
    assert broad[0].suggestion == tuple(sorted(target.resources))
    assert not [f for f in result.findings if f.kind == "missing"]


def test_wildcard_action_pattern_broader_than_needed() -> None:
    doc = document("sqs-worker", "deployer")
    target = next(s for s in doc.statements if "sqs:CreateQueue" in s.actions)
    widened = with_statement(doc, Statement("Allow", ("sqs:*",), target.resources, sid="Wide"))
    result = check_service(service("sqs-worker"), grants_for("sqs-worker", {"deployer": widened}))
    pattern = [f for f in result.failing() if f.rule_id == "IAMFIT-C005"]
    assert len(pattern) == 1 and pattern[0].action == "sqs:*"
    assert set(pattern[0].suggestion) >= {"sqs:CreateQueue"}


def test_escalation_beyond_needs_fails_but_needed_escalation_is_accepted() -> None:
    doc = document("rest-api", "deployer")
    base = check_service(service("rest-api"), grants_for("rest-api"))
    assert base.counts()["accepted"] > 0 and all(f.level.sarif == "note" for f in base.findings if f.accepted)
    risky = with_statement(doc, Statement("Allow", ("iam:PassRole",), ("*",), sid="Risky"))
    result = check_service(service("rest-api"), grants_for("rest-api", {"deployer": risky}))
    escalation = [f for f in result.failing() if f.kind == "escalation"]
    assert {f.rule_id for f in escalation} >= {"IAMFIT-E001"}
    assert all(f.sid == "Risky" for f in escalation)
    assert result.failing(frozenset({"missing"})) == ()


def test_permissions_boundary_limits_what_is_met() -> None:
    doc = document("vpc-kms", "deployer")
    boundary = PolicyDocument((Statement("Allow", ("*",), ("*",)), Statement("Deny", ("kms:*",), ("*",))))
    grants = {"deployer": Grants((PolicyInput("p.json", doc, doc.dumps()),), PolicyInput("b.json", boundary))}
    result = check_service(service("vpc-kms"), grants)
    missing = [f for f in result.failing() if f.kind == "missing"]
    assert missing and all(f.action.startswith("kms:") for f in missing)
    assert all("(permissions-boundary)" in f.message for f in missing)
    assert result.checked["deployer"]["boundary"] == "b.json"


def test_passrole_needs_the_passed_to_service_context() -> None:
    need = Need(
        "deployer",
        "iam:PassRole",
        "arn:aws:iam::123456789012:role/r-*",
        "why",
        "src",
        (("StringEquals", "iam:PassedToService", ("cloudformation.amazonaws.com",)),),
    )
    request = request_for(need, "eu-west-1", via_cloudformation=False)
    assert request.resource == "arn:aws:iam::123456789012:role/r-x1"
    assert dict(request.context)["iam:passedtoservice"] == ("cloudformation.amazonaws.com",)
    assert dict(request.context)["aws:requestedregion"] == ("us-east-1",)  # IAM is global
    assert concrete("*") == "*"
    svc = service("deployment-role")
    wrong = PolicyDocument.from_json(
        json.loads(
            policy_texts("deployment-role")["deployer"].replace("cloudformation.amazonaws.com", "lambda.amazonaws.com")
        )
    )
    result = check_service(
        svc,
        grants_for(
            "deployment-role", {"deployer": wrong, "cloudformation": document("deployment-role", "cloudformation")}
        ),
    )
    assert [f.action for f in result.failing() if f.kind == "missing"] == ["iam:PassRole"]


def test_merged_mode_resource_work_carries_called_via_cloudformation() -> None:
    """Without a deploymentRole CloudFormation acts with the deployer's session: aws:CalledVia holds."""
    doc = document("sqs-worker", "deployer")
    only_via_cfn = PolicyDocument(
        tuple(
            dataclasses.replace(
                s, conditions=(("ForAnyValue:StringEquals", (("aws:CalledVia", ("cloudformation.amazonaws.com",)),)),)
            )
            if "sqs:CreateQueue" in s.actions
            else s
            for s in doc.statements
        )
    )
    result = check_service(service("sqs-worker"), grants_for("sqs-worker", {"deployer": only_via_cfn}))
    assert result.failing() == ()


def test_discover_report_adds_needs(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_text(
        json.dumps(
            {
                "service": "iamfit-sqs-worker",
                "stage": "dev",
                "region": "us-east-1",
                "account": "123456789012",
                "needs": [
                    {
                        "principal": "cloudformation",
                        "action": "sqs:TagQueue",
                        "resource": "arn:aws:sqs:us-east-1:123456789012:other-*",
                        "reason": "AWS::SQS::Queue JobsQueue create",
                        "source": "evidence:attempt-2",
                    }
                ]
            }
        )
    )
    choice = choose_discover_report(service("sqs-worker"), given=report, search=())
    assert choice.report is not None and choice.path == report
    result = check_service(service("sqs-worker"), grants_for("sqs-worker"), extra_needs=choice.needs)
    missing = [f for f in result.failing() if f.kind == "missing"]
    assert [(f.action, f.source, f.principal) for f in missing] == [("sqs:TagQueue", "evidence:attempt-2", "deployer")]


@pytest.mark.parametrize(
    "content",
    [
        "{",
        "[]",
        '{"needs": [{"action": 3}]}',
        '{"needs": [{"action": "a:b", "resource": "*", "principal": "x"}]}',
        '{"needs": [{"action": "a:b", "resource": "*", "conditions": ["x"]}]}',
        '{"needs": []}',
        '{"service": "s", "stage": "dev", "region": "us-east-1", "needs": []}',
        '{"service": "s", "stage": "", "region": "us-east-1", "account": null, "needs": []}',
        '{"service": "s", "stage": "dev", "region": 3, "account": null, "needs": []}',
    ],
)
def test_malformed_discover_report_is_bad_input(tmp_path: Path, content: str) -> None:
    report = tmp_path / "r.json"
    report.write_text(content)
    with pytest.raises(BadInputError):
        read_discover_report(report)


def _report(tmp_path: Path, **identity: str | None) -> Path:
    path = tmp_path / ".iamfit" / "reports" / "iamfit-sqs-worker.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    base: dict[str, str | None] = {"service": "iamfit-sqs-worker", "stage": "dev", "region": "us-east-1",
                                   "account": "123456789012"}
    need = {"principal": "deployer", "action": "lambda:GetFunction",
            "resource": "arn:aws:lambda:us-east-1:*:function:iamfit-sqs-worker-dev-worker"}
    path.write_text(json.dumps({**base, **identity, "needs": [need]}))
    return path


def test_a_report_is_used_only_for_its_own_service_stage_region_and_account(tmp_path: Path) -> None:
    pinned = service("sqs-worker")  # account 123456789012
    assert pinned.account == "123456789012"
    path = _report(tmp_path)
    used = choose_discover_report(pinned, given=None, search=[tmp_path / "nowhere", tmp_path])
    assert used.report is not None and used.path == path and len(used.needs) == 1
    assert used.note == (
        f"added 1 needs from the discover report {path} (service iamfit-sqs-worker, stage dev, region us-east-1, "
        "account 123456789012)"
    )
    assert used.to_json() == {"path": str(path), "used": True, "note": used.note, "needs": 1}
    assert choose_discover_report(pinned, given=None, search=[tmp_path / "nowhere"]) == ReportChoice()

    _report(tmp_path, account=None)  # discover without --account: `*` in its ARNs
    ignored = choose_discover_report(pinned, given=None, search=[tmp_path])
    assert ignored.report is None and ignored.needs == () and ignored.path == path
    assert "it is for account * (no --account), the check for account 123456789012" in ignored.note
    assert "--account 123456789012" in ignored.note
    with pytest.raises(BadInputError, match="not for this check: it is for account"):
        choose_discover_report(pinned, given=path, search=())
    unpinned = dataclasses.replace(pinned, account=None)
    assert choose_discover_report(unpinned, given=None, search=[tmp_path]).report is not None

    _report(tmp_path)  # a pinned report is not for an unpinned check either
    assert "it is for account 123456789012, the check for account *" in choose_discover_report(
        unpinned, given=None, search=[tmp_path]
    ).note
    for key, value in (("stage", "prod"), ("region", "eu-west-1"), ("service", "other")):
        _report(tmp_path, **{key: value})
        choice = choose_discover_report(pinned, given=None, search=[tmp_path])
        assert choice.report is None and f"it is for {key} {value}, the check for {key} " in choice.note


def test_a_star_account_report_never_turns_a_pinned_grant_into_missing(tmp_path: Path) -> None:
    """The bug: the quick start's `*`-account needs, merged into a pinned check, were all "missing"."""
    pinned = service("sqs-worker")
    star = read_discover_report(_report(tmp_path, account=None))
    merged = check_service(pinned, grants_for("sqs-worker"), extra_needs=star.needs)
    assert any(f.action == "lambda:GetFunction" for f in merged.failing())  # what used to happen
    choice = choose_discover_report(pinned, given=None, search=[tmp_path])
    result = check_service(pinned, grants_for("sqs-worker"), extra_needs=choice.needs)
    assert result.failing() == ()


def test_policy_input_bad_files(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no such file"):
        PolicyInput.from_file(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"Statement": [{"Effect": "Allow", "Action": "s3", "Resource": "*"}]}')
    with pytest.raises(BadInputError, match="bad.json"):
        PolicyInput.from_file(bad)


def test_deployment_role_without_cfn_policy_checks_the_deployer_only_and_warns() -> None:
    result = check_service(service("deployment-role"), {"deployer": grants_for("deployment-role")["deployer"]})
    assert result.failing() == ()
    assert list(result.checked) == ["deployer"]
    assert any("--cfn-role-policy" in w for w in result.warnings)


def test_output_is_deterministic() -> None:
    doc = with_statement(document("http-api-jwt", "deployer"), Statement("Allow", ("s3:*", "ec2:*"), ("*",)))
    runs = [
        json.dumps(check_service(service("http-api-jwt"), grants_for("http-api-jwt", {"deployer": doc})).to_json())
        for _ in range(2)
    ]
    assert runs[0] == runs[1]

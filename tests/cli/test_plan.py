"""`iamfit plan`: exit codes, human and JSON output, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamfit.cli import cli
from iamfit.generate import generate_policies
from iamfit.service.model import load_service

# A hand-written template names no service, stage or region: say them (see docs/generate.md).
IDENTITY = ("--service", "svc", "--stage", "dev", "--region", "us-east-1")

ROOT = Path(__file__).resolve().parents[2]
REST = ROOT / "examples" / "rest-api"


@pytest.fixture(scope="module")
def rest_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    service = load_service(REST, account="123456789012")
    doc = generate_policies(service).policies["deployer"]
    path = tmp_path_factory.mktemp("policy") / "deployer.json"
    path.write_text(doc.dumps())
    return path


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_fitting_policy_exits_0(rest_policy: Path) -> None:
    code, out, _ = _run("plan", str(REST), "--policy", str(rest_policy), "--account", "123456789012")
    assert code == 0
    assert "The policy fits" in out
    for phase in ("create", "update", "remove"):
        assert f"\n{phase}" in out


def test_a_missing_action_exits_1_and_names_every_denial(rest_policy: Path, tmp_path: Path) -> None:
    raw = json.loads(rest_policy.read_text())
    for st in raw["Statement"]:
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        st["Action"] = [a for a in actions if a != "lambda:CreateFunction"] or ["lambda:GetAccountSettings"]
    smaller = tmp_path / "p.json"
    smaller.write_text(json.dumps(raw))
    code, out, _ = _run("plan", str(REST), "--policy", str(smaller), "--account", "123456789012", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["fits"] is False and data["denied_actions"] == ["lambda:CreateFunction"]
    create = data["phases"][0]
    assert create["phase"] == "create" and create["succeeded"] is False
    assert create["first_failure"].startswith("CREATE_FAILED ")
    functions = {d["where"] for d in create["denials"]}
    assert len(functions) == 4  # every path, not just the first
    assert create["stack_status"] == "UPDATE_ROLLBACK_COMPLETE"
    assert create["modeled_seconds"] > 0
    # later phases are still evaluated
    assert [p["phase"] for p in data["phases"]] == ["create", "update", "remove"]


def test_one_phase(rest_policy: Path) -> None:
    code, out, _ = _run("plan", str(REST), "--policy", str(rest_policy), "--phase", "remove", "--json")
    assert code == 0
    assert [p["phase"] for p in json.loads(out)["phases"]] == ["remove"]


def test_a_template_file(tmp_path: Path) -> None:
    template = tmp_path / "t.json"
    template.write_text(json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic",
                                                            "Properties": {"TopicName": "t"}}}}))
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["cloudformation:*", "s3:*", "sns:*", "ecr:DescribeRepositories"],
         "Resource": "*"}]}))
    code, out, err = _run("plan", str(template), *IDENTITY, "--policy", str(policy), "--json")
    assert code == 0, (out, err)
    assert json.loads(out)["account"] == "123456789012"


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ('{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringFoo": {"a": "b"}}}]}',
     "unknown condition operator"),
    ('{"Statement": "x"}', "Statement"),
])
def test_bad_policies_exit_3(tmp_path: Path, content: str, message: str) -> None:
    policy = tmp_path / "bad.json"
    policy.write_text(content)
    code, _, err = _run("plan", str(REST), "--policy", str(policy))
    assert code == 3
    assert message in err and "Traceback" not in err


def test_a_template_with_a_cycle_exits_3(tmp_path: Path, rest_policy: Path) -> None:
    template = tmp_path / "cycle.json"
    template.write_text(json.dumps({"Resources": {
        "A": {"Type": "AWS::SNS::Topic", "DependsOn": "B"},
        "B": {"Type": "AWS::SNS::Topic", "DependsOn": "A"},
    }}))
    code, _, err = _run("plan", str(template), *IDENTITY, "--policy", str(rest_policy))
    assert code == 3 and "circular" in err


def test_cfn_role_policy_without_a_deployment_role_plans_the_recommended_one(tmp_path: Path) -> None:
    """generate --split's two policies are planned as the split deploy (the recommended deploymentRole), said so."""
    policies = generate_policies(load_service(REST, account="123456789012"), split=True).policies
    (tmp_path / "d.json").write_text(policies["deployer"].dumps())
    (tmp_path / "c.json").write_text(policies["cloudformation"].dumps())
    code, out, _ = _run("plan", str(REST), "--policy", str(tmp_path / "d.json"),
                        "--cfn-role-policy", str(tmp_path / "c.json"), "--json")
    assert code == 0, out
    (note,) = json.loads(out)["notes"]
    assert "sets no deploymentRole" in note and ":role/iamfit-rest-api-dev-cfn-deployment" in note
    code, out, _ = _run("plan", str(REST), "--policy", str(tmp_path / "d.json"),
                        "--cfn-role-policy", str(tmp_path / "c.json"))
    assert code == 0 and "note: the service sets no deploymentRole: planned as if" in out
    # the CloudFormation policy really is the one evaluated: the deployer's alone no longer creates the stack
    code, out, _ = _run("plan", str(REST), "--policy", str(tmp_path / "d.json"),
                        "--cfn-role-policy", str(tmp_path / "d.json"), "--json")
    assert code == 1 and "lambda:CreateFunction" in json.loads(out)["denied_actions"]


def test_deployment_role_service_with_both_policies(tmp_path: Path) -> None:
    path = ROOT / "examples" / "deployment-role"
    policies = generate_policies(load_service(path, account="123456789012")).policies
    (tmp_path / "d.json").write_text(policies["deployer"].dumps())
    (tmp_path / "c.json").write_text(policies["cloudformation"].dumps())
    code, out, _ = _run("plan", str(path), "--policy", str(tmp_path / "d.json"),
                        "--cfn-role-policy", str(tmp_path / "c.json"))
    assert code == 0, out
    code, out, _ = _run("plan", str(path), "--policy", str(tmp_path / "d.json"))
    assert code == 1 and "no --cfn-role-policy" in out


def test_plan_takes_the_account_the_policy_is_pinned_to(tmp_path: Path) -> None:
    out = tmp_path / "p"
    sqs = ROOT / "examples" / "sqs-worker"
    generated = CliRunner().invoke(cli, ["generate", str(sqs), "--account", "111122223333", "--out", str(out)])
    assert generated.exit_code == 0
    result = CliRunner().invoke(cli, ["plan", str(sqs), "--policy", str(out / "deployer.json")])
    assert result.exit_code == 0, result.output
    assert "account 111122223333" in result.output

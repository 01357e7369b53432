"""`iamfit check`: exit codes, formats, live roles on moto, discover reports."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
from click.testing import CliRunner
from moto import mock_aws

from iamfit.cli import cli
from tests.check.fixtures import ACCOUNT, EXAMPLES, REPO, policy_texts, write_policies

IDENTITY = {"service": "iamfit-sqs-worker", "stage": "dev", "region": "us-east-1", "account": ACCOUNT}
SCHEMA = json.loads((REPO / "tests" / "check" / "sarif-2.1.0-subset.schema.json").read_text())


def run(*args: str | Path) -> Any:
    return CliRunner().invoke(cli, ["check", *map(str, args)], catch_exceptions=False)


def example_args(name: str, policies: dict[str, Path]) -> list[str | Path]:
    args: list[str | Path] = [REPO / "examples" / name, "--policy", policies["deployer"], "--account", ACCOUNT]
    if "cloudformation" in policies:
        args += ["--cfn-role-policy", policies["cloudformation"]]
    return args


def broken_policy(name: str, tmp_path: Path, drop: str = "", add: str = "") -> dict[str, Path]:
    policies = write_policies(name, tmp_path / "policies")
    doc = json.loads(policy_texts(name)["deployer"])
    for st in doc["Statement"]:
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        st["Action"] = [a for a in actions if a != drop]
    doc["Statement"] = [s for s in doc["Statement"] if s["Action"]]
    if add:
        doc["Statement"].append({"Sid": "Extra", "Effect": "Allow", "Action": add, "Resource": "*"})
    policies["deployer"].write_text(json.dumps(doc, indent=2))
    return policies


@pytest.mark.parametrize("name", EXAMPLES)
def test_committed_policies_exit_0(name: str, tmp_path: Path) -> None:
    result = run(*example_args(name, write_policies(name, tmp_path)), "--no-discover-report")
    assert result.exit_code == 0, result.output
    assert "OK: the policies fit the service" in result.output


def test_a_missing_action_exits_1_naming_it_and_where_it_comes_from(tmp_path: Path) -> None:
    result = run(*example_args("sqs-worker", broken_policy("sqs-worker", tmp_path, drop="sqs:CreateQueue")))
    assert result.exit_code == 1
    assert "MISSING" in result.output and "sqs:CreateQueue" in result.output
    assert "needed by AWS::SQS::Queue" in result.output and "serverless.yml:" in result.output


def test_an_extra_action_is_excess(tmp_path: Path) -> None:
    policies = broken_policy("vpc-kms", tmp_path, add="ec2:RunInstances")
    result = run(*example_args("vpc-kms", policies))
    assert result.exit_code == 1 and "EXCESS (1)" in result.output and "ec2:RunInstances" in result.output
    assert run(*example_args("vpc-kms", policies), "--fail-on", "missing").exit_code == 0
    assert run(*example_args("vpc-kms", policies), "--fail-on", "none").exit_code == 0


def test_json_sarif_github_formats(tmp_path: Path) -> None:
    policies = broken_policy("rest-api", tmp_path, drop="dynamodb:CreateTable", add="ec2:RunInstances")
    out = run(*example_args("rest-api", policies), "--format", "json")
    assert out.exit_code == 1
    data = json.loads(out.output)
    assert data["passed"] is False and data["summary"]["missing"] >= 1 and data["summary"]["excess"] == 1
    assert {f["action"] for f in data["findings"] if f["kind"] == "missing"} == {"dynamodb:CreateTable"}
    missing = next(f for f in data["findings"] if f["kind"] == "missing")
    assert missing["anchor"] == "resources.Resources.ItemsTable" and missing["source"].startswith("registry:")

    sarif_path = tmp_path / "out" / "check.sarif"
    out = run(*example_args("rest-api", policies), "--format", "sarif", "--output", sarif_path)
    assert out.exit_code == 1 and "FAIL:" in out.output  # the text summary still goes to stdout
    jsonschema.validate(json.loads(sarif_path.read_text()), SCHEMA)

    out = run(*example_args("rest-api", policies), "--format", "github")
    lines = out.output.splitlines()
    assert any(ln.startswith("::error file=") and "dynamodb:CreateTable" in ln for ln in lines)
    assert any(ln.startswith("::warning file=") and "ec2:RunInstances" in ln for ln in lines)


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["--fail-on", "bogus"], 2, "--fail-on takes"),
        (["--role-name", "r"], 2, "exactly one of --policy"),
    ],
)
def test_usage_errors(tmp_path: Path, args: list[str], code: int, text: str) -> None:
    policies = write_policies("sqs-worker", tmp_path)
    result = run(*example_args("sqs-worker", policies), *args)
    assert result.exit_code == code and text in result.output


def test_neither_policy_nor_role_is_a_usage_error() -> None:
    result = run(REPO / "examples" / "sqs-worker")
    assert result.exit_code == 2 and "exactly one of --policy" in result.output


@pytest.mark.parametrize("content", ["{not json", '{"Statement": [{"Effect": "Allow"}]}'])
def test_malformed_policy_exits_3_with_one_line(tmp_path: Path, content: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = run(REPO / "examples" / "sqs-worker", "--policy", bad)
    assert result.exit_code == 3
    assert result.output.strip().startswith("iamfit: error:") and "bad.json" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_policy_file_and_service_exit_3(tmp_path: Path) -> None:
    assert run(REPO / "examples" / "sqs-worker", "--policy", tmp_path / "nope.json").exit_code == 3
    assert run(tmp_path / "no-service", "--policy", tmp_path / "nope.json").exit_code == 3


# --- live roles --------------------------------------------------------------------------------------


@pytest.fixture
def iam() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("iam", region_name="us-east-1")


TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def make_live_role(iam: Any, name: str, policy_text: str, boundary_deny: str = "") -> None:
    """The policy split over an inline and an attached managed policy, under a permissions boundary."""
    doc = json.loads(policy_text)
    half = len(doc["Statement"]) // 2
    boundary: list[dict[str, Any]] = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    if boundary_deny:
        boundary.append({"Effect": "Deny", "Action": boundary_deny, "Resource": "*"})
    b = iam.create_policy(
        PolicyName=f"{name}-boundary", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": boundary})
    )["Policy"]["Arn"]
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, PermissionsBoundary=b)
    iam.put_role_policy(
        RoleName=name,
        PolicyName="inline",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": doc["Statement"][:half]}),
    )
    managed = iam.create_policy(
        PolicyName=f"{name}-managed",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": doc["Statement"][half:]}),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=managed)


def test_live_role_fits(iam: Any) -> None:
    make_live_role(iam, "ci-deployer", policy_texts("sqs-worker")["deployer"])
    result = run(REPO / "examples" / "sqs-worker", "--role-name", "ci-deployer", "--account", ACCOUNT)
    assert result.exit_code == 0, result.output
    assert "role/ci-deployer inline:inline" in result.output and "boundary role/ci-deployer boundary:" in result.output


def test_live_role_boundary_denial_is_missing(iam: Any) -> None:
    make_live_role(iam, "ci-deployer", policy_texts("sqs-worker")["deployer"], boundary_deny="sqs:DeleteQueue")
    result = run(
        REPO / "examples" / "sqs-worker", "--role-name", "ci-deployer", "--account", ACCOUNT, "--format", "json"
    )
    assert result.exit_code == 1
    data = json.loads(result.output)
    missing = [f for f in data["findings"] if f["kind"] == "missing"]
    assert {f["action"] for f in missing} == {"sqs:DeleteQueue"}
    assert all("(permissions-boundary)" in f["message"] for f in missing)


def test_live_deployer_and_cloudformation_roles(iam: Any) -> None:
    texts = policy_texts("deployment-role")
    make_live_role(iam, "ci-deployer", texts["deployer"])
    make_live_role(iam, "cfn-role", texts["cloudformation"])
    result = run(
        REPO / "examples" / "deployment-role",
        "--role-name",
        "ci-deployer",
        "--cfn-role-name",
        "cfn-role",
        "--account",
        ACCOUNT,
    )
    assert result.exit_code == 0, result.output
    assert "cloudformation" in result.output and "role/cfn-role" in result.output


def test_unknown_live_role_exits_4(iam: Any) -> None:
    result = run(REPO / "examples" / "sqs-worker", "--role-name", "nope", "--account", ACCOUNT)
    assert result.exit_code == 4 and "NoSuchEntity" in result.output


# --- discover reports ----------------------------------------------------------------------------------


def test_discover_report_is_found_and_can_be_turned_off(tmp_path: Path) -> None:
    service_dir = tmp_path / "svc"
    shutil.copytree(REPO / "examples" / "sqs-worker", service_dir, ignore=shutil.ignore_patterns("node_modules"))
    policies = write_policies("sqs-worker", tmp_path / "policies")
    reports = service_dir / ".iamfit" / "reports"
    reports.mkdir(parents=True)
    (reports / "iamfit-sqs-worker.json").write_text(
        json.dumps(
            {
                **IDENTITY,
                "needs": [
                    {
                        "principal": "cloudformation",
                        "action": "kms:Decrypt",
                        "resource": "arn:aws:kms:us-east-1:123456789012:key/*",
                        "reason": "found by discover",
                        "source": "evidence:attempt-1",
                    }
                ]
            }
        )
    )
    # a copy away from examples/node_modules: no installed CLI tells the Framework
    args = [service_dir, "--policy", policies["deployer"], "--account", ACCOUNT, "--framework", "osls"]
    result = run(*args)
    assert result.exit_code == 1 and "kms:Decrypt" in result.output and "evidence:attempt-1" in result.output
    assert f"iamfit: note: added 1 needs from the discover report {reports / 'iamfit-sqs-worker.json'}" in (
        result.stderr
    )
    assert run(*args, "--no-discover-report").exit_code == 0
    explicit = tmp_path / "elsewhere.json"
    explicit.write_text("{}")
    assert run(*args, "--discover-report", explicit).exit_code == 3


def test_a_quick_start_report_without_account_never_makes_a_pinned_check_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's quick start (discover without --account: `*` in the report's ARNs), then a check pinned
    to an account: the report is not for that account, so it is not used, and nothing is missing."""
    monkeypatch.chdir(tmp_path)
    service = str(REPO / "examples" / "rest-api")
    found = CliRunner().invoke(cli, ["discover", service, "--out", "out"])
    assert found.exit_code == 0, found.output
    report = Path(".iamfit/reports/iamfit-rest-api.json")
    assert json.loads(report.read_text())["account"] is None
    policies = write_policies("rest-api", tmp_path / "policies")
    result = run(service, "--policy", policies["deployer"], "--account", ACCOUNT)
    assert result.exit_code == 0, result.output
    assert "missing" not in result.stdout.lower() and "OK: the policies fit the service" in result.stdout
    notes = [line for line in result.stderr.splitlines() if "discover report" in line]
    assert notes == [
        f"iamfit: note: the discover report {report} is not used: it is for account * (no --account), the "
        f"check for account {ACCOUNT} (run `iamfit discover` with --account {ACCOUNT}, or pass "
        "--no-discover-report)"
    ]
    # the same holds when the account comes from the policy rather than --account
    inferred = run(service, "--policy", policies["deployer"])
    assert inferred.exit_code == 0 and "is not used: it is for account *" in inferred.stderr
    # discover's own `*`-account policies, checked without an account: the report is the check's, and used
    same = run(service, "--policy", "out/deployer.json", "--format", "json")
    assert same.exit_code == 0, same.output
    assert "iamfit: note: added " in same.stderr and f"from the discover report {report}" in same.stderr
    data = json.loads(same.stdout)
    assert data["discover_report"]["path"] == str(report) and data["discover_report"]["used"] is True


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [("stage", "prod", "stage prod"), ("region", "eu-west-1", "region eu-west-1"),
     ("account", "210987654321", "account 210987654321"), ("service", "other", "service other")],
)
def test_a_report_for_another_deploy_is_not_used(tmp_path: Path, key: str, value: str, shown: str) -> None:
    service_dir = tmp_path / "svc"
    shutil.copytree(REPO / "examples" / "sqs-worker", service_dir, ignore=shutil.ignore_patterns("node_modules"))
    policies = write_policies("sqs-worker", tmp_path / "policies")
    report = service_dir / ".iamfit" / "reports" / "iamfit-sqs-worker.json"
    report.parent.mkdir(parents=True)
    need = {"principal": "cloudformation", "action": "kms:Decrypt", "resource": "*", "reason": "r", "source": "s"}
    report.write_text(json.dumps({**IDENTITY, key: value, "needs": [need]}))
    # a copy away from examples/node_modules: no installed CLI tells the Framework
    args = [service_dir, "--policy", policies["deployer"], "--account", ACCOUNT, "--framework", "osls"]
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output  # kms:Decrypt would be missing, had the report been used
    assert f"iamfit: note: the discover report {report} is not used: it is for {shown}, the check for" in (
        result.stderr
    )
    assert json.loads(result.stdout)["discover_report"]["used"] is False
    given = run(*args, "--discover-report", report)
    assert given.exit_code == 3
    assert given.stderr.startswith(f"iamfit: error: {report}: discover report not for this check: it is for {shown}")
    assert len(given.stderr.splitlines()) == 1


def test_without_account_the_check_uses_the_account_the_policy_names(tmp_path: Path) -> None:
    out = tmp_path / "p"
    sqs = str(REPO / "examples" / "sqs-worker")
    generated = CliRunner().invoke(cli, ["generate", sqs, "--account", "111122223333", "--out", str(out)])
    assert generated.exit_code == 0
    result = CliRunner().invoke(cli, ["check", sqs, "--policy", str(out / "deployer.json")])
    assert result.exit_code == 0, result.output
    assert "using 111122223333" in result.stderr

"""``--framework`` in generate, plan, check and discover (issue 13 §1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamfit.cli import cli

from ..conftest import REPO

V1 = REPO / "tests" / "service" / "fixtures" / "identity" / "official-joke-api.json"
V4 = REPO / "tests" / "predict" / "fixtures" / "framework" / "v4-shared-bucket"
V4 = V4 / "cloudformation-template-update-stack.json"


def run(*args: str | Path):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, [str(a) for a in args])


def actions(policy: Path) -> set[str]:
    out: set[str] = set()
    for st in json.loads(policy.read_text())["Statement"]:
        out.update(st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    return out


def test_generate_reads_the_variant_and_framework_overrides_it(tmp_path: Path) -> None:
    told = run("generate", V4, "--account", "123456789012", "--out", tmp_path / "v4", "--report", tmp_path / "r.json")
    assert told.exit_code == 0, told.output
    assert {"ssm:GetParameter", "s3:CreateBucket"} <= actions(tmp_path / "v4" / "deployer.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["framework"]["variants"] == ["v4"] and report["framework"]["told"] is True
    forced = run("generate", V4, "--framework", "osls", "--account", "123456789012", "--out", tmp_path / "osls")
    assert forced.exit_code == 0, forced.output
    granted = actions(tmp_path / "osls" / "deployer.json")
    assert "ssm:GetParameter" not in granted and "cloudformation:CreateChangeSet" in granted
    v1 = run("generate", V1, "--framework", "v2", "--out", tmp_path / "v2", "--report", tmp_path / "r2.json")
    assert v1.exit_code == 0, v1.output
    assert json.loads((tmp_path / "r2.json").read_text())["framework"]["source"] == "--framework"
    assert "cloudformation:CreateChangeSet" not in actions(tmp_path / "v2" / "deployer.json")


def test_an_unknown_framework_is_a_usage_error(tmp_path: Path) -> None:
    result = run("generate", V4, "--framework", "v5", "--out", tmp_path)
    assert result.exit_code == 2 and "v5" in result.output


@pytest.mark.parametrize("command", ["generate", "plan", "check", "discover"])
def test_every_command_that_models_the_cli_takes_framework(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0 and "--framework [v1|v2|v3|v4|osls]" in result.output


def test_plan_with_framework_runs_that_cli(tmp_path: Path) -> None:
    generated = run("generate", V1, "--framework", "v1", "--account", "123456789012", "--out", tmp_path / "p")
    assert generated.exit_code == 0, generated.output
    policy = tmp_path / "p" / "deployer.json"
    assert run("plan", V1, "--policy", policy, "--framework", "v1", "--phase", "create").exit_code == 0
    # the same policy under osls lacks the change-set calls osls makes
    other = run("plan", V1, "--policy", policy, "--framework", "osls", "--phase", "create", "--json")
    assert other.exit_code == 1 and "cloudformation:CreateChangeSet" in other.output


def test_plan_says_when_it_cannot_tell_the_framework(tmp_path: Path) -> None:
    template = json.loads(V1.read_text())
    template["Resources"]["IamRoleLambdaExecution"]["Properties"]["RoleName"]["Fn::Join"][1][2] = {
        "Ref": "AWS::Region"}  # as Framework >= 1.42 writes it: nothing tells the variant
    path = tmp_path / "t.json"
    path.write_text(json.dumps(template))
    assert run("generate", path, "--region", "us-east-1", "--out", tmp_path / "p").exit_code == 0
    result = CliRunner().invoke(cli, ["plan", str(path), "--region", "us-east-1", "--policy",
                                      str(tmp_path / "p" / "deployer.json")])
    assert result.exit_code == 0, result.output
    assert "iamfit: warning: cannot tell which Serverless Framework deploys this service (nothing tells it" in (
        result.stderr)
    assert "the sandbox runs osls's calls" in result.stderr


def test_an_interrupted_discover_resumes_with_the_same_framework() -> None:
    from iamfit.discover_run import AwsAccess
    from iamfit.report.discover import resume_command

    command = resume_command(V1, "run-1", "sandbox", AwsAccess(), None, None, "json", None, "v2")
    assert command.endswith("--resume run-1 --framework v2")
    assert "--framework" not in resume_command(V1, "run-1", "sandbox", AwsAccess(), None, None, "json")

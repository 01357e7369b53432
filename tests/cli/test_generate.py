from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from iamfit.cli import cli

from ..conftest import EXAMPLES


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def test_generate_writes_policies_report_and_summary(tmp_path: Path) -> None:
    result = run(
        "generate",
        str(EXAMPLES / "sqs-worker"),
        "--account",
        "123456789012",
        "--out",
        str(tmp_path / "out"),
        "--report",
        str(tmp_path / "report.json"),
    )
    assert result.exit_code == 0, result.output
    assert "precision:" in result.output and "deployer" in result.output
    doc = json.loads((tmp_path / "out" / "deployer.json").read_text())
    assert doc["Version"] == "2012-10-17" and doc["Statement"]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["service"] == "iamfit-sqs-worker"
    reasons = report["principals"]["deployer"]["actions"]["sqs:CreateQueue"]
    assert reasons and all(r["source"].startswith("registry:AWS::SQS::Queue") for r in reasons)
    assert report["precision"]["iamfit_resource_actions"] < report["precision"]["registry_union_actions"]


def test_without_account_warns_and_uses_a_wildcard(tmp_path: Path) -> None:
    result = run("generate", str(EXAMPLES / "sqs-worker"), "--out", str(tmp_path))
    assert result.exit_code == 0
    assert "no --account given" in result.stderr
    assert ":*:function:" in (tmp_path / "deployer.json").read_text()


def test_commands_option_narrows_the_policy(tmp_path: Path) -> None:
    result = run(
        "generate",
        str(EXAMPLES / "sqs-worker"),
        "--account",
        "123456789012",
        "--commands",
        "info",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    actions = {
        a
        for s in json.loads((tmp_path / "deployer.json").read_text())["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions == {"cloudformation:DescribeStacks", "cloudformation:ListStackResources"}


def test_unknown_resource_type_is_a_warning(tmp_path: Path) -> None:
    template = tmp_path / "t.json"
    template.write_text(json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}, "X": {"Type": "AWS::Made::Up"}}}))
    result = run("generate", str(template), "--service", "s", "--stage", "dev", "--region", "us-east-1",
                 "--out", str(tmp_path / "o"))
    assert result.exit_code == 0
    assert "unknown resource type AWS::Made::Up" in result.stderr


def test_bad_input_is_one_line_and_exit_3(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("Resources: [unclosed\n")
    for args in (["generate", str(bad)], ["generate", str(tmp_path / "missing")], ["generate", str(tmp_path)]):
        result = run(*args)
        assert result.exit_code == 3, result.output
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("iamfit: error:")
        assert "Traceback" not in result.output


def test_bad_commands_is_bad_input() -> None:  # the README's exit-code table: "unknown command list" is 3
    result = run("generate", str(EXAMPLES / "sqs-worker"), "--commands", "fly")
    assert result.exit_code == 3 and "unknown: fly" in result.stderr


def test_format_renders_terraform_cloudformation_and_serverless(tmp_path: Path) -> None:
    for fmt, name, marker in (("terraform", "iamfit.tf", 'resource "aws_iam_policy"'),
                              ("cloudformation", "iamfit-roles.yml", "AWS::IAM::ManagedPolicy"),
                              ("serverless", "serverless-iam.yml", "deploymentRole")):
        out = tmp_path / fmt
        result = run("generate", str(EXAMPLES / "deployment-role"), "--format", fmt, "--out", str(out))
        assert result.exit_code == 0, result.output
        assert (out / "deployer.json").exists() and marker in (out / name).read_text()


def test_out_dir_drops_an_earlier_runs_outputs_and_keeps_other_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    sqs = str(EXAMPLES / "sqs-worker")
    first = run("generate", sqs, "--account", "123456789012", "--split", "--format", "terraform", "--out", str(out))
    assert first.exit_code == 0, first.output
    names = {p.name for p in out.iterdir()}
    assert names == {"deployer.json", "cloudformation.json", "iamfit.tf", ".iamfit-outputs.json"}
    (out / "NOTES.md").write_text("mine")
    second = run("generate", sqs, "--account", "123456789012", "--out", str(out))
    assert second.exit_code == 0, second.output
    assert {p.name for p in out.iterdir()} == {"deployer.json", "NOTES.md", ".iamfit-outputs.json"}
    assert "removed" in second.stderr and "cloudformation.json" in second.stderr
    assert json.loads((out / ".iamfit-outputs.json").read_text())["files"].keys() == {"deployer.json"}


def test_out_dir_with_outputs_iamfit_cannot_vouch_for_is_refused_before_writing(tmp_path: Path) -> None:
    sqs = str(EXAMPLES / "sqs-worker")
    legacy = tmp_path / "legacy"  # an iamfit output name, no manifest: an older run's, or someone's own
    legacy.mkdir()
    (legacy / "cloudformation.json").write_text("{}")
    refused = run("generate", sqs, "--account", "123456789012", "--out", str(legacy))
    assert refused.exit_code == 2 and refused.stderr.startswith("iamfit: error:")
    assert "cloudformation.json" in refused.stderr
    assert {p.name for p in legacy.iterdir()} == {"cloudformation.json"}

    edited = tmp_path / "edited"  # iamfit's own output, changed since
    assert run("generate", sqs, "--account", "123456789012", "--split", "--out", str(edited)).exit_code == 0
    (edited / "cloudformation.json").write_text("{}")
    refused = run("generate", sqs, "--account", "123456789012", "--out", str(edited))
    assert refused.exit_code == 2 and "cloudformation.json" in refused.stderr
    assert (edited / "cloudformation.json").read_text() == "{}"

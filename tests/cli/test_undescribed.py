"""A resource iamfit cannot describe is named by generate, plan and discover, in text and JSON: never silence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamfit.cli import cli

IDENTITY = ("--service", "svc", "--stage", "dev", "--region", "us-east-1", "--account", "123456789012")
RESOURCES = {
    "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
    # in the registry schemas, but with no handler permissions and no rule in iamfit.knowledge.unregistered
    "Mesh": {"Type": "AWS::AppMesh::Mesh", "Properties": {"MeshName": "m"}},
    # someone's own custom resource: its function's calls are not iamfit's knowledge
    "Seed": {"Type": "Custom::SeedTable",
             "Properties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:seeder"}},
    # described: no gap
    "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
}


@pytest.fixture
def template(tmp_path: Path) -> Path:
    path = tmp_path / "template.json"
    path.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": RESOURCES}))
    return path


def _named(entries: list[dict[str, str]]) -> dict[str, str]:
    return {e["logical_id"]: e["type"] for e in entries}


def test_generate_names_them_in_text_stderr_and_report(template: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["generate", str(template), *IDENTITY, "--out", str(tmp_path / "o"),
                                      "--report", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "not described: 2 resource(s)" in result.stdout
    assert "Mesh (AWS::AppMesh::Mesh): in the CloudFormation registry schemas without handler permissions" in (
        result.stdout)
    assert "Seed (Custom::SeedTable): custom resource" in result.stdout
    assert "resource type AWS::AppMesh::Mesh (Mesh)" in result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert _named(report["undescribed"]) == {"Mesh": "AWS::AppMesh::Mesh", "Seed": "Custom::SeedTable"}


def test_plan_names_them_in_text_and_json(template: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["generate", str(template), *IDENTITY, "--out", str(tmp_path / "o")]).exit_code == 0
    policy = str(tmp_path / "o" / "deployer.json")
    text = runner.invoke(cli, ["plan", str(template), *IDENTITY, "--policy", policy])
    assert text.exit_code == 0, text.output
    assert "Not verified: 2 resource(s)" in text.stdout and "Mesh (AWS::AppMesh::Mesh)" in text.stdout
    data = json.loads(runner.invoke(cli, ["plan", str(template), *IDENTITY, "--policy", policy, "--json"]).stdout)
    assert _named(data["unverified"]) == {"Mesh": "AWS::AppMesh::Mesh", "Seed": "Custom::SeedTable"}


def test_discover_names_them_in_text_and_report(template: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["discover", str(template), *IDENTITY, "--out", "out", "--report", "r.json"])
    assert result.exit_code == 0, result.output
    assert "Mesh (AWS::AppMesh::Mesh): in the CloudFormation registry schemas without handler permissions" in (
        result.stdout)
    report = json.loads((tmp_path / "r.json").read_text())
    assert _named(report["undescribed"]) == {"Mesh": "AWS::AppMesh::Mesh", "Seed": "Custom::SeedTable"}
    assert "Mesh" in _named(report["unverified"])


def test_a_discover_on_aws_names_them_too(template: Path, tmp_path: Path) -> None:
    """On AWS the run finds their needs; the summary still says iamfit's knowledge did not describe them."""
    import dataclasses

    from iamfit.discover import discover, report
    from iamfit.journal import Journal
    from iamfit.report.discover import summary
    from iamfit.service.model import load_service
    from iamfit.targets.sandbox import SandboxTarget

    service = load_service(template, service_name="svc", stage="dev", region="us-east-1", account="123456789012")
    done = discover(service, SandboxTarget(service, seed="test"), Journal.create(tmp_path))
    on_aws = dataclasses.replace(done, target="aws")  # what --target aws reports, without an AWS
    rep = report(on_aws)
    assert rep["unverified"] == [] and _named(rep["undescribed"]) == {"Mesh": "AWS::AppMesh::Mesh",
                                                                      "Seed": "Custom::SeedTable"}
    text = summary(on_aws, rep)
    assert "VERIFIED on aws" in text and "not described by iamfit's knowledge: 2 resource(s)" in text
    assert "  - Seed (Custom::SeedTable): custom resource" in text

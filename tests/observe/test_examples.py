"""Every example, observed with the real osls CLI (the pinned one in examples/node_modules) through create,
update and remove against the local AWS: complete (exit 0), every request resolved to an operation, and no
observed (action, resource) the predicted deployer policy does not allow. This turns the hand-written model of
the Framework's CLI (iamfit.predict.serverless_cli) into something checked against the real CLI.

Slow (node deploys, ~40-70 s an example): one observation per example."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamfit.cli import cli
from iamfit.evidence.cloudtrail import load_cloudtrail_path
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow

NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "serverless.yml").is_file())


def test_every_example_is_observed() -> None:
    assert NAMES == ["deployment-role", "http-api-jwt", "rest-api", "sqs-worker", "vpc-kms"]


@pytest.mark.parametrize("example", NAMES)
def test_observe_the_real_cli(example: str, tmp_path: Path) -> None:
    service = tmp_path / "examples" / example
    shutil.copytree(EXAMPLES / example, service)  # keeps mtimes: the committed package stays current
    (tmp_path / "examples" / "node_modules").symlink_to(EXAMPLES / "node_modules", target_is_directory=True)
    report, records = tmp_path / "report.json", tmp_path / "records.json"
    result = CliRunner().invoke(cli, ["observe", str(service), "--report", str(report), "--records", str(records)])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    doc = json.loads(report.read_text())
    assert doc["incomplete"] == []
    assert doc["unpredicted"] == [], json.dumps(doc["unpredicted"], indent=1)
    assert doc["cli"] == {"command": "npx osls deploy --stage {stage}", "version": "osls@4.3.1"}
    assert all(p["exit_code"] == 0 and p["calls"] > 0 for p in doc["phases"].values())
    assert list(doc["phases"]) == ["create", "update", "remove"]
    # every request is an operation botocore knows, and every call has an action (or needs none)
    assert all(c["operation"] and c["action"] for c in doc["calls"])
    assert {(d["service"], d["operation"]) for d in doc["dropped"]} == {("sts", "GetCallerIdentity")}
    # what the Framework does in each phase: deploy through CloudFormation, remove the stack
    operations = {(c["phase"], c["operation"]) for c in doc["calls"]}
    deploy = {"CreateChangeSet", "ExecuteChangeSet"} if "deploymentMethod: direct" not in (
        service / "serverless.yml").read_text() else {"CreateStack", "UpdateStack"}
    assert {("create", op) for op in deploy if op != "UpdateStack"} <= operations
    assert ("update", "PutObject") in operations and ("remove", "DeleteStack") in operations
    assert {c["source"] for c in doc["calls"]} == {"cli"}
    # the records are CloudTrail's: the shared reader takes them as they are
    assert load_cloudtrail_path(records)
    assert "unpredicted: none" in result.stdout

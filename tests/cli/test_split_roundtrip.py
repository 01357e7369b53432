"""What generate writes is accepted as is by plan and check: for every example, with --split, and for a policy
over a role's 10,240-character inline quota, which the JSON format splits into managed policies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from iamfit.cli import cli
from iamfit.policy.document import PolicyDocument
from iamfit.policy.pack import MANAGED_LIMIT

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.parent.name for p in (ROOT / "examples").glob("*/serverless.yml"))
ACCOUNT = ("--account", "123456789012")
BIG_IDENTITY = ("--service", "big", "--stage", "dev", "--region", "us-east-1", *ACCOUNT)


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _written(out: Path, principal: str) -> list[Path]:
    return sorted(out.glob(f"{principal}.json")) + sorted(out.glob(f"{principal}-*.json"), key=lambda p: p.name)


def _round_trip(source: Path, out: Path, *identity: str) -> None:
    """plan and check take generate's files as they are, each as one repeated option."""
    policies = [a for p in _written(out, "deployer") for a in ("--policy", str(p))]
    cfn = [a for p in _written(out, "cloudformation") for a in ("--cfn-role-policy", str(p))]
    checked = _run("check", str(source), *identity, *policies, *cfn, "--no-discover-report")
    assert checked.exit_code == 0, checked.output
    planned = _run("plan", str(source), *identity, *policies, *cfn, "--json")
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.stdout)["fits"] is True


@pytest.mark.parametrize("name", EXAMPLES)
def test_generate_split_round_trips_for_every_example(name: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    example = ROOT / "examples" / name
    result = _run("generate", str(example), *ACCOUNT, "--split", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert _written(tmp_path / "out", "cloudformation")
    _round_trip(example, tmp_path / "out", *ACCOUNT)


@pytest.fixture
def big_template(tmp_path: Path) -> Path:
    """210 named tables, queues and topics: every principal's policy is over the inline quota."""
    resources: dict[str, object] = {}
    for i in range(70):
        resources[f"Table{i}"] = {"Type": "AWS::DynamoDB::Table", "Properties": {
            "TableName": f"orders-table-number-{i}", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}}
        resources[f"Queue{i}"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"work-queue-number-{i}"}}
        resources[f"Topic{i}"] = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"events-topic-number-{i}"}}
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}))
    return path


@pytest.mark.parametrize("split", [False, True])
def test_a_policy_over_the_inline_quota_is_written_as_managed_policies_and_round_trips(
    big_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    args = ["generate", str(big_template), *BIG_IDENTITY, "--out", str(out), "--report", str(tmp_path / "r.json")]
    result = _run(*args, *(["--split"] if split else []))
    assert result.exit_code == 0, result.output
    principal = "cloudformation" if split else "deployer"
    pieces = _written(out, principal)
    assert [p.name for p in pieces] == [f"{principal}-{n}.json" for n in range(1, len(pieces) + 1)]
    assert len(pieces) >= 2 and not (out / f"{principal}.json").exists()
    docs = [PolicyDocument.from_text(p.read_text()) for p in pieces]
    assert all(d.size() <= MANAGED_LIMIT for d in docs)
    assert f"iamfit: note: the {principal} policy" in result.stderr and "over the 10240-character" in result.stderr
    files = json.loads((tmp_path / "r.json").read_text())["policy_files"][principal]
    assert files["files"] == [p.name for p in pieces] and "managed policies" in files["split"]
    assert ", ".join(str(p) for p in pieces) in result.stdout  # the summary names every file
    _round_trip(big_template, out, *BIG_IDENTITY)


def test_a_later_run_that_fits_removes_the_pieces(big_template: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run("generate", str(big_template), *BIG_IDENTITY, "--out", str(out)).exit_code == 0
    assert (out / "deployer-1.json").exists()
    small = tmp_path / "small.json"
    small.write_text(json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}))
    result = _run("generate", str(small), *BIG_IDENTITY, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("[!.]*.json")) == ["deployer.json"]

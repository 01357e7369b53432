"""``iamfit observe`` end to end with a small deploy command of our own (a Python script calling AWS with
boto3 through AWS_ENDPOINT_URL, as an SDK-based CLI or plugin does): fast, no node. The real osls runs are in
test_examples.py."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from iamfit import api
from iamfit.cli import cli
from tests.conftest import EXAMPLES

SCRIPT = """
import os, sys
import boto3
from botocore.exceptions import ClientError

env = os.environ
isolated = (env["HOME"] != {home!r} and env["AWS_ACCESS_KEY_ID"] not in ("testing", {key!r})
            and env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:") and "AWS_PROFILE" not in env
            and env["AWS_SHARED_CREDENTIALS_FILE"].startswith(env["HOME"]) and sys.argv[-2:] == ["--stage", "dev"])
if not isolated:
    sys.exit(5)
with open({marker!r}, "a") as out:
    print(env["HOME"], file=out)
phase = env["IAMFIT_PHASE"]
if phase == "create":
    try:
        boto3.client("cloudformation").describe_stacks(StackName="iamfit-sqs-worker-dev")
    except ClientError:
        pass
    try:  # what serverless-prune-plugin asks: the model of the Framework's CLI does not predict it
        boto3.client("lambda").list_aliases(FunctionName="iamfit-sqs-worker-dev-worker")
    except ClientError:
        pass
if phase == "update":
    try:
        boto3.client("cloudformation").describe_stacks(StackName="iamfit-sqs-worker-dev")
    except ClientError:
        pass
"""


@pytest.fixture
def service(tmp_path: Path) -> Path:
    copy = tmp_path / "sqs-worker"
    shutil.copytree(EXAMPLES / "sqs-worker", copy)  # keeps mtimes: the committed package stays current
    return copy


@pytest.fixture
def command(tmp_path: Path) -> str:
    script = tmp_path / "deploy.py"
    script.write_text(SCRIPT.format(home=os.environ.get("HOME", ""), key=os.environ.get("AWS_ACCESS_KEY_ID", ""),
                                    marker=str(tmp_path / "homes")))
    return f"{sys.executable} {script} --stage {{stage}}"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["observe", *map(str, args)])


def test_observe_records_every_call_and_reports_the_unpredicted_ones(service: Path, command: str,
                                                                     tmp_path: Path) -> None:
    handler = (service / "handler.js").read_text()
    report, records = tmp_path / "report.json", tmp_path / "records.json"
    result = run(service, "--deploy-command", command, "--remove-command", command, "--report", report,
                 "--records", records)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    doc = json.loads(report.read_text())
    assert doc["schema"] == "iamfit.observe/1" and doc["service"] == "iamfit-sqs-worker"
    assert doc["cli"] == {"command": command, "version": None}
    assert {p: v["exit_code"] for p, v in doc["phases"].items()} == {"create": 0, "update": 0, "remove": 0}
    assert [(c["phase"], c["operation"], c["action"], c["status"]) for c in doc["calls"]] == [
        ("create", "DescribeStacks", "cloudformation:DescribeStacks", 400),
        ("create", "ListAliases", "lambda:ListAliases", 404),
        ("update", "DescribeStacks", "cloudformation:DescribeStacks", 400),
    ]
    assert doc["unpredicted"] == [{
        "action": "lambda:ListAliases",
        "resource": "arn:aws:lambda:us-east-1:123456789012:function:iamfit-sqs-worker-dev-worker",
        "operation": "lambda:ListAliases", "phase": "create"}]
    assert doc["incomplete"] == []
    assert "lambda:ListAliases" in result.stdout and result.stdout.rstrip().endswith("COMPLETE")
    # the records are CloudTrail's shape: explain and replay read them as they are
    assert len(json.loads(records.read_text())["Records"]) == 3
    assert len(api.explain(records).usage) == 0  # error answers: CloudTrail's errorCode, no usage, no denial
    # the service itself is untouched: the update's code change was made to a copy
    assert (service / "handler.js").read_text() == handler
    # HOME was the run directory's, one for the three phases, and the run directory is gone
    homes = set((tmp_path / "homes").read_text().split())
    assert len(homes) == 1 and not Path(homes.pop()).exists()


def test_a_failing_phase_makes_the_observation_incomplete(service: Path, command: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = run(service, "--deploy-command", command, "--remove-command", "false", "--report", report)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    doc = json.loads(report.read_text())
    assert {p: v["exit_code"] for p, v in doc["phases"].items()} == {"create": 0, "update": 0, "remove": 1}
    assert doc["incomplete"] == ["remove: the command exited 1: (no output)"]
    assert "INCOMPLETE" in result.stdout


def test_a_failing_create_stops_before_update(service: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = run(service, "--deploy-command", "false", "--report", report)
    assert result.exit_code == 1
    assert list(json.loads(report.read_text())["phases"]) == ["create"]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["/no/such/service"], 3, "not a service directory"),
    (["{tmp}"], 3, "not a service directory"),
    (["{service}", "--deploy-command", "'unclosed"], 2, "--deploy-command: No closing quotation"),
    (["{service}", "--deploy-command", "iamfit-no-such-command-xyz"], 2, "deploy command not found"),
    (["{service}", "--account", "12"], 2, "--account must be a 12-digit AWS account id"),
])
def test_bad_input_is_one_error_line(service: Path, tmp_path: Path, args: list[str], code: int,
                                     message: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(*[a.format(tmp=empty, service=service) for a in args])
    assert result.exit_code == code, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("iamfit: error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie is dead, waiting for its reaper


def test_a_timeout_kills_the_whole_command_tree(service: Path, tmp_path: Path) -> None:
    from iamfit.observe.run import observe

    pid_file = tmp_path / "pid"
    command = f"sh -c 'sleep 60 & echo $! > {pid_file}; wait'"
    observation = observe(service, deploy_command=command, timeout_seconds=2)
    assert observation.incomplete == ["create: the command exited 124: iamfit: the command timed out after 2s"]
    assert not _alive(int(pid_file.read_text()))


def test_a_reach_adds_the_environment_the_cli_gets(service: Path, tmp_path: Path) -> None:
    """The hook the proxy mode uses: entered with the running local AWS and the run directory, exited after."""
    from collections.abc import Iterator, Mapping
    from contextlib import contextmanager

    from iamfit.observe.local_aws import LocalAws
    from iamfit.observe.run import observe

    seen: list[str] = []

    @contextmanager
    def reach(aws: LocalAws, run_dir: Path) -> Iterator[Mapping[str, str]]:
        seen.append(aws.endpoint_url)
        (run_dir / "ca.pem").write_text("ca")
        yield {"IAMFIT_TEST_CA": str(run_dir / "ca.pem")}
        seen.append("exited")

    command = "sh -c 'test -s \"$IAMFIT_TEST_CA\"'"
    observation = observe(service, deploy_command=command, remove_command=command, reach=reach)
    assert observation.complete, observation.incomplete
    assert seen[0].startswith("http://127.0.0.1:") and seen[1:] == ["exited"]

"""Bad input is one `iamfit: error:` line and exit 3 (2 for a usage error) in every command, never exit 70.

The cases of issue 12 §2 first (each exited 70 before), then the option values every command shares, then a fuzz
of every command that reads a file."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamfit.cli import cli

from ..conftest import EXAMPLES

REST = EXAMPLES / "rest-api"
ACCOUNT = "123456789012"
PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:role/deployer"
TINY = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "tiny-queue"}}}}
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
RUN_ID = "20261126T173000-ab12cd"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_one_error(result: Result, code: int) -> str:
    """Exit ``code``, stderr has exactly one `iamfit: error:` line and no traceback; that line is returned."""
    assert result.exit_code == code, (result.exit_code, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    errors = [line for line in result.stderr.splitlines() if line.startswith("iamfit: error: ")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return errors[0]


def nested(depth: int, kind: str) -> bytes:
    text = ('{"a":' * depth + "1" + "}" * depth) if kind == "dict" else ("[" * depth + "]" * depth)
    return text.encode("ascii")


# --- issue 12 §2, as reported -------------------------------------------------------------------------


def test_a_template_of_100000_nested_objects_is_bad_input(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_bytes(nested(100_000, "dict"))
    line = assert_one_error(run("generate", deep, "--out", tmp_path / "out"), 3)
    assert "deep.json: nested deeper than 100 levels" in line


ALIAS_BOMB = "\n".join(
    [f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}" if i else '"lol"'] * 9) + "]" for i in range(9)]
    + ["Resources:", "  B:", "    Type: AWS::S3::Bucket", "    Properties:", "      Tags: *i", ""]
)


@pytest.mark.parametrize(("text", "message"), [
    (ALIAS_BOMB, "YAML aliases"),
    ("Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      X: " + "[" * 100_000 + "]" * 100_000,
     "nested deeper than 100 levels"),
    ("Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      X: " + "[" * 150 + "]" * 150,
     "nested deeper than 100 levels"),
    ("Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n" + "".join(
        " " * (6 + 2 * i) + f"k{i}:\n" for i in range(5_000)) + " " * 10_006 + "v: 1\n",
     "nested deeper than 100 levels"),
], ids=["alias-bomb", "100000-levels", "150-levels", "5000-block-levels"])
def test_yaml_templates_that_explode_or_nest_too_deeply_are_bad_input(tmp_path: Path, text: str, message: str) -> None:
    template = tmp_path / "t.yml"
    template.write_text(text)
    assert message in assert_one_error(run("generate", template, "--out", tmp_path / "out"), 3)


@pytest.mark.parametrize("content", [bytes(range(256)) * 4, '{"Sid": "café"}'.encode("latin-1"),
                                     "{}".encode("utf-16")], ids=["random-bytes", "latin-1", "utf-16"])
def test_a_policy_that_is_not_utf8_is_bad_input(tmp_path: Path, content: bytes) -> None:
    policy = tmp_path / "p.json"
    policy.write_bytes(content)
    line = assert_one_error(run("plan", REST, "--policy", policy), 3)
    assert "p.json: not UTF-8 text" in line


@pytest.mark.parametrize("command", ["plan", "check"])
def test_a_policy_of_100000_nested_lists_is_bad_input(tmp_path: Path, command: str) -> None:
    policy = tmp_path / "p.json"
    policy.write_bytes(nested(100_000, "list"))
    line = assert_one_error(run(command, REST, "--policy", policy, "--account", ACCOUNT), 3)
    assert "p.json: nested deeper than 100 levels" in line


@pytest.mark.parametrize("command", ["plan", "check"])
def test_a_directory_given_as_a_policy_is_bad_input(tmp_path: Path, command: str) -> None:
    line = assert_one_error(run(command, REST, "--policy", tmp_path, "--account", ACCOUNT), 3)
    assert "is a directory, not a policy" in line


def _policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(ALLOW_ALL))
    return path


@pytest.mark.parametrize("command", ["generate", "plan", "check", "discover", "replay", "operator-policy",
                                     "observe"])
def test_an_unknown_region_is_a_usage_error_that_says_where_to_find_valid_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.chdir(tmp_path)
    args = _command_args(command, tmp_path) + ["--region", "mars-1"]
    line = assert_one_error(run(*args), 2)
    assert "unknown AWS region 'mars-1'" in line and "aws ec2 describe-regions" in line
    assert not (tmp_path / ".iamfit").exists()


def test_a_region_the_package_names_and_botocore_does_not_know_is_bad_input(tmp_path: Path) -> None:
    package = tmp_path / ".serverless"
    shutil.copytree(REST / ".serverless", package)
    state = json.loads((package / "serverless-state.json").read_text())
    state["service"]["provider"]["region"] = "mars-1"
    (package / "serverless-state.json").write_text(json.dumps(state))
    line = assert_one_error(run("generate", package, "--out", tmp_path / "out"), 3)
    assert "provider.region: unknown AWS region 'mars-1'" in line


@pytest.mark.parametrize(("region", "partition"), [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"),
                                                   ("us-iso-east-1", "aws-iso"), ("eu-west-1", "aws")])
def test_every_partition_s_regions_still_work_and_name_their_partition(
    tmp_path: Path, region: str, partition: str
) -> None:
    template = tmp_path / "t.json"
    template.write_text(json.dumps(TINY))
    result = run("generate", template, "--service", "tiny", "--stage", "dev", "--region", region, "--account", ACCOUNT,
                 "--out", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    arns = {r for s in json.loads((tmp_path / "out" / "deployer.json").read_text())["Statement"]
            for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]) if r.startswith("arn:")}
    assert arns and all(arn.startswith(f"arn:{partition}:") for arn in arns), arns


# --- the option values every command shares --------------------------------------------------------------


def _command_args(command: str, tmp_path: Path) -> list[str]:
    """A command line that would run, but for the option under test."""
    policy = str(_policy(tmp_path))
    out = str(tmp_path / "out")
    return {
        "generate": ["generate", str(REST), "--out", out],
        "plan": ["plan", str(REST), "--policy", policy],
        "check": ["check", str(REST), "--policy", policy, "--no-discover-report"],
        "discover": ["discover", str(REST), "--out", out],
        "replay": ["replay", "--cloudtrail", str(tmp_path), "--principal", PRINCIPAL, "--out", out],
        "operator-policy": ["operator-policy"],
        "observe": ["observe", str(REST), "--deploy-command", "false"],
    }[command]


@pytest.mark.parametrize("command", ["generate", "plan", "check", "discover", "replay", "operator-policy",
                                     "observe"])
@pytest.mark.parametrize("account", ["abc", "12345", "1234567890123", "１２３４５６７８９０１２"])
def test_a_malformed_account_is_a_usage_error_in_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, account: str
) -> None:
    monkeypatch.chdir(tmp_path)
    line = assert_one_error(run(*_command_args(command, tmp_path), "--account", account), 2)
    assert "--account must be a 12-digit AWS account id" in line


@pytest.mark.parametrize("command", ["generate", "check"])
@pytest.mark.parametrize("commands", ["deploy,frobnicate", "frobnicate", ",", ""])
def test_an_unknown_command_list_is_bad_input_in_every_command(tmp_path: Path, command: str, commands: str) -> None:
    line = assert_one_error(run(*_command_args(command, tmp_path), "--commands", commands), 3)
    assert "--commands takes a comma-separated list of deploy" in line


def test_every_command_taking_these_options_is_tested() -> None:
    """A command that gains --account, --region or --commands must join the tests above."""
    from iamfit.cli import COMMANDS

    ctx = click.Context(cli)
    takes: dict[str, set[str]] = {"--account": set(), "--region": set(), "--aws-region": set(), "--commands": set()}
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        for param in command.params:
            for option in takes:
                if option in getattr(param, "opts", ()):
                    takes[option].add(name)
    tested = {"generate", "plan", "check", "discover", "replay", "operator-policy", "observe"}
    assert takes["--account"] == tested and takes["--region"] == tested | {"cleanup"}
    assert takes["--aws-region"] == {"replay", "audit"} and takes["--commands"] == {"generate", "check"}


@pytest.mark.parametrize("args", [
    ["cleanup", "--region", "mars-1"],
    ["replay", "--cloudtrail", "lookup", "--principal", PRINCIPAL, "--aws-region", "mars-1"],
    ["audit", "--role-name", "r", "--cloudtrail", "lookup", "--aws-region", "mars-1"],
])
def test_an_unknown_aws_client_region_is_a_usage_error_before_any_aws_call(args: list[str]) -> None:
    line = assert_one_error(run(*args), 2)
    assert f"{args[-2]}: unknown AWS region 'mars-1'" in line


def test_help_lists_every_exit_code_with_70() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for code in ("0", "1", "2", "3", "4"):
        assert re.search(rf"^ +{code} +\S", result.stdout, re.M), result.stdout
    assert re.search(r"^ +70 +internal error .*IAMFIT_DEBUG=1", result.stdout, re.M), result.stdout


# --- fuzz: every command that reads a file ---------------------------------------------------------------

documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=12,
)
deep = st.builds(nested, st.integers(min_value=50, max_value=100_000), st.sampled_from(["list", "dict"]))


SHAPES = {
    "policy": '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": BODY, "Resource": "*"}]}',
    "trail": '{"Records": [{"eventVersion": "1.08", "eventSource": "s3.amazonaws.com", "eventName": "GetObject", '
             '"awsRegion": "us-east-1", "userIdentity": {"arn": "PRINCIPAL"}, "requestParameters": BODY}]}',
    "template": '{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": BODY}}}}',
    "journal": '{"kind": "run", "key": "run", "service": "tiny", "value": BODY}\n',
}


def _wrap(kind: str, inner: bytes) -> bytes:
    """A file of the right shape around ``inner`` (a JSON value), to reach past the shape checks."""
    return SHAPES[kind].replace("PRINCIPAL", PRINCIPAL).replace("BODY", inner.decode("ascii", "replace")).encode()


json_bytes = documents.map(lambda v: json.dumps(v).encode())
contents = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8")),
    st.text(min_size=1, max_size=40).map(lambda t: t.encode("utf-16")),
    deep,
    json_bytes,
    st.tuples(st.sampled_from(sorted(SHAPES)), deep | json_bytes).map(
        lambda kw: _wrap(*kw)),
)


def _setup(command: str, root: Path, data: bytes) -> list[str]:
    """Write ``data`` where ``command`` reads it; the command line."""
    (root / "tiny.json").write_text(json.dumps(TINY))
    (root / "policy.json").write_text(json.dumps(ALLOW_ALL))
    fuzz = root / "fuzz.json"
    fuzz.write_bytes(data)
    trail = root / "trail"
    trail.mkdir()
    if command in ("replay", "audit-trail"):
        (trail / "fuzz.json").write_bytes(data)
    else:
        (trail / "empty.json").write_text('{"Records": []}')
    out = str(root / "out")
    common = ["--principal", PRINCIPAL, "--since", "2020-01-01"]
    if command == "discover":
        journal = root / ".iamfit" / "runs" / RUN_ID / "journal.jsonl"
        journal.parent.mkdir(parents=True)
        journal.write_bytes(data)
    return {
        "generate": ["generate", str(fuzz), "--account", ACCOUNT, "--out", out],
        "plan": ["plan", str(root / "tiny.json"), "--policy", str(fuzz)],
        "check": ["check", str(root / "tiny.json"), "--policy", str(fuzz), "--no-discover-report",
                  "--account", ACCOUNT],
        "check-boundary": ["check", str(root / "tiny.json"), "--policy", str(root / "policy.json"), "--boundary",
                           str(fuzz), "--no-discover-report", "--account", ACCOUNT],
        "check-report": ["check", str(root / "tiny.json"), "--policy", str(root / "policy.json"),
                         "--discover-report", str(fuzz), "--account", ACCOUNT],
        "explain": ["explain", str(fuzz)],
        "replay": ["replay", "--cloudtrail", str(trail), *common, "--out", out],
        "audit-policy": ["audit", "--policy", str(fuzz), "--cloudtrail", str(trail), *common],
        "audit-trail": ["audit", "--policy", str(root / "policy.json"), "--cloudtrail", str(trail), *common],
        "discover": ["discover", str(root / "tiny.json"), "--account", ACCOUNT, "--resume", RUN_ID, "--out", out],
    }[command]


FUZZED: dict[str, int] = {"generate": 30, "plan": 20, "check": 20, "check-boundary": 15, "check-report": 15,
                          "explain": 30, "replay": 15, "audit-policy": 15, "audit-trail": 15, "discover": 10}


def _fuzz(command: str) -> Callable[[], None]:
    @settings(max_examples=FUZZED[command], deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=contents)
    def fuzz(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:  # the cwd's .iamfit/ and policies/ are the example's own
            cwd = Path.cwd()
            os.chdir(tmp)
            try:
                args = _setup(command, Path(tmp), data)
                result = CliRunner().invoke(cli, args)
            finally:
                os.chdir(cwd)
        assert result.exit_code in (0, 1, 3), (args, result.exit_code, result.stderr, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
        if result.exit_code == 3:
            errors = [line for line in result.stderr.splitlines() if line.startswith("iamfit: error: ")]
            assert len(errors) == 1, result.stderr

    return fuzz


@pytest.mark.parametrize("command", list(FUZZED))
def test_any_file_content_is_read_or_one_line_of_bad_input(command: str) -> None:
    _fuzz(command)()

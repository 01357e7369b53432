from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamfit.cli import cli

from ..conftest import EXAMPLES


def test_discover_on_the_sandbox_writes_verified_policies_and_a_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "discover",
            str(EXAMPLES / "http-api-jwt"),
            "--account",
            "123456789012",
            "--out",
            "out",
            "--report",
            "report.json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "VERIFIED" in result.stdout
    report = json.loads(Path("report.json").read_text())
    assert report["schema"] == "iamfit.discover/1" and report["verified"] is True
    assert report["totals"]["failed_attempts"] == 0
    assert report["totals"]["by_hand"]["attempts"] > report["totals"]["attempts"]
    assert set(report["phases"]["discover"]) == {"create", "update", "remove"}
    assert json.loads(Path("out/deployer.json").read_text())["Statement"]
    (run,) = Path(".iamfit/runs").iterdir()
    assert (run / "journal.jsonl").exists() and (run / "report.json").exists()


def test_a_stopped_loop_exits_1_and_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "discover",
            str(EXAMPLES / "sqs-worker"),
            "--account",
            "123456789012",
            "--from-scratch",
            "--max-attempts",
            "2",
            "--report",
            "r.json",
        ],
    )
    assert result.exit_code == 1
    assert "STOPPED (max-attempts)" in result.stdout and "--max-attempts" in result.stdout
    report = json.loads(Path("r.json").read_text())
    assert report["verified"] is False and report["stop"]["what_to_do"]
    assert not Path("policies").exists()  # nothing unverified is written as a policy


def test_aws_target_requires_an_account_guard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, ["discover", str(EXAMPLES / "sqs-worker"), "--account", "123456789012", "--target", "aws"]
    )
    assert result.exit_code == 2 and "--account-guard" in result.stderr


def test_bad_resume_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, ["discover", str(EXAMPLES / "sqs-worker"), "--account", "123456789012", "--resume", "nope"]
    )
    assert result.exit_code == 2 and result.stderr.startswith("iamfit: error:")


def test_check_adds_the_needs_of_the_last_verified_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    service = str(EXAMPLES / "sqs-worker")
    found = CliRunner().invoke(cli, ["discover", service, "--account", "123456789012", "--out", "out"])
    assert found.exit_code == 0, found.output
    assert Path(".iamfit/reports/iamfit-sqs-worker.json").is_file()
    checked = CliRunner().invoke(cli, ["check", service, "--policy", "out/deployer.json", "--account",
                                       "123456789012"])
    assert checked.exit_code == 0, checked.output
    assert "from the discover report" in checked.stderr


def test_aws_target_refuses_an_account_that_is_not_the_guarded_one(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        monkeypatch.chdir(tmp_path)
        endpoint = f"http://127.0.0.1:{port}"
        result = CliRunner().invoke(cli, ["discover", str(EXAMPLES / "sqs-worker"), "--target", "aws",
                                          "--endpoint-url", endpoint, "--account-guard", "111111111111"])
        assert result.exit_code == 2
        assert "refusing to create anything" in result.stderr
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
        assert iam.list_roles()["Roles"] == []
    finally:
        server.stop()


def test_the_aws_timing_and_consent_options_reach_the_target() -> None:
    from moto import mock_aws

    from iamfit.discover_run import AwsAccess, make_target
    from iamfit.service.model import load_service

    service = load_service(EXAMPLES / "sqs-worker", compile_if_needed=False)
    options = AwsAccess(account_guard="123456789012", settle_seconds=7.0, propagation_seconds=0.0,
                        skip_failed_rollback_resources=True)
    with mock_aws():
        target = make_target(service, "aws", "opts", options)
    assert target.harvester.settle_seconds == 7.0  # type: ignore[attr-defined]
    assert target.roles.propagation_seconds == 0.0  # type: ignore[attr-defined]
    assert target.deployer.skip_failed_rollback_resources is True  # type: ignore[attr-defined]


def test_an_endpoint_answer_not_in_aws_format_is_one_aws_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.parsers import ResponseParserError

    import iamfit.discover_run as discover_cli

    def crashing_endpoint(*args: object) -> None:  # what botocore raises on a moto server's HTML 500 page
        raise ResponseParserError(
            "Unable to parse response (syntax error: line 1, column 0), invalid XML received. Further retries may "
            "succeed:\nb'<!doctype html>\\n<title>500 Internal Server Error</title>'"
        )

    monkeypatch.setattr(discover_cli, "make_target", crashing_endpoint)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["discover", str(EXAMPLES / "sqs-worker"), "--target", "aws",
                                      "--account-guard", "123456789012"])
    assert result.exit_code == 4
    assert result.stderr.splitlines() == [
        "iamfit: AWS error: ResponseParserError: Unable to parse response (syntax error: line 1, column 0), invalid "
        "XML received. Further retries may succeed: (the endpoint's answer is not in AWS's format: see the "
        "endpoint's own log)"
    ]

def test_ctrl_c_prints_the_resume_command_and_resuming_needs_no_original_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (KeyboardInterrupt from the second attempt) names the run and the exact command to resume it;
    that command, without --account / --stage / --region, resumes with the journal's identity: no
    "no --account given" warning, the same policies as an uninterrupted run."""
    import shlex

    from iamfit import discover_run as discover_cli

    monkeypatch.chdir(tmp_path)
    args = ["discover", str(EXAMPLES / "sqs-worker"), "--account", "123456789012", "--from-scratch"]
    whole = CliRunner().invoke(cli, [*args, "--out", "whole"])
    assert whole.exit_code == 0, whole.output

    real_make_target = discover_cli.make_target

    def interrupting(*a, **k):  # type: ignore[no-untyped-def]
        target = real_make_target(*a, **k)
        real_attempt, calls = target.attempt, []

        def attempt(*aa, **kk):  # type: ignore[no-untyped-def]
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return real_attempt(*aa, **kk)

        target.attempt = attempt
        return target

    monkeypatch.setattr(discover_cli, "make_target", interrupting)
    stopped = CliRunner().invoke(cli, [*args, "--out", "out"])
    assert stopped.exit_code == 130
    assert not Path("out").exists()
    runs = sorted(p.name for p in Path(".iamfit/runs").iterdir())
    run_id = next(r for r in runs if f"run {r} interrupted" in stopped.stderr)
    command = stopped.stderr.split("resume it with:\n", 1)[1].splitlines()[0].strip()
    words = shlex.split(command)
    assert words == ["iamfit", "discover", str(EXAMPLES / "sqs-worker"), "--resume", run_id, "--out", "out"]

    monkeypatch.setattr(discover_cli, "make_target", real_make_target)
    resumed = CliRunner().invoke(cli, words[1:])
    assert resumed.exit_code == 0, resumed.output
    assert "no --account given" not in resumed.stderr
    assert Path("out/deployer.json").read_text() == Path("whole/deployer.json").read_text()
    assert "123456789012" in Path("out/deployer.json").read_text()

    clash = CliRunner().invoke(cli, [*words[1:], "--account", "210987654321"])
    assert clash.exit_code == 2 and "--account 123456789012" in clash.stderr


def test_discover_out_replaces_an_earlier_generate_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    sqs = str(EXAMPLES / "sqs-worker")
    split = CliRunner().invoke(cli, ["generate", sqs, "--account", "123456789012", "--split", "--out", "out"])
    assert split.exit_code == 0, split.output
    assert Path("out/cloudformation.json").exists()
    result = CliRunner().invoke(cli, ["discover", sqs, "--account", "123456789012", "--out", "out"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in Path("out").iterdir()) == [".iamfit-outputs.json", "deployer.json"]

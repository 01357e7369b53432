"""``iamfit observe`` through its HTTPS proxy, end to end with a small deploy command of our own (fast, no node):
an SDK v2-style client (no AWS_ENDPOINT_URL: the AWS host names, HTTPS_PROXY and the run's CA) and an SDK v3-style
one (AWS_ENDPOINT_URL) are both recorded; a non-AWS host is refused and reported; the proxy's files are gone after
the run, after Ctrl-C and after SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamfit.cli import cli
from tests.conftest import EXAMPLES, REPO

SCRIPT = """
import os, sys, time, urllib.request
from pathlib import Path
import boto3
from botocore.exceptions import ClientError

env = dict(os.environ)
# written whole, then renamed: the test polls for the marker and must never read it half-written
Path({marker!r} + ".part").write_text(env["NODE_EXTRA_CA_CERTS"])
os.replace({marker!r} + ".part", {marker!r})
if env["IAMFIT_PHASE"] == "create":
    if {wait}:
        time.sleep(120)
    # SDK v3 style: the local AWS through AWS_ENDPOINT_URL
    try:
        boto3.client("cloudformation").describe_stacks(StackName="iamfit-sqs-worker-dev")
    except ClientError:
        pass
    # SDK v2 style: the AWS host name, through HTTPS_PROXY, trusting the run's CA (AWS_CA_BUNDLE)
    os.environ.pop("AWS_ENDPOINT_URL")
    try:
        boto3.client("lambda").list_aliases(FunctionName="iamfit-sqs-worker-dev-worker")
    except ClientError:
        pass
    # a non-AWS host: the proxy refuses it
    try:
        urllib.request.urlopen("https://telemetry.example.com/v1", timeout=10)
        sys.exit(7)
    except OSError as exc:
        assert "403" in str(exc), exc
"""


@pytest.fixture
def service(tmp_path: Path) -> Path:
    copy = tmp_path / "sqs-worker"
    shutil.copytree(EXAMPLES / "sqs-worker", copy)  # keeps mtimes: the committed package stays current
    return copy


def command(tmp_path: Path, *, wait: bool = False) -> str:
    script = tmp_path / "deploy.py"
    script.write_text(SCRIPT.format(marker=str(tmp_path / "ca-path"), wait=wait))
    return f"{sys.executable} {script} --stage {{stage}}"


def test_both_kinds_of_clients_are_recorded_and_a_non_aws_host_is_refused(service: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    deploy = command(tmp_path)
    result = CliRunner().invoke(cli, ["observe", str(service), "--deploy-command", deploy, "--remove-command",
                                      "true", "--report", str(report)])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    doc = json.loads(report.read_text())
    assert [(c["phase"], c["service"], c["operation"], c["action"]) for c in doc["calls"]] == [
        ("create", "cloudformation", "DescribeStacks", "cloudformation:DescribeStacks"),
        ("create", "lambda", "ListAliases", "lambda:ListAliases"),
    ]
    assert doc["refused"] == ["telemetry.example.com:443"]
    assert "refused telemetry.example.com:443" in result.stderr
    assert [u["action"] for u in doc["unpredicted"]] == ["lambda:ListAliases"]
    # the CA the child trusted is gone with the run
    ca = Path((tmp_path / "ca-path").read_text())
    assert ca.name == "ca.pem" and not ca.parent.exists()
    # iamfit's own environment never had the proxy
    assert "NODE_EXTRA_CA_CERTS" not in os.environ or os.environ["NODE_EXTRA_CA_CERTS"] != str(ca)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_the_proxy_files_are_gone_after_an_interrupt(service: Path, tmp_path: Path, signum: int) -> None:
    runs = tmp_path / "tmp"
    runs.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(runs)}
    # `python -m iamfit` with ^C as a KeyboardInterrupt whatever the runner's own SIGINT disposition (a background
    # job of a non-interactive shell starts with SIGINT ignored, and Python then installs no handler)
    main = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "runpy.run_module('iamfit', run_name='__main__', alter_sys=True)")
    child = subprocess.Popen(
        [sys.executable, "-c", main, "observe", str(service), "--deploy-command", command(tmp_path, wait=True)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    marker = tmp_path / "ca-path"
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.1)
    assert marker.exists(), child.communicate(timeout=30)
    ca = Path(marker.read_text())
    assert ca.is_file() and (ca.parent / "leaf-key.pem").is_file() and runs in ca.parents
    child.send_signal(signum)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode != 0 and "Traceback" not in stderr, stderr
    assert not ca.parent.exists()
    assert list(runs.iterdir()) == []  # the whole run directory, not only the certificates

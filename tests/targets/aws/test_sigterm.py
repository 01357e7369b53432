"""SIGTERM in the middle of an attempt: the process cleans up everything it made, checked via the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.targets.aws.conftest import ACCOUNT, live_stacks

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from iamfit.aws.session import operator_session
    from iamfit.policy.document import PolicyDocument
    from iamfit.service.model import load_service
    from iamfit.targets.aws.target import make_aws_target, terminate_as_interrupt

    endpoint, package, ready = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    allow = PolicyDocument.from_json({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    session = operator_session(region="us-east-1", endpoint_url=endpoint)
    service = load_service(package, compile_if_needed=False)
    target = make_aws_target(service, session=session, account_guard="GUARD", run_id="term",
                             settle_seconds=0, propagation_seconds=0, poll_seconds=0.1,
                             variant=lambda s: s)
    with terminate_as_interrupt(), target:
        target.attempt("create", {"deployer": allow}, attempt_id="a1", session_name="iamfit-term-1")
        target.roles.propagation_seconds = 120  # the next attempt now waits inside the role assumption
        ready.write_text("ready")
        target.attempt("update", {"deployer": allow}, attempt_id="a2", session_name="iamfit-term-2")
    """
).replace("GUARD", ACCOUNT)


@pytest.fixture
def server() -> Any:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    yield f"http://{host}:{port}"
    moto.stop()


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(service, region_name="us-east-1", endpoint_url=endpoint)


def test_sigterm_mid_attempt_leaves_nothing(server: str, small_service: Any, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    repo = Path(__file__).resolve().parents[3]
    env = dict(os.environ, PYTHONPATH=str(repo))
    child = subprocess.Popen(
        [sys.executable, str(script), server, str(small_service.source), str(ready)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None, child.stdout.read().decode() if child.stdout else ""
            assert time.monotonic() < deadline, "the child never reached the second attempt"
            time.sleep(0.05)
        time.sleep(0.3)  # inside the second attempt
        iam, cfn, s3 = (_client(server, s) for s in ("iam", "cloudformation", "s3"))
        assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["iamfit-small-svc-iamfitterm-deployer"]
        assert live_stacks(cfn) == ["small-svc-iamfitterm"]
        assert len(s3.list_buckets()["Buckets"]) == 1
        child.send_signal(signal.SIGTERM)
        output, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode != 0
    assert b"KeyboardInterrupt" in output  # the signal arrived mid-attempt, as an interrupt
    assert iam.list_roles()["Roles"] == []
    assert [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]] == ["iamfit-boundary"]
    assert live_stacks(cfn) == []
    assert s3.list_buckets()["Buckets"] == []

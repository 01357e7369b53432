"""replay: a recorded admin deploy of an example → a policy that plan accepts for that example."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from iamfit.evidence.trail import LocalSource, aggregate
from iamfit.policy.document import PolicyDocument
from iamfit.replay import replay
from iamfit.service.model import load_service
from iamfit.targets.base import PHASES
from iamfit.targets.sandbox import SandboxTarget
from iamfit.targets.sandbox.plan import plan

from .conftest import EXAMPLES

ADMIN = PolicyDocument.from_json({"Version": "2012-10-17",
                                  "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
ACCOUNT = "123456789012"


def record_admin_deploy(name: str, logs: Path) -> str:
    """Deploy, update and remove the example as an admin in the sandbox; write its CloudTrail as a trail would."""
    service = load_service(EXAMPLES / name, account=ACCOUNT, compile_if_needed=False)
    target = SandboxTarget(service, seed="recorded")
    policies = {"deployer": ADMIN, "cloudformation": ADMIN}
    principal = ""
    for number, phase in enumerate(PHASES, 1):
        attempt = target.attempt(phase, policies, attempt_id=f"rec-{number}", session_name=f"ci-run-{number}")
        assert attempt.succeeded
        day = logs / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / "2026" / "01" / "05"  # the sandbox's day
        day.mkdir(parents=True, exist_ok=True)
        with gzip.open(day / f"{ACCOUNT}_CloudTrail_us-east-1_{number}.json.gz", "wt") as fh:
            json.dump({"Records": list(attempt.trail_records)}, fh)
        principal = principal or next(r["userIdentity"]["arn"] for r in attempt.trail_records
                                      if "invokedBy" not in r["userIdentity"])
    return principal


@pytest.mark.parametrize("name", ["sqs-worker", "deployment-role"])
def test_replay_of_a_recorded_deploy_is_a_policy_plan_accepts(name: str, tmp_path: Path) -> None:
    principal = record_admin_deploy(name, tmp_path)
    role = f"arn:aws:iam::{ACCOUNT}:role/{principal.split('/')[1]}"
    service = load_service(EXAMPLES / name, account=ACCOUNT, compile_if_needed=False)
    trail = aggregate(LocalSource(tmp_path), principal=role)
    cfn = service.deployment_role
    if cfn:  # the deploymentRole's own calls are a second principal in the trail
        trail = aggregate(LocalSource(tmp_path))
    result = replay(trail, service=service, cfn_principal=cfn)
    assert result.stats.records > 0 and not result.denials
    assert any(n.action == "iam:PassRole" for n in result.inferred), "PassRole is never in CloudTrail"
    assert all(n.resource != "*" or not _resource_level(n.action) for n in result.needs)
    outcome = plan(service, result.policies, PHASES)
    assert outcome.fits, outcome.denied_actions


def _resource_level(action: str) -> bool:
    from iamfit.knowledge.catalog import default_catalog

    info = default_catalog().info(action)
    return bool(info and info.supports_resource_level)


def test_calls_cloudformation_made_go_to_the_cloudformation_principal(tmp_path: Path) -> None:
    record_admin_deploy("deployment-role", tmp_path)
    service = load_service(EXAMPLES / "deployment-role", compile_if_needed=False)
    result = replay(aggregate(LocalSource(tmp_path)), service=service, cfn_principal=service.deployment_role)
    cfn_actions = {n.action for n in result.needs if n.principal == "cloudformation"}
    deployer_actions = {n.action for n in result.needs if n.principal == "deployer"}
    assert "lambda:CreateFunction" in cfn_actions and "lambda:CreateFunction" not in deployer_actions
    assert "cloudformation:CreateStack" in deployer_actions


def test_replay_cli_writes_policies_and_a_report(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from iamfit.cli import cli

    principal = record_admin_deploy("sqs-worker", tmp_path / "logs")
    role = f"arn:aws:iam::{ACCOUNT}:role/{principal.split('/')[1]}"
    result = CliRunner().invoke(cli, ["replay", str(EXAMPLES / "sqs-worker"), "--cloudtrail", str(tmp_path / "logs"),
                                      "--principal", role, "--account", ACCOUNT, "--since", "2026-01-01",
                                      "--until", "2026-01-31", "--out", str(tmp_path / "out"),
                                      "--report", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "inferred" in result.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["inferred"] and report["stats"]["records"] > 0
    assert PolicyDocument.from_text((tmp_path / "out" / "deployer.json").read_text()).actions()


def test_replay_of_an_unreadable_source_and_of_nothing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from iamfit.cli import cli

    (tmp_path / "bad.json.gz").write_bytes(b"not gzip")
    runner = CliRunner()
    strict = runner.invoke(cli, ["replay", "--cloudtrail", str(tmp_path), "--principal", "arn:aws:iam::1:role/x",
                                 "--strict"])
    assert strict.exit_code == 3 and strict.stderr.startswith("iamfit: error:")
    lenient = runner.invoke(cli, ["replay", "--cloudtrail", str(tmp_path), "--principal", "arn:aws:iam::1:role/x",
                                  "--out", str(tmp_path / "out")])
    # nothing could be read: bad input (one line, exit 3), never an empty policy
    assert lenient.exit_code == 3 and lenient.stderr.startswith("iamfit: error: nothing could be read")
    assert "bad.json.gz" in lenient.stderr and lenient.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_replay_from_no_records_of_the_principal_writes_no_policy(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from iamfit.cli import cli

    principal = record_admin_deploy("sqs-worker", tmp_path / "logs")
    role = f"arn:aws:iam::{ACCOUNT}:role/{principal.split('/')[1]}"
    runner = CliRunner()
    for who, window in ((f"arn:aws:iam::{ACCOUNT}:role/nobody", ["--since", "2026-01-01"]),
                        (role, ["--since", "2026-03-01"])):
        result = runner.invoke(cli, ["replay", "--cloudtrail", str(tmp_path / "logs"), "--principal", who, *window,
                                     "--out", str(tmp_path / "out")])
        assert result.exit_code == 3, result.output
        assert result.stderr.startswith("iamfit: error: no CloudTrail records") and "--since/--until" in result.stderr
        assert not (tmp_path / "out").exists()


def test_replay_of_only_denied_calls_is_bad_input(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from iamfit.cli import cli

    role = f"arn:aws:iam::{ACCOUNT}:role/ci"
    denied = {"eventVersion": "1.09", "eventTime": "2026-01-05T09:00:00Z", "eventSource": "lambda.amazonaws.com",
              "eventName": "CreateFunction20150331", "awsRegion": "us-east-1", "errorCode": "AccessDeniedException",
              "errorMessage": f"User: {role} is not authorized to perform: lambda:CreateFunction",
              "userIdentity": {"type": "IAMUser", "arn": role, "accountId": ACCOUNT}}
    (tmp_path / "t.json").write_text(json.dumps({"Records": [denied]}))
    result = CliRunner().invoke(cli, ["replay", "--cloudtrail", str(tmp_path / "t.json"), "--principal", role,
                                      "--since", "2026-01-01", "--out", str(tmp_path / "out")])
    assert result.exit_code == 3, result.output
    assert "no successful calls" in result.stderr and not (tmp_path / "out").exists()


def _queue_calls(principal: str, n: int) -> dict[str, object]:
    return {"Records": [
        {"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "arn": principal, "accountId": ACCOUNT},
         "eventTime": "2026-01-05T10:00:00Z", "eventSource": "sqs.amazonaws.com", "eventName": "GetQueueAttributes",
         "awsRegion": "us-east-1", "recipientAccountId": ACCOUNT,
         "requestParameters": {"queueUrl": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/orders-queue-{i:05d}"}}
        for i in range(n)]}


@pytest.mark.parametrize(("calls", "verdict", "warning"), [
    (5, "fits", None),
    (150, "packs into", "attach it as"),
    (1500, "too large for IAM even packed", "does not fit IAM's quotas even packed"),
])
def test_replay_reports_policy_sizes_as_generate_does(tmp_path: Path, calls: int, verdict: str,
                                                      warning: str | None) -> None:
    from click.testing import CliRunner

    from iamfit.cli import cli

    principal = f"arn:aws:iam::{ACCOUNT}:user/ci"
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "trail.json").write_text(json.dumps(_queue_calls(principal, calls)))
    result = CliRunner().invoke(cli, ["replay", "--cloudtrail", str(tmp_path / "logs"), "--principal", principal,
                                      "--since", "2026-01-01", "--until", "2026-01-31", "--out", str(tmp_path / "out"),
                                      "--report", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.stdout.splitlines() if ln.strip().startswith("deployer"))
    assert "(managed limit 6144, inline 10240: " in line and verdict in line and "statements" in line
    size = PolicyDocument.from_text((tmp_path / "out" / "deployer.json").read_text()).size()
    assert f"{size} chars" in line
    if warning:
        assert warning in result.stderr and "iamfit: warning: the deployer policy" in result.stderr
    else:
        assert "warning" not in result.stderr
    sizes = json.loads((tmp_path / "r.json").read_text())["policy_sizes"]["deployer"]
    assert sizes["size"] == size and (sizes["managed_policies"] is None) == (calls == 1500)

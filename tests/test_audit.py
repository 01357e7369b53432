"""audit: granted vs used, on a recorded deploy and on moto (live role, Access Advisor through Stubber)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner
from moto import mock_aws

from iamfit.audit import OVER_BROAD, UNUSED, audit
from iamfit.aws.access_advisor import last_accessed_actions
from iamfit.cli import cli
from iamfit.errors import AwsError
from iamfit.evidence.trail import LocalSource, aggregate
from iamfit.policy.document import PolicyDocument

from .test_replay import ACCOUNT, record_admin_deploy

JOB = "8f9b3c1e-1c2d-4e5f-9a0b-123456789abc"
WIDE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Queues", "Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
        {"Sid": "Lambda", "Effect": "Allow", "Action": ["lambda:CreateFunction", "lambda:InvokeFunction",
                                                         "lambda:PublishLayerVersion"], "Resource": "*"},
        {"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
    ],
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    logs = tmp_path_factory.mktemp("trail")
    principal = record_admin_deploy("sqs-worker", logs)
    return logs, f"arn:aws:iam::{ACCOUNT}:role/{principal.split('/')[1]}"


def test_unused_overbroad_and_escalation_findings(recorded: tuple[Path, str]) -> None:
    logs, role = recorded
    trail = aggregate(LocalSource(logs), principal=role)
    result = audit([("wide.json", PolicyDocument.from_json(WIDE))], rows=trail.rows, principal=role, account=ACCOUNT)
    kinds = {(f.kind, f.action) for f in result.findings}
    assert ("unused-action", "lambda:PublishLayerVersion") in kinds  # granted, never called
    partial = [f for f in result.findings if f.rule_id == UNUSED and f.action == "sqs:*"]
    assert partial and "used: sqs:CreateQueue" in partial[0].message.replace("sqs:CreateQueue,", "sqs:CreateQueue")
    broad = [f for f in result.findings if f.rule_id == OVER_BROAD and f.action == "lambda:CreateFunction"]
    assert broad and "iamfit-sqs-worker-dev-" in broad[0].message
    assert any(f.kind == "escalation" and f.action == "iam:PassRole" for f in result.findings)
    proposal = result.proposal.to_json()["Statement"]
    assert all(s["Resource"] != "*" for s in proposal if s["Action"] == "lambda:CreateFunction")
    assert "lambda:PublishLayerVersion" not in result.proposal.actions()


def test_what_cloudtrail_cannot_show_is_not_observable_never_unused(recorded: tuple[Path, str]) -> None:
    """PassRole is never logged and Lambda Invoke is a data event the recorded trail does not hold: neither is
    "unused"; both are listed apart with the reason and kept in the proposal. S3 object calls the trail does hold
    as data events stay observable."""
    logs, role = recorded
    trail = aggregate(LocalSource(logs), principal=role)
    doc = PolicyDocument.from_json({"Version": "2012-10-17", "Statement": [
        *WIDE["Statement"],  # type: ignore[misc]
        {"Sid": "Objects", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObjectAcl"], "Resource": "*"}]})
    result = audit([("wide.json", doc)], rows=trail.rows, principal=role, account=ACCOUNT, stats=trail.stats)
    unused = {f.action for f in result.findings if f.rule_id == UNUSED}
    assert not unused & {"iam:PassRole", "lambda:InvokeFunction"}
    hidden = {n.action: n.reason for n in result.not_observable}
    assert "never logged" in hidden["iam:PassRole"] and "AWS::Lambda::Function" in hidden["lambda:InvokeFunction"]
    assert {"iam:PassRole", "lambda:InvokeFunction"} <= set(result.proposal.actions())
    assert "s3:putobject" in result.used  # the sandbox's trail logs S3 data events, so S3 object calls are seen
    assert "s3:GetObjectAcl" in unused and "s3:GetObjectAcl" not in hidden
    report = result.to_json()
    assert {n["action"] for n in report["not_observable"]} >= {"iam:PassRole", "lambda:InvokeFunction"}
    assert report["cloudtrail"]["files_read"] > 0 and report["cloudtrail"]["first_event"].startswith("2026-01-05")


def test_a_policy_that_grants_exactly_what_was_used_has_no_unused_findings(recorded: tuple[Path, str]) -> None:
    logs, role = recorded
    trail = aggregate(LocalSource(logs), principal=role)
    first = audit([("wide.json", PolicyDocument.from_json(WIDE))], rows=trail.rows, principal=role, account=ACCOUNT)
    again = audit([("proposal.json", first.proposal)], rows=trail.rows, principal=role, account=ACCOUNT)
    assert not [f for f in again.findings if f.kind in ("unused-action", "over-broad-resource")]


def test_cli_on_policy_files_exits_1_with_findings_and_writes_sarif(recorded: tuple[Path, str], tmp_path: Path) -> None:
    logs, role = recorded
    policy = tmp_path / "wide.json"
    policy.write_text(json.dumps(WIDE, indent=2))
    result = CliRunner().invoke(cli, ["audit", "--policy", str(policy), "--cloudtrail", str(logs), "--principal",
                                      role, "--since", "2026-01-01", "--format", "sarif",
                                      "--proposal", str(tmp_path / "p.json")])
    assert result.exit_code == 1, result.output
    sarif = json.loads(result.stdout)
    assert sarif["version"] == "2.1.0"
    located = [r for r in sarif["runs"][0]["results"] if r.get("locations")]
    assert located and located[0]["locations"][0]["physicalLocation"]["region"]["startLine"] > 1
    assert PolicyDocument.from_text((tmp_path / "p.json").read_text()).actions()


def test_cli_usage_errors() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["audit", "--cloudtrail", "x"]).exit_code == 2
    assert runner.invoke(cli, ["audit", "--policy", "p.json"]).exit_code == 2


def _role_with_policies(iam) -> str:  # type: ignore[no-untyped-def]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT},
                                                     "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName="ci-deployer", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="ci-deployer", PolicyName="inline", PolicyDocument=json.dumps(WIDE))
    managed = iam.create_policy(PolicyName="logs", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="ci-deployer", PolicyArn=managed)
    return str(arn)


def test_live_role_on_moto(recorded: tuple[Path, str], tmp_path: Path) -> None:
    logs, role = recorded
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        _role_with_policies(iam)
        result = CliRunner().invoke(cli, ["audit", "--role-name", "ci-deployer", "--cloudtrail", str(logs),
                                          "--principal", role, "--since", "2026-01-01", "--format", "json"])
        assert result.exit_code == 1, result.output
        report = json.loads(result.stdout)
        origins = {f["policy"] for f in report["findings"]}
        assert any(o.startswith("inline:") for o in origins)
        assert any(o.startswith("managed:") for o in origins) or report["used_actions"]
        missing = CliRunner().invoke(cli, ["audit", "--role-name", "nope", "--cloudtrail", str(logs)])
        assert missing.exit_code == 4 and missing.stderr.startswith("iamfit: error:")


def test_access_advisor_action_level_data() -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    stub = Stubber(iam)
    arn = f"arn:aws:iam::{ACCOUNT}:role/ci-deployer"
    stub.add_response("generate_service_last_accessed_details", {"JobId": JOB},
                      {"Arn": arn, "Granularity": "ACTION_LEVEL"})
    stub.add_response("get_service_last_accessed_details", {
        "JobStatus": "IN_PROGRESS", "JobCreationDate": dt.datetime(2026, 11, 1),
        "JobCompletionDate": dt.datetime(2026, 11, 1), "ServicesLastAccessed": []},
        {"JobId": JOB})
    stub.add_response("get_service_last_accessed_details", {
        "JobStatus": "COMPLETED", "JobCreationDate": dt.datetime(2026, 11, 1),
        "JobCompletionDate": dt.datetime(2026, 11, 1), "IsTruncated": False,
        "ServicesLastAccessed": [{"ServiceName": "Amazon S3", "ServiceNamespace": "s3",
                                  "TrackedActionsLastAccessed": [
                                      {"ActionName": "PutObject", "LastAccessedTime": dt.datetime(2026, 11, 20)},
                                      {"ActionName": "DeleteBucket"}]}]},
        {"JobId": JOB})
    with stub:
        found = last_accessed_actions(iam, arn, sleep=lambda _s: None)
    assert found["s3:PutObject"].startswith("2026-11-20") and found["s3:DeleteBucket"] is None
    result = audit([("p", PolicyDocument.from_json({"Statement": [{"Effect": "Allow", "Action": [
        "s3:PutObject", "s3:DeleteBucket"], "Resource": "arn:aws:s3:::b/*"}]}))], last_accessed=found)
    assert [f.action for f in result.findings if f.rule_id == UNUSED] == ["s3:DeleteBucket"]


def test_access_advisor_failures_are_aws_errors() -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    stub = Stubber(iam)
    stub.add_client_error("generate_service_last_accessed_details", "AccessDenied", "no", 403)
    with stub, pytest.raises(AwsError):
        last_accessed_actions(iam, "arn:aws:iam::1:role/x", sleep=lambda _s: None)


def _truncated_gz(path: Path) -> None:
    import gzip

    whole = gzip.compress(json.dumps({"Records": [{"eventVersion": "1.09", "eventTime": "2026-01-05T09:00:00Z",
                                                   "eventSource": "s3.amazonaws.com", "eventName": "CreateBucket",
                                                   "userIdentity": {"arn": "arn:aws:iam::1:role/x"}}] * 50}).encode())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(whole[: len(whole) // 2])


def test_a_source_nothing_could_be_read_from_is_bad_input_not_a_verdict(tmp_path: Path) -> None:
    """Only a truncated .gz: no "every action unused", no empty proposal; one error line, exit 3."""
    _truncated_gz(tmp_path / "trail" / "a.json.gz")
    policy = tmp_path / "wide.json"
    policy.write_text(json.dumps(WIDE))
    proposal = tmp_path / "p.json"
    result = CliRunner().invoke(cli, ["audit", "--policy", str(policy), "--cloudtrail", str(tmp_path / "trail"),
                                      "--principal", f"arn:aws:iam::{ACCOUNT}:role/x", "--proposal", str(proposal)])
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("iamfit: error: nothing could be read") and result.stderr.count("\n") == 1
    assert "a.json.gz" in result.stderr and "0 file(s) read" in result.stderr
    assert not result.stdout and not proposal.exists()


def test_a_window_with_no_records_of_the_principal_is_bad_input(recorded: tuple[Path, str], tmp_path: Path) -> None:
    logs, role = recorded
    policy = tmp_path / "wide.json"
    policy.write_text(json.dumps(WIDE))
    runner = CliRunner()
    other = runner.invoke(cli, ["audit", "--policy", str(policy), "--cloudtrail", str(logs), "--principal",
                                f"arn:aws:iam::{ACCOUNT}:role/someone-else", "--since", "2026-01-01"])
    assert other.exit_code == 3 and "no CloudTrail records of arn:aws:iam::" in other.stderr
    later = runner.invoke(cli, ["audit", "--policy", str(policy), "--cloudtrail", str(logs), "--principal", role,
                                "--since", "2026-02-01", "--until", "2026-03-01"])
    assert later.exit_code == 3 and "between 2026-02-01" in later.stderr and "--since/--until" in later.stderr


def test_a_partial_read_is_stated_in_text_json_and_sarif(recorded: tuple[Path, str], tmp_path: Path) -> None:
    import shutil

    logs, role = recorded
    trail = tmp_path / "trail"
    shutil.copytree(logs, trail)
    _truncated_gz(trail / "zz-broken.json.gz")
    policy = tmp_path / "wide.json"
    policy.write_text(json.dumps(WIDE))
    args = ["audit", "--policy", str(policy), "--cloudtrail", str(trail), "--principal", role, "--since",
            "2026-01-01"]
    runner = CliRunner()
    text = runner.invoke(cli, args)
    assert text.exit_code == 1, text.output
    assert "skipped 1 unreadable file(s)" in text.stdout and "zz-broken.json.gz" in text.stdout
    assert "covering 2026-01-05T" in text.stdout and "not observable" in text.stdout
    report = json.loads(runner.invoke(cli, [*args, "--format", "json"]).stdout)
    read = report["cloudtrail"]
    assert read["files_read"] >= 1 and read["records"] > 0
    assert [Path(f["path"]).name for f in read["files_skipped"]] == ["zz-broken.json.gz"]
    assert read["files_skipped"][0]["reason"] and read["first_event"] <= read["last_event"]
    sarif = json.loads(runner.invoke(cli, [*args, "--format", "sarif"]).stdout)
    run = sarif["runs"][0]
    assert run["properties"]["cloudtrail"] == read
    assert {n["action"] for n in run["properties"]["notObservable"]} >= {"iam:PassRole", "lambda:InvokeFunction"}
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any(n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("zz-broken.json.gz")
               for n in notes if "locations" in n)


def test_actions_access_advisor_does_not_track_are_not_observable() -> None:
    doc = PolicyDocument.from_json({"Statement": [{"Effect": "Allow", "Action": [
        "s3:PutObject", "s3:DeleteBucket", "sqs:CreateQueue"], "Resource": "*"}]})
    result = audit([("p", doc)], last_accessed={"s3:PutObject": "2026-11-20T00:00:00", "s3:DeleteBucket": None})
    assert [f.action for f in result.findings if f.rule_id == UNUSED] == ["s3:DeleteBucket"]
    assert [(n.action, n.reason) for n in result.not_observable] == [
        ("sqs:CreateQueue", "not tracked at action level by IAM Access Advisor")]
    assert "sqs:CreateQueue" in result.proposal.actions()


def test_a_not_observable_notresource_grant_is_not_widened_to_star() -> None:
    doc = PolicyDocument.from_json({"Statement": [
        {"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "NotResource": "arn:aws:iam::1:role/admin"},
        {"Sid": "Scoped", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::1:role/app",
         "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}]})
    result = audit([("p.json", doc)])
    statements = result.proposal.to_json()["Statement"]
    assert [s["Resource"] for s in statements] == ["arn:aws:iam::1:role/app"]  # kept as granted, never "*"
    assert statements[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
    assert any("NotResource" in w and "iam:PassRole" in w for w in result.warnings)


def test_a_large_proposal_gets_its_size_reported_and_a_warning(tmp_path: Path) -> None:
    from .test_replay import _queue_calls

    principal = f"arn:aws:iam::{ACCOUNT}:user/ci"
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "trail.json").write_text(json.dumps(_queue_calls(principal, 1500)))
    policy = tmp_path / "wide.json"
    policy.write_text(json.dumps({"Version": "2012-10-17",
                                  "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}))
    result = CliRunner().invoke(cli, ["audit", "--policy", str(policy), "--cloudtrail", str(tmp_path / "logs"),
                                      "--principal", principal, "--since", "2026-01-01", "--until", "2026-01-31",
                                      "--proposal", str(tmp_path / "p.json")])
    size = PolicyDocument.from_text((tmp_path / "p.json").read_text()).size()
    assert f"{size} chars (managed limit 6144, inline 10240: too large for IAM even packed)" in result.stdout
    assert "iamfit: warning: the proposal policy" in result.stderr and "even packed" in result.stderr

"""iamfit.api: one function per job, typed results, no printing, no exiting; and the CLI stays thin."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from iamfit import api
from iamfit.audit import AuditResult
from iamfit.check import CheckResult
from iamfit.discover import DiscoveryResult
from iamfit.discover_run import AwsAccess, DiscoverOutcome
from iamfit.errors import EXIT_USAGE, UsageError
from iamfit.evidence.explain import Explanation
from iamfit.generate import GeneratedPolicies
from iamfit.policy.document import PolicyDocument
from iamfit.replay import ReplayResult
from iamfit.service.model import load_service
from iamfit.targets.sandbox.plan import Plan

from .conftest import EXAMPLES, REPO
from .test_replay import ACCOUNT, record_admin_deploy

PACKAGE = EXAMPLES / "sqs-worker" / ".serverless"  # compiled: no osls run
OTHER = "210987654321"
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture()
def quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run in an empty directory; afterwards, assert the job printed nothing."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    out, err = capsys.readouterr()
    assert (out, err) == ("", "")


def test_the_facade_has_one_function_per_job() -> None:
    assert set(api.__all__) == {"generate", "plan", "discover", "check", "explain", "replay", "audit", "observe"}


def test_generate_returns_the_policies_and_writes_nothing(quiet: Path) -> None:
    result = api.generate(PACKAGE, account=ACCOUNT)
    assert isinstance(result, GeneratedPolicies)
    assert result.service.name == "iamfit-sqs-worker" and result.service.account == ACCOUNT
    assert "cloudformation:CreateChangeSet" in result.policies["deployer"].actions()
    assert list(quiet.iterdir()) == []


def test_plan_pins_a_copy_to_the_policies_account_and_leaves_the_service_alone(quiet: Path) -> None:
    service = load_service(PACKAGE, compile_if_needed=False)
    assert service.account is None
    policy = api.generate(service.with_account(OTHER)).policies["deployer"]
    result = api.plan(service, policy, phases=("create",))
    assert isinstance(result, Plan)
    assert result.account == OTHER and result.fits, result.denied_actions
    assert [p.phase for p in result.phases] == ["create"]
    assert service.account is None  # the CLI used to set it on the caller's Service


def test_plan_takes_a_cfn_role_policy_for_a_service_without_deployment_role_as_the_recommended_role(
    quiet: Path,
) -> None:
    empty = PolicyDocument.from_json({"Version": "2012-10-17", "Statement": []})
    planned = api.plan(PACKAGE, empty, cfn_role_policy=[empty, empty], phases=("create",), account=ACCOUNT)
    assert not planned.fits and "planned as if provider.iam.deploymentRole were" in planned.notes[0]
    assert any(d.principal == "cloudformation" for p in planned.phases for d in p.denials)
    with pytest.raises(UsageError) as raised:
        api.plan(PACKAGE, [])
    assert raised.value.exit_code == EXIT_USAGE


def test_discover_runs_in_the_sandbox_and_leaves_the_report_check_reads(quiet: Path, tmp_path: Path) -> None:
    outcome = api.discover(PACKAGE, root=tmp_path / "root", account=ACCOUNT, report_path=tmp_path / "r.json")
    assert isinstance(outcome, DiscoverOutcome) and isinstance(outcome.result, DiscoveryResult)
    assert outcome.verified and outcome.report["verified"] is True
    assert outcome.by_hand["attempts"] >= 1 and outcome.report["totals"]["by_hand"] == outcome.by_hand
    left = tmp_path / "root" / ".iamfit" / "reports" / "iamfit-sqs-worker.json"
    assert json.loads(left.read_text()) == outcome.report == json.loads((tmp_path / "r.json").read_text())
    run = tmp_path / "root" / ".iamfit" / "runs" / outcome.result.run_id
    assert json.loads((run / "report.json").read_text()) == outcome.report
    assert not (tmp_path / "policies").exists()  # the policies are in the result; writing them is the caller's

    # a resumed run keeps the journal's identity: another --account is refused
    with pytest.raises(UsageError, match="leave --account out to resume it"):
        api.discover(PACKAGE, root=tmp_path / "root", account=OTHER, resume=outcome.result.run_id)


def test_discover_on_aws_needs_the_account_guard(quiet: Path) -> None:
    with pytest.raises(UsageError, match="--account-guard"):
        api.discover(PACKAGE, root=quiet, account=ACCOUNT, target="aws", aws=AwsAccess())


def test_check_pins_the_service_to_the_policies_account(quiet: Path) -> None:
    policy = api.generate(PACKAGE, account=ACCOUNT).policies["deployer"]
    (quiet / "deployer.json").write_text(policy.dumps())
    result = api.check(PACKAGE, policy_files=[quiet / "deployer.json"], cwd=quiet)
    assert isinstance(result, CheckResult)
    assert result.service.account == ACCOUNT  # no --account: the one the policies name
    assert not result.failing({"missing"}), [f.message for f in result.failing({"missing"})]
    assert not any("--account" in w for w in result.warnings)
    assert result.discover_report is None


def test_check_reads_a_live_role_with_the_given_client(quiet: Path) -> None:
    policy = api.generate(PACKAGE, account=ACCOUNT).policies["deployer"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "cloudformation.amazonaws.com"}}]}
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName="deployer", PolicyName="deploy", PolicyDocument=policy.dumps())
        result = api.check(PACKAGE, role_name="deployer", account=ACCOUNT, iam=iam, cwd=quiet)
    assert result.checked["deployer"]["label"] == "role/deployer"
    assert not result.failing({"missing"})


def test_check_usage_errors_are_raised_not_printed(quiet: Path) -> None:
    with pytest.raises(UsageError, match="exactly one of --policy"):
        api.check(PACKAGE, policy_files=[quiet / "a.json"], role_name="r")


def test_explain_reads_failure_text() -> None:
    text = ("User: arn:aws:sts::123456789012:assumed-role/ci/run-1 is not authorized to perform: sqs:CreateQueue "
            "on resource: arn:aws:sqs:us-east-1:123456789012:jobs because no identity-based policy allows the "
            "sqs:CreateQueue action")
    result = api.explain(text)
    assert isinstance(result, Explanation)
    assert [g.denial.action for g in result.groups] == ["sqs:CreateQueue"]
    assert result.fix is not None


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    logs = tmp_path_factory.mktemp("trail")
    principal = record_admin_deploy("sqs-worker", logs)
    return logs, f"arn:aws:iam::{ACCOUNT}:role/{principal.split('/')[1]}"


def test_replay_builds_the_policy_from_a_local_trail(trail: tuple[Path, str], quiet: Path) -> None:
    logs, role = trail
    result = api.replay(str(logs), role, service=PACKAGE, account=ACCOUNT, since=SINCE)
    assert isinstance(result, ReplayResult)
    assert result.stats.records > 0 and result.needs
    assert any(n.action == "iam:PassRole" for n in result.inferred)
    assert "sqs:CreateQueue" in result.policies["deployer"].actions()


def test_audit_of_policy_files_against_a_local_trail(trail: tuple[Path, str], quiet: Path) -> None:
    logs, role = trail
    wide = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Queues", "Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
        {"Sid": "Layers", "Effect": "Allow", "Action": "lambda:PublishLayerVersion", "Resource": "*"}]}
    (quiet / "wide.json").write_text(json.dumps(wide))
    result = api.audit(policy_files=[quiet / "wide.json"], cloudtrail=str(logs), principal=role, since=SINCE)
    assert isinstance(result, AuditResult)
    assert result.principal == role and result.stats is not None
    assert ("unused-action", "lambda:PublishLayerVersion") in {(f.kind, f.action) for f in result.findings}
    assert "lambda:PublishLayerVersion" not in result.proposal.actions()


def test_audit_without_usage_evidence_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--cloudtrail SOURCE and/or --access-advisor"):
        api.audit(policies=[("p.json", PolicyDocument.from_json({"Version": "2012-10-17", "Statement": []}))])
    with pytest.raises(UsageError):  # before any file is read: a missing one is not the first problem
        api.audit(policy_files=[Path("missing.json")])


@pytest.mark.parametrize("path", sorted((REPO / "iamfit" / "cli").glob("*.py")), ids=lambda p: p.name)
def test_every_cli_file_is_under_200_lines(path: Path) -> None:
    """The CLI parses options, calls the jobs, renders and exits; the work is in the core (iamfit.api)."""
    assert len(path.read_text(encoding="utf-8").splitlines()) < 200

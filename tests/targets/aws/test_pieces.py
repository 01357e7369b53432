"""Sessions, names, the operator identity, the CLI deployer and the operator policy."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from iamfit.aws.session import Credentials, operator_session
from iamfit.cli import cli
from iamfit.errors import SafetyError, UsageError
from iamfit.policy.document import PolicyDocument
from iamfit.targets.aws.cli_deploy import CliDeployer, command_line
from iamfit.targets.aws.guard import check_account, identify
from iamfit.targets.aws.names import Names, check_session_name, discovery_stage
from iamfit.targets.aws.operator import operator_policy
from iamfit.targets.aws.roles import trust_policy
from tests.targets.aws.conftest import ACCOUNT


def test_operator_session_uses_the_endpoint_for_every_client() -> None:
    session = operator_session(region="eu-west-1", endpoint_url="http://127.0.0.1:5999")
    assert session.region == "eu-west-1"
    assert session.client("sts").meta.endpoint_url == "http://127.0.0.1:5999"
    assert session.environment() == {
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5999",
    }
    assumed = session.with_credentials(Credentials("AKIAASSUMED", "secret", "token"))
    assert assumed.client("s3").meta.endpoint_url == "http://127.0.0.1:5999"
    assert assumed.boto.get_credentials().access_key == "AKIAASSUMED"
    with pytest.raises(UsageError, match="--endpoint-url"):
        operator_session(endpoint_url="localhost:4566")
    with pytest.raises(UsageError, match="no such profile"):
        operator_session(profile="nope")


def test_names_stay_in_the_discovery_stage_and_within_iam_limits() -> None:
    first, second = discovery_stage("2026-11-26T10:00_ab"), discovery_stage("2026-11-26T10:00_cd")
    assert first.startswith("iamfit2026") and len(first) == 16 and first != second
    assert discovery_stage("Run-7") == "iamfitrun7"
    with pytest.raises(UsageError):
        discovery_stage("--")
    names = Names(service="a-very-long-service-name-for-a-role-name", source_stage="dev", stage="iamfitx", run_id="x")
    assert len(names.role_name("deployer")) == 64 and names.role_name("deployer").startswith("iamfit-a-very")
    assert names.role_name("deployer") != names.role_name("cfn")
    assert names.artifact_prefix == "serverless/a-very-long-service-name-for-a-role-name/iamfitx"
    assert check_session_name("iamfit-run1-create-3") == "iamfit-run1-create-3"
    with pytest.raises(UsageError):
        check_session_name("has spaces")


def test_an_assumed_role_operator_is_trusted_by_its_role_arn_with_path() -> None:
    sts = boto3.client("sts", region_name="us-east-1")
    iam = boto3.client("iam", region_name="us-east-1")
    sts_stub, iam_stub = Stubber(sts), Stubber(iam)
    sts_stub.add_response(
        "get_caller_identity",
        {"UserId": "AROAEXAMPLE:alice", "Account": ACCOUNT, "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice"},
    )
    iam_stub.add_response(
        "get_role",
        {
            "Role": {
                "Path": "/team/",
                "RoleName": "Admin",
                "RoleId": "AROAEXAMPLEEXAMPLE1",
                "Arn": f"arn:aws:iam::{ACCOUNT}:role/team/Admin",
                "CreateDate": "2026-01-01T00:00:00Z",
            }
        },
        {"RoleName": "Admin"},
    )
    with sts_stub, iam_stub:
        operator = identify(sts, iam)
    assert operator.principal_arn == f"arn:aws:iam::{ACCOUNT}:role/team/Admin"
    trust = trust_policy(operator, "deployer")
    assert trust["Statement"] == [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/team/Admin"}, "Action": "sts:AssumeRole"}
    ]
    check_account(operator, ACCOUNT)
    with pytest.raises(SafetyError, match="12-digit"):
        check_account(operator, "12345")


def test_the_cli_deployer_runs_with_the_candidate_credentials_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "operator-profile")
    assert command_line("npx osls deploy", "iamfitr") == ["npx", "osls", "deploy", "--stage", "iamfitr"]
    assert command_line("sls deploy -s {stage} --verbose", "iamfitr") == ["sls", "deploy", "-s", "iamfitr", "--verbose"]
    script = (
        "import os; keys = ['AWS_ACCESS_KEY_ID', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_ENDPOINT_URL', "
        "'IAMFIT_DISABLE_ROLLBACK', 'IAMFIT_PHASE']; print({k: os.environ.get(k) for k in keys}); "
        "import sys; sys.exit(3)"
    )
    deployer = CliDeployer(f'{sys.executable} -c "{script}" --stage {{stage}}', "unused", tmp_path)
    env = {**Credentials("AKIACANDIDATE", "s", "tok").environment(), "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}
    result = deployer.run("create", "iamfitr", env)
    assert result.exit_code == 3
    printed = eval(result.output.strip())  # noqa: S307 - our own child's repr of a dict of strings
    assert printed == {
        "AWS_ACCESS_KEY_ID": "AKIACANDIDATE",
        "AWS_SESSION_TOKEN": "tok",
        "AWS_PROFILE": None,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "IAMFIT_DISABLE_ROLLBACK": "true",
        "IAMFIT_PHASE": "create",
    }


def test_operator_policy_is_scoped_and_parses() -> None:
    document = operator_policy("svc", resource_types=("AWS::SQS::Queue",), account=ACCOUNT)
    by_sid = {s.sid: s for s in document.statements}
    assert by_sid["CandidateRoles"].resources == (f"arn:aws:iam::{ACCOUNT}:role/iamfit-*",)
    assert by_sid["AssumeCandidates"].actions == ("sts:AssumeRole",)
    assert by_sid["DiscoveryStacks"].resources == (f"arn:aws:cloudformation:*:{ACCOUNT}:stack/svc-iamfit*/*",)
    assert "sqs:DeleteQueue" in by_sid["DeleteStackResources"].actions
    assert {"cloudtrail:LookupEvents", "sts:DecodeAuthorizationMessage"} <= set(by_sid["Evidence"].actions)
    assert not any(a in ("*", "iam:*") for s in document.statements for a in s.actions)
    result = CliRunner().invoke(cli, ["operator-policy", "--account", ACCOUNT])
    assert result.exit_code == 0, result.output
    assert PolicyDocument.from_json(json.loads(result.output)).statements[0].sid == "CandidateRoles"
    bad = CliRunner().invoke(cli, ["operator-policy", "--account", "12"])
    assert bad.exit_code == 2 and "12-digit" in bad.output

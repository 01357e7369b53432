"""DELETE_FAILED in cleanup, and `iamfit cleanup` finding leftovers by their tags."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.stub import Stubber
from click.testing import CliRunner

from iamfit.aws.session import AwsSession
from iamfit.cli import cli
from iamfit.policy.document import PolicyDocument
from iamfit.service.model import Service
from iamfit.targets.aws.leftovers import find_leftovers
from iamfit.targets.aws.target import make_aws_target
from tests.targets.aws.conftest import ACCOUNT, FakeClock, live_stacks
from tests.targets.aws.test_failure_paths import STACK_ID, T0

ALLOW_ALL = PolicyDocument.from_json({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def _stack(status: str) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackId": STACK_ID,
                "StackName": "small-svc-iamfitr",
                "CreationTime": T0,
                "StackStatus": status,
                "Tags": [{"Key": "iamfit:managed", "Value": "true"}],
            }
        ]
    }


def _delete_failed_script(stub: Stubber, second_delete_works: bool) -> None:
    name = {"StackName": "small-svc-iamfitr"}
    stub.add_response("describe_stacks", _stack("DELETE_FAILED"), name)
    stub.add_response("describe_stacks", _stack("DELETE_FAILED"), name)  # wait(): nothing in progress
    stub.add_client_error("describe_stack_resource", "ValidationError", "Resource does not exist", 400)
    stub.add_response("describe_stacks", _stack("DELETE_FAILED"), name)  # delete(): still there
    stub.add_response("delete_stack", {}, name)
    stub.add_response("describe_stacks", _stack("DELETE_IN_PROGRESS"), name)  # wait()
    stub.add_response("describe_stacks", _stack("DELETE_FAILED"), name)
    stub.add_response("describe_stacks", _stack("DELETE_FAILED"), name)  # second delete, operator's
    stub.add_response("delete_stack", {}, name)
    if second_delete_works:
        stub.add_client_error(
            "describe_stacks", "ValidationError", "Stack with id small-svc-iamfitr does not exist", 400
        )
        return
    stub.add_response("describe_stacks", _stack("DELETE_FAILED"), name)
    stub.add_response(
        "describe_stack_resources",
        {
            "StackResources": [
                {
                    "LogicalResourceId": "WorkQueue",
                    "ResourceType": "AWS::SQS::Queue",
                    "Timestamp": T0,
                    "ResourceStatus": "DELETE_FAILED",
                    "ResourceStatusReason": 'Resource handler returned message: "User: arn:aws:sts::'
                    f"{ACCOUNT}:assumed-role/iamfit-small-svc-iamfitr-cfn/AWSCloudFormation is not authorized "
                    'to perform: sqs:deletequeue"',
                }
            ]
        },
        name,
    )


def _target(service: Service, session: AwsSession, clock: FakeClock) -> Any:
    service.provider["iam"] = {"deploymentRole": f"arn:aws:iam::{ACCOUNT}:role/real"}
    target = make_aws_target(
        service,
        session=session,
        account_guard=ACCOUNT,
        run_id="r",
        settle_seconds=0,
        propagation_seconds=0,
        clock=clock,
    )
    target.roles.ensure()
    return target


def test_delete_failed_is_retried_then_reported_and_the_cfn_role_kept(
    small_service: Service, session: AwsSession, clock: FakeClock
) -> None:
    target = _target(small_service, session, clock)
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    stub = Stubber(cfn)
    _delete_failed_script(stub, second_delete_works=False)
    target._clients["cloudformation"] = cfn
    with stub:
        target.cleanup()
    stub.assert_no_pending_responses()
    report = target.last_cleanup
    assert report is not None and not report.clean
    assert any("DELETE_FAILED after two deletes" in p and "WorkQueue" in p for p in report.problems)
    assert any("kept role iamfit-small-svc-iamfitr-cfn" in p for p in report.problems)
    roles = [r["RoleName"] for r in session.client("iam").list_roles()["Roles"]]
    assert roles == ["iamfit-small-svc-iamfitr-cfn"]  # the deployer role went; the stack still needs this one


def test_delete_failed_then_the_operators_retry_succeeds(
    small_service: Service, session: AwsSession, clock: FakeClock
) -> None:
    target = _target(small_service, session, clock)
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    stub = Stubber(cfn)
    _delete_failed_script(stub, second_delete_works=True)
    target._clients["cloudformation"] = cfn
    with stub:
        target.cleanup()
    stub.assert_no_pending_responses()
    assert target.last_cleanup is not None and target.last_cleanup.clean
    assert "stack small-svc-iamfitr" in target.last_cleanup.deleted
    assert session.client("iam").list_roles()["Roles"] == []


def test_iamfit_cleanup_finds_leftovers_by_tag_and_deletes_them_after_confirmation(
    small_service: Service, session: AwsSession, clock: FakeClock
) -> None:
    target = make_aws_target(
        small_service,
        session=session,
        account_guard=ACCOUNT,
        run_id="old",
        settle_seconds=0,
        propagation_seconds=0,
        clock=clock,
        keep=True,
    )
    target.harvester.unavailable = "not under test"  # no LookupEvents (moto has none)
    with target:  # a run with --keep leaves its stack and role
        assert target.attempt("create", {"deployer": ALLOW_ALL}, attempt_id="a", session_name="s-1").succeeded
    iam, cfn = session.client("iam"), session.client("cloudformation")
    # things that are not iamfit's stay out of it
    iam.create_role(RoleName="iamfit-lookalike", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    iam.create_role(RoleName="someone-else", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    cfn.create_stack(StackName="prod-stack", TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}))
    found = find_leftovers(cfn, iam)
    assert [(f.kind, f.name, f.run) for f in found] == [
        ("stack", "small-svc-iamfitold", "old"),
        ("role", "iamfit-small-svc-iamfitold-deployer", "old"),
    ]
    runner = CliRunner()
    declined = runner.invoke(cli, ["cleanup", "--region", "us-east-1"], input="n\n")
    assert declined.exit_code == 0, declined.output
    assert "stack small-svc-iamfitold (run old)" in declined.output and "nothing deleted" in declined.output
    assert len(find_leftovers(cfn, iam)) == 2
    done = runner.invoke(cli, ["cleanup", "--region", "us-east-1", "--yes"])
    assert done.exit_code == 0, done.output
    assert "deleted stack small-svc-iamfitold (run old)" in done.output
    assert find_leftovers(cfn, iam) == []
    assert live_stacks(cfn) == ["prod-stack"]
    assert sorted(r["RoleName"] for r in iam.list_roles()["Roles"]) == ["iamfit-lookalike", "someone-else"]
    assert session.client("s3").list_buckets()["Buckets"] == []
    again = runner.invoke(cli, ["cleanup", "--region", "us-east-1"])
    assert again.exit_code == 0 and "nothing iamfit made is left" in again.output

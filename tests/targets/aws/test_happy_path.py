"""The full happy path on moto with the built-in deployer: create, update, remove, and nothing left."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from iamfit.aws.session import AwsSession
from iamfit.errors import SafetyError
from iamfit.policy.document import PolicyDocument
from iamfit.service.model import Service
from iamfit.targets.aws.names import INLINE_POLICY
from iamfit.targets.aws.target import make_aws_target
from tests.targets.aws.conftest import ACCOUNT, FakeClock, live_stacks, local_policies, moto_variant

ALLOW_ALL = PolicyDocument.from_json({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def _record(session_name: str, event_name: str, error: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/iamfit-x/{session_name}",
            "accountId": ACCOUNT,
        },
        "eventTime": "2026-11-26T10:00:00Z",
        "eventSource": "cloudformation.amazonaws.com",
        "eventName": event_name,
        "awsRegion": "us-east-1",
        "eventID": f"{session_name}-{event_name}",
    }
    if error:
        record["errorCode"] = error
    return record


def _stubbed_trail(session_names: list[str]) -> tuple[Any, Stubber]:
    client = boto3.client("cloudtrail", region_name="us-east-1")
    stub = Stubber(client)
    for name in session_names:
        stub.add_response(
            "lookup_events",
            {"Events": [{"EventId": "1", "CloudTrailEvent": json.dumps(_record(name, "CreateChangeSet"))}]},
            {
                "LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": name}],
                "MaxResults": 50,
                "StartTime": ANY,
            },
        )
    stub.activate()
    return client, stub


@pytest.mark.parametrize("fixture", ["small_service", "sqs_worker"])
def test_create_update_remove_then_nothing_left(
    fixture: str, request: pytest.FixtureRequest, session: AwsSession, clock: FakeClock
) -> None:
    service: Service = request.getfixturevalue(fixture)
    target = make_aws_target(
        service,
        session=session,
        account_guard=ACCOUNT,
        run_id="run-42",
        settle_seconds=0,
        propagation_seconds=0,
        poll_seconds=1,
        clock=clock,
        variant=moto_variant,
    )
    names = [f"iamfit-run42-{p}-1" for p in ("create", "update", "remove")]
    trail, stub = _stubbed_trail(names)
    target.harvester.cloudtrail = trail
    iam, cfn, s3 = (session.client(s) for s in ("iam", "cloudformation", "s3"))
    stack = f"{service.name}-iamfitrun42"
    role = f"iamfit-{service.name}-iamfitrun42-deployer"
    with target:
        create = target.attempt("create", {"deployer": ALLOW_ALL}, attempt_id="a1", session_name=names[0])
        assert create.succeeded and create.reached_stack and create.first_failure is None
        assert create.stack_status == "UPDATE_COMPLETE" and create.cli_exit_code == 0
        assert [r["eventName"] for r in create.trail_records] == ["CreateChangeSet"]
        # the candidate role exists, tagged, with the attempt's policy inline, trusted by the operator only
        got = iam.get_role(RoleName=role)["Role"]
        trust = got["AssumeRolePolicyDocument"]
        assert [s["Principal"] for s in trust["Statement"]] == [{"AWS": f"arn:aws:iam::{ACCOUNT}:user/moto"}]
        tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role)["Tags"]}
        assert tags == {"iamfit:managed": "true", "iamfit:run": "run-42"}
        inline = iam.get_role_policy(RoleName=role, PolicyName=INLINE_POLICY)["PolicyDocument"]
        assert PolicyDocument.from_json(inline) == ALLOW_ALL
        # bounded by iamfit-boundary, and so is every role the discovery stack creates
        boundary = f"arn:aws:iam::{ACCOUNT}:policy/iamfit-boundary"
        assert got["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
        stack_roles = [
            r["PhysicalResourceId"]
            for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
            if r.get("ResourceType") == "AWS::IAM::Role"
        ]
        assert len(stack_roles) == sum(r["Type"] == "AWS::IAM::Role" for r in service.template["Resources"].values())
        for name in stack_roles:
            assert iam.get_role(RoleName=name)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
        # the stack is the discovery stage's, tagged as iamfit's, and holds the template's resources
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        assert {"Key": "iamfit:managed", "Value": "true"} in described["Tags"]
        resources = {
            r.get("LogicalResourceId") for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
        }
        assert set(service.template["Resources"]) - {"ServerlessDeploymentBucketPolicy"} <= resources
        bucket = target.deployer.bucket
        assert bucket is not None
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
        assert keys and all(k.startswith(f"serverless/{service.name}/iamfitrun42/") for k in keys)
        assert any(k.endswith("compiled-cloudformation-template.json") for k in keys)
        # nothing was deployed under the package's own stage
        assert all(f"{service.name}-dev" not in s for s in live_stacks(cfn))

        update = target.attempt("update", {"deployer": ALLOW_ALL}, attempt_id="a2", session_name=names[1])
        assert update.succeeded and update.stack_status == "UPDATE_COMPLETE"
        assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 2 * len(keys)

        remove = target.attempt("remove", {"deployer": ALLOW_ALL}, attempt_id="a3", session_name=names[2])
        assert remove.succeeded and remove.stack_status is None
        assert live_stacks(cfn) == []
    stub.assert_no_pending_responses()
    assert target.last_cleanup is not None and target.last_cleanup.clean
    assert iam.list_roles()["Roles"] == []
    assert local_policies(iam) == ["iamfit-boundary"]  # the boundary is kept (docs/aws.md)
    assert live_stacks(cfn) == []
    assert s3.list_buckets()["Buckets"] == []


def test_a_large_policy_goes_in_as_managed_policies(
    small_service: Service, session: AwsSession, clock: FakeClock
) -> None:
    statements = [
        {
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:queue-{i:04d}-*",
            "Condition": {"StringEquals": {"aws:ResourceTag/slot": f"slot-{i:04d}"}},
        }
        for i in range(160)
    ]
    big = PolicyDocument.from_json({"Statement": statements})
    assert big.size() > 10_240
    target = make_aws_target(
        small_service,
        session=session,
        account_guard=ACCOUNT,
        run_id="big",
        settle_seconds=0,
        propagation_seconds=0,
        clock=clock,
    )
    iam = session.client("iam")
    role = target.names.role_name("deployer")
    with target:
        target.roles.ensure()
        target.roles.put_policy("deployer", big)
        attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        assert len(attached) >= 2 and iam.list_role_policies(RoleName=role)["PolicyNames"] == []
        # back under the inline limit: the managed policies go, the inline policy comes
        target.roles.put_policy("deployer", ALLOW_ALL)
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
        assert local_policies(iam) == ["iamfit-boundary"]  # the boundary is kept (docs/aws.md)
        target.roles.put_policy("deployer", big)
    assert iam.list_roles()["Roles"] == [] and local_policies(iam) == ["iamfit-boundary"]


def test_deployment_role_gets_a_cfn_role_trusted_by_cloudformation(
    small_service: Service, session: AwsSession, clock: FakeClock
) -> None:
    small_service.provider["iam"] = {"deploymentRole": f"arn:aws:iam::{ACCOUNT}:role/real-cfn-role"}
    target = make_aws_target(
        small_service,
        session=session,
        account_guard=ACCOUNT,
        run_id="cfn",
        settle_seconds=0,
        propagation_seconds=0,
        clock=clock,
    )
    trail = boto3.client("cloudtrail", region_name="us-east-1")
    stub = Stubber(trail)  # an SCP denies LookupEvents: the attempt goes on without CloudTrail
    stub.add_client_error("lookup_events", "AccessDeniedException", "denied by a service control policy", 400)
    stub.activate()
    target.harvester.cloudtrail = trail
    iam, cfn = session.client("iam"), session.client("cloudformation")
    with target:
        attempt = target.attempt(
            "create",
            {"deployer": ALLOW_ALL, "cloudformation": ALLOW_ALL},
            attempt_id="a1",
            session_name="iamfit-cfn-create-1",
        )
        assert attempt.succeeded
        assert attempt.trail_records == ()
        assert "AccessDeniedException" in attempt.unavailable_evidence["cloudtrail"]
        assert "LookupEvents" not in attempt.cli_output  # the deploy's output stays what the deploy printed
        trust = iam.get_role(RoleName=target.names.role_name("cfn"))["Role"]["AssumeRolePolicyDocument"]
        assert {"Service": "cloudformation.amazonaws.com"} in [s["Principal"] for s in trust["Statement"]]
        assert cfn.describe_stacks(StackName=target.names.stack_name)["Stacks"][0]["RoleARN"].endswith(
            "role/iamfit-small-svc-iamfitcfn-cfn"
        )
    assert iam.list_roles()["Roles"] == []


def test_the_account_guard_must_match_before_anything_is_created(small_service: Service, session: AwsSession) -> None:
    iam = session.client("iam")
    with pytest.raises(SafetyError, match="not the guarded account 111122223333"):
        make_aws_target(small_service, session=session, account_guard="111122223333", run_id="r")
    with pytest.raises(SafetyError, match="--account-guard"):
        make_aws_target(small_service, session=session, account_guard=None, run_id="r")
    assert iam.list_roles()["Roles"] == []


def test_a_stack_iamfit_did_not_create_is_refused(small_service: Service, session: AwsSession) -> None:
    cfn = session.client("cloudformation")
    body = {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}
    cfn.create_stack(StackName="small-svc-iamfitr", TemplateBody=json.dumps(body))
    with pytest.raises(SafetyError, match="not tagged iamfit:managed"):
        make_aws_target(small_service, session=session, account_guard=ACCOUNT, run_id="r")
    assert live_stacks(cfn) == ["small-svc-iamfitr"]
    assert session.client("iam").list_roles()["Roles"] == []


def test_cleanup_runs_when_the_loop_raises(small_service: Service, session: AwsSession, clock: FakeClock) -> None:
    target = make_aws_target(
        small_service,
        session=session,
        account_guard=ACCOUNT,
        run_id="boom",
        settle_seconds=0,
        propagation_seconds=0,
        clock=clock,
    )
    target.harvester.unavailable = "not under test"  # no LookupEvents (moto has none)
    with pytest.raises(RuntimeError, match="loop bug"), target:
        assert target.attempt("create", {"deployer": ALLOW_ALL}, attempt_id="a", session_name="s-1").succeeded
        raise RuntimeError("loop bug")
    cfn, iam, s3 = (session.client(s) for s in ("cloudformation", "iam", "s3"))
    assert live_stacks(cfn) == [] and iam.list_roles()["Roles"] == [] and s3.list_buckets()["Buckets"] == []


def test_keep_leaves_everything(small_service: Service, session: AwsSession, clock: FakeClock) -> None:
    target = make_aws_target(
        small_service,
        session=session,
        account_guard=ACCOUNT,
        run_id="keep",
        settle_seconds=0,
        propagation_seconds=0,
        clock=clock,
        keep=True,
    )
    target.harvester.unavailable = "not under test"  # no LookupEvents (moto has none)
    with target:
        target.attempt("create", {"deployer": ALLOW_ALL}, attempt_id="a", session_name="s-1")
    assert live_stacks(session.client("cloudformation")) == ["small-svc-iamfitkeep"]
    assert len(session.client("iam").list_roles()["Roles"]) == 1

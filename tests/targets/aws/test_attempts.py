"""Whole attempts on moto where the candidate deployer is denied a call, then granted it: the denial is
evidence in the attempt, and the next attempt resumes the same stack."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from iamfit.aws.session import AwsSession, Credentials
from iamfit.evidence.failure_text import parse_failure_text
from iamfit.policy.document import PolicyDocument
from iamfit.service.model import Service
from iamfit.targets.aws.target import make_aws_target
from tests.targets.aws.conftest import ACCOUNT, FakeClock, live_stacks

ALLOW_ALL = PolicyDocument.from_json({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def _deny(operation: str, action: str, denied: dict[str, bool]) -> Any:
    def handler(model: Any, params: Any, **_: Any) -> Any:
        body = params.get("body") if isinstance(params, dict) else None
        kind = body.get("ChangeSetType") if isinstance(body, dict) else None
        if not denied["on"] or (denied.get("update_only") and kind != "UPDATE"):
            return None
        message = (
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/iamfit-small-svc-iamfitr-deployer/iamfit-r-1 is not "
            f"authorized to perform: {action} on resource: arn:aws:cloudformation:us-east-1:{ACCOUNT}:"
            f"stack/small-svc-iamfitr/* because no identity-based policy allows the {action} action"
        )
        response = AWSResponse("https://cloudformation.us-east-1.amazonaws.com/", 403, {}, None)
        return response, {"Error": {"Code": "AccessDenied", "Message": message}, "ResponseMetadata": {}}

    return handler


@pytest.fixture
def deny_change_set(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """While on, the candidate's (never the operator's) CreateChangeSet is denied, in AWS's words."""
    denied = {"on": True, "update_only": True}
    original = AwsSession.with_credentials

    def with_credentials(self: AwsSession, credentials: Credentials) -> AwsSession:
        candidate = original(self, credentials)
        candidate.boto.events.register(
            "before-call.cloudformation.CreateChangeSet",
            _deny("CreateChangeSet", "cloudformation:CreateChangeSet", denied),
        )
        return candidate

    monkeypatch.setattr(AwsSession, "with_credentials", with_credentials)
    return denied


def test_a_denied_attempt_is_evidence_and_the_retry_resumes_the_stack(
    small_service: Service, session: AwsSession, clock: FakeClock, deny_change_set: dict[str, bool]
) -> None:
    target = make_aws_target(
        small_service,
        session=session,
        account_guard=ACCOUNT,
        run_id="r",
        settle_seconds=0,
        propagation_seconds=0,
        clock=clock,
    )
    target.harvester.unavailable = "not under test"  # no LookupEvents (moto has none)
    cfn = session.client("cloudformation")
    with target:
        first = target.attempt("create", {"deployer": ALLOW_ALL}, attempt_id="c1", session_name="iamfit-r-1")
        assert not first.succeeded and first.cli_exit_code == 1
        assert first.reached_stack  # the core stack was created before the denial
        assert first.stack_status == "CREATE_COMPLETE"
        assert first.first_failure is not None and "CreateChangeSet" in first.first_failure
        (denial,) = parse_failure_text(first.cli_output).denials
        assert denial.action == "cloudformation:CreateChangeSet"
        stack_id = cfn.describe_stacks(StackName="small-svc-iamfitr")["Stacks"][0]["StackId"]

        deny_change_set["on"] = False  # the loop granted it
        second = target.attempt("create", {"deployer": ALLOW_ALL}, attempt_id="c2", session_name="iamfit-r-2")
        assert second.succeeded and second.stack_status == "UPDATE_COMPLETE" and second.first_failure is None
        assert "core stack" not in second.cli_output  # the same stack, resumed, not recreated
        assert cfn.describe_stacks(StackName="small-svc-iamfitr")["Stacks"][0]["StackId"] == stack_id
        # the second attempt's events are its own: none from the first attempt's core stack creation
        assert all(
            e["ResourceStatus"] != "CREATE_COMPLETE" or e["LogicalResourceId"] != "ServerlessDeploymentBucket"
            for e in second.stack_events
        )
    assert live_stacks(cfn) == []


def test_a_deployer_denied_its_first_call_does_not_reach_the_stack(
    small_service: Service, session: AwsSession, clock: FakeClock, deny_change_set: dict[str, bool]
) -> None:
    deny_change_set["update_only"] = False
    target = make_aws_target(
        small_service,
        session=session,
        account_guard=ACCOUNT,
        run_id="r",
        settle_seconds=0,
        propagation_seconds=0,
        clock=clock,
    )
    target.harvester.unavailable = "not under test"  # no LookupEvents (moto has none)
    with target:
        attempt = target.attempt("create", {"deployer": ALLOW_ALL}, attempt_id="c1", session_name="iamfit-r-1")
        assert not attempt.succeeded and not attempt.reached_stack
        assert attempt.stack_status is None and attempt.stack_events == ()
        assert "not authorized to perform: cloudformation:CreateChangeSet" in attempt.cli_output
    assert live_stacks(session.client("cloudformation")) == []
    assert session.client("iam").list_roles()["Roles"] == []

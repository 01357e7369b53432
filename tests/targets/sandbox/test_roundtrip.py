"""Everything the sandbox emits reads back, through iamfit's own evidence readers, into the denials it decided."""

from __future__ import annotations

import json

import pytest

from iamfit.evidence.cloudtrail import read_records
from iamfit.evidence.failure_text import parse_failure_text
from iamfit.evidence.model import Cause, Denial
from iamfit.policy.document import PolicyDocument
from iamfit.targets.sandbox import SandboxTarget
from iamfit.targets.sandbox.target import Verdict
from tests.targets.sandbox.conftest import dropped, example

# (example, actions to drop): denials on the deployer's CLI side, on create, update and delete, on PassRole
CASES = [
    ("rest-api", ("lambda:CreateFunction", "dynamodb:DeleteTable")),
    ("rest-api", ("s3:PutObject",)),
    ("rest-api", ("lambda:GetFunction",)),  # tolerated by the CLI
    ("sqs-worker", ("iam:PassRole", "sqs:CreateQueue")),
    ("deployment-role", ("lambda:AddPermission", "logs:DeleteLogGroup")),
    ("vpc-kms", ("kms:CreateKey", "lambda:UpdateFunctionConfiguration")),
    ("http-api-jwt", ("apigateway:POST", "cognito-idp:DeleteUserPool")),
]


def _read_back(attempts: list) -> set[tuple[str, str | None]]:  # type: ignore[type-arg]
    found: set[tuple[str, str | None]] = set()
    for attempt in attempts:
        json.dumps(attempt.stack_events)  # JSON-able, as DescribeStackEvents prints
        json.dumps(attempt.trail_records)
        for event in attempt.stack_events:
            reading = parse_failure_text(event.get("ResourceStatusReason", ""))
            found |= {(d.action or "", d.resource) for d in reading.denials}
        for item in read_records({"Records": list(attempt.trail_records)}):
            if isinstance(item, Denial):
                found.add((item.action or "", item.resource))
        found |= {(d.action or "", d.resource) for d in parse_failure_text(attempt.cli_output).denials}
    return found


def _decided(target: SandboxTarget, ids: list[str]) -> set[tuple[str, str | None]]:
    return {(v.action, v.resource) for i in ids for v in target.verdicts[i] if not v.allowed}


@pytest.mark.parametrize(("name", "actions"), CASES, ids=[f"{n}-{'+'.join(a)}" for n, a in CASES])
@pytest.mark.parametrize("mode", ["disable-rollback", "classic", "exhaustive"])
def test_evidence_reads_back_into_the_decided_denials(name: str, actions: tuple[str, ...], mode: str) -> None:
    service, policies = example(name)
    target = SandboxTarget(service, disable_rollback=mode != "classic", exhaustive=mode == "exhaustive")
    smaller = dropped(policies, *actions)
    attempts, ids = [], []
    for n, phase in enumerate(("create", "update", "remove")):
        if not target.ready_for(phase):
            target.provision(phase)
        attempts.append(target.attempt(phase, smaller, attempt_id=f"a{n}", session_name=f"iamfit-a{n}"))
        ids.append(f"a{n}")
    decided = _decided(target, ids)
    assert decided, "the case must produce denials"
    assert {a for a, _ in decided} <= {a.lower() for a in actions} | set(actions)
    assert _read_back(attempts) == decided


def test_cloudtrail_records_carry_session_and_invoker() -> None:
    service, policies = example("rest-api")
    target = SandboxTarget(service)
    attempt = target.attempt("create", dropped(policies, "lambda:CreateFunction"), attempt_id="x",
                             session_name="iamfit-run1-a1")
    denials = [d for d in read_records({"Records": list(attempt.trail_records)}) if isinstance(d, Denial)]
    assert denials and all(d.session_name == "iamfit-run1-a1" for d in denials)
    assert all(d.invoked_by == "cloudformation.amazonaws.com" for d in denials)
    assert all(d.cause is Cause.IDENTITY_NO_ALLOW for d in denials)
    record = next(r for r in attempt.trail_records if r.get("errorCode"))
    assert record["eventName"] == "CreateFunction20150331"
    assert record["eventSource"] == "lambda.amazonaws.com"
    assert record["errorCode"] == "AccessDeniedException"
    assert record["userIdentity"]["type"] == "AssumedRole"
    assert record["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"].endswith(":role/iamfit-deployer")
    # PassRole is never logged; S3 object calls are data events
    assert not any(r["eventName"] == "PassRole" for r in attempt.trail_records)
    put = next(r for r in attempt.trail_records if r["eventName"] == "PutObject")
    assert put["eventCategory"] == "Data" and put["managementEvent"] is False
    assert put["resources"][0]["type"] == "AWS::S3::Object"


def test_stack_event_shape_and_wording() -> None:
    service, policies = example("rest-api")
    target = SandboxTarget(service)
    attempt = target.attempt("create", dropped(policies, "lambda:CreateFunction"), attempt_id="x",
                             session_name="iamfit-s")
    failed = [e for e in attempt.stack_events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed
    event = failed[0]
    assert set(event) == {"StackId", "EventId", "StackName", "LogicalResourceId", "PhysicalResourceId",
                          "ResourceType", "Timestamp", "ResourceStatus", "ResourceStatusReason", "ResourceProperties"}
    assert event["StackId"].startswith("arn:aws:cloudformation:us-east-1:123456789012:stack/iamfit-rest-api-dev/")
    assert event["EventId"].startswith(f"{event['LogicalResourceId']}-CREATE_FAILED-")
    reason = event["ResourceStatusReason"]
    assert reason.startswith('Resource handler returned message: "User: arn:aws:sts::123456789012:assumed-role/'
                             'iamfit-deployer/iamfit-s is not authorized to perform: lambda:CreateFunction on '
                             'resource: arn:aws:lambda:us-east-1:123456789012:function:iamfit-rest-api-dev-')
    assert "because no identity-based policy allows the lambda:CreateFunction action (Service: Lambda, " \
           "Status Code: 403, Request ID: " in reason
    assert reason.endswith(", HandlerErrorCode: AccessDenied)")
    stamps = [e["Timestamp"] for e in attempt.stack_events]
    assert stamps == sorted(stamps, reverse=True)  # newest first, as DescribeStackEvents returns them


def test_cli_output_prints_the_sdk_error_as_the_framework_does() -> None:
    service, policies = example("rest-api")
    target = SandboxTarget(service)
    attempt = target.attempt("create", dropped(policies, "s3:PutObject"), attempt_id="x", session_name="iamfit-c")
    assert not attempt.succeeded and attempt.cli_exit_code == 1
    assert "✖ Stack iamfit-rest-api-dev failed to deploy" in attempt.cli_output
    assert ("User: arn:aws:sts::123456789012:assumed-role/iamfit-deployer/iamfit-c is not authorized to perform: "
            "s3:PutObject on resource: \"arn:aws:s3:::iamfit-rest-api-dev-serverlessdeploymentbucket-") \
        in attempt.cli_output
    assert attempt.cli_output.rstrip().endswith("because no identity-based policy allows the s3:PutObject action")


def test_explicit_deny_and_scp_wording_read_back_with_their_cause() -> None:
    service, policies = example("sqs-worker")
    deny = PolicyDocument.from_json({"Statement": [
        *[s.to_json() for s in policies["deployer"].statements],
        {"Effect": "Deny", "Action": "sqs:CreateQueue", "Resource": "*"},
    ]})
    scp = PolicyDocument.from_json({"Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "events:PutRule", "Resource": "*"},
    ]})
    target = SandboxTarget(service, scps=(scp,), exhaustive=True)
    attempt = target.attempt("create", {"deployer": deny}, attempt_id="x", session_name="iamfit-d")
    causes = {v.action: v.cause for v in target.verdicts["x"] if not v.allowed}
    assert causes == {"sqs:CreateQueue": Cause.EXPLICIT_DENY, "events:PutRule": Cause.SCP}
    texts = " ".join(e.get("ResourceStatusReason", "") for e in attempt.stack_events)
    read = {d.action: d.cause for d in parse_failure_text(texts).denials}
    assert read == causes


def test_verdicts_are_data() -> None:
    assert Verdict(1.0, "deployer", "s3:PutObject", "arn:aws:s3:::b/k", False, Cause.IDENTITY_NO_ALLOW, False,
                   None, "x") < Verdict(2.0, "deployer", "s3:PutObject", "arn:aws:s3:::b/k", True, None, False,
                                        None, "x")

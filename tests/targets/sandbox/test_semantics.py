"""CloudFormation semantics of the sandbox: paths, DisableRollback + Retry, classic rollback, principals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iamfit.errors import UsageError
from iamfit.policy.document import PolicyDocument
from iamfit.service.model import load_service
from iamfit.targets.base import Target
from iamfit.targets.sandbox import ExtendedWorld, ExtraNeed, KnowledgeWorld, SandboxTarget
from iamfit.targets.sandbox.plan import plan
from tests.targets.sandbox.conftest import ACCOUNT, dropped, example

ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def _statuses(attempt: object) -> list[tuple[str, str]]:
    return [(e["LogicalResourceId"], e["ResourceStatus"]) for e in reversed(attempt.stack_events)]  # type: ignore[attr-defined]


def test_sandbox_is_a_target() -> None:
    service, _ = example("rest-api")
    target: Target = SandboxTarget(service)
    assert target.name == "sandbox" and target.supports_retry_in_place
    assert not SandboxTarget(service, disable_rollback=False).supports_retry_in_place


def test_disable_rollback_stops_each_failed_path_only_and_retry_resumes() -> None:
    service, policies = example("rest-api")
    target = SandboxTarget(service)
    first = target.attempt("create", dropped(policies, "lambda:CreateFunction"), attempt_id="1", session_name="s1")
    assert not first.succeeded and first.reached_stack
    assert first.stack_status == "UPDATE_FAILED"
    statuses = _statuses(first)
    functions = sorted(lid for lid, r in service.resources.items() if r.type == "AWS::Lambda::Function")
    assert sorted(lid for lid, s in statuses if s == "CREATE_FAILED") == functions  # one denial per path
    # what does not depend on a function keeps going; what does is not attempted
    assert ("ItemsTable", "CREATE_COMPLETE") in statuses
    dependents = set().union(*(service.graph.all_dependents(f) for f in functions))
    assert not any(lid in dependents for lid, _ in statuses)
    done_before = {lid for lid, s in statuses if s == "CREATE_COMPLETE"}
    retry = target.attempt("create", policies, attempt_id="2", session_name="s2")
    assert retry.succeeded and retry.stack_status == "UPDATE_COMPLETE"
    created_again = {lid for lid, s in _statuses(retry) if s == "CREATE_COMPLETE"}
    assert not created_again & done_before  # Retry resumes; nothing is created twice
    assert set(functions) <= created_again
    assert retry.modeled_seconds < first.modeled_seconds + 1000


def test_classic_rollback_cancels_in_progress_work_and_rolls_back() -> None:
    service, policies = example("rest-api")
    target = SandboxTarget(service, disable_rollback=False)
    attempt = target.attempt("create", dropped(policies, "lambda:CreateFunction"), attempt_id="1", session_name="s")
    assert attempt.stack_status == "UPDATE_ROLLBACK_COMPLETE"
    stack_statuses = [s for lid, s in _statuses(attempt) if lid == service.stack_name]
    assert stack_statuses[-3:] == ["UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
                                   "UPDATE_ROLLBACK_COMPLETE"]
    # the by-hand loop pays the rollback: slower than the DisableRollback attempt
    fast = SandboxTarget(service).attempt("create", dropped(policies, "lambda:CreateFunction"), attempt_id="1",
                                          session_name="s")
    assert attempt.modeled_seconds >= fast.modeled_seconds + 100
    # the next deploy works from the rolled-back stack
    again = target.attempt("create", policies, attempt_id="2", session_name="s2")
    assert again.succeeded and again.stack_status == "UPDATE_COMPLETE"


def _template(tmp_path: Path, resources: dict[str, object]) -> Path:
    path = tmp_path / "template.json"
    path.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}))
    return path


def test_rollback_needs_delete_permissions(tmp_path: Path) -> None:
    path = _template(tmp_path, {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q1"}},
        "Topic": {"Type": "AWS::SNS::Topic", "DependsOn": "Queue", "Properties": {"TopicName": "t1"}},
    })
    service = load_service(path, service_name="svc", stage="dev", region="us-east-1", account=ACCOUNT)
    policy = PolicyDocument.from_json({"Statement": [
        ALLOW_ALL, {"Effect": "Deny", "Action": ["sns:CreateTopic", "sqs:DeleteQueue"], "Resource": "*"}]})
    target = SandboxTarget(service, disable_rollback=False)
    attempt = target.attempt("create", {"deployer": policy}, attempt_id="1", session_name="s")
    statuses = _statuses(attempt)
    assert ("Topic", "CREATE_FAILED") in statuses
    assert ("Queue", "DELETE_FAILED") in statuses
    assert attempt.stack_status == "ROLLBACK_FAILED"
    denied = {v.action for v in target.verdicts["1"] if not v.allowed}
    assert denied == {"sns:CreateTopic", "sqs:DeleteQueue"}


def test_classic_failure_cancels_what_is_in_progress(tmp_path: Path) -> None:
    path = _template(tmp_path, {
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "TableName": "t1", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t1"}},
        "Later": {"Type": "AWS::SNS::Topic", "DependsOn": "Table", "Properties": {"TopicName": "t2"}},
    })
    service = load_service(path, service_name="svc", stage="dev", region="us-east-1", account=ACCOUNT)
    deny = PolicyDocument.from_json({"Statement": [
        ALLOW_ALL, {"Effect": "Deny", "Action": "sns:CreateTopic", "Resource": "arn:aws:sns:*:*:t1"}]})
    attempt = SandboxTarget(service, disable_rollback=False).attempt(
        "create", {"deployer": deny}, attempt_id="1", session_name="s")
    reasons = {(e["LogicalResourceId"], e["ResourceStatus"]): e.get("ResourceStatusReason")
               for e in attempt.stack_events}
    assert reasons[("Table", "CREATE_FAILED")] == "Resource creation cancelled"
    assert not any(lid == "Later" for lid, _ in reasons)  # never started
    assert attempt.stack_status == "ROLLBACK_COMPLETE"
    # with DisableRollback the independent path finishes, the dependent one too
    kept = SandboxTarget(service).attempt("create", {"deployer": deny}, attempt_id="1", session_name="s")
    assert ("Later", "CREATE_COMPLETE") in _statuses(kept) and kept.stack_status == "CREATE_FAILED"


def test_rollback_complete_stack_is_recreated(tmp_path: Path) -> None:
    path = _template(tmp_path, {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t1"}}})
    service = load_service(path, service_name="svc", stage="dev", region="us-east-1", account=ACCOUNT)
    target = SandboxTarget(service, disable_rollback=False)
    deny = PolicyDocument.from_json({"Statement": [ALLOW_ALL, {"Effect": "Deny", "Action": "sns:CreateTopic",
                                                               "Resource": "*"}]})
    first = target.attempt("create", {"deployer": deny}, attempt_id="1", session_name="s")
    assert first.stack_status == "ROLLBACK_COMPLETE"
    allow = PolicyDocument.from_json({"Statement": [ALLOW_ALL]})
    second = target.attempt("create", {"deployer": allow}, attempt_id="2", session_name="s2")
    assert second.succeeded and second.stack_status == "CREATE_COMPLETE"
    assert second.stack_events[0]["StackId"] != first.stack_events[0]["StackId"]


def test_the_cli_stops_at_its_first_denial_before_any_stack_operation() -> None:
    service, policies = example("rest-api")
    target = SandboxTarget(service)
    attempt = target.attempt("create", dropped(policies, "cloudformation:DescribeStacks"), attempt_id="1",
                             session_name="s")
    assert not attempt.succeeded and not attempt.reached_stack
    assert attempt.stack_status is None and attempt.stack_events == ()
    denied = [v for v in target.verdicts["1"] if not v.allowed]
    assert len(denied) == 1 and denied[0].principal == "deployer" and denied[0].invoked_by is None
    assert attempt.first_failure is not None and "cloudformation:DescribeStacks" in attempt.first_failure


def test_tolerated_denials_do_not_fail_the_cli_but_are_recorded() -> None:
    service, policies = example("rest-api")
    target = SandboxTarget(service)
    smaller = dropped(policies, "ecr:DescribeRepositories")
    assert target.attempt("create", policies, attempt_id="1", session_name="s").succeeded
    attempt = target.attempt("remove", smaller, attempt_id="2", session_name="s")
    assert attempt.succeeded and attempt.stack_status == "DELETE_COMPLETE"
    denied = [v for v in target.verdicts["2"] if not v.allowed]
    assert [(v.action, v.tolerated) for v in denied] == [("ecr:DescribeRepositories", True)]
    assert plan(service, smaller).denied_actions == ("ecr:DescribeRepositories",)  # still reported by plan


def test_deployment_role_acts_for_cloudformation() -> None:
    service, policies = example("deployment-role")
    assert service.deployment_role
    target = SandboxTarget(service, exhaustive=True)
    target.attempt("create", {"deployer": policies["deployer"]}, attempt_id="1", session_name="s")
    denied = [v for v in target.verdicts["1"] if not v.allowed]
    assert denied and {v.principal for v in denied} == {"cloudformation"}
    assert all(v.invoked_by == "cloudformation.amazonaws.com" for v in denied)
    attempt = SandboxTarget(service).attempt("create", {"deployer": policies["deployer"]}, attempt_id="2",
                                             session_name="s")
    assert "assumed-role/iamfit-example-cfn-role/AWSCloudFormation is not authorized" in str(attempt.first_failure)
    # direct deployments call CreateStack / UpdateStack, change sets ExecuteChangeSet
    names = {r["eventName"] for r in attempt.trail_records}
    assert "CreateStack" in names and "ExecuteChangeSet" not in names
    rest, rest_policies = example("rest-api")
    rest_names = {r["eventName"] for r in SandboxTarget(rest).attempt(
        "create", rest_policies, attempt_id="3", session_name="s").trail_records}
    assert {"CreateChangeSet", "ExecuteChangeSet"} <= rest_names and "CreateStack" not in rest_names


def test_update_and_remove_need_a_stack() -> None:
    service, policies = example("sqs-worker")
    target = SandboxTarget(service)
    with pytest.raises(UsageError):
        target.attempt("update", policies, attempt_id="1", session_name="s")
    with pytest.raises(UsageError):
        target.attempt("remove", policies, attempt_id="1", session_name="s")
    target.provision("update")
    assert target.ready_for("update")
    assert target.attempt("update", policies, attempt_id="2", session_name="s").succeeded


def test_attempts_are_deterministic() -> None:
    service, policies = example("http-api-jwt")
    runs = []
    for _ in range(2):
        target = SandboxTarget(service)
        runs.append([target.attempt(p, dropped(policies, "iam:CreateRole"), attempt_id=p, session_name="s")
                     for p in ("create",)])
    assert runs[0] == runs[1]


def test_classic_update_rollback_restores_the_old_configuration() -> None:
    service, policies = example("sqs-worker")
    target = SandboxTarget(service, disable_rollback=False)
    assert target.attempt("create", policies, attempt_id="c", session_name="s").succeeded
    update = target.attempt("update", dropped(policies, "lambda:UpdateFunctionConfiguration"), attempt_id="u",
                            session_name="s")
    assert not update.succeeded and update.stack_status == "UPDATE_ROLLBACK_COMPLETE"
    assert target.stack is not None and target.stack.service is not None
    assert set(target.stack.live) == set(service.resources)
    assert target.attempt("update", policies, attempt_id="u2", session_name="s").succeeded


EXTRAS = [
    ExtraNeed("lambda:GetFunctionCodeSigningConfig", "create", resource_type="AWS::Lambda::Function"),
    ExtraNeed("sqs:ListDeadLetterSourceQueues", "update", resource_type="AWS::SQS::Queue"),
    ExtraNeed("logs:DescribeSubscriptionFilters", "delete", resource_type="AWS::Logs::LogGroup"),
    ExtraNeed("ssm:GetParameter", "deploy",
              resource="arn:aws:ssm:us-east-1:123456789012:parameter/serverless-framework/deployment/s3-bucket"),
    ExtraNeed("iam:PassRole", "create", resource_type="AWS::Events::Rule",
              resource="arn:aws:iam::123456789012:role/events-*",
              context=(("iam:PassedToService", ("events.amazonaws.com",)),)),
]


@pytest.mark.parametrize("extra", EXTRAS, ids=[f"{e.when}:{e.action}" for e in EXTRAS])
def test_injected_worlds_need_more_than_the_knowledge_base(extra: ExtraNeed) -> None:
    service, policies = example("sqs-worker")
    world = ExtendedWorld(KnowledgeWorld(), [extra])
    result = plan(service, policies, world=world)
    assert not result.fits and result.denied_actions == (extra.action,)
    phase = {"create": "create", "deploy": "create", "update": "update", "delete": "remove"}[extra.when]
    assert [p.phase for p in result.phases if p.denials][0] == phase
    grant: dict[str, object] = {"Effect": "Allow", "Action": extra.action, "Resource": "*"}
    if extra.context:
        grant["Condition"] = {"StringEquals": {k: list(v) for k, v in extra.context}}
    granted = dict(policies)
    granted["deployer"] = PolicyDocument.from_json(
        {"Statement": [*[s.to_json() for s in policies["deployer"].statements], grant]})
    assert plan(service, granted, world=world).fits


def test_a_conditional_need_is_denied_when_the_condition_does_not_hold() -> None:
    service, policies = example("sqs-worker")
    extra = EXTRAS[-1]
    world = ExtendedWorld(KnowledgeWorld(), [extra])
    wrong = dict(policies)
    wrong["deployer"] = PolicyDocument.from_json({"Statement": [
        *[s.to_json() for s in policies["deployer"].statements],
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}]})
    assert plan(service, wrong, world=world).denied_actions == ("iam:PassRole",)

"""DeletionPolicy / UpdateReplacePolicy: no delete actions for what CloudFormation keeps, in predict and sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iamfit.generate import generate_policies
from iamfit.knowledge.retention import never_deleted, retained
from iamfit.policy.document import PolicyDocument
from iamfit.predict import predict
from iamfit.service.model import Service, load_service
from iamfit.targets.sandbox import SandboxTarget

ACCOUNT = "123456789012"
_TABLE = {
    "TableName": "orders",
    "BillingMode": "PAY_PER_REQUEST",
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
}


def _service(tmp_path: Path, **attributes: str) -> Service:
    table: dict[str, Any] = {"Type": "AWS::DynamoDB::Table", **attributes, "Properties": _TABLE}
    path = tmp_path / "template.json"
    path.write_text(json.dumps({"Resources": {"Table": table, "Queue": {"Type": "AWS::SQS::Queue"}}}))
    return load_service(path, service_name="svc", stage="dev", region="us-east-1", account=ACCOUNT)


@pytest.mark.parametrize(
    "raw, when, kept",
    [
        ({}, "stack-delete", False),
        ({"DeletionPolicy": "Retain"}, "stack-delete", True),
        ({"DeletionPolicy": "Retain"}, "removed", True),
        ({"DeletionPolicy": "Retain"}, "rollback", True),
        ({"DeletionPolicy": "Retain"}, "replaced", False),  # DeletionPolicy does not apply to replacements
        ({"DeletionPolicy": "RetainExceptOnCreate"}, "stack-delete", True),
        ({"DeletionPolicy": "RetainExceptOnCreate"}, "rollback", False),  # the creating operation rolled back
        ({"DeletionPolicy": "Snapshot"}, "stack-delete", False),  # snapshot, then delete
        ({"UpdateReplacePolicy": "Retain"}, "replaced", True),
        ({"UpdateReplacePolicy": "Retain"}, "stack-delete", False),
    ],
)
def test_which_attribute_keeps_the_resource_when(raw: dict[str, str], when: str, kept: bool) -> None:
    assert retained(raw, when) is kept  # type: ignore[arg-type]


def test_never_deleted_needs_every_situation_of_the_commands_covered() -> None:
    both = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    assert never_deleted(both, ("deploy", "remove"))
    assert never_deleted({"DeletionPolicy": "Retain"}, ("remove",))
    assert never_deleted({"DeletionPolicy": "Retain"}, ("deploy", "remove")) is None  # replacement deletes
    assert never_deleted({"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"},
                         ("deploy",)) is None  # a rolled-back create deletes
    assert never_deleted({}, ("deploy", "remove")) is None


def test_a_retained_table_gets_no_delete_actions_and_the_report_says_why(tmp_path: Path) -> None:
    service = _service(tmp_path, DeletionPolicy="Retain", UpdateReplacePolicy="Retain")
    result = generate_policies(service)
    granted = result.prediction.actions()
    assert "dynamodb:DeleteTable" not in granted
    assert "sqs:DeleteQueue" in granted  # the queue has no policy: deleted as usual
    pruned = [p for p in result.report()["pruned"] if p["resource"] == "Table" and p["operation"] == "delete"]
    assert {p["action"] for p in pruned} >= {"dynamodb:DeleteTable"}
    assert all("DeletionPolicy: Retain" in p["why"] and "DeletionPolicy attribute" in p["source"] for p in pruned)


def test_deletion_policy_alone_still_needs_the_replacement_delete(tmp_path: Path) -> None:
    service = _service(tmp_path, DeletionPolicy="Retain")
    assert "dynamodb:DeleteTable" in predict(service).actions()
    assert "dynamodb:DeleteTable" not in predict(service, commands=("remove",)).actions()


def test_the_sandbox_makes_no_delete_request_for_a_retained_resource(tmp_path: Path) -> None:
    """The sandbox and the prediction agree: the generated policy (no DeleteTable) removes the stack."""
    service = _service(tmp_path, DeletionPolicy="Retain", UpdateReplacePolicy="Retain")
    policies = dict(generate_policies(service).policies)
    target = SandboxTarget(service)
    assert target.attempt("create", policies, attempt_id="1", session_name="s").succeeded
    removed = target.attempt("remove", policies, attempt_id="2", session_name="s")
    assert removed.succeeded, removed
    statuses = {(e["LogicalResourceId"], e["ResourceStatus"]) for e in removed.stack_events}
    assert ("Table", "DELETE_SKIPPED") in statuses and ("Queue", "DELETE_COMPLETE") in statuses


def test_the_sandbox_deletes_a_replaced_resource_unless_update_replace_policy_retains_it(tmp_path: Path) -> None:
    allow = {"deployer": PolicyDocument.from_json({"Statement": [{"Effect": "Allow", "Action": "*",
                                                                  "Resource": "*"}]})}
    for attrs, deleted in (({"DeletionPolicy": "Retain"}, True), ({"UpdateReplacePolicy": "Retain"}, False)):
        service = _service(tmp_path, **attrs)
        target = SandboxTarget(service)
        assert target.attempt("create", allow, attempt_id="1", session_name="s").succeeded
        changed = json.loads((tmp_path / "template.json").read_text())
        changed["Resources"]["Table"]["Properties"]["TableName"] = "orders-v2"  # create-only: replacement
        (tmp_path / "template.json").write_text(json.dumps(changed))
        update = load_service(tmp_path / "template.json", service_name="svc", stage="dev", region="us-east-1",
                              account=ACCOUNT)
        target._variant = update  # the update phase deploys this template
        target.names.add_service(update)
        attempt = target.attempt("update", allow, attempt_id="2", session_name="s")
        assert attempt.succeeded
        statuses = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in attempt.stack_events]
        assert (("Table", "DELETE_COMPLETE") in statuses) is deleted, attrs
        assert (("Table", "DELETE_SKIPPED") in statuses) is not deleted, attrs


def test_the_serverless_examples_todo_table_is_deleted_only_by_a_replacement() -> None:
    """serverless/examples aws-node-rest-api-with-dynamodb (tests/predict/fixtures/README.md): its table sets
    DeletionPolicy: Retain only, so `remove` never deletes it, while a deploy that replaces it deletes the old one."""
    service = load_service(Path(__file__).parent / "fixtures" / "todos-retain", account=ACCOUNT,
                           compile_if_needed=False)
    remove_only = generate_policies(service, commands=("remove",))
    assert "dynamodb:DeleteTable" not in remove_only.prediction.actions()
    kept = remove_only.pruned_by_resource()["TodosDynamoDbTable"]["pruned"]
    assert any("dynamodb:DeleteTable" in g["actions"] and "DeletionPolicy: Retain" in g["why"] for g in kept)
    assert "dynamodb:DeleteTable" in predict(service).actions()


@pytest.mark.parametrize(
    "type_name, attributes, props, snapshot",
    [
        ("AWS::EC2::Volume", {}, {"AvailabilityZone": "us-east-1a", "Size": 1}, False),
        ("AWS::EC2::Volume", {"DeletionPolicy": "Snapshot"}, {"AvailabilityZone": "us-east-1a", "Size": 1}, True),
        ("AWS::EC2::Volume", {"UpdateReplacePolicy": "Snapshot"}, {"AvailabilityZone": "us-east-1a", "Size": 1},
         True),
        ("AWS::RDS::DBInstance", {}, {"DBInstanceClass": "db.t3.micro", "Engine": "postgres"}, True),  # default
        ("AWS::RDS::DBInstance", {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"},
         {"DBInstanceClass": "db.t3.micro", "Engine": "postgres"}, False),
    ],
)
def test_snapshot_calls_only_with_a_snapshot_policy(
    tmp_path: Path, type_name: str, attributes: dict[str, str], props: dict[str, Any], snapshot: bool
) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"Resources": {"R": {"Type": type_name, **attributes, "Properties": props}}}))
    service = load_service(path, service_name="svc", stage="dev", region="us-east-1", account=ACCOUNT)
    actions = predict(service, commands=("remove",)).actions()
    assert bool(actions & {"ec2:CreateSnapshot", "rds:CreateDBSnapshot"}) is snapshot
    assert actions & {"ec2:DeleteVolume", "rds:DeleteDBInstance"}  # the delete itself is always made

"""Properties that change what a deploy needs: pruned registry permissions (with why), Lambda@Edge."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from iamfit.generate import generate_policies
from iamfit.policy.document import PolicyDocument
from iamfit.predict.resource_needs import resource_needs
from iamfit.report.text import generate_text
from iamfit.service.model import Service, load_service
from iamfit.targets.sandbox.plan import plan

ACCOUNT = "123456789012"
EDGE = Path(__file__).parent / "fixtures" / "edge-service"


def _one(tmp_path: Path, type_name: str, props: dict[str, Any]) -> Service:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"Resources": {"R": {"Type": type_name, "Properties": props}}}))
    return load_service(path, service_name="svc", stage="dev", region="us-east-1", account=ACCOUNT)


def _actions(service: Service, op: str = "create") -> set[str]:
    return {n.action for n in resource_needs(service, service.resources["R"], op).needs}


_SFN = {"RoleArn": "arn:aws:iam::123456789012:role/sfn", "StateMachineName": "m"}
_TS = {"DatabaseName": "db", "TableName": "t"}
_REJECTED = {"MagneticStoreWriteProperties": {"EnableMagneticStoreWrites": True, "MagneticStoreRejectedDataLocation": {
    "S3Configuration": {"BucketName": "rejects", "EncryptionOption": "SSE_S3"}}}}


@pytest.mark.parametrize(
    "type_name, bare, configured, actions",
    [
        ("AWS::StepFunctions::StateMachine", {**_SFN, "DefinitionString": "{}"},
         {**_SFN, "DefinitionS3Location": {"Bucket": "defs", "Key": "machine.json"}},
         {"s3:GetObject", "s3:GetObjectVersion"}),
        ("AWS::StepFunctions::StateMachine", {**_SFN, "DefinitionString": "{}"},
         {**_SFN, "DefinitionString": "{}", "EncryptionConfiguration": {
             "Type": "CUSTOMER_MANAGED_KMS_KEY", "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k"}},
         {"kms:GenerateDataKey", "kms:DescribeKey"}),
        ("AWS::Timestream::Table", _TS, {**_TS, **_REJECTED}, {"s3:PutObject", "s3:GetObject", "s3:GetBucketAcl"}),
        ("AWS::CertificateManager::Certificate", {"DomainName": "example.com"},
         {"DomainName": "example.com",
          "CertificateAuthorityArn": "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/ca"},
         {"acm-pca:IssueCertificate", "acm-pca:GetCertificate"}),
        ("AWS::CertificateManager::Certificate", {"DomainName": "example.com", "ValidationMethod": "DNS"},
         {"DomainName": "example.com", "ValidationMethod": "DNS",
          "DomainValidationOptions": [{"DomainName": "example.com", "HostedZoneId": "Z123"}]},
         {"route53:ChangeResourceRecordSets"}),
        ("AWS::Events::EventBus", {"Name": "bus"},
         {"Name": "bus", "KmsKeyIdentifier": "arn:aws:kms:us-east-1:123456789012:key/k"}, {"kms:Decrypt"}),
        ("AWS::Lambda::Alias", {"FunctionName": "f", "FunctionVersion": "1", "Name": "live"},
         {"FunctionName": "f", "FunctionVersion": "1", "Name": "live",
          "ProvisionedConcurrencyConfig": {"ProvisionedConcurrentExecutions": 1}},
         {"lambda:PutProvisionedConcurrencyConfig"}),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_handler_permissions_of_properties_not_set_are_pruned(
    tmp_path: Path, type_name: str, bare: dict[str, Any], configured: dict[str, Any], actions: set[str]
) -> None:
    assert not actions & _actions(_one(tmp_path, type_name, bare))
    assert actions <= _actions(_one(tmp_path, type_name, configured))


def test_the_state_machine_definition_is_read_from_its_own_object(tmp_path: Path) -> None:
    service = _one(tmp_path, "AWS::StepFunctions::StateMachine",
                   {**_SFN, "DefinitionS3Location": {"Bucket": "defs", "Key": "machine.json"}})
    needs = resource_needs(service, service.resources["R"], "create").needs
    assert {n.resource for n in needs if n.action == "s3:GetObject"} == {"arn:aws:s3:::defs/machine.json"}


def test_the_report_says_per_resource_what_was_pruned_and_why(tmp_path: Path) -> None:
    service = _one(tmp_path, "AWS::Timestream::Table", _TS)
    report = generate_policies(service).report()
    rules = report["pruned_by_resource"]["R"]["pruned"]
    s3 = next(r for r in rules if "s3:PutObject" in r["actions"])
    assert s3["why"] == "only with MagneticStoreWriteProperties.MagneticStoreRejectedDataLocation"
    assert s3["operations"] == ["create", "update"]
    assert "Timestream Developer Guide" in s3["source"]
    assert report["pruned_by_resource"]["R"]["type"] == "AWS::Timestream::Table"


def test_events_rule_target_roles_are_passed(tmp_path: Path) -> None:
    """A role on a target (a list item) is seen: the rule's iam:PassRole is kept."""
    service = _one(tmp_path, "AWS::Events::Rule", {"Targets": [
        {"Id": "t", "Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:s",
         "RoleArn": "arn:aws:iam::123456789012:role/events-invoke"}]})
    needs = resource_needs(service, service.resources["R"], "create").needs
    assert [n.resource for n in needs if n.action == "iam:PassRole"] == ["arn:aws:iam::123456789012:role/events-invoke"]


# --- Lambda@Edge (a real Framework compile: tests/predict/fixtures/README.md) --------------------------


def _edge() -> Service:
    return load_service(EDGE, account=ACCOUNT, compile_if_needed=False)


def test_lambda_edge_replication_is_granted_on_the_versions() -> None:
    service = _edge()
    doc = generate_policies(service, split=True).policies["cloudformation"]
    versions = {
        "arn:aws:lambda:us-east-1:123456789012:function:iamfit-edge-dev-docs:*",
        "arn:aws:lambda:us-east-1:123456789012:function:iamfit-edge-dev-viewerRequest:*",
    }
    replication = [st for st in doc.statements if "lambda:EnableReplication*" in st.actions]
    assert replication and set(replication[0].resources) == versions
    assert "lambda:DisableReplication*" in replication[0].actions
    (slr,) = [st for st in doc.statements if "iam:CreateServiceLinkedRole" in st.actions]
    assert set(slr.resources) == {
        "arn:aws:iam::123456789012:role/aws-service-role/replicator.lambda.amazonaws.com/*",
        "arn:aws:iam::123456789012:role/aws-service-role/logger.cloudfront.amazonaws.com/*",
    }
    assert slr.conditions == (("StringEquals", (("iam:AWSServiceName", (
        "logger.cloudfront.amazonaws.com", "replicator.lambda.amazonaws.com")),)),)


def test_lambda_edge_without_replication_is_denied_in_the_sandbox() -> None:
    service = _edge()
    policies = dict(generate_policies(service).policies)
    assert plan(service, policies).fits
    cut = PolicyDocument(tuple(
        dataclasses.replace(st, actions=tuple(a for a in st.actions if a != "lambda:EnableReplication*")
                            or ("sqs:ListQueues",))
        for st in policies["deployer"].statements))
    result = plan(service, {"deployer": cut})
    assert not result.fits
    assert "lambda:EnableReplication*" in result.denied_actions


def test_the_retained_edge_functions_are_named_in_the_generate_output(tmp_path: Path) -> None:
    result = generate_policies(_edge(), commands=("remove",))
    text, _ = generate_text(result, tmp_path)
    assert "ViewerRequestLambdaFunction (AWS::Lambda::Function): no delete actions: DeletionPolicy: Retain" in text
    assert "lambda:DeleteFunction" not in result.prediction.actions()


# --- Step Functions (serverless-step-functions' README example: tests/predict/fixtures/README.md) ------------


def test_a_framework_state_machine_with_an_inline_definition_reads_nothing_from_s3() -> None:
    service = load_service(Path(__file__).parent / "fixtures" / "stepfunctions", account=ACCOUNT,
                           compile_if_needed=False)
    result = generate_policies(service)
    machine = {n.action for n in result.prediction.needs if "MyStateMachine " in n.reason}
    assert "states:CreateStateMachine" in machine and not {a for a in machine if a.startswith(("s3:", "kms:"))}
    pruned = result.pruned_by_resource()["MyStateMachine"]["pruned"]
    assert {"why": "only with DefinitionS3Location", "actions": ["s3:GetObject", "s3:GetObjectVersion"]}.items() \
        <= next(g for g in pruned if g["why"] == "only with DefinitionS3Location").items()
    assert plan(service, dict(result.policies)).fits


def test_a_framework_schedule_rule_passes_its_target_role_to_events() -> None:
    """The plugin's schedule rule names its role on the target (Targets[0].RoleArn): PassRole is kept, for events."""
    service = load_service(Path(__file__).parent / "fixtures" / "stepfunctions", account=ACCOUNT,
                           compile_if_needed=False)
    rule = service.resources["Hellostepfunc1StepFunctionsEventsRuleSchedule1"]
    (need,) = [n for n in resource_needs(service, rule, "create").needs if n.action == "iam:PassRole"]
    assert need.resource.startswith("arn:aws:iam::123456789012:role/iamfit-stepfunctions-dev-Hellostepfunc1Sche")
    assert need.conditions == (("StringEquals", "iam:PassedToService", ("events.amazonaws.com",)),)

"""Types the registry schemas do not describe and the Framework's custom resources, on templates the Framework
compiled from public services (tests/predict/fixtures/framework/README.md)."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from iamfit.generate import generate_policies
from iamfit.knowledge.catalog import default_catalog
from iamfit.knowledge.registry import schema
from iamfit.knowledge.unregistered import FRAMEWORK_CUSTOM, TYPE_RULES
from iamfit.predict.resource_needs import resource_needs
from iamfit.predict.undescribed import undescribed
from iamfit.service.model import Service, load_service

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "framework"
ACCOUNT = "123456789012"
FRAMEWORK_FIXTURES = ("existing-s3", "existing-cognito", "apigw-logs-dns", "event-bus-v2")


def _service(name: str) -> Service:
    return load_service(FIXTURES / name / ".serverless", account=ACCOUNT)


def _grants(service: Service, principal: str, split: bool = False) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for need in generate_policies(service, split=split).prediction.needs:
        if need.principal == principal:
            out.setdefault(need.action, set()).add(need.resource)
    return out


def test_every_rule_is_for_a_type_without_handler_permissions_and_names_real_actions() -> None:
    catalog = default_catalog()
    for type_name, rule in TYPE_RULES.items():
        found = schema(type_name)
        assert found is None or not found.permissions("create"), f"{type_name}: the registry describes it now"
        assert rule.source
        for operation in ("create", "update", "delete"):
            for action in rule.permissions(operation):
                assert catalog.info(action) is not None, action
    for rule in FRAMEWORK_CUSTOM.values():
        assert "custom-resources/resources/" in rule.source
        for operation in ("create", "update", "delete"):
            for action in rule.calls(operation):
                assert catalog.info(action) is not None, action


def test_a_route53_record_set_group_gets_the_record_actions() -> None:
    """The registry has AWS::Route53::RecordSetGroup without handler permissions: it used to get no action."""
    service = _service("apigw-logs-dns")
    grants = _grants(service, "deployer")
    assert grants["route53:ChangeResourceRecordSets"] == {"arn:aws:route53:::hostedzone/*"}
    assert grants["route53:GetChange"] == {"arn:aws:route53:::change/*"}
    assert "route53:ListHostedZonesByName" in grants  # HostedZoneName is looked up
    (dns,) = [r for r in service.resources.values() if r.type == "AWS::Route53::RecordSetGroup"]
    needs = resource_needs(service, dns, "create").needs
    assert needs and all("aws-resource-route53-recordsetgroup" in n.source for n in needs)
    assert undescribed(service) == ()


def framework_role_actions(template: dict[str, Any]) -> list[str]:
    """The actions the Framework's own custom-resource role (``IamRoleCustomResourcesLambdaExecution``) grants in a
    compiled template (tests/corpus/test_classes.py uses it on real templates)."""
    role = template["Resources"]["IamRoleCustomResourcesLambdaExecution"]
    out: list[str] = []
    for statement in role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
        actions = statement["Action"]
        out.extend([actions] if isinstance(actions, str) else actions)
    return out


@pytest.mark.parametrize("name", FRAMEWORK_FIXTURES)
def test_framework_custom_resources_are_invoked_by_the_stack_and_described(name: str) -> None:
    """CloudFormation invokes the Framework's custom resource function with the stack's principal (no deploymentRole
    here: the deployer); the calls iamfit knows the function makes are the ones the Framework's own role grants."""
    service = _service(name)
    template = json.loads((FIXTURES / name / ".serverless" / "cloudformation-template-update-stack.json").read_text())
    customs = {r.type for r in service.resources.values() if r.type.startswith("Custom::")}
    customs |= {r.type for r in service.core_resources.values() if r.type.startswith("Custom::")}
    assert customs and customs <= set(FRAMEWORK_CUSTOM)
    invoked = _grants(service, "deployer")["lambda:InvokeFunction"]
    assert any(arn.startswith(f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:service-dev-custom-resource-")
               for arn in invoked)
    sources = {n.source for n in generate_policies(service).prediction.needs if n.action == "lambda:InvokeFunction"
               and ":function:service-dev-custom-resource-" in n.resource}
    assert sources and all("using-iam-servicerole" in s and "services-cloudformation" in s for s in sources)
    granted = framework_role_actions(template)
    for type_name in customs:
        for operation in ("create", "update", "delete"):
            for call in FRAMEWORK_CUSTOM[type_name].calls(operation):
                assert any(fnmatch.fnmatchcase(call.lower(), g.lower()) for g in granted), (type_name, call)
    assert undescribed(service) == ()  # described, so named nowhere as a gap


def test_a_custom_resource_running_as_the_deployment_role_needs_its_calls_on_that_role() -> None:
    """With provider.iam.deploymentRole the Framework gives the custom resource's function that role: the
    CloudFormation principal then makes the function's calls too, on the buckets and functions it names."""
    service = _service("existing-s3-role")
    assert service.deployment_role == f"arn:aws:iam::{ACCOUNT}:role/service-dev-cfn-deployment"
    grants = _grants(service, "cloudformation")
    buckets = {"arn:aws:s3:::service-s3-existing-simple", "arn:aws:s3:::service-s3-existing-complex"}
    assert grants["s3:PutBucketNotification"] >= buckets and grants["s3:GetBucketNotification"] >= buckets
    assert f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:service-dev-existing" in grants["lambda:AddPermission"]
    assert "lambda:InvokeFunction" in grants
    # without the deploymentRole the template's own role makes those calls: not the deploy principals' business
    plain = _grants(_service("existing-s3"), "deployer")
    assert not buckets & plain["s3:PutBucketNotification"]  # only the stack's own buckets
    assert not any(":function:service-dev-existing" in arn for arn in plain.get("lambda:AddPermission", ()))


def test_the_sandbox_requires_the_custom_resource_calls_of_the_deployment_role(tmp_path: Path) -> None:
    from iamfit import api
    from iamfit.policy.document import PolicyDocument, Statement

    service = _service("existing-s3-role")
    policies = generate_policies(service).policies
    assert api.plan(service, policies["deployer"], cfn_role_policy=policies["cloudformation"],
                    phases=("create",)).fits
    deny = Statement(effect="Deny", actions=("s3:PutBucketNotification",), resources=("*",))
    fewer = PolicyDocument((*policies["cloudformation"].statements, deny))
    planned = api.plan(service, policies["deployer"], cfn_role_policy=fewer, phases=("create",))
    assert planned.denied_actions == ("s3:PutBucketNotification",)
    reasons = [u.reason for u in planned.unverified if u.type == "Custom::S3"]
    assert len(reasons) == 3
    assert all("running as the deploymentRole: the sandbox checks the invoke and the calls" in r for r in reasons)


def test_a_custom_sender_kms_key_adds_the_grant_only_when_configured() -> None:
    rule = FRAMEWORK_CUSTOM["Custom::CognitoUserPool"]
    assert "kms:CreateGrant" in rule.calls("create", lambda key: key == "KMSKeyID")
    assert "kms:CreateGrant" not in rule.calls("create", lambda key: False)

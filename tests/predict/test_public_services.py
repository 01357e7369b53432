"""Issue 13's classes on real public Serverless services that no public repository has a committed compiled template
for: a rule on a custom event bus, a Timestream database, a Lambda@Edge function, the Framework's Custom::EventBridge.
Each service's own serverless.yml was compiled by the Framework (osls 4.3.1, or serverless 2.72.3 for
Custom::EventBridge); fixtures/public-services/README.md names the repository, commit, licence and the edits."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from iamfit.cli import cli
from iamfit.discover import discover
from iamfit.generate import generate_policies
from iamfit.journal import Journal
from iamfit.knowledge.unregistered import FRAMEWORK_CUSTOM
from iamfit.predict.resource_needs import resource_needs
from iamfit.predict.undescribed import undescribed
from iamfit.service.model import Service, load_service
from iamfit.targets.sandbox import SandboxTarget

from .test_unregistered import framework_role_actions

FIXTURES = Path(__file__).parent / "fixtures" / "public-services"
ACCOUNT = "123456789012"
SERVICES = ("getaroom-analytics-osls", "getaroom-analytics-v2", "left4status-backend", "ssr-react-lambda-at-edge")


def _service(slug: str) -> Service:
    return load_service(FIXTURES / slug, account=ACCOUNT, compile_if_needed=False)


def _template(slug: str) -> dict[str, Any]:
    path = FIXTURES / slug / ".serverless" / "cloudformation-template-update-stack.json"
    template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return template


def _grants(service: Service, logical_id: str, operation: str = "create") -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for need in resource_needs(service, service.resources[logical_id], operation).needs:
        out.setdefault(need.action, set()).add(need.resource)
    return out


def _conditions(service: Service, logical_id: str, action: str, operation: str = "create") -> set[tuple[Any, ...]]:
    return {c for n in resource_needs(service, service.resources[logical_id], operation).needs
            if n.action == action for c in n.conditions}


# --- (a) §3 a rule on a custom bus: rule/<bus>/<rule> --------------------------------------------------------------


def test_a_rule_on_a_custom_bus_is_named_under_its_bus_getaroom_analytics() -> None:
    """mikaelvesavuori/get-a-room-ddd-example, code/Analytics/Analytics: `eventBridge: {eventBus: analytics}` creates
    the bus and a rule on it (osls compiles AWS::Events::Rule with EventBusName, as v3 with useCloudFormation does).
    EventBridge names such a rule arn:aws:events:<region>:<account>:rule/<bus>/<rule>; the Framework's own
    AWS::Lambda::Permission SourceArn says the same."""
    service = _service("getaroom-analytics-osls")
    assert (service.name, service.stage, service.region) == ("getaroom-slotanalytics", "dev", "eu-north-1")
    rule_id = "GetaroomslotanalyticsdevAddRecordrule2EventBridgeRule"
    rule = f"arn:aws:events:eu-north-1:{ACCOUNT}:rule/analytics/getaroom-slotanalytics-dev-AddRecord-rule-2"
    assert service.resource_arns(rule_id) == (rule,)
    permission = service.resources["AddRecordEventBridgeLambdaPermission2"].properties
    assert permission["Principal"] == "events.amazonaws.com"
    assert service.resolve_one(permission["SourceArn"]) == rule
    created = _grants(service, rule_id)
    assert created["events:PutRule"] == created["events:PutTargets"] == created["events:DescribeRule"] == {rule}
    deleted = _grants(service, rule_id, "delete")
    assert deleted["events:DeleteRule"] == deleted["events:RemoveTargets"] == {rule}
    assert not {arn for arns in created.values() for arn in arns if ":rule/getaroom" in arn}  # never rule/<name>
    assert _grants(service, "AnalyticsEventBridgeEventBus")["events:CreateEventBus"] == {
        f"arn:aws:events:eu-north-1:{ACCOUNT}:event-bus/analytics"
    }


# --- (b) §2/§3/§4 a Timestream database in another region, retained --------------------------------------------


def test_a_retained_timestream_database_in_us_west_2_left4status_backend(tmp_path: Path) -> None:
    """left4craft/left4status-backend: an AWS::Timestream::Database with DeletionPolicy: Retain, no KmsKeyId, in the
    package's region us-west-2. Timestream is granted on the database's own ARN in that region; the registry's KMS
    calls are pruned (no customer key: the AWS managed key's policy allows use through Timestream) and reported;
    no S3 action; the sandbox verifies the service without an internal error."""
    service = _service("left4status-backend")
    assert (service.name, service.stage, service.region) == ("left4status-api", "dev", "us-west-2")
    database = f"arn:aws:timestream:us-west-2:{ACCOUNT}:database/left4status-api-dev"
    grants = _grants(service, "TimestreamTable")
    assert grants["timestream:CreateDatabase"] == grants["timestream:TagResource"] == {database}
    assert grants["timestream:DescribeEndpoints"] == {"*"}  # SAR: DescribeEndpoints has no resource type
    result = generate_policies(service)
    timestream = {n.action for n in result.prediction.needs if n.reason.startswith("AWS::Timestream::Database ")}
    assert "timestream:CreateDatabase" in timestream
    # DeletionPolicy: Retain keeps it on `serverless remove`, but UpdateReplacePolicy is not set: a deploy that
    # changes DatabaseName (update requires replacement) still deletes the old database (knowledge/retention.py)
    assert "timestream:DeleteDatabase" in timestream
    assert not {a for a in timestream if a.startswith(("s3:", "kms:"))}
    pruned = result.pruned_by_resource()["TimestreamTable"]["pruned"]
    assert {"kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey"} <= {a for group in pruned for a in group["actions"]}
    verdict = discover(service, SandboxTarget(service, seed="test"), Journal.create(tmp_path))
    assert verdict.verified, verdict.stop


# --- (c) §4 Lambda@Edge -------------------------------------------------------------------------------------------


def test_lambda_at_edge_replicates_the_version_and_creates_both_service_linked_roles_ssr_react() -> None:
    """mikaelvesavuori/serverless-ssr-react-lambda-at-edge: a `cloudFront` event (origin-request, path /*), compiled
    to a distribution whose cache behaviour associates the function's version. Per AWS's 'Setting IAM permissions
    and roles for Lambda@Edge': lambda:GetFunction and lambda:EnableReplication* on the version,
    iam:CreateServiceLinkedRole for replicator.lambda.amazonaws.com and logger.cloudfront.amazonaws.com (conditioned on
    iam:AWSServiceName); replication is disabled again when the association goes."""
    service = _service("ssr-react-lambda-at-edge")
    template = _template("ssr-react-lambda-at-edge")
    (behaviour,) = template["Resources"]["CloudFrontDistribution"]["Properties"]["DistributionConfig"][
        "CacheBehaviors"]
    (association,) = behaviour["LambdaFunctionAssociations"]
    version_id = association["LambdaFunctionARN"]["Ref"]
    assert service.resources[version_id].type == "AWS::Lambda::Version"
    versions = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:serverless-ssr-react-lambda-at-edge-dev-ssr:*"
    grants = _grants(service, "CloudFrontDistribution")
    assert grants["lambda:EnableReplication*"] == grants["lambda:GetFunction"] == {versions}
    assert grants["iam:CreateServiceLinkedRole"] == {
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/replicator.lambda.amazonaws.com/*",
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/logger.cloudfront.amazonaws.com/*",
    }
    assert _conditions(service, "CloudFrontDistribution", "iam:CreateServiceLinkedRole") == {
        ("StringEquals", "iam:AWSServiceName", ("replicator.lambda.amazonaws.com", "logger.cloudfront.amazonaws.com")),
    }
    assert _grants(service, "CloudFrontDistribution", "update")["lambda:DisableReplication*"] == {versions}
    assert _grants(service, "CloudFrontDistribution", "delete")["lambda:DisableReplication*"] == {versions}


def test_the_edge_invoke_permission_on_a_version_names_that_function_not_every_function_ssr_react() -> None:
    """The Framework's Lambda@Edge permission (Principal edgelambda.amazonaws.com) names its function by `Ref` of the
    AWS::Lambda::Version (osls lib/plugins/aws/package/compile/events/cloud-front.js). Ref of a version is its ARN,
    function:<name>:<version> (CloudFormation reference, AWS::Lambda::Version, Return values): lambda:AddPermission
    and RemovePermission act on that function's versions, not on every function of the account."""
    service = _service("ssr-react-lambda-at-edge")
    permission = service.resources["SsrLambdaFunctionInvokePermission"].properties
    assert permission["Principal"] == "edgelambda.amazonaws.com"
    function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:serverless-ssr-react-lambda-at-edge-dev-ssr"
    assert service.resolve_one(permission["FunctionName"]) == f"{function}:*"
    assert _grants(service, "SsrLambdaFunctionInvokePermission")["lambda:AddPermission"] == {function, f"{function}:*"}
    deleted = _grants(service, "SsrLambdaFunctionInvokePermission", "delete")
    assert deleted["lambda:RemovePermission"] == {function, f"{function}:*"}


def test_a_distribution_s_tagging_names_only_distributions_ssr_react() -> None:
    """CloudFront's tagging actions authorize on eight resource types (distribution, anycast-ip-list, trust-store,
    vpcorigin, ...; Service Authorization Reference, Amazon CloudFront); the stack tags its distribution, whose own
    ARN is distribution/<generated id>: only that type is granted."""
    service = _service("ssr-react-lambda-at-edge")
    distribution = f"arn:aws:cloudfront::{ACCOUNT}:distribution/*"
    assert service.resource_arns("CloudFrontDistribution") == (distribution,)
    assert service.resolve_one({"Ref": "CloudFrontDistribution"}) == "*"  # Ref is the generated id
    created, updated = _grants(service, "CloudFrontDistribution"), _grants(service, "CloudFrontDistribution", "update")
    assert created["cloudfront:TagResource"] == {distribution}
    assert updated["cloudfront:TagResource"] == updated["cloudfront:UntagResource"] == {distribution}
    assert created["cloudfront:GetDistribution"] == created["cloudfront:GetDistributionConfig"] == {distribution}


# --- (d) §5 the Framework's Custom::EventBridge -----------------------------------------------------------------


def _sets(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(_sets(v, key) for v in value.values())
    return isinstance(value, list) and any(_sets(v, key) for v in value)


def test_a_framework_custom_event_bridge_is_invoked_and_described_getaroom_analytics_v2() -> None:
    """The same get-a-room Analytics serverless.yml compiled by serverless 2.72.3, which (as v1, and v3 without
    provider.eventBridge.useCloudFormation) compiles the event to the Framework's Custom::EventBridge on bus
    `analytics`. CloudFormation invokes the custom resource function with the stack's principal (the deployer: no
    deploymentRole); every call iamfit knows the function makes is one the Framework's own role in the template
    grants; the type is described, so named nowhere as a gap."""
    service = _service("getaroom-analytics-v2")
    (lid,) = [lid for lid, r in service.resources.items() if r.type == "Custom::EventBridge"]
    properties = service.resources[lid].properties
    assert properties["EventBridgeConfig"]["EventBus"] == "analytics"
    function = f"arn:aws:lambda:eu-north-1:{ACCOUNT}:function:getaroom-slotanalytics-dev-custom-resource-event-bridge"
    invokes = [n for n in generate_policies(service).prediction.needs
               if n.action == "lambda:InvokeFunction" and n.reason.startswith(f"Custom::EventBridge {lid} ")]
    assert {n.principal for n in invokes} == {"deployer"}
    assert {n.resource for n in invokes} == {function}
    assert {n.reason.split()[-1] for n in invokes} == {"create", "update", "delete"}
    granted = framework_role_actions(_template("getaroom-analytics-v2"))
    rule = FRAMEWORK_CUSTOM["Custom::EventBridge"]
    for operation in ("create", "update", "delete"):
        calls = rule.calls(operation, lambda key: _sets(properties, key))
        assert calls
        for call in calls:
            assert any(fnmatch.fnmatchcase(call.lower(), g.lower()) for g in granted), (operation, call)
    assert "events:CreateEventBus" in rule.calls("create", lambda key: _sets(properties, key))
    assert undescribed(service) == ()


# --- every service: generate --split and plan --phase all, as the corpus test runs them ---------------------------


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def _policy_files(out: Path, principal: str) -> list[Path]:
    one = out / f"{principal}.json"
    return [one] if one.exists() else sorted(out.glob(f"{principal}-[0-9]*.json"))


@pytest.mark.parametrize("slug", SERVICES)
def test_generate_split_and_plan_all_accept_the_public_service(slug: str, tmp_path: Path) -> None:
    package = FIXTURES / slug / ".serverless"
    out = tmp_path / "out"
    generated = _run("generate", "--split", "--out", out, "--report", out / "report.json", "--account", ACCOUNT,
                     package)
    assert generated.exit_code == 0, (generated.stderr, generated.exception)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["undescribed"] == []
    types = {r["Type"] for r in _template(slug)["Resources"].values()}
    reasons = {u["reason"] for p in report["principals"].values() for uses in p["actions"].values() for u in uses}
    assert all(any(r.startswith(t + " ") for r in reasons) for t in types), types
    for name in ("deployer", "cloudformation"):
        for path in _policy_files(out, name):
            for statement in json.loads(path.read_text(encoding="utf-8"))["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                keys = {k.lower() for ops in statement.get("Condition", {}).values() for k in ops}
                if "iam:PassRole" in actions:
                    assert "iam:passedtoservice" in keys, statement
                if "iam:CreateServiceLinkedRole" in actions:
                    assert "iam:awsservicename" in keys, statement
    policies = [item for path in _policy_files(out, "deployer") for item in ("--policy", str(path))]
    policies += [item for path in _policy_files(out, "cloudformation") for item in ("--cfn-role-policy", str(path))]
    planned = _run("plan", "--phase", "all", *policies, package)
    assert planned.exit_code == 0, (planned.stdout[-3000:], planned.stderr)

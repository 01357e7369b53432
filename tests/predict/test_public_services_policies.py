"""The policies `iamfit generate` writes for the real public services of fixtures/public-services (README.md there
names each repository, commit, licence and the Framework that compiled it), checked as AWS evaluates them: an
action is allowed on an ARN when a statement's Action and Resource patterns match it. Only the CLI is used, so the
same checks run on any version of iamfit (issue 13: each of these failed before its change)."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from iamfit.cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "public-services"
ACCOUNT = "123456789012"


def _generate(slug: str, out: Path, *extra: str) -> dict[str, Any]:
    """Run `generate` on the service's package; returns its --report."""
    package = FIXTURES / slug / ".serverless"
    result = CliRunner().invoke(cli, ["generate", "--out", str(out), "--report", str(out / "report.json"),
                                      "--account", ACCOUNT, *extra, str(package)])
    assert result.exit_code == 0, (result.output, result.exception)
    report: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return report


def _statements(out: Path, principal: str) -> list[dict[str, Any]]:
    paths = [out / f"{principal}.json"] if (out / f"{principal}.json").exists() else sorted(
        out.glob(f"{principal}-[0-9]*.json"))
    return [st for path in paths for st in json.loads(path.read_text(encoding="utf-8"))["Statement"]]


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _allowing(statements: list[dict[str, Any]], action: str, resource: str) -> list[dict[str, Any]]:
    """The Allow statements whose Action and Resource patterns match (IAM wildcards, actions case-insensitive)."""
    return [st for st in statements if st.get("Effect") == "Allow"
            and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _listed(st["Action"]))
            and any(fnmatch.fnmatchcase(resource, r) for r in _listed(st["Resource"]))]


def _actions_on(statements: list[dict[str, Any]], prefix: str) -> set[str]:
    return {a for st in statements for a in _listed(st["Action"]) if a.lower().startswith(prefix)}


def test_the_custom_bus_rule_is_granted_under_its_bus_getaroom_analytics(tmp_path: Path) -> None:
    """EventBridge evaluates a rule on bus `analytics` as rule/analytics/<rule> (the Framework's own
    AWS::Lambda::Permission SourceArn joins the same); rule/<rule> would be denied."""
    _generate("getaroom-analytics-osls", tmp_path, "--split")
    stack = _statements(tmp_path, "cloudformation")
    rule = f"arn:aws:events:eu-north-1:{ACCOUNT}:rule/analytics/getaroom-slotanalytics-dev-AddRecord-rule-2"
    for action in ("events:PutRule", "events:PutTargets", "events:DescribeRule", "events:DeleteRule",
                   "events:RemoveTargets"):
        assert _allowing(stack, action, rule), action
    assert not _allowing(stack, "events:PutRule",
                         f"arn:aws:events:eu-north-1:{ACCOUNT}:rule/getaroom-slotanalytics-dev-AddRecord-rule-2")
    assert _allowing(stack, "events:CreateEventBus", f"arn:aws:events:eu-north-1:{ACCOUNT}:event-bus/analytics")


def test_the_timestream_database_is_granted_in_the_package_s_region_left4status_backend(tmp_path: Path) -> None:
    """The package is compiled for us-west-2 (serverless-state.json); the database's ARN is in that region. No KMS
    key is named, so none of the registry's KMS calls is granted, and the report says why per resource."""
    report = _generate("left4status-backend", tmp_path, "--split")
    stack = _statements(tmp_path, "cloudformation")
    database = f"arn:aws:timestream:us-west-2:{ACCOUNT}:database/left4status-api-dev"
    assert _allowing(stack, "timestream:CreateDatabase", database)
    assert not _allowing(stack, "timestream:CreateDatabase",
                         f"arn:aws:timestream:us-east-1:{ACCOUNT}:database/left4status-api-dev")
    assert not _actions_on(stack, "kms:") and not _actions_on(stack, "s3:putobject")
    pruned = report["pruned_by_resource"]["TimestreamTable"]["pruned"]
    assert {"kms:CreateGrant", "kms:DescribeKey"} <= {a for group in pruned for a in group["actions"]}


@pytest.mark.parametrize("slug", ["left4status-backend", "getaroom-analytics-osls", "getaroom-analytics-v2",
                                  "ssr-react-lambda-at-edge"])
def test_discover_verifies_the_public_service_in_the_sandbox(
    slug: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No internal error (issue 13 §3: a Timestream service once ended in IndexError, exit 70)."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["discover", str(FIXTURES / slug / ".serverless"),
                                      "--account", ACCOUNT, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "VERIFIED" in result.stdout


def test_lambda_at_edge_is_granted_replication_and_its_service_linked_roles_ssr_react(tmp_path: Path) -> None:
    """CloudFront Developer Guide, 'Set up IAM permissions and roles for Lambda@Edge': lambda:EnableReplication* on
    the function version, iam:CreateServiceLinkedRole for replicator.lambda.amazonaws.com and
    logger.cloudfront.amazonaws.com, conditioned on iam:AWSServiceName."""
    _generate("ssr-react-lambda-at-edge", tmp_path, "--split")
    stack = _statements(tmp_path, "cloudformation")
    version = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:serverless-ssr-react-lambda-at-edge-dev-ssr:1"
    assert _allowing(stack, "lambda:EnableReplication", version)
    assert _allowing(stack, "lambda:DisableReplication", version)
    for service in ("replicator.lambda.amazonaws.com", "logger.cloudfront.amazonaws.com"):
        role = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/{service}/AWSServiceRole"
        allowing = _allowing(stack, "iam:CreateServiceLinkedRole", role)
        assert allowing, service
        assert all(service in _listed(st["Condition"]["StringEquals"]["iam:AWSServiceName"]) for st in allowing)


def test_the_edge_invoke_permission_is_granted_on_the_function_s_versions_only_ssr_react(tmp_path: Path) -> None:
    """The Framework's Lambda@Edge permission is added to the function's version (`Ref` of the version is its
    ARN): lambda:AddPermission on that version, not on every function of the account."""
    _generate("ssr-react-lambda-at-edge", tmp_path, "--split")
    stack = _statements(tmp_path, "cloudformation")
    version = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:serverless-ssr-react-lambda-at-edge-dev-ssr:7"
    assert _allowing(stack, "lambda:AddPermission", version)
    assert _allowing(stack, "lambda:RemovePermission", version)
    other = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:payments-prod-charge"
    assert not _allowing(stack, "lambda:AddPermission", other)
    assert not _allowing(stack, "lambda:RemovePermission", other)


def test_the_distribution_s_tags_are_granted_on_distributions_only_ssr_react(tmp_path: Path) -> None:
    """The stack tags its distribution; CloudFront's other taggable types (trust stores, VPC origins, anycast IP
    lists, connection groups, ...) are not the distribution's to tag."""
    _generate("ssr-react-lambda-at-edge", tmp_path, "--split")
    stack = _statements(tmp_path, "cloudformation")
    assert _allowing(stack, "cloudfront:TagResource", f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2QWRUHEXAMPLE")
    for other in ("trust-store/ts-1", "vpcorigin/vo-1", "anycast-ip-list/al-1", "connection-group/cg-1",
                  "distribution-tenant/dt-1", "streaming-distribution/sd-1"):
        for action in ("cloudfront:TagResource", "cloudfront:UntagResource"):
            assert not _allowing(stack, action, f"arn:aws:cloudfront::{ACCOUNT}:{other}"), (action, other)


def test_the_framework_s_custom_event_bridge_is_invoked_and_described_getaroom_analytics_v2(tmp_path: Path) -> None:
    """serverless 2.72.3 compiles the eventBridge event to Custom::EventBridge: the deployer (no deploymentRole)
    invokes the Framework's custom resource function, and the type is described, not left unknown; the stack calls
    of the v2 CLI that compiled it are granted."""
    report = _generate("getaroom-analytics-v2", tmp_path)
    function = f"arn:aws:lambda:eu-north-1:{ACCOUNT}:function:getaroom-slotanalytics-dev-custom-resource-event-bridge"
    assert _allowing(_statements(tmp_path, "deployer"), "lambda:InvokeFunction", function)
    reasons = {use["reason"] for principal in report["principals"].values()
               for uses in principal["actions"].values() for use in uses}
    assert any(r.startswith("Custom::EventBridge AddRecordCustomEventBridge2 ") for r in reasons)
    assert report["undescribed"] == []
    # the package does not say which CLI compiled it (no frameworkVersion): v2, which did, deploys with
    # CreateStack/UpdateStack (lib/plugins/aws/lib/updateStack.js at v2.72.0), so those are granted too
    assert "v2" in report["framework"]["variants"]
    stack = f"arn:aws:cloudformation:eu-north-1:{ACCOUNT}:stack/getaroom-slotanalytics-dev/5f3e2a10-0000-0000-0000-0"
    for action in ("cloudformation:CreateStack", "cloudformation:UpdateStack"):
        assert _allowing(_statements(tmp_path, "deployer"), action, stack), action

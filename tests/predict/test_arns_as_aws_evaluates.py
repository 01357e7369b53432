"""ARNs exactly as AWS evaluates them (issue 13 §3), on a package the Framework (osls) compiled: rules on a custom
bus, literal ARNs of other accounts and regions, actions that authorize on two resources, S3 access points,
API Gateway's percent-encoded tag ARNs. fixtures/arn-classes/README.md says where the package comes from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamfit.cli import cli
from iamfit.discover import discover
from iamfit.journal import Journal
from iamfit.knowledge import arns
from iamfit.predict.resource_needs import resource_needs
from iamfit.predict.serverless_cli import deploy_calls
from iamfit.service.model import Service, load_service
from iamfit.targets.sandbox import SandboxTarget

from ..conftest import EXAMPLES

PACKAGE = Path(__file__).parent / "fixtures" / "arn-classes"
ACCOUNT = "123456789012"


def _service() -> Service:
    return load_service(PACKAGE, account=ACCOUNT, compile_if_needed=False)


def _grants(service: Service, logical_id: str, operation: str = "create") -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for need in resource_needs(service, service.resources[logical_id], operation).needs:
        out.setdefault(need.action, set()).add(need.resource)
    return out


def test_a_rule_on_a_custom_bus_is_named_under_its_bus_as_the_framework_s_source_arn_says() -> None:
    svc = _service()
    rules = {lid: r for lid, r in svc.resources.items() if r.type == "AWS::Events::Rule"}
    permissions = [r for r in svc.resources.values() if r.type == "AWS::Lambda::Permission"
                   and r.properties.get("Principal") == "events.amazonaws.com"]
    assert len(rules) == 2 and len(permissions) == 2
    own = {svc.resource_arns(lid)[0] for lid in rules}
    assert own == {
        f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/orders-bus/arn-classes-dev-onOrder-rule-3",
        f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/partner-bus/arn-classes-dev-onOrder-rule-4",
    }
    # the Framework's own AWS::Lambda::Permission names the same rule ARNs
    assert {svc.resolve_one(p.properties["SourceArn"]) for p in permissions} == own
    lid = next(lid for lid in rules if lid.endswith("rule3EventBridgeRule"))
    grants = _grants(svc, lid)
    assert grants["events:PutRule"] == grants["events:PutTargets"] == {
        f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/orders-bus/arn-classes-dev-onOrder-rule-3"
    }


def test_a_rule_on_the_default_bus_keeps_rule_slash_name() -> None:
    svc = load_service(EXAMPLES / "sqs-worker", account=ACCOUNT, compile_if_needed=False)
    (lid,) = [lid for lid, r in svc.resources.items() if r.type == "AWS::Events::Rule"]
    (arn,) = svc.resource_arns(lid)
    assert arn.startswith(f"arn:aws:events:us-east-1:{ACCOUNT}:rule/") and arn.count("/") == 1
    assert arns.event_bus_name(None) is None and arns.event_bus_name("default") is None
    assert arns.event_bus_name("arn:aws:events:us-east-1:111122223333:event-bus/default") is None
    partner = "arn:aws:events:us-east-1:111122223333:event-bus/aws.partner/acme/x"
    assert arns.event_bus_name(partner) == "aws.partner/acme/x"


def test_literal_arns_of_other_accounts_and_regions_are_granted_as_written() -> None:
    svc = _service()
    fn = _grants(svc, "OnOrderLambdaFunction")
    assert fn["lambda:GetLayerVersion"] == {
        "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsTypeScriptV2:12"
    }
    subscription = _grants(svc, "OnOrderSnsSubscriptionPartnerannouncements")
    assert subscription["sns:Subscribe"] == {"arn:aws:sns:us-east-1:111122223333:partner-announcements"}


def test_an_action_on_two_resources_gets_both_the_log_group_and_the_foreign_destination() -> None:
    svc = _service()
    grants = _grants(svc, "OnOrderSubscription")
    log_group = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/arn-classes-dev-onOrder:*"
    assert grants["logs:PutSubscriptionFilter"] == {
        log_group, "arn:aws:logs:eu-west-1:444455556666:destination:central-logs"
    }
    assert _grants(svc, "OnOrderSubscription", "delete")["logs:DeleteSubscriptionFilter"] == {log_group}


def test_a_kms_alias_of_another_account_grants_that_account_s_keys_not_the_deploy_account_s(tmp_path: Path) -> None:
    template = json.loads((PACKAGE / ".serverless" / "cloudformation-template-update-stack.json").read_text())
    props = template["Resources"]["OnOrderLambdaFunction"]["Properties"]
    props["KmsKeyArn"] = "arn:aws:kms:eu-central-1:444455556666:alias/shared-env"
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    svc = load_service(path, account=ACCOUNT, service_name="arn-classes", stage="dev", region="eu-west-1")
    kms = {r for action, rs in _grants(svc, "OnOrderLambdaFunction").items() if action.startswith("kms:") for r in rs}
    assert kms == {"arn:aws:kms:eu-central-1:444455556666:key/*"}


def test_api_gateway_tags_are_granted_on_aws_s_percent_encoded_tag_arn() -> None:
    svc = _service()
    tags = "arn:aws:apigateway:eu-west-1::/tags/arn%3Aaws%3Aapigateway%3Aeu-west-1%3A%3A%2Frestapis%2F*"
    assert arns.apigateway_tags_arn("aws", "eu-west-1", "/restapis/*") == tags
    assert tags in _grants(svc, "ApiGatewayRestApi")["apigateway:PUT"]
    assert tags in _grants(svc, "ApiGatewayRestApi", "update")["apigateway:DELETE"]
    # apigateway:DELETE also deletes the API itself: it is no tag-only action to leave out of a delete
    deleting = _grants(svc, "ApiGatewayRestApi", "delete")["apigateway:DELETE"]
    assert "arn:aws:apigateway:eu-west-1::/restapis/*" in deleting


def test_the_framework_s_own_stage_tagging_call_uses_the_encoded_tag_arn() -> None:
    svc = load_service(EXAMPLES / "rest-api", account=ACCOUNT, compile_if_needed=False)
    assert svc.api_gateway_stage_update
    tagging = [c for c in deploy_calls(svc, first_deploy=False) if c.api.startswith("APIGateway.") and "Tag" in c.api]
    assert tagging and {c.resource for c in tagging} == {
        "arn:aws:apigateway:us-east-1::/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Frestapis%2F*"
    }


def test_a_service_with_a_timestream_table_verifies_in_the_sandbox_without_an_internal_error(tmp_path: Path) -> None:
    # Timestream's handler lists s3:PutObject, whose resource types include S3 access-point objects; it is kept
    # only for a table that sets a rejected-data location (knowledge/refinements.py), so the table gets one here
    template = json.loads((PACKAGE / ".serverless" / "cloudformation-template-update-stack.json").read_text())
    template["Resources"]["MetricsTable"]["Properties"]["MagneticStoreWriteProperties"] = {
        "EnableMagneticStoreWrites": True,
        "MagneticStoreRejectedDataLocation": {"S3Configuration": {"BucketName": "rejected-metrics",
                                                                  "EncryptionOption": "SSE_S3"}},
    }
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    svc = load_service(path, account=ACCOUNT, service_name="arn-classes", stage="dev", region="eu-west-1")
    assert any(r.startswith(f"arn:aws:s3:eu-west-1:{ACCOUNT}:accesspoint/")
               for r in _grants(svc, "MetricsTable").get("s3:PutObject", set()))
    result = discover(svc, SandboxTarget(svc, seed="test"), Journal.create(tmp_path))
    assert result.verified, result.stop


def test_kms_alias_actions_authorize_on_the_alias_and_the_key_it_points_at() -> None:
    # SAR: kms:CreateAlias/UpdateAlias/DeleteAlias list both alias* and key*; TargetKeyId is Ref (the key id)
    svc = load_service(EXAMPLES / "vpc-kms", account=ACCOUNT, compile_if_needed=False)
    (lid,) = [lid for lid, r in svc.resources.items() if r.type == "AWS::KMS::Alias"]
    for operation, action in (("create", "kms:CreateAlias"), ("delete", "kms:DeleteAlias")):
        assert _grants(svc, lid, operation)[action] == {
            f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/iamfit-vpc-kms-dev-env", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*"
        }


def test_timestream_tables_are_named_under_their_database_and_tagging_names_only_the_tagged_resource() -> None:
    svc = _service()
    table = f"arn:aws:timestream:eu-west-1:{ACCOUNT}:database/arn_classes_dev/table/readings"
    assert svc.resource_arns("MetricsTable") == (table,)
    grants = _grants(svc, "MetricsTable")
    assert grants["timestream:CreateTable"] == grants["timestream:TagResource"] == {table}
    assert _grants(svc, "Metrics")["timestream:TagResource"] == {
        f"arn:aws:timestream:eu-west-1:{ACCOUNT}:database/arn_classes_dev"
    }


def test_discover_on_the_timestream_package_exits_0_not_70(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the command a user runs (issue 13 §3: "IndexError in the sandbox, exit 70")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["discover", str(PACKAGE), "--account", ACCOUNT, "--out", "out"])
    assert result.exit_code == 0, result.output
    assert "VERIFIED" in result.stdout


def test_a_resource_without_a_knowable_arn_keeps_its_types_and_adds_the_literal_arns_it_names(tmp_path: Path) -> None:
    # kms:ReplicateKey runs in the primary key's region on the primary key (another region than the deploy's);
    # the replica's own ARN is not knowable, so key/* of the deploy region stays too
    primary = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/mrk-1234abcd"
    path = tmp_path / "template.json"
    path.write_text(json.dumps({"Resources": {"Replica": {
        "Type": "AWS::KMS::ReplicaKey", "Properties": {"PrimaryKeyArn": primary, "KeyPolicy": {}}}}}))
    svc = load_service(path, account=ACCOUNT, service_name="s", stage="dev", region="eu-west-1")
    assert _grants(svc, "Replica")["kms:ReplicateKey"] == {primary, f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/*"}


def test_check_and_plan_without_account_read_the_deploy_account_past_the_foreign_literal_arns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the generated policy names four accounts (the deploy account and three foreign literal ARNs' accounts):
    # the account check and plan take from the policies is the one the template does not write literally
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    generated = runner.invoke(cli, ["generate", str(PACKAGE), "--account", ACCOUNT, "--out", "p"])
    assert generated.exit_code == 0, generated.output
    named = json.loads((tmp_path / "p" / "deployer.json").read_text())
    accounts = {r.split(":")[4] for st in named["Statement"] for r in (
        st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]) if r.count(":") >= 5}
    assert {ACCOUNT, "017000801446", "444455556666", "111122223333"} <= accounts
    checked = runner.invoke(cli, ["check", str(PACKAGE), "--policy", "p/deployer.json", "--no-discover-report"])
    assert checked.exit_code == 0, checked.output
    planned = runner.invoke(cli, ["plan", str(PACKAGE), "--policy", "p/deployer.json"])
    assert planned.exit_code == 0, planned.output

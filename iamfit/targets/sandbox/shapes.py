"""AWS's exact shapes for what an attempt leaves behind: stack events, CloudTrail records, failure wording.

* Stack events: the DescribeStackEvents ``StackEvents`` entry (StackId, EventId, StackName,
  LogicalResourceId, PhysicalResourceId, ResourceType, Timestamp, ResourceStatus, ResourceStatusReason,
  ResourceProperties), with ``Timestamp`` as the AWS CLI prints it (``2026-01-01T00:00:05.000000+00:00``).
* Denial wording: IAM's ``User: P is not authorized to perform: A on resource: R because no identity-based
  policy allows the A action`` (and the explicit-deny / SCP / boundary / session variants), wrapped as the
  CloudFormation registry handler reports it (``Resource handler returned message: "..." (RequestToken: ...,
  HandlerErrorCode: AccessDenied)``) or as the Framework CLI prints an SDK error.
* CloudTrail: the record schema (eventVersion 1.09), ``userIdentity`` of type AssumedRole with the session ARN,
  ``invokedBy`` / ``sourceIPAddress`` / ``userAgent`` ``cloudformation.amazonaws.com`` for calls
  CloudFormation makes, ``eventName`` as AWS names the API (``CreateFunction20150331``, ``ListObjects``, API
  Gateway operations), ``errorCode`` / ``errorMessage``, S3 object calls as data events with ``resources[]``.
  ``iam:PassRole`` is never logged (it is not an API call).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from typing import Any

from iamfit.evidence.model import Cause
from iamfit.knowledge.arn import Arn
from iamfit.knowledge.eventnames import SOURCE_PREFIXES

EPOCH = dt.datetime(2026, 1, 5, 9, 0, 0, tzinfo=dt.UTC)
CFN = "cloudformation.amazonaws.com"
CLI_AGENT = "aws-sdk-nodejs/2.1692.0 linux/v20.11.0 exec-env/serverless/3.38.0"

_SOURCE_HOST = {prefix: host for host, prefix in SOURCE_PREFIXES.items() if host not in ("awslambda",)}
_SOURCE_HOST.update({"ecr": "ecr", "dynamodb": "dynamodb", "s3": "s3", "lambda": "lambda"})

# Lambda's CloudTrail event names carry the API version (Lambda developer guide, "Logging with CloudTrail").
_LAMBDA_VERSIONED = {
    "CreateFunction": "CreateFunction20150331",
    "DeleteFunction": "DeleteFunction20150331",
    "GetFunction": "GetFunction20150331v2",
    "GetFunctionConfiguration": "GetFunctionConfiguration20150331v2",
    "UpdateFunctionCode": "UpdateFunctionCode20150331v2",
    "UpdateFunctionConfiguration": "UpdateFunctionConfiguration20150331v2",
    "AddPermission": "AddPermission20150331v2",
    "RemovePermission": "RemovePermission20150331v2",
    "GetPolicy": "GetPolicy20150331v2",
    "PublishVersion": "PublishVersion20150331",
    "CreateEventSourceMapping": "CreateEventSourceMapping20150331",
    "DeleteEventSourceMapping": "DeleteEventSourceMapping20150331",
    "UpdateEventSourceMapping": "UpdateEventSourceMapping20150331",
    "GetEventSourceMapping": "GetEventSourceMapping20150331",
    "TagResource": "TagResource20170331",
    "UntagResource": "UntagResource20170331",
    "ListTags": "ListTags20170331",
    "ListVersionsByFunction": "ListVersionsByFunction20150331",
}
# apigateway:<VERB> -> an operation with that HTTP method (REST API, or HTTP API under /apis)
_APIGW_REST = {"GET": "GetRestApi", "POST": "CreateRestApi", "PUT": "PutRestApi", "PATCH": "UpdateRestApi",
               "DELETE": "DeleteRestApi"}
_APIGW_V2 = {"GET": "GetApi", "POST": "CreateApi", "PUT": "ReimportApi", "PATCH": "UpdateApi", "DELETE": "DeleteApi"}
_S3_NAMES = {"ListBucket": "ListObjects", "ListBucketVersions": "ListObjectVersions"}
_S3_DATA = frozenset({"GetObject", "PutObject", "DeleteObject", "DeleteObjectVersion", "AbortMultipartUpload",
                      "GetObjectVersion", "HeadObject", "ListObjects", "ListObjectsV2", "ListObjectVersions",
                      "DeleteObjects"})
# JSON-protocol services answer AccessDeniedException; query/XML ones AccessDenied (S3, IAM, STS,
# CloudFormation, SNS, SQS, EC2's UnauthorizedOperation).
_QUERY = frozenset({"s3", "iam", "sts", "cloudformation", "sns", "sqs", "elasticloadbalancing", "autoscaling"})
_SERVICE_NAME = {"s3": "S3", "iam": "Iam", "lambda": "Lambda", "logs": "CloudWatchLogs", "sqs": "Sqs",
                 "sns": "Sns", "dynamodb": "DynamoDb", "kms": "Kms", "apigateway": "ApiGateway",
                 "events": "EventBridge", "ec2": "Ec2", "cognito-idp": "CognitoIdentityProvider"}


@functools.lru_cache(maxsize=65536)
def timestamp(seconds: float) -> str:
    """AWS CLI JSON form of a datetime."""
    return (EPOCH + dt.timedelta(seconds=seconds)).isoformat(timespec="microseconds")


@functools.lru_cache(maxsize=65536)
def trail_time(seconds: float) -> str:
    return (EPOCH + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_id(seed: str, n: int) -> str:
    h = hashlib.sha256(f"{seed}|{n}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def event_for(action: str, api: str | None = None, resource: str = "") -> tuple[str, str] | None:
    """(eventSource, eventName) CloudTrail logs for a request, or None when it is never logged."""
    prefix, _, name = action.partition(":")
    if action.lower() == "iam:passrole":
        return None
    if api:
        sdk_service, _, op = api.partition(".")
        op = op.split(" ", 1)[0]
        sdk_prefix = {"CloudFormation": "cloudformation", "S3": "s3", "Lambda": "lambda", "IAM": "iam",
                      "APIGateway": "apigateway", "CloudWatchLogs": "logs", "ECR": "ecr", "SSM": "ssm"}.get(sdk_service)
        if sdk_prefix == prefix and op and op.isalnum():
            name = op
    if prefix == "apigateway":
        table = _APIGW_V2 if "::/apis" in resource else _APIGW_REST
        name = table.get(name.upper(), name)
    elif prefix == "s3":
        name = _S3_NAMES.get(name, name) if not api else name
    elif prefix == "lambda":
        name = _LAMBDA_VERSIONED.get(name, name)
    host = _SOURCE_HOST.get(prefix, prefix)
    return f"{host}.amazonaws.com", name


def reason_clause(action: str, cause: Cause, explicit: bool) -> str:
    kind = {
        Cause.SCP: "service control policy",
        Cause.PERMISSIONS_BOUNDARY: "permissions boundary",
        Cause.SESSION_POLICY: "session policy",
    }.get(cause, "identity-based policy")
    if explicit:
        return f"with an explicit deny in a {kind}" if kind != "identity-based policy" else \
            "with an explicit deny in an identity-based policy"
    return f"because no {kind} allows the {action} action"


def denial_text(principal: str, action: str, resource: str, cause: Cause, explicit: bool, *,
                quote_resource: bool = False) -> str:
    shown = f'"{resource}"' if quote_resource else resource
    return (f"User: {principal} is not authorized to perform: {action} on resource: {shown} "
            f"{reason_clause(action, cause, explicit)}")


def handler_reason(denial: str, action: str, rid: str, token: str) -> str:
    """A registry handler's ResourceStatusReason for an AccessDenied."""
    service = _SERVICE_NAME.get(action.split(":", 1)[0], action.split(":", 1)[0].capitalize())
    return (f'Resource handler returned message: "{denial} (Service: {service}, Status Code: 403, '
            f'Request ID: {rid})" (RequestToken: {token}, HandlerErrorCode: AccessDenied)')


def error_code(action: str) -> str:
    prefix = action.split(":", 1)[0]
    if prefix == "ec2":
        return "Client.UnauthorizedOperation"
    return "AccessDenied" if prefix in _QUERY else "AccessDeniedException"


def _request_parameters(action: str, resource: str) -> dict[str, Any] | None:
    prefix = action.split(":", 1)[0]
    arn = Arn.parse_or_none(resource)
    if arn is None:
        return None
    tail = arn.resource
    if prefix == "s3":
        if arn.resource_type == "accesspoint":  # accesspoint/<name>[/object/<key>]: the request names the access point
            name, _, rest = arn.resource_id.partition("/")
            key = rest.removeprefix("object/") if rest.startswith("object/") else ""
            host = f"{name}-{arn.account}.s3-accesspoint.{arn.region}.amazonaws.com"
            return {"bucketName": name, "key": key, "Host": host} if key else {"bucketName": name, "Host": host}
        bucket, _, key = tail.partition("/")
        return {"bucketName": bucket, "key": key, "Host": f"{bucket}.s3.amazonaws.com"} if key else \
            {"bucketName": bucket, "Host": f"{bucket}.s3.amazonaws.com"}
    if prefix == "lambda" and tail.startswith("function:"):
        name, _, qualifier = tail.removeprefix("function:").partition(":")
        # a qualified call (a version) names the function by its ARN, as CloudFormation passes it
        return {"functionName": resource, "qualifier": qualifier} if qualifier else {"functionName": name}
    if prefix == "iam" and tail.startswith("role/"):
        return {"roleName": tail.rsplit("/", 1)[-1]}
    if prefix == "cloudformation" and ":stack/" in resource:
        return {"stackName": resource}
    if prefix == "dynamodb" and tail.startswith("table/"):
        return {"tableName": tail.split("/", 2)[1]}
    if prefix == "logs" and tail.startswith("log-group:"):
        return {"logGroupName": tail[len("log-group:"):].removesuffix(":*")}
    if prefix == "sns":
        return {"topicArn": resource}
    if prefix == "sqs":
        return {"queueUrl": f"https://sqs.{arn.region}.amazonaws.com/{arn.account}/{tail}"}
    if prefix == "events" and arn.resource_type == "rule":
        bus, _, rule = arn.resource_id.rpartition("/")  # rule/<bus>/<name> on a custom bus
        return {"name": rule, "eventBusName": bus} if bus else {"name": rule}
    if prefix == "kms" and tail.startswith("key/"):
        return {"keyId": resource}
    if prefix == "states":
        return {"stateMachineArn": resource}
    return None


def _s3_object(resource: str) -> tuple[str, str] | None:
    """For an S3 object ARN, the CloudTrail resource type and ARN of what holds it: its bucket
    (``arn:aws:s3:::bucket/key``) or its access point (``arn:aws:s3:region:account:accesspoint/ap/object/key``,
    S3 User Guide "Monitoring and logging access points": the entry names the access point ARN in ``resources``,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points-monitoring-logging.html); None for anything
    else (a bucket, an access point)."""
    arn = Arn.parse_or_none(resource)
    if arn is None or arn.service != "s3":
        return None
    if arn.resource_type == "accesspoint":
        name, _, rest = arn.resource_id.partition("/")
        if not rest.startswith("object/"):
            return None
        container = Arn(arn.partition, "s3", arn.region, arn.account, f"accesspoint/{name}")
        return "AWS::S3::AccessPoint", str(container)
    if arn.region or arn.account or "/" not in arn.resource:
        return None
    bucket = arn.resource.split("/", 1)[0]
    return "AWS::S3::Bucket", str(Arn(arn.partition, "s3", "", "", bucket))


def trail_record(
    *,
    seconds: float,
    action: str,
    resource: str,
    api: str | None,
    session_arn: str,
    role_arn: str,
    account: str,
    region: str,
    invoked_by_cfn: bool,
    request: str,
    event: str,
    error: tuple[str, str] | None,
) -> dict[str, Any] | None:
    """One CloudTrail record, or None when the request is never logged."""
    names = event_for(action, api, resource)
    if names is None:
        return None
    source, name = names
    session = session_arn.rsplit("/", 1)[-1]
    role_id = "AROA" + hashlib.sha256(role_arn.encode()).hexdigest()[:17].upper()
    identity: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": session_arn,
        "accountId": account,
        "accessKeyId": "ASIA" + hashlib.sha256(session_arn.encode()).hexdigest()[:16].upper(),
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": role_arn, "accountId": account,
                              "userName": role_arn.rsplit("/", 1)[-1]},
            "attributes": {"creationDate": trail_time(0), "mfaAuthenticated": "false"},
        },
    }
    if invoked_by_cfn:
        identity["invokedBy"] = CFN
    s3_target = _s3_object(resource) if source == "s3.amazonaws.com" and name in _S3_DATA else None
    data = s3_target is not None
    record: dict[str, Any] = {
        "eventVersion": "1.09" if not data else "1.10",
        "userIdentity": identity,
        "eventTime": trail_time(seconds),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": CFN if invoked_by_cfn else "192.0.2.10",
        "userAgent": CFN if invoked_by_cfn else CLI_AGENT,
    }
    if error is not None:
        record["errorCode"], record["errorMessage"] = error
    record["requestParameters"] = _request_parameters(action, resource)
    record["responseElements"] = None
    record["requestID"] = request
    record["eventID"] = event
    record["readOnly"] = name.startswith(("Get", "List", "Describe", "Head"))
    if s3_target is not None:
        kind, container = s3_target
        record["resources"] = [
            {"type": "AWS::S3::Object", "ARN": resource},
            {"accountId": account, "type": kind, "ARN": container},
        ]
    elif source == "kms.amazonaws.com" and ":key/" in resource:
        record["resources"] = [{"accountId": account, "type": "AWS::KMS::Key", "ARN": resource}]
    record["eventType"] = "AwsApiCall"
    record["managementEvent"] = not data
    record["recipientAccountId"] = account
    if invoked_by_cfn:
        record["sharedEventID"] = event
    record["eventCategory"] = "Data" if data else "Management"
    return record


def stack_event(
    *,
    stack_id: str,
    stack_name: str,
    seconds: float,
    logical_id: str,
    physical_id: str,
    resource_type: str,
    status: str,
    reason: str | None,
    properties: str | None,
    event_id: str | None,
) -> dict[str, Any]:
    """One DescribeStackEvents entry. Resource events are named ``LogicalId-STATUS-time``, stack events by uuid."""
    when = timestamp(seconds)
    moment = when[:23]
    event: dict[str, Any] = {
        "StackId": stack_id,
        "EventId": event_id or f"{logical_id}-{status}-{moment}Z",
        "StackName": stack_name,
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": physical_id,
        "ResourceType": resource_type,
        "Timestamp": when,
        "ResourceStatus": status,
    }
    if reason is not None:
        event["ResourceStatusReason"] = reason
    if properties is not None:
        event["ResourceProperties"] = properties
    return event


def cli_header(command: str, service: str, stage: str, region: str) -> str:
    verb = "Deploying" if command == "deploy" else "Removing"
    prep = "to" if command == "deploy" else "from"
    return f"{verb} {service} {prep} stage {stage} ({region})\n"


def cli_failure(stack_name: str, command: str, seconds: float, error: str) -> str:
    what = "deploy" if command == "deploy" else "remove"
    return (
        f"\n✖ Stack {stack_name} failed to {what} ({int(seconds)}s)\n"
        "Environment: linux, node 20.11.0, framework 3.38.0 (local), plugin 7.2.0, SDK 4.5.1\n"
        "Credentials: Local, environment variables\n"
        "Docs:        docs.serverless.com\n"
        "Support:     forum.serverless.com\n"
        "Bugs:        github.com/serverless/serverless/issues\n"
        "\n"
        f"Error:\n{error}\n"
    )


def cli_success(stack_name: str, service: str, command: str, seconds: float) -> str:
    if command == "deploy":
        return f"\n✔ Service deployed to stack {stack_name} ({int(seconds)}s)\n"
    return f"\n✔ Service {service} has been successfully removed ({int(seconds)}s)\n"

"""A recorded call -> the CloudTrail-shaped record AWS would log for it -> the IAM action and resource.

The record is what ``iamfit replay`` / ``explain`` / ``audit`` read (``--records``), and the action and resource
come from reading that record back with :func:`iamfit.evidence.cloudtrail.read_record`: the eventName -> action
knowledge (:mod:`iamfit.knowledge.eventnames`: S3 ``HeadBucket`` -> ``s3:ListBucket``, API Gateway's operations
-> the HTTP verb on the resource path, ...) and the request-parameter -> ARN knowledge. So what ``observe``
reports and what a replay of its records derives cannot differ.

``requestParameters`` spells the operation's top-level members as CloudTrail does, first letter lower-case
(``StackName`` -> ``stackName``); ``eventSource`` is ``<signing name>.amazonaws.com``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from iamfit.evidence.cloudtrail import read_record
from iamfit.evidence.model import Usage
from iamfit.observe.record import Call

# Operations IAM does not authorise: calls to them need no permission, so none is predicted or reported.
NO_PERMISSION: Mapping[tuple[str, str], str] = {
    ("sts", "GetCallerIdentity"): "no permission is required to perform this operation "
    "(https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html)",
}

# eventSource of a signing name whose CloudTrail source differs from <signing name>.amazonaws.com.
_EVENT_SOURCE = {"monitoring": "monitoring.amazonaws.com", "email": "ses.amazonaws.com"}


@dataclass(frozen=True)
class Mapped:
    """A call's IAM action and resource, or why it has none (``dropped``)."""

    call: Call
    action: str | None
    resource: str | None
    dropped: str | None = None


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def to_record(call: Call, account: str, principal_arn: str, resource: str | None = None) -> dict[str, Any]:
    """The CloudTrail record of ``call`` (an error answer becomes errorCode, as CloudTrail logs it); ``resource``,
    when given, is its ``resources[]`` entry (what readers take before the request parameters)."""
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser" if ":user/" in principal_arn else "AssumedRole",
                         "arn": principal_arn, "accountId": account, "accessKeyId": call.access_key},
        "eventTime": call.time,
        "eventSource": _EVENT_SOURCE.get(call.service, f"{call.service}.amazonaws.com"),
        "eventName": call.operation or "",
        "awsRegion": call.region,
        "sourceIPAddress": "127.0.0.1",
        "userAgent": call.user_agent,
        "requestParameters": {_lower_first(k): _plain(v) for k, v in sorted(call.parameters.items())},
        "responseElements": None,
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
        "iamfitObserve": {"phase": call.phase, "source": call.source, "status": call.status},
    }
    if resource is not None:
        record["resources"] = [{"ARN": resource, "accountId": account}]
    if call.status >= 400:
        record["errorCode"] = call.error_code or f"HTTP{call.status}"
    return record


_LOG_GROUP = re.compile(r"^arn:[^:]+:logs:[^:]*:[^:]*:log-group:[^:]+$")


def _authorised_resource(action: str, resource: str | None) -> str | None:
    """The resource as IAM evaluates it. A log group's actions are evaluated on ``log-group:NAME:log-stream:``
    (the denial in anomalyco/sst#4256: "not authorized to perform: logs:DeleteLogGroup on resource:
    arn:aws:logs:ca-central-1:...:log-group:/aws/lambda/...:log-stream:"), which only ``log-group:NAME:*`` matches:
    the form iamfit.knowledge.arns.NAME_RULES gives AWS::Logs::LogGroup."""
    if resource is not None and action.startswith("logs:") and _LOG_GROUP.match(resource):
        return resource + ":*"
    return resource


def _per_object(call: Call) -> list[Call]:
    """S3 ``DeleteObjects`` is authorised as ``s3:DeleteObject`` on each object it names
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html): one call per key."""
    if call.service != "s3" or call.operation != "DeleteObjects":
        return [call]
    delete = call.parameters.get("Delete")
    objects = delete.get("Objects") if isinstance(delete, Mapping) else None
    if not isinstance(objects, list) or not objects:
        return [call]
    rest = {k: v for k, v in call.parameters.items() if k != "Delete"}
    return [replace(call, parameters={**rest, "Key": o["Key"]}) for o in objects
            if isinstance(o, Mapping) and isinstance(o.get("Key"), str)]


def expand(calls: list[Call]) -> list[Call]:
    """The calls as CloudTrail would authorise them: a batch call that names several resources, once per resource."""
    return [one for call in calls for one in _per_object(call)]


def map_call(call: Call, account: str, principal_arn: str) -> Mapped:
    """The action and resource AWS authorises ``call`` against (an error answer is mapped as its success would
    be: the CLI asked for it, e.g. a DescribeStacks of a stack that does not exist yet)."""
    if call.operation is None:
        return Mapped(call, None, None, f"no operation of {call.service} matches {call.method} {call.path}")
    reason = NO_PERMISSION.get((call.service, call.operation))
    if reason is not None:
        return Mapped(call, None, None, reason)
    record = to_record(call, account, principal_arn)
    record.pop("errorCode", None)
    usage = read_record(record)
    if not isinstance(usage, Usage):
        return Mapped(call, None, None, f"no IAM action is known for {call.service}:{call.operation}")
    resource = _from_request(call, account) or usage.resource
    return Mapped(call, usage.action, _authorised_resource(usage.action, resource))


def _from_request(call: Call, account: str) -> str | None:
    """The resource the request itself names where the request parameters do not say.

    * API Gateway (v1 and v2): the resource of ``apigateway:<verb>`` is the request's path,
      ``arn:aws:apigateway:REGION::/restapis/ID/...``, v2's without its ``/v2`` prefix, a tag's ARN URL-encoded
      (Service Authorization Reference, Amazon API Gateway Management: resource types);
    * ECR: ``repositoryNames`` of a DescribeRepositories of one repository names it.
    """
    from iamfit.knowledge.regions import partition_of

    partition = partition_of(call.region) or "aws"
    if call.service == "apigateway" and call.path.startswith("/"):
        path = call.path[3:] if call.path.startswith("/v2/") else call.path
        return f"arn:{partition}:apigateway:{call.region}::{path.rstrip('/') or '/'}"
    if call.service == "ecr":
        names = call.parameters.get("repositoryNames")
        if isinstance(names, list) and len(names) == 1 and isinstance(names[0], str):
            return f"arn:{partition}:ecr:{call.region}:{account}:repository/{names[0]}"
    return None

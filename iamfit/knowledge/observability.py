"""What an evidence source can show: actions whose use CloudTrail management events never record.

An action is *not observable* in a source when its use leaves no trace there, so "not seen" says nothing about
whether it is used. ``audit`` lists such actions apart (never "unused") and keeps them in its proposal.

CloudTrail management events (what LookupEvents returns and what a trail logs by default) miss two kinds:

* **permission-only actions**: a permission checked inside another call, with no API of its own, so no event.
  ``iam:PassRole`` is checked when a service is handed a role (``CreateFunction`` with ``Role``, ``CreateStack``
  with ``RoleARN``); the IAM User Guide, "Grant a user permissions to pass a role to an AWS service"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html), and the Service
  Authorization Reference, which marks it "[permission only]"
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html).
* **data events**: data-plane calls, logged only by a trail (or event data store) configured for data events of
  that resource type; the CloudTrail User Guide, "Logging data events"
  (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html), lists
  the resource types. S3 object-level calls are derived: every ``s3`` action whose resource in the Service
  Authorization Reference is ``object`` (``arn:…:s3:::bucket/key``), and the listing calls S3 logs as data
  events (ListObjects, ListObjectVersions, ListMultipartUploads; "CloudTrail data events for Amazon S3",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html). The others are the
  IAM actions of each type's data-event APIs, in ``DATA_EVENT_ACTIONS``.

A trail that does log data events of a type shows them: :func:`unobservable_in_cloudtrail` takes the data-event
resource types seen in the read (any used action of that type) and treats the type's actions as observable then.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass

from iamfit.knowledge.catalog import ActionCatalog

_PASSROLE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html"
_DATA_EVENTS = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html"
_S3_EVENTS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html"
_LAMBDA = "https://docs.aws.amazon.com/lambda/latest/dg/logging-using-cloudtrail.html"
_DDB = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/logging-using-cloudtrail.html"
_SNS = "https://docs.aws.amazon.com/sns/latest/dg/sns-logging-using-cloudtrail.html"
_SQS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/logging-using-cloudtrail.html"
_KINESIS = "https://docs.aws.amazon.com/streams/latest/dev/logging-using-cloudtrail.html"

# action → source. Permissions checked inside other calls, with no API and so no CloudTrail event.
PERMISSION_ONLY: dict[str, str] = {
    "iam:PassRole": _PASSROLE,
}


@dataclass(frozen=True)
class DataEventType:
    """A CloudTrail data-event resource type and the IAM actions of its data-event APIs."""

    resource_type: str
    actions: tuple[str, ...]
    source: str


DATA_EVENT_ACTIONS: tuple[DataEventType, ...] = (
    # S3 object-level actions are derived from the catalog (resource type "object"); these are the bucket-level
    # permissions of the listing calls S3 logs as data events.
    DataEventType("AWS::S3::Object", ("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"),
                  _S3_EVENTS),
    DataEventType("AWS::Lambda::Function", ("lambda:InvokeFunction",), _LAMBDA),
    DataEventType("AWS::DynamoDB::Table", (
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
        "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:Query", "dynamodb:Scan",
        "dynamodb:ConditionCheckItem", "dynamodb:PartiQLSelect", "dynamodb:PartiQLInsert",
        "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"), _DDB),
    DataEventType("AWS::DynamoDB::Stream", ("dynamodb:GetRecords", "dynamodb:GetShardIterator"), _DDB),
    DataEventType("AWS::SNS::Topic", ("sns:Publish",), _SNS),
    DataEventType("AWS::SQS::Queue", ("sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage",
                                      "sqs:ChangeMessageVisibility"), _SQS),
    DataEventType("AWS::Kinesis::Stream", ("kinesis:PutRecord", "kinesis:PutRecords", "kinesis:GetRecords",
                                           "kinesis:GetShardIterator", "kinesis:SubscribeToShard"), _KINESIS),
)
S3_OBJECT = "AWS::S3::Object"


@functools.cache
def _listed() -> dict[str, str]:
    return {a.lower(): entry.resource_type for entry in DATA_EVENT_ACTIONS for a in entry.actions}


def data_event_type(action: str, catalog: ActionCatalog) -> str | None:
    """The CloudTrail data-event resource type ``action``'s calls are logged as, or None (a management event)."""
    low = action.lower()
    if low in _listed():
        return _listed()[low]
    if low.startswith("s3:"):
        info = catalog.info(action)
        if info is not None and any(rt.name == "object" for rt in info.resource_types):
            return S3_OBJECT
    return None


def unobservable_in_cloudtrail(
    action: str, catalog: ActionCatalog, data_types_seen: Collection[str] = ()
) -> str | None:
    """Why CloudTrail management events cannot show a use of ``action``, or None when they can.

    ``data_types_seen``: data-event resource types the read did contain (its trail logs them).
    """
    for name, _source in PERMISSION_ONLY.items():
        if name.lower() == action.lower():
            return "permission only: checked inside another call, never logged by CloudTrail"
    kind = data_event_type(action, catalog)
    if kind is not None and kind not in data_types_seen:
        return f"a CloudTrail data event ({kind}): not in management events, and the read held none of this type"
    return None


def unobservable_in_access_advisor(action: str, tracked: frozenset[str]) -> str | None:
    """Why IAM Access Advisor cannot show ``action`` (AWS tracks action-level data for some services only).

    ``tracked``: the actions Access Advisor's answer listed, used or not (lower case); an action it did not list
    is untracked (IAM User Guide, "Refining permissions using last accessed information",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_last-accessed.html).
    """
    if action.lower() in tracked:
        return None
    return "not tracked at action level by IAM Access Advisor"

"""The sandbox's CloudTrail records for any resource ARN: never an exception (issue 13 §3: an S3 access-point ARN
raised IndexError, exit 70), and S3 data events name the bucket or the access point that holds the object."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from iamfit.targets.sandbox import shapes

ACTIONS = st.sampled_from(["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:GetBucketAcl", "events:PutRule",
                           "lambda:GetFunction", "logs:PutSubscriptionFilter", "dynamodb:DescribeTable",
                           "iam:GetRole", "kms:Decrypt", "sqs:GetQueueAttributes", "apigateway:PUT"])
PART = st.text(alphabet=string.ascii_letters + string.digits + ":/-_.*%", max_size=40)


def _record(action: str, resource: str) -> dict[str, object] | None:
    return shapes.trail_record(
        seconds=1.0, action=action, resource=resource, api=None,
        session_arn="arn:aws:sts::123456789012:assumed-role/r/s", role_arn="arn:aws:iam::123456789012:role/r",
        account="123456789012", region="us-east-1", invoked_by_cfn=True, request="req", event="evt", error=None,
    )


@given(ACTIONS, st.sampled_from(["s3", "events", "lambda", "logs", "iam", "kms", "apigateway", "x"]),
       st.sampled_from(["", "us-east-1", "*"]), st.sampled_from(["", "123456789012", "*"]), PART)
def test_a_trail_record_for_any_arn_never_raises(action: str, service: str, region: str, account: str,
                                                 resource: str) -> None:
    _record(action, f"arn:aws:{service}:{region}:{account}:{resource or 'r'}")


@given(ACTIONS, st.text(max_size=60))
def test_a_trail_record_for_any_text_never_raises(action: str, resource: str) -> None:
    _record(action, resource)


def test_an_object_through_an_access_point_is_a_data_event_naming_the_access_point() -> None:
    resource = "arn:aws:s3:us-east-1:123456789012:accesspoint/ap1/object/some/key"
    record = _record("s3:PutObject", resource)
    assert record is not None and record["eventCategory"] == "Data"
    assert record["resources"] == [
        {"type": "AWS::S3::Object", "ARN": resource},
        {"accountId": "123456789012", "type": "AWS::S3::AccessPoint",
         "ARN": "arn:aws:s3:us-east-1:123456789012:accesspoint/ap1"},
    ]
    params = record["requestParameters"]
    assert isinstance(params, dict) and params["key"] == "some/key"
    assert params["Host"] == "ap1-123456789012.s3-accesspoint.us-east-1.amazonaws.com"


def test_an_object_in_a_bucket_names_its_bucket() -> None:
    record = _record("s3:GetObject", "arn:aws:s3:::b/k/x")
    assert record is not None
    assert record["resources"] == [
        {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::b/k/x"},
        {"accountId": "123456789012", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::b"},
    ]


def test_a_rule_on_a_custom_bus_is_requested_with_its_bus() -> None:
    record = _record("events:PutRule", "arn:aws:events:us-east-1:123456789012:rule/orders/r1")
    assert record is not None and record["requestParameters"] == {"name": "r1", "eventBusName": "orders"}

"""What CloudTrail management events and Access Advisor cannot show (iamfit.knowledge.observability)."""

from __future__ import annotations

import pytest

from iamfit.knowledge.catalog import default_catalog
from iamfit.knowledge.observability import (
    DATA_EVENT_ACTIONS,
    PERMISSION_ONLY,
    data_event_type,
    unobservable_in_access_advisor,
    unobservable_in_cloudtrail,
)


def test_every_listed_action_exists_and_every_rule_cites_an_aws_page() -> None:
    catalog = default_catalog()
    for entry in DATA_EVENT_ACTIONS:
        assert entry.source.startswith("https://docs.aws.amazon.com/"), entry
        assert entry.resource_type.startswith("AWS::")
        for action in entry.actions:
            assert catalog.canonical(action) == action, action
    for action, source in PERMISSION_ONLY.items():
        assert catalog.canonical(action) == action and source.startswith("https://docs.aws.amazon.com/")


@pytest.mark.parametrize("action, kind", [
    ("s3:PutObject", "AWS::S3::Object"),  # derived: its resource in the Service Authorization Reference is object
    ("s3:GetObjectVersion", "AWS::S3::Object"),
    ("s3:ListBucket", "AWS::S3::Object"),
    ("lambda:InvokeFunction", "AWS::Lambda::Function"),
    ("dynamodb:PutItem", "AWS::DynamoDB::Table"),
    ("sns:Publish", "AWS::SNS::Topic"),
    ("s3:CreateBucket", None),
    ("lambda:CreateFunction", None),
    ("iam:PassRole", None),
])
def test_data_event_types(action: str, kind: str | None) -> None:
    assert data_event_type(action, default_catalog()) == kind


def test_cloudtrail_reasons() -> None:
    catalog = default_catalog()
    assert "permission only" in (unobservable_in_cloudtrail("IAM:passrole", catalog) or "")
    assert "AWS::S3::Object" in (unobservable_in_cloudtrail("s3:PutObject", catalog) or "")
    # a read that holds S3 data events can show S3 object calls; PassRole stays unobservable
    assert unobservable_in_cloudtrail("s3:PutObject", catalog, {"AWS::S3::Object"}) is None
    assert unobservable_in_cloudtrail("iam:PassRole", catalog, {"AWS::S3::Object"}) is not None
    assert unobservable_in_cloudtrail("cloudformation:CreateStack", catalog) is None


def test_access_advisor_shows_only_what_it_tracks() -> None:
    tracked = frozenset({"s3:putobject"})
    assert unobservable_in_access_advisor("s3:PutObject", tracked) is None
    assert unobservable_in_access_advisor("sqs:CreateQueue", tracked)

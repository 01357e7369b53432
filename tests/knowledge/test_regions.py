"""Regions and partitions from botocore's endpoint data."""

from __future__ import annotations

import pytest

from iamfit.knowledge import regions
from iamfit.knowledge.regions import REGION_HINT, partition_of, unknown_region_message


@pytest.mark.parametrize(("region", "partition"), [
    ("us-east-1", "aws"), ("eu-west-3", "aws"), ("cn-north-1", "aws-cn"), ("cn-northwest-1", "aws-cn"),
    ("us-gov-west-1", "aws-us-gov"), ("us-iso-east-1", "aws-iso"), ("us-isob-east-1", "aws-iso-b"),
])
def test_known_regions_have_their_partition(region: str, partition: str) -> None:
    assert partition_of(region) == partition


@pytest.mark.parametrize("region", ["mars-1", "us-est-1", "aws-global", "aws-cn-global", "", "US-EAST-1", "*"])
def test_unknown_regions_and_pseudo_regions_have_none(region: str) -> None:
    assert partition_of(region) is None


def test_the_message_names_close_regions_and_where_to_find_valid_ones() -> None:
    message = unknown_region_message("us-est-1")
    assert message.startswith("--region: unknown AWS region 'us-est-1'")
    assert "us-east-1" in message and REGION_HINT in message and "aws ec2 describe-regions" in message


def test_without_botocore_data_regions_are_checked_by_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regions, "_known_regions", lambda: None)
    assert partition_of("us-gov-east-1") == "aws-us-gov"
    assert partition_of("ap-southeast-9") == "aws"
    assert partition_of("mars-1") is None

from __future__ import annotations

from datetime import UTC, date, datetime

from iamfit.evidence.trail import LogFilter, parse_log_path

from .records import log_key


def test_parse_standard_and_organization_paths() -> None:
    where = parse_log_path("bucket/prefix/" + log_key("eu-west-1", "2026/10/31"))
    assert where is not None
    assert (where.account, where.region, where.day) == ("123456789012", "eu-west-1", date(2026, 10, 31))
    org = parse_log_path("AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/2026/01/02/x.json.gz")
    assert org is not None and org.account == "111122223333"
    assert parse_log_path("logs/some.json.gz") is None
    assert parse_log_path("AWSLogs/123456789012/CloudTrail/us-east-1/2026/02/30/x.json.gz") is None


def test_filter_by_account_region_and_window() -> None:
    keep = LogFilter.for_window(
        datetime(2026, 10, 2, 12, tzinfo=UTC),
        datetime(2026, 10, 3, tzinfo=UTC),
        ("123456789012",),
        ("us-east-1",),
    )
    assert keep.admits(log_key("us-east-1", "2026/10/02"))
    assert keep.admits(log_key("us-east-1", "2026/10/04"))  # delivered up to a day after its events
    assert not keep.admits(log_key("us-east-1", "2026/10/01"))
    assert not keep.admits(log_key("us-east-1", "2026/10/05"))
    assert not keep.admits(log_key("eu-west-1", "2026/10/02"))
    assert not keep.admits(log_key("us-east-1", "2026/10/02", account="999999999999"))
    assert not keep.admits("AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/10/02/d.json.gz")
    assert not keep.admits("notes.txt")
    # a file outside the layout cannot be filtered by path: kept unless an account/region filter is set
    assert LogFilter().admits("exports/events.json")
    assert not keep.admits("exports/events.json")

"""The DuckDB reduction over local files: mapping, grouping, filters, progress, bad input."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from iamfit.errors import BadInputError
from iamfit.evidence.model import Cause
from iamfit.evidence.trail import LocalSource, aggregate

from .records import ACCOUNT, DEPLOY_ROLE, USER, given_log, log_key, record

FN_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:svc-dev-hello"


def deploy_records() -> list[dict[str, object]]:
    return [
        record("cloudformation.amazonaws.com", "CreateChangeSet", params={"stackName": "svc-dev"}),
        record(
            "lambda.amazonaws.com",
            "CreateFunction20150331",
            invoked_by="cloudformation.amazonaws.com",
            params={"functionName": "svc-dev-hello", "runtime": "nodejs20.x"},
            when="2026-10-02T10:01:00Z",
        ),
        record(
            "lambda.amazonaws.com",
            "CreateFunction20150331",
            invoked_by="cloudformation.amazonaws.com",
            params={"functionName": "svc-dev-hello"},
            when="2026-10-02T10:05:00Z",
        ),
        record(
            "s3.amazonaws.com",
            "HeadObject",
            params={"bucketName": "deploy-bucket", "key": "a.zip"},
            resources=[{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::deploy-bucket/a.zip"}],
        ),
        record("iam.amazonaws.com", "CreateRole", error="AccessDenied", params={"roleName": "svc-dev-role"}),
        record("ec2.amazonaws.com", "DescribeVpcs", who="user"),
    ]


def test_reduces_plain_and_gzip_files_to_mapped_rows(tmp_path: Path) -> None:
    given_log(tmp_path, log_key(n=1), deploy_records()[:3])
    given_log(tmp_path, "exports/more.json", deploy_records()[3:])
    result = aggregate(LocalSource(tmp_path), principal=DEPLOY_ROLE)

    rows = {(r.action, r.resource, r.invoked_by, r.error_code): r for r in result.rows}
    create = rows[("lambda:CreateFunction", FN_ARN, "cloudformation.amazonaws.com", None)]
    assert (create.count, create.first_seen, create.last_seen) == (
        2,
        "2026-10-02T10:01:00Z",
        "2026-10-02T10:05:00Z",
    )
    assert create.events == ("lambda.amazonaws.com:CreateFunction20150331",)
    assert ("s3:GetObject", "arn:aws:s3:::deploy-bucket/a.zip", None, None) in rows
    stack = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/svc-dev/*"
    assert ("cloudformation:CreateChangeSet", stack, None, None) in rows
    assert all(r.principal == DEPLOY_ROLE for r in result.rows)  # the IAM user's call is filtered out
    assert result.stats.files_read == 2 and result.stats.records == 6 and result.stats.matched_records == 5
    assert result.stats.clean

    (denial,) = result.denials()
    assert denial.action == "iam:CreateRole" and denial.cause is Cause.IDENTITY_NO_ALLOW
    assert denial.resource == f"arn:aws:iam::{ACCOUNT}:role/svc-dev-role"
    assert {u.action for u in result.usages()} == {
        "cloudformation:CreateChangeSet",
        "lambda:CreateFunction",
        "s3:GetObject",
    }


def test_principal_forms_and_time_window(tmp_path: Path) -> None:
    given_log(tmp_path, log_key(), deploy_records())
    by_session = aggregate(LocalSource(tmp_path), principal=f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy")
    assert by_session.stats.matched_records == 5
    user = aggregate(LocalSource(tmp_path), principal=USER)
    assert [r.action for r in user.rows] == ["ec2:DescribeVpcs"]
    window = aggregate(
        LocalSource(tmp_path),
        principal=DEPLOY_ROLE,
        since=datetime(2026, 10, 2, 10, 2, tzinfo=UTC),
        until=datetime(2026, 10, 2, 10, 5),  # naive means UTC
    )
    assert [(r.action, r.count) for r in window.rows] == [("lambda:CreateFunction", 1)]
    everyone = aggregate(LocalSource(tmp_path))
    assert {r.principal for r in everyone.rows} == {DEPLOY_ROLE, USER}


def test_batches_merge_and_progress_is_reported(tmp_path: Path) -> None:
    for n in range(5):
        given_log(tmp_path, log_key(n=n), [record(when=f"2026-10-02T1{n}:00:00Z")] * 3)
    calls: list[tuple[int, int | None, int]] = []
    result = aggregate(LocalSource(tmp_path), principal=DEPLOY_ROLE, batch_files=2, progress=lambda *a: calls.append(a))
    (row,) = result.rows
    assert (row.count, row.first_seen, row.last_seen) == (15, "2026-10-02T10:00:00Z", "2026-10-02T14:00:00Z")
    assert calls == [(0, 5, 0), (2, 5, 6), (4, 5, 12), (5, 5, 15)]


def test_layout_filter_never_opens_files_outside_it(tmp_path: Path) -> None:
    given_log(tmp_path, log_key("us-east-1", "2026/10/02"), [record()])
    # corrupt files that the filter must exclude by path: were they opened, they would be counted as skipped
    for key in (
        log_key("us-east-1", "2026/09/01"),
        log_key("eu-west-1", "2026/10/02"),
        log_key(account="999999999999"),
    ):
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(b"\x1f\x8b not gzip")
    result = aggregate(
        LocalSource(tmp_path, accounts=(ACCOUNT,), regions=("us-east-1",)),
        principal=DEPLOY_ROLE,
        since=datetime(2026, 10, 1, tzinfo=UTC),
    )
    assert result.stats.files_read == 1 and result.stats.files_skipped == () and result.stats.records == 1


def test_bad_inputs_are_counted_and_the_rest_is_read(tmp_path: Path) -> None:
    given_log(tmp_path, log_key(n=0), [record(), {"eventName": "NoTime", "eventSource": "s3.amazonaws.com"}])
    corrupt = tmp_path / log_key(n=1)
    corrupt.write_bytes(b"\x1f\x8b\x08\x00garbage")
    truncated = tmp_path / log_key(n=2)
    truncated.write_bytes(gzip.compress(json.dumps({"Records": [record()]}).encode()[:-20]))
    not_trail = tmp_path / log_key(n=3)
    not_trail.write_bytes(gzip.compress(b'{"something": "else"}'))
    given_log(tmp_path, log_key(n=4), [record(when="2026-10-02T11:00:00Z")])

    result = aggregate(LocalSource(tmp_path), principal=DEPLOY_ROLE, batch_files=10)
    stats = result.stats
    assert stats.files_read == 2
    assert {Path(s.path).name[-12:] for s in stats.files_skipped} == {
        "0001.json.gz",
        "0002.json.gz",
        "0003.json.gz",
    }
    reasons = {Path(s.path).name[-12:]: s.reason for s in stats.files_skipped}
    assert reasons["0003.json.gz"] == "no Records array"
    assert stats.bad_records == 1 and stats.records == 3 and not stats.clean
    assert [(r.action, r.count) for r in result.rows] == [("lambda:CreateFunction", 2)]

    # strict stops at the first problem in file order: the record without eventTime in file 0
    with pytest.raises(BadInputError, match="1 CloudTrail record"):
        aggregate(LocalSource(tmp_path), principal=DEPLOY_ROLE, strict=True)
    with pytest.raises(BadInputError, match=r"cannot read CloudTrail file .*0001\.json\.gz"):
        aggregate(LocalSource(corrupt), principal=DEPLOY_ROLE, strict=True)


def test_strict_rejects_records_missing_fields(tmp_path: Path) -> None:
    given_log(tmp_path, log_key(), [record(), {"eventTime": "2026-10-02T10:00:00Z"}])
    with pytest.raises(BadInputError, match="1 CloudTrail record"):
        aggregate(LocalSource(tmp_path), strict=True)


def test_missing_path_and_reversed_window(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no such CloudTrail"):
        aggregate(LocalSource(tmp_path / "nope"))
    with pytest.raises(BadInputError, match="after"):
        aggregate(LocalSource(tmp_path), since=datetime(2026, 2, 1), until=datetime(2026, 1, 1))


def test_output_is_deterministic(tmp_path: Path) -> None:
    given_log(tmp_path, log_key(n=0), deploy_records())
    given_log(tmp_path, log_key(n=1), list(reversed(deploy_records())))
    first = aggregate(LocalSource(tmp_path), batch_files=1)
    second = aggregate(LocalSource(tmp_path), batch_files=64)
    assert first.rows == second.rows
    assert [r.sort_key() for r in first.rows] == sorted(r.sort_key() for r in first.rows)


def test_denials_from_different_sessions_group_per_role(tmp_path: Path) -> None:
    first = record("iam.amazonaws.com", "CreateRole", error="AccessDenied", params={"roleName": "r"})
    second = json.loads(json.dumps(first).replace("deploy/ci-1", "deploy/ci-2"))
    given_log(tmp_path, log_key(), [first, second])
    (row,) = aggregate(LocalSource(tmp_path), principal=DEPLOY_ROLE).rows
    assert row.count == 2 and row.denied
    assert row.error_message is not None
    assert row.error_message.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/deploy/* is not authorized")


def test_unmapped_events_are_reported(tmp_path: Path) -> None:
    given_log(tmp_path, log_key(), [record(), record("lambda.amazonaws.com", "Invoke")])
    result = aggregate(LocalSource(tmp_path), event_to_action=lambda s, n, p: None if n == "Invoke" else "x:Y")
    assert result.stats.unmapped_events == ("lambda.amazonaws.com:Invoke",)
    assert [r.action for r in result.rows] == ["x:Y"]


@pytest.mark.parametrize("compact", [True, False])
def test_a_null_in_records_is_a_bad_record_not_a_bad_file(tmp_path: Path, compact: bool) -> None:
    given_log(tmp_path, log_key(), [record(), None, record(when="2026-10-02T11:00:00Z")], compact=compact)  # type: ignore[list-item]
    stats = aggregate(LocalSource(tmp_path), principal=DEPLOY_ROLE).stats
    assert (stats.files_read, stats.files_skipped, stats.records, stats.bad_records) == (1, (), 3, 1)


def test_a_failing_warm_up_prints_nothing_and_the_read_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The mapping's tables load in a thread; if that fails, the thread is silent (the core never prints) and
    the mapping loads them again in the caller's thread, where an error would be raised."""
    import iamfit.knowledge.eventnames as eventnames

    def broken() -> None:
        raise RuntimeError("no tables")

    monkeypatch.setattr(eventnames, "warm_up", broken)
    given_log(tmp_path, log_key(), [record()])
    result = aggregate(LocalSource(tmp_path), principal=DEPLOY_ROLE)
    assert [r.action for r in result.rows] == ["lambda:CreateFunction"]
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_workers_default_to_the_cpus_at_most_eight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker holds a staged batch (in memory when staging uses /dev/shm): a big machine gets 8, not 64."""
    from iamfit.evidence.trail.engine import reduce_files

    seen: list[int] = []

    def spy(*args: Any, **kwargs: Any) -> None:
        seen.append(kwargs["workers"])
        reduce_files(*args, **kwargs)

    monkeypatch.setattr("iamfit.evidence.trail.sources.reduce_files", spy)
    given_log(tmp_path, log_key(), [record()])
    for cpus, expected in ((64, 8), (2, 2), (None, 1)):
        monkeypatch.setattr("os.cpu_count", lambda cpus=cpus: cpus)
        assert aggregate(LocalSource(tmp_path)).stats.records == 1
        assert seen[-1] == expected
    aggregate(LocalSource(tmp_path), workers=3)
    assert seen[-1] == 3

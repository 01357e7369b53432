"""The principal prefilter (staging leaves out records whose bytes cannot match) changes nothing but the speed."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iamfit.evidence.trail.engine as engine
import iamfit.evidence.trail.sources as sources
import iamfit.evidence.trail.staging as staging
from iamfit.evidence.trail import LocalSource, aggregate
from iamfit.evidence.trail.staging import NotCompact, needle_for, stage, to_records

from .records import ACCOUNT, DEPLOY_ROLE, document, given_log, log_key, payload, record

OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/other"
SESSION_PREFIX = f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy"


def other(name: str = "GetRole", **params: Any) -> dict[str, Any]:
    """A call of another role's session; its request parameters may name the deploy role."""
    out = record("iam.amazonaws.com", name, params=params or None)
    out["userIdentity"] = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/other/ci-9",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": OTHER_ROLE}},
    }
    return out


def escaped(rec: dict[str, Any]) -> dict[str, Any]:
    """``rec`` marked so that it is written with its slashes escaped (``\\/``), which JSON allows."""
    return {**rec, "_escape_slashes": True}


def write(root: Path, n: int, records: list[dict[str, Any]]) -> None:
    parts = []
    for rec in records:
        text = json.dumps({k: v for k, v in rec.items() if k != "_escape_slashes"}, separators=(",", ":"))
        parts.append(text.replace("/", "\\/") if rec.get("_escape_slashes") else text)
    data = ('{"Records":[' + ",".join(parts) + "]}").encode()
    path = root / log_key(n=n)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data))


def both_ways(root: Path, principal: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fast = aggregate(LocalSource(root), principal=principal)
    with monkeypatch.context() as patch:
        patch.setattr(engine, "needle_for", lambda principal: None)
        full = aggregate(LocalSource(root), principal=principal)
    return fast, full


RECORDS = st.sampled_from(
    [
        record(),
        record("iam.amazonaws.com", "CreateRole", error="AccessDenied", params={"roleName": "r"}),
        record("lambda.amazonaws.com", "AddPermission20150331v2", invoked_by="cloudformation.amazonaws.com"),
        record("s3.amazonaws.com", "PutObject", who="user", params={"bucketName": "b"}),
        other(),
        other("GetRole", roleArn=DEPLOY_ROLE),  # names the principal, is not the principal's
        other("AssumeRole", roleArn=DEPLOY_ROLE, note=f"{SESSION_PREFIX}/x"),
        escaped(record("kms.amazonaws.com", "Decrypt")),  # the principal's, its ARN spelled with \/
        escaped(other("GetRole", roleArn=DEPLOY_ROLE)),
        {"eventVersion": "1.09", "eventName": "NoTime", "eventSource": "s3.amazonaws.com"},  # bad: no eventTime
        {**record(who="user"), "requestParameters": {"text": 'a ,{"eventVersion": b'}},
    ]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    files=st.lists(st.lists(RECORDS, min_size=1, max_size=6), min_size=1, max_size=4),
    principal=st.sampled_from([DEPLOY_ROLE, SESSION_PREFIX, OTHER_ROLE, SESSION_PREFIX + "/ci-1"]),
)
def test_prefiltered_and_full_reads_agree(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, files: list[Any], principal: str
) -> None:
    root = tmp_path_factory.mktemp("trail")
    for n, records in enumerate(files):
        write(root, n, records)
    fast, full = both_ways(root, principal, monkeypatch)
    assert fast.rows == full.rows
    assert fast.stats == full.stats


def test_records_naming_the_principal_are_not_counted_as_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given_log(tmp_path, log_key(), [record(), *[other("GetRole", roleArn=DEPLOY_ROLE)] * 3, other(), other()])
    fast, full = both_ways(tmp_path, DEPLOY_ROLE, monkeypatch)
    assert fast.rows == full.rows and fast.stats == full.stats
    assert (fast.stats.records, fast.stats.matched_records) == (6, 1)
    assert [r.action for r in fast.rows] == ["lambda:CreateFunction"]


def test_only_records_that_may_match_are_staged() -> None:
    records = [other(), record(), other(), escaped(other()), other("GetRole", roleArn=DEPLOY_ROLE)]
    parts = [json.dumps(r, separators=(",", ":")) for r in records]
    parts[3] = parts[3].replace('"_escape_slashes":true', '"x":"a\\/b"')
    data = ('{"Records":[' + ",".join(parts) + "]}").encode()
    out = io.BytesIO()
    written, left_out = to_records(io.BytesIO(data), out, bytearray(256), DEPLOY_ROLE.encode())
    assert left_out == 3 and written == len(out.getvalue())
    # one record a line; the AssumeRole-like call names the role only as roleArn's value: not an arn field
    assert out.getvalue() == "\n".join([parts[1], parts[3]]).encode()


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ('"arn":"ROLE"', True),
        ('"arn":"ROLE/session"', True),
        ('"arn" : \t"ROLE"', True),
        ('"arn":"ROLE-2"', False),  # another role whose name starts with this one's
        ('"roleArn":"ROLE"', False),
        ('"barn":"ROLE"', False),
        ('"arn":"xROLE"', False),
        ('"policy":"{\\"arn\\":\\"ROLE\\"}"', False),  # inside a string: its quotes are escaped
        ('"\\u0061rn":"ROLE"', True),  # a \u escape may spell the key: kept
    ],
)
def test_a_record_is_kept_when_an_arn_field_starts_with_the_principal(text: str, kept: bool) -> None:
    rec = json.dumps(other(), separators=(",", ":"))[:-1] + "," + text.replace("ROLE", DEPLOY_ROLE) + "}"
    data = ('{"Records":[' + rec + "]}").encode()
    json.loads(data)
    out = io.BytesIO()
    assert to_records(io.BytesIO(data), out, bytearray(256), DEPLOY_ROLE.encode()) == (
        (len(rec), 0) if kept else (0, 1)
    )


def test_a_file_with_a_record_missing_event_time_is_staged_whole() -> None:
    records = [other(), {"eventVersion": "1.09", "eventName": "NoTime"}, record()]
    data = json.dumps({"Records": records}, separators=(",", ":")).encode()
    out = io.BytesIO()
    assert to_records(io.BytesIO(data), out, bytearray(256), DEPLOY_ROLE.encode()) == (len(data) - 14, 0)
    assert out.getvalue() == b"\n".join(json.dumps(r, separators=(",", ":")).encode() for r in records)


def test_strict_parses_every_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    needles: list[str | None] = []
    monkeypatch.setattr(engine, "needle_for", lambda principal: needles.append(principal))
    given_log(tmp_path, log_key(), [record(), other()])
    aggregate(LocalSource(tmp_path), principal=DEPLOY_ROLE, strict=True)
    assert needles == []
    aggregate(LocalSource(tmp_path), principal=DEPLOY_ROLE)
    assert needles == [DEPLOY_ROLE]


@pytest.mark.parametrize(
    ("principal", "needle"),
    [
        (DEPLOY_ROLE, DEPLOY_ROLE.encode()),
        (None, None),
        ('arn:aws:iam::1:role/a"b', None),
        ("arn:aws:iam::1:role/a\\b", None),
        ("arn:aws:iam::1:role/é", None),
        ("arn:aws:iam::1:role/a,", None),
        (":x", None),
    ],
)
def test_needle_only_for_principals_json_spells_as_they_are(principal: str | None, needle: bytes | None) -> None:
    assert needle_for(principal) == needle


def test_with_a_needle_files_are_staged_or_read_whole_as_without(tmp_path: Path) -> None:
    """The one-call gunzip of the prefilter leaves to the streaming reader what it cannot take (several gzip
    members) and to a whole read what is not compact or not a gzip (corrupt, truncated)."""
    logs = tmp_path / "logs"
    mine = [record(), record(when="2026-10-02T11:00:00Z")]
    good = given_log(logs, log_key(n=0), [other(), *mine])
    plain = given_log(logs, log_key(n=1).removesuffix(".gz"), [record()])
    spaced = given_log(logs, log_key(n=2), [record()], compact=False)
    corrupt = logs / log_key(n=3)
    corrupt.write_bytes(b"\x1f\x8b\x08\x00garbage")
    two_members = logs / log_key(n=4)
    doc = document([record(), other()])
    two_members.write_bytes(gzip.compress(doc[:40]) + gzip.compress(doc[40:]))
    truncated = logs / log_key(n=5)
    truncated.write_bytes(payload([record()])[:-12])
    out = tmp_path / "stage"
    out.mkdir()
    paths = [str(p) for p in (good, plain, spaced, corrupt, two_members, truncated)]
    batch = stage(paths, out, 3, DEPLOY_ROLE.encode())
    assert batch.sources == [str(good), str(plain), str(two_members)]
    assert batch.whole == [str(spaced), str(corrupt), str(truncated)]
    assert batch.lines and batch.left_out == 2
    # the kept records of the three staged files, one a line, in one copy named after the first file's place
    kept = [*mine, record(), record()]
    assert [Path(p).name for p in batch.copies] == ["000003-00000.json"]
    assert Path(batch.copies[0]).read_bytes() == b"\n".join(json.dumps(r, separators=(",", ":")).encode() for r in kept)
    batch.remove()
    assert list(out.iterdir()) == []


def test_a_record_holding_a_line_break_is_read_whole_and_right(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy has one record a line, so a record with a raw line break (whitespace JSON allows, which compact
    CloudTrail never writes) cannot be copied: the file is read whole, with the same result."""
    parts = [json.dumps(r, separators=(",", ":")) for r in (record(), other(), record(when="2026-10-02T12:00:00Z"))]
    parts[2] = parts[2].replace('"eventTime":', '\n"eventTime":')
    data = ('{"Records":[' + ",".join(parts) + "]}").encode()
    with pytest.raises(NotCompact):
        to_records(io.BytesIO(data), io.BytesIO(), bytearray(256), DEPLOY_ROLE.encode())
    (tmp_path / log_key()).parent.mkdir(parents=True)
    (tmp_path / log_key()).write_bytes(gzip.compress(data))
    fast, full = both_ways(tmp_path, DEPLOY_ROLE, monkeypatch)
    assert fast.rows == full.rows and fast.stats == full.stats
    assert (fast.stats.records, fast.stats.matched_records, fast.stats.files_skipped) == (3, 2, ())


def test_staging_in_worker_processes_gives_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above PROCESS_MIN_FILES files, batches are staged in worker processes: same rows and counts."""
    mix = [
        record(),
        other(),
        other("AssumeRole", roleArn=DEPLOY_ROLE),
        record("iam.amazonaws.com", "CreateRole", error="AccessDenied", params={"roleName": "r"}),
        {"eventVersion": "1.09", "eventName": "NoTime", "eventSource": "s3.amazonaws.com"},
    ]
    for n in range(8):
        write(tmp_path, n, mix[n % 5 :] + mix[: n % 5] + [other()] * n)
    started: list[int] = []
    real_stager = engine._stager

    def spy(processes: int) -> Any:
        started.append(processes)
        return real_stager(processes)

    monkeypatch.setattr(engine, "_stager", spy)
    monkeypatch.setattr(sources, "PROCESS_MIN_FILES", 4)
    in_processes = aggregate(LocalSource(tmp_path), principal=DEPLOY_ROLE, workers=2, batch_files=2)
    monkeypatch.setattr(engine, "QUERY_FILES", 3)  # staged batches joined into reads of 3+ files, not all in one
    in_small_reads = aggregate(LocalSource(tmp_path), principal=DEPLOY_ROLE, workers=2, batch_files=1)
    monkeypatch.setattr(sources, "PROCESS_MIN_FILES", 100)
    in_threads = aggregate(LocalSource(tmp_path), principal=DEPLOY_ROLE, workers=2, batch_files=2)
    _, full = both_ways(tmp_path, DEPLOY_ROLE, monkeypatch)
    assert started[:3] == [2, 2, 0]
    assert in_processes.rows == in_small_reads.rows == in_threads.rows == full.rows
    assert in_processes.stats == in_small_reads.stats == in_threads.stats == full.stats
    assert (full.stats.records, full.stats.matched_records, full.stats.bad_records) == (68, 16, 8)


def test_a_kept_record_holding_a_carriage_return_is_not_compact() -> None:
    """The kept records are joined one a line and checked once: a raw CR in one (compact JSON escapes it) makes
    the file NotCompact, as a raw LF does; a CR in a record left out does not matter (it is not copied)."""
    kept = json.dumps(record(), separators=(",", ":")).replace('"eventTime":', '\r"eventTime":')
    left = json.dumps(other(), separators=(",", ":")).replace('"eventTime":', '\r"eventTime":')
    plain = json.dumps(record(when="2026-10-02T12:00:00Z"), separators=(",", ":"))
    with pytest.raises(NotCompact):
        to_records(
            io.BytesIO(('{"Records":[' + plain + "," + kept + "]}").encode()),
            io.BytesIO(),
            bytearray(256),
            DEPLOY_ROLE.encode(),
        )
    out = io.BytesIO()
    data = ('{"Records":[' + plain + "," + left + "," + plain + "]}").encode()
    assert to_records(io.BytesIO(data), out, bytearray(256), DEPLOY_ROLE.encode()) == (2 * len(plain) + 1, 1)
    assert out.getvalue() == plain.encode() + b"\n" + plain.encode()


def _read(root: Path) -> Any:
    return aggregate(LocalSource(root), principal=DEPLOY_ROLE, event_to_action=lambda s, n, p: f"x:{n}")


def test_kept_records_of_consecutive_files_share_copies_of_about_staged_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy takes the kept lines of consecutive files until it holds STAGED_BYTES; the next file starts the
    next copy, named after that file's place in the batch. What is read is the same whatever the size."""
    logs = tmp_path / "logs"
    files = [str(given_log(logs, log_key(n=i), [record(when=f"2026-10-02T10:0{i}:00Z"), other()])) for i in range(5)]
    one = len(json.dumps(record(), separators=(",", ":")))
    monkeypatch.setattr(staging, "STAGED_BYTES", 2 * one)  # two files' kept records a copy
    out = tmp_path / "stage"
    out.mkdir()
    batch = stage(files, out, 1, DEPLOY_ROLE.encode())
    assert [Path(p).name for p in batch.copies] == ["000001-00000.json", "000001-00002.json", "000001-00004.json"]
    assert [Path(p).read_bytes().count(b"\n") for p in batch.copies] == [1, 1, 0]
    assert batch.sources == files and batch.left_out == 5
    assert batch.size == sum(Path(p).stat().st_size for p in batch.copies)
    batch.remove()
    small = _read(logs)
    monkeypatch.setattr(staging, "STAGED_BYTES", 1 << 20)
    assert small == _read(logs)
    assert small.stats.records == 10 and small.stats.files_read == 5 and small.stats.matched_records == 5


def test_a_copy_that_cannot_be_written_leaves_its_files_to_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while writing a copy: nothing of it is left, its files are read whole, and the counts hold."""
    logs = tmp_path / "logs"
    files = [str(given_log(logs, log_key(n=i), [record(), other(), other()])) for i in range(3)]
    expected = _read(logs)

    def full(target: Path) -> Any:
        target.write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(staging, "_private", full)
    out = tmp_path / "stage"
    out.mkdir()
    batch = stage(files, out, 0, DEPLOY_ROLE.encode())
    assert batch.whole == files and not batch.copies and not batch.sources and batch.left_out == 0
    assert list(out.iterdir()) == []
    assert _read(logs) == expected and expected.stats.records == 9 and expected.stats.files_read == 3


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-8] + bytes(4) + data[-4:],  # the trailer's CRC is wrong
        lambda data: data[:-4] + (int.from_bytes(data[-4:], "little") + 1).to_bytes(4, "little"),  # ISIZE is wrong
    ],
)
def test_a_gzip_whose_trailer_does_not_match_is_not_staged(tmp_path: Path, damage: Any) -> None:
    """The one-call gunzip checks the member's CRC and size as the streaming reader does; such a file is left to the
    whole read (DuckDB's), as before."""
    path = given_log(tmp_path / "logs", log_key(), [record()])
    path.write_bytes(damage(path.read_bytes()))
    assert staging.lines_of(str(path), DEPLOY_ROLE.encode(), bytearray(256)) is None


def test_zero_padding_after_the_gzip_member_goes_to_the_streaming_reader(tmp_path: Path) -> None:
    """Bytes after the member are not a second member: the one-call gunzip leaves the file to the streaming reader,
    which skips zero padding as ``gzip`` does, so the records are read."""
    path = given_log(tmp_path / "logs", log_key(), [record(), other()])
    path.write_bytes(path.read_bytes() + bytes(16))
    lines = staging.lines_of(str(path), DEPLOY_ROLE.encode(), bytearray(256))
    assert lines == (json.dumps(record(), separators=(",", ":")).encode(), 1)

"""Staging: the records of compact log files are copied out exactly, or the file is left to be read whole."""

from __future__ import annotations

import gzip
import io
import json
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iamfit.evidence.trail.staging as staging
from iamfit.evidence.trail import LocalSource, aggregate
from iamfit.evidence.trail.engine import Groups, reduce_files
from iamfit.evidence.trail.query import TrailQuery
from iamfit.evidence.trail.staging import NotCompact, stage, staging_dir, to_body

from .records import DEPLOY_ROLE, document, given_log, log_key, payload, record


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def body_of(data: bytes, chunk: int = 1 << 20) -> bytes:
    out = io.BytesIO()
    size = to_body(io.BytesIO(data), out, bytearray(chunk))
    assert size == len(out.getvalue())
    return out.getvalue()


# Values that try to fool a byte-level splitter: braces, the separator itself and escapes inside strings.
TRICKY = st.sampled_from(['},{"eventVersion":', "}", "{", "]}", '"', "\\", "\n", "é", "\u2028", ",", ""])
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8), TRICKY)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.just("eventVersion"), st.text(max_size=6)), inner, max_size=4),
    ),
    max_leaves=12,
)
RECORD = st.builds(
    lambda version, rest: {"eventVersion": version, **{k: v for k, v in rest.items() if k != "eventVersion"}},
    st.one_of(st.text(max_size=5), TRICKY),
    st.dictionaries(st.text(max_size=10), JSON_VALUE, max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(RECORD, min_size=1, max_size=8),
    chunk=st.integers(min_value=256, max_value=600),
    pad=st.sampled_from(["", "\n", "  \r\n"]),
)
def test_the_body_is_copied_exactly(records: list[dict[str, Any]], chunk: int, pad: str) -> None:
    """Wherever the chunks fall, the copy is exactly what is between ``[`` and ``]``."""
    data = compact({"Records": records}) + pad.encode()
    assert body_of(data, chunk) == b",".join(compact(r) for r in records)


@settings(max_examples=40, deadline=None)
@given(
    params=st.lists(st.dictionaries(st.text(max_size=12), JSON_VALUE, max_size=4), min_size=1, max_size=4),
    messages=st.lists(st.one_of(st.none(), st.text(max_size=20), TRICKY), min_size=1, max_size=4),
)
def test_staged_reads_equal_whole_reads(params: list[dict[str, Any]], messages: list[str | None]) -> None:
    """Whatever the records hold (objects keyed eventVersion, the separator in strings), the staged read and
    the whole-file read agree on every row and count."""
    records = [record(params=p, when=f"2026-10-02T10:0{i}:00Z") for i, p in enumerate(params)]
    for rec, message in zip(records, messages, strict=False):
        if message is not None:
            rec["errorCode"], rec["errorMessage"] = "AccessDenied", message
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        given_log(root, log_key(n=0), records)
        given_log(root, log_key(n=1), list(reversed(records)))
        fast = aggregate(LocalSource(root), principal=DEPLOY_ROLE, event_to_action=lambda s, n, p: f"x:{n}")
        original = staging.lines_of
        try:
            staging.lines_of = lambda path, needle, buffer: None  # type: ignore[assignment]
            slow = aggregate(LocalSource(root), principal=DEPLOY_ROLE, event_to_action=lambda s, n, p: f"x:{n}")
        finally:
            staging.lines_of = original
    assert fast.rows == slow.rows and fast.stats == slow.stats
    assert fast.stats.records == 2 * len(records) and not fast.stats.files_skipped


@pytest.mark.parametrize(
    "data",
    [
        b'{"Records": []}',  # spaced
        b'{\n  "Records": [{"eventVersion": "1.09"}]\n}',  # pretty-printed
        b'{"Records":[{"eventTime":"x","eventVersion":"1.09"}]}',  # another first key
        b'{"Records":[{"eventVersion":"1"}],"x":1}',  # another key after Records
        b'{"Records":[{"eventVersion":"1"}]',  # truncated
        b'{"Records":[]},',
        b"[]",
        b"",
    ],
)
def test_other_shapes_are_not_compact(data: bytes) -> None:
    with pytest.raises(NotCompact):
        body_of(data, 256)


def test_no_records_is_an_empty_body(tmp_path: Path) -> None:
    assert body_of(b'{"Records":[]}') == b""
    assert body_of(b'{"Records":[]}\n') == b""
    given_log(tmp_path, log_key(n=0), [])
    given_log(tmp_path, log_key(n=1), [record()])
    batch = stage(sorted(str(p) for p in tmp_path.rglob("*.gz")), tmp_path, 0)
    assert len(batch.empty) == 1 and len(batch.copies) == 1 and not batch.whole
    stats = aggregate(LocalSource(tmp_path / "AWSLogs")).stats
    assert (stats.files_read, stats.records, stats.files_skipped) == (2, 1, ())


def test_stage_writes_private_copies_and_leaves_the_rest_to_read_whole(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    good = given_log(logs, log_key(n=0), [record(), record(when="2026-10-02T11:00:00Z")])
    plain = given_log(logs, log_key(n=1).removesuffix(".gz"), [record()])
    spaced = given_log(logs, log_key(n=2), [record()], compact=False)
    corrupt = logs / log_key(n=3)
    corrupt.write_bytes(b"\x1f\x8b\x08\x00garbage")
    two_members = logs / log_key(n=4)  # gzip files may hold several members; all are read
    whole = payload([record()])
    doc = document([record()])
    two_members.write_bytes(gzip.compress(doc[:40]) + gzip.compress(doc[40:]))
    assert whole != two_members.read_bytes()

    out = tmp_path / "stage"
    out.mkdir()
    batch = stage([str(good), str(plain), str(spaced), str(corrupt), str(two_members)], out, 7)
    assert batch.sources == [str(good), str(plain), str(two_members)]
    assert batch.whole == [str(spaced), str(corrupt)]
    assert [Path(p).name for p in batch.copies] == ["000007-00000.json", "000007-00001.json", "000007-00004.json"]
    assert all(stat.S_IMODE(Path(p).stat().st_mode) == 0o600 for p in batch.copies)
    assert Path(batch.copies[0]).read_bytes() == compact(record()) + b"," + compact(record(when="2026-10-02T11:00:00Z"))
    assert Path(batch.copies[2]).read_bytes() == compact(record())
    batch.remove()
    assert list(out.iterdir()) == []


def test_a_record_holding_an_eventversion_object_is_read_whole_and_right(tmp_path: Path) -> None:
    """The shapes that fool the split: DuckDB rejects a piece and the file is read whole, correctly."""
    nested = record(params={"items": [{"a": 1}, {"eventVersion": "x", "b": 2}], "functionName": "f"})
    given_log(tmp_path, log_key(), [record(), nested, record(when="2026-10-02T12:00:00Z")])
    assert staging.stage_file(str(tmp_path / log_key()), tmp_path / "copy.json", bytearray(1 << 20))
    # records with a space between them are one piece, which DuckDB rejects too
    spaced = document([record(), record()]).replace(b'},{"eventVersion"', b'}, {"eventVersion"')
    (tmp_path / log_key(n=1)).write_bytes(gzip.compress(spaced))
    assert staging.stage_file(str(tmp_path / log_key(n=1)), tmp_path / "copy2.json", bytearray(1 << 20))
    result = aggregate(LocalSource(tmp_path / "AWSLogs"), principal=DEPLOY_ROLE)
    assert (result.stats.records, result.stats.files_read, result.stats.files_skipped) == (5, 2, ())
    assert sum(r.count for r in result.rows) == 5


def test_staged_and_whole_reads_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path is only faster: the same files read whole give the same rows and counts."""
    records = [
        record(),
        record("iam.amazonaws.com", "CreateRole", error="AccessDenied", params={"roleName": "r"}),
        record("s3.amazonaws.com", "PutObject", who="user", params={"bucketName": "b"}),
        record("lambda.amazonaws.com", "AddPermission20150331v2", invoked_by="cloudformation.amazonaws.com"),
        {"eventVersion": "1.09", "eventName": "NoTime", "eventSource": "s3.amazonaws.com"},
    ]
    for n in range(6):
        given_log(tmp_path, log_key(n=n), records[n % 5 :] + records[: n % 5])
    fast = aggregate(LocalSource(tmp_path), principal=DEPLOY_ROLE)
    monkeypatch.setattr(staging, "lines_of", lambda path, needle, buffer: None)
    slow = aggregate(LocalSource(tmp_path), principal=DEPLOY_ROLE)
    assert fast.rows == slow.rows and fast.stats == slow.stats
    assert fast.stats.bad_records == 6 and fast.stats.records == 30


def test_staging_directory_is_removed_on_every_exit(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    for n in range(4):
        given_log(logs, log_key(n=n), [record(), {"eventVersion": "1.09", "eventName": "NoTime"}])
    work = tmp_path / "work"
    work.mkdir()
    files = sorted(str(p) for p in logs.rglob("*.gz"))
    groups = Groups()
    reduce_files([files[:2], files[2:]], TrailQuery(principal=DEPLOY_ROLE), groups, workers=2, work_dir=work)
    assert groups.records == 8 and groups.bad == 4
    assert list(work.iterdir()) == []
    with pytest.raises(Exception, match="lack eventTime"):
        reduce_files([[f] for f in files], TrailQuery(), Groups(), strict=True, workers=2, work_dir=work)
    assert list(work.iterdir()) == []


def test_staging_dir_needs_room() -> None:
    assert staging_dir(min_free_bytes=1 << 62) is None  # no /dev/shm has 4 EiB free: the system default
    chosen = staging_dir(min_free_bytes=0)
    assert chosen in (None, "/dev/shm")


def test_an_error_before_duckdb_loads_does_not_hang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers stage the first batches while DuckDB loads; whatever stops the read then (DuckDB failing to load,
    the list of batches failing), they must not wait for DuckDB forever, and the staging directory goes."""
    import threading

    import iamfit.evidence.trail.engine as engine

    for n in range(4):
        given_log(tmp_path / "logs", log_key(n=n), [record()])
    files = sorted(str(p) for p in (tmp_path / "logs").rglob("*.gz"))
    work = tmp_path / "work"
    work.mkdir()

    def batches_then_error() -> Iterator[list[str]]:
        yield [files[0]]
        raise OSError("the listing failed")

    def no_duckdb(threads: int | None, memory_limit: str | None) -> None:
        raise RuntimeError("DuckDB failed to load")

    errors: list[BaseException] = []

    def run(batches: Iterable[list[str]]) -> None:
        try:
            reduce_files(batches, TrailQuery(), Groups(), workers=2, work_dir=work)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            errors.append(error)

    for batches in (batches_then_error(), [[f] for f in files]):
        if not isinstance(batches, Iterator):
            monkeypatch.setattr(engine, "_connect", no_duckdb)
        thread = threading.Thread(target=run, args=(batches,), daemon=True)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive(), "reduce_files hung"
        assert list(work.iterdir()) == []
    assert [str(e) for e in errors] == ["the listing failed", "DuckDB failed to load"]

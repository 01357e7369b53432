"""DuckDB over local log files in batches, merged into a few distinct groups, then mapped to IAM actions.

Peak memory is bounded by what the workers hold at once (a 1 MiB staging buffer each, one staged batch each in
the temporary directory, a batch being at most 128 files and 8 MiB on disk, and for a file read whole DuckDB's
parse of that one file) plus the distinct groups, which stay few however many records are read.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamfit.errors import BadInputError
from iamfit.evidence.trail.model import ReadStats, SkippedFile, TrailRow
from iamfit.evidence.trail.query import GROUP_COLUMNS, RESOURCE_PARAMETERS, TrailQuery
from iamfit.evidence.trail.staging import StagedBatch, needle_for, stage, staging_dir
from iamfit.evidence.trail.workers import StagingPool

GroupKey = tuple[str | None, ...]
EventMapper = Callable[[str, str, Mapping[str, Any] | None], str | None]


@dataclass
class Groups:
    """Distinct groups with count and first/last seen, merged across batches; and the read counts."""

    seen: dict[GroupKey, list[Any]] = field(default_factory=dict)
    files_read: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    records: int = 0
    matched: int = 0
    bad: int = 0

    def add(self, key: GroupKey, count: int, first: str | None, last: str | None) -> None:
        entry = self.seen.get(key)
        if entry is None:
            self.seen[key] = [count, first, last]
            return
        entry[0] += count
        if first is not None and (entry[1] is None or first < entry[1]):
            entry[1] = first
        if last is not None and (entry[2] is None or last > entry[2]):
            entry[2] = last

    def add_rows(self, rows: Iterable[tuple[Any, ...]]) -> list[str]:
        """Fold reduced SQL rows in; return the files that turned out to hold no Records array."""
        no_records = []
        for kind, filename, *keys, count, first, last in rows:
            count = int(count)
            self.records += count if kind != "norecords" else 0
            if kind == "ok":
                self.matched += count
                self.add(tuple(keys), count, first, last)
            elif kind == "bad":
                self.bad += count
            elif kind == "norecords":
                no_records.append(str(filename))
        return no_records


def _other_row(count: int) -> tuple[Any, ...]:
    """A reduced row standing for ``count`` records that did not match (what the SQL's ``other`` group holds)."""
    return ("other", *([None] * (len(GROUP_COLUMNS) - 1)), count, None, None)


def _connect(threads: int | None, memory_limit: str | None) -> Any:
    import duckdb  # imported here: loading DuckDB costs time the CLI's --help should not pay

    config: dict[str, Any] = {"preserve_insertion_order": False}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    return duckdb.connect(":memory:", config=config)


@dataclass
class BatchResult:
    """What reading one batch gave: reduced rows, files read, files skipped (with DuckDB's reason)."""

    rows: list[Any] = field(default_factory=list)
    files_read: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)


@dataclass
class BatchReader:
    """Reads one batch of local files: stages them (see :mod:`staging`), reads the staged copies, and reads
    whole any file that could not be staged or whose copy DuckDB rejects.

    A whole-file read that fails (corrupt gzip, truncated JSON) is retried file by file, so one bad file costs
    only itself: it is skipped with DuckDB's one-line reason, or raised as BadInputError if ``strict``.
    Safe to call from several threads at once: each call uses its own cursor and its own staged files. The
    connection is a future so that the first batches are staged while DuckDB is still being loaded.

    With a principal and not ``strict``, staging leaves out the records whose bytes cannot match it
    (:func:`staging.to_records`); they count as read and not matched. ``strict`` parses every record.
    With a ``stager`` (:class:`workers.StagingPool`), that staging runs in its worker processes, so the gunzip
    and the scans of several batches run at once (in threads they would not: the GIL is held between C calls).
    """

    connection: Future[Any]
    query: TrailQuery
    directory: Path
    strict: bool = False
    stager: StagingPool | None = None
    needle: bytes | None = field(init=False, default=None)  # the principal's, unless strict (__post_init__)
    _serial: Iterator[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.needle = None if self.strict else needle_for(self.query.principal)

    def __call__(self, batch: list[str]) -> BatchResult:
        return self.read_staged(self.stage(batch))

    def stage(self, batch: list[str]) -> StagedBatch:
        """Stage ``batch``: in a worker process when there is a stager and a needle, else here."""
        needle = self.needle
        serial = next(self._serial)
        if self.stager is not None and needle is not None:
            return self.stager.stage(batch, self.directory, serial, needle)
        return stage(batch, self.directory, serial, needle)

    def read_staged(self, staged: StagedBatch) -> BatchResult:
        """Read what staging gave: the copies, the files to read whole; the copies are removed after."""
        try:
            cursor = self.connection.result().cursor()
        except BaseException:
            staged.remove()
            raise
        try:
            result = self._whole(cursor, staged.whole)
            result.files_read += len(staged.empty)
            if staged.left_out_empty:
                result.rows.append(_other_row(staged.left_out_empty))
            if staged.copies:
                copies = self._copies(cursor, staged)
                result.rows.extend(copies.rows)
                result.files_read += copies.files_read
                result.skipped.extend(copies.skipped)
            return result
        finally:
            staged.remove()
            cursor.close()

    def _copies(self, cursor: Any, staged: StagedBatch) -> BatchResult:
        import duckdb

        try:
            sql = self.query.duckdb_lines_sql if staged.lines else self.query.duckdb_records_sql
            rows: list[Any] = cursor.execute(sql(staged.copies)).fetchall()
        except duckdb.Error:  # a piece is not one JSON object, or a field has another type: read them whole
            return self._whole(cursor, staged.sources)
        if staged.left_out:
            rows.append(_other_row(staged.left_out))
        return BatchResult(rows, len(staged.sources))

    def _whole(self, cursor: Any, paths: list[str]) -> BatchResult:
        import duckdb

        if not paths:
            return BatchResult()
        try:
            return BatchResult(cursor.execute(self.query.duckdb_sql(paths)).fetchall(), len(paths))
        except duckdb.Error:
            pass
        result = BatchResult()
        for path in paths:
            try:
                result.rows.extend(cursor.execute(self.query.duckdb_sql([path])).fetchall())
            except duckdb.Error as error:
                reason = _one_line(error)
                if self.strict:
                    raise BadInputError(f"cannot read CloudTrail file {path}: {reason}") from None
                result.skipped.append(SkippedFile(path, reason))
                continue
            result.files_read += 1
        return result


def reduce_files(
    batches: Iterable[list[str]],
    query: TrailQuery,
    groups: Groups,
    *,
    strict: bool = False,
    on_batch: Callable[[int], None] | None = None,
    workers: int = 1,
    memory_limit: str | None = None,
    work_dir: Path | None = None,
    processes: int = 0,
) -> None:
    """Read each batch of local files (see :class:`BatchReader`) and fold the results into ``groups``, in order.

    With ``workers`` > 1, that many batches are read at once, each on one DuckDB thread (two single-threaded
    scans beat one two-threaded scan plus a staging thread, measured); the iterator is then advanced ahead of
    the batches being read, so use it only for files that stay on disk (a local directory, not downloads that
    are deleted when the next batch comes). At most ``workers`` + 1 batches are staged or queued at once.

    With ``processes`` > 0 and a prefilter (a principal, not ``strict``), batches are staged in that many worker
    processes (:class:`workers.StagingPool`) and read by twice ``workers`` threads, so that a process always has a
    batch to stage while DuckDB reads the few records kept; at most twice ``workers`` + 1 batches are then staged
    or queued.
    """
    batches = (batch for batch in batches if batch)
    connection: Future[Any] = Future()
    try:
        with tempfile.TemporaryDirectory(prefix="iamfit-stage-", dir=work_dir or staging_dir()) as tmp:
            read = BatchReader(connection, query, Path(tmp), strict)
            with _stager(processes if workers > 1 and read.needle else 0) as stager:
                read.stager = stager
                _read_batches(batches, read, groups, strict, on_batch, workers, memory_limit, connection)
    finally:
        if connection.done() and not connection.cancelled() and connection.exception() is None:
            connection.result().close()


def _read_batches(
    batches: Iterator[list[str]],
    read: BatchReader,
    groups: Groups,
    strict: bool,
    on_batch: Callable[[int], None] | None,
    workers: int,
    memory_limit: str | None,
    connection: Future[Any],
) -> None:
    """reduce_files's loop: the batches read in order on this thread, or several at once (see reduce_files)."""
    if read.stager is not None:
        _read_pooled(batches, read, groups, strict, on_batch, workers, memory_limit, connection)
        return
    if workers <= 1:
        _resolve(connection, lambda: _connect(None, memory_limit))
        for batch in batches:
            _fold(batch, read(batch), groups, strict, on_batch)
        return
    threads = workers
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="iamfit-trail")
    try:
        pending: collections.deque[tuple[list[str], Future[BatchResult]]] = collections.deque()
        for batch in itertools.islice(batches, threads):  # staging starts while DuckDB loads
            pending.append((batch, pool.submit(read, batch)))
        _resolve(connection, lambda: _connect(1, memory_limit))
        for batch in batches:
            pending.append((batch, pool.submit(read, batch)))
            if len(pending) > threads:
                done, future = pending.popleft()
                _fold(done, future.result(), groups, strict, on_batch)
        while pending:
            done, future = pending.popleft()
            _fold(done, future.result(), groups, strict, on_batch)
    finally:
        connection.cancel()  # if DuckDB never loaded (an error, ^C), workers waiting for it stop
        pool.shutdown(wait=True, cancel_futures=True)


# With staging in worker processes, the staged batches are read by DuckDB several at once, up to this many staged
# bytes or files: planning the query costs ~6 ms whatever it reads, as much as reading ~1,000 kept records. 32 MiB
# rather than 16: 0.08-0.11 us of the engine's CPU a record less in two A/B runs (benchmarks/ab_cloudtrail.py), for
# ~17 MiB more peak memory at 2M records (docs/performance.md, issue 15).
QUERY_BYTES = 32 * 1024 * 1024
QUERY_FILES = 1024


def _read_pooled(
    batches: Iterator[list[str]],
    read: BatchReader,
    groups: Groups,
    strict: bool,
    on_batch: Callable[[int], None] | None,
    workers: int,
    memory_limit: str | None,
    connection: Future[Any],
) -> None:
    """Stage batches in the worker processes (two per process queued ahead, so none waits), join consecutive
    staged batches into reads of up to QUERY_BYTES / QUERY_FILES, read those on ``workers`` threads, and fold
    them in file order. In flight at once: 2 x processes staged batches, plus ``workers`` reads."""
    assert read.stager is not None
    processes = read.stager.processes
    staging = ThreadPoolExecutor(max_workers=processes, thread_name_prefix="iamfit-stage")
    reading = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="iamfit-trail")
    staged_queue: collections.deque[tuple[list[str], Future[StagedBatch]]] = collections.deque()
    read_queue: collections.deque[tuple[list[str], Future[BatchResult]]] = collections.deque()
    joined: list[StagedBatch] = []
    joined_files: list[str] = []

    def flush() -> None:
        if joined:
            read_queue.append((list(joined_files), reading.submit(read.read_staged, StagedBatch.join(joined))))
            joined.clear()
            joined_files.clear()
        while len(read_queue) > workers:
            done, future = read_queue.popleft()
            _fold(done, future.result(), groups, strict, on_batch)

    try:
        for batch in itertools.islice(batches, 2 * processes):  # staging starts while DuckDB loads
            staged_queue.append((batch, staging.submit(read.stage, batch)))
        _resolve(connection, lambda: _connect(1, memory_limit))
        while staged_queue:
            batch, future = staged_queue.popleft()
            following = next(batches, None)
            if following is not None:
                staged_queue.append((following, staging.submit(read.stage, following)))
            joined.append(future.result())
            joined_files.extend(batch)
            if sum(b.size for b in joined) >= QUERY_BYTES or len(joined_files) >= QUERY_FILES:
                flush()
        flush()
        while read_queue:
            done, result = read_queue.popleft()
            _fold(done, result.result(), groups, strict, on_batch)
    finally:
        connection.cancel()  # if DuckDB never loaded (an error, ^C), reads waiting for it stop
        staging.shutdown(wait=True, cancel_futures=True)
        reading.shutdown(wait=True, cancel_futures=True)
        for staged in joined:  # staged, never read (the staging directory goes too, with anything else left)
            staged.remove()


def _stager(processes: int) -> AbstractContextManager[StagingPool | None]:
    """A pool of ``processes`` staging workers; none (None) for 0."""
    return StagingPool(processes) if processes > 0 else contextlib.nullcontext()


def _resolve(future: Future[Any], make: Callable[[], Any]) -> None:
    """Set ``future`` to ``make()``, or to the exception it raises (which is raised here too)."""
    try:
        future.set_result(make())
    except BaseException as error:
        future.set_exception(error)
        raise


def _fold(
    batch: list[str], result: BatchResult, groups: Groups, strict: bool, on_batch: Callable[[int], None] | None
) -> None:
    groups.files_read += result.files_read
    groups.skipped.extend(result.skipped)
    for path in groups.add_rows(result.rows):
        if strict:
            raise BadInputError(f"{path} is not a CloudTrail log file: it has no Records array")
        groups.files_read -= 1
        groups.skipped.append(SkippedFile(path, "no Records array"))
    if strict and groups.bad:
        raise BadInputError(f"{groups.bad} CloudTrail record(s) lack eventTime, eventSource, eventName or userIdentity")
    if on_batch is not None:
        on_batch(len(batch))


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."


def resource_of(
    event_source: str,
    resource_arn: str | None,
    resource_name: str | None,
    account: str | None,
    region: str | None,
) -> str | None:
    """The ARN a call acted on: ``resources[].ARN`` when present, else built from a request parameter."""
    if resource_arn:
        return resource_arn
    if not resource_name or "=" not in resource_name:
        return None
    name, value = resource_name.split("=", 1)
    if value.startswith("arn:"):
        return value
    acct = account or "*"
    reg = region or "*"
    service = event_source.split(".")[0]
    builders = {
        "functionName": f"arn:aws:lambda:{reg}:{acct}:function:{value}",
        "stackName": f"arn:aws:cloudformation:{reg}:{acct}:stack/{value}/*",
        "bucketName": f"arn:aws:s3:::{value}",
        "roleName": f"arn:aws:iam::{acct}:role/{value}",
        "logGroupName": f"arn:aws:logs:{reg}:{acct}:log-group:{value}",
        "tableName": f"arn:aws:dynamodb:{reg}:{acct}:table/{value}",
        "queueUrl": f"arn:aws:sqs:{reg}:{acct}:{value.rstrip('/').rsplit('/', 1)[-1]}",
        "restApiId": f"arn:aws:apigateway:{reg}::/restapis/{value}",
        "keyId": f"arn:aws:kms:{reg}:{acct}:key/{value}",
        "repositoryName": f"arn:aws:ecr:{reg}:{acct}:repository/{value}",
        "ruleName": f"arn:aws:events:{reg}:{acct}:rule/{value}",
        "userName": f"arn:aws:iam::{acct}:user/{value}",
    }
    if name == "name":
        return f"arn:aws:events:{reg}:{acct}:rule/{value}" if service == "events" else None
    if name == "keyId" and value.startswith("alias/"):
        return f"arn:aws:kms:{reg}:{acct}:{value}"
    if name not in RESOURCE_PARAMETERS or name not in builders or (service == "iam" and name == "stackName"):
        return None
    return builders[name]


def to_rows(groups: Groups, event_to_action: EventMapper) -> tuple[tuple[TrailRow, ...], tuple[str, ...]]:
    """Map each distinct group to its IAM action and merge groups that land on the same row."""
    actions: dict[tuple[str, str], str | None] = {}
    merged: dict[tuple[Any, ...], list[Any]] = {}
    unmapped: set[str] = set()
    for key, (count, first, last) in groups.seen.items():
        (principal, source, name, error_code, error_message, invoked_by, arn, rname, account, region) = key
        if source is None or name is None:
            continue
        if (source, name) not in actions:
            actions[(source, name)] = event_to_action(source, name, None)
        action = actions[(source, name)]
        if action is None:
            unmapped.add(f"{source}:{name}")
            continue
        resource = resource_of(source, arn, rname, account, region)
        row_key = (principal or "", action, resource, invoked_by, error_code, error_message)
        entry = merged.get(row_key)
        if entry is None:
            merged[row_key] = [count, first or "", last or "", {f"{source}:{name}"}]
        else:
            entry[0] += count
            entry[1] = min(entry[1], first or entry[1])
            entry[2] = max(entry[2], last or "")
            entry[3].add(f"{source}:{name}")
    built = [
        TrailRow(
            principal=k[0],
            action=k[1],
            resource=k[2],
            invoked_by=k[3],
            error_code=k[4],
            count=v[0],
            first_seen=v[1],
            last_seen=v[2],
            error_message=k[5],
            events=tuple(sorted(v[3])),
        )
        for k, v in merged.items()
    ]
    rows = tuple(sorted(built, key=TrailRow.sort_key))
    return rows, tuple(sorted(unmapped))


def stats_of(groups: Groups, unmapped: tuple[str, ...]) -> ReadStats:
    firsts = [v[1] for v in groups.seen.values() if v[1]]
    lasts = [v[2] for v in groups.seen.values() if v[2]]
    return ReadStats(
        first_event=str(min(firsts)) if firsts else "",
        last_event=str(max(lasts)) if lasts else "",
        files_read=groups.files_read,
        files_skipped=tuple(sorted(groups.skipped)),
        records=groups.records,
        matched_records=groups.matched,
        bad_records=groups.bad,
        unmapped_events=unmapped,
    )

"""Where CloudTrail records come from, and :func:`aggregate`, which reduces any of them the same way.

``LocalSource``   a file or a directory (``.json``, ``.json.gz``; the ``AWSLogs/...`` layout filtered by path)
``S3Source``      an S3 prefix, downloaded concurrently in batches to a temporary directory, then read locally
``LookupSource``  CloudTrail LookupEvents (2 requests/s, NextToken pages, throttling backoff)
``AthenaSource``  the standard CloudTrail table in Athena; the reduction runs there as Trino SQL
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iamfit.errors import AwsError, BadInputError
from iamfit.evidence.trail.engine import EventMapper, Groups, reduce_files, stats_of, to_rows
from iamfit.evidence.trail.layout import LogFilter
from iamfit.evidence.trail.model import Progress, SkippedFile, TrailAggregate
from iamfit.evidence.trail.query import GROUP_COLUMNS, Partitioning, TrailQuery
from iamfit.evidence.trail.ratelimit import TokenBucket

DEFAULT_BATCH_FILES = 64  # S3 downloads per batch
MAX_BATCH_FILES = 128  # local files per batch
MAX_BATCH_BYTES = 8 * 1024 * 1024  # on disk; staged, a gzipped batch is about ten times that
MAX_WORKERS = 8  # the default cap: each worker holds a staged batch, in memory when staging uses /dev/shm
# Local reads of at least this many files stage in worker processes (engine.reduce_files) when a prefilter
# applies; below it, starting the processes (~0.1 s each, importing this package) costs more than it saves.
PROCESS_MIN_FILES = 32
logger = logging.getLogger(__name__)
_THROTTLE_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})


def _error_code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _batched(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _batched_by_size(paths: list[str], size: int, max_bytes: int) -> Iterator[list[str]]:
    """Batches of at most ``size`` files and (unless one file alone is larger) ``max_bytes`` on disk."""
    batch: list[str] = []
    total = 0
    for path in paths:
        try:
            length = Path(path).stat().st_size
        except OSError:
            length = 0  # the reader reports why it cannot be read
        if batch and (len(batch) >= size or total + length > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(path)
        total += length
    if batch:
        yield batch


@dataclass(frozen=True)
class LocalSource:
    """A CloudTrail file or a directory tree of them."""

    path: Path
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    def files(self, log_filter: LogFilter) -> list[str]:
        """The files to open, sorted; decided from paths alone."""
        if self.path.is_file():
            return [str(self.path)]
        if not self.path.is_dir():
            raise BadInputError(f"no such CloudTrail file or directory: {self.path}")
        return sorted(str(p) for p in self.path.rglob("*") if log_filter.admits(p.as_posix()) and p.is_file())


@dataclass(frozen=True)
class S3Source:
    """Log files under ``s3://bucket/prefix``, read through an injected boto3 S3 client."""

    client: Any
    bucket: str
    prefix: str = ""
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    workers: int = 8
    work_dir: Path | None = None

    def keys(self, log_filter: LogFilter) -> list[str]:
        """The keys to download, sorted; filtered on the key alone."""
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped,unused-ignore]

        keys: list[str] = []
        logger.info("s3:ListObjectsV2 s3://%s/%s", self.bucket, self.prefix)
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                keys.extend(o["Key"] for o in page.get("Contents", ()) if log_filter.admits(o["Key"]))
        except (ClientError, BotoCoreError) as error:  # an error answer, or none (EndpointConnectionError, ...)
            code = _error_code(error) or type(error).__name__
            raise AwsError(f"cannot list s3://{self.bucket}/{self.prefix}: {code}") from None
        logger.info("s3://%s/%s: %d CloudTrail file(s) to read", self.bucket, self.prefix, len(keys))
        return sorted(keys)

    def download_batches(self, keys: list[str], size: int, groups: Groups) -> Iterator[list[str]]:
        """Download ``size`` keys at a time (concurrently), yield their local paths, delete them after."""
        with (
            tempfile.TemporaryDirectory(prefix="iamfit-trail-", dir=self.work_dir) as tmp,
            ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool,
        ):
            for n, batch in enumerate(_batched(keys, size)):
                local = [str(Path(tmp) / f"{n:06d}-{i:04d}{_suffix(k)}") for i, k in enumerate(batch)]
                results = list(pool.map(self._download, batch, local))
                ready = []
                for key, path, problem in zip(batch, local, results, strict=True):
                    if problem is None:
                        ready.append(path)
                    else:
                        groups.skipped.append(SkippedFile(f"s3://{self.bucket}/{key}", problem))
                yield ready
                for path in ready:
                    Path(path).unlink(missing_ok=True)

    def _download(self, key: str, path: str) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped,unused-ignore]

        logger.debug("s3:GetObject s3://%s/%s", self.bucket, key)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            with open(path, "wb") as out:
                shutil.copyfileobj(body, out, 1024 * 1024)
        except (ClientError, BotoCoreError, OSError) as error:  # recorded as a skipped file, the rest is read
            logger.info("s3://%s/%s not read: %s", self.bucket, key, _error_code(error) or type(error).__name__)
            return f"download failed: {_error_code(error) or type(error).__name__}"
        return None


def _suffix(key: str) -> str:
    return ".json.gz" if key.endswith(".gz") else ".json"


class LookupUnavailableError(AwsError):
    """LookupEvents cannot be used here at all (not implemented, denied, no endpoint), as opposed to one
    failed request. ``reason`` says which, for a person."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# Error codes meaning LookupEvents is not there to call (AWS's common errors, CloudTrail API reference
# "Common Errors" and LookupEvents "Errors": InvalidAction, UnsupportedOperationException,
# OperationNotPermittedException; UnknownOperationException is what JSON-protocol endpoints without the
# operation answer) or that the caller may not call it (AccessDenied, also from an SCP).
_NOT_IMPLEMENTED_CODES = frozenset(
    {"InvalidAction", "UnknownOperationException", "UnknownOperation", "NotImplemented",
     "UnsupportedOperationException", "OperationNotPermittedException"}
)
_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def lookup_unavailable(error: BaseException) -> str | None:
    """Why LookupEvents cannot be used, when ``error`` (a botocore exception, after botocore's retries)
    says it cannot be used at all; None for an error of one request (bad parameters, credentials)."""
    from botocore.exceptions import ConnectionError as BotoConnectionError  # type: ignore[import-untyped,unused-ignore]
    from botocore.parsers import ResponseParserError  # type: ignore[import-untyped,unused-ignore]

    if isinstance(error, ResponseParserError):
        return "the endpoint's answer is not in CloudTrail's format (it does not implement LookupEvents)"
    if isinstance(error, BotoConnectionError):  # EndpointConnectionError, ConnectTimeoutError, ...
        return f"no CloudTrail endpoint could be reached ({type(error).__name__}: {error})"
    code = _error_code(error)
    response = getattr(error, "response", None)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(response, Mapping) else None
    if code in _NOT_IMPLEMENTED_CODES or status == 501:
        return f"the endpoint does not implement it ({code or 'HTTP 501'})"
    if code in _DENIED_CODES:
        return f"the operator may not call it ({code}; an IAM policy or an SCP denies cloudtrail:LookupEvents)"
    if isinstance(status, int) and status >= 500:
        named = f" {code}" if code and code != str(status) else ""
        return f"the endpoint kept answering HTTP {status}{named} (server error) after retries"
    return None


@dataclass(frozen=True)
class LookupSource:
    """CloudTrail LookupEvents through an injected client: 2 requests/s, NextToken pages, backoff.

    Only management events of the client's region, last 90 days. Each page's events are written as a
    ``{"Records": [...]}`` file and reduced by the same DuckDB query as log files.
    """

    client: Any
    lookup_attributes: tuple[Mapping[str, str], ...] = ()
    rate: float = 2.0
    max_retries: int = 8
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    work_dir: Path | None = None
    bucket: TokenBucket | None = field(default=None, repr=False)

    def pages(self, since: datetime | None, until: datetime | None) -> Iterator[list[dict[str, Any]]]:
        """Each page's events, parsed from their ``CloudTrailEvent`` strings."""
        limiter = self.bucket or TokenBucket(self.rate, 1.0, clock=self.clock, sleep=self.sleep)
        request: dict[str, Any] = {"MaxResults": 50}
        if self.lookup_attributes:
            request["LookupAttributes"] = [dict(a) for a in self.lookup_attributes]
        if since:
            request["StartTime"] = since
        if until:
            request["EndTime"] = until
        token: str | None = None
        while True:
            call = dict(request, NextToken=token) if token else request
            response = self._call(limiter, call)
            events = []
            for event in response.get("Events", ()):
                text = event.get("CloudTrailEvent")
                try:
                    record = json.loads(text) if isinstance(text, str) else None
                except ValueError:
                    record = None
                events.append(record if isinstance(record, dict) else {"_unreadable": True})
            yield events
            token = response.get("NextToken")
            if not token:
                return

    def _call(self, limiter: TokenBucket, request: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped,unused-ignore]
        from botocore.parsers import ResponseParserError  # type: ignore[import-untyped,unused-ignore]

        delay = 1.0
        for attempt in range(self.max_retries + 1):
            limiter.acquire()
            logger.info("cloudtrail:LookupEvents%s", " (next page)" if "NextToken" in request else "")
            try:
                response: dict[str, Any] = self.client.lookup_events(**request)
                return response
            except (ClientError, BotoCoreError, ResponseParserError) as error:
                code = _error_code(error)
                if code in _THROTTLE_CODES and attempt < self.max_retries:
                    logger.warning("CloudTrail LookupEvents throttled (%s): retrying in %g s, try %d/%d",
                                   code, delay, attempt + 1, self.max_retries)
                    self.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                reason = lookup_unavailable(error)
                if reason is not None:
                    raise LookupUnavailableError(f"CloudTrail LookupEvents is unavailable: {reason}", reason) from None
                raise AwsError(f"CloudTrail LookupEvents failed: {code or type(error).__name__}") from None
        raise AwsError("CloudTrail LookupEvents kept throttling")  # pragma: no cover - loop always returns

    def file_batches(self, since: datetime | None, until: datetime | None) -> Iterator[list[str]]:
        with tempfile.TemporaryDirectory(prefix="iamfit-lookup-", dir=self.work_dir) as tmp:
            for n, events in enumerate(self.pages(since, until)):
                path = Path(tmp) / f"page-{n:06d}.json"
                path.write_text(json.dumps({"Records": events}), encoding="utf-8")
                yield [str(path)]
                path.unlink()


@dataclass(frozen=True)
class AthenaSource:
    """The standard CloudTrail table in Athena; the reduction runs in Athena and only groups come back."""

    client: Any
    table: str  # "database.table"
    output_location: str | None = None
    workgroup: str | None = None
    partitioning: Partitioning = Partitioning.NONE
    regions: tuple[str, ...] = ()
    poll_seconds: float = 1.0
    timeout_seconds: float = 1800.0
    sleep: Callable[[float], None] = time.sleep

    def run(self, query: TrailQuery, groups: Groups) -> None:
        sql = query.athena_sql(self.table, self.partitioning, self.regions)
        request: dict[str, Any] = {"QueryString": sql}
        database = self.table.split(".", 1)[0] if "." in self.table else None
        if database:
            request["QueryExecutionContext"] = {"Database": database}
        if self.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.output_location}
        if self.workgroup:
            request["WorkGroup"] = self.workgroup
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped,unused-ignore]

        logger.info("athena:StartQueryExecution on %s", self.table)
        logger.debug("the Athena query: %s", sql)
        try:
            execution_id = self.client.start_query_execution(**request)["QueryExecutionId"]
            self._wait(execution_id)
            token: str | None = None
            header_skipped = False
            while True:
                page_request: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": 1000}
                if token:
                    page_request["NextToken"] = token
                page = self.client.get_query_results(**page_request)
                rows = page["ResultSet"]["Rows"]
                if not header_skipped and rows:
                    rows = rows[1:]
                    header_skipped = True
                groups.add_rows(_athena_row(r) for r in rows)
                token = page.get("NextToken")
                if not token:
                    break
        except AwsError:
            raise
        except (ClientError, BotoCoreError, BadInputError, KeyError) as error:  # BadInputError: rows of another shape
            raise AwsError(f"Athena query on {self.table} failed: {_error_code(error) or error}") from None

    def _wait(self, execution_id: str) -> None:
        waited = 0.0
        while True:
            logger.info("athena:GetQueryExecution %s", execution_id)
            status = self.client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                return
            if state in ("FAILED", "CANCELLED"):
                reason = status.get("StateChangeReason", state)
                raise AwsError(f"Athena query {execution_id} {state.lower()}: {reason}")
            if waited >= self.timeout_seconds:
                raise AwsError(f"Athena query {execution_id} still {state} after {int(waited)} s")
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds


def _athena_row(row: Mapping[str, Any]) -> tuple[Any, ...]:
    values = [cell.get("VarCharValue") for cell in row.get("Data", ())]
    width = len(GROUP_COLUMNS) + 3
    if len(values) != width:
        raise BadInputError(f"Athena returned {len(values)} columns, expected {width}")
    return tuple(values)


Source = LocalSource | S3Source | LookupSource | AthenaSource


def aggregate(
    source: Source,
    *,
    principal: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    batch_files: int | None = None,
    event_to_action: EventMapper | None = None,
    workers: int | None = None,
    memory_limit: str | None = None,
) -> TrailAggregate:
    """Reduce what ``principal`` did between ``since`` and ``until`` (inclusive, UTC) to distinct rows.

    Bad files and records are counted in ``stats`` and the rest is still read; ``strict`` raises
    BadInputError instead. AWS failures (listing a bucket, LookupEvents, Athena) raise AwsError.

    Local files are read ``workers`` batches at a time (default: one per CPU, at most 8); ``batch_files`` fixes the
    batch size, which is otherwise chosen so each worker gets about four batches, none over 128 files or
    8 MiB on disk. Downloaded files (S3, LookupEvents pages) are read a batch at a time as they arrive.
    """
    since, until = _utc(since), _utc(until)
    if since and until and since > until:
        raise BadInputError(f"--since {since:%Y-%m-%dT%H:%M:%SZ} is after --until {until:%Y-%m-%dT%H:%M:%SZ}")
    warm_up: threading.Thread | None = None
    if event_to_action is None:
        from iamfit.knowledge.eventnames import event_to_action as mapper

        event_to_action = mapper
        # Load the mapping's tables (the IAM action database, ~0.1 s) while the files are read, not after.
        warm_up = threading.Thread(target=_warm_up, name="iamfit-warm-up", daemon=True)
        warm_up.start()
    query = TrailQuery(principal=principal, since=since, until=until)
    groups = Groups()
    if isinstance(source, AthenaSource):
        source.run(query, groups)
    else:
        parallel = isinstance(source, LocalSource)  # downloads are deleted when the next batch comes
        count = max(1, workers or min(os.cpu_count() or 1, MAX_WORKERS)) if parallel else 1
        batches, total = _local_batches(source, since, until, batch_files, count, groups)

        def on_batch(n: int) -> None:
            if progress is not None:
                progress(groups.files_read + len(groups.skipped), total, groups.records)

        if progress is not None:
            progress(0, total, 0)
        reduce_files(
            batches,
            query,
            groups,
            strict=strict,
            on_batch=on_batch,
            workers=count,
            memory_limit=memory_limit,
            processes=count if parallel and (total or 0) >= PROCESS_MIN_FILES else 0,
        )
    if strict and groups.skipped:
        first = groups.skipped[0]
        raise BadInputError(f"cannot read {first.path}: {first.reason}")
    if warm_up is not None:
        warm_up.join()
    rows, unmapped = to_rows(groups, event_to_action)
    stats = stats_of(groups, unmapped)
    logger.info(
        "CloudTrail read: %d file(s), %d skipped, %d record(s), %d of the principal's, %d distinct call(s)",
        stats.files_read, len(stats.files_skipped), stats.records, stats.matched_records, len(rows),
    )
    return TrailAggregate(rows=rows, stats=stats)


def _warm_up() -> None:
    from iamfit.knowledge.eventnames import warm_up

    try:
        warm_up()
    except Exception as exc:  # noqa: BLE001 - a thread: the same error is raised in the caller's, when rows are mapped
        logger.debug("warming up the event name mapping failed: %s", exc)


def _local_batches(
    source: LocalSource | S3Source | LookupSource,
    since: datetime | None,
    until: datetime | None,
    size: int | None,
    workers: int,
    groups: Groups,
) -> tuple[Iterator[list[str]], int | None]:
    if isinstance(source, LocalSource):
        files = source.files(LogFilter.for_window(since, until, source.accounts, source.regions))
        logger.info("%s: %d CloudTrail file(s) to read", source.path, len(files))
        if size is None:
            size = min(MAX_BATCH_FILES, max(1, -(-len(files) // (workers * 4))))
        return _batched_by_size(files, size, MAX_BATCH_BYTES), len(files)
    if isinstance(source, S3Source):
        keys = source.keys(LogFilter.for_window(since, until, source.accounts, source.regions))
        return source.download_batches(keys, size or DEFAULT_BATCH_FILES, groups), len(keys)
    return source.file_batches(since, until), None


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def parse_source(
    spec: str,
    client: Callable[[str], Any] | None = None,
    *,
    athena_output: str | None = None,
    athena_workgroup: str | None = None,
    partitioning: Partitioning = Partitioning.NONE,
    accounts: tuple[str, ...] = (),
    regions: tuple[str, ...] = (),
) -> Source:
    """The source a ``--cloudtrail`` value names: ``PATH``, ``s3://BUCKET/PREFIX``, ``lookup``, ``athena:DB.TABLE``.

    ``client(service_name)`` returns a boto3 client; it is only called for AWS sources.
    """

    def need_client(service: str) -> Any:
        if client is None:
            raise BadInputError(f"--cloudtrail {spec} needs AWS access, and no AWS session was given")
        return client(service)

    if spec.startswith("s3://"):
        bucket, _, prefix = spec[len("s3://") :].partition("/")
        if not bucket:
            raise BadInputError(f"--cloudtrail {spec}: no bucket name after s3://")
        return S3Source(need_client("s3"), bucket, prefix, accounts=accounts, regions=regions)
    if spec == "lookup":
        return LookupSource(need_client("cloudtrail"))
    if spec.startswith("athena:"):
        table = spec[len("athena:") :]
        if not re.fullmatch(r"[A-Za-z0-9_]+\.[A-Za-z0-9_]+", table):
            raise BadInputError(f"--cloudtrail {spec}: expected athena:DATABASE.TABLE")
        return AthenaSource(
            need_client("athena"),
            table,
            output_location=athena_output,
            workgroup=athena_workgroup,
            partitioning=partitioning,
            regions=regions,
        )
    return LocalSource(Path(spec), accounts=accounts, regions=regions)

"""Staging: the records of compact log files copied out, which DuckDB splits and parses about twice as fast.

CloudTrail delivers each file as compact JSON, ``{"Records":[{"eventVersion":...},...]}``, gzipped. Staging
gunzips a file (streaming, with ISA-L when the ``isal`` package is there, else Python's gzip) into one reused
buffer, checks that it has exactly that frame, and copies what is between ``[`` and ``]`` to a private
temporary directory (mode 0700, files 0600, each batch removed once it is read). DuckDB then splits the
copy into records at ``,{"eventVersion":`` and parses each one (``TrailQuery.duckdb_records_sql``), instead
of parsing the whole file and then its Records. A file of any other shape (pretty-printed, other keys,
truncated, corrupt gzip) is not staged: the engine reads it whole, the slower way, which is also what reports
why a bad file cannot be read.

With a principal (and not ``--strict``), staging also leaves out the records that certainly cannot be the
principal's (:func:`to_records`): most of an organization trail's bytes belong to other principals, and a
record whose bytes do not hold the principal's ARN cannot match it. Those records are counted, not parsed."""

from __future__ import annotations

import functools
import importlib
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

_HEAD = b'{"Records":['
_TAIL = b"]}"
_FIRST_KEY = b'{"eventVersion":'
_WHITESPACE = b" \t\r\n"
_GZIP_MAGIC = b"\x1f\x8b"


_CHUNK = 1 << 20  # one buffer per batch, reused: fresh buffers per file cost more in page faults than the gunzip


@functools.cache
def _gzip_reader() -> Callable[[BinaryIO], BinaryIO]:
    try:
        from isal import igzip  # ISA-L: about 1.7x zlib's speed here

        return lambda raw: cast(BinaryIO, igzip.IGzipFile(fileobj=raw, mode="rb"))  # type: ignore[no-untyped-call]
    except ImportError:  # pragma: no cover - isal is a dependency; a platform without its wheel still works
        import gzip

        return lambda raw: cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))


@functools.cache
def _read_errors() -> tuple[type[BaseException], ...]:
    """What reading a log can raise: not compact (NotCompact, a ValueError), unreadable or a full disk
    (OSError), a truncated or corrupt gzip (EOFError, zlib's or ISA-L's error)."""
    errors: list[type[BaseException]] = [ValueError, OSError, EOFError, zlib.error]
    try:
        from isal.isal_zlib import error as isal_error
    except ImportError:  # pragma: no cover - isal is a dependency
        return tuple(errors)
    return (*errors, cast(type[BaseException], isal_error))


def open_log(path: str) -> BinaryIO:
    """``path`` opened for reading, gunzipped (every member) when it starts with the gzip magic."""
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    try:
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        return _gzip_reader()(raw) if gzipped else raw
    except BaseException:
        raw.close()
        raise


def _fill(source: BinaryIO, view: memoryview) -> int:
    """Read into ``view`` until it is full or the source ends; the number of bytes read."""
    filled = 0
    while filled < len(view):
        n = source.readinto(view[filled:])  # type: ignore[attr-defined]
        if not n:
            break
        filled += n
    return filled


class NotCompact(ValueError):
    """The file is not a compact ``{"Records":[{"eventVersion":...},...]}`` document."""


def to_body(source: BinaryIO, out: BinaryIO, buffer: bytearray) -> int:
    """Copy the records of a compact CloudTrail document, ``{"Records":[BODY]}``, to ``out``; return BODY's size.

    BODY must be empty or start ``{"eventVersion":`` and end ``}``, as CloudTrail writes it; only whitespace
    may follow the document. Else NotCompact. It is copied as it is, a chunk of ``buffer`` at a time.
    """
    if len(buffer) < 256:
        raise ValueError("to_body needs a buffer of at least 256 bytes")
    view = memoryview(buffer)
    keep = 64  # the document's end, "}]}" and whitespace, may straddle two chunks: hold the last bytes back
    n = _fill(source, view)
    if n < len(_HEAD) + len(_TAIL) or view[: len(_HEAD)] != _HEAD:
        raise NotCompact
    empty = view[len(_HEAD) : len(_HEAD) + len(_TAIL)] == _TAIL
    if not empty and view[len(_HEAD) : min(n, len(_HEAD) + len(_FIRST_KEY))] != _FIRST_KEY:
        raise NotCompact
    start = len(_HEAD)
    written = 0
    while n == len(view):
        out.write(view[start : n - keep])
        written += n - keep - start
        view[:keep] = view[n - keep : n]
        start = 0
        n = keep + _fill(source, view[keep:])
    end = start + len(bytes(view[start:n]).rstrip(_WHITESPACE))
    if empty:
        if written or end - start != len(_TAIL):
            raise NotCompact
        return 0
    if end - start < len(_TAIL) + 1 or view[end - len(_TAIL) - 1 : end] != b"}" + _TAIL:
        raise NotCompact
    out.write(view[start : end - len(_TAIL)])
    return written + end - len(_TAIL) - start


_SEPARATOR = b',{"eventVersion":'
# The file must hold this as many times as it has records for the records left out to be counted, not parsed:
# one check of the four fields a record is "bad" without (kind 'bad' in the query). Each check is a pass over
# the file's bytes, which costs about what the gunzip does, so there is only this one (docs/cloudtrail.md says
# what --strict checks that this does not).
_TIME_KEY = b'"eventTime":"'
_ESCAPES = (b"\\u", b"\\/")  # the only escapes that can spell a character a needle may hold


def needle_for(principal: str | None) -> bytes | None:
    """The bytes every record matching ``principal`` holds literally, unless it spells them with an escape.

    The principal predicate (``TrailQuery.predicate``) compares ``userIdentity.arn`` and the session issuer's
    ARN with the principal, or ``userIdentity.arn`` with its prefix: a matching record's JSON holds the
    principal's string, written either as it is or with ``\\uXXXX`` / ``\\/`` escapes (JSON spells ``"``,
    ``\\`` and control characters only with escapes, so a principal holding one of those, or any character
    outside printable ASCII, gets no needle). None: no needle, every record is parsed.
    """
    if not principal or not all(" " <= c <= "~" and c not in '"\\' for c in principal):
        return None
    if principal.startswith(":") or principal.endswith((",", "{")):  # could overlap the record separator
        return None
    return principal.encode()


def _read_all(source: BinaryIO, buffer: bytearray) -> int:
    """Read all of ``source`` into ``buffer``, growing it when it is full; the number of bytes read."""
    n = 0
    while True:
        with memoryview(buffer) as view, view[n:] as tail:
            n += _fill(source, tail)
        if n < len(buffer):
            return n
        buffer.extend(bytes(len(buffer)))


def _body_bounds(buffer: bytes | bytearray, n: int) -> tuple[int, int]:
    """Where BODY starts and ends in a compact document ``{"Records":[BODY]}`` (the checks of :func:`to_body`)."""
    end = n
    while end and buffer[end - 1] in _WHITESPACE:
        end -= 1
    start = len(_HEAD)
    if end < start + len(_TAIL) or not buffer.startswith(_HEAD) or buffer[end - len(_TAIL) : end] != _TAIL:
        raise NotCompact
    end -= len(_TAIL)
    if end == start:
        return start, end
    if end - start < len(_FIRST_KEY) + 1 or not buffer.startswith(_FIRST_KEY, start) or buffer[end - 1] != 0x7D:
        raise NotCompact
    return start, end


@functools.cache
def _search() -> tuple[Callable[..., int], Callable[..., int], Callable[..., int]]:
    """``count``, ``find`` and ``rfind`` over bytes: StringZilla's SIMD ones when the package is there (about 4x
    Python's on a CloudTrail file, measured in docs/performance.md), else the ``bytes`` methods. Same arguments
    (haystack, needle, start, end) and results; ``count`` counts non-overlapping occurrences in both."""
    try:
        sz: Any = importlib.import_module("stringzilla")
    except ImportError:  # pragma: no cover - stringzilla is a dependency; without its wheel the bytes methods do
        return bytes.count, bytes.find, bytes.rfind
    return sz.count, sz.find, sz.rfind


def _spans(buffer: bytes | bytearray, start: int, end: int, needle: bytes) -> tuple[list[tuple[int, int]], int] | None:
    """The records of ``buffer[start:end]`` (a compact body) that may match ``needle``, and how many records there
    are; None when the file must be copied whole (a record may lack eventTime). See :func:`to_records`."""
    count, find, rfind = _search()
    pieces = count(buffer, _SEPARATOR, start, end) + 1
    if count(buffer, _TIME_KEY, start, end) != pieces:
        return None
    needles = [needle, *(_ESCAPES if find(buffer, b"\\", start, end) != -1 else ())]
    spans: dict[int, int] = {}
    size = len(needle)
    for wanted in needles:
        at = find(buffer, wanted, start, end)
        while at != -1:
            if wanted is needle and not (  # the usual case inline, '"arn":"<needle>"' or '/', else the full check
                at >= 7
                and buffer.startswith(_COMPACT_ARN_KEY, at - 7)
                and at + size < end
                and buffer[at + size] in b'"/'
                or _arn_value(buffer, at, size, end)
            ):
                at = find(buffer, wanted, at + 1, end)
                continue
            first = rfind(buffer, _SEPARATOR, start, at)
            first = start if first == -1 else first + 1
            last = find(buffer, _SEPARATOR, at, end)
            last = end if last == -1 else last
            spans[first] = last
            at = find(buffer, wanted, last, end) if last < end else -1
    return sorted(spans.items()), pieces


_ARN_KEY = b'"arn"'
_COMPACT_ARN_KEY = b'"arn":"'
_JSON_SPACE = b" \t\r\n"


def _arn_value(buffer: bytes | bytearray, at: int, size: int, end: int) -> bool:
    """Whether the needle at ``at`` (``size`` bytes) starts the string value of a key ``"arn"`` and that value is the
    needle or goes on with ``/``: ``"arn":"<needle>"`` or ``"arn":"<needle>/``, with any JSON whitespace around the
    colon. The principal predicate only compares ``arn`` fields (``userIdentity.arn``, the session issuer's ``arn``)
    with the principal, equal or with ``/`` after it, so a record whose only mentions of the needle are elsewhere
    (an ``sts:AssumeRole`` of the role: ``"roleArn":"<needle>"``) cannot match. Keys and values spelled with
    escapes are caught by the escape needles (:data:`_ESCAPES`), not here."""
    after = at + size
    if after >= end or buffer[after] not in b'"/' or at < 1 or buffer[at - 1] != 0x22:
        return False
    if at >= len(_COMPACT_ARN_KEY) and buffer.startswith(_COMPACT_ARN_KEY, at - len(_COMPACT_ARN_KEY)):
        return True  # as CloudTrail writes it: one C call
    i = at - 2
    while i >= 0 and buffer[i] in _JSON_SPACE:
        i -= 1
    if i < 0 or buffer[i] != 0x3A:
        return False
    i -= 1
    while i >= 0 and buffer[i] in _JSON_SPACE:
        i -= 1
    return i >= len(_ARN_KEY) - 1 and buffer[i - len(_ARN_KEY) + 1 : i + 1] == _ARN_KEY


def _lines(view: memoryview, spans: list[tuple[int, int]]) -> bytes:
    """The records ``view[first:last]`` joined one a line; NotCompact if one holds a line break (compact JSON never
    does: in a string it is escaped), since its line would then not be one record. One check for line breaks over
    the joined bytes, not two a record."""
    if not spans:
        return b""
    lines = b"\n".join([view[first:last] for first, last in spans])
    count, find, _ = _search()
    if count(lines, b"\n") != len(spans) - 1 or find(lines, b"\r") != -1:
        raise NotCompact
    return lines


def to_records(source: BinaryIO, out: BinaryIO, buffer: bytearray, needle: bytes) -> tuple[int, int]:
    """Like :func:`to_body`, but copy only the records that may match, one a line: (bytes written, records left out).

    The records are the pieces between ``,{"eventVersion":`` separators (as DuckDB splits them). A record is
    copied when its bytes hold ``needle`` (the principal's ARN, see :func:`needle_for`) or a ``\\u``/``\\/``
    escape; the others cannot match the principal and are only counted, as read and not matched. The file must
    hold ``"eventTime":"`` as many times as there are pieces, else every record is copied, and DuckDB sorts out
    the bad ones. Not checked for the records left out (``strict`` parses them): that they are well-formed JSON
    objects with a string ``eventSource`` and ``eventName`` and an object ``userIdentity``, and that nothing but a
    comma separates them. The copy is newline-delimited (``TrailQuery.duckdb_lines_sql`` reads it: about twice as
    fast as splitting a comma-separated copy in SQL, measured); a record holding a line break is NotCompact.
    ``buffer`` grows to the file's size (it is reused for the next file).
    """
    lines, left_out = _records_of(source, buffer, needle)
    out.write(lines)
    return len(lines), left_out


def _records_of(source: BinaryIO, buffer: bytearray, needle: bytes) -> tuple[bytes, int]:
    """:func:`to_records`'s lines and count of records left out, for ``source`` read into ``buffer``."""
    return _select(buffer, _read_all(source, buffer), needle)


def _select(document: bytes | bytearray, n: int, needle: bytes) -> tuple[bytes, int]:
    """The kept lines and the count of records left out of the compact document ``document[:n]``."""
    start, end = _body_bounds(document, n)
    if start == end:
        return b"", 0
    with memoryview(document) as view:
        found = _spans(document, start, end, needle)
        if found is None:
            return _lines(view, _all_spans(document, start, end)), 0
        spans, pieces = found
        return _lines(view, spans), pieces - len(spans)


def _all_spans(buffer: bytes | bytearray, start: int, end: int) -> list[tuple[int, int]]:
    """Every record of the body ``buffer[start:end]``: the pieces between separators, as DuckDB splits them."""
    _, find, _ = _search()
    spans = []
    first = start
    while True:
        last = find(buffer, _SEPARATOR, first, end)
        if last == -1:
            spans.append((first, end))
            return spans
        spans.append((first, last))
        first = last + 1


def _gunzip_member(data: memoryview) -> bytes | None:
    """``data`` (a gzip file) gunzipped in one call (ISA-L when there, else zlib) when it is one gzip member; None
    when it is several members or has bytes after the member (the streaming reader, :func:`open_log`, takes
    those). A truncated or corrupt gzip raises, as the streaming reader does."""
    # The trailer's ISIZE (the size mod 2**32) as the output's limit: one allocation, not a growing buffer, about
    # twice as fast (measured). A larger output (several members, over 4 GiB) stops there, for the streaming
    # reader; an implausible ISIZE (a corrupt trailer: deflate does not compress 64:1 on logs) is not trusted.
    size = int.from_bytes(data[-4:], "little")
    limit = size + 1 if size <= 64 * len(data) else -1
    out, ended, more_output, unused = _decompress()(data, limit)
    if not ended:
        if more_output:
            return None
        raise EOFError("truncated gzip")
    return None if unused else out


_Gunzip = Callable[[memoryview, int], tuple[bytes, bool, bool, bool]]


@functools.cache
def _decompress() -> _Gunzip:
    """One gzip member's decompression, up to a limit (-1: none): (output, the member ended, output is left over
    the limit, bytes follow the member). ISA-L's IgzipDecompressor when there (about 2x zlib on CloudTrail files;
    with the reused read buffer of :func:`lines_of`, 0.11 us of the staging workers' CPU a record less than ISA-L's
    zlib-style decompressobj on a fresh buffer, benchmarks/ab_cloudtrail.py in docs/performance.md)."""
    try:
        from isal import igzip_lib
    except ImportError:  # pragma: no cover - isal is a dependency

        def with_zlib(data: memoryview, limit: int) -> tuple[bytes, bool, bool, bool]:
            gunzip = zlib.decompressobj(wbits=31)
            out = gunzip.decompress(data, max(limit, 0))
            return out, gunzip.eof, bool(gunzip.unconsumed_tail), bool(gunzip.unused_data)

        return with_zlib

    def with_isal(data: memoryview, limit: int) -> tuple[bytes, bool, bool, bool]:
        gunzip = igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)
        out: bytes = gunzip.decompress(data, limit)
        return out, gunzip.eof, not gunzip.needs_input, bool(gunzip.unused_data)

    return with_isal


def lines_of(path: str, needle: bytes, buffer: bytearray) -> tuple[bytes, int] | None:
    """:func:`to_records` for the file at ``path``: its records that may match ``needle``, one a line, and how many
    it has that cannot; None when it cannot be staged (not compact, unreadable, corrupt: it is read whole, which
    says why). The file is read into ``buffer`` (reused, not a fresh one per file: see :func:`_decompress`) and
    gunzipped in one call rather than streamed (measured faster: no chunking, and each pass over the file is one C
    call over one buffer)."""
    try:
        with open(path, "rb", buffering=0) as raw:
            n = _read_all(cast(BinaryIO, raw), buffer)
        if buffer.startswith(_GZIP_MAGIC, 0, n):
            with memoryview(buffer) as whole, whole[:n] as data:
                text = _gunzip_member(data)
            if text is None:
                with open_log(path) as source:
                    return _records_of(source, buffer, needle)
            return _select(text, len(text), needle)
        return _select(buffer, n, needle)
    except _read_errors():
        return None


def _private(target: Path) -> BinaryIO:
    """``target`` created for writing, mode 0600 (it must not exist), buffered: it writes all of each chunk."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return cast(BinaryIO, os.fdopen(fd, "wb"))


def stage_file(path: str, target: Path, buffer: bytearray) -> int | None:
    """Write the records of ``path`` to ``target`` (mode 0600) as they are; their size, or None, leaving nothing, if
    it cannot (it is read whole, which says why). A file with no records leaves nothing either, and gives 0."""
    try:
        with open_log(path) as source, _private(target) as out:
            size = to_body(source, out, buffer)
    except _read_errors():  # not compact, unreadable, corrupt, or a full disk: read whole, which says why
        target.unlink(missing_ok=True)
        return None
    if size == 0:
        target.unlink()
    return size


@dataclass
class StagedBatch:
    """One batch after staging: ``copies`` (the records) stand for ``sources``; ``whole`` are read as they are;
    ``empty`` were read and had no records copied. ``left_out`` counts the records of ``sources`` that were not
    copied (they cannot match); ``left_out_empty`` those of ``empty``."""

    copies: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    whole: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    left_out: int = 0
    left_out_empty: int = 0
    lines: bool = False  # the copies hold one record a line (with a needle), else the body as it is
    size: int = 0  # bytes in the copies

    @staticmethod
    def join(parts: list[StagedBatch]) -> StagedBatch:
        """Consecutive staged batches as one (all staged the same way)."""
        out = StagedBatch(lines=parts[0].lines)
        for part in parts:
            out.copies += part.copies
            out.sources += part.sources
            out.whole += part.whole
            out.empty += part.empty
            out.left_out += part.left_out
            out.left_out_empty += part.left_out_empty
            out.size += part.size
        return out

    def remove(self) -> None:
        for path in self.copies:
            Path(path).unlink(missing_ok=True)
        self.copies.clear()


def stage(batch: list[str], directory: Path, serial: int, needle: bytes | None = None) -> StagedBatch:
    """Stage each file of ``batch`` into ``directory``, or mark it to read whole.

    Without ``needle``, each file's records as they are, one copy a file (``<serial>-<i>.json``, ``i`` its place
    in the batch). With ``needle``, only the records that may match it, one a line (:func:`lines_of`), those of
    consecutive files together in copies of about :data:`STAGED_BYTES` (named after the first file's place).
    """
    if needle is not None:
        return _stage_lines(batch, directory, serial, needle)
    out = StagedBatch()
    buffer = bytearray(_CHUNK)
    for i, path in enumerate(batch):
        target = directory / f"{serial:06d}-{i:05d}.json"
        size = stage_file(path, target, buffer)
        if size is None:
            out.whole.append(path)
        elif size == 0:
            out.empty.append(path)
        else:
            out.copies.append(str(target))
            out.sources.append(path)
            out.size += size
    return out


# Kept records per staged copy, with a principal: DuckDB reads a few copies of ~1 MiB faster than many of one log
# file's kept records each (~78 KB on an organization trail's mix: 0.18 us of the engine's CPU a record less,
# benchmarks/ab_cloudtrail.py in docs/performance.md), and staging creates and removes one file per copy, not one
# per log file. Much larger copies (5-10 MB) read slower again.
STAGED_BYTES = 1 << 20


def _stage_lines(batch: list[str], directory: Path, serial: int, needle: bytes) -> StagedBatch:
    """:func:`stage` with a needle: the kept lines of consecutive files are held (at most about STAGED_BYTES plus
    one file's) and written as one copy; a copy that cannot be written leaves its files to be read whole."""
    out = StagedBatch(lines=True)
    buffer = bytearray(_CHUNK)
    held: list[bytes] = []
    held_sources: list[str] = []
    held_left_out = 0
    held_bytes = 0
    first = 0

    def write() -> None:
        target = directory / f"{serial:06d}-{first:05d}.json"
        try:
            with _private(target) as copy:
                copy.write(held[0])
                for lines in held[1:]:
                    copy.write(b"\n")
                    copy.write(lines)
        except OSError:  # a full disk: these files are read whole instead
            target.unlink(missing_ok=True)
            out.whole.extend(held_sources)
            return
        out.copies.append(str(target))
        out.sources.extend(held_sources)
        out.left_out += held_left_out
        out.size += held_bytes + len(held) - 1

    for i, path in enumerate(batch):
        selected = lines_of(path, needle, buffer)
        if selected is None:
            out.whole.append(path)
            continue
        lines, left_out = selected
        if not lines:
            out.empty.append(path)
            out.left_out_empty += left_out
            continue
        if not held:
            first = i
        held.append(lines)
        held_sources.append(path)
        held_left_out += left_out
        held_bytes += len(lines)
        if held_bytes >= STAGED_BYTES:
            write()
            held.clear()
            held_sources.clear()
            held_left_out = held_bytes = 0
    if held:
        write()
    return out


def staging_dir(min_free_bytes: int = 1 << 30) -> str | None:
    """Where to stage: ``/dev/shm`` (memory) when it is there, writable and has ``min_free_bytes`` free.

    On a disk-backed temporary directory the kernel's page-cache work for gigabytes of short-lived files
    costs more CPU than the gunzip (measured: 5.2 s of CPU per 2M records against 1.9 s in /dev/shm). A small
    /dev/shm (a container's 64 MB) is not used; ``None`` means the system's temporary directory.
    """
    shm = "/dev/shm"
    try:
        if not (Path(shm).is_dir() and os.access(shm, os.W_OK | os.X_OK)):
            return None
        stats = os.statvfs(shm)
    except OSError:
        return None
    return shm if stats.f_bavail * stats.f_frsize >= min_free_bytes else None

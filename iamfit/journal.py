"""The run journal: an append-only JSON-lines file, fsynced before iamfit acts on what it records.


``.iamfit/runs/<run-id>/journal.jsonl``. Every entry has a ``kind`` and a ``key`` (e.g. ``attempt-result:create:3``).
A resumed run replays the same deterministic loop and takes every step whose key is already journaled from the
journal instead of doing it again, so a run killed at any point resumes with nothing lost and the same result.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from iamfit.errors import BadInputError, UsageError
from iamfit.files import decode, loads_json

logger = logging.getLogger(__name__)

RUNS_DIR = Path(".iamfit") / "runs"
_RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{6}$")


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def _drop_torn_tail(path: Path) -> bytes:
    """The journal's complete lines; a tail without its newline (a write cut short by a kill, never acted
    on: :meth:`Journal.append` writes an entry and its newline in one write and acts only after the fsync)
    is cut off the file, so the next entry starts on a line of its own."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end == len(data):
        return data
    logger.warning("%s: dropping a torn last entry (%d bytes)", path, len(data) - end)
    with path.open("r+b") as fh:
        fh.truncate(end)
        fh.flush()
        os.fsync(fh.fileno())
    return data[:end]


class Journal:
    def __init__(self, directory: Path, run_id: str, entries: list[dict[str, Any]] | None = None) -> None:
        self.directory = directory
        self.run_id = run_id
        self.path = directory / "journal.jsonl"
        self._entries: dict[str, dict[str, Any]] = {}
        self._order: list[dict[str, Any]] = []
        for entry in entries or []:
            self._entries[entry["key"]] = entry
            self._order.append(entry)

    @classmethod
    def create(cls, root: Path, run_id: str | None = None) -> Journal:
        run_id = run_id or new_run_id()
        directory = root / RUNS_DIR / run_id
        directory.mkdir(parents=True, exist_ok=False)
        return cls(directory, run_id)

    @classmethod
    def open(cls, root: Path, run_id: str) -> Journal:
        if not _RUN_ID.match(run_id):
            raise UsageError(f"--resume takes a run id like 20261126T173000-ab12cd, got {run_id!r}")
        directory = root / RUNS_DIR / run_id
        path = directory / "journal.jsonl"
        if not path.exists():
            raise UsageError(f"no run {run_id} in {root / RUNS_DIR}")
        data = _drop_torn_tail(path)
        entries = []
        text = decode(data, str(path))
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = loads_json(line, f"{path}: line {number}")
            except BadInputError:
                raise BadInputError(f"{path}: line {number} is not valid JSON") from None
            if not isinstance(entry, dict) or "key" not in entry:
                raise BadInputError(f"{path}: line {number} is not a journal entry")
            entries.append(entry)
        return cls(directory, run_id, entries)

    def get(self, key: str) -> dict[str, Any] | None:
        return self._entries.get(key)

    def entries(self) -> list[dict[str, Any]]:
        return list(self._order)

    def append(self, kind: str, key: str, **data: Any) -> dict[str, Any]:
        """Write one entry and fsync it. An entry already journaled is not written again."""
        if key in self._entries:
            return self._entries[key]
        entry = {"kind": kind, "key": key, "time": round(time.time(), 3), **data}
        line = json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        self._entries[key] = entry
        self._order.append(entry)
        return entry

    def write_file(self, name: str, text: str) -> Path:
        path = self.directory / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        return path

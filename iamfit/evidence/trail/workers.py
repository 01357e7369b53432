"""Staging in worker processes: the gunzip and the byte scans of several batches at once, on several CPUs.

Staging a batch with the prefilter (:func:`staging.stage` with a needle) is a gunzip and a few passes over the
bytes, each a C call; between them the staging thread holds the GIL, so threads do not run two of them at once.
:class:`StagingPool` runs them in worker processes instead: ``python -c`` children reading one request a line on
their standard input and answering one line on their standard output (JSON: the batch's paths, the staging
directory, the serial and the needle; the :class:`StagedBatch`). They are plain subprocesses, not
``multiprocessing``: its ``spawn`` and ``forkserver`` start methods import the caller's main module again in each
child (an unguarded script calling :func:`aggregate` would run twice, and fail), and ``fork`` copies a process
whose other threads (DuckDB's, the mapping's warm-up) may hold locks.

A worker that fails (it could not start, it died, it answered something else) is dropped and its batch staged in
this process, as without a pool, so the result never depends on the workers; the failure is logged.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import queue
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from iamfit.evidence.trail.staging import StagedBatch, stage

logger = logging.getLogger(__name__)

# SIGINT ignored: on ^C the parent stops and closes the pipe, which ends the loop, without a traceback from each.
_SERVE = (
    "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "from iamfit.evidence.trail.workers import serve; serve()"
)


class _Worker:
    def __init__(self) -> None:
        env = dict(os.environ)
        # The modules this process imports, and only those: without -P, ``python -c`` would put the working
        # directory first on sys.path, so a directory holding an ``iamfit/`` or a ``json.py`` (a checkout of another
        # version, or a file someone planted) would run its code in the workers.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-c", _SERVE],  # -P: the working directory is not on sys.path (above)
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )

    def call(self, batch: list[str], directory: Path, serial: int, needle: bytes) -> StagedBatch:
        stdin, stdout = _pipes(self.process)
        request = {"batch": batch, "directory": str(directory), "serial": serial, "needle": needle.decode("ascii")}
        stdin.write(json.dumps(request).encode() + b"\n")
        stdin.flush()
        answer = stdout.readline()
        if not answer:
            raise EOFError(f"staging worker {self.process.pid} exited with {self.process.poll()}")
        return StagedBatch(**json.loads(answer))

    def close(self) -> None:
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a worker stuck in a read of a dead disk
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _pipes(process: subprocess.Popen[bytes]) -> tuple[IO[bytes], IO[bytes]]:
    if process.stdin is None or process.stdout is None:  # pragma: no cover - both are pipes
        raise OSError("staging worker without pipes")
    return process.stdin, process.stdout


class StagingPool:
    """``processes`` staging workers, started at once (their start-up overlaps DuckDB's); :meth:`stage` is
    :func:`staging.stage` on one idle worker, safe from several threads. Use as a context manager."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        self._workers: list[_Worker] = []
        for _ in range(processes):
            try:
                worker = _Worker()
            except OSError as error:
                logger.info("staging in this process: a worker could not start (%s)", error)
                self._idle.put(None)
                continue
            self._workers.append(worker)
            self._idle.put(worker)

    def stage(self, batch: list[str], directory: Path, serial: int, needle: bytes) -> StagedBatch:
        worker = self._idle.get()
        if worker is None:  # a worker that could not start or failed: this slot stages here
            try:
                return stage(batch, directory, serial, needle)
            finally:
                self._idle.put(None)
        try:
            staged = worker.call(batch, directory, serial, needle)
        except (OSError, ValueError, TypeError, EOFError) as error:
            logger.info("staging in this process: worker %d failed (%s)", worker.process.pid, error)
            worker.process.kill()
            self._idle.put(None)
            for name in (f"{serial:06d}-{i:05d}.json" for i in range(len(batch))):  # what it may have left
                (directory / name).unlink(missing_ok=True)
            return stage(batch, directory, serial, needle)
        self._idle.put(worker)
        return staged

    def close(self) -> None:
        for worker in self._workers:
            worker.close()

    def __enter__(self) -> StagingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None) -> None:
    """A worker's loop: one request a line in, one StagedBatch a line out, until the input ends (the protocol of
    :class:`StagingPool`, on the worker's own standard streams)."""
    requests = stdin or sys.stdin.buffer
    answers = stdout or sys.stdout.buffer
    for line in requests:
        request: dict[str, Any] = json.loads(line)
        staged = stage(
            list(request["batch"]), Path(request["directory"]), int(request["serial"]), request["needle"].encode()
        )
        answers.write(json.dumps(dataclasses.asdict(staged)).encode() + b"\n")
        answers.flush()

"""Staging in worker processes (iamfit.evidence.trail.workers): same batches as staging here, whatever happens."""

from __future__ import annotations

import gzip
import io
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from iamfit.evidence.trail.staging import StagedBatch, stage
from iamfit.evidence.trail.workers import StagingPool, serve

from .records import DEPLOY_ROLE, document, given_log, log_key, record

NEEDLE = DEPLOY_ROLE.encode()


def logs(root: Path, n: int = 3) -> list[str]:
    other = {**record(), "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/x/y"}}
    return [str(given_log(root, log_key(n=i), [record(), other] * (i + 1))) for i in range(n)]


def test_a_worker_stages_as_this_process_does(tmp_path: Path) -> None:
    files = logs(tmp_path / "logs")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with StagingPool(1) as pool:
        remote = pool.stage(files, tmp_path / "a", 4, NEEDLE)
    here = stage(files, tmp_path / "b", 4, NEEDLE)
    assert [Path(p).name for p in remote.copies] == [Path(p).name for p in here.copies]
    assert [Path(p).read_bytes() for p in remote.copies] == [Path(p).read_bytes() for p in here.copies]
    assert (remote.sources, remote.left_out, remote.size, remote.lines) == (here.sources, 6, here.size, True)


def test_workers_do_not_import_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A directory holding modules of the names a worker imports (a planted ``json.py``, another checkout's
    ``iamfit/``) is not on the workers' sys.path: ``python -c`` would put the working directory first."""
    caplog.set_level(logging.INFO, logger="iamfit.evidence.trail.workers")
    files = logs(tmp_path / "logs")
    planted = tmp_path / "cwd"
    (planted / "iamfit").mkdir(parents=True)
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').close()\nraise SystemExit('planted')\n"
    (planted / "json.py").write_text(code)
    (planted / "iamfit" / "__init__.py").write_text(code)
    (tmp_path / "stage").mkdir()
    monkeypatch.chdir(planted)
    with StagingPool(1) as pool:
        remote = pool.stage(files, tmp_path / "stage", 0, NEEDLE)
        assert pool._workers[0].process.poll() is None  # still serving: it was not replaced
    assert not marker.exists() and "failed" not in caplog.text
    assert remote.sources == files and remote.left_out == 6


def test_a_dead_worker_is_replaced_by_staging_here(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="iamfit.evidence.trail.workers")
    files = logs(tmp_path / "logs")
    out = tmp_path / "stage"
    out.mkdir()
    with StagingPool(1) as pool:
        pool._workers[0].process.kill()
        pool._workers[0].process.wait()
        first = pool.stage(files, out, 0, NEEDLE)
        second = pool.stage(files, out, 1, NEEDLE)  # the slot now stages here
    assert first.left_out == second.left_out == 6 and first.sources == second.sources == files
    assert len(first.copies) == len(second.copies) == 1  # the three files' kept records, in one copy
    assert "worker" in caplog.text and "failed" in caplog.text


def test_serve_answers_one_line_a_request(tmp_path: Path) -> None:
    files = logs(tmp_path / "logs", 1)
    request = {"batch": files, "directory": str(tmp_path), "serial": 9, "needle": DEPLOY_ROLE}
    answers = io.BytesIO()
    serve(io.BytesIO(json.dumps(request).encode() + b"\n"), answers)
    staged = StagedBatch(**json.loads(answers.getvalue()))
    assert staged.sources == files and staged.left_out == 1 and answers.getvalue().count(b"\n") == 1


def test_an_unguarded_script_can_read_with_workers(tmp_path: Path) -> None:
    """multiprocessing's spawn would run this script again in each worker (no ``__main__`` guard) and fail."""
    logs(tmp_path / "logs", 4)
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            import iamfit.evidence.trail.sources as sources
            from iamfit.evidence.trail import LocalSource, aggregate
            sources.PROCESS_MIN_FILES = 1
            result = aggregate(LocalSource(Path({str(tmp_path / "logs")!r})), principal={DEPLOY_ROLE!r}, workers=2,
                               batch_files=1, event_to_action=lambda s, n, p: "x:" + n)
            print("records", result.stats.records, "matched", result.stats.matched_records)
            """
        )
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout) == (0, "records 20 matched 10\n"), done.stderr


def test_two_gzip_members_of_one_size_are_both_read(tmp_path: Path) -> None:
    """The one-call gunzip stops at the trailer's size; a second member of the same size is not lost."""
    doc = document([record(), record(when="2026-10-02T11:00:00Z")])
    half = len(doc) // 2
    doc = doc + b" " * (len(doc) - 2 * half)  # an even length: two halves of one size
    half = len(doc) // 2
    path = tmp_path / log_key()
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(doc[:half]) + gzip.compress(doc[half:]))
    (tmp_path / "stage").mkdir()
    staged = stage([str(path)], tmp_path / "stage", 0, NEEDLE)
    assert staged.sources == [str(path)] and staged.left_out == 0
    assert Path(staged.copies[0]).read_bytes().count(b"\n") == 1  # both records, one a line

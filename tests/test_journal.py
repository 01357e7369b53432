"""Kill discovery runs at random points (SIGKILL, a real process kill) and resume them: same result."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamfit.errors import BadInputError, UsageError
from iamfit.journal import Journal

from .conftest import EXAMPLES

ARGS = [str(EXAMPLES / "sqs-worker"), "--account", "123456789012", "--from-scratch", "--out", "out"]


def _iamfit(cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    return subprocess.Popen(
        [sys.executable, "-m", "iamfit", "discover", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _policies(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(directory.glob("*.json"))}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], int]:
    cwd = tmp_path_factory.mktemp("whole")
    proc = _iamfit(cwd, *ARGS)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    (run_dir,) = (cwd / ".iamfit" / "runs").iterdir()
    entries = len((run_dir / "journal.jsonl").read_text().splitlines())
    return _policies(cwd / "out"), entries


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_killed_run_resumes_with_the_same_result(seed: int, tmp_path: Path, uninterrupted) -> None:  # type: ignore[no-untyped-def]
    expected, total_entries = uninterrupted
    kill_after = random.Random(seed).randrange(1, total_entries - 1)
    proc = _iamfit(tmp_path, *ARGS)
    journal = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        runs = tmp_path / ".iamfit" / "runs"
        if journal is None and runs.exists():
            found = list(runs.glob("*/journal.jsonl"))
            journal = found[0] if found else None
        if journal is not None and len(journal.read_bytes().splitlines()) >= kill_after:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.communicate(timeout=60)
    assert journal is not None
    if proc.returncode == 0:
        pytest.skip("the run finished before the kill point")  # pragma: no cover - timing
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "out").exists()
    run_id = journal.parent.name
    resumed = _iamfit(tmp_path, *ARGS, "--resume", run_id)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert _policies(tmp_path / "out") == expected
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    keys = [e["key"] for e in lines]
    assert len(keys) == len(set(keys)), "a resumed run never journals a step twice"
    assert keys[-1] == "done"


def test_a_torn_last_line_is_dropped_and_earlier_garbage_is_bad_input(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, "20261126T000000-abcdef")
    journal.append("run", "run", service="s")
    with journal.path.open("a") as fh:
        fh.write('{"kind": "attempt-st')
    assert [e["key"] for e in Journal.open(tmp_path, journal.run_id).entries()] == ["run"]
    with journal.path.open("a") as fh:
        fh.write('{"kind": "attempt-st\n{"kind": "x", "key": "y"}\n')
    with pytest.raises(BadInputError, match="line 2 is not valid JSON"):
        Journal.open(tmp_path, journal.run_id)


def _full_journal(root: Path) -> bytes:
    journal = Journal.create(root, "20261126T000000-abcdef")
    journal.append("run", "run", service="s", account="123456789012")
    for n in range(1, 4):
        journal.append("attempt-start", f"attempt-start:create:{n}", note="é ✓ \u2028")
        journal.append("attempt-result", f"attempt-result:create:{n}", succeeded=n == 3, denials=["s3:PutObject"] * n)
    return journal.path.read_bytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_a_journal_cut_at_any_byte_resumes_twice(tmp_path: Path, cut: int) -> None:
    """SIGKILL can stop a write at any byte: open + append + open + append + open works every time, and keeps
    exactly the entries whose newline was written."""
    built = tmp_path / "whole" / ".iamfit" / "runs" / "20261126T000000-abcdef" / "journal.jsonl"
    whole = built.read_bytes() if built.exists() else _full_journal(tmp_path / "whole")  # one per test run
    cut = cut % (len(whole) + 1)
    root = tmp_path / f"cut{cut}"
    directory = root / ".iamfit" / "runs" / "20261126T000000-abcdef"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "journal.jsonl").write_bytes(whole[:cut])
    kept = [json.loads(line)["key"] for line in whole[:cut].split(b"\n")[:-1]]
    for resume in (1, 2):
        journal = Journal.open(root, "20261126T000000-abcdef")
        assert [e["key"] for e in journal.entries()] == kept
        journal.append("resumed", f"resumed:{resume}")
        kept.append(f"resumed:{resume}")
    assert [e["key"] for e in Journal.open(root, "20261126T000000-abcdef").entries()] == kept


def test_every_cut_of_a_small_journal_resumes_twice(tmp_path: Path) -> None:
    """The same, exhaustively over every byte offset of a short journal."""
    whole = _full_journal(tmp_path / "whole")
    for cut in range(len(whole) + 1):
        root = tmp_path / f"cut{cut}"
        directory = root / ".iamfit" / "runs" / "20261126T000000-abcdef"
        directory.mkdir(parents=True)
        (directory / "journal.jsonl").write_bytes(whole[:cut])
        for resume in (1, 2):
            Journal.open(root, "20261126T000000-abcdef").append("resumed", f"resumed:{resume}")
        keys = [e["key"] for e in Journal.open(root, "20261126T000000-abcdef").entries()]
        assert keys[-2:] == ["resumed:1", "resumed:2"]
        assert len(keys) == whole[:cut].count(b"\n") + 2


def test_unknown_or_malformed_run_ids_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        Journal.open(tmp_path, "../../etc")
    with pytest.raises(UsageError):
        Journal.open(tmp_path, "20261126T000000-abcdef")

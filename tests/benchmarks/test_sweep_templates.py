"""benchmarks/sweep_templates.py counts how generate + plan end on every template under a directory."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "sweep_templates.py"


def test_the_sweep_counts_fits_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SCRIPT.parent))  # importable by name: the worker processes unpickle sweep_one
    sweep = importlib.import_module("sweep_templates")
    (tmp_path / "queue.yaml").write_text("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n"
                                         "    Properties:\n      QueueName: q\n")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "event.json").write_text(json.dumps({"RequestType": "Create"}))  # not a template
    code = sweep.main([str(tmp_path), "--jobs", "1", "--list"])
    out = capsys.readouterr().out
    assert code == 0
    assert "2 file(s) under" in out and "  bad input       1" in out and "  fits            1" in out
    assert "fits            queue.yaml" in out and "nested/event.json  iamfit: error:" in out

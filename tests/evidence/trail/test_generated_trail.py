"""End to end on benchmarks/make_cloudtrail.py output: layout, counts, deploy-aware rows, determinism."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from iamfit.evidence.trail import LocalSource, aggregate, parse_log_path

REPO = Path(__file__).resolve().parents[3]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_cloudtrail", REPO / "benchmarks" / "make_cloudtrail.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_cloudtrail", module)
    spec.loader.exec_module(module)
    return module


def test_generated_tree_reads_back(tmp_path: Path) -> None:
    gen = generator()
    assert gen.make(tmp_path, gen.Shape(records=1500, per_file=100, seed=3)) == 1500
    files = sorted(tmp_path.rglob("*.json.gz"))
    assert len(files) == 15 and all(parse_log_path(str(f)) is not None for f in files)

    result = aggregate(LocalSource(tmp_path), principal=gen.DEPLOY_ROLE)
    stats = result.stats
    assert (stats.records, stats.files_read, stats.bad_records, stats.unmapped_events) == (1500, 15, 0, ())
    assert 0 < stats.matched_records < 1500
    assert sum(r.count for r in result.rows) == stats.matched_records
    by_cfn = {r.action for r in result.rows if r.invoked_by == "cloudformation.amazonaws.com"}
    direct = {r.action for r in result.rows if r.invoked_by is None}
    assert "cloudformation:CreateChangeSet" in direct and "lambda:CreateFunction" in by_cfn
    assert "lambda:CreateFunction" not in direct
    assert result.denials() and all(d.principal == gen.DEPLOY_ROLE for d in result.denials())

    again = tmp_path / "again"
    gen.make(again, gen.Shape(records=1500, per_file=100, seed=3))
    assert aggregate(LocalSource(again), principal=gen.DEPLOY_ROLE).rows == result.rows

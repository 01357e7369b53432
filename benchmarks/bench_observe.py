"""`iamfit observe` per example: the calls the real osls CLI makes in each phase, and the wall time.

Usage: python benchmarks/bench_observe.py [EXAMPLE ...]
Each example is copied to a temporary directory (with examples/node_modules linked next to it, so `npx osls` is
the pinned one) and observed as a user runs it: `python -m iamfit observe <copy> --report report.json`, one
process, timed from start to exit (compiling is not needed: the examples' packages are committed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def observe(example: str) -> tuple[dict[str, object], float]:
    with tempfile.TemporaryDirectory(prefix="bench-observe-") as tmp:
        root = Path(tmp) / "examples"
        shutil.copytree(EXAMPLES / example, root / example)  # keeps mtimes: no compile
        (root / "node_modules").symlink_to(EXAMPLES / "node_modules", target_is_directory=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "iamfit", "observe", str(root / example), "--report",
                               "report.json"], cwd=tmp, env=env, capture_output=True, text=True, check=False)
        seconds = time.monotonic() - started
        if done.returncode != 0:
            sys.exit(f"{example}: exit {done.returncode}\n{done.stdout}{done.stderr}")
        return json.loads((Path(tmp) / "report.json").read_text()), seconds


def main() -> None:
    names = sys.argv[1:] or sorted(p.name for p in EXAMPLES.iterdir() if (p / "serverless.yml").is_file())
    print("| example | create | update | remove | calls needing permission | actions | unpredicted | wall s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        report, seconds = observe(name)
        phases = report["phases"]
        assert isinstance(phases, dict) and isinstance(report["calls"], list)
        actions = {c["action"] for c in report["calls"]}
        print(f"| {name} | {phases['create']['calls']} | {phases['update']['calls']} | {phases['remove']['calls']} | "
              f"{len(report['calls'])} | {len(actions)} | {len(report['unpredicted'])} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()

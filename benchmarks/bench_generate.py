"""Whole-process time of `iamfit generate` on every example and on synthetic templates (median of runs).

Usage: python benchmarks/bench_generate.py [--runs 5]
Goal: < 1 s per example, < 3 s for 1,000 resources, growing linearly.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_template import make_template  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    out = tempfile.mkdtemp()
    rows = []
    for example in sorted(p for p in (REPO / "examples").iterdir() if (p / "serverless.yml").exists()):
        cmd = ["iamfit", "generate", str(example), "--account", "123456789012", "--out", f"{out}/{example.name}"]
        times = [timed(cmd) for _ in range(args.runs)]
        rows.append(
            (
                example.name,
                len(
                    json.loads((example / ".serverless" / "cloudformation-template-update-stack.json").read_text())[
                        "Resources"
                    ]
                ),
                statistics.median(times),
            )
        )
    for n in (250, 500, 1000, 2000):
        path = Path(out) / f"synthetic-{n}.json"
        path.write_text(json.dumps(make_template(n)))
        cmd = ["iamfit", "generate", str(path), "--account", "123456789012", "--out", f"{out}/syn{n}"]
        rows.append((f"synthetic-{n}", n, statistics.median(timed(cmd) for _ in range(args.runs))))
    print(f"{'input':<22} {'resources':>9} {'median s':>9}")
    for name, n, t in rows:
        print(f"{name:<22} {n:>9} {t:>9.2f}")


if __name__ == "__main__":
    main()

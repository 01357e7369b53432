"""Whole-process `iamfit check` on every example: median wall time of several runs (target: under 1 s).

Run: python benchmarks/bench_check.py [--runs 7]

Each run is a fresh process (`python -m iamfit check examples/<name> --policy policies/<name>/deployer.json
[--cfn-role-policy ...] --account 123456789012 --no-discover-report`), so the figure includes interpreter
start-up, imports and the knowledge loads a CI job pays. Policies come from policies/<name>/ (the committed
ones); an example without them is generated into a temporary directory first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"


def policies_for(name: str, scratch: Path) -> Path:
    committed = REPO / "policies" / name
    if (committed / "deployer.json").is_file():
        return committed
    out = scratch / name
    subprocess.run([sys.executable, "-m", "iamfit", "generate", str(REPO / "examples" / name), "--account", ACCOUNT,
                    "--out", str(out)], check=True, capture_output=True)
    return out


def run_once(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and the child's own CPU seconds (user + system, from os.wait4): CPU time shows what
    the run costs even on a loaded machine, where wall time also counts waiting for a core."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            out.seek(0)
            sys.exit(f"iamfit check exited {proc.returncode}:\n{out.read().decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--limit", type=float, default=1.0, help="seconds; exit 1 when a median exceeds it")
    args = parser.parse_args()
    names = sorted(p.parent.name for p in (REPO / "examples").glob("*/serverless.yml"))
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            policies = policies_for(name, Path(tmp))
            cmd = [sys.executable, "-m", "iamfit", "check", str(REPO / "examples" / name), "--policy",
                   str(policies / "deployer.json"), "--account", ACCOUNT, "--no-discover-report"]
            if (policies / "cloudformation.json").is_file():
                cmd += ["--cfn-role-policy", str(policies / "cloudformation.json")]
            times, cpu = [], []
            for _ in range(args.runs):
                wall, cpu_seconds = run_once(cmd)
                times.append(wall)
                cpu.append(cpu_seconds)
            median = statistics.median(times)
            worst = max(worst, median)
            print(f"{name:<16} median {median:.3f} s wall, {statistics.median(cpu):.3f} s CPU "
                  f"(wall min {min(times):.3f}, max {max(times):.3f}; {args.runs} runs)")
    print(f"slowest median {worst:.3f} s (limit {args.limit:.1f} s): {'OK' if worst < args.limit else 'TOO SLOW'}")
    sys.exit(0 if worst < args.limit else 1)


if __name__ == "__main__":
    main()

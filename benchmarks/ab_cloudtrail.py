"""A/B the CloudTrail engine of two (or more) source trees on the same trails, runs alternated.

    git worktree add --detach /tmp/before <the commit before a change>
    python benchmarks/ab_cloudtrail.py --tree /tmp/before --tree . --sizes 500000,2000000 --rounds 10

Each run is its own process, ``aggregate(LocalSource(DIR), principal=DEPLOY_ROLE)`` imported from that tree: its
``PYTHONPATH``, and the tree as the working directory, which ``python -c`` puts first on sys.path (the staging
workers of trees before 946a392 import from the working directory, not from their parent's sys.path). The trees
take turns, A B A B ..., size by size, so a change in the machine's speed (this project's machine is a shared
2-vCPU VM whose speed moves by a third within an hour) falls on all of them alike. Printed per tree and size: the
medians of the engine's wall time (``aggregate`` alone, without the interpreter's start-up) and of its CPU time,
split into the engine's process (DuckDB and the orchestration) and its staging workers; then the per-record cost
between the first two sizes. Trails are those of ``bench_cloudtrail.py --principal-share`` (written once under
--workdir). The trees must agree on records, matched records and rows, else it stops.

Why it exists (issue 15, docs/performance.md): comparing two trees with a script run from one checkout measured
that checkout's staging workers for both, so worker-side changes showed no gain; a change is kept when this
shows one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_cloudtrail import logs_for  # noqa: E402
from make_cloudtrail import DEPLOY_ROLE, Shape  # noqa: E402

RUN = """
import json, resource, sys, time
from pathlib import Path
import iamfit
from iamfit.evidence.trail import LocalSource, aggregate
start = time.perf_counter()
result = aggregate(LocalSource(Path(sys.argv[1])), principal=sys.argv[2])
wall = time.perf_counter() - start
me, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"tree": iamfit.__file__, "wall": wall, "engine": me.ru_utime + me.ru_stime,
                  "workers": workers.ru_utime + workers.ru_stime, "records": result.stats.records,
                  "matched": result.stats.matched_records, "rows": len(result.rows)}))
"""


def run(tree: Path, logs: Path) -> dict[str, float | int | str]:
    env = dict(os.environ, PYTHONPATH=str(tree))  # and the tree as the working directory: ``python -c`` puts it
    done = subprocess.run(  # first on sys.path, ahead of an editable install of another tree
        [sys.executable, "-c", RUN, str(logs), DEPLOY_ROLE], env=env, cwd=tree, capture_output=True, text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{tree}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
    result: dict[str, float | int | str] = json.loads(done.stdout)
    if not str(result["tree"]).startswith(str(tree)):
        raise SystemExit(f"{tree}: imported iamfit from {result['tree']}, not from the tree")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, action="append", required=True, help="a source tree (give 2 or more)")
    parser.add_argument("--sizes", default="500000,2000000")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/iamfit-bench"))
    parser.add_argument("--principal-share", type=float, default=0.1)
    parser.add_argument("--other-roles", type=int, default=40)
    parser.add_argument("--record-bytes", type=int, default=1500)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    trees = [t.resolve() for t in args.tree]
    sizes = [int(s) for s in args.sizes.split(",")]
    out = sys.stdout
    load = os.getloadavg()[0]
    out.write(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, rounds={args.rounds}, load {load:.2f}\n")
    medians: dict[tuple[Path, int], dict[str, float]] = {}
    for size in sizes:
        shape = Shape(size, 500, args.seed, args.principal_share, args.other_roles, args.record_bytes)
        logs = logs_for(args.workdir, shape, args.jobs)
        runs: dict[Path, list[dict[str, float | int | str]]] = {t: [] for t in trees}
        for _ in range(args.rounds):
            for tree in trees:
                runs[tree].append(run(tree, logs))
        counts = {(r["records"], r["matched"], r["rows"]) for rs in runs.values() for r in rs}
        if len(counts) != 1:
            raise SystemExit(f"N={size:,}: the trees disagree on (records, matched, rows): {sorted(counts)}")
        for tree in trees:
            m = {k: statistics.median(float(r[k]) for r in runs[tree]) for k in ("wall", "engine", "workers")}
            m["cpu"] = statistics.median(float(r["engine"]) + float(r["workers"]) for r in runs[tree])
            medians[(tree, size)] = m
            walls = ", ".join(f"{float(r['wall']):.2f}" for r in runs[tree])
            out.write(
                f"{str(tree):40s} N={size:>9,}  wall {m['wall']:6.2f} s  CPU {m['cpu']:6.2f} s"
                f" (engine {m['engine']:.2f}, workers {m['workers']:.2f})  (walls: {walls})\n"
            )
        out.write(f"load average after N={size:,}: {os.getloadavg()[0]:.2f}  {counts.pop()}\n")
        out.flush()
    if len(sizes) >= 2:
        a, b = sizes[0], sizes[1]
        for tree in trees:
            per = {k: (medians[(tree, b)][k] - medians[(tree, a)][k]) / (b - a) * 1e6 for k in medians[(tree, a)]}
            out.write(
                f"{str(tree):40s} per record {a:,} -> {b:,}: wall {per['wall']:.3f} us, CPU {per['cpu']:.3f} us"
                f" (engine {per['engine']:.3f}, workers {per['workers']:.3f})\n"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

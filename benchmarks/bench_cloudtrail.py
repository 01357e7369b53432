"""Time iamfit's CloudTrail engine against trailscraper on the same logs; print records/s and memory.

    python benchmarks/bench_cloudtrail.py --sizes 200000,2000000 --runs 3 \
        --trailscraper /tmp/ts-venv/bin/trailscraper --trailscraper-max 200000

For each size N it writes N records with make_cloudtrail.py (cached under --workdir), then runs, each as its
own process so peak memory (ru_maxrss from os.wait4) belongs to that run alone:

  iamfit        aggregate(LocalSource(DIR), principal=DEPLOY_ROLE)  (reads every record, reduces in DuckDB)
                or, with --iamfit-cli, the command a user runs: iamfit replay --cloudtrail DIR --principal ROLE
                (the engine, then a policy built from the rows, like trailscraper's generate)
  trailscraper  trailscraper select --log-dir DIR --filter-assumed-role-arn ROLE | trailscraper generate

trailscraper is not an iamfit dependency; install it anywhere (a separate venv avoids its pins) and pass the
path of its console script. Records/s is N / median wall time (both tools read all N records). CPU time and
peak RSS come from ``os.wait4``: CPU is the process's and its reaped children's (iamfit's staging workers,
trailscraper's select and generate added), peak RSS the largest of them, not their sum (``--memory`` gives
the staging workers' own and the sum).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_cloudtrail import DEPLOY_ROLE, Shape, make  # noqa: E402

IAMFIT_RUN = """
import json, sys
from pathlib import Path
from iamfit.evidence.trail import LocalSource, aggregate
result = aggregate(LocalSource(Path(sys.argv[1])), principal=sys.argv[2])
print(json.dumps({"records": result.stats.records, "matched": result.stats.matched_records,
                  "rows": len(result.rows), "skipped": len(result.stats.files_skipped)}))
"""

# Peak memory of the engine's process and of each staging worker (VmHWM, polled from /proc while it reads):
# os.wait4 gives only the largest of them.
MEMORY_RUN = """
import os, sys, threading, time
from pathlib import Path
from iamfit.evidence.trail import LocalSource, aggregate
peaks, done = {}, []
def poll():
    while not done:
        for pid in os.listdir('/proc'):
            try:
                mine = pid == str(os.getpid())
                if pid.isdigit() and not mine and b'workers import serve' in open(f'/proc/{pid}/cmdline', 'rb').read():
                    for line in open(f'/proc/{pid}/status'):
                        if line.startswith('VmHWM'):
                            peaks[pid] = max(peaks.get(pid, 0), int(line.split()[1]))
            except OSError:
                pass
        time.sleep(0.02)
thread = threading.Thread(target=poll, daemon=True)
thread.start()
result = aggregate(LocalSource(Path(sys.argv[1])), principal=sys.argv[2])
done.append(1)
thread.join()
main = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM'))
workers = ' + '.join(f'{kib / 1024:.1f}' for kib in sorted(peaks.values(), reverse=True)) or 'none'
print(f'process {main / 1024:.1f} MiB, staging workers {workers} MiB, together'
      f' {(main + sum(peaks.values())) / 1024:.1f} MiB [records {result.stats.records}]')
"""

# The engine's fixed cost: a run over no files that still loads what a run over records loads.
FIXED_COST_RUN = IAMFIT_RUN.replace(
    "print(",
    "from iamfit.knowledge.eventnames import warm_up\nwarm_up()\nimport duckdb\nduckdb.connect().close()\nprint(",
)


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float
    detail: str
    cpu: float = 0.0  # user + system CPU seconds of the process (and, for trailscraper, of both)


CPU_SECONDS: dict[int, float] = {}


def _wait(proc: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Wait for ``proc``; return its exit status and its own peak RSS in MiB (its CPU time: CPU_SECONDS)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    CPU_SECONDS[proc.pid] = usage.ru_utime + usage.ru_stime
    return proc.returncode, usage.ru_maxrss / 1024.0


def run_iamfit(logs: Path, cli: bool = False) -> Run:
    if cli:
        with tempfile.TemporaryDirectory() as out_dir:
            command = [sys.executable, "-m", "iamfit", "replay", "--cloudtrail", str(logs), "--principal", DEPLOY_ROLE]
            return _timed([*command, "--out", out_dir], "iamfit replay")
    return _timed([sys.executable, "-c", IAMFIT_RUN, str(logs), DEPLOY_ROLE], "iamfit")


def _timed(command: list[str], name: str) -> Run:
    """Run ``command`` as its own process; its wall time, its own peak RSS, and what it said."""
    with tempfile.TemporaryFile() as err_file:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err_file)
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        code, peak = _wait(proc)
        seconds = time.perf_counter() - start
        err_file.seek(0)
        err = err_file.read().decode()
    if code != 0:
        raise SystemExit(f"{name} failed with exit {code}: {err.strip()[-300:]}")
    detail = out.strip() if name == "iamfit" else (out.strip().splitlines() or [""])[0]
    return Run(seconds, peak, detail, CPU_SECONDS.pop(proc.pid))


def run_trailscraper(trailscraper: str, logs: Path) -> Run:
    start = time.perf_counter()
    select = subprocess.Popen(
        [trailscraper, "select", "--log-dir", str(logs), "--filter-assumed-role-arn", DEPLOY_ROLE],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    generate = subprocess.Popen(
        [trailscraper, "generate"], stdin=select.stdout, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert select.stdout is not None and generate.stdout is not None
    select.stdout.close()
    policy = generate.stdout.read().decode()
    code_select, peak_select = _wait(select)
    code_generate, peak_generate = _wait(generate)
    seconds = time.perf_counter() - start
    if code_select or code_generate:
        raise SystemExit(f"trailscraper failed (select {code_select}, generate {code_generate})")
    actions = sum(len(s.get("Action", [])) for s in json.loads(policy).get("Statement", []))
    cpu = CPU_SECONDS.pop(select.pid) + CPU_SECONDS.pop(generate.pid)
    return Run(seconds, max(peak_select, peak_generate), f"{actions} actions in the policy", cpu)


def logs_for(workdir: Path, shape: Shape, jobs: int) -> Path:
    target = workdir / shape.name
    marker = target / "DONE"
    if not marker.exists():
        make(target, shape, jobs)
        marker.write_text(str(shape.records))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000,2000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/iamfit-bench"))
    parser.add_argument("--trailscraper", default="trailscraper", help="path of trailscraper's console script")
    parser.add_argument(
        "--trailscraper-max", type=int, default=200_000, help="skip trailscraper above this many records"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--iamfit-cli", action="store_true", help="time `iamfit replay` (engine + policy) instead of the engine alone"
    )
    parser.add_argument(
        "--fixed-cost",
        action="store_true",
        help="also time the engine on an empty directory, with the mapping's tables and DuckDB loaded: the cost"
        " every run pays before and after its records",
    )
    parser.add_argument(
        "--principal-share",
        type=float,
        default=None,
        help="an organization trail's mix (make_cloudtrail.py): this share of the records from the deploy role",
    )
    parser.add_argument("--other-roles", type=int, default=40, help="with --principal-share: other roles")
    parser.add_argument("--record-bytes", type=int, default=1500, help="with --principal-share: record size")
    parser.add_argument("--generate-only", action="store_true", help="write the trails of --sizes and stop")
    parser.add_argument(
        "--stages",
        action="store_true",
        help="in this process, the CPU time per record of each step of a prefiltered read of the first size"
        " (gunzip, scans, staging, DuckDB's read of the kept records), best of --runs; then stop",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="for each size, the engine's peak RSS and each staging worker's (Linux /proc), together; then stop",
    )
    args = parser.parse_args(argv)

    out = sys.stdout
    shapes = [
        Shape(int(s), 500, args.seed, args.principal_share, args.other_roles, args.record_bytes)
        for s in args.sizes.split(",")
    ]
    if args.generate_only:
        for shape in shapes:
            out.write(f"{logs_for(args.workdir, shape, args.jobs)}\n")
        return 0
    out.write(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, runs={args.runs}\n")
    if args.stages:
        _stages(out, logs_for(args.workdir, shapes[0], args.jobs), shapes[0].records, args.runs)
        return 0
    if args.memory:
        for shape in shapes:
            command = [sys.executable, "-c", MEMORY_RUN, str(logs_for(args.workdir, shape, args.jobs)), DEPLOY_ROLE]
            out.write(f"iamfit        N={shape.records:>9,}  {_timed(command, 'iamfit').detail}\n")
        return 0
    if args.fixed_cost:
        with tempfile.TemporaryDirectory() as empty:
            command = [sys.executable, "-c", FIXED_COST_RUN, empty, DEPLOY_ROLE]
            runs = [_timed(command, "iamfit") for _ in range(args.runs)]
        median = statistics.median(r.seconds for r in runs)
        times = ", ".join(f"{r.seconds:.2f}" for r in runs)
        out.write(f"fixed cost    no records   median {median:7.2f} s  (runs: {times})\n")
    medians: dict[str, list[tuple[int, float]]] = {
        k: [] for k in ("iamfit", "trailscraper", "iamfit CPU", "trailscraper CPU")
    }
    for shape in shapes:
        size = shape.records
        logs = logs_for(args.workdir, shape, args.jobs)
        with_scraper = size <= args.trailscraper_max
        iamfit: list[Run] = []
        scraper: list[Run] = []
        for _ in range(args.runs):  # interleaved, so both tools see the same machine load
            iamfit.append(run_iamfit(logs, args.iamfit_cli))
            if with_scraper:
                scraper.append(run_trailscraper(args.trailscraper, logs))
        medians["iamfit"].append((size, statistics.median(r.seconds for r in iamfit)))
        medians["iamfit CPU"].append((size, statistics.median(r.cpu for r in iamfit)))
        out.write(_summary("iamfit" if not args.iamfit_cli else "iamfit replay", size, iamfit))
        out.write(f"  [{iamfit[-1].detail}]\n")
        if not with_scraper:
            out.write(f"trailscraper  N={size:>9,}  skipped (above --trailscraper-max)\n")
            continue
        medians["trailscraper"].append((size, statistics.median(r.seconds for r in scraper)))
        medians["trailscraper CPU"].append((size, statistics.median(r.cpu for r in scraper)))
        out.write(_summary("trailscraper", size, scraper) + f"  [{scraper[-1].detail}]\n")
        ratio = statistics.median(r.seconds for r in scraper) / statistics.median(r.seconds for r in iamfit)
        out.write(f"ratio         N={size:>9,}  iamfit is {ratio:.1f}x trailscraper's records/s\n")
        out.write(f"load average after N={size:,}: {os.getloadavg()[0]:.2f}\n")
        out.flush()
    _per_record(out, medians)
    return 0


def _stages(out: Any, logs: Path, records: int, runs: int) -> None:
    """CPU time per record of each step of the prefiltered read, one after the other, in this process."""
    from isal import isal_zlib

    from iamfit.evidence.trail import staging
    from iamfit.evidence.trail.engine import _connect
    from iamfit.evidence.trail.query import TrailQuery

    files = sorted(str(p) for p in logs.rglob("*.json.gz"))
    needle = DEPLOY_ROLE.encode()
    raw = [Path(f).read_bytes() for f in files]
    plain = [isal_zlib.decompressobj(wbits=31).decompress(data) for data in raw]
    count, find, _ = staging._search()

    def best(step: Any) -> float:
        times = []
        for _ in range(runs):
            start = time.process_time()
            step()
            times.append(time.process_time() - start)
        return min(times) / records * 1e6

    def gunzip() -> None:
        for data in raw:
            size = int.from_bytes(data[-4:], "little")
            isal_zlib.decompressobj(wbits=31).decompress(data, size + 1)

    def gunzip_growing() -> None:
        for data in raw:
            isal_zlib.decompressobj(wbits=31).decompress(data)

    out.write(f"gunzip (ISA-L, sized by ISIZE)      {best(gunzip):6.2f} us/record\n")
    out.write(f"  instead: into a growing buffer    {best(gunzip_growing):6.2f} us/record\n")
    for name, pattern in (("separator", staging._SEPARATOR), ("eventTime", staging._TIME_KEY), ("ARN", needle)):
        cost = best(lambda pattern=pattern: [count(b, pattern) for b in plain])
        out.write(f"count of the {name:<22} {cost:6.2f} us/record\n")
    cost = best(lambda: [b.count(staging._SEPARATOR) for b in plain])
    out.write(f"  instead: bytes.count, separator    {cost:6.2f} us/record\n")
    backslash = best(lambda: [find(b, b"\\") for b in plain])
    out.write(f"find of a backslash                 {backslash:6.2f} us/record\n")
    query = TrailQuery(principal=DEPLOY_ROLE)
    connection = _connect(1, None)
    with tempfile.TemporaryDirectory(dir=staging.staging_dir()) as tmp:
        serial = iter(range(10**6))
        cost = best(lambda: staging.stage(files, Path(tmp), next(serial), needle).remove())
        out.write(f"staging (all of the above + writes) {cost:6.2f} us/record\n")
        staged = staging.stage(files, Path(tmp), next(serial), needle)
        kept = sum(Path(c).read_bytes().count(b"\n") + 1 for c in staged.copies)
        reads = [staged.copies[i : i + 200] for i in range(0, len(staged.copies), 200)]
        cost = best(lambda: [connection.execute(query.duckdb_lines_sql(r)).fetchall() for r in reads])
        out.write(f"DuckDB read of the kept records     {cost:6.2f} us/record ({kept:,} of {records:,} kept)\n")
        for copy in staged.copies:  # the same records, comma-separated: the reading of the first pass
            Path(copy).write_bytes(Path(copy).read_bytes().replace(b"\n", b","))
        cost = best(lambda: [connection.execute(query.duckdb_records_sql(r)).fetchall() for r in reads])
        out.write(f"  instead: split at the separator   {cost:6.2f} us/record\n")
        start = time.process_time()
        for _ in range(10):
            connection.execute("EXPLAIN " + query.duckdb_lines_sql(reads[0])).fetchall()
        out.write(f"planning one read (EXPLAIN)         {(time.process_time() - start) * 100:6.2f} ms\n")
    connection.close()


def _per_record(out: Any, medians: dict[str, list[tuple[int, float]]]) -> None:
    """Per-record cost between consecutive sizes (start-up cancels out), and iamfit's lead on it."""
    costs: dict[str, dict[tuple[int, int], float]] = {}
    for tool, points in medians.items():
        costs[tool] = {}
        for (n1, t1), (n2, t2) in zip(points, points[1:], strict=False):
            costs[tool][(n1, n2)] = (t2 - t1) / (n2 - n1) * 1e6
            out.write(f"per record    {tool:<16} {n1:>9,} -> {n2:>9,}  {costs[tool][(n1, n2)]:7.2f} us\n")
    for kind in ("", " CPU"):
        for span, cost in costs["iamfit" + kind].items():
            if span in costs["trailscraper" + kind] and cost > 0:
                ratio = costs["trailscraper" + kind][span] / cost
                out.write(f"per record    ratio{kind:<8}{span[0]:>9,} -> {span[1]:>9,}  iamfit is {ratio:.1f}x\n")


def _summary(name: str, size: int, runs: list[Run]) -> str:
    median = statistics.median(r.seconds for r in runs)
    peak = max(r.peak_mib for r in runs)
    times = ", ".join(f"{r.seconds:.2f}" for r in runs)
    cpu = statistics.median(r.cpu for r in runs)
    return (
        f"{name:<13} N={size:>9,}  median {median:7.2f} s  {size / median:>10,.0f} records/s"
        f"  peak RSS {peak:7.1f} MiB  CPU {cpu:7.2f} s  (runs: {times})"
    )


if __name__ == "__main__":
    raise SystemExit(main())

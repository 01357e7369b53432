"""Discovery on the sandbox, per example: attempts and modeled minutes, seeded / from scratch / by hand.

Usage: python benchmarks/bench_discover.py
Goal (issue 5): iamfit's modeled time from scratch <= 10 % of the by-hand loop from scratch.
The by-hand loop is simulated in the same sandbox with the same timing table (iamfit/targets/sandbox/timing.py):
classic rollback, starting from nothing, one grant per failed deploy (the first failure it prints).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from iamfit.cli.discover import by_hand_estimate  # noqa: E402
from iamfit.discover import discover  # noqa: E402
from iamfit.journal import Journal  # noqa: E402
from iamfit.service.model import load_service  # noqa: E402
from iamfit.targets.sandbox import SandboxTarget  # noqa: E402


def main() -> None:
    rows = []
    for example in sorted(p for p in (REPO / "examples").iterdir() if (p / "serverless.yml").exists()):
        service = load_service(example, account="123456789012", compile_if_needed=False)
        out = {}
        for mode in ("seeded", "scratch"):
            start = time.perf_counter()
            result = discover(service, SandboxTarget(service, seed="bench"), Journal.create(Path(tempfile.mkdtemp())),
                              from_scratch=mode == "scratch")
            assert result.verified, (example.name, mode, result.stop)
            out[mode] = (len(result.attempts), sum(1 for a in result.attempts if a.reached_stack),
                         result.modeled_seconds / 60, time.perf_counter() - start, result)
        by_hand = by_hand_estimate(out["scratch"][4], service)
        rows.append((example.name, out, by_hand))
    print(f"{'example':<16} {'seeded':>16} {'from scratch':>26} {'by hand':>18} {'seeded/hand':>12} "
          f"{'scratch/hand':>13}")
    print(f"{'':<16} {'attempts  min':>16} {'attempts (cfn)  min':>26} {'attempts  min':>18}")
    worst = worst_seeded = 0.0
    for name, out, by_hand in rows:
        s_att, _, s_min, _, _ = out["seeded"]
        f_att, f_cfn, f_min, f_wall, _ = out["scratch"]
        h_min = by_hand["modeled_seconds"] / 60
        ratio, seeded_ratio = f_min / h_min, s_min / h_min
        worst, worst_seeded = max(worst, ratio), max(worst_seeded, seeded_ratio)
        print(f"{name:<16} {s_att:>8} {s_min:>7.1f} {f_att:>11} ({f_cfn:>2}) {f_min:>9.1f} "
              f"{by_hand['attempts']:>10} {h_min:>7.1f} {seeded_ratio:>12.1%} {ratio:>13.1%}")
    print(f"worst ratio to the by-hand loop: seeded {worst_seeded:.1%}, from scratch {worst:.1%} (goal <= 10%)")


if __name__ == "__main__":
    main()

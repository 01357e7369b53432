"""Discovery on the sandbox, per example: attempts and modeled minutes, seeded / from scratch / by hand.

Usage: python benchmarks/bench_discover.py
Goal (issue 5): iamfit's modeled time from scratch <= 10 % of the by-hand loop from scratch.
The by-hand loop is simulated in the same sandbox with the same timing table (iamfit/targets/sandbox/timing.py),
on the model of iamfit/by_hand.py: starting from nothing, grant every denial a failed attempt shows (the CLI's
error and every failed stack event's reason), classic rollback after each, through create, update and remove.

The second table runs the same by-hand model under the conditions of the one public measurement
(abefarris/cfn-least-privilege: ~20 rounds, 44 actions, a 23-resource stack, create + rollback + delete, the
CloudFormation role only, starting from ReadOnlyAccess): the CLI's calls and every read granted from the start
(iamfit.by_hand.experiment_start). See docs/discover.md, "The by-hand figure".
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from iamfit.by_hand import by_hand_estimate, experiment_start, simulate_by_hand  # noqa: E402
from iamfit.discover import discover  # noqa: E402
from iamfit.journal import Journal  # noqa: E402
from iamfit.service.model import load_service  # noqa: E402
from iamfit.targets.sandbox import SandboxTarget  # noqa: E402


def examples() -> list[Path]:
    return sorted(p for p in (REPO / "examples").iterdir() if (p / "serverless.yml").exists())


def main() -> None:
    rows = []
    for example in examples():
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
    print()
    print("by hand under the public experiment's conditions (CLI calls and reads granted from the start):")
    print(f"{'example':<16} {'resources':>9} {'create+remove':>24} {'update':>24}")
    print(f"{'':<16} {'':>9} {'failed attempts  actions':>24} {'failed attempts  actions':>24}")
    for example in examples():
        service = load_service(example, account="123456789012", compile_if_needed=False)
        hand = simulate_by_hand(service, SandboxTarget(service, seed="by-hand", disable_rollback=False),
                                Journal.create(Path(tempfile.mkdtemp())), start=experiment_start(service))
        assert hand.verified, (example.name, hand.stop)
        cells = []
        for phases in (("create", "remove"), ("update",)):
            failed = sum(1 for a in hand.attempts if a.phase in phases and not a.succeeded)
            actions = {(g.need.principal, g.need.action) for a in hand.attempts if a.phase in phases for g in a.grants}
            cells.append(f"{failed:>15} {len(actions):>8}")
        print(f"{example.name:<16} {len(service.resources):>9} {cells[0]:>24} {cells[1]:>24}")
    print("public measurement (abefarris/cfn-least-privilege): 23 resources, ~20 rounds, 44 actions "
          "(create, rollback, delete)")


if __name__ == "__main__":
    main()

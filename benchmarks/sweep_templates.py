"""Run `generate --split` and `plan --phase all` on every CloudFormation template under a directory; count how each
ended. A robustness sweep over real templates (issue 13: real templates find what the model gets wrong): the only
outcomes that are iamfit's bugs are an internal error (exit 70) and a plan that does not fit the policy generate
wrote for it.

Usage: python benchmarks/sweep_templates.py DIR [--region us-east-1] [--jobs 2] [--list]

Every ``*.json``, ``*.yaml``, ``*.yml`` and ``*.template`` file below DIR is tried (files that are not templates end
as bad input, exit 3, and are counted so). Each runs in-process through the CLI (click's runner), with the identity
flags a bare template needs. Prints one line per outcome with its count, then each internal error and each plan that
did not fit (with ``--list``, every file and its outcome). Exits 1 when there was an internal error or a misfit.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SUFFIXES = (".json", ".yaml", ".yml", ".template")
ACCOUNT = "123456789012"


def sweep_one(path: str, region: str) -> tuple[str, str, str]:
    """(path, outcome, detail): outcome is ``fits``, ``bad input``, ``usage``, ``internal error`` or ``misfit``."""
    from click.testing import CliRunner

    from iamfit.cli import cli

    identity = ["--service", "sweep", "--stage", "dev", "--region", region, "--account", ACCOUNT]
    with tempfile.TemporaryDirectory() as out:
        generated = CliRunner().invoke(cli, ["generate", path, *identity, "--split", "--out", out])
        if generated.exit_code != 0:
            return path, _outcome(generated.exit_code), _last_line(generated.stderr)
        policies: list[str] = []
        for name, flag in (("deployer", "--policy"), ("cloudformation", "--cfn-role-policy")):
            for policy in sorted(Path(out).glob(f"{name}*.json")):
                policies += [flag, str(policy)]
        planned = CliRunner().invoke(cli, ["plan", path, *identity, *policies, "--phase", "all", "--json"])
        if planned.exit_code == 0:
            return path, "fits", ""
        if planned.exit_code == 1:
            return path, "misfit", ", ".join(json.loads(planned.stdout).get("denied_actions", []))
        return path, _outcome(planned.exit_code), _last_line(planned.stderr)


def _outcome(code: int) -> str:
    return {2: "usage", 3: "bad input", 70: "internal error"}.get(code, f"exit {code}")


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith("iamfit: error") or "internal error" in line]
    return (lines or text.strip().splitlines() or [""])[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--list", action="store_true", help="every file and its outcome")
    args = parser.parse_args(argv)
    files = sorted(str(p.relative_to(args.directory)) for p in args.directory.rglob("*")
                   if p.is_file() and p.suffix in SUFFIXES and "node_modules" not in p.parts)
    root = args.directory.resolve()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = sorted(pool.map(sweep_one, [str(root / f) for f in files], [args.region] * len(files)))
    counts = collections.Counter(outcome for _, outcome, _ in results)
    print(f"{len(results)} file(s) under {args.directory}")
    for outcome, count in sorted(counts.items()):
        print(f"  {outcome:<15} {count}")
    for path, outcome, detail in results:
        if args.list or outcome in ("internal error", "misfit"):
            print(f"{outcome:<15} {Path(path).relative_to(root)}  {detail}")
    return 1 if counts["internal error"] or counts["misfit"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""Per template of the public corpus (tests/corpus): the resource actions `generate --split` grants against the raw
union of the registry handler permissions of the template's resource types (issue 13 §7).

Usage: python benchmarks/corpus_actions.py [--markdown]
Prints one row per template (the `precision` of `generate --report`: iamfit's resource actions vs the registry
union), then the totals. The identity flags a template needs come from tests/corpus/sources.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from iamfit.cli import cli

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"
TEMPLATE = "cloudformation-template-update-stack.json"
IDENTITY_STOP = re.compile(r"set (--service|--stage|--region)")


def generate(slug: str, source: dict[str, Any], out: Path) -> dict[str, Any]:
    template = CORPUS / "templates" / slug / TEMPLATE
    args = ["generate", "--split", "--account", "123456789012", "--out", str(out), "--report", str(out / "r.json")]
    result = CliRunner().invoke(cli, [*args, str(template)])
    if result.exit_code == 3 and IDENTITY_STOP.search(result.stderr):
        flags = [item for name, value in sorted(source.get("flags", {}).items()) for item in (f"--{name}", value)]
        result = CliRunner().invoke(cli, [*args, *flags, str(template)])
    if result.exit_code != 0:
        raise SystemExit(f"{slug}: generate exited {result.exit_code}: {result.stderr.strip()}")
    report: dict[str, Any] = json.loads((out / "r.json").read_text(encoding="utf-8"))
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    sources: dict[str, Any] = json.loads((CORPUS / "sources.json").read_text(encoding="utf-8"))["templates"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for slug, source in sorted(sources.items()):
            template = json.loads((CORPUS / "templates" / slug / TEMPLATE).read_text(encoding="utf-8"))
            report = generate(slug, source, Path(tmp) / slug)
            precision = report["precision"]
            rows.append(
                (
                    slug,
                    len(template["Resources"]),
                    len({r["Type"] for r in template["Resources"].values()}),
                    precision["iamfit_resource_actions"],
                    precision["registry_union_actions"],
                )
            )
    granted = sum(r[3] for r in rows)
    union = sum(r[4] for r in rows)
    if args.markdown:
        print("| template | resources | types | granted | registry union | share |")
        print("|---|---:|---:|---:|---:|---:|")
        for slug, resources, types, ours, theirs in rows:
            share = f"{ours / theirs:.0%}" if theirs else "-"
            print(f"| {slug} | {resources} | {types} | {ours} | {theirs} | {share} |")
        print(f"| **all {len(rows)}** | {sum(r[1] for r in rows)} | | **{granted}** | **{union}** | "
              f"**{granted / union:.0%}** |")
    else:
        width = max(len(r[0]) for r in rows)
        print(f"{'template':<{width}}  resources  types  granted  union  share")
        for slug, resources, types, ours, theirs in rows:
            share = f"{ours / theirs:.0%}" if theirs else "-"
            print(f"{slug:<{width}}  {resources:>9}  {types:>5}  {ours:>7}  {theirs:>5}  {share:>5}")
        print(f"{len(rows)} templates: {granted} resource actions granted vs {union} in the registry unions "
              f"({granted / union:.0%})")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

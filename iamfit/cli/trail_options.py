"""Options shared by the commands that read CloudTrail (replay, audit): the source, the window, AWS access,
and a progress bar on a terminal."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from iamfit.cli.options import check_region
from iamfit.errors import UsageError

_RELATIVE = re.compile(r"^(\d+)([dh])$")


def parse_when(value: str | None, now: datetime, option: str) -> datetime | None:
    """``90d`` / ``12h`` (before now), ``2026-10-01`` or an ISO 8601 time (UTC unless it says otherwise)."""
    if not value:
        return None
    m = _RELATIVE.match(value.strip())
    if m:
        amount = int(m.group(1))
        return now - (timedelta(days=amount) if m.group(2) == "d" else timedelta(hours=amount))
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} takes 90d, 12h, 2026-10-01 or an ISO 8601 time, got {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def trail_options(f: Any) -> Any:
    for decorator in reversed(
        [
            click.option("--since", help="Start of the window: 90d, 12h, a date or an ISO 8601 time."),
            click.option("--until", help="End of the window (default: now)."),
            click.option("--strict", is_flag=True, help="Exit 3 on any unreadable file or record "
                         "(default: count them, report them, read the rest)."),
            click.option("--athena-output", help="[athena] s3:// location for query results."),
            click.option("--athena-workgroup", help="[athena] Workgroup to run the query in."),
            click.option("--profile", help="AWS profile for s3://, lookup and athena sources (and IAM reads)."),
            click.option("--aws-region", callback=check_region,
                         help="AWS region of the clients (default: the profile's)."),
            click.option("--endpoint-url", help="Endpoint URL (LocalStack, moto server)."),
        ]
    ):
        f = decorator(f)
    return f


def client_factory(profile: str | None, region: str | None, endpoint_url: str | None) -> Callable[[str], Any]:
    """A boto3 client maker that builds the session only when a client is first needed."""
    cache: dict[str, Any] = {}

    def make(service: str) -> Any:
        if "session" not in cache:
            from iamfit.aws.session import operator_session

            cache["session"] = operator_session(profile=profile, region=region, endpoint_url=endpoint_url)
        return cache["session"].client(service)

    return make


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int | None, int], None] | None]:
    """A rich progress bar on stderr when it is a terminal (files, records, rate); nothing in pipes."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    started = datetime.now(UTC)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[records]:,} records, {task.fields[rate]:,.0f}/s"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(label, total=None, records=0, rate=0.0)

        def update(done: int, total: int | None, records: int) -> None:
            seconds = max((datetime.now(UTC) - started).total_seconds(), 1e-6)
            bar.update(task, completed=done, total=total, records=records, rate=records / seconds)

        yield update

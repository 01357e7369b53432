"""The CloudTrail log layout: ``AWSLogs/[o-org/]<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<file>``.

Filters on account, region and day are decided from the path (or S3 key) alone, before any file is opened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

_LAYOUT = re.compile(
    r"(?:^|/)AWSLogs/(?:o-[a-z0-9]+/)?(?P<account>\d{12})/CloudTrail/(?P<region>[a-z0-9-]+)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/[^/]+$"
)
LOG_SUFFIXES = (".json.gz", ".json")


@dataclass(frozen=True)
class LogPath:
    """What a standard log path says about its file."""

    account: str
    region: str
    day: date


def parse_log_path(path: str) -> LogPath | None:
    """The account, region and day of a path in the standard layout; None for any other path."""
    match = _LAYOUT.search(path.replace("\\", "/"))
    if match is None:
        return None
    try:
        day = date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        return None
    return LogPath(match["account"], match["region"], day)


@dataclass(frozen=True)
class LogFilter:
    """Which log files to open. Empty ``accounts``/``regions`` mean all; days are UTC and inclusive."""

    accounts: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    first_day: date | None = None
    last_day: date | None = None

    @classmethod
    def for_window(
        cls,
        since: datetime | None,
        until: datetime | None,
        accounts: tuple[str, ...] | frozenset[str] = (),
        regions: tuple[str, ...] | frozenset[str] = (),
    ) -> LogFilter:
        """A filter for events in [since, until]: a file is delivered up to a day after its events."""
        return cls(
            accounts=frozenset(accounts),
            regions=frozenset(regions),
            first_day=since.date() if since else None,
            last_day=(until.date() + timedelta(days=1)) if until else None,
        )

    def admits(self, path: str) -> bool:
        """True when the file may hold wanted records; paths outside the layout are kept unless filtered."""
        if not path.endswith(LOG_SUFFIXES) or "/CloudTrail-Digest/" in path or "/CloudTrail-Insight/" in path:
            return False
        where = parse_log_path(path)
        if where is None:
            return not (self.accounts or self.regions)
        if self.accounts and where.account not in self.accounts:
            return False
        if self.regions and where.region not in self.regions:
            return False
        if self.first_day and where.day < self.first_day:
            return False
        return not (self.last_day and where.day > self.last_day)

"""CloudTrail at scale: readers (files, S3, LookupEvents, Athena) and one reduction, run by DuckDB or Athena.

from iamfit.evidence.trail import LocalSource, aggregate
result = aggregate(LocalSource(Path("logs")), principal="arn:aws:iam::123456789012:role/deploy")
result.rows        # distinct (principal, action, resource, invoked_by, error) with counts, first/last seen
result.usages()    # -> Usage records;  result.denials() -> Denial records
result.stats       # files read/skipped (with reasons), records, bad records, unmapped events
"""

from iamfit.evidence.trail.layout import LogFilter, LogPath, parse_log_path
from iamfit.evidence.trail.model import Progress, ReadStats, SkippedFile, TrailAggregate, TrailRow
from iamfit.evidence.trail.query import Dialect, Partitioning, TrailQuery
from iamfit.evidence.trail.ratelimit import TokenBucket
from iamfit.evidence.trail.sources import (
    AthenaSource,
    LocalSource,
    LookupSource,
    S3Source,
    Source,
    aggregate,
    parse_source,
)

__all__ = [
    "AthenaSource",
    "Dialect",
    "LocalSource",
    "LogFilter",
    "LogPath",
    "LookupSource",
    "Partitioning",
    "Progress",
    "ReadStats",
    "S3Source",
    "SkippedFile",
    "Source",
    "TokenBucket",
    "TrailAggregate",
    "TrailQuery",
    "TrailRow",
    "aggregate",
    "parse_log_path",
    "parse_source",
]

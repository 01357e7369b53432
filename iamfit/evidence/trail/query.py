"""The one CloudTrail reduction, rendered for DuckDB (local files) and Athena/Trino (the CloudTrail table).

Both renderings group records to distinct (principal, eventSource, eventName, errorCode, errorMessage,
invokedBy, resource ARN, resource name, account, region) with a count and first/last eventTime. Field
paths are the same in both (DuckDB struct access and Trino row access are case-insensitive and both are
written ``r.useridentity.arn``); only request parameters (a struct here, a JSON string in Athena's table)
and the first ``resources[]`` element differ, and that difference lives in :class:`Dialect`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum

# Request parameters that name the resource of a call, in the order they are preferred.
RESOURCE_PARAMETERS = (
    "functionName",
    "stackName",
    "bucketName",
    "roleName",
    "logGroupName",
    "tableName",
    "queueUrl",
    "topicArn",
    "restApiId",
    "keyId",
    "repositoryName",
    "ruleName",
    "policyArn",
    "userName",
    "name",  # EventBridge rules (PutRule, PutTargets ...); last: other services use "name" for other things
)

# Columns of every reduced row, in order (the renderings and the engine agree on this).
GROUP_COLUMNS = (
    "kind",
    "filename",
    "principal",
    "event_source",
    "event_name",
    "error_code",
    "error_message",
    "invoked_by",
    "resource_arn",
    "resource_name",
    "account",
    "region",
)
AGGREGATE_COLUMNS = ("n", "first_seen", "last_seen")

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class Dialect(Enum):
    DUCKDB = "duckdb"
    TRINO = "trino"

    def request_parameter(self, name: str) -> str:
        if self is Dialect.DUCKDB:
            return f"r.requestparameters.{name}"
        return f"json_extract_scalar(r.requestparameters, '$.{name}')"

    def without_session(self, expr: str) -> str:
        """``expr`` with assumed-role session names replaced by ``*``, so denials group per role."""
        backref = "\\1" if self is Dialect.DUCKDB else "$1"
        return f"regexp_replace({expr}, 'assumed-role/([^/ ]+)/[^ ]+', 'assumed-role/{backref}/*')"

    @property
    def first_resource_arn(self) -> str:
        if self is Dialect.DUCKDB:
            return "r.resources[1].arn"
        return "element_at(r.resources, 1).arn"


class Partitioning(Enum):
    """How an Athena CloudTrail table is partitioned (the AWS documentation's two layouts, or none)."""

    NONE = "none"
    REGION_YEAR_MONTH_DAY = "region-year-month-day"  # PARTITIONED BY (region, year, month, day)
    TIMESTAMP = "timestamp"  # partition projection: "timestamp" = 'yyyy/MM/dd'


def literal(value: str) -> str:
    """A SQL string literal (both dialects double a single quote)."""
    return "'" + value.replace("'", "''") + "'"


def _file_list(files: list[str]) -> str:
    return "[" + ", ".join(literal(f) for f in files) + "]"


def format_time(moment: datetime) -> str:
    """CloudTrail's eventTime spelling, in UTC; it compares correctly as a string."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(TIME_FORMAT)


@dataclass(frozen=True)
class TrailQuery:
    """Which records to keep: one principal (or all) and a time window (inclusive)."""

    principal: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    # -- the shared pieces -------------------------------------------------------------------------------
    def predicate(self) -> str:
        parts = []
        if self.principal:
            p = literal(self.principal)
            parts.append(
                f"(r.useridentity.arn = {p} OR r.useridentity.sessioncontext.sessionissuer.arn = {p}"
                f" OR starts_with(r.useridentity.arn, {literal(self.principal + '/')}))"
            )
        if self.since:
            parts.append(f"r.eventtime >= {literal(format_time(self.since))}")
        if self.until:
            parts.append(f"r.eventtime <= {literal(format_time(self.until))}")
        return " AND ".join(parts) if parts else "TRUE"

    @staticmethod
    def group_expressions(dialect: Dialect) -> dict[str, str]:
        parameters = [(literal(name + "="), dialect.request_parameter(name)) for name in RESOURCE_PARAMETERS]
        if dialect is Dialect.DUCKDB:
            # The first parameter that is there, as the coalesce below, but DuckDB evaluates every argument of a
            # coalesce on every row (15 concatenations) and only the taken branch of a CASE: 0.12 us a record
            # less on the organization trail's mix (docs/performance.md, issue 15).
            resource_name = "CASE " + " ".join(f"WHEN {p} IS NOT NULL THEN {k} || {p}" for k, p in parameters) + " END"
        else:
            resource_name = "coalesce(" + ", ".join(f"{k} || {p}" for k, p in parameters) + ")"
        return {
            "principal": "coalesce(r.useridentity.sessioncontext.sessionissuer.arn, r.useridentity.arn,"
            " r.useridentity.invokedby)",
            "event_source": "r.eventsource",
            "event_name": "r.eventname",
            "error_code": "r.errorcode",
            "error_message": f"CASE WHEN r.errorcode IS NOT NULL THEN {dialect.without_session('r.errormessage')} END",
            "invoked_by": "coalesce(r.useridentity.invokedby,"
            " CASE WHEN r.sourceipaddress LIKE '%.amazonaws.com' THEN r.sourceipaddress END)",
            "resource_arn": dialect.first_resource_arn,
            "resource_name": resource_name,
            "account": "r.recipientaccountid",
            "region": "r.awsregion",
        }

    # -- DuckDB over a list of local files -----------------------------------------------------------------
    def duckdb_sql(self, files: list[str], max_object_bytes: int = 512 * 1024 * 1024) -> str:
        """One scan over CloudTrail files of any JSON shape: each file is parsed whole, then its Records.

        Every record lands in exactly one group, so the counts add up. ``kind`` is ``ok`` (matched),
        ``other`` (did not match, all keys NULL), ``bad`` (a required field is missing, or the element is not
        an object) or ``norecords`` (the file has no Records array; keyed by filename).
        """
        return self._duckdb_reduce(
            f"""f AS (
  SELECT filename, from_json(json, {literal(DUCKDB_FILE_SCHEMA)}) AS d
  FROM read_json_objects({_file_list(files)}, format = 'unstructured', filename = true,
                         maximum_object_size = {max_object_bytes})
),
u AS (
  SELECT filename, d.Records IS NULL AS missing,
    unnest(CASE WHEN d.Records IS NULL THEN [NULL] ELSE d.Records END) AS r
  FROM f
)"""
        )

    def duckdb_records_sql(self, files: list[str]) -> str:
        """The same reduction over staged copies: each holds a compact file's records, ``{...},{...}``.

        DuckDB splits each copy at ``,{"eventVersion":`` and parses each piece on its own, into only the fields
        the query uses: about twice as fast as parsing each file whole and then its Records. That sequence
        cannot occur inside a JSON string (its quotes would be escaped); where it occurs inside a record (an
        object whose first key is eventVersion) or records are separated by more than a comma, some piece is
        not exactly one JSON object, ``from_json`` fails, and the engine reads those files whole instead. So
        every piece that is parsed is a whole record. There is no ``norecords``.
        """
        first = literal('{"eventVersion":')
        return self._duckdb_reduce(
            f"""u AS (
  SELECT NULL AS filename, FALSE AS missing,
    from_json(CASE WHEN starts_with(piece, {first}) THEN piece ELSE {first} || piece END,
              {literal(DUCKDB_RECORD_SCHEMA)}) AS r
  FROM (SELECT unnest(string_split(content, {literal(',{"eventVersion":')})) AS piece
        FROM read_text({_file_list(files)}))
)"""
        )

    def duckdb_lines_sql(self, files: list[str]) -> str:
        """The same reduction over newline-delimited copies, one record a line (``staging.to_records``): each line
        parsed by ``from_json``, about twice as fast as :meth:`duckdb_records_sql`'s split at the separator, which
        then prefixes each piece (measured; ``read_ndjson_objects`` is slower, it parses each line twice). A line
        that is not one JSON object fails the query, and the engine reads those files whole."""
        return self._duckdb_reduce(
            f"""u AS (
  SELECT NULL AS filename, FALSE AS missing, from_json(line, {literal(DUCKDB_RECORD_SCHEMA)}) AS r
  FROM (SELECT unnest(string_split(content, chr(10))) AS line FROM read_text({_file_list(files)}))
)"""
        )

    def _duckdb_reduce(self, records_cte: str) -> str:
        bad = (
            "r IS NULL OR r.eventtime IS NULL OR r.eventsource IS NULL OR r.eventname IS NULL OR r.useridentity IS NULL"
        )
        keys = self.group_expressions(Dialect.DUCKDB)
        selected = ",\n  ".join(f"CASE WHEN kind = 'ok' THEN {expr} END AS {name}" for name, expr in keys.items())
        return f"""
WITH {records_cte},
k AS (
  SELECT filename, r,
    CASE WHEN missing THEN 'norecords' WHEN {bad} THEN 'bad' WHEN {self.predicate()} THEN 'ok'
         ELSE 'other' END AS kind
  FROM u
)
SELECT kind,
  CASE WHEN kind = 'norecords' THEN filename END AS filename,
  {selected},
  count(*) AS n,
  min(CASE WHEN kind = 'ok' THEN r.eventtime END) AS first_seen,
  max(CASE WHEN kind = 'ok' THEN r.eventtime END) AS last_seen
FROM k
GROUP BY ALL
"""

    # -- Athena (Trino) over the standard CloudTrail table ------------------------------------------------
    def athena_sql(
        self,
        table: str,
        partitioning: Partitioning = Partitioning.NONE,
        regions: tuple[str, ...] = (),
    ) -> str:
        keys = self.group_expressions(Dialect.TRINO)
        selected = ",\n  ".join(f"{expr} AS {name}" for name, expr in keys.items())
        where = [self.predicate(), *self.partition_filters(partitioning, regions)]
        group_by = ", ".join(str(i) for i in range(3, 3 + len(keys)))
        return f"""SELECT 'ok' AS kind,
  CAST(NULL AS varchar) AS filename,
  {selected},
  count(*) AS n,
  min(r.eventtime) AS first_seen,
  max(r.eventtime) AS last_seen
FROM {table} AS r
WHERE {" AND ".join(where)}
GROUP BY {group_by}
ORDER BY {group_by}"""

    def partition_filters(self, partitioning: Partitioning, regions: tuple[str, ...]) -> list[str]:
        """Predicates on partition columns so Athena reads only the days and regions asked for."""
        out: list[str] = []
        if partitioning is Partitioning.NONE:
            return out
        if regions and partitioning is Partitioning.REGION_YEAR_MONTH_DAY:
            out.append("region IN (" + ", ".join(literal(r) for r in sorted(regions)) + ")")
        if self.since is None and self.until is None:
            return out
        first = self.since.date() if self.since else None
        last = (self.until.date() + timedelta(days=1)) if self.until else None
        if partitioning is Partitioning.TIMESTAMP:
            if first:
                out.append(f'"timestamp" >= {literal(first.strftime("%Y/%m/%d"))}')
            if last:
                out.append(f'"timestamp" <= {literal(last.strftime("%Y/%m/%d"))}')
            return out
        if first and last:
            out.append("(" + " OR ".join(_month_ranges(first, last)) + ")")
        elif first:
            out.append(f"concat(year, month, day) >= {literal(first.strftime('%Y%m%d'))}")
        elif last:
            out.append(f"concat(year, month, day) <= {literal(last.strftime('%Y%m%d'))}")
        return out


def _month_ranges(first: date, last: date) -> list[str]:
    """``(year = 'Y' AND month = 'M' AND day BETWEEN 'a' AND 'b')`` per month of [first, last]."""
    out = []
    start = first
    while start <= last:
        next_month = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        end = min(last, next_month - timedelta(days=1))
        out.append(
            f"(year = {literal(f'{start.year:04d}')} AND month = {literal(f'{start.month:02d}')}"
            f" AND day BETWEEN {literal(f'{start.day:02d}')} AND {literal(f'{end.day:02d}')})"
        )
        start = next_month
    return out


# The fields of a CloudTrail file that the reduction reads; from_json ignores every other key.
_RECORD_SCHEMA = {
    "eventTime": "VARCHAR",
    "eventSource": "VARCHAR",
    "eventName": "VARCHAR",
    "awsRegion": "VARCHAR",
    "recipientAccountId": "VARCHAR",
    "sourceIPAddress": "VARCHAR",
    "errorCode": "VARCHAR",
    "errorMessage": "VARCHAR",
    "userIdentity": {
        "type": "VARCHAR",
        "arn": "VARCHAR",
        "invokedBy": "VARCHAR",
        "sessionContext": {"sessionIssuer": {"arn": "VARCHAR"}},
    },
    "requestParameters": dict.fromkeys(RESOURCE_PARAMETERS, "VARCHAR"),
    "resources": [{"ARN": "VARCHAR"}],
}
DUCKDB_FILE_SCHEMA = json.dumps({"Records": [_RECORD_SCHEMA]}, separators=(",", ":"))
DUCKDB_RECORD_SCHEMA = json.dumps(_RECORD_SCHEMA, separators=(",", ":"))

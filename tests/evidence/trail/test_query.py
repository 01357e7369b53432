from __future__ import annotations

from datetime import UTC, datetime

from iamfit.evidence.trail import Partitioning, TrailQuery

WINDOW = TrailQuery(
    principal="arn:aws:iam::123456789012:role/o'deploy",
    since=datetime(2026, 9, 28, 8, tzinfo=UTC),
    until=datetime(2026, 10, 2, tzinfo=UTC),
)


def test_shared_predicate_is_in_both_dialects() -> None:
    predicate = WINDOW.predicate()
    assert "'arn:aws:iam::123456789012:role/o''deploy'" in predicate  # quotes doubled
    assert "r.eventtime >= '2026-09-28T08:00:00Z'" in predicate
    assert predicate in WINDOW.duckdb_sql(["a.json.gz"])
    assert predicate in WINDOW.duckdb_records_sql(["a.json"])
    assert predicate in WINDOW.athena_sql("db.cloudtrail_logs")


def test_both_duckdb_readings_share_the_reduction() -> None:
    """Whole files and staged copies differ only in how records are read, not in what is done with them."""
    whole = WINDOW.duckdb_sql(["a.json.gz"])
    staged = WINDOW.duckdb_records_sql(["a.json"])
    assert whole[whole.index("k AS (") :] == staged[staged.index("k AS (") :]
    assert "string_split(content, ',{\"eventVersion\":')" in staged


def test_dialects_differ_only_in_request_parameters_and_resources() -> None:
    duck = WINDOW.duckdb_sql(["a.json.gz"])
    athena = WINDOW.athena_sql("db.cloudtrail_logs")
    assert "r.requestparameters.functionName" in duck
    assert "json_extract_scalar(r.requestparameters, '$.functionName')" in athena
    assert "r.resources[1].arn" in duck and "element_at(r.resources, 1).arn" in athena
    assert "FROM db.cloudtrail_logs AS r" in athena


def test_partition_filters() -> None:
    assert WINDOW.partition_filters(Partitioning.NONE, ("us-east-1",)) == []
    ymd = WINDOW.partition_filters(Partitioning.REGION_YEAR_MONTH_DAY, ("us-east-1", "eu-west-1"))
    assert ymd[0] == "region IN ('eu-west-1', 'us-east-1')"
    assert ymd[1] == (
        "((year = '2026' AND month = '09' AND day BETWEEN '28' AND '30')"
        " OR (year = '2026' AND month = '10' AND day BETWEEN '01' AND '03'))"
    )
    ts = WINDOW.partition_filters(Partitioning.TIMESTAMP, ())
    assert ts == ["\"timestamp\" >= '2026/09/28'", "\"timestamp\" <= '2026/10/03'"]
    assert TrailQuery().partition_filters(Partitioning.TIMESTAMP, ()) == []


def test_duckdb_resource_name_is_the_first_parameter_there_as_athenas_coalesce() -> None:
    """DuckDB's resource name is a CASE (only the taken branch is evaluated, unlike a coalesce's 15
    concatenations); it picks the same parameter as Athena's coalesce: the first of RESOURCE_PARAMETERS that is
    not null, prefixed with its name."""
    import duckdb

    from iamfit.evidence.trail.query import RESOURCE_PARAMETERS, Dialect

    expression = TrailQuery.group_expressions(Dialect.DUCKDB)["resource_name"]
    assert expression.startswith("CASE WHEN r.requestparameters.functionName IS NOT NULL")
    assert "coalesce" in TrailQuery.group_expressions(Dialect.TRINO)["resource_name"]
    fields = ", ".join(f"{name} VARCHAR" for name in RESOURCE_PARAMETERS)
    cases = [{}, {"roleName": "r"}, {"roleName": "r", "bucketName": "b"}, {"name": "n", "userName": "u"}]
    for params in cases:
        values = ", ".join(
            f"{name} := '{params[name]}'" if name in params else f"{name} := NULL::VARCHAR"
            for name in RESOURCE_PARAMETERS
        )
        got = duckdb.connect().execute(
            f"SELECT {expression} FROM (SELECT {{'requestparameters': struct_pack({values})}}::"
            f"STRUCT(requestparameters STRUCT({fields})) AS r)"
        ).fetchone()
        first = next((f"{name}={params[name]}" for name in RESOURCE_PARAMETERS if name in params), None)
        assert got == (first,)

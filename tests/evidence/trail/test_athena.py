"""AthenaSource: the requests (Stubber), and its Trino SQL run on DuckDB over an Athena-shaped table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import duckdb
import pytest
from botocore.stub import Stubber

from iamfit.errors import AwsError
from iamfit.evidence.trail import AthenaSource, Partitioning, TrailQuery, aggregate

from .records import ACCOUNT, DEPLOY_ROLE, record

SINCE = datetime(2026, 10, 2, tzinfo=UTC)
FN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"


def cells(*values: str | None) -> dict[str, Any]:
    return {"Data": [{"VarCharValue": v} if v is not None else {} for v in values]}


def group(name: str, count: str, invoked: str | None = None) -> dict[str, Any]:
    return cells(
        "ok",
        None,
        DEPLOY_ROLE,
        "lambda.amazonaws.com",
        name,
        None,
        None,
        invoked,
        None,
        "functionName=f",
        ACCOUNT,
        "us-east-1",
        count,
        "2026-10-02T10:00:00Z",
        "2026-10-02T11:00:00Z",
    )


def test_requests_polling_and_paging() -> None:
    client = boto3.client("athena", region_name="us-east-1")
    source = AthenaSource(
        client,
        "trails.cloudtrail_logs",
        output_location="s3://results/",
        workgroup="wg",
        partitioning=Partitioning.REGION_YEAR_MONTH_DAY,
        regions=("us-east-1",),
        poll_seconds=2,
        sleep=lambda s: None,
    )
    sql = TrailQuery(principal=DEPLOY_ROLE, since=SINCE).athena_sql(
        "trails.cloudtrail_logs", Partitioning.REGION_YEAR_MONTH_DAY, ("us-east-1",)
    )
    assert "region IN ('us-east-1')" in sql and "concat(year, month, day) >= '20261002'" in sql
    stub = Stubber(client)
    stub.add_response(
        "start_query_execution",
        {"QueryExecutionId": "q1"},
        {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": "trails"},
            "ResultConfiguration": {"OutputLocation": "s3://results/"},
            "WorkGroup": "wg",
        },
    )
    stub.add_response(
        "get_query_execution",
        {"QueryExecution": {"Status": {"State": "RUNNING"}}},
        {"QueryExecutionId": "q1"},
    )
    stub.add_response(
        "get_query_execution",
        {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}},
        {"QueryExecutionId": "q1"},
    )
    header = cells(*["h"] * 15)
    stub.add_response(
        "get_query_results",
        {
            "ResultSet": {"Rows": [header, group("CreateFunction20150331", "3", "cloudformation.amazonaws.com")]},
            "NextToken": "p2",
        },
        {"QueryExecutionId": "q1", "MaxResults": 1000},
    )
    stub.add_response(
        "get_query_results",
        {"ResultSet": {"Rows": [group("GetFunction20150331v2", "5")]}},
        {"QueryExecutionId": "q1", "MaxResults": 1000, "NextToken": "p2"},
    )
    with stub:
        result = aggregate(source, principal=DEPLOY_ROLE, since=SINCE)
        stub.assert_no_pending_responses()
    assert [(r.action, r.resource, r.invoked_by, r.count) for r in result.rows] == [
        ("lambda:CreateFunction", FN, "cloudformation.amazonaws.com", 3),
        ("lambda:GetFunction", FN, None, 5),
    ]
    assert result.stats.matched_records == 8


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED"])
def test_failed_query_is_an_aws_error(state: str) -> None:
    client = boto3.client("athena", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_response("start_query_execution", {"QueryExecutionId": "q1"})
    stub.add_response(
        "get_query_execution",
        {"QueryExecution": {"Status": {"State": state, "StateChangeReason": "TABLE_NOT_FOUND"}}},
    )
    with stub, pytest.raises(AwsError, match=f"{state.lower()}: TABLE_NOT_FOUND"):
        aggregate(AthenaSource(client, "db.t", sleep=lambda s: None))


def test_start_error_is_an_aws_error() -> None:
    client = boto3.client("athena", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("start_query_execution", "InvalidRequestException")
    with stub, pytest.raises(AwsError, match="InvalidRequestException"):
        aggregate(AthenaSource(client, "db.t"))


def test_trino_sql_runs_on_an_athena_shaped_table() -> None:
    """Athena's table keeps requestParameters as a JSON string; DuckDB gets two tiny Trino-named macros."""
    con = duckdb.connect()
    con.execute("CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)")
    con.execute("CREATE MACRO element_at(l, i) AS l[i]")
    con.execute("""CREATE TABLE cloudtrail_logs (
        eventtime VARCHAR, eventsource VARCHAR, eventname VARCHAR, awsregion VARCHAR,
        recipientaccountid VARCHAR,
        sourceipaddress VARCHAR, errorcode VARCHAR, errormessage VARCHAR,
        useridentity STRUCT(type VARCHAR, arn VARCHAR, invokedby VARCHAR,
                            sessioncontext STRUCT(sessionissuer STRUCT(arn VARCHAR))),
        requestparameters VARCHAR, resources STRUCT(arn VARCHAR)[],
        region VARCHAR, year VARCHAR, month VARCHAR, day VARCHAR)""")
    recs = [
        record(invoked_by="cloudformation.amazonaws.com", params={"functionName": "f"}),
        record(
            invoked_by="cloudformation.amazonaws.com",
            params={"functionName": "f"},
            when="2026-10-02T11:00:00Z",
        ),
        record("s3.amazonaws.com", "HeadObject", resources=[{"ARN": "arn:aws:s3:::b/k"}]),
        record(who="user"),
        record(when="2026-09-30T10:00:00Z"),
    ]
    for r in recs:
        ui = r["userIdentity"]
        issuer = ui.get("sessionContext", {}).get("sessionIssuer", {}).get("arn")
        con.execute(
            "INSERT INTO cloudtrail_logs VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?, ?, ?)",
            [
                r["eventTime"],
                r["eventSource"],
                r["eventName"],
                "us-east-1",
                ACCOUNT,
                r["sourceIPAddress"],
                {
                    "type": ui["type"],
                    "arn": ui["arn"],
                    "invokedby": ui.get("invokedBy"),
                    "sessioncontext": {"sessionissuer": {"arn": issuer}},
                },
                json.dumps(r["requestParameters"]),
                [{"arn": x["ARN"]} for x in r.get("resources", [])],
                "us-east-1",
                r["eventTime"][:4],
                r["eventTime"][5:7],
                r["eventTime"][8:10],
            ],
        )
    sql = TrailQuery(principal=DEPLOY_ROLE, since=SINCE).athena_sql(
        "cloudtrail_logs", Partitioning.REGION_YEAR_MONTH_DAY, ("us-east-1",)
    )
    rows = con.execute(sql).fetchall()
    got = {(r[4], r[7], r[8], r[9], r[12]) for r in rows}
    assert got == {
        ("CreateFunction20150331", "cloudformation.amazonaws.com", None, "functionName=f", 2),
        ("HeadObject", None, "arn:aws:s3:::b/k", None, 1),
    }

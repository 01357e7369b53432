from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from iamfit.errors import BadInputError
from iamfit.evidence.trail import AthenaSource, LocalSource, LookupSource, Partitioning, S3Source, parse_source


def fake_clients(made: list[str]) -> Any:
    def client(service: str) -> str:
        made.append(service)
        return f"<{service}>"

    return client


def test_each_spelling_names_its_source() -> None:
    made: list[str] = []
    clients = fake_clients(made)
    assert parse_source("logs/trail", clients, regions=("us-east-1",)) == LocalSource(
        Path("logs/trail"), regions=("us-east-1",)
    )
    assert made == []  # local paths never build a client
    s3 = parse_source("s3://bucket/AWSLogs/o-1/", clients)
    assert isinstance(s3, S3Source) and (s3.bucket, s3.prefix, s3.client) == ("bucket", "AWSLogs/o-1/", "<s3>")
    assert isinstance(parse_source("lookup", clients), LookupSource)
    athena = parse_source(
        "athena:trails.cloudtrail_logs", clients, athena_output="s3://out/", partitioning=Partitioning.TIMESTAMP
    )
    assert isinstance(athena, AthenaSource)
    assert (athena.table, athena.output_location, athena.partitioning) == (
        "trails.cloudtrail_logs",
        "s3://out/",
        Partitioning.TIMESTAMP,
    )
    assert made == ["s3", "cloudtrail", "athena"]


@pytest.mark.parametrize("spec", ["s3://", "athena:nodot", "athena:db.t; DROP TABLE x"])
def test_bad_specs(spec: str) -> None:
    with pytest.raises(BadInputError):
        parse_source(spec, fake_clients([]))


def test_aws_source_without_a_session() -> None:
    with pytest.raises(BadInputError, match="needs AWS access"):
        parse_source("lookup")

"""S3Source on moto: path filtering on keys, concurrent downloads, unreadable objects and prefixes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from iamfit.errors import AwsError
from iamfit.evidence.trail import S3Source, aggregate

from .records import DEPLOY_ROLE, log_key, payload, record

BUCKET = "org-trail"


@mock_aws
def test_reads_filtered_keys_from_a_prefix(tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    for n in range(6):
        s3.put_object(
            Bucket=BUCKET,
            Key="trail/" + log_key(n=n),
            Body=payload([record(), record("s3.amazonaws.com", "ListObjects")]),
        )
    s3.put_object(Bucket=BUCKET, Key="trail/" + log_key("eu-west-1"), Body=b"never opened")
    s3.put_object(Bucket=BUCKET, Key="trail/" + log_key(day="2026/08/01"), Body=b"never opened")
    s3.put_object(Bucket=BUCKET, Key="other/" + log_key(), Body=b"outside the prefix")
    source = S3Source(s3, BUCKET, "trail/", regions=("us-east-1",), workers=3, work_dir=tmp_path)

    calls: list[tuple[int, int | None, int]] = []
    result = aggregate(
        source,
        principal=DEPLOY_ROLE,
        since=datetime(2026, 10, 1, tzinfo=UTC),
        batch_files=4,
        progress=lambda *a: calls.append(a),
    )
    assert [(r.action, r.count) for r in result.rows] == [("lambda:CreateFunction", 6), ("s3:ListBucket", 6)]
    assert result.stats.files_read == 6 and result.stats.files_skipped == ()
    assert calls[-1] == (6, 6, 12)
    assert list(tmp_path.iterdir()) == []  # downloads are removed as soon as they are read


def test_unreadable_object_is_skipped_not_fatal(tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    stub = Stubber(s3)
    key = log_key()
    stub.add_response("list_objects_v2", {"Contents": [{"Key": key}], "IsTruncated": False})
    stub.add_client_error("get_object", "AccessDenied", http_status_code=403)
    with stub:
        result = aggregate(S3Source(s3, BUCKET, workers=1, work_dir=tmp_path))
    (skipped,) = result.stats.files_skipped
    assert skipped.path == f"s3://{BUCKET}/{key}" and skipped.reason == "download failed: AccessDenied"
    assert result.rows == ()


@pytest.mark.parametrize("code", ["AccessDenied", "NoSuchBucket"])
def test_unreadable_prefix_is_an_aws_error(code: str) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    stub = Stubber(s3)
    stub.add_client_error("list_objects_v2", code, http_status_code=403)
    with stub, pytest.raises(AwsError, match=f"cannot list s3://{BUCKET}/logs: {code}") as raised:
        aggregate(S3Source(s3, BUCKET, "logs"))
    assert raised.value.exit_code == 4


@mock_aws
def test_missing_bucket_on_moto() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    with pytest.raises(AwsError, match="NoSuchBucket"):
        aggregate(S3Source(s3, "no-such-bucket"))

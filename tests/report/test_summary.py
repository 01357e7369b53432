"""The Markdown summaries (``--summary FILE``) of check, audit and discover: golden files, determinism, and
valid Mermaid -- parsed by Mermaid's own parser (tests/report/mermaid, run with node in jsdom) when node is
installed, and always checked against the Gantt grammar's keywords and separators here.

Regenerate the golden files after an intended change:
    IAMFIT_UPDATE_GOLDEN=1 pytest tests/report/test_summary.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamfit.audit import audit
from iamfit.check import Grants, PolicyInput, check_service
from iamfit.cli import cli
from iamfit.discover import DiscoveryResult, discover
from iamfit.evidence.trail.model import TrailRow
from iamfit.journal import Journal
from iamfit.policy.document import PolicyDocument
from iamfit.report.summary import audit_summary, check_summary, discover_summary
from iamfit.service.model import load_service
from iamfit.targets.sandbox import SandboxTarget

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
GOLDEN = Path(__file__).parent / "golden"
MERMAID = Path(__file__).parent / "mermaid"
ACCOUNT = "123456789012"
BY_HAND = {
    "attempts": 154,
    "modeled_seconds": 21318.4,
    "assumes": "simulated in the sandbox: from nothing, classic rollback, one grant per failed deploy",
}


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("IAMFIT_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed (IAMFIT_UPDATE_GOLDEN=1 to accept)"


def mermaid_blocks(markdown: str) -> list[str]:
    assert markdown.count("```") % 2 == 0, "unbalanced code fences"
    return re.findall(r"^```mermaid\n(.*?)^```$", markdown, flags=re.S | re.M)


def assert_gantt_grammar(diagram: str) -> None:
    """The Gantt grammar's shape: the keyword, one dateFormat, sections, and tasks ``name :tags, id, start, end``
    whose name holds none of Mermaid's separators (``:`` ``#`` ``;``) and whose times are integers, end > start."""
    lines = diagram.splitlines()
    assert lines[0] == "gantt"
    keywords = ("title ", "dateFormat ", "axisFormat ", "section ")
    ids: set[str] = set()
    previous_end = 0
    for line in lines[1:]:
        body = line.strip()
        if body.startswith(keywords):
            assert body.startswith("axisFormat ") or not any(c in body for c in ":#;"), line
            continue
        name, sep, data = body.partition(" :")
        assert sep and name and not any(c in name for c in ":#;"), line
        tag, task_id, start, end = (p.strip() for p in data.split(","))
        assert tag in ("crit", "active", "done"), line
        assert re.fullmatch(r"[a-z][a-z0-9]*", task_id) and task_id not in ids, line
        ids.add(task_id)
        assert int(start) == previous_end and int(end) > int(start), line  # bars follow one another
        previous_end = int(end)
    assert ids, "no tasks"
    assert sum(1 for ln in lines if ln.strip().startswith("dateFormat ")) == 1


def assert_mermaid_parses(tmp_path: Path, diagrams: list[str]) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: Mermaid's own parser cannot run (the grammar checks above did)")
    assert (MERMAID / "node_modules" / "mermaid").is_dir(), (
        "Mermaid's parser is not installed: run `npm ci --prefix tests/report/mermaid` (scripts/test does)"
    )
    files = []
    for i, diagram in enumerate(diagrams):
        path = tmp_path / f"diagram-{i}.mmd"
        path.write_text(diagram, encoding="utf-8")
        files.append(str(path))
    done = subprocess.run([node, str(MERMAID / "check.mjs"), *files], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(" ok gantt") == len(diagrams), done.stdout


def from_scratch(tmp_path: Path, seed: str = "summary") -> DiscoveryResult:
    service = load_service(EXAMPLES / "rest-api", account=ACCOUNT, compile_if_needed=False)
    return discover(service, SandboxTarget(service, seed=seed), Journal.create(tmp_path / seed), from_scratch=True)


# --- discover ----------------------------------------------------------------------------------------


def test_discover_summary_golden_and_deterministic(tmp_path: Path) -> None:
    first = from_scratch(tmp_path, "one")
    second = from_scratch(tmp_path, "two")  # another run id and sandbox seed: the same summary
    assert first.run_id != second.run_id
    text = discover_summary(first, BY_HAND)
    assert text == discover_summary(second, BY_HAND)
    assert first.run_id not in text
    golden("discover-rest-api-from-scratch.md", text)
    assert "**VERIFIED in the sandbox model**" in text and "not AWS" in text
    # every attempt has a bar and a table row naming what it reached and what was denied
    diagrams = mermaid_blocks(text)
    assert len(diagrams) == 1
    assert diagrams[0].count(":crit,") == sum(1 for a in first.attempts if not a.succeeded)
    assert "| create | 2 | failed (CREATE_FAILED) | " in text and "ServerlessDeploymentBucket ✗" in text
    assert "`s3:CreateBucket`" in text
    assert "| AWS::S3::Bucket | " in text  # grants per resource type
    assert "| by hand | 154 | 5h55m |" in text and "- assumes: simulated in the sandbox" in text


def test_discover_summary_mermaid_is_valid(tmp_path: Path) -> None:
    result = from_scratch(tmp_path)
    seeded = discover(result.service, SandboxTarget(result.service, seed="s"), Journal.create(tmp_path / "seeded"))
    diagrams = [d for r in (result, seeded) for d in mermaid_blocks(discover_summary(r))]
    for diagram in diagrams:
        assert_gantt_grammar(diagram)
    assert_mermaid_parses(tmp_path, diagrams)


def test_a_stopped_discovery_says_why_and_what_to_do(tmp_path: Path) -> None:
    service = load_service(EXAMPLES / "rest-api", account=ACCOUNT, compile_if_needed=False)
    deny = PolicyDocument.from_json(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                                                {"Effect": "Deny", "Action": "dynamodb:CreateTable", "Resource": "*"}]}
    )
    result = discover(service, SandboxTarget(service, seed="t", scps=(deny,)), Journal.create(tmp_path))
    assert not result.verified
    text = discover_summary(result)
    assert text.startswith("## iamfit discover: `iamfit-rest-api`\n\n**STOPPED** (not-fixable-by-granting)")
    assert "dynamodb:CreateTable" in text and "VERIFIED" not in text
    assert_gantt_grammar(mermaid_blocks(text)[0])


def test_cli_discover_from_scratch_writes_a_summary_with_a_mermaid_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(
        cli, ["discover", str(EXAMPLES / "rest-api"), "--from-scratch", "--account", ACCOUNT, "--summary", "s.md"]
    )
    assert done.exit_code == 0, done.output
    text = (tmp_path / "s.md").read_text(encoding="utf-8")
    assert "```mermaid\ngantt\n" in text
    assert "### Against the by-hand loop" in text and "- assumes: " in text


# --- check -------------------------------------------------------------------------------------------


def drifted_policy(tmp_path: Path) -> Path:
    """policies/rest-api/deployer.json without dynamodb:CreateTable and with an action nobody needs."""
    raw = json.loads((REPO / "policies" / "rest-api" / "deployer.json").read_text(encoding="utf-8"))
    for st in raw["Statement"]:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if "dynamodb:CreateTable" in actions:
            st["Action"] = [a for a in actions if a != "dynamodb:CreateTable"] + ["dynamodb:DeleteBackup"]
    path = tmp_path / "policies" / "deployer.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    return path


def test_check_summary_golden_with_findings_and_policy_diff(tmp_path: Path) -> None:
    service_dir = tmp_path / "service"
    shutil.copytree(EXAMPLES / "rest-api", service_dir)
    policy = drifted_policy(tmp_path)
    # away from examples/node_modules no installed CLI tells the Framework: name the one the policy is for
    service = load_service(service_dir, account=ACCOUNT, compile_if_needed=False, framework="osls")
    grants = {"deployer": Grants((PolicyInput.from_file(policy),))}
    result = check_service(service, grants)
    text = check_summary(result, None, grants, root=tmp_path)
    golden("check-rest-api-drift.md", text)
    assert text.startswith("## iamfit check: `iamfit-rest-api`\n\n**FAIL**: 1 missing, 1 excess")
    row = next(ln for ln in text.splitlines() if ln.startswith("| IAMFIT-C001 |"))
    assert "`dynamodb:CreateTable`" in row and "`service/serverless.yml:" in row
    assert "resources.Resources.ItemsTable" in row
    assert "<details>\n<summary>Policy diff" in text
    diff = text.split("```diff\n", 1)[1].split("```", 1)[0].splitlines()
    sid = next(ln for ln in diff if ln.startswith("@@ policies/deployer.json Sid Dynamodb"))
    block = diff[diff.index(sid) + 1:]
    assert "- dynamodb:DeleteBackup" in block[:2]
    assert any(ln.startswith("+ dynamodb:CreateTable    on arn:aws:dynamodb:") for ln in block)


def test_check_summary_of_a_fitting_policy(tmp_path: Path) -> None:
    service = load_service(EXAMPLES / "rest-api", account=ACCOUNT, compile_if_needed=False)
    grants = {"deployer": Grants((PolicyInput.from_file(REPO / "policies" / "rest-api" / "deployer.json"),))}
    text = check_summary(check_service(service, grants), None, grants, root=REPO)
    assert "**OK**: the policies fit the service" in text
    assert "### Findings" not in text and "Policy diff" not in text
    assert "| deployer | " in text and "`policies/rest-api/deployer.json`" in text


def test_cli_check_writes_the_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = drifted_policy(tmp_path)
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(cli, ["check", str(EXAMPLES / "rest-api"), "--policy", str(policy), "--account",
                                    ACCOUNT, "--no-discover-report", "--summary", "out/summary.md"])
    assert done.exit_code == 1, done.output
    text = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert "**FAIL**" in text and "| IAMFIT-C001 | missing | deployer | `dynamodb:CreateTable` |" in text


# --- audit -------------------------------------------------------------------------------------------

ROLE = f"arn:aws:iam::{ACCOUNT}:role/deploy"
WIDE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Queues", "Effect": "Allow", "Action": ["sqs:CreateQueue", "sqs:DeleteQueue"], "Resource": "*"},
        {"Sid": "Lambda", "Effect": "Allow", "Action": ["lambda:CreateFunction", "lambda:InvokeFunction"],
         "Resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:svc-*"},
    ],
}


def test_audit_summary_golden(tmp_path: Path) -> None:
    policy = tmp_path / "wide.json"
    policy.write_text(json.dumps(WIDE, indent=2) + "\n", encoding="utf-8")
    rows = [
        TrailRow(ROLE, "sqs:CreateQueue", f"arn:aws:sqs:us-east-1:{ACCOUNT}:svc-jobs", None, None, 2,
                 "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"),
        TrailRow(ROLE, "lambda:CreateFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:svc-a", None, None, 1,
                 "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
    ]
    result = audit([(str(policy), PolicyDocument.from_json(WIDE))], rows=rows, principal=ROLE, account=ACCOUNT)
    text = audit_summary(result, {str(policy): policy.read_text(encoding="utf-8")}, root=tmp_path)
    golden("audit-wide.md", text)
    assert "| IAMFIT-A001 | unused-action | " in text and "`wide.json:" in text
    diff = text.split("```diff\n", 1)[1].split("```", 1)[0]
    assert "- sqs:DeleteQueue" in diff and f"+ sqs:CreateQueue    on arn:aws:sqs:us-east-1:{ACCOUNT}:svc-jobs" in diff


def test_cli_audit_writes_the_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = {
        "eventVersion": "1.08", "eventTime": "2026-11-01T00:00:00Z", "eventSource": "sqs.amazonaws.com",
        "eventName": "CreateQueue", "awsRegion": "us-east-1", "eventID": "1", "recipientAccountId": ACCOUNT,
        "userIdentity": {"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/s",
                         "accountId": ACCOUNT, "sessionContext": {"sessionIssuer": {"arn": ROLE}}},
        "requestParameters": {"queueName": "svc-jobs"},
    }
    (tmp_path / "trail").mkdir()
    (tmp_path / "trail" / "records.json").write_text(json.dumps({"Records": [record]}), encoding="utf-8")
    (tmp_path / "wide.json").write_text(json.dumps(WIDE, indent=2) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(cli, ["audit", "--policy", "wide.json", "--cloudtrail", "trail", "--principal", ROLE,
                                    "--since", "2026-01-01", "--summary", "s.md"])
    assert done.exit_code == 1, done.output
    text = (tmp_path / "s.md").read_text(encoding="utf-8")
    assert text.startswith(f"## iamfit audit: `{ROLE}`\n\n**FAIL**")
    assert "| IAMFIT-A001 | unused-action | " in text and "`wide.json:" in text and "- sqs:DeleteQueue" in text

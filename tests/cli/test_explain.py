"""`iamfit explain`: detection, the exact --json shape, the person's view, exit codes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from iamfit.cli import cli

ACCT = "210987654321"
USER = f"arn:aws:iam::{ACCT}:user/ci-deployer"
DENIAL = (
    f"User: {USER} is not authorized to perform: lambda:CreateFunction on resource: "
    f"arn:aws:lambda:eu-west-1:{ACCT}:function:orders-dev-api because no identity-based policy allows the "
    "lambda:CreateFunction action"
)
RECORD = {
    "eventVersion": "1.09",
    "userIdentity": {"type": "IAMUser", "arn": USER, "accountId": ACCT, "userName": "ci-deployer"},
    "eventTime": "2025-03-01T10:00:05Z",
    "eventSource": "s3.amazonaws.com",
    "eventName": "ListObjectsV2",
    "awsRegion": "eu-west-1",
    "requestParameters": {"bucketName": "orders-deploys"},
    "recipientAccountId": ACCT,
}


def run(args: list[str], stdin: str | bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["explain", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_json_shape_for_text() -> None:
    code, out, _ = run(["--json", "-"], DENIAL)
    assert code == 0
    data = json.loads(out)
    assert data == {
        "permission_related": True,
        "denials": [
            {
                "action": "lambda:CreateFunction",
                "resource": f"arn:aws:lambda:eu-west-1:{ACCT}:function:orders-dev-api",
                "principal": USER,
                "cause": "identity-no-allow",
                "source": "text",
                "count": 1,
            }
        ],
        "usage": [],
        "fix": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "lambda:CreateFunction",
                    "Resource": f"arn:aws:lambda:eu-west-1:{ACCT}:function:orders-dev-api",
                }
            ],
        },
        "unknown_actions": [],
        "notes": [],
    }


def test_text_as_argument_and_human_output() -> None:
    code, out, _ = run([DENIAL])
    assert code == 0
    assert "lambda:CreateFunction" in out and USER in out and '"Effect": "Allow"' in out


def test_explicit_deny_has_no_fix_and_says_allow_will_not_help() -> None:
    text = DENIAL.replace(
        "because no identity-based policy allows the lambda:CreateFunction action",
        "with an explicit deny in a service control policy",
    )
    code, out, _ = run(["--json", "-"], text)
    data = json.loads(out)
    assert code == 0 and data["fix"] is None and data["denials"][0]["cause"] == "scp"
    code, out, _ = run(["-"], text)
    assert "will NOT help" in out and "service control policy" in out


def test_candidates_only_when_present() -> None:
    code, out, _ = run(["--json", "-"], "Did not have IAM permissions to process tags on AWS::IAM::Role resource.")
    data = json.loads(out)
    assert code == 0 and data["permission_related"] is True and data["fix"] is None
    (d,) = data["denials"]
    assert d["action"] is None and "iam:TagRole" in d["candidates"]
    assert set(d) == {"action", "resource", "principal", "cause", "source", "candidates", "count"}


def test_unknown_resource_gets_star() -> None:
    code, out, _ = run(["--json", "-"], "API: sqs:CreateQueue Access Denied")
    data = json.loads(out)
    assert data["fix"]["Statement"] == [{"Effect": "Allow", "Action": "sqs:CreateQueue", "Resource": "*"}]


def test_not_permission_related_exits_zero() -> None:
    code, out, _ = run(["--json", "-"], "Resource creation cancelled")
    assert code == 0
    assert json.loads(out) == {
        "permission_related": False, "denials": [], "usage": [], "fix": None, "unknown_actions": [], "notes": []
    }
    code, out, _ = run(["-"], "Resource creation cancelled")
    assert code == 0 and "Not a permission failure" in out


def test_cloudtrail_record_on_stdin_is_usage() -> None:
    code, out, _ = run(["--json"], json.dumps(RECORD))
    data = json.loads(out)
    assert code == 0
    assert data["usage"] == [{"action": "s3:ListBucket", "resource": "arn:aws:s3:::orders-deploys", "principal": USER}]
    assert data["permission_related"] is False and data["fix"] is None


def test_cloudtrail_files_and_folders(tmp_path: Path) -> None:
    denied = dict(RECORD, errorCode="AccessDenied", errorMessage="Access Denied")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.json.gz").write_bytes(gzip.compress(json.dumps({"Records": [denied]}).encode()))
    (tmp_path / "d" / "b.json").write_text(json.dumps(RECORD))
    for target in (tmp_path / "d", tmp_path / "d" / "a.json.gz"):
        code, out, err = run(["--json", str(target)])
        assert code == 0, err
        data = json.loads(out)
        assert data["denials"][0]["action"] == "s3:ListBucket"
        assert data["denials"][0]["source"] == "cloudtrail"
        assert data["fix"]["Statement"][0]["Resource"] == "arn:aws:s3:::orders-deploys"


def test_text_file(tmp_path: Path) -> None:
    f = tmp_path / "deploy.log"
    f.write_text("Serverless: Packaging service...\n" + DENIAL + "\n")
    code, out, _ = run(["--json", str(f)])
    assert code == 0 and json.loads(out)["denials"][0]["action"] == "lambda:CreateFunction"


def test_json_that_is_not_cloudtrail_is_read_as_text() -> None:
    code, out, _ = run(["--json", "-"], json.dumps({"message": DENIAL, "code": "AccessDeniedException"}))
    assert code == 0 and json.loads(out)["denials"][0]["action"] == "lambda:CreateFunction"


@pytest.mark.parametrize(
    "stdin",
    [
        "",
        "   \n",
        b"\x00\x01\x02\x03binary\x00\xff\xfe" * 20,
        '{"Records": [{"eventSource": "s3.amazonaws.com", "eventName": "GetObject", ',
        '{"Records": "nope"}',
    ],
)
def test_unreadable_input_exits_3_with_one_line(stdin: str | bytes) -> None:
    code, out, err = run(["--json", "-"], stdin)
    assert code == 3
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("iamfit: error:")


def test_empty_folder_exits_3(tmp_path: Path) -> None:
    code, _, err = run(["--json", str(tmp_path)])
    assert code == 3 and "no .json" in err


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.binary(max_size=600), st.text(max_size=600).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_cli_never_crashes(data: bytes) -> None:
    result = CliRunner().invoke(cli, ["explain", "--json", "-"], input=data)
    assert result.exit_code in (0, 3), (result.exit_code, result.stderr, result.exception)
    if result.exit_code == 0:
        assert set(json.loads(result.stdout)) == {
            "permission_related", "denials", "usage", "fix", "unknown_actions", "notes"
        }


def test_one_record_per_line_is_cloudtrail() -> None:
    denied = dict(RECORD, errorCode="AccessDenied", errorMessage="Access Denied")
    code, out, _ = run(["--json", "-"], json.dumps(RECORD) + "\n" + json.dumps(denied) + "\n")
    data = json.loads(out)
    assert code == 0 and len(data["usage"]) == 1 and data["denials"][0]["action"] == "s3:ListBucket"


def _denied_record(action: str, second: int) -> dict[str, object]:
    return {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": USER, "accountId": ACCT, "userName": "ci-deployer"},
        "eventTime": f"2025-03-01T10:{second // 60:02d}:{second % 60:02d}Z",
        "eventSource": "lambda.amazonaws.com",
        "eventName": "CreateFunction20150331",
        "awsRegion": "eu-west-1",
        "errorCode": "AccessDenied",
        "errorMessage": DENIAL.replace("lambda:CreateFunction", action),
        "requestParameters": {"functionName": "orders-dev-api"},
        "recipientAccountId": ACCT,
    }


def test_identical_cloudtrail_denials_are_one_block_with_a_count() -> None:
    trail = json.dumps({"Records": [_denied_record("lambda:CreateFunction", i) for i in range(200)]})
    code, out, _ = run(["-"], trail)
    assert code == 0
    assert out.count("Denial ") == 1
    assert "Denial 1 (200 identical): lambda:CreateFunction" in out
    assert "when:  2025-03-01T10:00:00Z .. 2025-03-01T10:03:19Z" in out
    code, out, _ = run(["--json", "-"], trail)
    (d,) = json.loads(out)["denials"]
    assert (d["count"], d["first_seen"], d["last_seen"]) == (200, "2025-03-01T10:00:00Z", "2025-03-01T10:03:19Z")


def test_an_action_the_iam_reference_does_not_know_is_never_in_the_fix() -> None:
    records = [_denied_record("lambda:CreateFunction0", 0), _denied_record("lambda:CreateFunction", 1)]
    code, out, _ = run(["--json", "-"], json.dumps({"Records": records}))
    data = json.loads(out)
    assert data["unknown_actions"] == ["lambda:CreateFunction0"]
    assert data["fix"]["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "lambda:CreateFunction",
            "Resource": f"arn:aws:lambda:eu-west-1:{ACCT}:function:orders-dev-api",
        }
    ]
    assert any("lambda:CreateFunction0: not in the IAM reference" in n for n in data["notes"])
    code, out, _ = run([DENIAL.replace("lambda:CreateFunction", "lambda:CreateFunction0")])
    assert "not offered: this action is not in the IAM reference" in out
    assert "Smallest statement" not in out


def test_a_denial_repeated_in_a_log_is_one_block_with_its_count() -> None:
    code, out, _ = run(["-"], "\n".join([DENIAL, "Resource creation cancelled", DENIAL, DENIAL]))
    assert code == 0 and out.count("Denial ") == 1 and "Denial 1 (3 identical): lambda:CreateFunction" in out

"""Renderer output: golden files, cfn-lint validation, terraform fmt/console when terraform is installed.

Regenerate the golden files after an intended change:
    IAMFIT_UPDATE_GOLDEN=1 pytest tests/policy/test_render.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from iamfit.errors import UsageError
from iamfit.policy.document import PolicyDocument, Statement
from iamfit.policy.render import FORMATS, RenderContext, _hcl, render

GOLDEN = Path(__file__).parent / "golden"
ACCOUNT = "123456789012"

DEPLOYER = PolicyDocument.from_json(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Stack",
                "Effect": "Allow",
                "Action": ["cloudformation:CreateChangeSet", "cloudformation:DescribeStacks"],
                "Resource": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/app-dev/*",
            },
            {
                "Sid": "PassCfnRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": f"arn:aws:iam::{ACCOUNT}:role/app-dev-cfn-role",
                "Condition": {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
            },
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": "arn:aws:s3:::app-deploys/%{tpl}/${aws:username}/*",
            },
        ],
    }
)
CFN = PolicyDocument.from_json(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["lambda:CreateFunction", "lambda:GetFunction", "lambda:DeleteFunction"],
                "Resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:app-dev-*",
            },
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:DeleteLogGroup"],
                "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/app-dev-*",
                "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["STAGE", "team"]}},
            },
        ],
    }
)
POLICIES = {"deployer": DEPLOYER, "cloudformation": CFN}
CONTEXT = RenderContext(service="app", stage="dev")
SUFFIX = {"json": "json", "terraform": "tf", "cloudformation": "yml", "serverless": "yml"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_golden(fmt: str) -> None:
    text = render(POLICIES, fmt, CONTEXT)
    path = GOLDEN / f"app-dev.{SUFFIX[fmt]}"
    if fmt == "serverless":
        path = GOLDEN / "app-dev.serverless.yml"
    if os.environ.get("IAMFIT_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()
    assert render(dict(reversed(POLICIES.items())), fmt, CONTEXT) == text  # deterministic


def test_json_round_trips() -> None:
    data = json.loads(render(POLICIES, "json", CONTEXT))
    assert list(data) == ["deployer", "cloudformation"]
    assert PolicyDocument.from_json(data["deployer"]) == DEPLOYER
    assert PolicyDocument.from_json(data["cloudformation"]) == CFN


def _cfn_errors(text: str) -> list[str]:
    import cfnlint.api

    matches = cfnlint.api.lint(text, config=cfnlint.api.ManualArgs(regions=["us-east-1"]))
    return [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]


def test_cloudformation_passes_cfn_lint_and_carries_the_policies() -> None:
    text = render(POLICIES, "cloudformation", CONTEXT)
    assert _cfn_errors(text) == []
    template = yaml.safe_load(text)
    resources = template["Resources"]
    assert PolicyDocument.from_json(resources["DeployerPolicy"]["Properties"]["PolicyDocument"]) == DEPLOYER
    assert PolicyDocument.from_json(resources["CloudFormationRolePolicy"]["Properties"]["PolicyDocument"]) == CFN
    role = resources["CloudFormationRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [{"Ref": "CloudFormationRolePolicy"}]
    trusted = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
    assert trusted == "cloudformation.amazonaws.com"


def _big(count: int) -> PolicyDocument:
    return PolicyDocument(
        tuple(
            Statement("Allow", actions=(f"lambda:Get{i}Function",), resources=(f"arn:aws:lambda:::function:f{i}-*",))
            for i in range(count)
        )
    )


def test_large_policies_render_as_several_managed_policies() -> None:
    text = render({"cloudformation": _big(300)}, "cloudformation", CONTEXT)
    assert _cfn_errors(text) == []
    resources = yaml.safe_load(text)["Resources"]
    pieces = sorted(k for k in resources if k.startswith("CloudFormationRolePolicy"))
    assert len(pieces) > 1 and "CloudFormationRolePolicy1" in pieces
    assert resources["CloudFormationRole"]["Properties"]["ManagedPolicyArns"] == [{"Ref": p} for p in pieces]
    names = [resources[p]["Properties"]["ManagedPolicyName"] for p in pieces]
    assert len(set(names)) == len(names)
    tf = render({"cloudformation": _big(300)}, "terraform", CONTEXT)
    assert tf.count('resource "aws_iam_role_policy_attachment"') == len(pieces)


def test_serverless_snippet() -> None:
    text = render(POLICIES, "serverless", CONTEXT)
    data = yaml.safe_load(text)
    assert data["provider"]["iam"]["deploymentRole"] == "arn:aws:iam::${aws:accountId}:role/app-dev-cfn-role"
    assert data["resources"]["Resources"]["CloudFormationRole"]["Type"] == "AWS::IAM::Role"
    assert "DeployerPolicy" not in data["resources"]["Resources"]
    comment = "\n".join(line[4:] for line in text.splitlines() if line.startswith("#   "))
    assert PolicyDocument.from_text(comment) == DEPLOYER
    with_account = render(POLICIES, "serverless", RenderContext("app", "dev", account=ACCOUNT))
    assert f"arn:aws:iam::{ACCOUNT}:role/app-dev-cfn-role" in with_account
    only_deployer = render({"deployer": DEPLOYER}, "serverless", CONTEXT)
    assert "provider:" not in only_deployer


def test_unknown_format_or_principal() -> None:
    with pytest.raises(UsageError, match="unknown output format"):
        render(POLICIES, "hcl", CONTEXT)
    with pytest.raises(UsageError, match="unknown principal"):
        render({"admin": DEPLOYER}, "json", CONTEXT)


TERRAFORM = shutil.which("terraform")


def _terraform(args: list[str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    return subprocess.run(
        [TERRAFORM or "terraform", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.skipif(TERRAFORM is None, reason="terraform not installed")
def test_terraform_is_fmt_clean_and_jsonencode_gives_the_policy(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(render(POLICIES, "terraform", CONTEXT))
    fmt = _terraform(["fmt", "-check", "-diff", "main.tf"], tmp_path)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    # The HCL each policy is rendered as decodes, through Terraform itself, to the policy's JSON.
    check = tmp_path / "check"
    check.mkdir()
    both = _hcl([DEPLOYER.to_json(), CFN.to_json()], 1)
    (check / "main.tf").write_text(f"locals {{\n  both = jsonencode({both})\n}}\n")
    out = _terraform(["console"], check, "local.both\n")
    assert out.returncode == 0, out.stderr
    decoded = json.loads(json.loads(out.stdout.strip()))
    assert decoded == [DEPLOYER.to_json(), CFN.to_json()]

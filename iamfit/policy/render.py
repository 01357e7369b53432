"""Render principals' policies as JSON, Terraform, CloudFormation or a serverless.yml snippet.

Input: one PolicyDocument per principal (``deployer``, ``cloudformation``) and a RenderContext. The
``cloudformation`` principal becomes a role trusting cloudformation.amazonaws.com (the service's
``provider.iam.deploymentRole``); the ``deployer`` policy is for whoever runs ``serverless deploy`` and is
emitted unattached. Managed policies are packed under IAM's 6,144-character quota (``pack``), so a large
policy renders as several numbered policies. Output is deterministic: same input, same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from iamfit.errors import UsageError
from iamfit.policy.document import PolicyDocument
from iamfit.policy.pack import PolicyTooLargeError, pack
from iamfit.principals import CLOUDFORMATION, DEPLOYER, PRINCIPALS

FORMATS: tuple[str, ...] = ("json", "terraform", "cloudformation", "serverless")
CFN_SERVICE = "cloudformation.amazonaws.com"


@dataclass(frozen=True, order=True)
class RenderContext:
    """Names used in rendered resources. ``account`` None: left to the deploy tool (pseudo parameter)."""

    service: str
    stage: str = "dev"
    account: str | None = None
    deployer_policy_name: str | None = None
    cfn_role_name: str | None = None

    @property
    def prefix(self) -> str:
        return f"{self.service}-{self.stage}"

    @property
    def deployer_name(self) -> str:
        return self.deployer_policy_name or f"{self.prefix}-deployer"

    @property
    def role_name(self) -> str:
        return self.cfn_role_name or f"{self.prefix}-cfn-role"

    @property
    def cfn_policy_name(self) -> str:
        return f"{self.role_name}-policy"


def trust_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": CFN_SERVICE}, "Action": "sts:AssumeRole"},
        ],
    }


def _ordered(policies: Mapping[str, PolicyDocument]) -> list[tuple[str, PolicyDocument]]:
    unknown = sorted(set(policies) - set(PRINCIPALS))
    if unknown:
        raise UsageError(f"unknown principal(s) {', '.join(unknown)}; expected {', '.join(PRINCIPALS)}")
    return [(p, policies[p]) for p in PRINCIPALS if p in policies]


def _pieces(document: PolicyDocument, name: str) -> list[tuple[str, PolicyDocument]]:
    """(policy name, document) for each managed policy the document packs into."""
    packed = pack(document, kind="managed")
    if len(packed) == 1:
        return [(name, packed[0])]
    return [(f"{name}-{i}", d) for i, d in enumerate(packed, start=1)]


def render(policies: Mapping[str, PolicyDocument], fmt: str, context: RenderContext) -> str:
    """The text of ``policies`` in ``fmt`` (one of FORMATS)."""
    if fmt == "json":
        return render_json(policies)
    if fmt == "terraform":
        return render_terraform(policies, context)
    if fmt == "cloudformation":
        return render_cloudformation(policies, context)
    if fmt == "serverless":
        return render_serverless(policies, context)
    raise UsageError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}")


# ---- JSON ------------------------------------------------------------------------------------------


def render_json(policies: Mapping[str, PolicyDocument]) -> str:
    """``{principal: policy document}``, principals in their fixed order, 2-space indent."""
    return json.dumps({p: d.to_json() for p, d in _ordered(policies)}, indent=2) + "\n"


def json_files(policies: Mapping[str, PolicyDocument]) -> dict[str, list[tuple[str, PolicyDocument]]]:
    """Per principal, the policy files the JSON format writes: ``<principal>.json`` when the policy fits a role's
    inline quota (10,240 characters, compacted), else ``<principal>-1.json`` ... ``<principal>-N.json``, one per
    managed policy it packs into (the numbered managed policies of the CloudFormation and Terraform formats),
    which together allow exactly what the one policy allows. A policy too large even for 10 managed policies
    stays one file (the size warning says why it cannot be attached)."""
    out: dict[str, list[tuple[str, PolicyDocument]]] = {}
    for principal, document in _ordered(policies):
        out[principal] = [(f"{principal}.json", document)]
        try:
            pack(document, kind="inline")
        except PolicyTooLargeError:
            try:
                pieces = pack(document, kind="managed")
            except PolicyTooLargeError:
                continue
            out[principal] = [(f"{principal}-{n}.json", piece) for n, piece in enumerate(pieces, start=1)]
    return out


def split_note(principal: str, document: PolicyDocument, names: list[str]) -> str:
    """What ``json_files`` did with a policy it split (stderr note and the reports' ``policy_files``)."""
    return (f"the {principal} policy ({document.size()} characters) is over the 10240-character inline quota of a "
            f"role: written as {len(names)} managed policies ({', '.join(names)}) that together allow exactly what "
            "it allows; attach them all (plan and check take each as a repeated --policy / --cfn-role-policy)")


# ---- Terraform -------------------------------------------------------------------------------------


def _hcl_string(text: str) -> str:
    quoted = json.dumps(text)  # JSON escapes are HCL escapes
    return quoted.replace("${", "$${").replace("%{", "%%{")  # template sequences stay literal


def _hcl(value: Any, indent: int) -> str:
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        rendered = [(_hcl_string(str(k)), _hcl(v, indent + 1)) for k, v in value.items()]
        # Align '=' over runs of one-line attributes, as `terraform fmt` does.
        lines: list[str] = []
        run: list[tuple[str, str]] = []

        def flush() -> None:
            width = max((len(k) for k, _ in run), default=0)
            lines.extend(f"{inner}{k.ljust(width)} = {v}" for k, v in run)
            run.clear()

        for key, text in rendered:
            if "\n" in text:
                flush()
                lines.append(f"{inner}{key} = {text}")
            else:
                run.append((key, text))
        flush()
        return "{\n" + "\n".join(lines) + "\n" + pad + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        body = ",\n".join(f"{inner}{_hcl(v, indent + 1)}" for v in value)
        return "[\n" + body + ",\n" + pad + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return _hcl_string(str(value))


def _tf_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def render_terraform(policies: Mapping[str, PolicyDocument], context: RenderContext) -> str:
    blocks = [f"# Generated by iamfit for service {context.service}, stage {context.stage}. Do not edit.\n"]
    for principal, document in _ordered(policies):
        base = context.deployer_name if principal == DEPLOYER else context.cfn_policy_name
        pieces = _pieces(document, base)
        labels = []
        for n, (name, piece) in enumerate(pieces, start=1):
            label = _tf_name(principal if len(pieces) == 1 else f"{principal}_{n}")
            labels.append(label)
            who = "whoever runs `serverless deploy`" if principal == DEPLOYER else "the CloudFormation role"
            blocks.append(
                f'resource "aws_iam_policy" "{label}" {{\n'
                f"  name        = {_hcl_string(name)}\n"
                f"  description = {_hcl_string(f'{context.prefix}: permissions of {who} (iamfit)')}\n"
                f"  policy = jsonencode({_hcl(piece.to_json(), 1)})\n"
                "}\n"
            )
        if principal == CLOUDFORMATION:
            blocks.append(
                'resource "aws_iam_role" "cloudformation" {\n'
                f"  name = {_hcl_string(context.role_name)}\n"
                f"  assume_role_policy = jsonencode({_hcl(trust_policy(), 1)})\n"
                "}\n"
            )
            for label in labels:
                blocks.append(
                    f'resource "aws_iam_role_policy_attachment" "{label}" {{\n'
                    "  role       = aws_iam_role.cloudformation.name\n"
                    f"  policy_arn = aws_iam_policy.{label}.arn\n"
                    "}\n"
                )
            blocks.append(
                'output "cloudformation_role_arn" {\n'
                '  description = "Set provider.iam.deploymentRole in serverless.yml to this ARN"\n'
                "  value       = aws_iam_role.cloudformation.arn\n"
                "}\n"
            )
    return "\n".join(blocks)


# ---- CloudFormation --------------------------------------------------------------------------------


def _logical_id(principal: str, n: int, count: int) -> str:
    base = "DeployerPolicy" if principal == DEPLOYER else "CloudFormationRolePolicy"
    return base if count == 1 else f"{base}{n}"


def _cfn_resources(policies: Mapping[str, PolicyDocument], context: RenderContext) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for principal, document in _ordered(policies):
        base = context.deployer_name if principal == DEPLOYER else context.cfn_policy_name
        pieces = _pieces(document, base)
        ids = []
        for n, (name, piece) in enumerate(pieces, start=1):
            logical = _logical_id(principal, n, len(pieces))
            ids.append(logical)
            who = "whoever runs serverless deploy" if principal == DEPLOYER else "the CloudFormation role"
            resources[logical] = {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "ManagedPolicyName": name,
                    "Description": f"{context.prefix}: permissions of {who} (iamfit)",
                    "PolicyDocument": piece.to_json(),
                },
            }
        if principal == CLOUDFORMATION:
            resources["CloudFormationRole"] = {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": context.role_name,
                    "Description": f"{context.prefix}: provider.iam.deploymentRole (iamfit)",
                    "AssumeRolePolicyDocument": trust_policy(),
                    "ManagedPolicyArns": [{"Ref": i} for i in ids],
                },
            }
    return resources


def _yaml(data: Any) -> str:
    text: str = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True)
    return text


def render_cloudformation(policies: Mapping[str, PolicyDocument], context: RenderContext) -> str:
    resources = _cfn_resources(policies, context)
    outputs: dict[str, Any] = {}
    for logical, resource in resources.items():
        if resource["Type"] == "AWS::IAM::ManagedPolicy" and logical.startswith("Deployer"):
            outputs[f"{logical}Arn"] = {"Description": "Attach to the deployer", "Value": {"Ref": logical}}
    if "CloudFormationRole" in resources:
        outputs["CloudFormationRoleArn"] = {
            "Description": "Set provider.iam.deploymentRole in serverless.yml to this ARN",
            "Value": {"Fn::GetAtt": ["CloudFormationRole", "Arn"]},
        }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"IAM for deploying {context.service} (stage {context.stage}), generated by iamfit",
        "Resources": resources,
        "Outputs": outputs,
    }
    return _yaml(template)


# ---- serverless.yml --------------------------------------------------------------------------------


def render_serverless(policies: Mapping[str, PolicyDocument], context: RenderContext) -> str:
    """A serverless.yml snippet: ``provider.iam.deploymentRole`` plus the role under ``resources``.

    The deployer policy comes first, as comment lines: it belongs to whoever runs the deploy, not to the
    stack. The role must exist before the first deploy that names it (CloudFormation assumes it to create
    the stack), so deploy it once from the ``cloudformation`` output, or deploy without deploymentRole
    first.
    """
    ordered = dict(_ordered(policies))
    lines = [f"# Generated by iamfit for service {context.service}, stage {context.stage}."]
    if DEPLOYER in ordered:
        lines.append("# Deployer policy: attach it to the user or role that runs `serverless deploy`:")
        lines += [f"#   {line}" for line in ordered[DEPLOYER].dumps().splitlines()]
    if CLOUDFORMATION not in ordered:
        return "\n".join(lines) + "\n"
    lines.append("# The CloudFormation role must exist before the first deploy that names it.")
    account = context.account or "${aws:accountId}"
    snippet = {
        "provider": {"iam": {"deploymentRole": f"arn:aws:iam::{account}:role/{context.role_name}"}},
        "resources": {"Resources": _cfn_resources({CLOUDFORMATION: ordered[CLOUDFORMATION]}, context)},
    }
    return "\n".join(lines) + "\n" + _yaml(snippet)

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import pytest

from iamfit.findings import Finding, Level
from iamfit.knowledge.catalog import ActionInfo, ResourceType, default_catalog
from iamfit.policy.document import PolicyDocument
from iamfit.policy.lint import RULES, lint

DOCS = Path(__file__).resolve().parents[2] / "docs" / "lint.md"
ROLE = "arn:aws:iam::123456789012:role/app-dev-cfn-role"
BOUNDARY = {"StringEquals": {"iam:PermissionsBoundary": "arn:aws:iam::123456789012:policy/boundary"}}


class FakeCatalog:
    """Three actions: s3:GetObject (object-level), s3:ListAllMyBuckets ('*' only), iam:PassRole (role)."""

    ACTIONS = {
        "s3:getobject": ActionInfo(
            "s3",
            "GetObject",
            "Read",
            (ResourceType("object", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True),),
            (),
        ),
        "s3:listallmybuckets": ActionInfo("s3", "ListAllMyBuckets", "List", (ResourceType("", "*", False),), ()),
        "iam:passrole": ActionInfo(
            "iam",
            "PassRole",
            "Write",
            (ResourceType("role", "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}", True),),
            (),
        ),
    }

    def info(self, action: str) -> ActionInfo | None:
        return self.ACTIONS.get(action.lower())

    def expand(self, pattern: str) -> tuple[str, ...]:
        return tuple(sorted(i.action for k, i in self.ACTIONS.items() if fnmatch.fnmatchcase(k, pattern.lower())))


def doc(*statements: dict[str, Any]) -> PolicyDocument:
    return PolicyDocument.from_json({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def ids(findings: tuple[Finding, ...]) -> list[str]:
    return sorted({f.rule_id for f in findings})


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (allow("iam:PassRole"), ["IAMFIT-E001", "IAMFIT-W002"]),
        (allow("iam:PassRole", "arn:aws:iam::123456789012:role/*"), ["IAMFIT-E001", "IAMFIT-W002"]),
        (allow("iam:PassRole", ROLE), ["IAMFIT-W002"]),
        (
            allow(
                "iam:PassRole",
                ROLE,
                Condition={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
            ),
            [],
        ),
        (allow("iam:CreatePolicyVersion", "arn:aws:iam::123456789012:policy/x"), ["IAMFIT-E003"]),
        (allow("iam:SetDefaultPolicyVersion", "arn:aws:iam::123456789012:policy/x"), ["IAMFIT-E003"]),
        (allow("iam:PutRolePolicy", ROLE), ["IAMFIT-E004"]),
        (allow("iam:AttachUserPolicy", "arn:aws:iam::123456789012:user/u"), ["IAMFIT-E004"]),
        (allow(["iam:PutRolePolicy", "iam:AttachRolePolicy"], ROLE, Condition=BOUNDARY), []),
        (allow("iam:CreateAccessKey", "arn:aws:iam::123456789012:user/*"), ["IAMFIT-E005"]),
        (allow("iam:UpdateAssumeRolePolicy", ROLE), ["IAMFIT-E006"]),
        (allow("lambda:UpdateFunctionCode"), ["IAMFIT-W008"]),
        (
            allow("lambda:UpdateFunctionCode", "arn:aws:lambda:us-east-1:123456789012:function:*"),
            ["IAMFIT-W008"],
        ),
        (allow("lambda:UpdateFunctionCode", "arn:aws:lambda:us-east-1:123456789012:function:app-dev-*"), []),
        (allow("sts:AssumeRole"), ["IAMFIT-E009"]),
        (allow("sts:AssumeRole", ROLE), []),
        (allow("s3:*", "arn:aws:s3:::b/*"), ["IAMFIT-E010"]),
        (allow("*"), None),  # checked below: E010 plus every escalation
        (allow("iam:Get*", ROLE), ["IAMFIT-E010"]),
        (
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            ["IAMFIT-E009", "IAMFIT-E010", "IAMFIT-W008", "IAMFIT-W013"],
        ),
        (
            {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"},
            ["IAMFIT-W014"],
        ),
        ({"Effect": "Deny", "Action": "*", "Resource": "*"}, []),  # a Deny never escalates
        (allow("s3:GetObject", "arn:aws:s3:::b/*"), []),
    ],
)
def test_rules_without_catalog(statement: dict[str, Any], expected: list[str] | None) -> None:
    found = lint(doc(statement))
    if expected is None:
        assert {
            "IAMFIT-E001",
            "IAMFIT-E003",
            "IAMFIT-E004",
            "IAMFIT-E005",
            "IAMFIT-E006",
            "IAMFIT-E009",
            "IAMFIT-E010",
        } <= set(ids(found))
    else:
        assert ids(found) == expected


def test_passrole_with_compute_is_a_warning_per_compute_action() -> None:
    found = lint(
        doc(
            allow(
                "iam:PassRole",
                ROLE,
                Sid="Pass",
                Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
            ),
            allow(["lambda:CreateFunction", "ec2:RunInstances", "s3:GetObject"], "*", Sid="Compute"),
        )
    )
    w007 = [f for f in found if f.rule_id == "IAMFIT-W007"]
    assert [(f.action, f.sid) for f in w007] == [
        ("ec2:RunInstances", "Compute"),
        ("lambda:CreateFunction", "Compute"),
    ]
    assert "Sid Pass" in w007[0].message
    assert lint(doc(allow(["lambda:CreateFunction"]))) == ()


def test_catalog_rules() -> None:
    found = lint(
        doc(
            allow(["s3:GetObject", "s3:ListAllMyBuckets", "s3:GetObjectz", "s3:Frob*", "s3:Get*"], "*", Sid="A"),
            {"Effect": "Deny", "Action": "iam:PassRoll", "Resource": "*"},
        ),
        catalog=FakeCatalog(),
    )
    by_rule = {(f.rule_id, f.action) for f in found}
    assert ("IAMFIT-W011", "s3:GetObject") in by_rule
    assert ("IAMFIT-W011", "s3:ListAllMyBuckets") not in by_rule  # supports only "*"
    assert {a for r, a in by_rule if r == "IAMFIT-E012"} == {"s3:GetObjectz", "s3:Frob*", "iam:PassRoll"}
    scoped = lint(doc(allow("s3:GetObject", "arn:aws:s3:::b/*")), catalog=FakeCatalog())
    assert scoped == ()


def test_with_the_real_catalog() -> None:
    found = lint(
        doc(allow(["lambda:CreateFunction", "lambda:CreateFunctionz", "logs:Describe*"])),
        catalog=default_catalog(),
    )
    assert ("IAMFIT-W011", "lambda:CreateFunction") in {(f.rule_id, f.action) for f in found}
    assert ("IAMFIT-E012", "lambda:CreateFunctionz") in {(f.rule_id, f.action) for f in found}
    assert not any(f.action == "logs:Describe*" for f in found)


def test_findings_are_sorted_unique_and_carry_their_rule() -> None:
    document = doc(allow("*", Sid="Admin"), allow("iam:PassRole", Sid="P"), allow("iam:PassRole", Sid="P"))
    found = lint(document, catalog=FakeCatalog())
    assert list(found) == sorted(found, key=lambda f: (f.rule_id, f.sid, f.action, f.resource, f.message))
    assert len(set(found)) == len(found)
    assert lint(document, catalog=FakeCatalog()) == found
    for f in found:
        assert f.level is RULES[f.rule_id].level
        assert "\n" not in f.message


def test_registry_is_well_formed_and_documented() -> None:
    text = DOCS.read_text()
    for rule_id, rule in RULES.items():
        assert re.fullmatch(r"IAMFIT-[EWI]\d{3}", rule_id)
        assert rule_id[7] == {Level.ERROR: "E", Level.WARNING: "W", Level.INFO: "I"}[rule.level]
        assert rule.sources and rule.title and rule.description
        assert f"## {rule_id}" in text, f"{rule_id} missing from docs/lint.md"
        for source in rule.sources:
            if source.startswith("http"):
                assert source in text, f"{rule_id}: source {source} not cited in docs/lint.md"
    documented = set(re.findall(r"^## (IAMFIT-[EWI]\d{3})", text, re.M))
    assert documented == set(RULES)

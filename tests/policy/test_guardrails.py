from __future__ import annotations

import pytest

from iamfit.needs import Condition
from iamfit.policy.guardrails import POLICY_EDITING, guardrail_violation, is_unscoped

ROLE = "arn:aws:iam::123456789012:role/app-dev-cfn"
BOUNDARY: tuple[Condition, ...] = (
    ("StringEquals", "iam:PermissionsBoundary", ("arn:aws:iam::123456789012:policy/boundary",)),
)


@pytest.mark.parametrize(
    ("action", "resource", "conditions", "fragment"),
    [
        ("*", "*", (), "every action of every service"),
        ("*:Get*", "*", (), "every action of every service"),
        ("iam:*", ROLE, (), "every action of the iam service"),
        ("organizations:*", "*", (), "every action of the organizations service"),
        ("s3:*", "arn:aws:s3:::b", (), "every action of the s3 service"),
        ("iam:Get*", ROLE, (), "wildcard over iam actions"),
        ("sts:Assume*", "*", (), "covers sts:AssumeRole"),
        ("sts:AssumeRole", "*", (), "assume any role"),
        ("sts:AssumeRole", "arn:aws:iam::*:role/*", (), "assume any role"),
        ("iam:PassRole", "*", (), "pass any role"),
        ("IAM:passrole", "arn:aws:iam::123456789012:role/*", (), "pass any role"),
        ("iam:PutRolePolicy", ROLE, (), "iam:PermissionsBoundary"),
        ("iam:attachrolepolicy", ROLE, (), "iam:AttachRolePolicy can escalate"),
        ("iam:CreateAccessKey", "*", (), "can escalate"),
        (
            "iam:PutRolePolicy",
            ROLE,
            (("StringNotEquals", "iam:PermissionsBoundary", ("x",)),),
            "can escalate",
        ),
        (
            "iam:PutRolePolicy",
            ROLE,
            (("StringEqualsIfExists", "iam:PermissionsBoundary", ("x",)),),
            "escalate",
        ),
    ],
)
def test_violations(action: str, resource: str, conditions: tuple[Condition, ...], fragment: str) -> None:
    reason = guardrail_violation(action, resource, conditions)
    assert reason is not None and fragment in reason
    assert "\n" not in reason


@pytest.mark.parametrize(
    ("action", "resource", "conditions"),
    [
        ("s3:GetObject", "*", ()),
        ("lambda:Create*", "*", ()),
        ("sts:AssumeRole", ROLE, ()),
        ("iam:PassRole", ROLE, ()),
        ("iam:CreateRole", ROLE, ()),
        ("iam:PutRolePolicy", ROLE, BOUNDARY),
        ("iam:AttachRolePolicy", ROLE, (("ArnEquals", "iam:permissionsboundary", ("arn:x",)),)),
    ],
)
def test_allowed_grants(action: str, resource: str, conditions: tuple[Condition, ...]) -> None:
    assert guardrail_violation(action, resource, conditions) is None


def test_user_allowed_by_name_case_insensitively() -> None:
    assert guardrail_violation("iam:PassRole", "*", (), frozenset({"IAM:PassRole"})) is None
    assert guardrail_violation("iam:PutRolePolicy", ROLE, (), frozenset({"iam:PutRolePolicy"})) is None
    assert guardrail_violation("iam:PutUserPolicy", ROLE, (), frozenset({"iam:PutRolePolicy"})) is not None


def test_every_policy_editing_action_is_guarded() -> None:
    for action in POLICY_EDITING:
        assert guardrail_violation(action, ROLE) is not None
        assert guardrail_violation(action, ROLE, BOUNDARY) is None


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("*", True),
        ("arn:aws:iam::*:role/*", True),
        ("arn:aws:iam::123456789012:role/*", True),
        ("arn:aws:iam::123456789012:*", True),
        (ROLE, False),
        ("arn:aws:iam::123456789012:role/app-*", False),
    ],
)
def test_is_unscoped(resource: str, expected: bool) -> None:
    assert is_unscoped(resource) is expected

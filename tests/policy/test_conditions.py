"""Condition operator tables: (operator, key, policy values, request context) -> holds?"""

from __future__ import annotations

import pytest

from iamfit.errors import BadInputError
from iamfit.policy.conditions import Operator, compile_condition
from iamfit.policy.evaluate import make_context

ROLE = "arn:aws:iam::123456789012:role/app-dev-cfn"
CFN = "cloudformation.amazonaws.com"

CASES: list[tuple[str, str, tuple[str, ...], dict[str, str | list[str]], bool]] = [
    # String*
    ("StringEquals", "iam:PassedToService", (CFN,), {"iam:PassedToService": CFN}, True),
    (
        "StringEquals",
        "iam:PassedToService",
        (CFN,),
        {"iam:PassedToService": "CloudFormation.amazonaws.com"},
        False,
    ),
    (
        "StringEquals",
        "iam:PassedToService",
        (CFN, "lambda.amazonaws.com"),
        {"iam:PassedToService": CFN},
        True,
    ),
    ("StringEquals", "iam:PassedToService", (CFN,), {}, False),
    (
        "StringEquals",
        "IAM:passedtoservice",
        (CFN,),
        {"iam:PassedToService": CFN},
        True,
    ),  # key names: any case
    ("StringNotEquals", "iam:PassedToService", (CFN,), {"iam:PassedToService": "lambda.amazonaws.com"}, True),
    ("StringNotEquals", "iam:PassedToService", (CFN,), {"iam:PassedToService": CFN}, False),
    ("StringNotEquals", "iam:PassedToService", (CFN,), {}, True),  # negated + missing key
    ("StringEqualsIgnoreCase", "aws:RequestTag/Env", ("DEV",), {"aws:RequestTag/env": "dev"}, True),
    ("StringNotEqualsIgnoreCase", "aws:RequestTag/Env", ("DEV",), {"aws:RequestTag/env": "dev"}, False),
    ("StringLike", "s3:prefix", ("home/*",), {"s3:prefix": "home/alice/"}, True),
    ("StringLike", "s3:prefix", ("home/?",), {"s3:prefix": "home/ab"}, False),
    ("StringLike", "s3:prefix", ("home/*",), {"s3:prefix": "HOME/alice"}, False),
    ("StringLike", "s3:prefix", ("a.b",), {"s3:prefix": "axb"}, False),
    ("StringNotLike", "s3:prefix", ("home/*",), {"s3:prefix": "tmp/"}, True),
    ("StringNotLike", "s3:prefix", ("home/*",), {"s3:prefix": "home/x"}, False),
    (
        "StringLike",
        "s3:prefix",
        ("home/${aws:username}/*",),
        {"s3:prefix": "home/al/x", "aws:username": "al"},
        True,
    ),
    ("StringLike", "s3:prefix", ("home/${aws:username}/*",), {"s3:prefix": "home/al/x"}, False),  # unresolved
    ("StringNotLike", "s3:prefix", ("home/${aws:username}/*",), {"s3:prefix": "tmp/x"}, False),  # unresolved
    (
        "StringEquals",
        "aws:ResourceTag/owner",
        ("${aws:userid}",),
        {"aws:ResourceTag/owner": "AIDA1", "aws:userid": "AIDA1"},
        True,
    ),
    # IfExists
    ("StringEqualsIfExists", "aws:RequestTag/env", ("dev",), {}, True),
    ("StringEqualsIfExists", "aws:RequestTag/env", ("dev",), {"aws:RequestTag/env": "prod"}, False),
    (
        "StringLikeIfExists",
        "cloudformation:RoleArn",
        ("arn:aws:iam::*:role/app-*",),
        {"cloudformation:RoleArn": ROLE},
        True,
    ),
    # Arn*
    ("ArnEquals", "cloudformation:RoleArn", (ROLE,), {"cloudformation:RoleArn": ROLE}, True),
    (
        "ArnLike",
        "cloudformation:RoleArn",
        ("arn:aws:iam::*:role/app-*",),
        {"cloudformation:RoleArn": ROLE},
        True,
    ),
    (
        "ArnLike",
        "cloudformation:RoleArn",
        ("arn:aws:iam::*",),
        {"cloudformation:RoleArn": ROLE},
        False,
    ),  # per segment
    ("ArnLike", "cloudformation:RoleArn", ("arn:aws:iam::*:*",), {"cloudformation:RoleArn": ROLE}, True),
    (
        "ArnNotLike",
        "cloudformation:RoleArn",
        ("arn:aws:iam::*:role/other-*",),
        {"cloudformation:RoleArn": ROLE},
        True,
    ),
    ("ArnNotEquals", "cloudformation:RoleArn", (ROLE,), {"cloudformation:RoleArn": ROLE}, False),
    ("ArnEquals", "cloudformation:RoleArn", (ROLE,), {}, False),
    # Bool / Null
    ("Bool", "aws:SecureTransport", ("true",), {"aws:SecureTransport": "true"}, True),
    ("Bool", "aws:SecureTransport", ("true",), {"aws:SecureTransport": "True"}, True),
    ("Bool", "aws:SecureTransport", ("false",), {"aws:SecureTransport": "true"}, False),
    ("Bool", "aws:SecureTransport", ("false",), {}, False),
    ("BoolIfExists", "aws:MultiFactorAuthPresent", ("false",), {}, True),
    ("Null", "aws:RequestTag/env", ("true",), {}, True),
    ("Null", "aws:RequestTag/env", ("true",), {"aws:RequestTag/env": "dev"}, False),
    ("Null", "aws:RequestTag/env", ("false",), {"aws:RequestTag/env": "dev"}, True),
    ("Null", "aws:RequestTag/env", ("false",), {}, False),
    # Numeric / Date
    ("NumericLessThan", "s3:max-keys", ("10",), {"s3:max-keys": "5"}, True),
    ("NumericLessThan", "s3:max-keys", ("10",), {"s3:max-keys": "10"}, False),
    ("NumericLessThanEquals", "s3:max-keys", ("10",), {"s3:max-keys": "10"}, True),
    ("NumericGreaterThan", "s3:max-keys", ("10",), {"s3:max-keys": "11"}, True),
    ("NumericGreaterThanEquals", "s3:max-keys", ("10",), {"s3:max-keys": "9"}, False),
    ("NumericEquals", "s3:max-keys", ("10",), {"s3:max-keys": "10.0"}, True),
    ("NumericNotEquals", "s3:max-keys", ("10",), {"s3:max-keys": "10"}, False),
    ("NumericEquals", "s3:max-keys", ("10",), {"s3:max-keys": "ten"}, False),
    (
        "DateLessThan",
        "aws:CurrentTime",
        ("2030-01-01T00:00:00Z",),
        {"aws:CurrentTime": "2026-11-26T10:00:00Z"},
        True,
    ),
    (
        "DateGreaterThan",
        "aws:CurrentTime",
        ("2030-01-01T00:00:00Z",),
        {"aws:CurrentTime": "2026-11-26T10:00:00Z"},
        False,
    ),
    ("DateEquals", "aws:EpochTime", ("1700000000",), {"aws:EpochTime": "1700000000"}, True),
    ("IpAddress", "aws:SourceIp", ("10.0.0.0/8",), {"aws:SourceIp": "10.1.2.3"}, True),
    ("NotIpAddress", "aws:SourceIp", ("10.0.0.0/8",), {"aws:SourceIp": "192.168.0.1"}, True),
    # Set operators on multivalued keys
    ("ForAllValues:StringEquals", "aws:TagKeys", ("env", "team"), {"aws:TagKeys": ["env"]}, True),
    ("ForAllValues:StringEquals", "aws:TagKeys", ("env", "team"), {"aws:TagKeys": ["env", "cost"]}, False),
    ("ForAllValues:StringEquals", "aws:TagKeys", ("env",), {}, True),  # missing key: vacuously true
    ("ForAnyValue:StringEquals", "aws:TagKeys", ("env",), {"aws:TagKeys": ["cost", "env"]}, True),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ("env",), {"aws:TagKeys": ["cost"]}, False),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ("env",), {}, False),
    ("ForAnyValue:StringNotEquals", "aws:TagKeys", ("env",), {"aws:TagKeys": ["env", "x"]}, True),
    ("ForAnyValue:StringNotEquals", "aws:TagKeys", ("env",), {"aws:TagKeys": ["env"]}, False),
    ("ForAllValues:StringNotEquals", "aws:TagKeys", ("secret",), {"aws:TagKeys": ["env", "x"]}, True),
    ("ForAllValues:StringNotEquals", "aws:TagKeys", ("secret",), {"aws:TagKeys": ["env", "secret"]}, False),
    ("ForAllValues:StringLike", "aws:TagKeys", ("app:*",), {"aws:TagKeys": ["app:a", "app:b"]}, True),
    ("ForAnyValue:StringLikeIfExists", "aws:TagKeys", ("x",), {}, True),
    ("forallvalues:stringequals", "aws:TagKeys", ("env",), {"aws:TagKeys": ["env"]}, True),  # any case
]


@pytest.mark.parametrize(("operator", "key", "values", "context", "expected"), CASES)
def test_operator_table(
    operator: str, key: str, values: tuple[str, ...], context: dict[str, str | list[str]], expected: bool
) -> None:
    check = compile_condition(operator, key, values)
    assert check(dict(make_context(context))) is expected


@pytest.mark.parametrize(
    "name",
    ["StringSortOf", "ForSomeValues:StringEquals", "NullIfExists", "ForAnyValue:Null", "IfExists", "Arn"],
)
def test_unknown_operators_are_bad_input(name: str) -> None:
    with pytest.raises(BadInputError):
        Operator.parse(name)


def test_bad_numeric_policy_value_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="needs a number"):
        compile_condition("NumericLessThan", "s3:max-keys", ("ten",))
    with pytest.raises(BadInputError, match="ISO 8601"):
        compile_condition("DateLessThan", "aws:CurrentTime", ("yesterday",))


def test_operator_parse() -> None:
    assert Operator.parse("ForAnyValue:StringLikeIfExists") == Operator("StringLike", "ForAnyValue", True)
    assert Operator.parse("stringequals") == Operator("StringEquals")

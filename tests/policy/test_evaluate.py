from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamfit.errors import BadInputError
from iamfit.evidence.model import Cause
from iamfit.policy.document import PolicyDocument, Statement
from iamfit.policy.evaluate import Decision, PolicySet, Request, statement_matches

ROLE = "arn:aws:iam::123456789012:role/app-dev-cfn"
BUCKET = "arn:aws:s3:::deploy-bucket"


def doc(*statements: dict[str, Any]) -> PolicyDocument:
    return PolicyDocument.from_json({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def test_no_statement_is_implicit_deny() -> None:
    result = PolicySet.of(doc()).evaluate(Request("s3:GetObject", BUCKET))
    assert result.decision is Decision.IMPLICIT_DENY
    assert result.cause is Cause.IDENTITY_NO_ALLOW


def test_allow_and_explicit_deny_with_sid() -> None:
    policies = PolicySet.of(doc(allow("s3:*", Sid="All"), deny("s3:DeleteBucket", BUCKET, Sid="NoDelete")))
    assert policies.evaluate(Request("s3:PutObject", BUCKET + "/k")).statement_sid == "All"
    denied = policies.evaluate(Request("s3:DeleteBucket", BUCKET))
    assert (denied.decision, denied.cause, denied.statement_sid) == (
        Decision.EXPLICIT_DENY,
        Cause.EXPLICIT_DENY,
        "NoDelete",
    )


def test_action_names_are_case_insensitive_resources_case_sensitive() -> None:
    policies = PolicySet.of(doc(allow("S3:getobject", "arn:aws:s3:::Bucket/*")))
    assert policies.allows("s3:GetObject", "arn:aws:s3:::Bucket/key")
    assert policies.allows("S3:GETOBJECT", "arn:aws:s3:::Bucket/key")
    assert not policies.allows("s3:GetObject", "arn:aws:s3:::bucket/key")


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c", True),  # * spans '/'
        ("arn:aws:lambda:*:123:function:*", "arn:aws:lambda:us-east-1:123:function:f:1", True),  # and ':'
        ("arn:aws:s3:::b?", "arn:aws:s3:::b1", True),
        ("arn:aws:s3:::b?", "arn:aws:s3:::b12", False),
        ("arn:aws:s3:::b?", "arn:aws:s3:::b", False),
        ("arn:aws:s3:::a.b", "arn:aws:s3:::axb", False),  # regex-special characters are literal
        ("arn:aws:s3:::a+b", "arn:aws:s3:::a+b", True),
        ("arn:aws:s3:::(x)[y]", "arn:aws:s3:::(x)[y]", True),
        ("arn:aws:s3:::x$", "arn:aws:s3:::x$", True),
        ("arn:aws:s3:::x\\d", "arn:aws:s3:::x\\d", True),
        ("arn:aws:s3:::x\\d", "arn:aws:s3:::x1", False),
        ("arn:aws:s3:::b", "arn:aws:s3:::b/key", False),  # anchored
    ],
)
def test_resource_wildcards(pattern: str, resource: str, expected: bool) -> None:
    assert PolicySet.of(doc(allow("s3:GetObject", pattern))).allows("s3:GetObject", resource) is expected


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("s3:Get*", "s3:GetObjectTagging", True),
        ("s3:Get*", "s3:PutObject", False),
        ("s3:Get?bject", "s3:GetObject", True),
        ("*", "lambda:CreateFunction", True),
        ("*:Describe*", "ec2:DescribeImages", True),
        ("s?:GetObject", "s3:getobject", True),
        ("iam:PassRole", "iam:PassRoles", False),
    ],
)
def test_action_wildcards(pattern: str, action: str, expected: bool) -> None:
    assert PolicySet.of(doc(allow(pattern))).allows(action, "*") is expected


def test_not_action_and_not_resource() -> None:
    policies = PolicySet.of(
        doc(
            {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:*", "NotResource": [BUCKET, BUCKET + "/*"]},
        )
    )
    assert policies.allows("s3:GetObject", BUCKET + "/k")
    assert not policies.allows("s3:GetObject", "arn:aws:s3:::other/k")
    assert policies.evaluate(Request("s3:GetObject", "arn:aws:s3:::other/k")).decision is Decision.EXPLICIT_DENY
    assert not policies.allows("iam:CreateRole", ROLE)
    assert policies.allows("lambda:CreateFunction", "arn:aws:lambda:us-east-1:1:function:f")


def test_policy_variables_in_resources() -> None:
    policies = PolicySet.of(
        doc(
            allow("s3:*", "arn:aws:s3:::home/${aws:username}/*"),
            allow("sqs:*", "arn:aws:sqs:*:*:${aws:PrincipalTag/team}-*"),
            allow("sns:Publish", "arn:aws:sns:*:*:literal-${*}"),
        )
    )
    assert policies.allows("s3:GetObject", "arn:aws:s3:::home/alice/x", {"aws:username": "alice"})
    assert not policies.allows("s3:GetObject", "arn:aws:s3:::home/bob/x", {"aws:username": "alice"})
    # unresolvable -> the statement does not match
    assert not policies.allows("s3:GetObject", "arn:aws:s3:::home/alice/x")
    # a value is literal: a username of '*' does not become a wildcard
    assert not policies.allows("s3:GetObject", "arn:aws:s3:::home/alice/x", {"aws:username": "*"})
    assert policies.allows("s3:GetObject", "arn:aws:s3:::home/*/x", {"aws:username": "*"})
    # condition key names (and so variable names) are case-insensitive
    assert policies.allows("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:ops-q", {"aws:principaltag/TEAM": "ops"})
    assert policies.allows("sns:Publish", "arn:aws:sns:us-east-1:1:literal-*")
    assert not policies.allows("sns:Publish", "arn:aws:sns:us-east-1:1:literal-x")


def test_unresolvable_variable_in_deny_does_not_deny() -> None:
    policies = PolicySet.of(doc(allow("s3:*"), deny("s3:*", "arn:aws:s3:::${aws:username}")))
    assert policies.allows("s3:GetObject", "arn:aws:s3:::alice")
    assert not policies.allows("s3:GetObject", "arn:aws:s3:::alice", {"aws:username": "alice"})


def test_variable_default_value() -> None:
    policies = PolicySet.of(doc(allow("s3:*", "arn:aws:s3:::${aws:PrincipalTag/team, 'shared'}/*")))
    assert policies.allows("s3:GetObject", "arn:aws:s3:::shared/k")
    assert policies.allows("s3:GetObject", "arn:aws:s3:::ops/k", {"aws:PrincipalTag/team": "ops"})


def test_passrole_with_passed_to_service() -> None:
    policies = PolicySet.of(
        doc(
            allow(
                "iam:PassRole",
                ROLE,
                Condition={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
            )
        )
    )
    assert policies.allows("iam:PassRole", ROLE, {"iam:PassedToService": "cloudformation.amazonaws.com"})
    assert not policies.allows("iam:PassRole", ROLE, {"iam:PassedToService": "lambda.amazonaws.com"})
    assert not policies.allows("iam:PassRole", ROLE)


def test_boundary_scp_session() -> None:
    identity = doc(allow("*"))
    boundary = doc(allow(["s3:*", "lambda:*"]))
    scp = doc(allow("*"), deny("lambda:DeleteFunction", Sid="ScpNoDelete"))
    session = doc(allow("s3:*"))
    policies = PolicySet((identity,), boundary=boundary, scps=(scp,), session=session)
    assert policies.allows("s3:GetObject", BUCKET)
    assert policies.evaluate(Request("ec2:RunInstances", "*")).cause is Cause.PERMISSIONS_BOUNDARY
    assert policies.evaluate(Request("lambda:GetFunction", "*")).cause is Cause.SESSION_POLICY
    denied = policies.evaluate(Request("lambda:DeleteFunction", "*"))
    assert (denied.decision, denied.cause, denied.statement_sid) == (
        Decision.EXPLICIT_DENY,
        Cause.SCP,
        "ScpNoDelete",
    )
    scp_without_ec2 = PolicySet((identity,), scps=(doc(allow("s3:*")),))
    assert scp_without_ec2.evaluate(Request("ec2:RunInstances", "*")).cause is Cause.SCP
    # each SCP level must allow
    two_levels = PolicySet((identity,), scps=(doc(allow("*")), doc(allow("lambda:*"))))
    assert not two_levels.allows("s3:GetObject", BUCKET)
    assert two_levels.allows("lambda:GetFunction", "*")


def test_boundary_deny_is_explicit() -> None:
    policies = PolicySet((doc(allow("*")),), boundary=doc(allow("*"), deny("iam:*")))
    result = policies.evaluate(Request("iam:CreateRole", ROLE))
    assert (result.decision, result.cause) == (Decision.EXPLICIT_DENY, Cause.PERMISSIONS_BOUNDARY)


def test_identity_allow_missing_reported_before_boundary() -> None:
    policies = PolicySet((doc(allow("s3:*")),), boundary=doc(allow("lambda:*")))
    assert policies.evaluate(Request("ec2:RunInstances", "*")).cause is Cause.IDENTITY_NO_ALLOW


def test_unknown_condition_operator_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="unknown condition operator 'StringSortOf'"):
        PolicySet.of(doc(allow("s3:*", Condition={"StringSortOf": {"aws:username": "x"}})))
    with pytest.raises(BadInputError, match="set operator"):
        PolicySet.of(doc(allow("s3:*", Condition={"ForSomeValues:StringLike": {"aws:TagKeys": "x"}})))


def test_statement_matches_helper() -> None:
    statement = Statement.from_json(deny("s3:*"))
    assert statement_matches(statement, Request("s3:GetObject", BUCKET))
    assert not statement_matches(statement, Request("sqs:GetQueueUrl", BUCKET))


def test_memoised_result_is_stable() -> None:
    policies = PolicySet.of(doc(allow("s3:Get*")))
    request = Request.of("s3:GetObject", BUCKET, {"aws:username": "a"})
    assert policies.evaluate(request) is policies.evaluate(request)
    assert Request.of("s3:GetObject", BUCKET, {"AWS:UserName": ["a"]}) == request
    assert Request("s3:GetObject", BUCKET, (("AWS:UserName", "a"),)) == request  # normalised on construction


# ---- property tests -------------------------------------------------------------------------------

ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "iam:PassRole",
    "lambda:CreateFunction",
    "sqs:SendMessage",
]
RESOURCES = ["arn:aws:s3:::b", "arn:aws:s3:::b/k", "arn:aws:s3:::B/k", ROLE, "arn:aws:sqs:us-east-1:1:q", "*"]
ACTION_PATTERNS = [
    *ACTIONS,
    "s3:*",
    "s3:Get*",
    "S3:getobject",
    "*",
    "iam:Pass?ole",
    "*:Create*",
    "sqs:*Message",
]
RESOURCE_PATTERNS = [*RESOURCES, "arn:aws:s3:::b*", "arn:aws:s3:::b/?", "arn:aws:*", "arn:aws:iam::*:role/*"]
CONDITIONS = [
    None,
    {"StringEquals": {"aws:username": "alice"}},
    {"StringLike": {"aws:username": "a*"}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"StringNotEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
    {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}},
    {"Null": {"aws:RequestTag/env": "false"}},
]
CONTEXTS = [
    {},
    {"aws:username": "alice"},
    {"aws:username": "bob", "aws:SecureTransport": "true"},
    {"iam:PassedToService": "lambda.amazonaws.com", "aws:TagKeys": ["a", "c"]},
    {"aws:RequestTag/env": "dev", "aws:TagKeys": ["a"]},
]


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> Statement:
    raw: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    action_key = draw(st.sampled_from(["Action", "Action", "NotAction"]))
    raw[action_key] = draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3))
    resource_key = draw(st.sampled_from(["Resource", "Resource", "NotResource"]))
    raw[resource_key] = draw(st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=3))
    condition = draw(st.sampled_from(CONDITIONS))
    if condition:
        raw["Condition"] = condition
    return Statement.from_json(raw)


requests = st.builds(Request.of, st.sampled_from(ACTIONS), st.sampled_from(RESOURCES), st.sampled_from(CONTEXTS))


def _policy(stmts: list[Statement]) -> PolicySet:
    return PolicySet.of(PolicyDocument(tuple(stmts)))


@settings(max_examples=200, deadline=None)
@given(st.lists(statements(), max_size=6), statements(effect="Deny"), requests)
def test_a_matching_deny_always_wins(stmts: list[Statement], denial: Statement, request: Request) -> None:
    result = _policy([*stmts, denial]).evaluate(request)
    if statement_matches(denial, request):
        assert result.decision is Decision.EXPLICIT_DENY


@settings(max_examples=200, deadline=None)
@given(st.lists(statements(), max_size=6), statements(effect="Allow"), requests)
def test_adding_an_allow_never_lifts_an_explicit_deny(
    stmts: list[Statement], extra: Statement, request: Request
) -> None:
    before = _policy(stmts).evaluate(request)
    after = _policy([*stmts, extra]).evaluate(request)
    if before.decision is Decision.EXPLICIT_DENY:
        assert after.decision is Decision.EXPLICIT_DENY
    if before.allowed:
        assert after.allowed


@settings(max_examples=200, deadline=None)
@given(st.lists(statements(), min_size=1, max_size=6), st.data(), requests)
def test_removing_allow_statements_never_adds_allows_even_with_denies(
    stmts: list[Statement], data: st.DataObject, request: Request
) -> None:
    drop = data.draw(st.lists(st.booleans(), min_size=len(stmts), max_size=len(stmts)))
    fewer = [s for s, d in zip(stmts, drop, strict=True) if not (d and s.effect == "Allow")]
    if _policy(fewer).evaluate(request).allowed:
        assert _policy(stmts).evaluate(request).allowed


@settings(max_examples=200, deadline=None)
@given(st.lists(statements(effect="Allow"), min_size=1, max_size=6), st.data(), requests)
def test_removing_allow_statements_never_adds_allows(
    stmts: list[Statement], data: st.DataObject, request: Request
) -> None:
    keep = data.draw(st.lists(st.booleans(), min_size=len(stmts), max_size=len(stmts)))
    fewer = [s for s, k in zip(stmts, keep, strict=True) if k]
    if _policy(fewer).evaluate(request).allowed:
        assert _policy(stmts).evaluate(request).allowed


@settings(max_examples=200, deadline=None)
@given(st.lists(statements(), max_size=6), requests)
def test_decision_is_independent_of_statement_order_and_document_split(
    stmts: list[Statement], request: Request
) -> None:
    together = _policy(stmts).evaluate(request).decision
    assert _policy(list(reversed(stmts))).evaluate(request).decision is together
    split = PolicySet(tuple(PolicyDocument((s,)) for s in stmts)).evaluate(request).decision
    assert split is together


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="ab.*+?()[]$^\\|}", min_size=1, max_size=8),
    st.text(alphabet="ab.*+?()[]$^\\|}", min_size=0, max_size=8),
)
def test_wildcards_against_a_reference_matcher(pattern: str, value: str) -> None:
    """Every character but * and ? is literal ('{' is left out: '${...}' is policy-variable syntax)."""
    def reference(p: str, v: str) -> bool:  # straightforward recursive matcher
        if not p:
            return not v
        if p[0] == "*":
            return any(reference(p[1:], v[i:]) for i in range(len(v) + 1))
        if v and (p[0] == "?" or p[0] == v[0]):
            return reference(p[1:], v[1:])
        return False

    resource = "arn:aws:s3:::" + value
    got = PolicySet.of(doc(allow("s3:GetObject", "arn:aws:s3:::" + pattern))).allows("s3:GetObject", resource)
    assert got is reference(pattern, value)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(ACTIONS),
    st.lists(st.booleans(), min_size=30, max_size=30),
    st.text(alphabet="abcXYZ-/", min_size=1, max_size=10),
)
def test_case_rules(action: str, flips: list[bool], name: str) -> None:
    """Any spelling of an action name matches; an ARN differing only in case does not."""
    respelled = "".join(c.swapcase() if f else c for c, f in zip(action, flips, strict=False))
    respelled += action[len(flips) :]
    policies = PolicySet.of(doc(allow(action, "arn:aws:s3:::" + name)))
    assert policies.allows(respelled, "arn:aws:s3:::" + name)
    if name.swapcase() != name:
        assert not policies.allows(action, "arn:aws:s3:::" + name.swapcase())

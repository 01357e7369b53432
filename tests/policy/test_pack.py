from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamfit.policy.document import PolicyDocument, Statement
from iamfit.policy.evaluate import PolicySet, Request
from iamfit.policy.pack import INLINE_LIMIT, MANAGED_LIMIT, PolicyTooLargeError, compact, pack, size_report

SERVICES = ["s3", "lambda", "logs", "cloudformation", "sqs"]
VERBS = ["Get", "Put", "Create", "Delete", "List", "Tag"]
NOUNS = ["Function", "Bucket", "Object", "Stack", "Queue", "LogGroup", "Policy"]
ACTIONS = [f"{s}:{v}{n}" for s in SERVICES for v in VERBS for n in NOUNS]
RESOURCES = [f"arn:aws:{s}:us-east-1:123456789012:app-{i}" for s in SERVICES for i in range(8)]
CONDITIONS: list[dict[str, Any] | None] = [
    None,
    None,
    {"StringEquals": {"aws:RequestTag/stage": "dev"}},
    {"StringLike": {"aws:username": "ci-*"}},
]


def doc(*statements: dict[str, Any]) -> PolicyDocument:
    return PolicyDocument.from_json({"Version": "2012-10-17", "Statement": list(statements)})


@st.composite
def statements(draw: st.DrawFn) -> Statement:
    raw: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow"] * 5 + ["Deny"]))}
    actions = draw(st.lists(st.sampled_from(ACTIONS + ["s3:Get*", "logs:*"]), min_size=1, max_size=25))
    raw["NotAction" if draw(st.integers(0, 15)) == 0 else "Action"] = actions
    resources = draw(st.lists(st.sampled_from(RESOURCES + ["*", "arn:aws:s3:::b/*"]), min_size=1, max_size=4))
    raw["NotResource" if draw(st.integers(0, 15)) == 0 else "Resource"] = resources
    condition = draw(st.sampled_from(CONDITIONS))
    if condition:
        raw["Condition"] = condition
    return Statement.from_json(raw)


documents = st.lists(statements(), min_size=1, max_size=120).map(lambda s: PolicyDocument(tuple(s)))


def _inflate(stmts: list[Statement], copies: int) -> PolicyDocument:
    """Each statement again with resources suffixed -0 .. -copies (distinct, so not merged away)."""
    out = list(stmts)
    for j in range(copies):
        for s in stmts:
            if s.resources:
                out.append(
                    Statement(
                        s.effect,
                        s.actions,
                        tuple(f"{r}-{j}" for r in s.resources),
                        s.not_actions,
                        (),
                        s.conditions,
                    )
                )
    return PolicyDocument(tuple(out))


large_documents = st.builds(_inflate, st.lists(statements(), min_size=3, max_size=12), st.integers(8, 30))
CONTEXTS = [{}, {"aws:RequestTag/stage": "dev", "aws:username": "ci-1"}, {"aws:username": "ci-2"}]
requests = st.lists(
    st.builds(
        Request.of,
        st.sampled_from(ACTIONS),
        st.sampled_from([*RESOURCES, *(f"{r}-{j}" for r in RESOURCES[::3] for j in (0, 5, 9)), "arn:aws:s3:::b/k-1"]),
        st.sampled_from(CONTEXTS),
    ),
    min_size=30,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(st.one_of(documents, large_documents), requests)
def test_packed_policies_allow_exactly_what_the_original_allows(
    document: PolicyDocument, sample: list[Request]
) -> None:
    try:
        packed = pack(document, kind="managed")
    except PolicyTooLargeError:
        return
    assert all(p.size() <= MANAGED_LIMIT for p in packed)
    assert len(packed) <= 10
    original, split = PolicySet.of(document), PolicySet(packed)
    # every action of the original, on every resource and context sampled, plus random requests
    for request in sample:
        assert split.evaluate(request).decision is original.evaluate(request).decision, request
    compacted = PolicySet.of(compact(document))
    for request in sample:
        assert compacted.evaluate(request).decision is original.evaluate(request).decision


def test_compaction_merges_by_resource_then_by_actions() -> None:
    document = doc(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Allow", "Action": ["s3:PutObject", "S3:getobject"], "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::c/*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"},
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        },
    )
    compacted = compact(document)
    assert [s.to_json() for s in compacted.statements] == [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": ["arn:aws:s3:::b/*", "arn:aws:s3:::c/*"],
        },
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"},
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        },
    ]


def test_small_documents_stay_whole() -> None:
    document = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    assert pack(document, kind="managed") == (document,)
    assert pack(document, kind="inline") == (document,)


def _big(count: int) -> PolicyDocument:
    return PolicyDocument(
        tuple(
            Statement("Allow", actions=(f"lambda:Get{i}Function",), resources=(f"arn:aws:lambda:::function:f{i}-*",))
            for i in range(count)
        )
    )


def test_large_documents_split_into_managed_policies() -> None:
    document = _big(300)
    packed = pack(document, kind="managed")
    assert len(packed) > 1
    assert all(p.size() <= MANAGED_LIMIT for p in packed)
    assert sum(len(p.statements) for p in packed) == 300
    assert pack(document, kind="managed") == packed  # deterministic


def test_one_huge_statement_is_split_along_its_actions() -> None:
    actions = tuple(f"ec2:Describe{'X' * 40}{i}" for i in range(400))
    document = PolicyDocument((Statement("Allow", actions=actions, resources=("*",), sid="Big"),))
    packed = pack(document, kind="managed")
    assert len(packed) > 1
    assert sorted(a for p in packed for s in p.statements for a in s.actions) == sorted(actions)
    sids = [s.sid for p in packed for s in p.statements]
    assert sids.count("Big") == 1


def test_too_large_errors() -> None:
    with pytest.raises(PolicyTooLargeError, match="10 managed|managed policies"):
        pack(_big(2000), kind="managed")
    with pytest.raises(PolicyTooLargeError, match=str(INLINE_LIMIT)):
        pack(_big(200), kind="inline")
    unsplittable = Statement("Allow", actions=("s3:GetObject",), resources=("arn:aws:s3:::" + "x" * 7000,))
    with pytest.raises(PolicyTooLargeError, match="cannot be split"):
        pack(PolicyDocument((unsplittable,)), kind="managed")
    assert PolicyTooLargeError("x").exit_code == 1


def _queues(n: int) -> PolicyDocument:
    arns = [f"arn:aws:sqs:us-east-1:123456789012:orders-queue-number-{i:05d}" for i in range(n)]
    return doc({"Effect": "Allow", "Action": "sqs:GetQueueAttributes", "Resource": arns})


def test_size_report_fits_inline_packs_and_too_large() -> None:
    small = size_report(_queues(3))
    assert (small.fits, small.managed, small.inline, small.verdict) == (True, 1, True, "fits")
    middle = size_report(_queues(120))  # over one managed policy, under the inline quota
    assert MANAGED_LIMIT < middle.size <= INLINE_LIMIT
    assert middle.managed == len(pack(_queues(120), kind="managed")) and middle.inline
    assert middle.verdict == f"inline only, or packs into {middle.managed} managed policies"
    large = size_report(_queues(400))
    assert large.managed == len(pack(_queues(400), kind="managed")) and not large.inline
    assert large.verdict.startswith("needs packing: packs into")
    huge = size_report(_queues(1500))  # ~95K characters: more than 10 managed policies
    assert huge.managed is None and huge.problem and "managed policies" in huge.problem
    assert huge.verdict == "too large for IAM even packed"

"""The Arn value type: parse and format round-trip, non-ARNs are rejected, the one account-id rule."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamfit.knowledge.arn import Arn, NotAnArnError, is_account_id

PARTITIONS = st.sampled_from(["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"])
SERVICES = st.sampled_from(["s3", "iam", "sts", "lambda", "logs", "cloudformation", "execute-api", "apigateway"])
REGIONS = st.sampled_from(["", "us-east-1", "cn-north-1", "us-gov-west-1", "us-iso-east-1", "*"])
ACCOUNTS = st.one_of(st.just(""), st.just("*"), st.from_regex(r"\A[0-9]{12}\Z"))
# the resource part may hold ':' and '/', percent-encoded paths and wildcards
RESOURCE_CHARS = string.ascii_letters + string.digits + ":/-_.*?%+=,@$"
RESOURCES = st.one_of(
    st.text(alphabet=RESOURCE_CHARS, min_size=1, max_size=60),
    st.builds(lambda p, n: f"log-group:{p}:{n}", st.text(alphabet="/abc%2F", max_size=20), st.just("*")),
    st.builds(lambda p: f"role/{p}", st.text(alphabet="abc/%20", max_size=20)),
)


@given(PARTITIONS, SERVICES, REGIONS, ACCOUNTS, RESOURCES)
def test_format_then_parse_round_trips(partition: str, service: str, region: str, account: str, resource: str) -> None:
    arn = Arn(partition, service, region, account, resource)
    text = str(arn)
    assert Arn.parse(text) == arn
    assert str(Arn.parse(text)) == text
    assert f"{arn}" == text and f"{arn:>5}" == text.rjust(5)


@given(st.text(max_size=80))
def test_parse_then_format_round_trips_or_rejects(text: str) -> None:
    arn = Arn.parse_or_none(text)
    if arn is None:
        with pytest.raises(NotAnArnError):
            Arn.parse(text)
    else:
        assert str(arn) == text


@given(st.text(alphabet=string.ascii_letters + string.digits + "/-_*", max_size=40))
def test_text_without_five_colons_is_not_an_arn(text: str) -> None:
    assert Arn.parse_or_none(text) is None
    assert Arn.parse_or_none(f"arn:aws:s3:{text}") is None


@pytest.mark.parametrize(
    "text",
    ["", "*", "arn", "arn:aws:s3::", "arn:aws:s3:::", "urn:aws:s3:::bucket", "ARN:aws:s3:::bucket",
     "arn::s3:::bucket", "arn:aws::::bucket", "https://sqs.us-east-1.amazonaws.com/123456789012/q"],
)
def test_non_arns_are_rejected(text: str) -> None:
    assert Arn.parse_or_none(text) is None
    with pytest.raises(NotAnArnError):
        Arn.parse(text)


def test_resource_keeps_colons_and_slashes() -> None:
    arn = Arn.parse("arn:aws-cn:logs:cn-north-1:123456789012:log-group:/aws/lambda/my%2Ffn:*")
    assert (arn.partition, arn.service, arn.region, arn.account) == ("aws-cn", "logs", "cn-north-1", "123456789012")
    assert arn.resource == "log-group:/aws/lambda/my%2Ffn:*"
    assert arn.account_id == "123456789012"


def test_account_id_and_with_account() -> None:
    assert Arn.parse("arn:aws:s3:::bucket").account_id is None
    assert Arn.parse("arn:aws:iam::*:role/*").account_id is None
    pattern = Arn.parse("arn:aws-us-gov:iam::123456789012:role/path/r").with_account("*")
    assert str(pattern) == "arn:aws-us-gov:iam::*:role/path/r"
    assert str(Arn.parse("arn:aws:sts::123456789012:user/u").with_service("iam")) == "arn:aws:iam::123456789012:user/u"


@pytest.mark.parametrize(
    ("text", "ok"),
    [("123456789012", True), ("12345678901", False), ("1234567890123", False), ("12345678901a", False),
     ("", False), (None, False), ("١٢٣٤٥٦٧٨٩٠١٢", False)],
)
def test_is_account_id(text: str | None, ok: bool) -> None:
    assert is_account_id(text) is ok


def test_knowledge_arn_imports_nothing_from_iamfit() -> None:
    import ast
    from pathlib import Path

    import iamfit.knowledge.arn as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m and m.startswith("iamfit")]


@given(PARTITIONS, SERVICES, REGIONS, ACCOUNTS, RESOURCES)
def test_the_resource_part_splits_into_type_and_id_and_back(
    partition: str, service: str, region: str, account: str, resource: str
) -> None:
    arn = Arn(partition, service, region, account, resource)
    kind, rid = arn.resource_type, arn.resource_id
    if kind:
        assert resource[len(kind)] in "/:" and resource == f"{kind}{resource[len(kind)]}{rid}"
        assert "/" not in kind and ":" not in kind
    else:
        assert rid == resource


@pytest.mark.parametrize(
    ("text", "kind", "rid"),
    [
        ("arn:aws:s3:us-east-1:123456789012:accesspoint/ap/object/a/b:c", "accesspoint", "ap/object/a/b:c"),
        ("arn:aws:s3:::bucket/key/with:colon", "", "bucket/key/with:colon"),
        ("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*", "log-group", "/aws/lambda/f:*"),
        ("arn:aws:events:us-east-1:123456789012:rule/bus/name", "rule", "bus/name"),
        ("arn:aws:lambda:us-east-1:123456789012:function:f:live", "function", "f:live"),
        ("arn:aws:sns:us-east-1:123456789012:topic", "", "topic"),
        ("arn:aws:apigateway:us-east-1::/tags/arn%3Aaws%3Aapigateway", "", "/tags/arn%3Aaws%3Aapigateway"),
    ],
)
def test_resource_type_and_id_of_real_arn_shapes(text: str, kind: str, rid: str) -> None:
    arn = Arn.parse(text)
    assert (arn.resource_type, arn.resource_id) == (kind, rid)

"""The one reader of the user's files: whatever a file holds, it is a value or one BadInputError naming it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamfit.errors import BadInputError
from iamfit.files import MAX_DEPTH, check_depth, decode, gunzip, loads_json, read_json, read_text


def nested(depth: int, kind: str = "list") -> str:
    return ('{"a":' * depth + "1" + "}" * depth) if kind == "dict" else ("[" * depth + "]" * depth)


def test_a_missing_file_a_directory_and_a_path_through_a_file_are_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no such file"):
        read_text(tmp_path / "nope.json")
    with pytest.raises(BadInputError, match="is a directory, not a policy"):
        read_text(tmp_path, "policy")
    (tmp_path / "f").write_text("x")
    with pytest.raises(BadInputError, match="no such file"):
        read_text(tmp_path / "f" / "g.json")


def test_a_file_that_cannot_be_read_is_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.json"
    path.write_text("{}")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(BadInputError, match="secret.json: permission denied"):
        read_json(path)

    def io_error(self: Path) -> bytes:
        raise OSError(5, "Input/output error", str(self))

    monkeypatch.setattr(Path, "read_bytes", io_error)
    with pytest.raises(BadInputError, match="cannot read the policy .Input/output error"):
        read_text(path, "policy")


def test_text_that_is_not_utf8_is_bad_input_with_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"Sid": "café"}'.encode("latin-1"))
    with pytest.raises(BadInputError, match=r"latin1.json: not UTF-8 text \(byte 0xe9 at offset 12\)"):
        read_json(path)
    assert decode(b"caf\xe9", "x", lenient=True) == "caf\ufffd"


def test_a_byte_order_mark_is_dropped() -> None:
    assert loads_json(b"\xef\xbb\xbf{\"a\": 1}", "bom") == {"a": 1}


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_nesting_deeper_than_the_limit_is_bad_input_at_any_depth(kind: str) -> None:
    assert loads_json(nested(MAX_DEPTH, kind), "ok") is not None
    for depth in (MAX_DEPTH + 1, 999, 5_000, 100_000):  # below and beyond json's own RecursionError
        with pytest.raises(BadInputError, match=f"deep: nested deeper than {MAX_DEPTH} levels"):
            loads_json(nested(depth, kind), "deep")


def test_depth_counts_mappings_and_lists_together() -> None:
    value: object = 1
    for i in range(MAX_DEPTH + 1):
        value = {"k": value} if i % 2 else [value]
    with pytest.raises(BadInputError):
        check_depth(value, "mixed")
    check_depth([[{"a": [1]}]] * 1000, "wide")  # width is no depth


def test_not_json_and_an_integer_too_long_to_convert_are_bad_input() -> None:
    with pytest.raises(BadInputError, match=r"p: not valid JSON \(Expecting .* at line 1\)"):
        loads_json("{not json", "p")
    with pytest.raises(BadInputError, match="p: not valid JSON .*digits"):
        loads_json("1" * 5000, "p")


def test_a_broken_gzip_stream_is_bad_input() -> None:
    data = gzip.compress(b'{"Records": []}')
    assert gunzip(data, "t.gz") == b'{"Records": []}'
    with pytest.raises(BadInputError, match="t.gz: not a readable gzip file"):
        gunzip(data[: len(data) // 2], "t.gz")
    with pytest.raises(BadInputError, match="t.gz: not a readable gzip file"):
        gunzip(b"\x1f\x8b not gzip at all", "t.gz")


documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8")) | documents.map(
    lambda v: json.dumps(v).encode("utf-8")))
def test_any_bytes_are_a_value_or_one_line_of_bad_input(data: bytes) -> None:
    try:
        value = loads_json(data, "fuzz")
    except BadInputError as exc:
        assert exc.message.startswith("fuzz: ") and "\n" not in exc.message
    else:
        check_depth(value, "fuzz")  # what was read is walkable


def test_yaml_depth_is_checked_on_events_before_any_value_is_built() -> None:
    """PyYAML's constructor recurses once per level (PyYAML 6.0.3 crashed the interpreter on 100,000 levels);
    the depth check reads the parser's event stream, so any depth is safe to check."""
    from iamfit.files import check_yaml_depth

    check_yaml_depth("a:\n  b: [1, {c: 2}]\n", "ok.yml")
    check_yaml_depth("a: [unclosed\n", "not-yaml.yml")  # left to the real parser, which says why
    for text in ("x: " + "[" * 100_000 + "]" * 100_000,
                 "".join(" " * (2 * i) + f"k{i}:\n" for i in range(2_000)) + " " * 4_000 + "v: 1\n"):
        with pytest.raises(BadInputError, match="nested deeper than 100 levels"):
            check_yaml_depth(text, "deep.yml")

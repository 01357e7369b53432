"""The one reader of the user's files: templates, policies, discover reports, failure texts, CloudTrail files,
journals, serverless.yml.

Whatever goes wrong while reading or parsing one of them is the user's input, not a bug, so every failure is
one :class:`BadInputError` naming the file: missing, a directory, not readable (permissions, I/O), not UTF-8,
not JSON, or nested deeper than :data:`MAX_DEPTH` (which would otherwise surface much later as a
``RecursionError`` in whatever walks the value). YAML templates are parsed by cfn-lint's decoder
(:mod:`iamfit.service.template`), which limits alias expansion; their nesting is checked first, on the parser's
event stream (:func:`check_yaml_depth`), because PyYAML's constructor recurses once per level and, in some
PyYAML releases (6.0.3), crashes the interpreter on deep input instead of raising.

Not read here, on purpose: CloudTrail at scale (:mod:`iamfit.evidence.trail`) streams files into DuckDB; a file
that cannot be read there is counted and skipped (an error with ``--strict``). serverless.yml is parsed by the
Framework (``osls package``); iamfit reads its text here, leniently, for variables and line numbers. Data
files of installed packages (botocore models and partitions, cfn-lint schemas) are not the user's input.
"""

from __future__ import annotations

import errno
import gzip
import json
import logging
import zlib
from pathlib import Path
from typing import Any

from iamfit.errors import BadInputError

logger = logging.getLogger(__name__)

# Deeper than any template, policy or CloudTrail record AWS accepts or writes (CloudFormation templates nest
# intrinsic functions a few levels; IAM policies three or four). It stays well below Python's recursion limit
# (1000), so every recursive walk of a value that passed this check has room: a few frames per level.
MAX_DEPTH = 100


def read_bytes(path: Path, what: str = "file") -> bytes:
    """The bytes of ``path``; BadInputError (naming ``what`` the file should have been) when they cannot be read."""
    logger.debug("reading %s (%s)", path, what)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInputError(f"{path}: is a directory, not a {what}") from None
    except PermissionError:
        raise BadInputError(f"{path}: permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            raise BadInputError(f"{path}: no such file (a part of the path is not a directory)") from None
        raise BadInputError(f"{path}: cannot read the {what} ({exc.strerror or type(exc).__name__})") from None


def decode(data: bytes, origin: str, *, lenient: bool = False) -> str:
    """UTF-8 text (a byte-order mark is dropped). Not UTF-8 is bad input, or U+FFFD replacements if ``lenient``."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8", errors="replace" if lenient else "strict")
    except UnicodeDecodeError as exc:
        raise BadInputError(
            f"{origin}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None


def read_text(path: Path, what: str = "file", *, lenient: bool = False) -> str:
    """The UTF-8 text of ``path``; see :func:`read_bytes` and :func:`decode`."""
    return decode(read_bytes(path, what), str(path), lenient=lenient)


def gunzip(data: bytes, origin: str) -> bytes:
    """``data`` gunzipped (every member); a truncated or corrupt gzip stream is bad input."""
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise BadInputError(f"{origin}: not a readable gzip file ({exc})") from None


def check_yaml_depth(text: str, origin: str, limit: int = MAX_DEPTH) -> None:
    """BadInputError when YAML collections in ``text`` nest deeper than ``limit``, decided on PyYAML's event
    stream (its parser is iterative, unlike its constructor), before anything builds the value. Text that is not
    YAML is left to the real parser, which says why."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    starts = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, starts):
                depth += 1
                if depth > limit:
                    raise BadInputError(f"{origin}: nested deeper than {limit} levels")
            elif isinstance(event, ends):
                depth -= 1
    except yaml.YAMLError as exc:
        if "nesting depth" in str(exc):  # libyaml's own limit (PyYAML 6.0.4 and later) was reached first
            raise BadInputError(f"{origin}: nested deeper than {limit} levels") from None
        return


def check_depth(value: Any, origin: str, limit: int = MAX_DEPTH) -> None:
    """BadInputError when lists and mappings in ``value`` nest deeper than ``limit``. Iterative (level by level),
    so any depth is safe to check; it costs about 40 % of ``json.loads`` on the same document."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            raise BadInputError(f"{origin}: nested deeper than {limit} levels")
        below: list[Any] = []
        add = below.append
        for node in level:
            for child in node.values() if isinstance(node, dict) else node:
                if isinstance(child, (dict, list)):
                    add(child)
        level = below


def loads_json(text: str | bytes, origin: str, what: str = "JSON") -> Any:
    """Parse JSON text: not JSON, not UTF-8 or nested deeper than :data:`MAX_DEPTH` is one BadInputError."""
    if isinstance(text, bytes):
        text = decode(text, origin)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{origin}: not valid {what} ({exc.msg} at line {exc.lineno})") from None
    except ValueError as exc:  # an integer longer than Python converts (sys.get_int_max_str_digits)
        raise BadInputError(f"{origin}: not valid {what} ({exc})") from None
    except RecursionError:
        raise BadInputError(f"{origin}: nested deeper than {MAX_DEPTH} levels") from None
    check_depth(value, origin)
    return value


def read_json(path: Path, what: str = "JSON file") -> Any:
    """The JSON value in ``path``; one BadInputError when it cannot be read or is not JSON."""
    return loads_json(read_bytes(path, what), str(path))

"""IAM condition operators and policy variables, compiled once per statement.

Semantics follow the IAM reference ("IAM JSON policy elements: Condition operators", "Single-valued vs.
multivalued context keys", "Policy variables"):

* operators within a block, keys within an operator: AND; values of one key: OR;
* a key missing from the request context: positive operators are false, negated ones
  (``StringNotEquals``, ``ArnNotLike``, ``NumericNotEquals``, ``DateNotEquals``, ``NotIpAddress``) true;
* ``...IfExists``: true when the key is missing, else the operator as usual (``Null`` has no IfExists);
* ``ForAnyValue:`` true when at least one request value matches (negated: fails to match every policy
  value); false when the key is missing;
* ``ForAllValues:`` true when every request value matches (negated: matches no policy value); true when
  the key is missing or empty;
* condition key names are case-insensitive, so contexts are keyed by the lower-cased name;
* a policy variable (``${aws:username}``) that cannot be resolved from the request context makes the
  condition false, so the statement does not match. ``${*}``, ``${?}`` and ``${$}`` are the literal
  characters; ``${key, 'default'}`` gives a default.

An unknown operator raises BadInputError when the statement is compiled.
"""

from __future__ import annotations

import datetime as _dt
import functools
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from iamfit.errors import BadInputError
from iamfit.policy.document import ConditionBlock

Context = Mapping[str, tuple[str, ...]]
# A compiled condition: context -> holds?
Check = Callable[[Context], bool]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERAL_VARIABLES = {"*": "*", "?": "?", "$": "$"}


class Unresolved(Exception):
    """A policy variable has no value in the request context."""


def has_variables(text: str) -> bool:
    return "${" in text


def resolve_variable(body: str, context: Context) -> str:
    """The value of the inside of ``${...}``; raises Unresolved."""
    body = body.strip()
    if body in _LITERAL_VARIABLES:
        return _LITERAL_VARIABLES[body]
    key, sep, default = body.partition(",")
    values = context.get(key.strip().lower())
    if values is not None and len(values) == 1:
        return values[0]
    if sep:
        default = default.strip()
        if len(default) >= 2 and default[0] == default[-1] == "'":
            return default[1:-1]
    raise Unresolved(key)


def substitute(text: str, context: Context) -> str:
    """``text`` with its policy variables replaced (values are taken literally); raises Unresolved."""
    return _VARIABLE.sub(lambda m: resolve_variable(m.group(1), context), text)


@functools.lru_cache(maxsize=65536)
def wildcard_regex(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """``*`` = any run of characters (``:`` and ``/`` included), ``?`` = one character, all else literal."""
    return _like_regex(pattern.replace("\x00", "\x00\x00"), ignore_case)  # no character of it is an escape


def _like_pattern_text(value: str, context: Context) -> str:
    """A *Like policy value with variables substituted; substituted values stay literal (``*`` escaped)."""
    out: list[str] = []
    pos = 0
    for m in _VARIABLE.finditer(value):
        out.append(value[pos : m.start()])
        resolved = resolve_variable(m.group(1), context)
        if m.group(1).strip() in _LITERAL_VARIABLES:
            out.append("\x00" + resolved)  # escaped literal wildcard character
        else:
            out.append("".join("\x00" + c if c in "*?" else c for c in resolved))
        pos = m.end()
    out.append(value[pos:])
    return "".join(out)


@functools.lru_cache(maxsize=65536)
def _like_regex(text: str, ignore_case: bool = False) -> re.Pattern[str]:
    parts = []
    escaped = False
    for char in text:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\x00":
            escaped = True
        elif char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts) + r"\Z", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def like(value: str, policy_value: str, context: Context, ignore_case: bool = False) -> bool:
    return _like_regex(_like_pattern_text(policy_value, context), ignore_case).match(value) is not None


def _arn_like(value: str, policy_value: str, context: Context) -> bool:
    """ArnLike/ArnEquals: the six ARN segments are matched one by one (a ``*`` does not span ``:``)."""
    text = _like_pattern_text(policy_value, context)
    want = text.split(":", 5)
    got = value.split(":", 5)
    if len(want) != len(got):
        return False
    return all(_like_regex(w).match(g) is not None for w, g in zip(want, got, strict=True))


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadInputError(f"policy: {where} needs a number, got {text!r:.40}") from None


def _date(text: str, where: str) -> float:
    try:
        return float(text)  # epoch seconds are allowed
    except ValueError:
        pass
    try:
        parsed = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInputError(f"policy: {where} needs an ISO 8601 date, got {text!r:.40}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.UTC)
    return parsed.timestamp()


def _try(convert: Callable[[str, str], float], text: str) -> float | None:
    try:
        return convert(text, "request")
    except BadInputError:
        return None


# base operator -> (negated, uses variables, matcher(request value, policy value, context) -> bool)
Matcher = Callable[[str, str, Context], bool]


def _numeric(compare: Callable[[float, float], bool]) -> Matcher:
    def match(value: str, policy: str, _ctx: Context) -> bool:
        got = _try(_number, value)
        return got is not None and compare(got, _number(policy, "Numeric condition"))

    return match


def _dated(compare: Callable[[float, float], bool]) -> Matcher:
    def match(value: str, policy: str, _ctx: Context) -> bool:
        got = _try(_date, value)
        return got is not None and compare(got, _date(policy, "Date condition"))

    return match


def _ip(value: str, policy: str, _ctx: Context) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(policy, strict=False)
    except ValueError:
        return False


def _string_equals(value: str, policy: str, ctx: Context) -> bool:
    return value == substitute(policy, ctx)


def _string_equals_ic(value: str, policy: str, ctx: Context) -> bool:
    return value.lower() == substitute(policy, ctx).lower()


def _eq(a: float, b: float) -> bool:
    return a == b


def _lt(a: float, b: float) -> bool:
    return a < b


def _le(a: float, b: float) -> bool:
    return a <= b


def _gt(a: float, b: float) -> bool:
    return a > b


def _ge(a: float, b: float) -> bool:
    return a >= b


OPERATORS: dict[str, tuple[bool, Matcher]] = {
    "StringEquals": (False, _string_equals),
    "StringNotEquals": (True, _string_equals),
    "StringEqualsIgnoreCase": (False, _string_equals_ic),
    "StringNotEqualsIgnoreCase": (True, _string_equals_ic),
    "StringLike": (False, lambda v, p, c: like(v, p, c)),
    "StringNotLike": (True, lambda v, p, c: like(v, p, c)),
    "ArnEquals": (False, _arn_like),
    "ArnLike": (False, _arn_like),
    "ArnNotEquals": (True, _arn_like),
    "ArnNotLike": (True, _arn_like),
    "Bool": (False, lambda v, p, c: v.lower() == p.lower()),
    "BinaryEquals": (False, lambda v, p, c: v == p),
    "NumericEquals": (False, _numeric(_eq)),
    "NumericNotEquals": (True, _numeric(_eq)),
    "NumericLessThan": (False, _numeric(_lt)),
    "NumericLessThanEquals": (False, _numeric(_le)),
    "NumericGreaterThan": (False, _numeric(_gt)),
    "NumericGreaterThanEquals": (False, _numeric(_ge)),
    "DateEquals": (False, _dated(_eq)),
    "DateNotEquals": (True, _dated(_eq)),
    "DateLessThan": (False, _dated(_lt)),
    "DateLessThanEquals": (False, _dated(_le)),
    "DateGreaterThan": (False, _dated(_gt)),
    "DateGreaterThanEquals": (False, _dated(_ge)),
    "IpAddress": (False, _ip),
    "NotIpAddress": (True, _ip),
}
_OPERATORS_LOWER = {k.lower(): k for k in OPERATORS}


@dataclass(frozen=True)
class Operator:
    """A parsed operator name: ``ForAnyValue:StringLikeIfExists`` -> set_op, base, if_exists."""

    base: str
    set_op: str = ""  # "", "ForAnyValue" or "ForAllValues"
    if_exists: bool = False

    @classmethod
    def parse(cls, name: str) -> Operator:
        set_op, _, rest = name.rpartition(":")
        if set_op and set_op.lower() not in ("foranyvalue", "forallvalues"):
            raise BadInputError(f"policy: unknown condition set operator {set_op!r:.40} in {name!r:.80}")
        set_op = {"foranyvalue": "ForAnyValue", "forallvalues": "ForAllValues"}.get(set_op.lower(), "")
        if_exists = rest.lower().endswith("ifexists") and rest.lower() != "ifexists"
        base = rest[: -len("IfExists")] if if_exists else rest
        canonical = "Null" if base.lower() == "null" else _OPERATORS_LOWER.get(base.lower())
        if canonical is None or (canonical == "Null" and (if_exists or set_op)):
            raise BadInputError(
                f"policy: unknown condition operator {name!r:.80} (iamfit knows String*, Arn*, Bool, Null, "
                "Numeric*, Date*, IpAddress, BinaryEquals with IfExists and ForAnyValue:/ForAllValues:)"
            )
        return cls(canonical, set_op, if_exists)


def compile_condition(operator: str, key: str, policy_values: tuple[str, ...]) -> Check:
    """One (operator, key, values) triple as a predicate over the request context."""
    op = Operator.parse(operator)
    lkey = key.lower()
    if op.base == "Null":
        wants_absent = [v.lower() == "true" for v in policy_values]

        def null_check(ctx: Context) -> bool:
            absent = not ctx.get(lkey)
            return any(absent == w for w in wants_absent)

        return null_check
    negated, matcher = OPERATORS[op.base]
    # Validate numeric/date policy values now, so bad input fails at compile time, not mid-run.
    if op.base.startswith("Numeric"):
        for v in policy_values:
            _number(v, f"{operator}/{key}")
    elif op.base.startswith("Date"):
        for v in policy_values:
            _date(v, f"{operator}/{key}")

    def pos(value: str, ctx: Context) -> bool:
        return any(matcher(value, p, ctx) for p in policy_values)

    set_op, if_exists = op.set_op, op.if_exists

    def check(ctx: Context) -> bool:
        values = ctx.get(lkey)
        if not values:
            if if_exists or set_op == "ForAllValues":
                return True
            if set_op == "ForAnyValue":
                return False
            return negated
        try:
            if set_op == "ForAllValues":
                return all(pos(v, ctx) != negated for v in values)
            if set_op == "ForAnyValue":
                return any(pos(v, ctx) != negated for v in values)
            hit = any(pos(v, ctx) for v in values)
            return not hit if negated else hit
        except Unresolved:
            return False

    return check


def compile_block(block: ConditionBlock) -> tuple[Check, ...]:
    return tuple(compile_condition(op, key, values) for op, keys in block for key, values in keys)

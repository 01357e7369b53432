"""The IAM policy document model: parse (strictly), normalise, serialise deterministically."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from iamfit.errors import BadInputError
from iamfit.knowledge.arn import Arn

VERSION = "2012-10-17"

# Conditions as {operator: {key: (values...)}}, kept as sorted tuples so documents are hashable.
ConditionBlock = tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...]


def _as_str_tuple(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise BadInputError(f"policy: {what} must be a string or a non-empty list of strings, got {value!r:.80}")


def _condition_values(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, (str, int, float)):
        return (str(value),)
    if isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value):
        return tuple(("true" if v else "false") if isinstance(v, bool) else str(v) for v in value)
    raise BadInputError(f"policy: condition values of {where} must be strings or lists of strings")


def _parse_conditions(raw: Any) -> ConditionBlock:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise BadInputError("policy: Condition must be an object of {operator: {key: values}}")
    block = []
    for operator, keys in raw.items():
        if not isinstance(operator, str) or not isinstance(keys, Mapping):
            raise BadInputError(f"policy: condition operator {operator!r} must map condition keys to values")
        block.append(
            (
                operator,
                tuple(sorted((str(k), _condition_values(v, f"{operator}/{k}")) for k, v in keys.items())),
            )
        )
    return tuple(sorted(block))


@dataclass(frozen=True, order=True)
class Statement:
    """One statement. Exactly one of actions/not_actions and of resources/not_resources is set."""

    effect: str
    actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    conditions: ConditionBlock = ()
    sid: str = field(default="", compare=False)

    @classmethod
    def from_json(cls, raw: Any, index: int = 0) -> Statement:
        where = f"statement {index}"
        if not isinstance(raw, Mapping):
            raise BadInputError(f"policy: {where} is not an object")
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise BadInputError(f"policy: {where} needs Effect Allow or Deny, got {effect!r:.40}")
        if ("Action" in raw) == ("NotAction" in raw):
            raise BadInputError(f"policy: {where} needs exactly one of Action and NotAction")
        if "Principal" in raw or "NotPrincipal" in raw:
            raise BadInputError(f"policy: {where} has a Principal; iamfit reads identity-based policies only")
        if ("Resource" in raw) == ("NotResource" in raw):
            raise BadInputError(f"policy: {where} needs exactly one of Resource and NotResource")
        known = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise BadInputError(f"policy: {where} has unknown element(s) {', '.join(map(str, unknown))}")
        actions = _as_str_tuple(raw["Action"], f"{where} Action") if "Action" in raw else ()
        not_actions = _as_str_tuple(raw["NotAction"], f"{where} NotAction") if "NotAction" in raw else ()
        for action in actions + not_actions:
            if action != "*" and (
                action.count(":") != 1 or not action.split(":")[0] or not action.split(":")[1]
            ):
                raise BadInputError(
                    f"policy: {where} action {action!r:.80} is not of the form service:Action"
                )
        sid = raw.get("Sid", "")
        if not isinstance(sid, str):
            raise BadInputError(f"policy: {where} Sid must be a string")
        return cls(
            effect=effect,
            actions=actions,
            not_actions=not_actions,
            resources=_as_str_tuple(raw["Resource"], f"{where} Resource") if "Resource" in raw else (),
            not_resources=_as_str_tuple(raw["NotResource"], f"{where} NotResource")
            if "NotResource" in raw
            else (),
            conditions=_parse_conditions(raw.get("Condition")),
            sid=sid,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.sid:
            out["Sid"] = self.sid
        out["Effect"] = self.effect
        if self.actions:
            out["Action"] = _scalar_or_list(self.actions)
        if self.not_actions:
            out["NotAction"] = _scalar_or_list(self.not_actions)
        if self.resources:
            out["Resource"] = _scalar_or_list(self.resources)
        if self.not_resources:
            out["NotResource"] = _scalar_or_list(self.not_resources)
        if self.conditions:
            out["Condition"] = {op: {k: _scalar_or_list(v) for k, v in keys} for op, keys in self.conditions}
        return out


def _scalar_or_list(values: tuple[str, ...]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)


@dataclass(frozen=True)
class PolicyDocument:
    statements: tuple[Statement, ...]
    version: str = VERSION

    @classmethod
    def from_json(cls, raw: Any) -> PolicyDocument:
        if not isinstance(raw, Mapping):
            raise BadInputError("policy: the document is not a JSON object")
        version = raw.get("Version", VERSION)
        if version not in ("2012-10-17", "2008-10-17"):
            raise BadInputError(f"policy: unknown Version {version!r:.40}")
        body = raw.get("Statement")
        if isinstance(body, Mapping):
            body = [body]
        if not isinstance(body, list):
            raise BadInputError("policy: Statement must be an object or a list of objects")
        return cls(tuple(Statement.from_json(s, i) for i, s in enumerate(body)), version)

    @classmethod
    def from_text(cls, text: str, origin: str = "policy") -> PolicyDocument:
        from iamfit.files import loads_json

        raw = loads_json(text, origin)
        try:
            return cls.from_json(raw)
        except BadInputError as exc:
            raise BadInputError(f"{origin}: {exc.message}") from None

    def to_json(self) -> dict[str, Any]:
        return {"Version": self.version, "Statement": [s.to_json() for s in self.statements]}

    def dumps(self) -> str:
        """Deterministic, human-diffable JSON (2-space indent, trailing newline)."""
        return json.dumps(self.to_json(), indent=2) + "\n"

    def size(self) -> int:
        """Size as IAM counts it: characters of the JSON without whitespace."""
        return len(json.dumps(self.to_json(), separators=(",", ":")))

    def accounts(self) -> frozenset[str]:
        """The 12-digit account ids the document's Resource ARNs name."""
        found = set()
        for st in self.statements:
            for arn in st.resources:
                parsed = Arn.parse_or_none(arn)
                if parsed is not None and parsed.account_id:
                    found.add(parsed.account_id)
        return frozenset(found)

    def actions(self) -> frozenset[str]:
        return frozenset(a for s in self.statements if s.effect == "Allow" for a in s.actions)


def merge(documents: Iterable[PolicyDocument]) -> PolicyDocument:
    """All statements of several documents in one (Sids kept)."""
    return PolicyDocument(tuple(s for d in documents for s in d.statements))

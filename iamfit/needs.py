"""A Need: one (principal, action, resource) a deploy requires, with why and from which knowledge."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from iamfit.errors import BadInputError
from iamfit.principals import PRINCIPALS, Principal

# A condition as (operator, key, values),
# e.g. ("StringEquals", "iam:PassedToService", ("cloudformation.amazonaws.com",))
Condition = tuple[str, str, tuple[str, ...]]


@dataclass(frozen=True, order=True)
class Need:
    """One permission a deploy needs.

    ``action`` is ``service:Action`` in the catalog's spelling; ``resource`` an ARN pattern (or ``*`` when the
    action supports no resource-level permission). ``reason`` says which resource/operation or CLI call needs
    it, ``source`` which piece of knowledge said so (``registry:AWS::Lambda::Function#create``,
    ``serverless-cli:deploy#10``, ``refinement:lambda-kms``, ``evidence:attempt-3`` ...).
    """

    principal: Principal
    action: str
    resource: str
    reason: str = field(default="", compare=True)
    source: str = field(default="", compare=True)
    conditions: tuple[Condition, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The shape reports and journals use (conditions as ``[operator, key, [values]]``)."""
        out: dict[str, Any] = {
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "reason": self.reason,
            "source": self.source,
        }
        if self.conditions:
            out["conditions"] = [[op, key, list(values)] for op, key, values in self.conditions]
        return out

    @classmethod
    def from_json(cls, item: Any, where: str, *, reason: str = "", source: str = "") -> Need:
        """Read :meth:`to_json`'s shape back; anything else is BadInputError naming ``where``."""
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("action", "resource")):
            raise BadInputError(f"{where} needs string 'action' and 'resource'")
        principal = item.get("principal", "deployer")
        if principal not in PRINCIPALS:
            raise BadInputError(f"{where} has unknown principal {principal!r}")
        conditions = []
        for c in item.get("conditions") or ():
            if not (isinstance(c, list) and len(c) == 3 and isinstance(c[0], str) and isinstance(c[1], str)
                    and isinstance(c[2], list)):
                raise BadInputError(f"{where}: conditions must be [operator, key, [values]]")
            conditions.append((c[0], c[1], tuple(str(v) for v in c[2])))
        return cls(principal, item["action"], item["resource"], str(item.get("reason", reason)),
                   str(item.get("source", source)), tuple(conditions))

    @property
    def key(self) -> tuple[str, str, str, tuple[Condition, ...]]:
        """Identity of the grant, without the explanation."""
        return (self.principal, self.action.lower(), self.resource, self.conditions)


def distinct_grants(needs: Iterable[Need]) -> list[Need]:
    """One Need per grant (principal, action, resource, conditions), first explanation kept, sorted."""
    seen: dict[tuple[str, str, str, tuple[Condition, ...]], Need] = {}
    for need in sorted(needs):
        seen.setdefault(need.key, need)
    return sorted(seen.values())

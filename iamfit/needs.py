"""A Need: one (principal, action, resource) a deploy requires, with why and from which knowledge."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from iamfit.principals import Principal

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

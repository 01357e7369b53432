"""CloudFormation registry schemas (bundled with cfn-lint): handler permissions, create-only properties, tagging.

Handler permission lists are upper bounds: they name every action the handler may call for any
combination of properties. ``iamfit.knowledge.refinements`` prunes them by the properties a resource uses.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

Operation = Literal["create", "update", "delete"]
OPERATIONS: tuple[Operation, ...] = ("create", "update", "delete")


@dataclass(frozen=True)
class TypeSchema:
    type_name: str
    handlers: dict[str, tuple[str, ...]]
    create_only: frozenset[str]
    conditional_create_only: frozenset[str]
    taggable: bool
    tag_property: str | None
    tag_permissions: tuple[str, ...]

    def permissions(self, operation: str) -> tuple[str, ...]:
        return self.handlers.get(operation, ())


def _prop_names(paths: Any) -> frozenset[str]:
    out = set()
    for path in paths or ():
        parts = str(path).split("/")
        if len(parts) >= 3 and parts[1] == "properties":
            out.add(parts[2])
    return frozenset(out)


@functools.cache
def _bundled_providers(region: str) -> tuple[str, dict[str, str]] | None:
    """cfn-lint's bundled schema directory and its type -> schema-file index for a region, read without
    importing cfn-lint (its import costs ~0.7 s, most of a CLI run). None when the layout is not there."""
    import importlib.util
    import json
    from pathlib import Path

    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas"
    try:
        index = json.loads((base / "providers" / f"{region}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return (str(base / "resources"), index) if isinstance(index, dict) else None


def _raw_schema(type_name: str, region: str) -> dict[str, Any] | None:
    bundled = _bundled_providers(region)
    if bundled is not None:  # fast path: the same files cfn-lint's schema manager reads
        import json
        from pathlib import Path

        directory, index = bundled
        digest = index.get(type_name)
        if digest is None:
            return None
        try:
            raw = json.loads((Path(directory) / f"{digest}.json").read_text(encoding="utf-8"))
            if isinstance(raw, dict):
                return raw
        except (OSError, ValueError):
            pass
    from cfnlint.schema import (
        PROVIDER_SCHEMA_MANAGER,  # lazy
        ResourceNotFoundError,
    )

    try:
        found: dict[str, Any] = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, type_name).schema
    except ResourceNotFoundError:
        return None
    except KeyError:  # a region newer than this cfn-lint: its schemas are us-east-1's (the fullest set)
        if region == "us-east-1":
            raise
        return _raw_schema(type_name, "us-east-1")
    return found


@functools.cache
def schema(type_name: str, region: str = "us-east-1") -> TypeSchema | None:
    """The registry schema of a type, or None when the registry has no such type."""
    raw = _raw_schema(type_name, region)
    if raw is None:
        return None
    handlers = {
        op: tuple(dict.fromkeys(body.get("permissions", [])))
        for op, body in (raw.get("handlers") or {}).items()
        if isinstance(body, dict)
    }
    tagging = raw.get("tagging") or {}
    tag_prop = tagging.get("tagProperty")
    return TypeSchema(
        type_name=type_name,
        handlers=handlers,
        create_only=_prop_names(raw.get("createOnlyProperties")),
        conditional_create_only=_prop_names(raw.get("conditionalCreateOnlyProperties")),
        taggable=bool(tagging.get("taggable", False)),
        tag_property=str(tag_prop).split("/")[-1] if tag_prop else ("Tags" if tagging.get("taggable") else None),
        tag_permissions=tuple(tagging.get("permissions") or ()),
    )


def property_type(type_name: str, prop: str, region: str = "us-east-1") -> str | None:
    """The JSON type (``array``, ``object``, ``string`` ...) the schema gives a top-level property."""
    raw = _raw_schema(type_name, region)
    found = ((raw or {}).get("properties") or {}).get(prop, {})
    kind = found.get("type") if isinstance(found, dict) else None
    return kind if isinstance(kind, str) else None


@functools.cache
def all_types(region: str = "us-east-1") -> tuple[str, ...]:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    return tuple(sorted(PROVIDER_SCHEMA_MANAGER.get_resource_types(region)))

"""The resource dependency graph (Ref, GetAtt, Sub, DependsOn), networkx behind a small class."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from iamfit.errors import BadInputError

_SUB_REF = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def references(value: Any) -> set[str]:
    """Logical ids a property value refers to (Ref, Fn::GetAtt, Fn::Sub)."""
    found: set[str] = set()
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Ref" and isinstance(arg, str):
                    found.add(arg)
                elif key == "Fn::GetAtt":
                    if isinstance(arg, list) and arg and isinstance(arg[0], str):
                        found.add(arg[0])
                    elif isinstance(arg, str):
                        found.add(arg.split(".", 1)[0])
                elif key == "Fn::Sub":
                    text = arg[0] if isinstance(arg, list) and arg else arg
                    if isinstance(text, str):
                        found.update(m.group(1) for m in _SUB_REF.finditer(text))
                    if isinstance(arg, list) and len(arg) > 1:
                        stack.append(arg[1])
                        local = set(arg[1]) if isinstance(arg[1], dict) else set()
                        found -= local
                    continue
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


class ResourceGraph:
    """Edges point from a resource to the resources it depends on."""

    def __init__(self, resources: Mapping[str, Mapping[str, Any]]) -> None:
        import networkx as nx  # lazy: 0.14 s of import, paid only by commands that build a graph

        self._nx = nx
        self._g = nx.DiGraph()
        self._g.add_nodes_from(sorted(resources))
        for logical_id in sorted(resources):
            body = resources[logical_id]
            deps = references(body.get("Properties", {}))
            deps |= references(body.get("Condition", {}))
            depends_on = body.get("DependsOn", [])
            if isinstance(depends_on, str):
                depends_on = [depends_on]
            deps.update(d for d in depends_on if isinstance(d, str))
            for dep in sorted(deps):
                if dep in resources and dep != logical_id:
                    self._g.add_edge(logical_id, dep)
        if not self._nx.is_directed_acyclic_graph(self._g):
            cycle = self._nx.find_cycle(self._g)
            path = " -> ".join(edge[0] for edge in cycle)
            raise BadInputError(f"template: circular dependency between resources: {path}")

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(sorted(self._g.nodes))

    def dependencies(self, logical_id: str) -> tuple[str, ...]:
        return tuple(sorted(self._g.successors(logical_id)))

    def dependents(self, logical_id: str) -> tuple[str, ...]:
        return tuple(sorted(self._g.predecessors(logical_id)))

    def all_dependents(self, logical_id: str) -> frozenset[str]:
        """Everything that (transitively) depends on ``logical_id``."""
        return frozenset(self._nx.ancestors(self._g, logical_id))

    def creation_waves(self, only: Iterable[str] | None = None) -> tuple[tuple[str, ...], ...]:
        """Resources in parallel waves: every resource after all it depends on (topological generations)."""
        graph = self._g if only is None else self._g.subgraph(set(only))
        return tuple(tuple(sorted(gen)) for gen in self._nx.topological_generations(graph.reverse(copy=False)))

    def deletion_waves(self, only: Iterable[str] | None = None) -> tuple[tuple[str, ...], ...]:
        """The reverse: a resource is deleted after everything that depends on it."""
        graph = self._g if only is None else self._g.subgraph(set(only))
        return tuple(tuple(sorted(gen)) for gen in self._nx.topological_generations(graph))

    def depth(self) -> int:
        """Length of the longest dependency chain, in resources (1 for independent resources)."""
        if not self._g:
            return 0
        return int(self._nx.dag_longest_path_length(self._g)) + 1

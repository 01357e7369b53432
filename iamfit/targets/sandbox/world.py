"""What AWS "really" requires in the sandbox: a World, and the concrete names requests act upon.

A :class:`World` answers two questions, with concrete ARNs (not patterns):

* which requests does CloudFormation make to create / update / delete one resource
  (:meth:`World.resource_requirements`), in the order the handler makes them;
* which requests does the Framework CLI make for a command (:meth:`World.cli_steps`), in order, with
  which of them the CLI tolerates and which start a stack operation.

:class:`KnowledgeWorld` (the default) answers from the knowledge base (``resource_needs``, ``cli_calls``),
made concrete by :class:`Names`. :class:`ExtendedWorld` adds needs the knowledge base does not predict
(tests and the discover loop use it to show the loop converges when AWS needs more than predicted).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from iamfit.knowledge.arns import NAME_RULES, generated_name, generated_name_pattern
from iamfit.needs import Condition
from iamfit.service.model import Resource, Service

Operation = Literal["create", "update", "delete"]
ContextItems = tuple[tuple[str, tuple[str, ...]], ...]

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
# condition operators whose values a request context carries as they are
_POSITIVE_OPERATORS = re.compile(r"^(?:ForAnyValue:|ForAllValues:)?(?:String(?:Equals|Like)|Arn(?:Equals|Like)|Bool)"
                                 r"(?:IgnoreCase)?(?:IfExists)?$")


@dataclass(frozen=True, order=True)
class Requirement:
    """One request: ``action`` on a concrete ``resource`` (``*`` for actions without resource-level
    permissions) with its request ``context`` (condition keys -> values)."""

    action: str
    resource: str
    context: ContextItems = ()
    reason: str = field(default="", compare=False)


@dataclass(frozen=True)
class CliStep:
    """One SDK call of the Framework CLI. ``api`` as the SDK names it (``S3.PutObject (upload artifacts)``)."""

    api: str
    requirement: Requirement
    tolerated: bool = False
    stack_op: str | None = None  # "create-stack" / "update-stack" / "delete-stack"


def context_of(conditions: Iterable[Condition]) -> ContextItems:
    """The request context that satisfies a need's (positive) conditions."""
    out: dict[str, tuple[str, ...]] = {}
    for operator, key, values in conditions:
        if _POSITIVE_OPERATORS.match(operator) and values:
            multi = operator.startswith(("ForAnyValue:", "ForAllValues:"))
            out[key] = tuple(values) if multi else (values[0],)
    return tuple(sorted(out.items()))


def _token(seed: str, text: str, length: int) -> str:
    digest = hashlib.sha256(f"{seed}|{text}".encode()).digest()
    return "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:length])


class Names:
    """Concrete physical names and ARNs of one sandbox stack (deterministic for a seed).

    Generated names follow CloudFormation's rule with a seeded random suffix; a replaced resource gets a
    new suffix (its ``generation``). Any other ``*`` in an ARN pattern becomes a seeded token (an API id,
    a key id), except a trailing ``:*`` (log-group and version ARNs) and a lone ``*``.
    """

    def __init__(self, service: Service, seed: str) -> None:
        self.service = service
        self.seed = seed
        self.account = service.account_or_wildcard
        self.generation: dict[str, int] = {}
        self.stack_id = self.new_stack_id(0)
        self._generated: dict[str, tuple[str, str]] = {}  # pattern -> (logical id, type)
        self.add_service(service)

    def add_service(self, service: Service) -> None:
        """Learn the generated-name resources of a (changed) service."""
        stack = service.stack_name
        for res in (*service.core_resources.values(), *service.resources.values()):
            rule = NAME_RULES.get(res.type)
            if rule is None or not rule.generated or not rule.name_property or rule.name_property in res.properties:
                continue
            self._generated[generated_name_pattern(stack, res.logical_id, rule)] = (res.logical_id, res.type)
        patterns = sorted(self._generated, key=lambda p: (-len(p), p))
        self._pattern = re.compile("|".join(re.escape(p) for p in patterns)) if patterns else None

    def new_stack_id(self, number: int) -> str:
        s = self.service
        digest = hashlib.sha256(f"{self.seed}|stack|{s.stack_name}|{number}".encode()).hexdigest()
        uuid = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        return f"arn:{s.partition}:cloudformation:{s.region}:{self.account}:stack/{s.stack_name}/{uuid}"

    def suffix(self, logical_id: str) -> str:
        return _token(self.seed, f"{logical_id}#{self.generation.get(logical_id, 0)}", 13)

    def generated(self, logical_id: str, type_name: str) -> str:
        return generated_name(self.service.stack_name, logical_id, NAME_RULES[type_name], self.suffix(logical_id))

    def physical_id(self, service: Service, resource: Resource) -> str:
        """The PhysicalResourceId CloudFormation reports for a resource."""
        rule = NAME_RULES.get(resource.type)
        if rule is not None and rule.name_property and rule.name_property in resource.properties:
            return self.concrete(service.physical_name(resource.logical_id))
        if rule is not None and rule.generated and rule.name_property:
            return self.generated(resource.logical_id, resource.type)
        if resource.type == "AWS::Lambda::Version":
            fn = service.resource_arns(resource.logical_id)
            return self.concrete(fn[0]) + ":1" if fn else _token(self.seed, resource.logical_id, 10)
        stack_part = self.service.stack_name[:20]
        base = _token(self.seed, f"{resource.logical_id}#{self.generation.get(resource.logical_id, 0)}", 10)
        return f"{stack_part}-{resource.logical_id[:20]}-{base}" if resource.type.startswith("AWS::Lambda::") else base

    @property
    def bucket(self) -> str:
        return self.concrete(self.service.bucket_name_pattern)

    def artifact_key(self, service: Service) -> str:
        directory = service.artifact_dir or f"{service.artifact_prefix}/0000000000000-1970-01-01T00:00:00.000Z"
        return f"{directory}/{service.name}.zip"

    def concrete(self, pattern: str, service: Service | None = None) -> str:
        """A concrete value of an ARN (or name) pattern."""
        if pattern == "*" or "*" not in pattern:
            return pattern
        text = pattern
        svc = service or self.service
        artifacts = f"/{svc.artifact_prefix}/*"
        if text.endswith(artifacts):
            text = text[: -len(artifacts)] + "/" + self.artifact_key(svc)
        stack_any = f":stack/{svc.stack_name}/*"
        if text.endswith(stack_any):
            text = text[: -len(stack_any)] + ":stack/" + self.stack_id.split(":stack/", 1)[1]
        if self._pattern is not None and "*" in text:
            text = self._pattern.sub(lambda m: self.generated(*self._generated[m.group(0)]), text)
        if "*" not in text:
            return text
        trailing = text.endswith(":*")
        body = text[:-2] if trailing else text
        parts = body.split("*")
        out = parts[0]
        for i, part in enumerate(parts[1:], 1):
            out += _token(self.seed, "*".join(parts[:i]), 10) + part
        return out + (":*" if trailing else "")


class World(Protocol):
    """What AWS requires, per resource operation and per CLI command (see the module docstring)."""

    def resource_requirements(
        self, service: Service, resource: Resource, operation: Operation, names: Names
    ) -> tuple[Requirement, ...]: ...

    def cli_steps(
        self, service: Service, command: str, *, first_deploy: bool, names: Names
    ) -> tuple[CliStep, ...]: ...


class KnowledgeWorld:
    """The knowledge base as the truth: ``resource_needs`` and ``cli_calls``, made concrete."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str, str, int, str], tuple[Requirement, ...]] = {}

    def resource_requirements(
        self, service: Service, resource: Resource, operation: Operation, names: Names
    ) -> tuple[Requirement, ...]:
        from iamfit.predict.resource_needs import resource_needs  # lazy: loads the registry

        key = (id(service), resource.logical_id, operation, names.generation.get(resource.logical_id, 0),
               names.stack_id)
        found = self._cache.get(key)
        if found is None:
            needs = resource_needs(service, resource, operation).needs
            found = tuple(
                Requirement(n.action, names.concrete(n.resource, service), context_of(n.conditions), n.reason)
                for n in needs
            )
            self._cache[key] = found
        return found

    def cli_steps(
        self, service: Service, command: str, *, first_deploy: bool, names: Names
    ) -> tuple[CliStep, ...]:
        from iamfit.predict.serverless_cli import cli_calls

        return tuple(
            CliStep(
                call.api,
                Requirement(call.action, names.concrete(call.resource, service), context_of(call.conditions),
                            call.reason),
                call.tolerated,
                call.stack_op,
            )
            for call in cli_calls(service, command, first_deploy=first_deploy)
        )


ExtraWhen = Literal["create", "update", "delete", "deploy", "remove"]


@dataclass(frozen=True)
class ExtraNeed:
    """A request AWS makes that the knowledge base does not predict.

    ``when``: a resource operation (``create`` / ``update`` / ``delete``) or a CLI command (``deploy`` /
    ``remove``, the deployer's side: checked just before the command's first stack operation).
    ``resource_type`` / ``logical_id`` narrow which resources (None: any). ``resource``: an ARN pattern made
    concrete (None: the resource's own ARN, or the stack's for CLI needs). ``context``: condition keys the
    request carries (a conditional need). ``only_if``: a predicate on the resource (a property-dependent
    need).
    """

    action: str
    when: ExtraWhen
    resource_type: str | None = None
    logical_id: str | None = None
    resource: str | None = None
    context: ContextItems = ()
    only_if: Callable[[Resource], bool] | None = field(default=None, compare=False)

    def applies(self, resource: Resource) -> bool:
        return (
            (self.resource_type is None or self.resource_type == resource.type)
            and (self.logical_id is None or self.logical_id == resource.logical_id)
            and (self.only_if is None or self.only_if(resource))
        )


class ExtendedWorld:
    """Another world plus extra needs (each checked after the base world's requests of the operation)."""

    def __init__(self, base: World, extras: Sequence[ExtraNeed]) -> None:
        self.base = base
        self.extras = tuple(extras)

    def resource_requirements(
        self, service: Service, resource: Resource, operation: Operation, names: Names
    ) -> tuple[Requirement, ...]:
        found = self.base.resource_requirements(service, resource, operation, names)
        extra = []
        for need in self.extras:
            if need.when != operation or not need.applies(resource):
                continue
            own = service.resource_arns(resource.logical_id)
            pattern = need.resource or (own[0] if own else "*")
            extra.append(Requirement(need.action, names.concrete(pattern, service), need.context,
                                     f"{resource.type} {resource.logical_id} {operation} (extra)"))
        return found + tuple(extra)

    def cli_steps(
        self, service: Service, command: str, *, first_deploy: bool, names: Names
    ) -> tuple[CliStep, ...]:
        steps = list(self.base.cli_steps(service, command, first_deploy=first_deploy, names=names))
        extra = [
            CliStep(f"extra {need.action}", Requirement(
                need.action, names.concrete(need.resource or service.stack_arn, service), need.context,
                f"serverless {command} (extra)"))
            for need in self.extras if need.when == command
        ]
        at = next((i for i, s in enumerate(steps) if s.stack_op), len(steps))
        return tuple(steps[:at] + extra + steps[at:])


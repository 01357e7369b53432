"""Lambda@Edge: what associating function versions with a CloudFront distribution needs beyond the registry.

The CloudFront registry schema lists only ``cloudfront:*`` calls, yet a distribution whose cache behaviours name a
Lambda function version (``LambdaFunctionAssociations``) makes CloudFront replicate that version, which AWS
authorizes against the caller: ``lambda:GetFunction`` and ``lambda:EnableReplication*`` on the version (create and
update), ``lambda:DisableReplication*`` on it when the association goes (update and delete), and
``iam:CreateServiceLinkedRole`` for the replicator and logger roles (the first time, in an account). AWS asks for
the trailing ``*`` of both replication actions. Source: CloudFront Developer Guide, "Set up IAM permissions and
roles for Lambda@Edge" and "Service-linked roles for Lambda@Edge".
"""

from __future__ import annotations

from iamfit.knowledge.service_roles import EDGE_SERVICES
from iamfit.needs import Need
from iamfit.principals import CLOUDFORMATION
from iamfit.service.model import Resource, Service

SOURCE = (
    "CloudFront Developer Guide, 'Set up IAM permissions and roles for Lambda@Edge' "
    "(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-edge-permissions.html)"
)
DISTRIBUTION = "AWS::CloudFront::Distribution"


def _associations(resource: Resource) -> list[object]:
    config = resource.properties.get("DistributionConfig")
    if not isinstance(config, dict):
        return []
    behaviours = [config.get("DefaultCacheBehavior")]
    extra = config.get("CacheBehaviors")
    behaviours.extend(extra if isinstance(extra, list) else [])
    out: list[object] = []
    for behaviour in behaviours:
        found = behaviour.get("LambdaFunctionAssociations") if isinstance(behaviour, dict) else None
        if isinstance(found, list):
            out.extend(a.get("LambdaFunctionARN") for a in found if isinstance(a, dict))
    return out


def edge_versions(service: Service, resource: Resource) -> tuple[str, ...]:
    """The function-version ARN patterns a distribution associates (every version of the function: each deploy
    publishes a new one, and the update disassociates the old)."""
    if resource.type != DISTRIBUTION:
        return ()
    any_version = service.arn("arn:{partition}:lambda:{region}:{account}:function:*:*")
    out: set[str] = set()
    for value in _associations(resource):
        target = value.get("Ref") if isinstance(value, dict) else None
        version = service.resources.get(target) if isinstance(target, str) else None
        if version is not None:
            qualified = [a for a in service.resource_arns(version.logical_id) if a.endswith(":*")]
            out.update(qualified or [any_version])
            continue
        arn = service.resolve_one(value)
        if arn.startswith("arn:") and ":lambda:" in arn:
            out.add(arn.rsplit(":", 1)[0] + ":*" if arn.count(":") >= 7 else arn + ":*")
        elif value is not None:
            out.add(any_version)
    return tuple(sorted(out))


def edge_needs(service: Service, resource: Resource, operation: str) -> tuple[Need, ...]:
    """The Lambda@Edge needs of one distribution operation (none when it associates no function)."""
    versions = edge_versions(service, resource)
    if not versions:
        return ()
    reason = f"{resource.type} {resource.logical_id} {operation} (Lambda@Edge association)"
    needs: list[Need] = []
    actions = {
        "create": ("lambda:GetFunction", "lambda:EnableReplication*"),
        "update": ("lambda:GetFunction", "lambda:EnableReplication*", "lambda:DisableReplication*"),
        "delete": ("lambda:DisableReplication*",),
    }.get(operation, ())
    for action in actions:
        needs.extend(Need(CLOUDFORMATION, action, arn, reason, SOURCE) for arn in versions)
    if operation in ("create", "update"):
        base = service.arn("arn:{partition}:iam::{account}:role/aws-service-role/")
        condition = (("StringEquals", "iam:AWSServiceName", EDGE_SERVICES),)
        needs.extend(
            Need(CLOUDFORMATION, "iam:CreateServiceLinkedRole", f"{base}{name}/*", reason, SOURCE, condition)
            for name in EDGE_SERVICES
        )
    return tuple(needs)

"""What the sandbox cannot verify: resources whose needs its model of AWS does not hold.

The sandbox is iamfit's model of AWS (the CloudFormation registry's handler permissions, the Framework CLI's
calls, refinements), not AWS. A verdict from it says so, and names each resource whose needs it could not check:

* a type the registry schemas do not know (``AWS::Foo::Bar``, a third-party or private type), or know without
  handler permissions and without a rule in ``iamfit.knowledge.unregistered``: the sandbox creates it with no
  permission required;
* a custom resource (``Custom::*``, ``AWS::CloudFormation::CustomResource``): the sandbox checks that
  CloudFormation may invoke its ServiceToken, not what the function (or the topic's subscriber) then does with
  its own role (``Custom::S3`` of the Framework's existing-bucket events calls ``s3:PutBucketNotification``...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iamfit.service.model import Resource, Service

MODEL_NOTE = "iamfit's model of AWS, not AWS"


@dataclass(frozen=True, order=True)
class Unverified:
    """A resource whose needs the sandbox could not verify, and why."""

    logical_id: str
    type: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"logical_id": self.logical_id, "type": self.type, "reason": self.reason}


def _custom(service: Service, resource: Resource) -> str:
    token = service.resolve_one(resource.properties.get("ServiceToken"))
    if ":lambda:" in token:
        backing = f"backed by Lambda {token.rsplit(':', 1)[-1]}"
    elif ":sns:" in token:
        backing = f"backed by SNS topic {token.rsplit(':', 1)[-1]}"
    else:
        backing = "backed by its ServiceToken"
    from iamfit.knowledge.unregistered import framework_custom
    from iamfit.predict.resource_needs import function_of

    function = function_of(service, resource)
    role = service.resolve_one(function.properties.get("Role")) if function is not None else ""
    if framework_custom(resource.type) and service.deployment_role and role == service.deployment_role:
        return (f"the Framework's custom resource {backing}, running as the deploymentRole: the sandbox checks the "
                "invoke and the calls iamfit knows its function makes (docs/knowledge.md), not the function itself")
    return (f"custom resource {backing}: the sandbox checks that CloudFormation may invoke it, not the calls "
            "it makes with its own role")


def unverified_resources(service: Service) -> tuple[Unverified, ...]:
    """Every resource of the stack (the Framework's own and the service's) whose needs the sandbox cannot check."""
    from iamfit.predict.undescribed import NO_HANDLERS, NOT_IN_REGISTRY, gap  # lazy: loads the registry schemas

    resources = dict(service.core_resources)
    resources.update(service.resources)
    out = []
    for logical_id in sorted(resources):
        res = resources[logical_id]
        if res.type.startswith("Custom::") or res.type == "AWS::CloudFormation::CustomResource":
            out.append(Unverified(logical_id, res.type, _custom(service, res)))
        elif gap(service, res) in (NOT_IN_REGISTRY, NO_HANDLERS):
            out.append(Unverified(logical_id, res.type, f"{gap(service, res)}, so the sandbox requires no "
                                  "permission to create, update or delete it"))
    return tuple(out)


def verdict_lines(unverified: tuple[Unverified, ...], passed: str) -> list[str]:
    """The sandbox's verdict: ``VERIFIED in the sandbox model`` with what that covers and what it does not."""
    lines = [f"VERIFIED in the sandbox model ({MODEL_NOTE}): {passed}"]
    if unverified:
        lines.append(f"  not verified: {len(unverified)} resource(s) whose needs the sandbox could not check "
                     "(verify with --target aws, or grant their needs by hand):")
        lines.extend(f"  - {u.logical_id} ({u.type}): {u.reason}" for u in unverified)
    return lines

"""What the sandbox cannot verify: resources whose needs its model of AWS does not hold.

The sandbox is iamfit's model of AWS (the CloudFormation registry's handler permissions, the Framework CLI's
calls, refinements), not AWS. A verdict from it says so, and names each resource whose needs it could not check:

* a type the registry schemas do not know (``AWS::Foo::Bar``, a third-party or private type), or know without
  handler permissions and without a rule in ``iamfit.knowledge.unregistered``: the sandbox creates it with no
  permission required;
* a custom resource (``Custom::*``, ``AWS::CloudFormation::CustomResource``): the sandbox checks that
  CloudFormation may invoke its ServiceToken, not what the function (or the topic's subscriber) then does with
  its own role (``Custom::S3`` of the Framework's existing-bucket events calls ``s3:PutBucketNotification``...).

And, for every service, what no passing run can tell (:func:`model_limits`): that AWS evaluates the ARNs and
conditions as iamfit writes them, that the installed CLI makes the calls iamfit models for its Framework variant,
and what the service's plugins call at deploy time. ``iamfit observe`` runs the real CLI (and its plugins)
against a local AWS; ``iamfit discover --target aws`` deploys on AWS.
"""

from __future__ import annotations

from collections.abc import Sequence
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


_CLI_NAMES = {"v1": "Serverless Framework v1", "v2": "Serverless Framework v2", "v3": "Serverless Framework v3",
              "v4": "Serverless Framework v4", "osls": "osls"}


def model_limits(service: Service) -> tuple[str, ...]:
    """What a run that passes in the sandbox cannot tell about ``service``, whatever its resources: the model's
    limits, named for this service (its Framework variant, its plugins)."""
    variants = service.framework.variants
    cli = " or ".join(_CLI_NAMES.get(v, v) for v in variants)
    if service.framework.told:
        calls = (f"the calls of the {cli} CLI as iamfit models them (docs/knowledge.md), not as the installed CLI "
                 "makes them")
    else:
        calls = (f"the calls of the Framework CLI that deploys it (not told: {cli}; the model grants each one's "
                 f"and runs {_CLI_NAMES.get(service.framework.primary, service.framework.primary)}'s)")
    limits = ["ARNs, condition keys and resource policies as iamfit writes and evaluates them, not as AWS does", calls]
    if service.plugins is None:
        limits.append("the calls of any Framework plugin the service uses at deploy time (no serverless-state.json "
                      "records its plugins)")
    elif service.plugins:
        limits.append(f"the calls plugin(s) {', '.join(service.plugins)} make at deploy time (what a plugin compiles "
                      "into the template is checked; what it calls itself is not in the model)")
    return tuple(limits)


def verdict_lines(unverified: tuple[Unverified, ...], passed: str, limits: tuple[str, ...] = ()) -> list[str]:
    """The sandbox's verdict: ``VERIFIED in the sandbox model`` with what that covers and what it does not."""
    lines = [f"VERIFIED in the sandbox model ({MODEL_NOTE}): {passed}"]
    if unverified:
        lines.append(f"  not verified: {len(unverified)} resource(s) whose needs the sandbox could not check "
                     "(verify with --target aws, or grant their needs by hand):")
        lines.extend(f"  - {u.logical_id} ({u.type}): {u.reason}" for u in unverified)
    lines.extend(limits_lines(limits))
    return lines


def limits_lines(limits: Sequence[str], indent: str = "  ") -> list[str]:
    """The model's limits, as the verdicts of discover and plan print them."""
    if not limits:
        return []
    return [f"{indent}not checked by the model (`iamfit observe` runs the real CLI and plugins against a local AWS; "
            "`--target aws` deploys on AWS):", *(f"{indent}- {limit}" for limit in limits)]

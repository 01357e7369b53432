"""When CloudFormation deletes a resource: the ``DeletionPolicy`` and ``UpdateReplacePolicy`` attributes.

CloudFormation deletes a physical resource in four situations, and the attributes decide each one:

* ``stack-delete``: the stack is deleted (``serverless remove``) -- ``DeletionPolicy``;
* ``removed``: a stack update no longer has the resource in the template -- ``DeletionPolicy`` ("This capability
  also applies to stack update operations that lead to resources being deleted from stacks");
* ``rollback``: the stack operation that created the resource is rolled back -- ``DeletionPolicy``:
  ``RetainExceptOnCreate`` "behaves like Retain for stack operations, except for the stack operation that initially
  created the resource. If the stack operation that created the resource is rolled back, CloudFormation deletes
  the resource"; ``Retain`` keeps it;
* ``replaced``: an update replaces the resource (a create-only property changed) and the old physical resource is
  cleaned up -- ``UpdateReplacePolicy`` only (DeletionPolicy "doesn't apply to resources whose physical instance is
  replaced during stack update operations").

``Snapshot`` (either attribute) snapshots the resource, then deletes it: the delete is still made, and so is the
snapshot call the registry's delete handler lists (``rds:CreateDBSnapshot`` ...), which a resource with no
``Snapshot`` policy (its own, or the default ``Snapshot`` of ``AWS::RDS::DBCluster`` and of an
``AWS::RDS::DBInstance`` without ``DBClusterIdentifier``) never makes.
Sources: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
and https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatereplacepolicy.html
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

When = Literal["stack-delete", "removed", "rollback", "replaced"]

DELETION_POLICY_DOC = (
    "AWS CloudFormation template reference, 'DeletionPolicy attribute' "
    "(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html)"
)
UPDATE_REPLACE_POLICY_DOC = (
    "AWS CloudFormation template reference, 'UpdateReplacePolicy attribute' "
    "(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatereplacepolicy.html)"
)
SOURCE = f"{DELETION_POLICY_DOC}; {UPDATE_REPLACE_POLICY_DOC}"

# What each command can make CloudFormation delete (deploy: updates remove and replace resources, and roll back;
# remove: the stack delete).
_WHEN_FOR_COMMAND: dict[str, tuple[When, ...]] = {
    "deploy": ("removed", "rollback", "replaced"),
    "rollback": ("removed", "rollback", "replaced"),
    "remove": ("stack-delete",),
}


def _policy(raw: Mapping[str, Any], attribute: str) -> str:
    value = raw.get(attribute)
    return value if isinstance(value, str) else "Delete"


def retained(raw: Mapping[str, Any], when: When) -> bool:
    """True when CloudFormation keeps the physical resource (makes no delete call) in that situation."""
    if when == "replaced":
        return _policy(raw, "UpdateReplacePolicy") == "Retain"
    policy = _policy(raw, "DeletionPolicy")
    if when == "rollback":
        return policy == "Retain"
    return policy in ("Retain", "RetainExceptOnCreate")


def deletes_for(commands: Iterable[str]) -> tuple[When, ...]:
    """The situations in which these commands can make CloudFormation delete a resource."""
    out: list[When] = []
    for command in commands:
        out.extend(w for w in _WHEN_FOR_COMMAND.get(command, ()) if w not in out)
    return tuple(out)


def never_deleted(raw: Mapping[str, Any], commands: Iterable[str]) -> str | None:
    """Why CloudFormation makes no delete call for this resource under these commands, or None when it may."""
    whens = deletes_for(commands)
    if not whens or not all(retained(raw, w) for w in whens):
        return None
    attrs = [f"{a}: {raw[a]}" for a in ("DeletionPolicy", "UpdateReplacePolicy") if isinstance(raw.get(a), str)]
    return f"{', '.join(attrs)}: CloudFormation keeps the resource ({', '.join(whens)})"


# The snapshot calls of the delete handlers of the types that support the Snapshot policy (registry schemas of
# AWS::RDS::DBInstance, AWS::RDS::DBCluster, AWS::Neptune::DBCluster, AWS::EC2::Volume, AWS::ElastiCache::*).
SNAPSHOT_ACTIONS = frozenset({
    "rds:createdbsnapshot", "rds:createdbclustersnapshot", "ec2:createsnapshot", "elasticache:createsnapshot",
})


def _default_policy(type_name: str, properties: Mapping[str, Any]) -> str:
    """CloudFormation's default when the attribute is absent: Snapshot for AWS::RDS::DBCluster and for an
    AWS::RDS::DBInstance that names no DBClusterIdentifier (the DeletionPolicy page says so; iamfit takes the same
    default for UpdateReplacePolicy, which keeps the snapshot call: the safe side), else Delete."""
    if type_name == "AWS::RDS::DBCluster" or (
        type_name == "AWS::RDS::DBInstance" and not properties.get("DBClusterIdentifier")
    ):
        return "Snapshot"
    return "Delete"


def snapshots(raw: Mapping[str, Any], type_name: str) -> bool:
    """True when CloudFormation may snapshot the resource before deleting it (either attribute, or its default)."""
    props = raw.get("Properties")
    default = _default_policy(type_name, props if isinstance(props, Mapping) else {})
    return any(
        (raw.get(a) if isinstance(raw.get(a), str) else default) == "Snapshot"
        for a in ("DeletionPolicy", "UpdateReplacePolicy")
    )

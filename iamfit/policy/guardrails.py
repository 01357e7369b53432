"""What the discovery loop must never grant on its own (docs/discover.md, "Guardrails").

A grant that trips a guardrail stops the loop with a clear report, unless the user allowed the action by
name (``--allow iam:PassRole``). The rules:

* ``*`` as the action, or any action pattern with a wildcard in the service part;
* a whole-service wildcard (``iam:*``, ``s3:*``); any wildcard pattern that covers a guarded action
  (``iam:Put*`` covers ``iam:PutRolePolicy``);
* ``iam:*`` / ``organizations:*`` patterns of any kind;
* ``sts:AssumeRole`` or ``iam:PassRole`` on an unscoped resource (``*``, ``arn:aws:iam::*:role/*``);
* policy-editing and credential-creating IAM actions (``POLICY_EDITING``) without an
  ``iam:PermissionsBoundary`` condition.
"""

from __future__ import annotations

import fnmatch
import re

from iamfit.knowledge.arn import Arn
from iamfit.needs import Condition

# IAM actions that can change what a principal may do, or mint credentials for one.
POLICY_EDITING: frozenset[str] = frozenset(
    {
        "iam:AddUserToGroup",
        "iam:AttachGroupPolicy",
        "iam:AttachRolePolicy",
        "iam:AttachUserPolicy",
        "iam:CreateAccessKey",
        "iam:CreateLoginProfile",
        "iam:CreatePolicyVersion",
        "iam:DeleteRolePermissionsBoundary",
        "iam:DeleteUserPermissionsBoundary",
        "iam:PutGroupPolicy",
        "iam:PutRolePermissionsBoundary",
        "iam:PutRolePolicy",
        "iam:PutUserPermissionsBoundary",
        "iam:PutUserPolicy",
        "iam:SetDefaultPolicyVersion",
        "iam:UpdateAssumeRolePolicy",
        "iam:UpdateLoginProfile",
    }
)
UNSCOPED_ONLY_GUARDED: frozenset[str] = frozenset({"sts:AssumeRole", "iam:PassRole"})
ALWAYS_GUARDED_SERVICES: frozenset[str] = frozenset({"iam", "organizations"})
BOUNDARY_KEY = "iam:permissionsboundary"

_GUARDED_LOWER = {a.lower(): a for a in POLICY_EDITING | UNSCOPED_ONLY_GUARDED}
_UNSCOPED_TAIL = re.compile(r"(?:[A-Za-z0-9-]+[/:])?[*?]+")


def is_unscoped(resource: str) -> bool:
    """``*``, or an ARN whose resource part is only wildcards (``arn:aws:iam::*:role/*``)."""
    if resource.strip("*?") == "":
        return True
    arn = Arn.parse_or_none(resource)
    if arn is None:
        return False
    return _UNSCOPED_TAIL.fullmatch(arn.resource) is not None


def has_boundary_condition(conditions: tuple[Condition, ...]) -> bool:
    """A positive condition on ``iam:PermissionsBoundary`` (StringEquals/ArnEquals/...Like, IfExists not)."""
    for operator, key, _values in conditions:
        op = operator.lower()
        if key.lower() != BOUNDARY_KEY or "not" in op or op.endswith("ifexists") or op == "null":
            continue
        if op.split(":")[-1].startswith(("string", "arn")):
            return True
    return False


def guardrail_violation(
    action: str,
    resource: str,
    conditions: tuple[Condition, ...] = (),
    allowed: frozenset[str] = frozenset(),
) -> str | None:
    """One line saying why granting ``action`` on ``resource`` needs a person's approval, else None."""
    allowed_lower = {a.lower() for a in allowed}
    if action.lower() in allowed_lower:
        return None
    service, _, name = action.partition(":")
    wildcard = any(c in action for c in "*?")
    if action == "*" or (wildcard and any(c in service for c in "*?")):
        return f"{action} grants every action of every service"
    if wildcard:
        if name.strip("*?") == "":
            return f"{action} grants every action of the {service} service"
        if service.lower() in ALWAYS_GUARDED_SERVICES:
            return f"{action} is a wildcard over {service} actions, which can change permissions"
        pattern = action.lower()
        covered = sorted(
            real
            for low, real in _GUARDED_LOWER.items()
            if fnmatch.fnmatchcase(low, pattern) and low not in allowed_lower
        )
        if covered:
            return f"{action} covers {', '.join(covered)}, which must be granted by name"
        return None
    canonical = _GUARDED_LOWER.get(action.lower())
    if canonical is None:
        return None
    if canonical in UNSCOPED_ONLY_GUARDED:
        if is_unscoped(resource):
            what = "pass any role to any service" if canonical == "iam:PassRole" else "assume any role"
            return f"{canonical} on {resource} lets the principal {what}; scope it to named roles"
        return None
    if not has_boundary_condition(conditions):
        return f"{canonical} can escalate privileges; grant it only with an iam:PermissionsBoundary condition"
    return None

"""Predict: the Needs of a service's deploy, from knowledge alone (no AWS call)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from iamfit.errors import BadInputError
from iamfit.knowledge.catalog import Catalog, default_catalog
from iamfit.knowledge.retention import SOURCE as RETENTION_SOURCE
from iamfit.knowledge.retention import never_deleted
from iamfit.needs import Need
from iamfit.predict.resource_needs import resource_needs
from iamfit.predict.serverless_cli import COMMANDS, all_cli_calls
from iamfit.predict.undescribed import Undescribed, undescribed
from iamfit.predict.undescribed import warnings as undescribed_warnings
from iamfit.principals import CLOUDFORMATION, DEPLOYER
from iamfit.service.model import Service

logger = logging.getLogger(__name__)

PASS_TO_CLOUDFORMATION = (("StringEquals", "iam:PassedToService", ("cloudformation.amazonaws.com",)),)


@dataclass(frozen=True)
class DroppedAction:
    logical_id: str
    type_name: str
    operation: str
    action: str
    why: str
    source: str


@dataclass
class Prediction:
    service: Service
    commands: tuple[str, ...]
    split: bool
    needs: list[Need]
    dropped: list[DroppedAction] = field(default_factory=list)
    naive_actions: frozenset[str] = frozenset()
    warnings: list[str] = field(default_factory=list)
    undescribed: tuple[Undescribed, ...] = ()  # resources whose permissions iamfit cannot describe

    @property
    def has_cloudformation_principal(self) -> bool:
        return bool(self.service.deployment_role) or self.split

    @property
    def cloudformation_role_arn(self) -> str | None:
        if self.service.deployment_role:
            return self.service.deployment_role
        if self.split:
            return self.service.arn("arn:{partition}:iam::{account}:role/{name}", recommended_role_name(self.service))
        return None

    def actions(self, principal: str | None = None) -> frozenset[str]:
        return frozenset(n.action for n in self.needs if principal is None or n.principal == principal)

    def resource_side_actions(self) -> frozenset[str]:
        """Actions predicted for the stack's resources (whichever principal ends up holding them)."""
        return frozenset(n.action for n in self.needs if n.source.startswith("registry:"))


def recommended_role_name(service: Service) -> str:
    return f"{service.name}-{service.stage}-cfn-deployment"[:64]


def operations_for(commands: tuple[str, ...]) -> tuple[str, ...]:
    ops: list[str] = []
    if "deploy" in commands or "rollback" in commands:
        ops += ["create", "update", "delete"]  # delete: replacements, removed resources and rollbacks
    if "remove" in commands and "delete" not in ops:
        ops.append("delete")
    return tuple(ops)


def predict(
    service: Service,
    *,
    commands: tuple[str, ...] = ("deploy", "remove"),
    split: bool = False,
    catalog: Catalog | None = None,
) -> Prediction:
    unknown = [c for c in commands if c not in COMMANDS]
    if unknown:
        raise BadInputError(f"unknown command(s) {', '.join(unknown)}; known: {', '.join(COMMANDS)}")
    catalog = catalog or default_catalog()
    prediction = Prediction(service, commands, split, needs=[])
    separate = bool(service.deployment_role) or split
    cfn_principal = CLOUDFORMATION if separate else DEPLOYER
    needs: list[Need] = []
    # the deployer's own calls
    for call in all_cli_calls(service, commands):
        action = catalog.canonical(call.action) or call.action
        needs.append(Need(DEPLOYER, action, call.resource, call.reason, call.source, call.conditions))
    if split and not service.deployment_role and prediction.cloudformation_role_arn:
        for command in commands:
            if command in ("deploy", "remove", "rollback"):
                needs.append(
                    Need(
                        DEPLOYER,
                        "iam:PassRole",
                        prediction.cloudformation_role_arn,
                        f"serverless {command}: RoleARN on the stack call (recommended deploymentRole)",
                        "serverless-cli.md §2",
                        PASS_TO_CLOUDFORMATION,
                    )
                )
    # the CloudFormation principal's work on every resource
    naive: set[str] = set()
    resources = dict(service.core_resources)
    resources.update(service.resources)
    notes: set[str] = set()
    for operation in operations_for(commands):
        for logical_id in sorted(resources):
            res = resources[logical_id]
            rn = resource_needs(service, res, operation, catalog)
            if not rn.known_type:
                continue  # named below
            naive.update(a for a in rn.raw_actions)
            kept_by_policy = never_deleted(res.raw, commands) if operation == "delete" else None
            if kept_by_policy is not None:
                logger.debug("%s %s: no delete actions, %s (source: %s)", res.type, logical_id, kept_by_policy,
                             RETENTION_SOURCE)
                for action in sorted({n.action for n in rn.needs}):
                    prediction.dropped.append(
                        DroppedAction(logical_id, res.type, operation, action, kept_by_policy, RETENTION_SOURCE)
                    )
                continue
            notes.update(rn.notes)
            for need in rn.needs:
                needs.append(Need(cfn_principal, need.action, need.resource, need.reason, need.source, need.conditions))
            for d in rn.dropped:
                prediction.dropped.append(DroppedAction(logical_id, res.type, operation, d.action, d.why, d.source))
    prediction.undescribed = undescribed(service)
    prediction.warnings.extend(undescribed_warnings(prediction.undescribed))
    prediction.warnings.extend(sorted(notes))
    prediction.needs = sorted(set(needs))  # every reason kept; synthesis merges grants
    prediction.naive_actions = frozenset(catalog.canonical(a) or a for a in naive)
    prediction.warnings = list(service.warnings) + prediction.warnings
    return prediction

"""The ``generate`` job: a service → its predicted, scoped deploy policies and the reasons for each action."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from iamfit.knowledge.catalog import Catalog, default_catalog
from iamfit.needs import Need
from iamfit.policy.document import PolicyDocument
from iamfit.policy.pack import INLINE_LIMIT, MANAGED_LIMIT
from iamfit.policy.synthesize import synthesize
from iamfit.predict import Prediction, predict
from iamfit.principals import CLOUDFORMATION, DEPLOYER
from iamfit.service.model import Service

__all__ = ["INLINE_LIMIT", "MANAGED_LIMIT", "GeneratedPolicies", "generate_policies", "policies_from_needs"]


@dataclass
class GeneratedPolicies:
    prediction: Prediction
    policies: dict[str, PolicyDocument]

    @property
    def service(self) -> Service:
        return self.prediction.service

    def wildcard_resources(self, catalog: Catalog | None = None) -> list[tuple[str, str, str]]:
        """(principal, action, why) for every action granted on ``Resource: "*"``."""
        catalog = catalog or default_catalog()
        out = []
        for principal, doc in self.policies.items():
            for st in doc.statements:
                if "*" in st.resources:
                    for action in st.actions:
                        info = catalog.info(action)
                        why = (
                            "supports no resource-level permissions"
                            if info and not info.supports_resource_level
                            else "resource not knowable before deploy"
                        )
                        out.append((principal, action, why))
        return sorted(out)

    def pruned_by_resource(self) -> dict[str, dict[str, Any]]:
        """Per resource, what the knowledge pruned from the registry's handler permissions and why: the
        property a refinement rule needs, the DeletionPolicy/UpdateReplacePolicy that keeps the resource, the tag
        rules, names that are no IAM action, a role the resource does not pass; each with its source."""
        grouped: dict[str, dict[str, Any]] = {}
        reasons: dict[tuple[str, str, str], tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
        for d in self.prediction.dropped:
            grouped.setdefault(d.logical_id, {"type": d.type_name, "pruned": []})
            actions, operations = reasons[(d.logical_id, d.why, d.source)]
            actions.add(d.action)
            operations.add(d.operation)
        for (logical_id, why, source), (actions, operations) in sorted(reasons.items()):
            grouped[logical_id]["pruned"].append({
                "actions": sorted(actions, key=str.lower),
                "operations": [op for op in ("create", "update", "delete") if op in operations],
                "why": why,
                "source": source,
            })
        return dict(sorted(grouped.items()))

    def policy_files(self) -> dict[str, dict[str, Any]]:
        """Per principal, the JSON files its policy is written as, and why when it is split."""
        from iamfit.policy.render import json_files, split_note

        out: dict[str, dict[str, Any]] = {}
        for principal, pieces in json_files(self.policies).items():
            names = [name for name, _ in pieces]
            split = split_note(principal, self.policies[principal], names) if len(names) > 1 else None
            out[principal] = {"files": names, "split": split}
        return out

    def report(self) -> dict[str, Any]:
        """Every action's reasons: which resource/operation or CLI call needs it, and the knowledge source."""
        per_principal: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        for need in self.prediction.needs:
            entry: dict[str, Any] = {"resource": need.resource, "reason": need.reason, "source": need.source}
            if need.conditions:
                entry["conditions"] = [list(c[:2]) + [list(c[2])] for c in need.conditions]
            per_principal[need.principal][need.action].append(entry)
        return {
            **self.service.identity(),
            "commands": list(self.prediction.commands),
            "framework": {
                "variants": sorted(self.service.framework.variants),
                "told": self.service.framework.told,
                "source": self.service.framework.source,
            },
            "deployment_role": self.prediction.cloudformation_role_arn,
            "principals": {
                p: {
                    "actions": {
                        a: sorted(v, key=lambda e: (e["resource"], e["reason"])) for a, v in sorted(acts.items())
                    },
                    "action_count": len(acts),
                    "policy_size": self.policies[p].size() if p in self.policies else 0,
                }
                for p, acts in sorted(per_principal.items())
            },
            "pruned": [
                {
                    "resource": d.logical_id,
                    "type": d.type_name,
                    "operation": d.operation,
                    "action": d.action,
                    "why": d.why,
                    "source": d.source,
                }
                for d in sorted(self.prediction.dropped, key=lambda d: (d.logical_id, d.operation, d.action))
            ],
            "pruned_by_resource": self.pruned_by_resource(),
            "precision": {
                "iamfit_resource_actions": len(self.prediction.resource_side_actions()),
                "registry_union_actions": len(self.prediction.naive_actions),
            },
            "policy_files": self.policy_files(),
            "undescribed": [u.to_json() for u in self.prediction.undescribed],
            "warnings": self.prediction.warnings,
        }


def policies_from_needs(needs: list[Need], separate: bool) -> dict[str, PolicyDocument]:
    policies: dict[str, PolicyDocument] = {DEPLOYER: synthesize(needs, DEPLOYER)}
    if separate:
        policies[CLOUDFORMATION] = synthesize(needs, CLOUDFORMATION)
    return policies


def generate_policies(
    service: Service,
    *,
    commands: tuple[str, ...] = ("deploy", "remove"),
    split: bool = False,
    catalog: Catalog | None = None,
) -> GeneratedPolicies:
    prediction = predict(service, commands=commands, split=split, catalog=catalog)
    return GeneratedPolicies(prediction, policies_from_needs(prediction.needs, prediction.has_cloudformation_principal))

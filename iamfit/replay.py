"""The ``replay`` job: a policy from what a principal actually did, read from CloudTrail, deploy-aware.

* Calls CloudFormation made on the principal's behalf (``invokedBy: cloudformation.amazonaws.com``), and every
  call of ``cfn_principal`` (the deploymentRole) when given, belong to the CloudFormation principal.
* What CloudTrail management events never show — ``iam:PassRole`` and data events such as the CLI's S3 object
  calls on the deployment bucket (:mod:`iamfit.knowledge.observability`) — is added from the knowledge base when
  the service is known, marked as inferred.
* Resources come from the records, mapped to the service's ARN patterns when the service is known; ``*`` only
  where the action supports no resource-level permission.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from iamfit.evidence.model import Denial
from iamfit.evidence.trail.model import ReadStats, TrailAggregate
from iamfit.generate import policies_from_needs
from iamfit.knowledge.arn import Arn
from iamfit.knowledge.catalog import Catalog, default_catalog
from iamfit.knowledge.observability import unobservable_in_cloudtrail
from iamfit.needs import Need
from iamfit.policy.document import PolicyDocument
from iamfit.policy.pack import size_report
from iamfit.policy.scope import ArnScoper
from iamfit.predict import predict
from iamfit.principals import CLOUDFORMATION, DEPLOYER, Principal
from iamfit.service.model import Service

CLOUDFORMATION_SERVICE = "cloudformation.amazonaws.com"


@dataclass
class ReplayResult:
    needs: list[Need]
    inferred: list[Need]
    policies: dict[str, PolicyDocument]
    denials: list[Denial]
    stats: ReadStats
    unknown_actions: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "schema": "iamfit.replay/1",
            "needs": [n.to_json() for n in self.needs],
            "inferred": [n.to_json() for n in self.inferred],
            "denied": [{"action": d.action, "resource": d.resource, "principal": d.principal,
                        "cause": d.cause.value} for d in self.denials],
            "unknown_actions": self.unknown_actions,
            "policy_sizes": {p: size_report(doc).to_json() for p, doc in self.policies.items()},
            "stats": {"files_read": self.stats.files_read, "files_skipped": len(self.stats.files_skipped),
                      "records": self.stats.records, "matched_records": self.stats.matched_records,
                      "bad_records": self.stats.bad_records},
            "read": self.stats.to_json(),
        }


def _role_of(principal: str) -> str:
    """``arn:aws:sts::A:assumed-role/R/session`` and ``arn:aws:iam::A:role/R`` both as the role name R."""
    if ":assumed-role/" in principal:
        return principal.split(":assumed-role/", 1)[1].split("/", 1)[0]
    if ":role/" in principal:
        return principal.rsplit("/", 1)[-1]
    return principal


def replay(
    trail: TrailAggregate,
    *,
    service: Service | None = None,
    cfn_principal: str | None = None,
    split: bool = False,
    catalog: Catalog | None = None,
) -> ReplayResult:
    """Needs and policies from the successful calls in ``trail`` (denied calls are reported, not granted)."""
    catalog = catalog or default_catalog()
    prediction = predict(service, split=split, catalog=catalog) if service is not None else None
    separate = bool(cfn_principal) or (prediction is not None and prediction.has_cloudformation_principal)
    account = service.account if service is not None else None
    if account is None:
        accounts = {a.account for r in trail.rows if (a := Arn.parse_or_none(r.principal)) and not a.region
                    and a.account_id}
        account = accounts.pop() if len(accounts) == 1 else None
    scoper = ArnScoper(
        catalog,
        (n.resource for n in prediction.needs) if prediction else (),
        partition=service.partition if service else "aws",
        region=service.region if service else "*",
        account=account,
    )
    cfn_role = _role_of(cfn_principal) if cfn_principal else None
    predicted_resources: dict[str, tuple[str, ...]] = {}
    for n in prediction.needs if prediction else ():
        predicted_resources[n.action.lower()] = tuple(sorted({*predicted_resources.get(n.action.lower(), ()),
                                                              n.resource}))
    needs: set[Need] = set()
    unknown: set[str] = set()
    for row in trail.rows:
        if row.error_code is not None:
            continue
        action = catalog.canonical(row.action)
        if action is None:
            unknown.add(row.action)
            continue
        by_cfn = row.invoked_by == CLOUDFORMATION_SERVICE or (
            cfn_role is not None and _role_of(row.principal) == cfn_role
        )
        principal: Principal = CLOUDFORMATION if separate and by_cfn else DEPLOYER
        who = "CloudFormation on the principal's behalf" if by_cfn else "the principal"
        reason = f"called by {who} {row.count}x ({row.first_seen} .. {row.last_seen})"
        predicted = predicted_resources.get(action.lower(), ()) if row.resource is None else ()
        if predicted:  # the record names no resource: the template's own resources for this action
            for resource in predicted:
                needs.add(Need(principal, action, resource, reason + " (resource from the template)", "cloudtrail"))
        else:
            needs.add(Need(principal, action, scoper.scope(action, row.resource), reason, "cloudtrail"))
    inferred: set[Need] = set()
    if prediction is not None:
        have = {(n.principal, n.action.lower()) for n in needs}
        for n in prediction.needs:
            if (n.principal, n.action.lower()) not in have and unobservable_in_cloudtrail(n.action, catalog):
                inferred.add(Need(n.principal, n.action, n.resource,
                                  f"{n.reason} (inferred: CloudTrail never shows it)", f"inferred:{n.source}",
                                  n.conditions))
    all_needs = sorted(needs | inferred)
    return ReplayResult(
        needs=sorted(needs),
        inferred=sorted(inferred),
        policies=policies_from_needs(all_needs, separate),
        denials=list(trail.denials()),
        stats=trail.stats,
        unknown_actions=sorted(unknown),
    )

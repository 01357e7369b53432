"""``iamfit plan`` as a library: deploy a service in the sandbox with given policies, report every denial.

Two sandboxes run side by side, phase by phase:

* the **outcome** run behaves as a plain ``serverless deploy`` / ``remove`` does (classic rollback): it gives
  the failure CloudFormation (or the CLI) reports first, the stack's end state and the modeled time;
* the **listing** run is exhaustive: every request of every operation on every path is checked and no denial
  stops anything, so all denials of the phase are found at once, not just the first.

A phase that fails is followed by the next one from where it should start (provisioned without checks),
so ``--phase all`` reports the denials of every phase. A policy *fits* when every requested phase succeeds
and no request at all is denied (a denial the CLI tolerates, such as ``lambda:GetFunction``, still counts:
the grant is expected).

A fit is a fit in the sandbox model (iamfit's model of AWS, not AWS); the plan names every resource whose needs
that model does not hold (:mod:`iamfit.targets.sandbox.coverage`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from iamfit.policy.document import PolicyDocument
from iamfit.service.model import Service
from iamfit.targets.base import PHASES, Phase
from iamfit.targets.sandbox.coverage import Unverified, model_limits, unverified_resources
from iamfit.targets.sandbox.target import SandboxTarget
from iamfit.targets.sandbox.world import World


@dataclass(frozen=True, order=True)
class PlannedDenial:
    """One request that would be denied: who, what, on which resource, where in the deploy, and why."""

    phase: str
    principal: str
    action: str
    resource: str
    cause: str
    where: str
    tolerated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"phase": self.phase, "principal": self.principal, "action": self.action,
                "resource": self.resource, "cause": self.cause, "where": self.where, "tolerated": self.tolerated}


@dataclass(frozen=True)
class PhasePlan:
    phase: Phase
    succeeded: bool
    stack_status: str | None
    first_failure: str | None
    modeled_seconds: float
    reached_stack: bool
    denials: tuple[PlannedDenial, ...]

    @property
    def fits(self) -> bool:
        return self.succeeded and not self.denials

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "succeeded": self.succeeded,
            "fits": self.fits,
            "stack_status": self.stack_status,
            "first_failure": self.first_failure,
            "modeled_seconds": self.modeled_seconds,
            "reached_stack": self.reached_stack,
            "denials": [d.to_json() for d in self.denials],
        }


@dataclass(frozen=True)
class Plan:
    stack_name: str
    account: str | None
    region: str
    phases: tuple[PhasePlan, ...]
    unverified: tuple[Unverified, ...] = ()
    model_limits: tuple[str, ...] = ()  # what no passing plan can tell (coverage.model_limits)
    notes: tuple[str, ...] = ()  # how the plan was made, when not as the service says (api.plan)

    @property
    def fits(self) -> bool:
        return all(p.fits for p in self.phases)

    @property
    def denied_actions(self) -> tuple[str, ...]:
        return tuple(sorted({d.action for p in self.phases for d in p.denials}))

    @property
    def modeled_seconds(self) -> float:
        return round(sum(p.modeled_seconds for p in self.phases), 3)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack_name,
            "account": self.account,
            "region": self.region,
            "fits": self.fits,
            # a fit in iamfit's model of AWS, not AWS; and not for the needs of these resources
            "verified_in": "sandbox model",
            "unverified": [u.to_json() for u in self.unverified],
            "model_limits": list(self.model_limits),
            "notes": list(self.notes),
            "denied_actions": list(self.denied_actions),
            "modeled_seconds": self.modeled_seconds,
            "phases": [p.to_json() for p in self.phases],
        }


def plan(
    service: Service,
    policies: Mapping[str, PolicyDocument],
    phases: Sequence[Phase] = PHASES,
    *,
    world: World | None = None,
    seed: str = "iamfit",
) -> Plan:
    """Deploy ``service`` in the sandbox with ``policies`` for each phase (in create, update, remove order)."""
    outcome = SandboxTarget(service, world=world, disable_rollback=False, seed=seed)
    listing = SandboxTarget(service, world=world, exhaustive=True, seed=seed)
    results = []
    for n, phase in enumerate(p for p in PHASES if p in phases):
        attempt_id, session = f"plan-{phase}", f"iamfit-plan-{n + 1}"
        for target in (outcome, listing):
            if not target.ready_for(phase):
                target.provision(phase)
        done = outcome.attempt(phase, policies, attempt_id=attempt_id, session_name=session)
        listing.attempt(phase, policies, attempt_id=attempt_id, session_name=session)
        denials = sorted({
            PlannedDenial(phase, v.principal, v.action, v.resource, (v.cause.value if v.cause else "unknown"),
                          v.where, v.tolerated)
            for v in listing.verdicts[attempt_id] if not v.allowed
        })
        results.append(PhasePlan(phase, done.succeeded, done.stack_status, done.first_failure, done.modeled_seconds,
                                 done.reached_stack, tuple(denials)))
    return Plan(service.stack_name, service.account, service.region, tuple(results), unverified_resources(service),
                model_limits(service))

"""The by-hand loop iamfit's figures are compared with: deploy, read what the failure shows, grant, roll back, redeploy.

The model (docs/discover.md, "The by-hand figure"), simulated on the sandbox with its timing table:

* the person starts from no permissions (or from ``start``) and deploys without DisableRollback;
* CloudFormation stops at the first failed resource: resources whose handlers are denied at that same moment
  fail with their own reason, what is in progress is cancelled, nothing new starts, and the stack rolls back
  (the sandbox's rollback time: typically 2 minutes, longer when a deleted resource is slow to delete); a
  handler stops at its first denied call, so each failed resource shows one denial;
* the person grants every denial the failed attempt shows (:func:`iamfit.discover.shown_denials`): the
  Framework CLI's error (the CLI stops at its first denied call: one) and the reason of every FAILED stack
  event, including the deletes a rollback could not do. Not CloudTrail, and nothing the knowledge base
  predicts; each grant is scoped to the service's ARN patterns as iamfit scopes its own;
* then redeploys (a stack left in ROLLBACK_COMPLETE is deleted first), through create, update (the same
  update variant iamfit deploys) and remove.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from iamfit.discover import Discovery, DiscoveryResult
from iamfit.journal import Journal
from iamfit.needs import Need
from iamfit.predict import predict
from iamfit.principals import CLOUDFORMATION, DEPLOYER
from iamfit.service.model import Service
from iamfit.targets.base import Target

BY_HAND_MODEL = (
    "simulated in the sandbox on its timing model: a person starts from no permissions, deploys, grants every "
    "denial the failed attempt shows (the CLI's error and every failed stack event's reason; not CloudTrail, "
    "not what the knowledge base predicts), waits for the classic rollback, redeploys, through create, update "
    "and remove; see docs/discover.md"
)
BY_HAND_MODEL_SHORT = "model: grant every denial an attempt shows, rollback each time; see docs/discover.md"
BY_HAND_ESTIMATE = (
    "estimated (the sandbox could not simulate this service): one failed deploy per action of the verified "
    "policies (failing halfway through a create on average), a typical rollback after each, then one clean "
    "deploy per phase -- an upper bound of the by-hand model; see docs/discover.md"
)
BY_HAND_ESTIMATE_SHORT = "estimate: one failed deploy and rollback per action, an upper bound; see docs/discover.md"


def simulate_by_hand(
    service: Service, target: Target, journal: Journal, *, max_attempts: int = 400, start: Iterable[Need] = ()
) -> DiscoveryResult:
    """The by-hand loop (module docstring) on ``target``, which should roll back (``disable_rollback=False``):
    from nothing (or ``start``), grant every denial each failed attempt shows, redeploy, through every phase."""
    run = Discovery(service, target, journal, from_scratch=True, max_attempts=max_attempts, by_hand=True,
                    start=start)
    try:
        return run.run()
    finally:
        target.cleanup()


def by_hand_estimate(result: DiscoveryResult, service: Service | None = None) -> dict[str, Any]:
    """The by-hand figure for a discovery's report (``totals.by_hand``, schema in docs/discover.md).

    With ``service`` (which must name an account, as the sandbox needs one) the loop is simulated in the
    sandbox, whatever target the discovery ran on. When the simulation does not verify (or there is no
    service), it is estimated from the verified policies: one failed deploy and rollback per action.
    """
    from iamfit.targets.sandbox import SandboxTarget, timing

    if service is not None:
        with tempfile.TemporaryDirectory() as scratch:
            hand = simulate_by_hand(service, SandboxTarget(service, seed="by-hand", disable_rollback=False),
                                    Journal.create(Path(scratch)))
        if hand.verified:
            return {"attempts": len(hand.attempts), "modeled_seconds": round(hand.modeled_seconds, 1),
                    "actions": sum(len(doc.actions()) for doc in hand.policies.values()),
                    "model": "simulated", "assumes": BY_HAND_MODEL}
    rounds = sum(len(doc.actions()) for doc in result.policies.values())
    final = {a.phase: a.modeled_seconds for a in result.attempts if a.succeeded and a.round == "discover"}
    create = final.get("create", 0.0)
    seconds = timing.by_hand_seconds(rounds, create / 2, timing.rollback_seconds(), sum(final.values()))
    return {"attempts": rounds + len(final), "modeled_seconds": round(seconds, 1), "actions": rounds,
            "model": "estimated", "assumes": BY_HAND_ESTIMATE}


def experiment_start(service: Service) -> set[Need]:
    """What the person of the one public measurement started with, for comparing the model with it.

    abefarris/cfn-least-privilege (README, results/summary.md) ran the loop on the CloudFormation service role
    only, which started with ``ReadOnlyAccess``: the caller was not part of the experiment and every read was
    already allowed. Here: the Framework CLI's own predicted calls (the caller's share) and ``Get*``, ``List*``,
    ``Describe*`` (``apigateway:GET``) on ``*`` for every service the prediction names, for each principal.
    """
    prediction = predict(service)
    start = {n for n in prediction.needs if n.source.startswith("serverless-cli")}
    principals = (DEPLOYER, CLOUDFORMATION) if prediction.has_cloudformation_principal else (DEPLOYER,)
    prefixes = sorted({n.action.split(":", 1)[0] for n in prediction.needs})
    for principal in principals:
        for prefix in prefixes:
            for verb in ("GET",) if prefix == "apigateway" else ("Get*", "List*", "Describe*"):
                start.add(Need(principal, f"{prefix}:{verb}", "*", "ReadOnlyAccess (the experiment's start)",
                               "experiment:abefarris/cfn-least-privilege"))
    return start

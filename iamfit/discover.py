"""The ``discover`` job: deploy → read every denial → grant → retry in place, over create, update, remove.

The loop is deterministic given the target's answers, and every step is journaled (``iamfit.journal``) before
iamfit acts on it, so ``resume`` replays the journal and continues where a killed run stopped.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from iamfit.errors import UsageError
from iamfit.evidence.cloudtrail import read_records
from iamfit.evidence.failure_text import parse_failure_text
from iamfit.evidence.model import SOURCE_CLI, SOURCE_CLOUDTRAIL, SOURCE_STACK_EVENT, Denial, Usage
from iamfit.generate import policies_from_needs
from iamfit.journal import Journal
from iamfit.knowledge.catalog import Catalog, default_catalog
from iamfit.needs import Condition, Need
from iamfit.policy.document import PolicyDocument
from iamfit.policy.guardrails import guardrail_violation
from iamfit.policy.scope import ArnScoper
from iamfit.predict import Prediction, predict
from iamfit.predict.resource_needs import resource_needs
from iamfit.predict.serverless_cli import cli_calls
from iamfit.principals import CLOUDFORMATION, DEPLOYER
from iamfit.service.model import Service
from iamfit.targets.base import PHASES, Attempt, Phase, Target

log = logging.getLogger(__name__)


class StopReason(StrEnum):
    """Why the loop stopped before every phase passed (the report's ``stop.reason``)."""

    NOT_FIXABLE = "not-fixable-by-granting"
    GUARDRAIL = "guardrail"
    NO_PROGRESS = "no-progress"
    NOT_PERMISSION = "failed-without-a-permission-denial"
    MAX_ATTEMPTS = "max-attempts"


STOP_NOT_FIXABLE = StopReason.NOT_FIXABLE
STOP_GUARDRAIL = StopReason.GUARDRAIL
STOP_NO_PROGRESS = StopReason.NO_PROGRESS
STOP_NOT_PERMISSION = StopReason.NOT_PERMISSION
STOP_MAX_ATTEMPTS = StopReason.MAX_ATTEMPTS


class ProgressKind(StrEnum):
    ATTEMPT = "attempt"  # an attempt starts
    PASSED = "passed"  # the attempt's phase passed
    DENIALS = "denials"  # the attempt failed: what it was denied and what was granted


@dataclass(frozen=True)
class ProgressEvent:
    """One step of the loop, for a progress display. ``modeled_seconds``: the modeled time of all attempts so
    far (PASSED, DENIALS); ``denials``/``granted``: counts of the failed attempt (DENIALS)."""

    kind: ProgressKind
    round: str
    phase: Phase
    number: int
    modeled_seconds: float | None = None
    denials: int | None = None
    granted: int | None = None


ProgressCallback = Callable[[ProgressEvent], None]

_CFN = "cloudformation.amazonaws.com"


@dataclass(frozen=True)
class Grant:
    need: Need
    evidence: tuple[str, ...]  # sources that reported it: stack-event, cloudtrail, cli-output
    inferred: bool = False
    escalation: str | None = None  # guardrail text when granted because the template itself requires it


@dataclass(frozen=True)
class ReachedResource:
    """A resource an attempt's stack operation worked on: its last status in the attempt, and the actions
    its failure (if any) names as denied."""

    logical_id: str
    resource_type: str
    status: str
    denied: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status.endswith("FAILED")


@dataclass
class AttemptRecord:
    phase: Phase
    number: int
    round: str
    attempt_id: str
    session_name: str
    succeeded: bool
    reached_stack: bool
    stack_status: str | None
    modeled_seconds: float
    first_failure: str | None
    denials: list[Denial] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    used: int = 0
    unavailable_evidence: dict[str, str] = field(default_factory=dict)  # source -> why it was not read
    reached: tuple[ReachedResource, ...] = ()


@dataclass(frozen=True)
class Stop:
    reason: StopReason
    message: str
    action_items: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """As the journal keeps it."""
        return {"reason": self.reason.value, "message": self.message, "action_items": list(self.action_items)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stop:
        return cls(StopReason(data["reason"]), str(data["message"]), tuple(data["action_items"]))


@dataclass
class DiscoveryResult:
    service: Service
    target: str
    run_id: str
    seeded: bool
    attempts: list[AttemptRecord]
    needs: list[Need]
    policies: dict[str, PolicyDocument]
    stop: Stop | None = None
    pruned: list[str] = field(default_factory=list)
    used_actions: dict[str, list[str]] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return self.stop is None

    def attempts_of(self, phase: Phase, round_name: str = "discover") -> list[AttemptRecord]:
        return [a for a in self.attempts if a.phase == phase and a.round == round_name]

    @property
    def modeled_seconds(self) -> float:
        return sum(a.modeled_seconds for a in self.attempts)

    @property
    def unavailable_evidence(self) -> dict[str, str]:
        """Evidence source -> why some attempts could not read it (the first reason given), e.g.
        ``{"cloudtrail": "CloudTrail LookupEvents is unavailable: ..."}``; empty when every source was read."""
        out: dict[str, str] = {}
        for attempt in self.attempts:
            for source, reason in sorted(attempt.unavailable_evidence.items()):
                out.setdefault(source, reason)
        return out


def _attempt_to_json(a: Attempt) -> dict[str, Any]:
    return {
        "phase": a.phase,
        "attempt_id": a.attempt_id,
        "session_name": a.session_name,
        "succeeded": a.succeeded,
        "stack_status": a.stack_status,
        "stack_events": list(a.stack_events),
        "trail_records": list(a.trail_records),
        "cli_output": a.cli_output,
        "cli_exit_code": a.cli_exit_code,
        "reached_stack": a.reached_stack,
        "modeled_seconds": a.modeled_seconds,
        "first_failure": a.first_failure,
        "unavailable_evidence": dict(a.unavailable_evidence),
    }


def _attempt_from_json(d: dict[str, Any]) -> Attempt:
    return Attempt(
        phase=d["phase"],
        attempt_id=d["attempt_id"],
        session_name=d["session_name"],
        succeeded=d["succeeded"],
        stack_status=d["stack_status"],
        stack_events=tuple(d["stack_events"]),
        trail_records=tuple(d["trail_records"]),
        cli_output=d["cli_output"],
        cli_exit_code=d["cli_exit_code"],
        reached_stack=d["reached_stack"],
        modeled_seconds=d["modeled_seconds"],
        first_failure=d["first_failure"],
        unavailable_evidence=dict(d.get("unavailable_evidence") or {}),
    )


_OPERATION_OF_STATUS = {"CREATE_FAILED": "create", "UPDATE_FAILED": "update", "DELETE_FAILED": "delete"}


def failed_operations(attempt: Attempt, catalog: Catalog) -> list[tuple[str, str]]:
    """(logical id, operation) of every resource operation that failed on a permission denial."""
    out = []
    for event in attempt.stack_events:
        operation = _OPERATION_OF_STATUS.get(str(event.get("ResourceStatus", "")))
        reason = event.get("ResourceStatusReason")
        logical_id = event.get("LogicalResourceId")
        if (
            operation
            and isinstance(reason, str)
            and isinstance(logical_id, str)
            and logical_id != event.get("StackName")
            and parse_failure_text(reason, source=SOURCE_STACK_EVENT, catalog=catalog).permission_related
        ):
            out.append((logical_id, operation))
    return sorted(set(out))


def reached_resources(attempt: Attempt, catalog: Catalog) -> tuple[ReachedResource, ...]:
    """Every resource (not the stack itself) with a stack event in the attempt, by logical id, with its newest
    status (events are newest first) and the actions a failure reason names as denied."""
    out: dict[str, ReachedResource] = {}
    for event in attempt.stack_events:
        logical_id = event.get("LogicalResourceId")
        if not isinstance(logical_id, str) or logical_id == event.get("StackName") or logical_id in out:
            continue
        status = str(event.get("ResourceStatus", ""))
        reason = event.get("ResourceStatusReason")
        denied: tuple[str, ...] = ()
        if status.endswith("FAILED") and isinstance(reason, str):
            reading = parse_failure_text(reason, source=SOURCE_STACK_EVENT, catalog=catalog)
            denied = tuple(sorted({d.action for d in reading.denials if d.action}))
        out[logical_id] = ReachedResource(logical_id, str(event.get("ResourceType", "")), status, denied)
    return tuple(out[k] for k in sorted(out))


def shown_denials(attempt: Attempt, catalog: Catalog) -> list[Denial]:
    """The denials a failed attempt shows a person: the failure reason of every FAILED stack event (each
    resource that failed before CloudFormation cancelled the rest, and what its rollback could not delete) and
    the Framework CLI's own error. CloudTrail records are not read: a person fixing a deploy rarely does."""
    denials: list[Denial] = []
    for event in attempt.stack_events:
        status = str(event.get("ResourceStatus", ""))
        reason = event.get("ResourceStatusReason")
        if status.endswith("FAILED") and isinstance(reason, str):
            reading = parse_failure_text(reason, source=SOURCE_STACK_EVENT, catalog=catalog)
            denials.extend(reading.denials)
    if attempt.cli_output and attempt.cli_exit_code != 0:
        denials.extend(parse_failure_text(attempt.cli_output, source=SOURCE_CLI, catalog=catalog).denials)
    return denials


def read_evidence(attempt: Attempt, catalog: Catalog) -> tuple[list[Denial], list[Usage]]:
    """Every denial and every successful call an attempt left, from all three sources."""
    denials = shown_denials(attempt, catalog)
    usage: list[Usage] = []
    if attempt.trail_records:
        for item in read_records({"Records": list(attempt.trail_records)}):
            (denials if isinstance(item, Denial) else usage).append(item)  # type: ignore[arg-type]
    return denials, usage


class Discovery:
    """One discovery run over a target. Use :func:`discover` for the usual entry point."""

    def __init__(
        self,
        service: Service,
        target: Target,
        journal: Journal,
        *,
        from_scratch: bool = False,
        prune: bool = False,
        max_attempts: int = 25,
        allow: Iterable[str] = (),
        catalog: Catalog | None = None,
        progress: ProgressCallback | None = None,
        replay_target: bool | None = None,
        by_hand: bool = False,
        start: Iterable[Need] = (),
    ) -> None:
        if max_attempts < 1:
            raise UsageError("--max-attempts must be at least 1")
        self.service = service
        self.target = target
        self.journal = journal
        self.from_scratch = from_scratch
        self.prune = prune
        self.max_attempts = max_attempts
        self.allow = frozenset(allow)
        self.catalog = catalog or default_catalog()
        self.progress: ProgressCallback = progress or (lambda _event: None)
        # an in-memory target loses its state with the process: on resume, journaled attempts are re-run on it
        self.replay_target = target.name == "sandbox" if replay_target is None else replay_target
        self.prediction: Prediction = predict(service, catalog=self.catalog)
        self.separate = self.prediction.has_cloudformation_principal
        self._scoper = ArnScoper(
            self.catalog,
            (n.resource for n in self.prediction.needs),
            partition=service.partition,
            region=service.region,
            account=service.account,
            pin_account=service.account is not None,  # else the target's account is not the user's
        )
        self.by_hand = by_hand  # model the by-hand loop (decide_by_hand)
        self.start = frozenset(start)  # granted before the first attempt, besides the seed
        self.attempts: list[AttemptRecord] = []
        self._update_service: Service | None = None
        self.used: dict[str, set[str]] = {DEPLOYER: set(), CLOUDFORMATION: set()}

    # --- evidence → needs ------------------------------------------------------------------------------
    def _principal_of(self, denial: Denial) -> str:
        if not self.separate:
            return DEPLOYER
        role = self.prediction.cloudformation_role_arn or ""
        role_name = role.rsplit("/", 1)[-1]
        who = denial.principal or ""
        if role_name and (f"assumed-role/{role_name}/" in who or who == role):
            return CLOUDFORMATION
        if denial.invoked_by == _CFN or denial.source == SOURCE_STACK_EVENT:
            return CLOUDFORMATION
        return DEPLOYER

    def _scope(self, action: str, resource: str | None) -> str:
        return self._scoper.scope(action, resource)

    def _conditions_for(self, principal: str, action: str, resource: str) -> tuple[Condition, ...]:
        for need in self.prediction.needs:
            if need.action.lower() == action.lower() and need.resource == resource and need.conditions:
                return need.conditions
        if action.lower() in ("iam:passrole", "iam:createservicelinkedrole"):
            # never granted unconditioned: a predicted grant that covers the resource lends its condition
            for need in self.prediction.needs:
                if (need.action.lower() == action.lower() and need.conditions
                        and fnmatch.fnmatchcase(resource, need.resource)):
                    return need.conditions
            linked = re.match(r"^arn:[^:]+:iam::[^:]*:role/aws-service-role/([^/*]+)/", resource)
            if action.lower() == "iam:createservicelinkedrole" and linked:
                return (("StringEquals", "iam:AWSServiceName", (linked.group(1),)),)
        if (
            action.lower() == "iam:passrole"
            and principal == DEPLOYER
            and self.separate
            and resource == self.prediction.cloudformation_role_arn
        ):
            return (("StringEquals", "iam:PassedToService", (_CFN,)),)
        return ()

    def _predicted(self, action: str, resource: str) -> bool:
        return any(
            n.action.lower() == action.lower() and fnmatch.fnmatchcase(resource, n.resource)
            for n in self.prediction.needs
        )

    def _predicted_for(self, service: Service, logical_id: str, operation: str) -> list[Need]:
        """What the knowledge base predicts for one resource operation, for the principal that performs it."""
        resource = service.resources.get(logical_id) or service.core_resources.get(logical_id)
        if resource is None:
            return []
        principal = CLOUDFORMATION if self.separate else DEPLOYER
        return [
            Need(
                principal,
                n.action,
                n.resource,
                f"{n.reason} (predicted; the operation was denied)",
                n.source,
                n.conditions,
            )
            for n in resource_needs(service, resource, operation, self.catalog).needs
        ]

    def decide_by_hand(
        self, phase: Phase, number: int, attempt: Attempt, current: set[Need]
    ) -> tuple[list[Grant], Stop | None]:
        """What a person does by hand: grant every denial the failed attempt shows (:func:`shown_denials`),
        each action on the resource the denial names, and nothing the knowledge base predicts."""
        return self.decide(phase, number, shown_denials(attempt, self.catalog), current, knowledge=False)

    def _predicted_cli(self, service: Service, phase: Phase) -> list[Need]:
        """The Framework CLI's predicted calls for the command a phase runs (the deployer's)."""
        command, first = ("remove", False) if phase == "remove" else ("deploy", phase == "create")
        return [
            Need(DEPLOYER, self.catalog.canonical(c.action) or c.action, c.resource,
                 f"{c.reason} (predicted; the CLI stopped at a denied call)", c.source, c.conditions)
            for c in cli_calls(service, command, first_deploy=first)
        ]

    def decide(
        self,
        phase: Phase,
        number: int,
        denials: list[Denial],
        current: set[Need],
        failed_ops: Sequence[tuple[str, str]] = (),
        *,
        knowledge: bool = True,
    ) -> tuple[list[Grant], Stop | None]:
        blocked = [d for d in denials if not d.cause.fixable_by_grant]
        if blocked:
            items = [
                f"{d.action or 'an action'} on {d.resource or 'a resource'} is blocked by "
                f"{d.cause.where_the_block_lives}: change that policy (adding an Allow will not help)"
                for d in blocked
            ]
            return [], Stop(STOP_NOT_FIXABLE, f"{len(blocked)} denial(s) cannot be fixed by granting", tuple(items))
        named = [d for d in denials if d.action]
        inferred = [d for d in denials if not d.action and d.candidates] if not named else []
        fused: dict[tuple[str, str, str], list[Denial]] = {}
        for d in named:
            action = self.catalog.canonical(d.action or "") or d.action or ""
            principal = self._principal_of(d)
            fused.setdefault((principal, action, self._scope(action, d.resource)), []).append(d)
        for d in inferred:
            principal = self._principal_of(d)
            for candidate in d.candidates:
                action = self.catalog.canonical(candidate) or candidate
                fused.setdefault((principal, action, self._scope(action, d.resource)), []).append(d)
        grants: list[Grant] = []
        guarded: list[str] = []
        # what is granted, with its conditions: a PassRole on role/* to ec2.amazonaws.com does not grant passing a
        # role to ecs.amazonaws.com (a denial of the second is new, not "denied again")
        granted_keys = {(n.principal, n.action.lower(), n.resource, n.conditions) for n in current}
        for (principal, action, resource), seen in sorted(fused.items()):
            conditions = self._conditions_for(principal, action, resource)
            if (principal, action.lower(), resource, conditions) in granted_keys:
                continue
            violation = guardrail_violation(action, resource, conditions, self.allow)
            expected = self._predicted(action, resource)
            if violation and not expected:
                guarded.append(
                    f"{action} on {resource}: {violation}; allow it by name with --allow {action} after review"
                )
                continue
            sources = tuple(sorted({d.source for d in seen}))
            is_inferred = all(not d.action for d in seen)
            need = Need(
                CLOUDFORMATION if principal == CLOUDFORMATION else DEPLOYER,
                action,
                resource,
                f"denied in {phase} attempt {number}"
                + (" (inferred from a text naming no action)" if is_inferred else ""),
                f"evidence:{'+'.join(sources)}",
                conditions,
            )
            grants.append(Grant(need, sources, is_inferred, violation if expected else None))
        if guarded:
            return [], Stop(STOP_GUARDRAIL, "a needed grant trips a safety guardrail", tuple(guarded))
        # A resource operation that failed on a denial will need what the knowledge base predicts for it: grant
        # that too, so one attempt settles each failed operation (not one action per attempt). Likewise the
        # Framework CLI: it stops at its first denied call, so a denied CLI call gets the command's predicted
        # calls (serverless-cli.md) instead of revealing them one attempt at a time.
        have = granted_keys | {(g.need.principal, g.need.action.lower(), g.need.resource, g.need.conditions)
                               for g in grants}
        service = self._phase_service(phase)
        predicted: list[Need] = []
        for logical_id, operation in failed_ops:
            predicted.extend(self._predicted_for(service, logical_id, operation))
        if knowledge and any(d.source == SOURCE_CLI for d in denials):
            predicted.extend(self._predicted_cli(service, phase))
        for need in predicted:
            key = (need.principal, need.action.lower(), need.resource, need.conditions)
            if key in have:
                continue
            have.add(key)
            violation = guardrail_violation(need.action, need.resource, need.conditions, self.allow)
            grants.append(Grant(need, ("knowledge",), False, violation))
        if not grants:
            if not denials:
                return [], None
            items = [
                f"{d.action} on {d.resource} is denied although the policy grants it: check conditions, "
                "permissions boundaries and SCPs"
                for d in named
            ]
            return [], Stop(STOP_NO_PROGRESS, "the attempt was denied again for what is already granted", tuple(items))
        return grants, None

    def _phase_service(self, phase: Phase) -> Service:
        if phase != "update":
            return self.service
        if self._update_service is None:
            from iamfit.service.mutate import update_variant

            self._update_service = update_variant(self.service)
        return self._update_service

    # --- the loop --------------------------------------------------------------------------------------
    def _policies(self, needs: set[Need]) -> dict[str, PolicyDocument]:
        return policies_from_needs(sorted(needs), self.separate)

    def _attempt(self, round_name: str, phase: Phase, number: int, policies: dict[str, PolicyDocument]) -> Attempt:
        key = f"{round_name}:{phase}:{number}"
        attempt_id = f"{self.journal.run_id}-{round_name[0]}{phase[0]}{number}"
        session = f"iamfit-{self.journal.run_id}-{round_name[0]}{phase[0]}{number}"[:64]
        done = self.journal.get(f"attempt-result:{key}")
        if done is not None:
            log.info("%s attempt %d (%s): already in the journal, not run again", phase, number, round_name)
            if self.replay_target:
                self.target.attempt(phase, policies, attempt_id=attempt_id, session_name=session)
            return _attempt_from_json(done["attempt"])
        self.journal.append(
            "attempt-start",
            f"attempt-start:{key}",
            round=round_name,
            phase=phase,
            number=number,
            attempt_id=attempt_id,
            session_name=session,
            policies={p: d.to_json() for p, d in policies.items()},
        )
        log.info("%s attempt %d (%s) started on the %s target: %s", phase, number, round_name, self.target.name,
                 ", ".join(f"{p} {len(d.statements)} statement(s)" for p, d in sorted(policies.items())) or "no policy")
        attempt = self.target.attempt(phase, policies, attempt_id=attempt_id, session_name=session)
        self.journal.append("attempt-result", f"attempt-result:{key}", attempt=_attempt_to_json(attempt))
        return attempt

    def _run_phases(self, round_name: str, needs: set[Need]) -> Stop | None:
        for phase in PHASES:
            number = 0
            while True:
                number += 1
                if number > self.max_attempts:
                    log.info("%s: stopping (%s) after %d attempts", phase, STOP_MAX_ATTEMPTS, self.max_attempts)
                    return Stop(
                        STOP_MAX_ATTEMPTS,
                        f"{phase} did not pass within {self.max_attempts} attempts",
                        ("raise --max-attempts, or read the journal for what keeps failing",),
                    )
                self.progress(ProgressEvent(ProgressKind.ATTEMPT, round_name, phase, number))
                attempt = self._attempt(round_name, phase, number, self._policies(needs))
                denials, usage = read_evidence(attempt, self.catalog)
                log.info(
                    "%s attempt %d (%s): %s; %d denial(s), %d call(s) seen",
                    phase, number, round_name,
                    "passed" if attempt.succeeded else f"failed ({attempt.first_failure or 'no failure reason'})",
                    len(denials), len(usage),
                )
                for u in usage:
                    principal = CLOUDFORMATION if self.separate and u.invoked_by == _CFN else DEPLOYER
                    self.used[principal].add(u.action.lower())
                record = AttemptRecord(
                    phase,
                    number,
                    round_name,
                    attempt.attempt_id,
                    attempt.session_name,
                    attempt.succeeded,
                    attempt.reached_stack,
                    attempt.stack_status,
                    attempt.modeled_seconds,
                    attempt.first_failure,
                    denials,
                    used=len(usage),
                    unavailable_evidence=dict(attempt.unavailable_evidence),
                    reached=reached_resources(attempt, self.catalog),
                )
                self.attempts.append(record)
                if attempt.succeeded:
                    self.progress(ProgressEvent(ProgressKind.PASSED, round_name, phase, number,
                                                modeled_seconds=sum(a.modeled_seconds for a in self.attempts)))
                    break
                key = f"decision:{round_name}:{phase}:{number}"
                journaled = self.journal.get(key)
                if journaled is not None:
                    grants = [
                        Grant(
                            Need.from_json(g["need"], f"journal {key}"),
                            tuple(g["evidence"]),
                            g["inferred"],
                            g.get("escalation"),
                        )
                        for g in journaled["grants"]
                    ]
                    stop = Stop.from_json(journaled["stop"]) if journaled["stop"] else None
                else:
                    if self.by_hand:
                        grants, stop = self.decide_by_hand(phase, number, attempt, needs)
                    else:
                        grants, stop = self.decide(
                            phase, number, denials, needs, failed_operations(attempt, self.catalog)
                        )
                    if stop is None and not grants:
                        stop = Stop(
                            STOP_NOT_PERMISSION,
                            f"{phase} failed without a permission denial: "
                            f"{attempt.first_failure or 'no failure reason reported'}",
                            ("fix the template or the environment; iamfit only fixes permissions",),
                        )
                    self.journal.append(
                        "decision",
                        key,
                        grants=[
                            {
                                "need": g.need.to_json(),
                                "evidence": list(g.evidence),
                                "inferred": g.inferred,
                                "escalation": g.escalation,
                            }
                            for g in grants
                        ],
                        stop=stop.to_json() if stop else None,
                    )
                for g in grants:
                    log.info("%s attempt %d: grant %s %s on %s (%s)", phase, number, g.need.principal,
                             g.need.action, g.need.resource, "inferred" if g.inferred else ", ".join(g.evidence))
                record.grants = grants
                self.progress(
                    ProgressEvent(
                        ProgressKind.DENIALS,
                        round_name,
                        phase,
                        number,
                        modeled_seconds=sum(a.modeled_seconds for a in self.attempts),
                        denials=len(denials),
                        granted=len(grants),
                    )
                )
                if stop is not None:
                    log.info("%s attempt %d: stopping (%s): %s", phase, number, stop.reason, stop.message)
                    return stop
                needs.update(g.need for g in grants)
        return None

    def run(self) -> DiscoveryResult:
        seed = (set() if self.from_scratch else set(self.prediction.needs)) | self.start
        self.journal.append(
            "run",
            "run",
            service=self.service.name,
            stage=self.service.stage,
            region=self.service.region,
            account=self.service.account,
            target=self.target.name,
            from_scratch=self.from_scratch,
            prune=self.prune,
            max_attempts=self.max_attempts,
            allow=sorted(self.allow),
        )
        needs = set(seed)
        stop = self._run_phases("discover", needs)
        pruned: list[str] = []
        without_trail = any(SOURCE_CLOUDTRAIL in a.unavailable_evidence for a in self.attempts)
        if stop is None and self.prune and without_trail:
            # what an attempt used is known from CloudTrail only: without it every predicted action would look
            # unused, and pruning would start over from nearly nothing
            log.warning("--prune: nothing pruned, CloudTrail (which shows what each attempt used) was unavailable")
        elif stop is None and self.prune:
            used = {(p, a) for p, acts in self.used.items() for a in acts}
            keep = {
                n
                for n in needs
                if (n.principal, n.action.lower()) in used
                or n.source.startswith("evidence:")
                or n.action.lower() == "iam:passrole"  # never in CloudTrail
            }
            pruned = sorted({f"{n.principal}:{n.action}" for n in needs - keep})
            if pruned:
                self.journal.append("prune", "prune", dropped=pruned)
                self.target.cleanup()  # re-verify every phase from an empty account
                needs = keep
                stop = self._run_phases("prune", needs)
        self.journal.append("done", "done", verified=stop is None, stop=stop.to_json() if stop else None)
        return DiscoveryResult(
            service=self.service,
            target=self.target.name,
            run_id=self.journal.run_id,
            seeded=not self.from_scratch,
            attempts=self.attempts,
            needs=sorted(needs),
            policies=self._policies(needs),
            stop=stop,
            pruned=pruned,
            used_actions={p: sorted(a) for p, a in self.used.items()},
        )


def discover(
    service: Service,
    target: Target,
    journal: Journal,
    *,
    from_scratch: bool = False,
    prune: bool = False,
    max_attempts: int = 25,
    allow: Iterable[str] = (),
    catalog: Catalog | None = None,
    progress: ProgressCallback | None = None,
    start: Iterable[Need] = (),
) -> DiscoveryResult:
    """Run (or, with a journal that has entries, resume) a discovery; the target is always cleaned up.
    ``start``: needs granted before the first attempt besides the prediction (an observe report's)."""
    run = Discovery(
        service,
        target,
        journal,
        from_scratch=from_scratch,
        prune=prune,
        max_attempts=max_attempts,
        allow=allow,
        catalog=catalog,
        progress=progress,
        start=start,
    )
    try:
        return run.run()
    finally:
        target.cleanup()


def _unverified(result: DiscoveryResult) -> tuple[Any, ...]:
    if result.target != "sandbox":
        return ()
    from iamfit.targets.sandbox.coverage import unverified_resources

    return unverified_resources(result.service)


def _model_limits(result: DiscoveryResult) -> tuple[str, ...]:
    if result.target != "sandbox":
        return ()
    from iamfit.targets.sandbox.coverage import model_limits

    return model_limits(result.service)


def _undescribed(result: DiscoveryResult) -> tuple[Any, ...]:
    from iamfit.predict.undescribed import undescribed

    return undescribed(result.service)


def report(result: DiscoveryResult, by_hand: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON report (schema in docs/discover.md)."""
    phases: dict[str, Any] = {}
    for round_name in ("discover", "prune"):
        for phase in PHASES:
            attempts = result.attempts_of(phase, round_name)
            if not attempts:
                continue
            phases.setdefault(round_name, {})[phase] = {
                "attempts": [
                    {
                        "number": a.number,
                        "attempt_id": a.attempt_id,
                        "session_name": a.session_name,
                        "succeeded": a.succeeded,
                        "reached_stack": a.reached_stack,
                        "stack_status": a.stack_status,
                        "modeled_seconds": round(a.modeled_seconds, 1),
                        "first_failure": a.first_failure,
                        "unavailable_evidence": dict(sorted(a.unavailable_evidence.items())),
                        "denials": [d.to_json() for d in a.denials],
                        "granted": [
                            {
                                **g.need.to_json(),
                                "evidence": list(g.evidence),
                                "inferred": g.inferred,
                                **({"escalation": g.escalation} if g.escalation else {}),
                            }
                            for g in a.grants
                        ],
                    }
                    for a in attempts
                ],
                "failed_attempts": sum(1 for a in attempts if not a.succeeded),
                "modeled_seconds": round(sum(a.modeled_seconds for a in attempts), 1),
            }
    actions = {p: sorted(d.actions()) for p, d in result.policies.items()}
    return {
        "schema": "iamfit.discover/1",
        "run_id": result.run_id,
        "service": result.service.name,
        "stage": result.service.stage,
        "region": result.service.region,
        "account": result.service.account,
        "target": result.target,
        "seeded": result.seeded,
        "verified": result.verified,
        # the sandbox verifies iamfit's model of AWS, not AWS; and not the needs of these resources
        "verified_in": "sandbox model" if result.target == "sandbox" else result.target,
        "unverified": [u.to_json() for u in _unverified(result)],
        "model_limits": list(_model_limits(result)),
        "undescribed": [u.to_json() for u in _undescribed(result)],
        "stop": None
        if result.stop is None
        else {
            "reason": result.stop.reason.value,
            "message": result.stop.message,
            "what_to_do": list(result.stop.action_items),
        },
        "phases": phases,
        "unavailable_evidence": [
            {
                "source": source,
                "reason": reason,
                "attempts": [a.attempt_id for a in result.attempts if source in a.unavailable_evidence],
            }
            for source, reason in sorted(result.unavailable_evidence.items())
        ],
        "pruned": result.pruned,
        "totals": {
            "attempts": len(result.attempts),
            "failed_attempts": sum(1 for a in result.attempts if not a.succeeded),
            "attempts_reaching_cloudformation": sum(1 for a in result.attempts if a.reached_stack),
            "modeled_seconds": round(result.modeled_seconds, 1),
            "by_hand": by_hand,
            "actions": {p: len(a) for p, a in actions.items()},
        },
        "needs": [n.to_json() for n in result.needs],
    }

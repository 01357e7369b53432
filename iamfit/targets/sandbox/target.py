"""The sandbox target: an in-process CloudFormation + IAM that deploys a service with given policies.

Per attempt: the Framework CLI's own calls (from the World) are checked in order against the deployer's
policy; the CLI stops at its first non-tolerated denial. A call that starts a stack operation runs the
CloudFormation emulator:

* resources in dependency order; each operation starts when everything it depends on is done (parallel
  paths run in parallel, timed by :mod:`iamfit.targets.sandbox.timing`), and makes its World-given
  requests in order as the acting principal (the deploymentRole's session, or the deployer's own session
  through CloudFormation) -- the first denied request fails the operation;
* create-stack, update-stack (create / update / replacement when a create-only property changes: the new
  resource is created, the old one deleted in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, where a failed delete
  does not fail the stack) and delete-stack; a resource CloudFormation keeps (``DeletionPolicy`` on stack delete,
  removal and rollback, ``UpdateReplacePolicy`` on replacement: :mod:`iamfit.knowledge.retention`) makes no
  delete request (DELETE_SKIPPED);
* with ``disable_rollback`` (DisableRollback, "preserve successfully provisioned resources"): a failure stops
  only its own path (what depends on the failed resource); the stack ends CREATE_FAILED / UPDATE_FAILED and
  the next attempt resumes from there (Retry). Without it (classic): the first failure cancels what is in
  progress, nothing new starts, and the stack rolls back -- which itself needs delete (and, for updates,
  update) permissions: ROLLBACK_COMPLETE / ROLLBACK_FAILED, UPDATE_ROLLBACK_COMPLETE / UPDATE_ROLLBACK_FAILED;
* with ``exhaustive`` (what ``iamfit plan`` uses to list every denial): every request of every operation is
  checked and a denial fails nothing, so all paths' denials are seen in one run.

The create phase deploys the service, the update phase its update variant
(:func:`iamfit.service.mutate.update_variant`), the remove phase removes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from iamfit.errors import UsageError
from iamfit.evidence.model import Cause
from iamfit.knowledge.registry import schema
from iamfit.knowledge.retention import When, retained
from iamfit.policy.document import PolicyDocument
from iamfit.policy.evaluate import Decision, PolicySet, Request
from iamfit.principals import CLOUDFORMATION, DEPLOYER
from iamfit.service.graph import ResourceGraph
from iamfit.service.model import Resource, Service
from iamfit.targets.base import Attempt, Phase
from iamfit.targets.sandbox import shapes, timing
from iamfit.targets.sandbox.world import KnowledgeWorld, Names, Operation, Requirement, World

CHECK_STEP = 0.05  # seconds between a handler's requests
_OPERATION: dict[str, Operation] = {"create": "create", "update": "update", "delete": "delete"}

COMPLETE = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"})
RESUMABLE = frozenset({"CREATE_FAILED", "UPDATE_FAILED"})
GONE = frozenset({"ROLLBACK_COMPLETE", "DELETE_COMPLETE"})


@dataclass(frozen=True, order=True)
class Verdict:
    """One request the sandbox evaluated, and what it decided."""

    seconds: float
    principal: str  # "deployer" / "cloudformation"
    action: str
    resource: str
    allowed: bool
    cause: Cause | None
    explicit: bool
    invoked_by: str | None
    where: str
    tolerated: bool = False


@dataclass
class _Live:
    resource: Resource
    service: Service
    physical_id: str


@dataclass
class _Stack:
    stack_id: str
    status: str
    live: dict[str, _Live] = field(default_factory=dict)
    pending_cleanup: list[_Live] = field(default_factory=list)
    service: Service | None = None


@dataclass
class _Op:
    logical_id: str
    kind: str  # create / update / delete
    resource: Resource
    service: Service
    deps: tuple[str, ...]
    replacement: bool = False
    retained: bool = False


@dataclass
class _Result:
    op: _Op
    start: float
    finish: float
    checks: list[tuple[float, Requirement, Decision, Cause | None]]
    ok: bool
    state: str = "done"  # done / failed / cancelled
    reason: str | None = None


@dataclass
class _Identity:
    principal: str
    session_arn: str
    role_arn: str
    policy: PolicySet


class _Run:
    """What one attempt collects."""

    def __init__(self, start: float) -> None:
        self.clock = start
        self.events: list[dict[str, Any]] = []
        self.records: list[dict[str, Any]] = []
        self.verdicts: list[Verdict] = []
        self.failures: list[tuple[str, str, str, str]] = []  # (status, logical id, type, reason), in time order
        self.reached_stack = False


def _props_key(resource: Resource) -> str:
    return json.dumps(resource.properties, sort_keys=True, default=str)


def _create_only_changed(old: Resource, new: Resource) -> bool:
    type_schema = schema(new.type)
    if type_schema is None:
        return False
    return any(
        json.dumps(old.properties.get(p), sort_keys=True) != json.dumps(new.properties.get(p), sort_keys=True)
        for p in type_schema.create_only
    )


class SandboxTarget:
    """The in-process target (see the module docstring). ``seed`` makes names and ids deterministic."""

    name = "sandbox"

    def __init__(
        self,
        service: Service,
        *,
        world: World | None = None,
        disable_rollback: bool = True,
        exhaustive: bool = False,
        seed: str = "iamfit",
        role_name: str = "iamfit-deployer",
        boundary: PolicyDocument | None = None,
        scps: tuple[PolicyDocument, ...] = (),
    ) -> None:
        if service.account is None:
            raise UsageError("sandbox: the service needs an account id (--account) to name its resources")
        self.service = service
        self.world: World = world or KnowledgeWorld()
        self.disable_rollback = disable_rollback
        self.supports_retry_in_place = disable_rollback
        self.exhaustive = exhaustive
        self.seed = seed
        self.role_name = role_name
        self.boundary = boundary
        self.scps = scps
        self.clock = 0.0
        self.stack: _Stack | None = None
        self.names = Names(service, seed)
        self._stacks_made = 0
        self._variant: Service | None = None
        self._seq = 0
        self.verdicts: dict[str, tuple[Verdict, ...]] = {}
        self._props_json: dict[int, str] = {}

    # --- the protocol ---------------------------------------------------------------------------------
    @property
    def update_service(self) -> Service:
        if self._variant is None:
            from iamfit.service.mutate import update_variant

            self._variant = update_variant(self.service)
            self.names.add_service(self._variant)
        return self._variant

    @property
    def stack_status(self) -> str | None:
        return self.stack.status if self.stack is not None else None

    def attempt(
        self,
        phase: Phase,
        policies: Mapping[str, PolicyDocument],
        *,
        attempt_id: str,
        session_name: str,
    ) -> Attempt:
        run = _Run(self.clock)
        deployer, acting = self._identities(policies, session_name)
        stack = self.stack
        if phase == "create":
            service = self.service
            first_deploy = stack is None or stack.status in GONE
        elif phase == "update":
            if stack is None or stack.status not in COMPLETE | RESUMABLE:
                raise UsageError(f"sandbox: the update phase needs a created stack (status {self.stack_status})")
            service, first_deploy = self.update_service, False
        else:
            if stack is None or stack.status == "DELETE_COMPLETE":
                raise UsageError("sandbox: the remove phase needs a stack")
            service, first_deploy = stack.service or self.service, False
        if first_deploy and stack is not None and stack.status == "ROLLBACK_COMPLETE":
            run.clock += timing.STACK_DELETE_FAILED_CREATE  # the person deletes the dead stack first
        if first_deploy:
            self._new_stack_id()
        command = "remove" if phase == "remove" else "deploy"
        steps = self.world.cli_steps(service, command, first_deploy=first_deploy, names=self.names)
        output = [shapes.cli_header(command, service.name, service.stage, service.region)]
        run.clock += timing.cli_seconds(0, packages=command == "deploy")
        error: str | None = None
        for step in steps:
            run.clock += timing.CLI_CALL
            where = f"serverless {command}: {step.api}"
            allowed, text = self._check(run, deployer, step.requirement, run.clock, where, api=step.api,
                                        via_cfn=False, tolerated=step.tolerated)
            if not allowed and not step.tolerated and not self.exhaustive:
                error = text
                break
            if step.stack_op is None:
                continue
            run.reached_stack = True
            failure = self._stack_operation(run, step.stack_op, service, acting)
            if failure is not None and not self.exhaustive:
                error = failure
                break
        seconds = run.clock - self.clock
        if error is None:
            output.append(shapes.cli_success(service.stack_name, service.name, command, seconds))
        else:
            output.append(shapes.cli_failure(service.stack_name, command, seconds, error))
        self.clock = run.clock
        self.verdicts[attempt_id] = tuple(run.verdicts)
        first = (f"{run.failures[0][0]} {run.failures[0][1]} ({run.failures[0][2]}): {run.failures[0][3]}"
                 if run.failures else (error.splitlines()[0] if error else None))
        return Attempt(
            phase=phase,
            attempt_id=attempt_id,
            session_name=session_name,
            succeeded=error is None,
            stack_status=self.stack_status,
            stack_events=tuple(e for _, e in sorted(enumerate(run.events),
                                                     key=lambda p: (p[1]["Timestamp"], p[0]), reverse=True)),
            trail_records=tuple(sorted(run.records, key=lambda r: (r["eventTime"], r["eventID"]))),
            cli_output="".join(output),
            cli_exit_code=0 if error is None else 1,
            reached_stack=run.reached_stack,
            modeled_seconds=round(seconds, 3),
            first_failure=None if error is None else first,
        )

    def ready_for(self, phase: Phase) -> bool:
        """Whether the stack is where ``phase`` starts: none (create), the service fully deployed (update), a
        stack (remove)."""
        stack = self.stack
        if phase == "create":
            return stack is None or stack.status in GONE | RESUMABLE
        if phase == "update":
            return (stack is not None and stack.status in COMPLETE
                    and set(self.service.resources) <= set(stack.live))
        return stack is not None and stack.status not in GONE

    def provision(self, phase: Phase) -> None:
        """Bring the stack to where ``phase`` starts, without permission checks (``plan --phase update``)."""
        admin: dict[str, PolicyDocument] = {DEPLOYER: _ADMIN, CLOUDFORMATION: _ADMIN}
        keep = self.exhaustive
        self.exhaustive = False
        try:
            for n in range(2):
                if self.ready_for(phase):
                    break
                self.attempt("create", admin, attempt_id=f"provision-{n}", session_name="iamfit-provision")
                self.verdicts.pop(f"provision-{n}", None)
        finally:
            self.exhaustive = keep

    def cleanup(self) -> None:
        """Forget the stack (the sandbox created nothing outside this process)."""
        self.stack = None

    # --- identities and checks --------------------------------------------------------------------------
    def _identities(self, policies: Mapping[str, PolicyDocument], session: str) -> tuple[_Identity, _Identity]:
        svc = self.service
        acct, part = self.names.account, svc.partition

        def policy_set(key: str) -> PolicySet:
            docs = (policies[key],) if key in policies else ()
            return PolicySet(docs, self.boundary, self.scps)

        deployer = _Identity(
            DEPLOYER,
            f"arn:{part}:sts::{acct}:assumed-role/{self.role_name}/{session}",
            f"arn:{part}:iam::{acct}:role/{self.role_name}",
            policy_set(DEPLOYER),
        )
        role = svc.deployment_role
        if role is None:
            return deployer, _Identity(CLOUDFORMATION, deployer.session_arn, deployer.role_arn, deployer.policy)
        role_name = role.rsplit("/", 1)[-1]
        return deployer, _Identity(
            CLOUDFORMATION,
            f"arn:{part}:sts::{acct}:assumed-role/{role_name}/AWSCloudFormation",
            role,
            PolicySet((policies[CLOUDFORMATION],) if CLOUDFORMATION in policies else ()),
        )

    def _evaluate(self, who: _Identity, req: Requirement, via_cfn: bool) -> tuple[Decision, Cause | None]:
        context: dict[str, tuple[str, ...]] = dict(req.context)
        if via_cfn and not who.session_arn.endswith("/AWSCloudFormation"):  # a forward access session
            context.setdefault("aws:CalledVia", (shapes.CFN,))
            context.setdefault("aws:ViaAWSService", ("true",))
        result = who.policy.evaluate(Request.of(req.action, req.resource, context))
        return result.decision, result.cause

    def _next(self) -> tuple[str, str]:
        self._seq += 1
        return shapes.request_id(self.seed, self._seq), shapes.request_id(self.seed + "/event", self._seq)

    def _record(self, run: _Run, who: _Identity, req: Requirement, when: float, decision: Decision,
                cause: Cause | None, where: str, *, api: str | None, via_cfn: bool, tolerated: bool = False) -> str:
        """Log one evaluated request (verdict + CloudTrail record); returns the denial text ('' if allowed)."""
        allowed = decision is Decision.ALLOW
        explicit = decision is Decision.EXPLICIT_DENY
        text = "" if allowed else shapes.denial_text(
            who.session_arn, req.action, req.resource, cause or Cause.IDENTITY_NO_ALLOW, explicit,
            quote_resource=not via_cfn and req.action.startswith("s3:"))
        run.verdicts.append(Verdict(round(when, 3), who.principal, req.action, req.resource, allowed,
                                    None if allowed else cause, explicit,
                                    shapes.CFN if via_cfn else None, where, tolerated))
        rid, eid = self._next()
        record = shapes.trail_record(
            seconds=when, action=req.action, resource=req.resource, api=api, session_arn=who.session_arn,
            role_arn=who.role_arn, account=self.names.account, region=self.service.region, invoked_by_cfn=via_cfn,
            request=rid, event=eid, error=None if allowed else (shapes.error_code(req.action), text),
        )
        if record is not None:
            run.records.append(record)
        return text

    def _check(self, run: _Run, who: _Identity, req: Requirement, when: float, where: str, *, api: str | None,
               via_cfn: bool, tolerated: bool = False) -> tuple[bool, str]:
        decision, cause = self._evaluate(who, req, via_cfn)
        text = self._record(run, who, req, when, decision, cause, where, api=api, via_cfn=via_cfn,
                            tolerated=tolerated)
        return decision is Decision.ALLOW, text

    # --- stack operations -----------------------------------------------------------------------------
    def _new_stack_id(self) -> None:
        self.names.stack_id = self.names.new_stack_id(self._stacks_made)
        self._stacks_made += 1
        self.names.generation.clear()

    def _stack_event(self, run: _Run, when: float, status: str, reason: str | None) -> None:
        assert self.stack is not None
        rid, _ = self._next()
        run.events.append(shapes.stack_event(
            stack_id=self.stack.stack_id, stack_name=self.service.stack_name, seconds=when,
            logical_id=self.service.stack_name, physical_id=self.stack.stack_id,
            resource_type="AWS::CloudFormation::Stack", status=status, reason=reason, properties=None,
            event_id=rid))
        self.stack.status = status

    def _stack_operation(self, run: _Run, op: str, service: Service, acting: _Identity) -> str | None:
        """Run one stack operation; the CLI error text on failure, else None."""
        run.clock += timing.CHANGE_SET if service.deployment_method == "changesets" else 0.0
        start = len(run.failures)
        if op == "create-stack":
            resources = service.core_resources if service.core_resources and not service.custom_bucket \
                else service.resources
            ok = self._create_stack(run, service, resources, acting)
        elif op == "update-stack":
            ok = self._update_stack(run, service, acting)
        else:
            ok = self._delete_stack(run, acting)
        run.clock += timing.STACK_OPERATION
        if ok:
            return None
        if len(run.failures) > start:
            status, lid, type_name, reason = run.failures[start]
            return f"{status}: {lid} ({type_name})\n{reason}"
        return f"Stack {service.stack_name} is in {self.stack_status} state"

    def _ops_for(self, kind: str, items: Iterable[tuple[Resource, Service]], graph: ResourceGraph | None,
                 when: When = "stack-delete") -> list[_Op]:
        """Operations in dependency order, each with its dependencies among the operations."""
        chosen = {r.logical_id: (r, s) for r, s in items}
        if graph is None:
            graph = ResourceGraph({lid: r.raw for lid, (r, _) in chosen.items()})
        waves = graph.deletion_waves(chosen) if kind == "delete" else graph.creation_waves(chosen)
        ops = []
        for wave in waves:
            for lid in wave:
                res, svc = chosen[lid]
                rel = graph.dependents(lid) if kind == "delete" else graph.dependencies(lid)
                deps = tuple(d for d in rel if d in chosen)
                ops.append(_Op(lid, kind, res, svc, deps,
                               retained=kind == "delete" and retained(res.raw, when)))
        return ops

    def _execute(self, run: _Run, ops: list[_Op], acting: _Identity, *, stop_on_failure: bool,
                 statuses: Mapping[str, tuple[str, str, str, str]]) -> dict[str, _Result]:
        """Schedule and run operations from ``run.clock``; record events and requests; advance the clock.

        ``statuses``: kind -> (IN_PROGRESS, COMPLETE, FAILED, cancelled reason).
        """
        t0 = run.clock
        results: dict[str, _Result] = {}
        for op in ops:
            if any(d not in results or not results[d].ok for d in op.deps) and not self.exhaustive:
                continue  # a path stops at its first failure
            deps = [results[d] for d in op.deps]
            start = max([t0] + [d.finish for d in deps])
            if op.replacement:
                self.names.generation[op.logical_id] = self.names.generation.get(op.logical_id, 0) + 1
            operation: Operation = "create" if op.replacement else _OPERATION[op.kind]
            reqs = () if op.retained else self.world.resource_requirements(
                op.service, op.resource, operation, self.names)
            checks: list[tuple[float, Requirement, Decision, Cause | None]] = []
            failed = False
            for i, req in enumerate(reqs):
                decision, cause = self._evaluate(acting, req, True)
                checks.append((start + CHECK_STEP * (i + 1), req, decision, cause))
                if decision is not Decision.ALLOW:
                    failed = True
                    if not self.exhaustive:
                        break
            if failed and not self.exhaustive:
                finish = start + timing.DENIED_CALL
            else:
                finish = start + (0.0 if op.retained else
                                  timing.operation_seconds(op.resource.type, operation, op.resource.properties))
            results[op.logical_id] = _Result(op, start, finish, checks, ok=not failed or self.exhaustive,
                                             state="failed" if failed else "done")
        cut: float | None = None
        if stop_on_failure and not self.exhaustive:
            failures = [r.finish for r in results.values() if r.state == "failed"]
            cut = min(failures) if failures else None
        end = t0
        for lid in list(results):
            r = results[lid]
            if cut is not None and r.start > cut:
                del results[lid]
                continue
            if cut is not None and r.finish > cut:
                r.state, r.ok, r.finish = "cancelled", False, cut
                r.checks = [c for c in r.checks if c[0] <= cut]
            self._emit(run, r, acting, statuses)
            end = max(end, r.finish)
        run.clock = end
        return results

    def _emit(self, run: _Run, r: _Result, acting: _Identity,
              statuses: Mapping[str, tuple[str, str, str, str]]) -> None:
        op = r.op
        in_progress, complete, failed, cancelled = statuses[op.kind]
        denial = ""
        for when, req, decision, cause in r.checks:
            text = self._record(run, acting, req, when, decision, cause,
                                f"{op.kind} {op.logical_id} ({op.resource.type})", api=None, via_cfn=True)
            denial = denial or text
        physical = self.names.physical_id(op.service, op.resource)
        props = op.resource.properties
        props_json = self._props_json.get(id(props))
        if props_json is None:
            props_json = self._props_json[id(props)] = json.dumps(props, sort_keys=True, separators=(",", ":"))

        def event(when: float, status: str, reason: str | None, phys: str) -> None:
            run.events.append(shapes.stack_event(
                stack_id=self.names.stack_id, stack_name=self.service.stack_name, seconds=when,
                logical_id=op.logical_id, physical_id=phys, resource_type=op.resource.type, status=status,
                reason=reason, properties=props_json, event_id=None))

        if op.retained:
            event(r.start, "DELETE_SKIPPED", None, physical)
            return
        first_reason = ("Requested update requires the creation of a new physical resource; hence creating one."
                        if op.replacement else None)
        event(r.start, in_progress, first_reason, "" if op.kind == "create" else physical)
        if r.state == "done":
            if op.kind == "create" and not op.replacement:
                event(r.start + CHECK_STEP / 2, in_progress, "Resource creation Initiated", physical)
            event(r.finish, complete, None, physical)
            return
        if r.state == "cancelled":
            event(r.finish, failed, cancelled, "" if op.kind == "create" else physical)
            return
        rid, token = self._next()
        failed_req = next(c[1] for c in r.checks if c[2] is not Decision.ALLOW)
        reason = shapes.handler_reason(denial, failed_req.action, rid, token)
        event(r.finish, failed, reason, "" if op.kind == "create" else physical)
        run.failures.append((failed, op.logical_id, op.resource.type, reason))

    def _live_resource(self, r: _Result) -> _Live:
        return _Live(r.op.resource, r.op.service, self.names.physical_id(r.op.service, r.op.resource))

    _CREATE = {"create": ("CREATE_IN_PROGRESS", "CREATE_COMPLETE", "CREATE_FAILED", "Resource creation cancelled")}
    _UPDATE = {
        "create": ("CREATE_IN_PROGRESS", "CREATE_COMPLETE", "CREATE_FAILED", "Resource creation cancelled"),
        "update": ("UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_FAILED", "Resource update cancelled"),
    }
    _DELETE = {"delete": ("DELETE_IN_PROGRESS", "DELETE_COMPLETE", "DELETE_FAILED", "Resource deletion cancelled")}

    @staticmethod
    def _failed_list(results: Mapping[str, _Result]) -> str:
        parts = []
        for verb, kinds in (("create", ("create",)), ("update", ("update",)), ("delete", ("delete",))):
            names = sorted(lid for lid, r in results.items() if r.state != "done" and r.op.kind in kinds)
            if names:
                parts.append(f"The following resource(s) failed to {verb}: [{', '.join(names)}]. ")
        return "".join(parts)

    def _create_stack(self, run: _Run, service: Service, resources: Mapping[str, Resource],
                      acting: _Identity) -> bool:
        self.stack = _Stack(self.names.stack_id, "CREATE_IN_PROGRESS", service=service)
        self._stack_event(run, run.clock, "CREATE_IN_PROGRESS", "User Initiated")
        graph = ResourceGraph({lid: r.raw for lid, r in resources.items()})
        ops = self._ops_for("create", ((r, service) for r in resources.values()), graph)
        results = self._execute(run, ops, acting, stop_on_failure=not self.disable_rollback, statuses=self._CREATE)
        for lid, r in results.items():
            if r.state == "done":
                self.stack.live[lid] = self._live_resource(r)
        if all(r.state == "done" for r in results.values()) and len(results) == len(ops):
            self._stack_event(run, run.clock, "CREATE_COMPLETE", None)
            return True
        failed = self._failed_list(results)
        if self.disable_rollback:
            self._stack_event(run, run.clock, "CREATE_FAILED", failed)
            return False
        self._stack_event(run, run.clock, "ROLLBACK_IN_PROGRESS", failed + "Rollback requested by user.")
        ok = self._delete_live(run, acting, list(self.stack.live.values()), rollback=True, when="rollback")
        self._stack_event(run, run.clock, "ROLLBACK_COMPLETE" if ok else "ROLLBACK_FAILED",
                          None if ok else self._pending_delete_reason())
        return False

    def _pending_delete_reason(self) -> str:
        assert self.stack is not None
        return f"The following resource(s) failed to delete: [{', '.join(sorted(self.stack.live))}]. "

    def _delete_live(self, run: _Run, acting: _Identity, items: list[_Live], *, rollback: bool, when: When) -> bool:
        """Delete live resources (dependents first); failures stay live. True when all were deleted. ``when``: why
        CloudFormation deletes them, which decides whether DeletionPolicy/UpdateReplacePolicy keep them."""
        assert self.stack is not None
        t0 = run.clock
        ops = self._ops_for("delete", ((x.resource, x.service) for x in items), None, when)
        results = self._execute(run, ops, acting, stop_on_failure=False, statuses=self._DELETE)
        for lid, r in results.items():
            if r.state == "done":
                self.stack.live.pop(lid, None)
        if rollback:
            run.clock = max(run.clock, t0 + timing.ROLLBACK_TYPICAL - timing.STACK_OPERATION)
        return len(results) == len(ops) and all(r.state == "done" for r in results.values())

    def _update_stack(self, run: _Run, service: Service, acting: _Identity) -> bool:
        assert self.stack is not None
        stack = self.stack
        previous = dict(stack.live)
        items: list[tuple[Resource, Service]] = []
        replaced: set[str] = set()
        for lid, res in service.resources.items():
            live = stack.live.get(lid)
            if live is None:
                items.append((res, service))
            elif _props_key(live.resource) != _props_key(res):
                items.append((res, service))
                if _create_only_changed(live.resource, res):
                    replaced.add(lid)
        removals = [lid for lid in stack.live if lid not in service.resources]
        if not items and not removals and not stack.pending_cleanup and stack.status in COMPLETE:
            return True  # "The submitted information didn't contain changes": nothing to do
        self._stack_event(run, run.clock, "UPDATE_IN_PROGRESS", "User Initiated")
        ops = self._ops_for("create", items, service.graph)
        for op in ops:
            if op.logical_id in stack.live:
                op.kind = "update"
                op.replacement = op.logical_id in replaced
        results = self._execute(run, ops, acting, stop_on_failure=not self.disable_rollback, statuses=self._UPDATE)
        for lid, r in results.items():
            if r.state != "done":
                continue
            if r.op.replacement:
                stack.pending_cleanup.append(previous[lid])
            stack.live[lid] = self._live_resource(r)
        stack.service = service
        if all(r.state == "done" for r in results.values()) and len(results) == len(ops):
            self._stack_event(run, run.clock, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None)
            removed = [live for lid, live in stack.live.items() if lid not in service.resources]
            old = list(stack.pending_cleanup)
            stack.pending_cleanup.clear()
            for live in removed:
                stack.live.pop(live.resource.logical_id, None)
            batches: tuple[tuple[list[_Live], When], ...] = ((removed, "removed"), (old, "replaced"))
            for batch, when in batches:
                if batch:
                    saved = dict(stack.live)
                    stack.live = {x.resource.logical_id: x for x in batch}
                    self._delete_live(run, acting, batch, rollback=False, when=when)
                    stack.live = saved  # what fails to delete in cleanup is left behind, not in the stack
            self._stack_event(run, run.clock, "UPDATE_COMPLETE", None)
            return True
        failed = self._failed_list(results)
        if self.disable_rollback:
            self._stack_event(run, run.clock, "UPDATE_FAILED", failed)
            return False
        self._stack_event(run, run.clock, "UPDATE_ROLLBACK_IN_PROGRESS", failed)
        t0 = run.clock
        back = [(previous[lid].resource, previous[lid].service) for lid, r in results.items()
                if r.op.kind == "update" and not r.op.replacement and r.state == "done"]
        rollback_ok = True
        if back:
            rb_ops = self._ops_for("create", back, None)
            for op in rb_ops:
                op.kind = "update"
            rb = self._execute(run, rb_ops, acting, stop_on_failure=False, statuses=self._UPDATE)
            rollback_ok = all(r.state == "done" for r in rb.values()) and len(rb) == len(rb_ops)
        for lid, live in previous.items():
            stack.live[lid] = live
        if not rollback_ok:
            self._stack_event(run, run.clock, "UPDATE_ROLLBACK_FAILED", failed)
            return False
        self._stack_event(run, run.clock, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None)
        made = [self._live_resource(r) for lid, r in results.items()
                if r.state == "done" and (r.op.kind == "create" or r.op.replacement)]
        stack.pending_cleanup.clear()
        if made:
            saved = dict(stack.live)
            stack.live = {x.resource.logical_id: x for x in made}
            self._delete_live(run, acting, made, rollback=False, when="rollback")
            stack.live = saved
        run.clock = max(run.clock, t0 + timing.ROLLBACK_TYPICAL)
        stack.service = previous_service(previous) or stack.service
        self._stack_event(run, run.clock, "UPDATE_ROLLBACK_COMPLETE", None)
        return False

    def _delete_stack(self, run: _Run, acting: _Identity) -> bool:
        assert self.stack is not None
        self._stack_event(run, run.clock, "DELETE_IN_PROGRESS", "User Initiated")
        ok = self._delete_live(run, acting, list(self.stack.live.values()), rollback=False, when="stack-delete")
        if ok:
            self._stack_event(run, run.clock, "DELETE_COMPLETE", None)
            return True
        self._stack_event(run, run.clock, "DELETE_FAILED", self._pending_delete_reason())
        return False


def previous_service(live: Mapping[str, _Live]) -> Service | None:
    """The service most live resources came from (after an update rollback)."""
    counts: dict[int, tuple[int, Service]] = {}
    for x in live.values():
        n, _ = counts.get(id(x.service), (0, x.service))
        counts[id(x.service)] = (n + 1, x.service)
    return max(counts.values(), key=lambda t: t[0])[1] if counts else None


_ADMIN = PolicyDocument.from_json({"Version": "2012-10-17",
                                   "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})

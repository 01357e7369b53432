"""The AWS target: attempts in a real (sandbox) account, behind :class:`iamfit.targets.base.Target`.

Built with :func:`make_aws_target`, which checks the account guard and the stack's ownership before
anything is created. Use it as a context manager (or call :meth:`AwsTarget.cleanup` in a ``finally``):
on success, failure, exception and -- with :func:`terminate_as_interrupt` -- SIGTERM, it deletes the
discovery stack, its artifacts and the candidate roles, unless ``keep=True``.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType, TracebackType
from typing import Any

from iamfit.aws.session import AwsSession
from iamfit.errors import AwsError, SafetyError
from iamfit.evidence.model import SOURCE_CLOUDTRAIL
from iamfit.policy.document import PolicyDocument
from iamfit.service.model import Service
from iamfit.targets.aws.calls import AWS_ERRORS, Clock, error_message
from iamfit.targets.aws.cli_deploy import DEFAULT_DEPLOY, DEFAULT_REMOVE, CliDeployer
from iamfit.targets.aws.evidence import (
    TrailHarvester,
    attach_decoded,
    decode_messages,
    first_failure,
    latest_event_id,
    reported_denials,
    stack_events_since,
)
from iamfit.targets.aws.guard import Operator, check_account, check_stack_owned, describe_stack, identify
from iamfit.targets.aws.names import Names, discovery_stage, is_managed
from iamfit.targets.aws.roles import CandidateRoles
from iamfit.targets.aws.stack import Outcome, StackDeployer, empty_prefix
from iamfit.targets.base import Attempt, Phase

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class CleanupReport:
    deleted: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.problems


def default_variant(service: Service) -> Service:
    """The update phase's service: :func:`iamfit.service.mutate.update_variant`."""
    from iamfit.service.mutate import update_variant

    return update_variant(service)


@dataclass
class AwsTarget:
    service: Service
    session: AwsSession
    names: Names
    operator: Operator
    roles: CandidateRoles
    deployer: StackDeployer
    harvester: TrailHarvester
    cli: CliDeployer | None = None
    keep: bool = False
    clock: Clock = field(default_factory=Clock)
    variant: Callable[[Service], Service] = default_variant
    name: str = "aws"
    supports_retry_in_place: bool = True
    stack_preexisted: bool = False
    last_cleanup: CleanupReport | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    @property
    def with_cfn_role(self) -> bool:
        return "cfn" in self.roles.purposes

    # --- one attempt -----------------------------------------------------------------------------------
    def attempt(
        self,
        phase: Phase,
        policies: Mapping[str, PolicyDocument],
        *,
        attempt_id: str,
        session_name: str,
    ) -> Attempt:
        started = self.clock.monotonic()
        since = self.clock.now()
        cfn = self.client("cloudformation")
        if self.stack_preexisted:  # a stack that appeared during the run is this run's (the CLI does not tag it)
            check_stack_owned(describe_stack(cfn, self.names.stack_name), self.names.stack_name)
        self.roles.ensure()
        self._put(policies)
        status, recovery = self.deployer.recover(cfn)
        before = describe_stack(cfn, self.names.stack_name)
        marker = latest_event_id(cfn, self.names.stack_name) if before else None
        credentials = self.roles.assume("deployer", session_name)
        candidate = self.session.with_credentials(credentials)
        role_arn = self.roles.role_arn("cfn") if self.with_cfn_role else None
        outcome = Outcome()
        outcome.lines.extend(recovery)
        if self.cli is not None:
            env = {
                **credentials.environment(),
                **self.session.environment(),
                "IAMFIT_PERMISSIONS_BOUNDARY": self.roles.boundary_arn,
            }
            result = self.cli.run(phase, self.names.stage, env)
            outcome.lines.append(result.output.rstrip("\n"))
            exit_code = result.exit_code
            after = describe_stack(cfn, self.names.stack_name)
            outcome.succeeded = exit_code == 0
            outcome.stack_status = None if after is None else str(after["StackStatus"])
            outcome.reached_stack = after is not None or before is not None
        else:
            cand_cfn, cand_s3 = candidate.client("cloudformation"), candidate.client("s3")
            if phase == "remove":
                self.deployer.remove(cand_cfn, cand_s3, outcome)
            else:
                source = self.service if phase == "create" else self.variant(self.service)
                self.deployer.deploy(cand_cfn, cand_s3, source, role_arn=role_arn, outcome=outcome)
            exit_code = 0 if outcome.succeeded else 1
        after = describe_stack(cfn, self.names.stack_name)
        stack_id = str((after or before or {}).get("StackId") or self.names.stack_name)
        events = stack_events_since(cfn, stack_id, marker, since) if (after or before) else []
        texts = [str(e.get("ResourceStatusReason", "")) for e in events] + [outcome.output]
        decoded = decode_messages(self.client("sts"), texts)
        events = attach_decoded(events, decoded)
        output = outcome.output + "".join(f"Decoded authorization message: {d}\n" for d in decoded.values())
        expected = reported_denials(texts)
        unavailable: dict[str, str] = {}
        try:
            records = self.harvester.harvest(
                session_name, since, expected, cfn_role_arn=role_arn if self.with_cfn_role else None
            )
        except AwsError as exc:  # one failed lookup (throttled past the retries, ...): a weaker attempt
            records = []
            unavailable[SOURCE_CLOUDTRAIL] = exc.message
            log.warning("CloudTrail not read for attempt %s (%s)", attempt_id, exc.message)
        if self.harvester.unavailable is not None:  # unavailable for the whole run (warned once, when found)
            unavailable[SOURCE_CLOUDTRAIL] = f"CloudTrail LookupEvents is unavailable: {self.harvester.unavailable}"
        failure = None
        if not outcome.succeeded:
            failure = first_failure(events) or _first_error_line(output)
        return Attempt(
            phase=phase,
            attempt_id=attempt_id,
            session_name=session_name,
            succeeded=outcome.succeeded,
            stack_status=None if phase == "remove" and outcome.succeeded else outcome.stack_status,
            stack_events=tuple(events),
            trail_records=tuple(records),
            cli_output=output,
            cli_exit_code=exit_code,
            reached_stack=outcome.reached_stack,
            modeled_seconds=round(self.clock.monotonic() - started, 3),
            first_failure=failure,
            unavailable_evidence=unavailable,
        )

    def _put(self, policies: Mapping[str, PolicyDocument]) -> None:
        for purpose, principal in (("deployer", "deployer"), ("cfn", "cloudformation")):
            if purpose not in self.roles.purposes:
                continue
            document = policies.get(principal) or PolicyDocument(())
            if not document.statements:
                document = PolicyDocument.from_json(
                    {"Statement": [{"Effect": "Deny", "Action": "none:null", "Resource": "*"}]}
                )
            self.roles.put_policy(purpose, document)

    # --- cleanup ---------------------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Delete the discovery stack, its artifacts and the candidate roles (unless keep). Never raises
        for AWS errors: what could not be deleted is in :attr:`last_cleanup`."""
        if self.keep:
            self.last_cleanup = CleanupReport((), ("keep=True: nothing deleted",))
            return
        deleted: list[str] = []
        problems: list[str] = []
        cfn, s3 = self.client("cloudformation"), self.client("s3")
        stack_left = False
        try:
            stack = describe_stack(cfn, self.names.stack_name)
            if stack is not None and (is_managed(stack.get("Tags")) or not self.stack_preexisted):
                stack_left = self._delete_stack(cfn, s3, deleted, problems)
        except Exception as exc:  # noqa: BLE001 - cleanup goes on with the roles whatever failed; recorded
            log.info("deleting stack %s failed: %s", self.names.stack_name, error_message(exc))
            problems.append(f"stack {self.names.stack_name}: {error_message(exc)}")
            stack_left = True
        if self.service.custom_bucket:
            try:
                n = empty_prefix(s3, self.service.custom_bucket, self.names.artifact_prefix + "/")
                if n:
                    deleted.append(
                        f"{n} artifact(s) in s3://{self.service.custom_bucket}/{self.names.artifact_prefix}/"
                    )
            except Exception as exc:  # noqa: BLE001 - cleanup goes on whatever failed; recorded
                log.info("emptying the artifacts in %s failed: %s", self.service.custom_bucket, error_message(exc))
                problems.append(f"artifacts in {self.service.custom_bucket}: {error_message(exc)}")
        if stack_left and self.with_cfn_role:
            problems.append(f"kept role {self.names.role_name('cfn')}: the stack still needs it to be deleted")
            self.roles.created = [r for r in self.roles.created if r != self.names.role_name("cfn")]
        names = list(self.roles.created)
        role_problems = self.roles.delete_all()
        deleted.extend(f"role {n}" for n in names if n not in self.roles.created)
        problems.extend(role_problems)
        self.last_cleanup = CleanupReport(tuple(deleted), tuple(problems))

    def _delete_stack(self, cfn: Any, s3: Any, deleted: list[str], problems: list[str]) -> bool:
        """True when the stack is still there afterwards."""
        self.deployer.wait(cfn)  # an interrupted attempt may leave an update running; it must end first
        bucket = self.service.custom_bucket
        if bucket is None:
            try:
                bucket = str(
                    cfn.describe_stack_resource(
                        StackName=self.names.stack_name, LogicalResourceId="ServerlessDeploymentBucket"
                    )["StackResourceDetail"]["PhysicalResourceId"]
                )
            except AWS_ERRORS as exc:  # no bucket yet
                log.info("no deployment bucket to empty: %s", error_message(exc))
                bucket = None
        if bucket and not self.service.custom_bucket:
            try:
                n = empty_prefix(s3, bucket, "")
                deleted.append(f"{n} object(s) in s3://{bucket}")
            except Exception as exc:  # noqa: BLE001 - cleanup goes on whatever failed; recorded
                log.info("emptying s3://%s failed: %s", bucket, error_message(exc))
                problems.append(f"emptying s3://{bucket}: {error_message(exc)}")
        for attempt in (1, 2):
            self.deployer.delete(cfn, [])
            status = self.deployer.wait(cfn)
            if status is None:
                deleted.append(f"stack {self.names.stack_name}")
                return False
            if attempt == 1:
                continue  # DELETE_FAILED: retry once with the operator's credentials
            failed = [
                r.get("LogicalResourceId", "?")
                for r in cfn.describe_stack_resources(StackName=self.names.stack_name).get("StackResources", [])
                if r.get("ResourceStatus") == "DELETE_FAILED"
            ]
            problems.append(
                f"stack {self.names.stack_name} is {status} after two deletes; resources left: "
                f"{', '.join(failed) or '?'} -- delete them by hand, then run `iamfit cleanup`"
            )
        return True

    def __enter__(self) -> AwsTarget:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()


def _first_error_line(output: str) -> str | None:
    for line in output.splitlines():
        if "error" in line.lower() or "not authorized" in line.lower():
            return line.strip()
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1].strip() if lines else None


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While active, SIGTERM raises KeyboardInterrupt, so ``finally`` / ``with`` cleanup runs on it too."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def make_aws_target(
    service: Service,
    *,
    session: AwsSession,
    account_guard: str | None,
    run_id: str,
    deploy_command: str | None = None,
    remove_command: str | None = None,
    use_cli: bool = False,
    keep: bool = False,
    settle_seconds: float = 300.0,
    min_settle_seconds: float = 0.0,
    trail_poll_seconds: float = 20.0,
    propagation_seconds: float = 8.0,
    poll_seconds: float = 5.0,
    skip_failed_rollback_resources: bool = False,
    clock: Clock | None = None,
    variant: Callable[[Service], Service] | None = None,
) -> AwsTarget:
    """An AWS target for ``service`` in the operator's account. Creates nothing yet; raises SafetyError
    when ``account_guard`` is missing or is not the operator's account, or when a same-named discovery
    stack exists that iamfit did not create. ``deploy_command`` (or ``use_cli``) runs the Serverless CLI;
    otherwise the built-in deployer is used."""
    clock = clock or Clock()
    sts, iam = session.client("sts"), session.client("iam")
    operator = identify(sts, iam)
    check_account(operator, account_guard)
    names = Names(
        service=service.name,
        source_stage=service.stage,
        stage=discovery_stage(run_id),
        run_id=run_id,
        deployment_prefix=service.deployment_prefix,
    )
    cfn = session.client("cloudformation")
    existing = describe_stack(cfn, names.stack_name)
    check_stack_owned(existing, names.stack_name)
    if session.region != service.region:
        service.warnings.append(f"deploying to {session.region}; the package was compiled for {service.region}")
    purposes = ("deployer", "cfn") if service.deployment_role else ("deployer",)
    roles = CandidateRoles(
        iam, sts, names, operator, purposes=purposes, clock=clock, propagation_seconds=propagation_seconds
    )
    deployer = StackDeployer(
        service,
        names,
        clock=clock,
        poll_seconds=poll_seconds,
        skip_failed_rollback_resources=skip_failed_rollback_resources,
        boundary_arn=roles.boundary_arn,
    )
    harvester = TrailHarvester(
        session.client("cloudtrail"),
        clock=clock,
        settle_seconds=settle_seconds,
        min_settle_seconds=min_settle_seconds,
        poll_seconds=trail_poll_seconds,
    )
    cli = None
    if deploy_command or use_cli:
        if service.source is None:
            raise SafetyError("the CLI deployer needs the service directory")
        cwd = service.source if service.source.is_dir() else service.source.parent
        if cwd.name == ".serverless":
            cwd = cwd.parent
        cli = CliDeployer(deploy_command or DEFAULT_DEPLOY, remove_command or DEFAULT_REMOVE, cwd)
    target = AwsTarget(
        service=service,
        session=session,
        names=names,
        operator=operator,
        roles=roles,
        deployer=deployer,
        harvester=harvester,
        cli=cli,
        keep=keep,
        clock=clock,
        stack_preexisted=existing is not None,
        variant=variant or default_variant,
        _clients={"sts": sts, "iam": iam, "cloudformation": cfn},
    )
    return target

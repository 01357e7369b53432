"""The Target protocol: one deploy attempt of one phase with given policies, and what it left as evidence.

A target keeps the stack between attempts: ``attempt("create", ...)`` after a failed create retries in
place (DisableRollback + Retry where ``supports_retry_in_place``), ``attempt("update", ...)`` deploys the
service's update variant (:func:`iamfit.service.mutate.update_variant`) over a created stack, and
``attempt("remove", ...)`` deletes it. ``cleanup()`` removes whatever the target created.

``policies`` maps a principal (``"deployer"``, ``"cloudformation"``; see :mod:`iamfit.principals`) to its
policy document. The ``cloudformation`` policy applies only when the service sets a deploymentRole; without
one CloudFormation acts with the deployer's own session and the ``deployer`` policy.

Everything an :class:`Attempt` carries has AWS's exact shapes, so the evidence readers
(:mod:`iamfit.evidence`) read a sandbox attempt and a real one the same way:

``stack_events``   DescribeStackEvents ``StackEvents`` entries (newest first), JSON-able (Timestamp as ISO
                   8601 text, as the AWS CLI prints it).
``trail_records``  CloudTrail records (the ``Records[]`` schema) of every call the attempt made, in time order.
``cli_output``     what the Framework CLI printed (stdout and stderr, interleaved), ``cli_exit_code`` its code.
``unavailable_evidence``  evidence source -> why the attempt has none of it (``{"cloudtrail": "..."}`` when
                   LookupEvents could not be used); empty when every source was read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from iamfit.policy.document import PolicyDocument

Phase = Literal["create", "update", "remove"]
PHASES: tuple[Phase, ...] = ("create", "update", "remove")


@dataclass(frozen=True)
class Attempt:
    """One attempt of one phase.

    ``succeeded``: the CLI command finished without error. ``reached_stack``: a stack operation ran (False
    when the CLI failed before starting one). ``stack_status``: the stack's status when the attempt ended
    (None: no stack). ``modeled_seconds``: how long the attempt would take against AWS (the sandbox's timing
    model; wall-clock seconds for a real target). ``first_failure``: the first failure as CloudFormation or
    the CLI reports it (``"CREATE_FAILED PingLambdaFunction (AWS::Lambda::Function): <reason>"`` or the CLI
    error line), None on success.
    """

    phase: Phase
    attempt_id: str
    session_name: str
    succeeded: bool
    stack_status: str | None
    stack_events: tuple[dict[str, Any], ...]
    trail_records: tuple[dict[str, Any], ...]
    cli_output: str
    cli_exit_code: int
    reached_stack: bool
    modeled_seconds: float
    first_failure: str | None
    unavailable_evidence: dict[str, str] = field(default_factory=dict)


class Target(Protocol):
    """Where attempts run. ``supports_retry_in_place``: a failed attempt leaves the stack where a retry
    resumes it (DisableRollback + Retry); otherwise a failed attempt rolls back first."""

    name: str
    supports_retry_in_place: bool

    def attempt(
        self,
        phase: Phase,
        policies: Mapping[str, PolicyDocument],
        *,
        attempt_id: str,
        session_name: str,
    ) -> Attempt: ...

    def cleanup(self) -> None: ...

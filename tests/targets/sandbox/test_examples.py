"""Must hold: every example deploys, updates and removes cleanly with its generated policy, and dropping any
single action of a generated policy makes ``plan`` fail naming exactly that action."""

from __future__ import annotations

import pytest

from iamfit.targets.sandbox import KnowledgeWorld, SandboxTarget
from iamfit.targets.sandbox.plan import plan
from tests.targets.sandbox.conftest import EXAMPLES, dropped, example


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("disable_rollback", [True, False])
def test_example_deploys_updates_and_removes_cleanly(example_name: str, disable_rollback: bool) -> None:
    service, policies = example(example_name)
    target = SandboxTarget(service, disable_rollback=disable_rollback)
    expected_end = {"create": ("CREATE_COMPLETE", "UPDATE_COMPLETE"), "update": ("UPDATE_COMPLETE",),
                    "remove": ("DELETE_COMPLETE",)}
    for n, phase in enumerate(("create", "update", "remove")):
        attempt = target.attempt(phase, policies, attempt_id=f"a{n}", session_name=f"iamfit-{n}")
        assert attempt.succeeded, attempt.first_failure
        assert attempt.cli_exit_code == 0 and attempt.first_failure is None
        assert attempt.reached_stack
        assert attempt.stack_status in expected_end[phase]
        assert attempt.modeled_seconds > 0
        assert [v for v in target.verdicts[f"a{n}"] if not v.allowed] == []
        assert not any(e["ResourceStatus"].endswith("FAILED") for e in attempt.stack_events)
        assert not any("errorCode" in r for r in attempt.trail_records)
    assert target.stack is not None and target.stack.live == {}


def test_update_phase_runs_update_and_replacement_handlers(example_name: str) -> None:
    service, policies = example(example_name)
    target = SandboxTarget(service)
    target.attempt("create", policies, attempt_id="c", session_name="iamfit-c")
    update = target.attempt("update", policies, attempt_id="u", session_name="iamfit-u")
    statuses = [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
                for e in reversed(update.stack_events)]
    assert any(s == "UPDATE_COMPLETE" and lid != service.stack_name for lid, s, _ in statuses)
    replaced = [lid for lid, s, why in statuses if "creation of a new physical resource" in why]
    assert len(replaced) == 1
    cleanup_at = next(i for i, (_, s, _) in enumerate(statuses) if s == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    assert (replaced[0], "DELETE_COMPLETE") in [(lid, s) for lid, s, _ in statuses[cleanup_at:]]
    # the code change creates new Lambda versions
    assert any(s == "CREATE_COMPLETE" and "LambdaVersion" in lid for lid, s, _ in statuses)


def _actions(example_name: str) -> list[tuple[str, str, str]]:
    _, policies = example(example_name)
    return [(example_name, principal, action)
            for principal, doc in sorted(policies.items()) for action in sorted(doc.actions())]


ALL_ACTIONS = [row for name in EXAMPLES for row in _actions(name)]
_WORLDS: dict[str, KnowledgeWorld] = {}


@pytest.mark.parametrize(("example_name", "principal", "action"), ALL_ACTIONS,
                         ids=[f"{e}:{p}:{a}" for e, p, a in ALL_ACTIONS])
def test_dropping_any_action_fails_plan_naming_exactly_it(example_name: str, principal: str, action: str) -> None:
    service, policies = example(example_name)
    world = _WORLDS.setdefault(example_name, KnowledgeWorld())
    smaller = dict(policies)
    smaller[principal] = dropped({principal: policies[principal]}, action)[principal]
    result = plan(service, smaller, world=world)
    assert not result.fits
    assert result.denied_actions == (action,)
    assert {d.principal for p in result.phases for d in p.denials} <= {principal, "cloudformation", "deployer"}


def test_generated_policies_fit_in_plan(example_name: str) -> None:
    service, policies = example(example_name)
    result = plan(service, policies)
    assert result.fits, result.to_json()
    assert [p.phase for p in result.phases] == ["create", "update", "remove"]

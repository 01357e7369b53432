"""The by-hand model iamfit's figures are compared with (iamfit/by_hand.py, docs/discover.md "The by-hand figure")."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamfit.by_hand import BY_HAND_MODEL, by_hand_estimate, experiment_start, simulate_by_hand
from iamfit.cli import cli
from iamfit.discover import DiscoveryResult, discover, read_evidence, shown_denials
from iamfit.evidence.model import SOURCE_CLI, SOURCE_CLOUDTRAIL, SOURCE_STACK_EVENT
from iamfit.journal import Journal
from iamfit.knowledge.catalog import default_catalog
from iamfit.service.model import Service, load_service
from iamfit.targets.sandbox import SandboxTarget

from .conftest import EXAMPLES

ACCOUNT = "123456789012"


def _service(name: str) -> Service:
    return load_service(EXAMPLES / name, account=ACCOUNT, compile_if_needed=False)


def _by_hand(service: Service, tmp_path: Path, **kwargs: object) -> DiscoveryResult:
    target = SandboxTarget(service, seed="by-hand", disable_rollback=False)
    return simulate_by_hand(service, target, Journal.create(tmp_path), **kwargs)  # type: ignore[arg-type]


def test_a_person_grants_every_denial_a_failed_attempt_shows_and_only_those(tmp_path: Path) -> None:
    result = _by_hand(_service("rest-api"), tmp_path)
    assert result.verified
    catalog = default_catalog()
    several = 0
    for attempt in result.attempts:
        if attempt.succeeded:
            continue
        for grant in attempt.grants:
            # what the person read: the CLI's error and the stack events, never CloudTrail or the knowledge base
            assert set(grant.evidence) <= {SOURCE_STACK_EVENT, SOURCE_CLI}, grant
            assert any((catalog.canonical(d.action or "") or d.action) == grant.need.action
                       and d.source in grant.evidence for d in attempt.denials), grant
        several += len({g.need.action for g in attempt.grants}) > 1
    # resources failing in the same moment each show their denial: some attempts grant several actions at once
    assert several >= 3
    actions = sum(len(doc.actions()) for doc in result.policies.values())
    assert len(result.attempts) < actions


def test_cloudtrail_is_not_what_a_person_reads(tmp_path: Path) -> None:
    service = _service("rest-api")
    target = SandboxTarget(service, seed="t", disable_rollback=False)
    from iamfit.generate import policies_from_needs

    empty = policies_from_needs([], False)
    attempt = target.attempt("create", empty, attempt_id="a1", session_name="iamfit-a1")
    assert not attempt.succeeded
    catalog = default_catalog()
    shown = shown_denials(attempt, catalog)
    assert shown and {d.source for d in shown} <= {SOURCE_STACK_EVENT, SOURCE_CLI}
    trail_only = dataclasses.replace(attempt, stack_events=(), cli_output="", cli_exit_code=1)
    assert shown_denials(trail_only, catalog) == []
    denials, _ = read_evidence(trail_only, catalog)
    assert denials and {d.source for d in denials} == {SOURCE_CLOUDTRAIL}


def test_under_the_public_experiments_conditions_the_model_comes_close_to_its_rounds(tmp_path: Path) -> None:
    """abefarris/cfn-least-privilege: a 23-resource stack, ~20 rounds (create, rollback, delete), 44 actions,
    the CloudFormation role only, starting from ReadOnlyAccess. The model under the same conditions on the
    28-resource rest-api example must land in the same range: 10-30 rounds, over 1.5 actions a round (the
    experiment: 2.2). The old model (one grant per attempt) needed a round per action."""
    service = _service("rest-api")
    result = _by_hand(service, tmp_path, start=experiment_start(service))
    assert result.verified
    measured = [a for a in result.attempts if a.phase in ("create", "remove")]
    rounds = sum(1 for a in measured if not a.succeeded)
    actions = {(g.need.principal, g.need.action) for a in measured for g in a.grants}
    assert 10 <= rounds <= 30, rounds
    assert len(actions) >= 1.5 * rounds, (len(actions), rounds)
    # nothing the experiment's person started with is granted again: only mutating actions are found
    assert not any(action.split(":")[1].startswith(("Get", "List", "Describe")) for _, action in actions)


def test_the_estimate_without_a_simulation_says_it_is_an_upper_bound(tmp_path: Path) -> None:
    service = _service("http-api-jwt")
    result = discover(service, SandboxTarget(service, seed="s"), Journal.create(tmp_path))
    estimate = by_hand_estimate(result)
    assert estimate["model"] == "estimated" and "upper bound" in estimate["assumes"]
    assert estimate["attempts"] == estimate["actions"] + 3  # one failed deploy per action, one clean per phase
    simulated = by_hand_estimate(result, service)
    assert simulated["model"] == "simulated" and simulated["assumes"] == BY_HAND_MODEL
    assert simulated["attempts"] < estimate["attempts"]


def test_the_summary_and_the_report_state_the_model_next_to_the_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, ["discover", str(EXAMPLES / "rest-api"), "--account", ACCOUNT, "--report", "r.json", "--out", "out"]
    )
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.stdout.splitlines() if "by hand:" in x]
    assert line.endswith("(model: grant every denial an attempt shows, rollback each time; see docs/discover.md)")
    by_hand = json.loads(Path("r.json").read_text())["totals"]["by_hand"]
    assert by_hand["model"] == "simulated" and by_hand["assumes"] == BY_HAND_MODEL
    assert f"~{by_hand['attempts']} attempts" in line
    assert isinstance(by_hand["actions"], int) and by_hand["actions"] > 0

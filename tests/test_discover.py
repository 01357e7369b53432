"""The discovery loop on the sandbox: seeded, from scratch, injected worlds, guardrails, denies, prune."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest

from iamfit.discover import (
    STOP_GUARDRAIL,
    STOP_NOT_FIXABLE,
    DiscoveryResult,
    ProgressEvent,
    ProgressKind,
    Stop,
    StopReason,
    discover,
    report,
)
from iamfit.journal import Journal
from iamfit.policy.document import PolicyDocument
from iamfit.service.model import load_service
from iamfit.service.mutate import update_variant
from iamfit.targets.sandbox import ExtendedWorld, ExtraNeed, KnowledgeWorld, SandboxTarget

from .conftest import EXAMPLES

EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "serverless.yml").exists())


def run(name: str, tmp_path: Path, *, world=None, scps=(), **options) -> DiscoveryResult:  # type: ignore[no-untyped-def]
    service = load_service(EXAMPLES / name, account="123456789012", compile_if_needed=False)
    target = SandboxTarget(service, world=world, seed="test", scps=scps)
    return discover(service, target, Journal.create(tmp_path), **options)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_seeded_discovery_verifies_without_a_failed_attempt(name: str, tmp_path: Path) -> None:
    result = run(name, tmp_path)
    assert result.verified, result.stop
    assert [(a.phase, a.succeeded) for a in result.attempts] == [("create", True), ("update", True), ("remove", True)]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_from_scratch_converges_within_the_dependency_depth(name: str, tmp_path: Path) -> None:
    result = run(name, tmp_path, from_scratch=True)
    assert result.verified, result.stop
    service = result.service
    rep = report(result)
    for phase in ("create", "update", "remove"):
        attempts = rep["phases"]["discover"][phase]["attempts"]
        assert attempts[-1]["succeeded"]
        stack_failures = [
            a
            for a in attempts
            if a["reached_stack"]
            and not a["succeeded"]
            and (a["first_failure"] or "").startswith(("CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED"))
        ]
        depth = (update_variant(service) if phase == "update" else service).graph.depth()
        if phase == "create" and not service.custom_bucket:
            # the first deploy creates the core stack (the deployment bucket) before uploading anything: every
            # other resource comes one level after it
            depth += 1
        # one attempt reports one denial per independent path: the attempts that reach CloudFormation (the
        # failed stack operations and the one that passes) number at most 1 + the dependency depth
        assert len(stack_failures) + 1 <= 1 + depth, (phase, len(stack_failures), depth)
    # every grant names the evidence it came from
    for attempt in result.attempts:
        for grant in attempt.grants:
            assert grant.evidence and grant.need.source.startswith(("evidence:", "registry:", "serverless-cli.md"))


EXTRA = {
    "create": ExtraNeed("lambda:GetPolicy", "create", resource_type="AWS::Lambda::Function"),
    "update": ExtraNeed("lambda:GetFunctionConcurrency", "update", resource_type="AWS::Lambda::Function"),
    "delete": ExtraNeed("logs:DescribeLogStreams", "delete", resource_type="AWS::Logs::LogGroup"),
    "deployer": ExtraNeed("cloudformation:GetTemplateSummary", "deploy"),
    "conditional": ExtraNeed(
        "lambda:TagResource",
        "create",
        resource_type="AWS::Lambda::Function",
        context=(("aws:requesttag/iamfit-probe", ("yes",)),),
        only_if=lambda r: "Environment" in r.properties,
    ),
}


@pytest.mark.parametrize("kind", sorted(EXTRA))
@pytest.mark.parametrize("seeded", [True, False], ids=["seeded", "scratch"])
def test_worlds_that_need_more_than_predicted_converge(kind: str, seeded: bool, tmp_path: Path) -> None:
    extra = EXTRA[kind]
    world = ExtendedWorld(KnowledgeWorld(), [extra])
    result = run("sqs-worker", tmp_path, world=world, from_scratch=not seeded)
    assert result.verified, result.stop
    granted = [(a.phase, a.number, g) for a in result.attempts for g in a.grants if g.need.action == extra.action]
    if seeded and kind != "conditional":  # the conditional one is predicted (TagResource) already
        assert granted, "the report must show which attempt found the extra need"
        phase, number, grant = granted[0]
        assert grant.evidence and number >= 1
        rep = report(result)
        found = [
            g for a in rep["phases"]["discover"][phase]["attempts"] for g in a["granted"] if g["action"] == extra.action
        ]
        assert found and found[0]["reason"].startswith(f"denied in {phase} attempt")
    assert extra.action in {a for doc in result.policies.values() for a in doc.actions()}


def test_a_guardrail_action_stops_the_loop_with_what_to_do(tmp_path: Path) -> None:
    world = ExtendedWorld(
        KnowledgeWorld(),
        [
            ExtraNeed(
                "iam:CreatePolicyVersion",
                "create",
                resource_type="AWS::IAM::Role",
                resource="arn:aws:iam::123456789012:policy/shared",
            )
        ],
    )
    result = run("sqs-worker", tmp_path, world=world)
    assert not result.verified and result.stop and result.stop.reason == STOP_GUARDRAIL
    assert any("--allow iam:CreatePolicyVersion" in item for item in result.stop.action_items)
    allowed = run("sqs-worker", tmp_path / "again", world=world, allow=("iam:CreatePolicyVersion",))
    assert allowed.verified


def test_a_stop_is_a_typed_value_kept_as_the_same_strings_in_report_and_journal(tmp_path: Path) -> None:
    world = ExtendedWorld(KnowledgeWorld(), [ExtraNeed("iam:PassRole", "create", resource_type="AWS::SQS::Queue",
                                                       resource="*")])
    service = load_service(EXAMPLES / "sqs-worker", account="123456789012", compile_if_needed=False)
    journal = Journal.create(tmp_path)
    result = discover(service, SandboxTarget(service, world=world, seed="test"), journal)
    assert result.stop is not None and result.stop.reason is StopReason.GUARDRAIL
    assert isinstance(result.stop.action_items, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.stop.message = "changed"  # type: ignore[misc]
    # the report and the journal keep plain strings and lists, as before the type existed
    rep = report(result)["stop"]
    assert rep == {"reason": "guardrail", "message": result.stop.message, "what_to_do": list(result.stop.action_items)}
    done = Journal.open(tmp_path, journal.run_id).get("done")
    assert done is not None and done["stop"] == {"reason": "guardrail", "message": result.stop.message,
                                                 "action_items": list(result.stop.action_items)}
    assert Stop.from_json(done["stop"]) == result.stop
    # a resumed run reads the journaled decision back into the same typed stop
    again = Journal.open(tmp_path, journal.run_id)
    resumed = discover(service, SandboxTarget(service, world=world, seed="test"), again)
    assert resumed.stop == result.stop


def test_progress_events_are_typed_values(tmp_path: Path) -> None:
    events: list[ProgressEvent] = []
    service = load_service(EXAMPLES / "sqs-worker", account="123456789012", compile_if_needed=False)
    discover(service, SandboxTarget(service, seed="test"), Journal.create(tmp_path), from_scratch=True,
             progress=events.append)
    kinds = [e.kind for e in events]
    assert kinds[0] is ProgressKind.ATTEMPT and kinds[-1] is ProgressKind.PASSED
    assert ProgressKind.DENIALS in kinds
    assert [e.phase for e in events if e.kind is ProgressKind.PASSED] == ["create", "update", "remove"]
    for e in events:
        assert e.round == "discover" and e.number >= 1
        assert (e.modeled_seconds is None) == (e.kind is ProgressKind.ATTEMPT)
        assert (e.denials is not None and e.granted is not None) == (e.kind is ProgressKind.DENIALS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        events[0].number = 9  # type: ignore[misc]


def test_passrole_on_everything_is_never_granted(tmp_path: Path) -> None:
    world = ExtendedWorld(
        KnowledgeWorld(), [ExtraNeed("iam:PassRole", "create", resource_type="AWS::SQS::Queue", resource="*")]
    )
    result = run("sqs-worker", tmp_path, world=world)
    assert result.stop and result.stop.reason == STOP_GUARDRAIL


def test_an_scp_deny_stops_the_loop_and_says_an_allow_will_not_help(tmp_path: Path) -> None:
    scp = PolicyDocument.from_json(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": "sqs:CreateQueue", "Resource": "*"},
            ],
        }
    )
    result = run("sqs-worker", tmp_path, scps=(scp,))
    assert result.stop and result.stop.reason == STOP_NOT_FIXABLE
    assert any("service control policy" in item and "will not help" in item for item in result.stop.action_items)


class LeanerWorld(KnowledgeWorld):
    """A world where AWS needs less than the knowledge base predicts (no tag actions on update)."""

    def resource_requirements(self, service, resource, operation, names):  # type: ignore[no-untyped-def]
        found = super().resource_requirements(service, resource, operation, names)
        return tuple(r for r in found if not (operation == "update" and "tag" in r.action.lower()))


def test_prune_drops_unused_predicted_actions_and_still_verifies(tmp_path: Path) -> None:
    seeded = run("sqs-worker", tmp_path / "a", world=LeanerWorld())
    pruned = run("sqs-worker", tmp_path / "b", world=LeanerWorld(), prune=True)
    assert pruned.verified, pruned.stop
    assert pruned.pruned
    before = sum(len(d.actions()) for d in seeded.policies.values())
    after = sum(len(d.actions()) for d in pruned.policies.values())
    assert after < before
    assert [a.succeeded for a in pruned.attempts if a.round == "prune"][-1]
    assert any("UntagResource" in p or "UntagQueue" in p for p in pruned.pruned)


def test_each_attempt_has_its_own_session_name(tmp_path: Path) -> None:
    result = run("rest-api", tmp_path, from_scratch=True)
    names = [a.session_name for a in result.attempts]
    assert len(set(names)) == len(names)
    assert all(len(n) <= 64 for n in names)


def test_prune_summary_lists_what_was_pruned_per_principal(tmp_path: Path) -> None:
    from iamfit.report.discover import summary

    pruned = run("sqs-worker", tmp_path, world=LeanerWorld(), prune=True)
    text = summary(pruned, report(pruned), prune=True)
    dropped = [p.split(":", 1)[1] for p in pruned.pruned if p.startswith("deployer:")]
    assert dropped and f"    deployer: {', '.join(dropped)}" in text
    assert f"pruned {len(pruned.pruned)} predicted action(s)" in text


def test_prune_summary_says_when_nothing_could_be_pruned(tmp_path: Path) -> None:
    from iamfit.report.discover import summary

    result = run("sqs-worker", tmp_path, prune=True)
    assert result.verified and not result.pruned
    assert "prune: nothing could be pruned" in summary(result, report(result), prune=True)
    assert "prune" not in summary(result, report(result))

class WithoutTrail:
    """A sandbox whose CloudTrail could not be read, as the AWS target reports it (e.g. on a moto server)."""

    def __init__(self, inner: SandboxTarget) -> None:
        self.inner = inner
        self.name = inner.name
        self.supports_retry_in_place = inner.supports_retry_in_place

    def attempt(self, phase, policies, *, attempt_id, session_name):  # type: ignore[no-untyped-def]
        got = self.inner.attempt(phase, policies, attempt_id=attempt_id, session_name=session_name)
        reason = "CloudTrail LookupEvents is unavailable: the endpoint does not implement it (UnknownOperation)"
        return dataclasses.replace(got, trail_records=(), unavailable_evidence={"cloudtrail": reason})

    def cleanup(self) -> None:
        self.inner.cleanup()


def test_without_cloudtrail_the_verdict_says_so_and_prune_drops_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from iamfit.report.discover import summary

    service = load_service(EXAMPLES / "sqs-worker", account="123456789012", compile_if_needed=False)
    target = WithoutTrail(SandboxTarget(service, world=LeanerWorld(), seed="test"))
    with caplog.at_level(logging.WARNING, logger="iamfit"):
        result = discover(service, target, Journal.create(tmp_path), prune=True)  # type: ignore[arg-type]
    assert result.verified
    # what an attempt used is known from CloudTrail only: without it, pruning would drop every predicted action
    assert result.pruned == [] and not [a for a in result.attempts if a.round == "prune"]
    assert [r.getMessage() for r in caplog.records] == [
        "--prune: nothing pruned, CloudTrail (which shows what each attempt used) was unavailable"
    ]
    assert list(result.unavailable_evidence) == ["cloudtrail"]
    rep = report(result)
    assert rep["unavailable_evidence"] == [
        {
            "source": "cloudtrail",
            "reason": result.unavailable_evidence["cloudtrail"],
            "attempts": [a.attempt_id for a in result.attempts],
        }
    ]
    first = rep["phases"]["discover"]["create"]["attempts"][0]
    assert first["unavailable_evidence"] == {"cloudtrail": result.unavailable_evidence["cloudtrail"]}
    text = summary(result, rep)
    assert "evidence not read: cloudtrail: CloudTrail LookupEvents is unavailable" in text
    verdict = next(line for line in text.splitlines() if line.startswith("VERIFIED"))
    assert verdict.startswith("VERIFIED in the sandbox model")
    assert text.splitlines()[-1].startswith("  - ")  # what the model cannot check comes last
    assert verdict.endswith(
        "create, update and remove all passed with these policies, judged on stack events and deploy "
        "output only (cloudtrail evidence was unavailable)"
    )
    # the journal keeps it: a resumed run reports the same
    resumed = discover(service, WithoutTrail(SandboxTarget(service, world=LeanerWorld(), seed="test")),  # type: ignore[arg-type]
                       Journal.open(tmp_path, result.run_id), prune=True)
    assert resumed.unavailable_evidence == result.unavailable_evidence


def test_with_every_source_read_the_report_lists_nothing_unavailable(tmp_path: Path) -> None:
    result = run("sqs-worker", tmp_path)
    assert result.unavailable_evidence == {}
    assert report(result)["unavailable_evidence"] == []


def test_a_discovered_service_linked_role_is_granted_with_its_service_name(tmp_path: Path) -> None:
    """An unpredicted iam:CreateServiceLinkedRole found by a denial is granted conditioned on the service the
    role path names (never on role/aws-service-role/* for any service)."""
    slr = "arn:aws:iam::123456789012:role/aws-service-role/ops.apigateway.amazonaws.com/AWSServiceRoleForAPIGateway"
    extra = ExtraNeed("iam:CreateServiceLinkedRole", "create", resource_type="AWS::SQS::Queue", resource=slr,
                      context=(("iam:awsservicename", ("ops.apigateway.amazonaws.com",)),))
    result = run("sqs-worker", tmp_path, world=ExtendedWorld(KnowledgeWorld(), [extra]))
    assert result.verified, result.stop
    statements = [st for doc in result.policies.values() for st in doc.statements
                  if "iam:CreateServiceLinkedRole" in st.actions and slr in st.resources]
    assert statements
    assert all(("StringEquals", (("iam:AWSServiceName", ("ops.apigateway.amazonaws.com",)),)) in st.conditions
               for st in statements)


def test_from_scratch_passes_two_unresolved_roles_to_two_services(tmp_path: Path) -> None:
    """Two resources pass a role iamfit cannot resolve (a name, not a template role: role/*) to two services. A
    grant on role/* conditioned on the instance profile's service does not let the ECS service pass its role: the loop
    grants the second condition instead of stopping with "denied again for what is already granted" (found by
    benchmarks/sweep_templates.py's discover run on aws-cloudformation-templates' ECS_Schedule_Example)."""
    template = tmp_path / "t.json"
    template.write_text(json.dumps({"Resources": {
        "Profile": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Roles": ["ec2-instances"]}},
        "Cluster": {"Type": "AWS::ECS::Cluster"},
        "Service": {"Type": "AWS::ECS::Service", "Properties": {
            "Cluster": {"Ref": "Cluster"}, "Role": "ecs-service-legacy", "DesiredCount": 1,
            "TaskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/app:1"}},
    }}))
    service = load_service(template, service_name="svc", stage="dev", region="us-east-1", account="123456789012")
    result = discover(service, SandboxTarget(service, seed="test"), Journal.create(tmp_path / "runs"),
                      from_scratch=True)
    assert result.verified, result.stop
    passed_to = [values for doc in result.policies.values() for st in doc.statements if "iam:PassRole" in st.actions
                 and st.resources == ("arn:aws:iam::123456789012:role/*",)
                 for _, pairs in st.conditions for key, values in pairs if key == "iam:PassedToService"]
    assert ("ecs.amazonaws.com",) in passed_to and len(set(passed_to)) == 2  # the profile's, and the service's

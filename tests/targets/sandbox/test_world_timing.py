"""Concrete names, request contexts, and the timing model."""

from __future__ import annotations

import fnmatch

from iamfit.knowledge.eventnames import event_to_action
from iamfit.targets.sandbox import KnowledgeWorld, Names, SandboxTarget, timing
from iamfit.targets.sandbox.shapes import event_for
from iamfit.targets.sandbox.world import context_of
from tests.targets.sandbox.conftest import example


def test_concrete_names_are_deterministic_and_match_their_patterns() -> None:
    service, _ = example("rest-api")
    a, b = Names(service, "seed"), Names(service, "seed")
    bucket = a.bucket
    assert bucket == b.bucket and "*" not in bucket
    assert fnmatch.fnmatchcase(bucket, service.bucket_name_pattern)
    assert bucket == bucket.lower()  # S3 generated names are lower case
    assert Names(service, "other").bucket != bucket
    objects = a.concrete(service.artifacts_arn)
    assert objects == f"arn:aws:s3:::{bucket}/{service.artifact_dir}/{service.name}.zip"
    log = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/x:*"
    assert a.concrete(log) == log  # a trailing :* is kept
    assert a.concrete("*") == "*"
    api = a.concrete("arn:aws:apigateway:us-east-1::/restapis/*")
    assert api == a.concrete("arn:aws:apigateway:us-east-1::/restapis/*") and "*" not in api
    assert a.concrete(service.stack_arn) == a.stack_id


def test_replacement_gives_a_new_generated_name() -> None:
    service, _ = example("rest-api")
    names = Names(service, "seed")
    first = names.generated("ServerlessDeploymentBucket", "AWS::S3::Bucket")
    names.generation["ServerlessDeploymentBucket"] = 1
    assert names.generated("ServerlessDeploymentBucket", "AWS::S3::Bucket") != first


def test_context_of_conditions() -> None:
    assert context_of([("StringEquals", "iam:PassedToService", ("lambda.amazonaws.com",))]) == (
        ("iam:PassedToService", ("lambda.amazonaws.com",)),)
    assert context_of([("ForAllValues:StringEquals", "aws:TagKeys", ("a", "b"))]) == (("aws:TagKeys", ("a", "b")),)
    assert context_of([("StringNotEquals", "aws:RequestTag/x", ("y",))]) == ()


def test_knowledge_world_requirements_are_concrete() -> None:
    service, _ = example("sqs-worker")
    names = Names(service, "seed")
    world = KnowledgeWorld()
    for res in service.resources.values():
        for req in world.resource_requirements(service, res, "create", names):
            assert req.resource == "*" or "*" not in req.resource.removesuffix(":*")
    steps = world.cli_steps(service, "deploy", first_deploy=True, names=names)
    assert [s.stack_op for s in steps if s.stack_op] == ["create-stack", "update-stack"]


def test_every_logged_request_maps_back_to_its_action() -> None:
    for name in ("rest-api", "sqs-worker", "vpc-kms", "http-api-jwt", "deployment-role"):
        service, policies = example(name)
        target = SandboxTarget(service)
        for n, phase in enumerate(("create", "update", "remove")):
            target.attempt(phase, policies, attempt_id=str(n), session_name="s")
            for verdict in target.verdicts[str(n)]:
                names = event_for(verdict.action, None, verdict.resource)
                if names is None:
                    assert verdict.action == "iam:PassRole"
                    continue
                assert event_to_action(*names) == verdict.action, (verdict.action, names)


def test_timing_figures() -> None:
    lam = "AWS::Lambda::Function"
    vpc = {"VpcConfig": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}}
    assert timing.operation_seconds(lam, "delete", vpc) == timing.VPC_LAMBDA_DELETE >= 1200
    assert timing.operation_seconds(lam, "delete", {}) < 60
    assert timing.operation_seconds("AWS::Unknown::Thing", "create", {}) == timing.DEFAULT.create
    assert timing.rollback_seconds() == timing.ROLLBACK_TYPICAL == 120
    assert timing.rollback_seconds({"F": (lam, vpc)}) > 1200
    assert timing.by_hand_seconds(3, 100.0, 120.0, 200.0) == 3 * 220 + 200
    assert all(t.source for t in timing.RESOURCE_SECONDS.values())


def test_attempts_report_modeled_seconds_with_vpc_lambdas_slow_to_delete() -> None:
    service, policies = example("vpc-kms")
    target = SandboxTarget(service)
    target.attempt("create", policies, attempt_id="c", session_name="s")
    remove = target.attempt("remove", policies, attempt_id="r", session_name="s")
    assert remove.modeled_seconds > timing.VPC_LAMBDA_DELETE

from __future__ import annotations

import pytest

from iamfit.knowledge.catalog import default_catalog
from iamfit.knowledge.refinements import RULES, prune
from iamfit.knowledge.registry import schema
from tests.datadrift import report_drift


def test_every_rule_names_a_source_and_a_registry_type() -> None:
    for rule in RULES:
        assert rule.source, rule
        assert schema(rule.type_name) is not None, rule.type_name


@pytest.mark.data
def test_every_rule_pattern_matches_a_handler_permission_of_its_type() -> None:
    """A rule that matches nothing in the installed registry schemas is dead: a typo, or cfn-lint's schemas no
    longer list the action (a rule that prunes nothing keeps the registry's word: safe). Reported for review."""
    dead = []
    for rule in RULES:
        s = schema(rule.type_name)
        assert s is not None
        handler_actions = {a for op in rule.operations for a in s.permissions(op)}
        if not any(rule.matches(rule.type_name, a, op) for op in rule.operations for a in handler_actions):
            dead.append(f"{rule.type_name} {'/'.join(rule.actions)}")
    report_drift("refinement rules that match no handler permission of the installed cfn-lint schemas", dead)
    assert len(dead) < len(RULES) / 2, "most rules match nothing: the schemas were not read"


@pytest.mark.parametrize(
    "props, present, absent",
    [
        (
            {},
            {"lambda:CreateFunction", "iam:PassRole"},
            {"kms:Decrypt", "ec2:DescribeSubnets", "lambda:GetLayerVersion"},
        ),
        ({"KmsKeyArn": "arn:aws:kms:us-east-1:1:key/x"}, {"kms:Decrypt", "kms:CreateGrant"}, {"ec2:DescribeVpcs"}),
        ({"VpcConfig": {"SubnetIds": ["subnet-1"]}}, {"ec2:DescribeSubnets", "ec2:DescribeVpcs"}, {"kms:Encrypt"}),
        ({"Layers": ["arn:aws:lambda:us-east-1:1:layer:l:1"]}, {"lambda:GetLayerVersion"}, {"kms:Decrypt"}),
    ],
)
def test_lambda_function_pruning(props: dict, present: set[str], absent: set[str]) -> None:  # type: ignore[type-arg]
    raw = schema("AWS::Lambda::Function").permissions("create")  # type: ignore[union-attr]
    kept, dropped = prune("AWS::Lambda::Function", "create", raw, props)
    assert present <= set(kept)
    assert not (absent & set(kept))
    assert {d.action for d in dropped} & absent == absent & set(raw)


def test_unnamed_actions_are_kept() -> None:
    raw = ("sqs:CreateQueue", "sqs:GetQueueAttributes")
    assert prune("AWS::SQS::Queue", "create", raw, {})[0] == raw


@pytest.mark.data
def test_registry_lists_contain_names_the_catalog_does_not_know() -> None:
    """Why resource_needs checks every handler permission against the catalog (cfn-lint 1.58's LogGroup schema
    lists the S3 access-log operation name s3:REST.PUT.OBJECT, which is no IAM action)."""
    raw = schema("AWS::Logs::LogGroup").permissions("create")  # type: ignore[union-attr]
    assert not default_catalog().exists("s3:REST.PUT.OBJECT")
    if "s3:REST.PUT.OBJECT" not in raw:
        report_drift("AWS::Logs::LogGroup create no longer lists this non-IAM name", ["s3:REST.PUT.OBJECT"])

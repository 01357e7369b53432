from __future__ import annotations

import pytest

from iamfit.knowledge.catalog import default_catalog
from iamfit.knowledge.refinements import RULES, prune
from iamfit.knowledge.registry import schema


def test_every_rule_names_a_source_and_a_registry_type() -> None:
    for rule in RULES:
        assert rule.source, rule
        assert schema(rule.type_name) is not None, rule.type_name


def test_every_rule_pattern_matches_a_handler_permission_of_its_type() -> None:
    """A rule that matches nothing in the registry is dead (renamed actions, typos)."""
    for rule in RULES:
        s = schema(rule.type_name)
        assert s is not None
        handler_actions = {a for op in rule.operations for a in s.permissions(op)}
        assert any(rule.matches(rule.type_name, a, op) for op in rule.operations for a in handler_actions), rule


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


def test_registry_lists_contain_names_the_catalog_does_not_know() -> None:
    """Why resource_needs checks every handler permission against the catalog."""
    raw = schema("AWS::Logs::LogGroup").permissions("create")  # type: ignore[union-attr]
    assert "s3:REST.PUT.OBJECT" in raw and not default_catalog().exists("s3:REST.PUT.OBJECT")

"""Differential test: iamfit's evaluator and moto's own IAM enforcement agree on the cases both support.

moto 5.2 (moto/iam/access_control.py) matches Action/NotAction and Resource with ``*`` -> ``.*`` regexes,
case-sensitively, gives Deny precedence, and passes S3 requests' bucket/object ARNs (other services get
``*``). It does not implement ``?``, NotResource, or IAM's condition semantics, so the generated policies
use none of those.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from iamfit.policy.document import PolicyDocument
from iamfit.policy.evaluate import PolicySet

moto = pytest.importorskip("moto")
from moto.core import set_initial_no_auth_action_count  # noqa: E402

ALPHA, BETA = "iamfit-alpha", "iamfit-beta"

POOL: list[dict[str, Any]] = [
    {"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{ALPHA}*"},
    {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"},
    {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::iamfit-*/*"},
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BETA}"},
    {"Effect": "Allow", "Action": "*", "Resource": "*"},
    {"Effect": "Allow", "Action": "iam:List*", "Resource": "*"},
    {"Effect": "Allow", "Action": ["sqs:*", "s3:List*"], "Resource": "*"},
    {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"},
    {
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{ALPHA}", f"arn:aws:s3:::{ALPHA}/*"],
    },
    {"Effect": "Allow", "Action": "s3:*Object", "Resource": "arn:aws:s3:::*/k"},
    {"Effect": "Deny", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BETA}/*"},
    {"Effect": "Deny", "Action": "s3:*", "Resource": f"arn:aws:s3:::{ALPHA}"},
    {"Effect": "Deny", "Action": "iam:*", "Resource": "*"},
    {"Effect": "Deny", "NotAction": ["s3:Get*", "s3:List*"], "Resource": "*"},
    {"Effect": "Deny", "Action": "sqs:List*", "Resource": "*"},
]


def _policies(count: int) -> list[dict[str, Any]]:
    rng = random.Random(20261126)
    chosen = [[POOL[i]] for i in range(len(POOL))]  # every statement on its own
    while len(chosen) < count:
        chosen.append(rng.sample(POOL, rng.randint(2, 4)))
    return [{"Version": "2012-10-17", "Statement": stmts} for stmts in chosen]


Operation = tuple[str, str, Callable[[dict[str, Any]], object]]


def _operations() -> list[Operation]:
    ops: list[Operation] = []
    for bucket in (ALPHA, BETA):
        ops += [
            (
                "s3:PutObject",
                f"arn:aws:s3:::{bucket}/k",
                lambda c, b=bucket: c["s3"].put_object(Bucket=b, Key="k", Body=b"x"),
            ),
            (
                "s3:GetObject",
                f"arn:aws:s3:::{bucket}/k",
                lambda c, b=bucket: c["s3"].get_object(Bucket=b, Key="k"),
            ),
            (
                "s3:ListBucket",
                f"arn:aws:s3:::{bucket}",
                lambda c, b=bucket: c["s3"].list_objects_v2(Bucket=b),
            ),
        ]
    ops += [
        ("iam:ListUsers", "*", lambda c: c["iam"].list_users()),
        ("sqs:ListQueues", "*", lambda c: c["sqs"].list_queues()),
    ]
    return ops


def test_evaluator_agrees_with_moto_enforcement() -> None:
    policies = _policies(36)
    operations = _operations()
    setup_calls = 4 + 3 * len(policies)
    disagreements: list[str] = []
    compared = 0
    outcomes: dict[bool, int] = {True: 0, False: 0}

    @moto.mock_aws
    @set_initial_no_auth_action_count(setup_calls)
    def run() -> None:
        nonlocal compared
        admin_s3 = boto3.client("s3", region_name="us-east-1")
        iam = boto3.client("iam", region_name="us-east-1")
        for bucket in (ALPHA, BETA):
            admin_s3.create_bucket(Bucket=bucket)
            admin_s3.put_object(Bucket=bucket, Key="k", Body=b"seed")
        keys = []
        for n, policy in enumerate(policies):
            iam.create_user(UserName=f"u{n}")
            iam.put_user_policy(UserName=f"u{n}", PolicyName="p", PolicyDocument=json.dumps(policy))
            keys.append(iam.create_access_key(UserName=f"u{n}")["AccessKey"])
        for policy, key in zip(policies, keys, strict=True):
            creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
            clients = {
                name: boto3.client(name, region_name="us-east-1", aws_session_token=None, **creds)
                for name in ("s3", "iam", "sqs")
            }
            ours = PolicySet.of(PolicyDocument.from_json(policy))
            for action, resource, call in operations:
                try:
                    call(clients)
                    moto_allows = True
                except ClientError as exc:
                    code = exc.response["Error"]["Code"]
                    status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
                    assert code in ("AccessDenied", "AccessDeniedException", "403") and status == 403, code
                    moto_allows = False
                compared += 1
                outcomes[moto_allows] += 1
                if ours.allows(action, resource) != moto_allows:
                    disagreements.append(f"{action} {resource} moto={moto_allows} {json.dumps(policy)}")

    run()
    assert compared == len(policies) * len(operations)
    assert disagreements == []
    assert min(outcomes.values()) > 50, outcomes  # both outcomes well represented

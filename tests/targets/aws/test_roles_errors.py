"""CandidateRoles retries what IAM's eventual consistency explains, and nothing else (issue 14, item 4)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError

from iamfit.errors import AwsError
from iamfit.policy.document import PolicyDocument
from iamfit.targets.aws.guard import Operator
from iamfit.targets.aws.names import INLINE_POLICY, Names
from iamfit.targets.aws.roles import CandidateRoles
from tests.targets.aws.conftest import ACCOUNT, FakeClock

POLICY = PolicyDocument.from_json(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}
)


class _Iam:
    """An IAM client whose GetRolePolicy answers from a list: an exception to raise, or a document."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.reads = 0

    def put_role_policy(self, **_: Any) -> None:
        return None

    def get_role_policy(self, RoleName: str, PolicyName: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        assert PolicyName == INLINE_POLICY
        self.reads += 1
        answer = self.answers.pop(0) if self.answers else POLICY.to_json()
        if isinstance(answer, BaseException):
            raise answer
        return {"PolicyDocument": answer}


def _roles(iam: _Iam, clock: FakeClock) -> CandidateRoles:
    operator = Operator(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/op", f"arn:aws:iam::{ACCOUNT}:user/op", "aws")
    names = Names(service="small-svc", source_stage="dev", stage="iamfitr", run_id="r")
    return CandidateRoles(iam=iam, sts=None, names=names, operator=operator, clock=clock, max_tries=5)


def _no_such_entity() -> ClientError:
    return ClientError({"Error": {"Code": "NoSuchEntity", "Message": "not yet"}}, "GetRolePolicy")


def test_a_non_aws_error_in_the_read_back_is_not_retried(clock: FakeClock) -> None:
    # Before: `except Exception` with error_code(exc) == "" retried a TypeError max_tries times, then reported
    # "IAM did not return the new policy", an AWS error that was a bug.
    iam = _Iam([TypeError("a bug, not eventual consistency")])
    with pytest.raises(TypeError, match="a bug"):
        _roles(iam, clock).put_policy("deployer", POLICY)
    assert iam.reads == 1
    assert clock.sleeps == []


def test_no_such_entity_right_after_a_put_is_retried_with_a_warning(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    iam = _Iam([_no_such_entity(), _no_such_entity()])
    with caplog.at_level(logging.INFO, logger="iamfit.targets.aws.roles"):
        _roles(iam, clock).put_policy("deployer", POLICY)
    assert iam.reads == 3
    assert clock.sleeps == [1.0, 1.0]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("NoSuchEntity" in w for w in warnings)
    assert any(r.levelno == logging.INFO and r.getMessage().startswith("iam:PutRolePolicy") for r in caplog.records)


def test_another_aws_error_in_the_read_back_is_an_aws_error(clock: FakeClock) -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no iam:GetRolePolicy"}}, "GetRolePolicy")
    iam = _Iam([denied])
    with pytest.raises(AwsError, match="no iam:GetRolePolicy"):
        _roles(iam, clock).put_policy("deployer", POLICY)
    assert clock.sleeps == []


def test_read_back_gives_up_after_max_tries(clock: FakeClock) -> None:
    iam = _Iam([_no_such_entity() for _ in range(5)])
    with pytest.raises(AwsError, match="after 5 reads"):
        _roles(iam, clock).put_policy("deployer", POLICY)
    assert iam.reads == 5

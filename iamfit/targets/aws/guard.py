"""Safety checks before the AWS target creates anything: the right account, and only iamfit's stacks."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from iamfit.errors import AwsError, SafetyError
from iamfit.knowledge.arn import Arn, is_account_id
from iamfit.targets.aws.calls import AWS_ERRORS, error_code
from iamfit.targets.aws.names import is_managed

logger = logging.getLogger(__name__)

_ASSUMED_ROLE = re.compile(r"assumed-role/(?P<role>[^/]+)/[^/]+")


@dataclass(frozen=True)
class Operator:
    """Who runs iamfit: the account, the caller ARN, and the principal ARN a trust policy can name."""

    account: str
    arn: str
    principal_arn: str
    partition: str


def identify(sts: Any, iam: Any | None = None) -> Operator:
    """The operator from sts:GetCallerIdentity; an assumed-role caller is named by its role's ARN."""
    logger.info("sts:GetCallerIdentity")
    try:
        me = sts.get_caller_identity()
    except AWS_ERRORS as exc:
        raise AwsError(f"sts:GetCallerIdentity failed ({error_code(exc) or type(exc).__name__})") from None
    arn = str(me["Arn"])
    account = str(me["Account"])
    parsed = Arn.parse_or_none(arn)
    partition = parsed.partition if parsed is not None else "aws"
    principal = arn
    sts = parsed if parsed is not None and parsed.service == "sts" and not parsed.region and parsed.account_id else None
    if sts is not None and sts.resource.startswith("user/"):  # emulators spell a user's ARN with sts
        principal = str(sts.with_service("iam"))
    m = _ASSUMED_ROLE.fullmatch(sts.resource) if sts is not None else None
    if sts is not None and m:
        role = m["role"]
        principal = str(Arn(sts.partition, "iam", "", sts.account, f"role/{role}"))
        if iam is not None:  # the role's real ARN, with its path, when the operator may read it
            logger.info("iam:GetRole %s (the operator role's path)", role)
            try:
                principal = str(iam.get_role(RoleName=role)["Role"]["Arn"])
            except AWS_ERRORS as exc:  # not allowed to read it: the path-less ARN works for roles without a path
                reason = error_code(exc) or type(exc).__name__
                logger.debug("iam:GetRole %s failed (%s): using %s", role, reason, principal)
    return Operator(account=account, arn=arn, principal_arn=principal, partition=partition)


def check_account(operator: Operator, account_guard: str | None) -> None:
    """SafetyError unless ``account_guard`` is given and is the operator's account."""
    if not account_guard:
        raise SafetyError("the AWS target needs --account-guard ACCOUNT_ID (the sandbox account iamfit may deploy to)")
    if not is_account_id(account_guard):
        raise SafetyError(f"--account-guard must be a 12-digit account id, got {account_guard!r}")
    if operator.account != account_guard:
        raise SafetyError(
            f"the operator credentials are for account {operator.account}, not the guarded account "
            f"{account_guard}; refusing to create anything"
        )


def describe_stack(cloudformation: Any, stack_name: str, *, evidence: bool = False) -> dict[str, Any] | None:
    """The stack (DescribeStacks entry), or None when it does not exist (or is deleted). Other errors:
    AwsError, or (``evidence=True``, a candidate's call) the botocore error itself, for the output."""
    logger.info("cloudformation:DescribeStacks %s", stack_name)
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except AWS_ERRORS as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            return None
        if evidence:
            raise
        raise AwsError(f"cloudformation:DescribeStacks {stack_name} failed: {exc}") from None
    for stack in stacks:
        if stack.get("StackStatus") != "DELETE_COMPLETE":
            return dict(stack)
    return None


def check_stack_owned(stack: dict[str, Any] | None, stack_name: str) -> None:
    """SafetyError when a stack of this name exists and iamfit did not create it."""
    if stack is not None and not is_managed(stack.get("Tags")):
        raise SafetyError(
            f"stack {stack_name} exists and is not tagged iamfit:managed=true; iamfit touches only stacks it created"
        )

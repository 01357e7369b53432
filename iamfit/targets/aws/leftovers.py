"""What earlier runs left in an account, found by iamfit's tags, and deleting it (``iamfit cleanup``).

Found: stacks tagged ``iamfit:managed=true`` (or, for stacks the Serverless CLI made in a discovery stage,
a ``STAGE`` tag starting with ``iamfit``), roles named ``iamfit-*`` tagged ``iamfit:managed=true``, and
customer managed policies named ``iamfit-*`` with the same tag -- except the permissions boundary
``iamfit-boundary``, which is kept (:mod:`iamfit.targets.aws.boundary`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from iamfit.targets.aws.boundary import BOUNDARY_NAME
from iamfit.targets.aws.calls import AWS_ERRORS, Clock, error_message
from iamfit.targets.aws.names import ROLE_PREFIX, TAG_RUN, is_managed, tags_of
from iamfit.targets.aws.roles import delete_managed_policy, delete_role
from iamfit.targets.aws.stack import empty_prefix

logger = logging.getLogger(__name__)

LIVE_STATUSES = [
    "CREATE_IN_PROGRESS",
    "CREATE_FAILED",
    "CREATE_COMPLETE",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_FAILED",
    "ROLLBACK_COMPLETE",
    "DELETE_IN_PROGRESS",
    "DELETE_FAILED",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_COMPLETE",
    "UPDATE_FAILED",
    "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE",
]


@dataclass(frozen=True, order=True)
class Leftover:
    kind: str  # "stack", "role" or "policy"
    name: str
    run: str
    arn: str = ""

    def describe(self) -> str:
        return f"{self.kind} {self.name} (run {self.run or '?'})"


def _is_iamfit_stack(tags: object) -> bool:
    return is_managed(tags) or tags_of(tags).get("STAGE", "").startswith("iamfit")


def find_leftovers(cloudformation: Any, iam: Any) -> list[Leftover]:
    found: list[Leftover] = []
    logger.info("cloudformation:ListStacks, iam:ListRoles, iam:ListPolicies: looking for what iamfit left")
    for page in cloudformation.get_paginator("list_stacks").paginate(StackStatusFilter=LIVE_STATUSES):
        for summary in page.get("StackSummaries", []):
            stacks = cloudformation.describe_stacks(StackName=summary["StackId"]).get("Stacks", [])
            for stack in stacks:
                if _is_iamfit_stack(stack.get("Tags")):
                    run = tags_of(stack.get("Tags")).get(TAG_RUN, "")
                    found.append(Leftover("stack", str(stack["StackName"]), run, str(stack["StackId"])))
    for page in iam.get_paginator("list_roles").paginate():
        for role in page.get("Roles", []):
            if not str(role["RoleName"]).startswith(ROLE_PREFIX):
                continue
            tags = iam.list_role_tags(RoleName=role["RoleName"]).get("Tags", [])
            if is_managed(tags):
                found.append(Leftover("role", str(role["RoleName"]), tags_of(tags).get(TAG_RUN, ""), str(role["Arn"])))
    for page in iam.get_paginator("list_policies").paginate(Scope="Local"):
        for policy in page.get("Policies", []):
            if not str(policy["PolicyName"]).startswith(ROLE_PREFIX) or policy["PolicyName"] == BOUNDARY_NAME:
                continue  # the boundary stays: an operator that could delete it could re-create it otherwise
            tags = iam.list_policy_tags(PolicyArn=policy["Arn"]).get("Tags", [])
            if is_managed(tags):
                run = tags_of(tags).get(TAG_RUN, "")
                found.append(Leftover("policy", str(policy["PolicyName"]), run, str(policy["Arn"])))
    order = {"stack": 0, "role": 1, "policy": 2}
    return sorted(found, key=lambda item: (order[item.kind], item.name))


def delete_leftovers(
    leftovers: list[Leftover],
    cloudformation: Any,
    iam: Any,
    s3: Any,
    clock: Clock | None = None,
    timeout_seconds: float = 1800.0,
) -> tuple[list[str], list[str]]:
    """Delete stacks (after emptying their deployment bucket), then roles, then policies.
    Returns (deleted, problems)."""
    clock = clock or Clock()
    deleted: list[str] = []
    problems: list[str] = []
    for item in leftovers:
        try:
            if item.kind == "stack":
                _delete_stack(item, cloudformation, s3, clock, timeout_seconds)
            elif item.kind == "role":
                delete_role(iam, item.name)
            else:
                delete_managed_policy(iam, item.arn)
            deleted.append(item.describe())
        except Exception as exc:  # noqa: BLE001 - cleanup goes on with the rest whatever failed; recorded
            logger.info("deleting %s failed: %s", item.describe(), error_message(exc))
            problems.append(f"{item.describe()}: {error_message(exc)}")
    return deleted, problems


def _delete_stack(item: Leftover, cloudformation: Any, s3: Any, clock: Clock, timeout: float) -> None:
    try:
        detail = cloudformation.describe_stack_resource(
            StackName=item.arn, LogicalResourceId="ServerlessDeploymentBucket"
        )["StackResourceDetail"]
        empty_prefix(s3, str(detail["PhysicalResourceId"]), "")
    except AWS_ERRORS as exc:  # no deployment bucket (or already gone)
        logger.info("%s: no deployment bucket to empty (%s)", item.name, error_message(exc))
    logger.info("cloudformation:DeleteStack %s", item.arn)
    cloudformation.delete_stack(StackName=item.arn)
    # polled by hand rather than with the stack_delete_complete waiter: the waiter sleeps with time.sleep
    # (bypassing the injected Clock the tests replace), waits on through ROLLBACK_COMPLETE and the like, and
    # words its failure differently from the problem line cleanup prints
    deadline = clock.monotonic() + timeout
    while True:
        stack = cloudformation.describe_stacks(StackName=item.arn)["Stacks"][0]
        status = str(stack["StackStatus"])
        if status == "DELETE_COMPLETE":
            return
        if not status.endswith("_IN_PROGRESS"):
            raise RuntimeError(f"stack ended {status}: {stack.get('StackStatusReason', '')}")
        if clock.monotonic() >= deadline:
            raise RuntimeError(f"stack still {status} after {timeout:.0f}s")
        clock.sleep(5.0)

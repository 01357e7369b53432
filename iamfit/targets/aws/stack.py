"""The built-in deployer: what ``serverless deploy`` / ``remove`` do, done with boto3 and full control.

Deploy (with the candidate deployer's credentials, as the Framework would): create the core stack (the
deployment bucket) if there is none, upload the ``.serverless/`` artifacts under a fresh artifact
directory of the discovery stage, then update the stack to the full template read from S3 (TemplateURL)
-- through a change set (the Framework's default) or UpdateStack (``deploymentMethod: direct``), always
with ``DisableRollback=True`` so a failed attempt leaves the stack CREATE_FAILED/UPDATE_FAILED and the next
attempt resumes it (Retry). Remove: empty the stage's artifacts, DeleteStack.

Before an attempt, :meth:`StackDeployer.recover` (operator credentials) brings a stuck stack back to a
state an attempt can start from: ROLLBACK_COMPLETE -> delete and recreate; UPDATE_ROLLBACK_FAILED ->
ContinueUpdateRollback (skipping resources only with explicit consent); DELETE_FAILED -> delete again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped,unused-ignore]

from iamfit.errors import AwsError, BadInputError
from iamfit.files import read_bytes
from iamfit.service.model import UPDATE_TEMPLATE, Service
from iamfit.targets.aws.boundary import add_boundary
from iamfit.targets.aws.calls import Clock, error_code, error_message
from iamfit.targets.aws.guard import describe_stack
from iamfit.targets.aws.names import Names

logger = logging.getLogger(__name__)

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
COMPILED_TEMPLATE = "compiled-cloudformation-template.json"
SUCCESS = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"})
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed", "No changes")


@dataclass
class Outcome:
    """What one deploy or remove did: its log (the built-in deployer's "CLI output") and result."""

    succeeded: bool = False
    reached_stack: bool = False
    stack_status: str | None = None
    lines: list[str] = field(default_factory=list)

    def log(self, line: str) -> None:
        self.lines.append(line)

    @property
    def output(self) -> str:
        return "\n".join(self.lines) + ("\n" if self.lines else "")


def package_dir(service: Service) -> Path:
    source = service.source
    if source is None:
        raise BadInputError("the service has no package directory; the AWS target needs the .serverless/ artifacts")
    for candidate in (source / ".serverless", source):
        if (candidate / UPDATE_TEMPLATE).exists():
            return candidate
    raise BadInputError(f"{source}: no .serverless/{UPDATE_TEMPLATE} to deploy")


def rewrite_for_stage(
    template: dict[str, Any], service: Service, names: Names, artifact_dir: str, boundary_arn: str | None = None
) -> dict[str, Any]:
    """The template moved to the discovery stage: artifact keys and ``<service>-<stage>`` names; with
    ``boundary_arn``, every IAM role and user it creates bounded by it (:func:`boundary.add_boundary`)."""
    text = json.dumps(template)
    if service.artifact_dir and artifact_dir:
        text = text.replace(service.artifact_dir, artifact_dir)
    text = text.replace(f"{service.name}-{service.stage}", f"{service.name}-{names.stage}")
    moved: dict[str, Any] = json.loads(text)
    return add_boundary(moved, boundary_arn) if boundary_arn else moved


def template_url(bucket: str, key: str, region: str) -> str:
    host = "s3.amazonaws.com" if region == "us-east-1" else f"s3.{region}.amazonaws.com"
    return f"https://{host}/{bucket}/{key}"


@dataclass
class StackDeployer:
    service: Service
    names: Names
    clock: Clock = field(default_factory=Clock)
    skip_failed_rollback_resources: bool = False
    poll_seconds: float = 5.0
    timeout_seconds: float = 3600.0
    bucket: str | None = None
    uploaded_dirs: list[str] = field(default_factory=list)
    boundary_arn: str | None = None  # every IAM role and user of the discovery stack gets it (boundary.py)

    @property
    def stack_name(self) -> str:
        return self.names.stack_name

    @property
    def change_set_name(self) -> str:
        return f"{self.stack_name}-change-set"

    # --- waiting ---------------------------------------------------------------------------------------
    def wait(self, cloudformation: Any, *, evidence: bool = False) -> str | None:
        """Poll until the stack leaves *_IN_PROGRESS; its final status (None: gone).

        By hand, not with a botocore waiter: a waiter sleeps with ``time.sleep`` (the injected Clock, and so the
        tests' fake clock, would be bypassed) and keeps polling on statuses this loop returns at once."""
        deadline = self.clock.monotonic() + self.timeout_seconds
        while True:
            stack = describe_stack(cloudformation, self.stack_name, evidence=evidence)
            status = None if stack is None else str(stack["StackStatus"])
            if status is None or not status.endswith("_IN_PROGRESS"):
                return status
            if self.clock.monotonic() >= deadline:
                raise AwsError(f"stack {self.stack_name} still {status} after {self.timeout_seconds:.0f}s")
            self.clock.sleep(self.poll_seconds)

    # --- recovery (operator credentials) ----------------------------------------------------------------
    def recover(self, cloudformation: Any) -> tuple[str | None, list[str]]:
        """Bring the stack to a state an attempt can start from. Returns (status, log lines)."""
        log: list[str] = []
        status = self.wait(cloudformation)
        if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"):
            log.append(f"iamfit: stack {self.stack_name} is {status}: deleting it to recreate it")
            self.delete(cloudformation, log)
            status = self.wait(cloudformation)
            if status is not None:
                raise AwsError(f"stack {self.stack_name} could not be deleted (status {status})")
        if status == "UPDATE_ROLLBACK_FAILED":
            status = self.continue_rollback(cloudformation, log)
        return status, log

    def continue_rollback(self, cloudformation: Any, log: list[str]) -> str | None:
        log.append(f"iamfit: stack {self.stack_name} is UPDATE_ROLLBACK_FAILED: ContinueUpdateRollback")
        logger.info("cloudformation:ContinueUpdateRollback %s", self.stack_name)
        cloudformation.continue_update_rollback(StackName=self.stack_name)
        status = self.wait(cloudformation)
        if status != "UPDATE_ROLLBACK_FAILED":
            return status
        failed = self._rollback_failed_resources(cloudformation)
        if not self.skip_failed_rollback_resources:
            raise AwsError(
                f"stack {self.stack_name} stays UPDATE_ROLLBACK_FAILED (resources {', '.join(failed) or '?'} "
                "cannot be rolled back); rerun with --skip-failed-rollback-resources to skip them, or fix them by hand"
            )
        log.append(f"iamfit: ContinueUpdateRollback skipping {', '.join(failed)} (consent given)")
        cloudformation.continue_update_rollback(StackName=self.stack_name, ResourcesToSkip=failed)
        return self.wait(cloudformation)

    def _rollback_failed_resources(self, cloudformation: Any) -> list[str]:
        resources = cloudformation.describe_stack_resources(StackName=self.stack_name).get("StackResources", [])
        return sorted(r.get("LogicalResourceId", "?") for r in resources if r.get("ResourceStatus") == "UPDATE_FAILED")

    def delete(self, cloudformation: Any, log: list[str]) -> None:
        """DeleteStack with the operator's credentials (a DELETE_FAILED stack: the resources the candidate
        role could not delete are retried with the operator's permissions)."""
        if describe_stack(cloudformation, self.stack_name) is not None:
            logger.info("cloudformation:DeleteStack %s (operator credentials)", self.stack_name)
            cloudformation.delete_stack(StackName=self.stack_name)

    # --- deploy (candidate credentials) -----------------------------------------------------------------
    def deploy(
        self,
        cloudformation: Any,
        s3: Any,
        source: Service,
        *,
        role_arn: str | None,
        outcome: Outcome,
    ) -> None:
        """Deploy ``source`` (the service, or its update variant) to the discovery stage."""
        try:
            stack = describe_stack(cloudformation, self.stack_name, evidence=True)
            status = None if stack is None else str(stack["StackStatus"])
            if status is None or status == "CREATE_FAILED":
                outcome.log(f"iamfit: {'creating' if status is None else 'retrying'} core stack {self.stack_name}")
                core = rewrite_for_stage(self.service.core_template, self.service, self.names, "", self.boundary_arn)
                status = self._submit(cloudformation, core, role_arn, outcome, create=status is None)
                outcome.stack_status = status
                if status not in SUCCESS:
                    outcome.log(f"iamfit: core stack ended {status}")
                    return
            bucket = self._bucket(cloudformation)
            artifact_dir = self._upload(s3, bucket, source, outcome)
            outcome.log(f"iamfit: updating stack {self.stack_name} from {artifact_dir}/{COMPILED_TEMPLATE}")
            url = template_url(bucket, f"{artifact_dir}/{COMPILED_TEMPLATE}", self.service.region)
            status = self._submit(cloudformation, None, role_arn, outcome, create=False, url=url)
            outcome.stack_status = status
            outcome.succeeded = status in SUCCESS
            outcome.log(f"iamfit: stack {self.stack_name} is {status}")
        except ClientError as exc:  # an API error of the deployer's own calls: evidence, as the CLI prints it
            if not error_code(exc):
                raise
            logger.info("the deploy's own call failed: %s", exc)
            outcome.log(f"Error: {exc}")

    def _submit(
        self,
        cloudformation: Any,
        body: dict[str, Any] | None,
        role_arn: str | None,
        outcome: Outcome,
        *,
        create: bool,
        url: str | None = None,
    ) -> str | None:
        source: dict[str, Any] = {"TemplateURL": url} if url else {"TemplateBody": json.dumps(body)}
        common: dict[str, Any] = {
            "StackName": self.stack_name,
            "Capabilities": CAPABILITIES,
            "Tags": [{"Key": "STAGE", "Value": self.names.stage}, *self.names.tags()],
            **source,
        }
        if role_arn:
            common["RoleARN"] = role_arn
        if self.service.deployment_method == "direct":
            logger.info("cloudformation:%s %s", "CreateStack" if create else "UpdateStack", self.stack_name)
            try:
                if create:
                    cloudformation.create_stack(DisableRollback=True, **common)
                else:
                    cloudformation.update_stack(DisableRollback=True, **common)
                outcome.reached_stack = True
            except ClientError as exc:
                if error_code(exc) == "ValidationError" and any(s in error_message(exc) for s in _NO_CHANGES):
                    return str(describe_stack(cloudformation, self.stack_name)["StackStatus"])  # type: ignore[index]
                raise
            return self.wait(cloudformation, evidence=True)
        if not create:  # an earlier attempt's change set of the same name goes first
            listed = cloudformation.list_change_sets(StackName=self.stack_name).get("Summaries", [])
            if any(c.get("ChangeSetName") == self.change_set_name for c in listed):
                cloudformation.delete_change_set(StackName=self.stack_name, ChangeSetName=self.change_set_name)
        logger.info("cloudformation:CreateChangeSet %s %s", self.stack_name, self.change_set_name)
        cloudformation.create_change_set(
            ChangeSetName=self.change_set_name, ChangeSetType="CREATE" if create else "UPDATE", **common
        )
        deadline = self.clock.monotonic() + self.timeout_seconds
        while True:
            change = cloudformation.describe_change_set(StackName=self.stack_name, ChangeSetName=self.change_set_name)
            state = change.get("Status")
            if state == "CREATE_COMPLETE":
                break
            if state == "FAILED":
                reason = str(change.get("StatusReason", ""))
                if any(s in reason for s in _NO_CHANGES):
                    cloudformation.delete_change_set(StackName=self.stack_name, ChangeSetName=self.change_set_name)
                    return str(describe_stack(cloudformation, self.stack_name)["StackStatus"])  # type: ignore[index]
                raise AwsError(f"change set for {self.stack_name} failed: {reason}")
            if self.clock.monotonic() >= deadline:
                raise AwsError(f"change set for {self.stack_name} still {state} after {self.timeout_seconds:.0f}s")
            self.clock.sleep(self.poll_seconds)
        logger.info("cloudformation:ExecuteChangeSet %s %s", self.stack_name, self.change_set_name)
        cloudformation.execute_change_set(
            StackName=self.stack_name, ChangeSetName=self.change_set_name, DisableRollback=True
        )
        outcome.reached_stack = True
        return self.wait(cloudformation, evidence=True)

    def _bucket(self, cloudformation: Any) -> str:
        if self.service.custom_bucket:
            self.bucket = self.service.custom_bucket
            return self.bucket
        resource = cloudformation.describe_stack_resource(
            StackName=self.stack_name, LogicalResourceId="ServerlessDeploymentBucket"
        )["StackResourceDetail"]
        self.bucket = str(resource["PhysicalResourceId"])
        return self.bucket

    def _upload(self, s3: Any, bucket: str, source: Service, outcome: Outcome) -> str:
        now = self.clock.now()
        stamp = f"{int(now.timestamp() * 1000)}-{now.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z"
        artifact_dir = f"{self.names.artifact_prefix}/{stamp}"
        s3.list_objects_v2(Bucket=bucket, Prefix=self.names.artifact_prefix)
        moved = rewrite_for_stage(source.template, source, self.names, artifact_dir, self.boundary_arn)
        package = package_dir(self.service)
        self.uploaded_dirs.append(artifact_dir)
        for path in sorted(package.glob("*.zip")):
            outcome.log(f"iamfit: uploading {path.name} to s3://{bucket}/{artifact_dir}/")
            body = read_bytes(path, "deployment artifact")
            logger.info("s3:PutObject s3://%s/%s/%s (%d bytes)", bucket, artifact_dir, path.name, len(body))
            s3.put_object(Bucket=bucket, Key=f"{artifact_dir}/{path.name}", Body=body)
        logger.info("s3:PutObject s3://%s/%s/%s", bucket, artifact_dir, COMPILED_TEMPLATE)
        s3.put_object(
            Bucket=bucket,
            Key=f"{artifact_dir}/{COMPILED_TEMPLATE}",
            Body=json.dumps(moved).encode(),
            ContentType="application/json",
        )
        return artifact_dir

    # --- remove (candidate credentials) -----------------------------------------------------------------
    def remove(self, cloudformation: Any, s3: Any, outcome: Outcome) -> None:
        try:
            stack = describe_stack(cloudformation, self.stack_name, evidence=True)
            if stack is None:
                outcome.log(f"iamfit: stack {self.stack_name} does not exist")
                outcome.succeeded = True
                return
            bucket = self.bucket or self._bucket(cloudformation)
            empty_prefix(s3, bucket, self.names.artifact_prefix + "/")
            outcome.log(f"iamfit: deleting stack {self.stack_name}")
            logger.info("cloudformation:DeleteStack %s", self.stack_name)
            cloudformation.delete_stack(StackName=self.stack_name)
            outcome.reached_stack = True
            status = self.wait(cloudformation, evidence=True)
            outcome.stack_status = status
            outcome.succeeded = status is None or status == "DELETE_COMPLETE"
            if outcome.succeeded:
                outcome.stack_status = None
        except ClientError as exc:
            if not error_code(exc):
                raise
            logger.info("the remove's own call failed: %s", exc)
            outcome.log(f"Error: {exc}")


def empty_prefix(s3: Any, bucket: str, prefix: str) -> int:
    """Delete every object (and version) under ``prefix``; returns how many were deleted."""
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            logger.info("s3:DeleteObjects s3://%s/%s (%d objects)", bucket, prefix, len(keys))
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted

"""Names and tags of everything the AWS target creates, derived from the service and the run id.

Discovery runs in its own stage (``iamfit<run>``), so its stack, functions, queues and buckets never share
a name with a stage people use. Every role, managed policy and stack carries ``iamfit:managed=true`` and
``iamfit:run=<run id>``; ``iamfit cleanup`` finds leftovers by these tags.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from iamfit.errors import UsageError

TAG_MANAGED = "iamfit:managed"
TAG_RUN = "iamfit:run"
ROLE_PREFIX = "iamfit-"
INLINE_POLICY = "iamfit-attempt"
PURPOSES = ("deployer", "cfn")
_ROLE_NAME_MAX = 64
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")


def discovery_stage(run_id: str) -> str:
    """``iamfit`` + the run id's letters and digits (lowercase); a longer id than 10 of them becomes its
    first 4 and 6 hex digits of its hash, so two runs never share a stage."""
    cleaned = re.sub(r"[^a-z0-9]", "", run_id.lower())
    if not cleaned:
        raise UsageError(f"run id {run_id!r} has no letters or digits")
    if len(cleaned) > 10:
        cleaned = cleaned[:4] + hashlib.sha256(run_id.encode()).hexdigest()[:6]
    return "iamfit" + cleaned


def _bounded(name: str, limit: int) -> str:
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return name[: limit - 9] + "-" + digest


def check_session_name(session_name: str) -> str:
    if not _SESSION_NAME.match(session_name):
        raise UsageError(f"role session name {session_name!r} must be 2-64 characters of letters, digits and +=,.@_-")
    return session_name


@dataclass(frozen=True)
class Names:
    service: str
    source_stage: str
    stage: str
    run_id: str
    deployment_prefix: str = "serverless"

    @property
    def stack_name(self) -> str:
        return f"{self.service}-{self.stage}"

    def role_name(self, purpose: str) -> str:
        return _bounded(f"{ROLE_PREFIX}{self.service}-{self.stage}-{purpose}", _ROLE_NAME_MAX)

    def managed_policy_name(self, purpose: str, index: int) -> str:
        return _bounded(f"{ROLE_PREFIX}{self.service}-{self.stage}-{purpose}-{index}", 128)

    @property
    def artifact_prefix(self) -> str:
        """Where this stage's artifacts live in the deployment bucket (``serverless/<svc>/<stage>``)."""
        return f"{self.deployment_prefix}/{self.service}/{self.stage}"

    def tags(self) -> list[dict[str, str]]:
        return [{"Key": TAG_MANAGED, "Value": "true"}, {"Key": TAG_RUN, "Value": self.run_id}]


def tags_of(tag_list: object) -> dict[str, str]:
    """``[{"Key": k, "Value": v}, ...]`` as a dict (anything else: empty)."""
    if not isinstance(tag_list, list):
        return {}
    return {str(t["Key"]): str(t.get("Value", "")) for t in tag_list if isinstance(t, dict) and "Key" in t}


def is_managed(tag_list: object) -> bool:
    return tags_of(tag_list).get(TAG_MANAGED) == "true"

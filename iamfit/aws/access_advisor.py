"""IAM Access Advisor: action-level last-accessed data of a role, through an injected IAM client.

AWS tracks action-level data for a subset of services (S3, EC2, IAM, Lambda and more); for the others it
reports service-level data only, which iamfit does not turn into action usage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from iamfit.errors import AwsError


def last_accessed_actions(
    iam: Any,
    arn: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = 1.0,
    max_polls: int = 120,
) -> dict[str, str | None]:
    """``service:Action`` → last access time (ISO 8601) or None when tracked and never used."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        job = iam.generate_service_last_accessed_details(Arn=arn, Granularity="ACTION_LEVEL")["JobId"]
        for _ in range(max_polls):
            page = iam.get_service_last_accessed_details(JobId=job)
            status = page["JobStatus"]
            if status == "FAILED":
                raise AwsError(f"Access Advisor job for {arn} failed: {page.get('Error', {}).get('Message', '')}")
            if status == "COMPLETED":
                break
            sleep(poll_seconds)
        else:
            raise AwsError(f"Access Advisor job for {arn} did not complete after {max_polls} polls")
        out: dict[str, str | None] = {}
        while True:
            for service in page.get("ServicesLastAccessed", []):
                namespace = service.get("ServiceNamespace", "")
                for tracked in service.get("TrackedActionsLastAccessed", []) or []:
                    when = tracked.get("LastAccessedTime")
                    out[f"{namespace}:{tracked['ActionName']}"] = when.isoformat() if hasattr(when, "isoformat") \
                        else (str(when) if when else None)
            if not page.get("IsTruncated"):
                return out
            page = iam.get_service_last_accessed_details(JobId=job, Marker=page["Marker"])
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise AwsError(f"iam Access Advisor: {err.get('Code', 'error')}: {err.get('Message', '')}") from None
    except BotoCoreError as exc:
        raise AwsError(f"iam Access Advisor: {exc}") from None

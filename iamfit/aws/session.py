"""The operator's AWS session: ``--profile`` / ``--region`` / ``--endpoint-url`` as the AWS CLI spells them.

Every command that talks to AWS builds its session here, so an endpoint (LocalStack, a moto server) applies
to every client the session makes. Credentials for a candidate role (from sts:AssumeRole) become a second
:class:`AwsSession` with the same region and endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from iamfit.errors import UsageError

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    @classmethod
    def from_sts(cls, response: Mapping[str, Any]) -> Credentials:
        creds = response["Credentials"]
        return cls(creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("SessionToken"))

    def environment(self) -> dict[str, str]:
        """The variables the AWS SDKs (and so the Serverless Framework) read credentials from."""
        env = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env


@dataclass(frozen=True)
class AwsSession:
    """A boto3 Session plus the endpoint every client it makes should use (None: AWS's own)."""

    boto: Any = field(repr=False)
    region: str
    endpoint_url: str | None = None

    def client(self, service: str) -> Any:
        kwargs: dict[str, Any] = {"region_name": self.region}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return self.boto.client(service, **kwargs)

    def with_credentials(self, credentials: Credentials) -> AwsSession:
        """A session with the same region and endpoint acting with other credentials (an assumed role)."""
        import boto3

        boto = boto3.session.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            region_name=self.region,
        )
        return AwsSession(boto, self.region, self.endpoint_url)

    def environment(self) -> dict[str, str]:
        """Region and endpoint variables for a child process (the Framework CLI, the AWS CLI)."""
        env = {"AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return env


def operator_session(
    *, profile: str | None = None, region: str | None = None, endpoint_url: str | None = None
) -> AwsSession:
    """The operator's session from a named profile (or the default chain), a region and an endpoint."""
    import boto3
    import botocore.exceptions

    if endpoint_url is not None and not endpoint_url.startswith(("http://", "https://")):
        raise UsageError(f"--endpoint-url must start with http:// or https://, got {endpoint_url!r}")
    try:
        boto = boto3.session.Session(profile_name=profile, region_name=region)
    except botocore.exceptions.ProfileNotFound:
        raise UsageError(f"--profile {profile}: no such profile in the AWS config files") from None
    the_region = region or boto.region_name or DEFAULT_REGION
    return AwsSession(boto, the_region, endpoint_url)

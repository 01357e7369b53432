"""The same discovery run against the sandbox and against the AWS adapter (on moto, CloudTrail from recorded
LookupEvents responses) yields the same verified policy."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from iamfit.aws.session import AwsSession
from iamfit.discover import discover
from iamfit.journal import Journal
from iamfit.service.model import Service
from iamfit.targets.aws.target import make_aws_target
from iamfit.targets.sandbox import SandboxTarget
from tests.targets.aws.conftest import ACCOUNT, FakeClock, moto_variant


def _recorded_lookup(session_names: list[str]) -> tuple[Any, Stubber]:
    """LookupEvents answers as CloudTrail gives them: the attempt's successful CreateChangeSet record."""
    client = boto3.client("cloudtrail", region_name="us-east-1")
    stub = Stubber(client)
    for name in session_names:
        record = {
            "eventVersion": "1.09",
            "userIdentity": {"type": "AssumedRole", "accountId": ACCOUNT,
                             "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/iamfit-deployer/{name}"},
            "eventTime": "2026-11-26T10:00:00Z", "eventSource": "cloudformation.amazonaws.com",
            "eventName": "CreateChangeSet", "awsRegion": "us-east-1", "eventID": name,
        }
        stub.add_response(
            "lookup_events",
            {"Events": [{"EventId": name, "CloudTrailEvent": json.dumps(record)}]},
            {"LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": name}], "MaxResults": 50,
             "StartTime": ANY},
        )
    stub.activate()
    return client, stub


def test_sandbox_and_aws_adapter_verify_the_same_policy(
    sqs_worker: Service, session: AwsSession, clock: FakeClock, tmp_path: Path
) -> None:
    service = dataclasses.replace(sqs_worker, account=ACCOUNT, warnings=[])
    on_sandbox = discover(service, SandboxTarget(service, seed="same"), Journal.create(tmp_path / "s"))

    journal = Journal.create(tmp_path / "a", "20261126T100000-abcdef")
    target = make_aws_target(service, session=session, account_guard=ACCOUNT, run_id=journal.run_id,
                             settle_seconds=0, propagation_seconds=0, poll_seconds=1, clock=clock,
                             variant=moto_variant)
    names = [f"iamfit-{journal.run_id}-d{phase}1" for phase in "cur"]
    target.harvester.cloudtrail, stub = _recorded_lookup(names)
    on_aws = discover(service, target, journal)

    assert on_sandbox.verified and on_aws.verified, (on_sandbox.stop, on_aws.stop)
    assert [a.session_name for a in on_aws.attempts] == names
    assert {p: d.dumps() for p, d in on_aws.policies.items()} == {p: d.dumps() for p, d in on_sandbox.policies.items()}
    iam = session.client("iam")
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("iamfit-")], "roles left behind"

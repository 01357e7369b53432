"""Make N realistic CloudTrail records as gzipped files in the S3 trail layout (deterministic per seed).

    python benchmarks/make_cloudtrail.py OUT_DIR --records 200000 [--seed 7] [--per-file 500] [--jobs 2]

Writes ``OUT_DIR/AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<account>_CloudTrail_<region>_
<yyyymmddThhmmZ>_<id>.json.gz`` files, each ``{"Records": [...]}``, the way CloudTrail delivers them.
The mix: a deploy role's sessions (calls made directly and calls CloudFormation made on its behalf, with
``invokedBy``), a CloudFormation service role, IAM users, Lambda execution roles doing data-plane work,
AWS services; many event sources; about 2 % access denials with AWS's real errorMessage wording; five
regions, seven days. The deploy role's ARN is printed last, for ``--principal``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
REGIONS = ("us-east-1", "us-east-1", "us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2", "eu-central-1")
START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 7
DEPLOY_ROLE = f"arn:aws:iam::{ACCOUNT}:role/serverless-deploy"
CFN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/cfn-exec"

# (eventSource, eventName, readOnly, a request-parameter maker key)
DEPLOYER_CALLS = (
    ("cloudformation.amazonaws.com", "DescribeStacks", True, "stack"),
    ("cloudformation.amazonaws.com", "CreateChangeSet", False, "stack"),
    ("cloudformation.amazonaws.com", "ExecuteChangeSet", False, "stack"),
    ("cloudformation.amazonaws.com", "DescribeStackEvents", True, "stack"),
    ("cloudformation.amazonaws.com", "ValidateTemplate", True, "none"),
    ("cloudformation.amazonaws.com", "GetTemplate", True, "stack"),
    ("cloudformation.amazonaws.com", "DescribeStackResource", True, "stack"),
    ("s3.amazonaws.com", "ListObjectsV2", True, "bucket"),
    ("s3.amazonaws.com", "GetBucketLocation", True, "bucket"),
    ("s3.amazonaws.com", "PutObject", False, "object"),
    ("s3.amazonaws.com", "HeadObject", True, "object"),
    ("lambda.amazonaws.com", "GetFunction", True, "function"),
    ("lambda.amazonaws.com", "ListVersionsByFunction20150331", True, "function"),
    ("sts.amazonaws.com", "GetCallerIdentity", True, "none"),
    ("logs.amazonaws.com", "FilterLogEvents", True, "loggroup"),
    ("apigateway.amazonaws.com", "GetRestApis", True, "none"),
)
CFN_CALLS = (
    ("lambda.amazonaws.com", "CreateFunction20150331", False, "function"),
    ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", False, "function"),
    ("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", False, "function"),
    ("lambda.amazonaws.com", "AddPermission20150331v2", False, "function"),
    ("lambda.amazonaws.com", "PublishVersion20150331", False, "function"),
    ("lambda.amazonaws.com", "TagResource20170331v2", False, "function"),
    ("iam.amazonaws.com", "CreateRole", False, "role"),
    ("iam.amazonaws.com", "PutRolePolicy", False, "role"),
    ("iam.amazonaws.com", "GetRole", True, "role"),
    ("iam.amazonaws.com", "DeleteRolePolicy", False, "role"),
    ("logs.amazonaws.com", "CreateLogGroup", False, "loggroup"),
    ("logs.amazonaws.com", "PutRetentionPolicy", False, "loggroup"),
    ("logs.amazonaws.com", "DescribeLogGroups", True, "none"),
    ("s3.amazonaws.com", "CreateBucket", False, "bucket"),
    ("s3.amazonaws.com", "PutBucketEncryption", False, "bucket"),
    ("s3.amazonaws.com", "PutBucketPolicy", False, "bucket"),
    ("s3.amazonaws.com", "PutBucketPublicAccessBlock", False, "bucket"),
    ("apigateway.amazonaws.com", "CreateRestApi", False, "none"),
    ("apigateway.amazonaws.com", "CreateResource", False, "none"),
    ("apigateway.amazonaws.com", "PutMethod", False, "none"),
    ("apigateway.amazonaws.com", "CreateDeployment", False, "none"),
    ("dynamodb.amazonaws.com", "CreateTable", False, "table"),
    ("dynamodb.amazonaws.com", "DescribeTable", True, "table"),
    ("sqs.amazonaws.com", "CreateQueue", False, "queue"),
    ("sqs.amazonaws.com", "GetQueueAttributes", True, "queue"),
    ("sqs.amazonaws.com", "SetQueueAttributes", False, "queue"),
    ("events.amazonaws.com", "PutRule", False, "rule"),
    ("events.amazonaws.com", "DescribeRule", True, "rule"),
    ("kms.amazonaws.com", "CreateKey", False, "none"),
    ("kms.amazonaws.com", "DescribeKey", True, "key"),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", True, "none"),
    ("ec2.amazonaws.com", "CreateNetworkInterface", False, "none"),
    ("ssm.amazonaws.com", "GetParameters", True, "parameter"),
)
WORKLOAD_CALLS = (
    ("dynamodb.amazonaws.com", "DescribeTable", True, "table"),
    ("kms.amazonaws.com", "Decrypt", True, "key"),
    ("kms.amazonaws.com", "GenerateDataKey", True, "key"),
    ("sqs.amazonaws.com", "GetQueueUrl", True, "queue"),
    ("ssm.amazonaws.com", "GetParameter", True, "parameter"),
    ("secretsmanager.amazonaws.com", "GetSecretValue", True, "none"),
    ("sts.amazonaws.com", "AssumeRole", False, "none"),
    ("xray.amazonaws.com", "PutTraceSegments", False, "none"),
    ("monitoring.amazonaws.com", "PutMetricData", False, "none"),
    ("logs.amazonaws.com", "CreateLogStream", False, "loggroup"),
)
USER_CALLS = (
    ("iam.amazonaws.com", "ListRoles", True, "none"),
    ("iam.amazonaws.com", "GetAccountAuthorizationDetails", True, "none"),
    ("ec2.amazonaws.com", "DescribeInstances", True, "none"),
    ("ec2.amazonaws.com", "DescribeVpcs", True, "none"),
    ("s3.amazonaws.com", "ListBuckets", True, "none"),
    ("cloudtrail.amazonaws.com", "LookupEvents", True, "none"),
    ("signin.amazonaws.com", "ConsoleLogin", False, "none"),
    ("organizations.amazonaws.com", "DescribeOrganization", True, "none"),
    ("ecr.amazonaws.com", "GetAuthorizationToken", True, "none"),
    ("ecr.amazonaws.com", "BatchGetImage", True, "none"),
)
KEY_IDS = tuple(f"{n:08x}-1111-2222-3333-4444abcd{n:04x}" for n in range(4))
USERS = ("alice", "bob", "ci-legacy", "terraform")
WORKLOAD_ROLES = ("orders-api-dev-us-east-1-lambdaRole", "billing-worker-prod-lambdaRole", "etl-job-role")
SERVICES = ("orders-api", "billing-worker", "etl")
DENY_WORDING = (
    "because no identity-based policy allows the {action} action",
    "with an explicit deny in a service control policy",
    "because no permissions boundary allows the {action} action",
    "with an explicit deny in an identity-based policy",
)
USER_AGENTS = (
    "aws-sdk-nodejs/2.1692.0 linux/v20.11.0 exec-env/AWS_Lambda_nodejs20.x",
    "Serverless/4.4.7 aws-sdk-js/3.668.0 ua/2.1 os/linux#6.1 lang/js md/nodejs#20.17.0",
    "aws-cli/2.17.40 md/awscrt#0.21.2 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.9",
    "Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.6",
)


@dataclass(frozen=True)
class Shape:
    records: int
    per_file: int
    seed: int


def _iam_prefix(source: str) -> str:
    return {"monitoring.amazonaws.com": "cloudwatch"}.get(source, source.split(".")[0])


def _request_parameters(kind: str, rng: random.Random, service: str, region: str) -> dict[str, Any] | None:
    stage = rng.choice(("dev", "prod"))
    if kind == "stack":
        return {"stackName": f"{service}-{stage}", "changeSetName": f"{service}-{stage}-change-set"}
    if kind == "bucket":
        return {
            "bucketName": f"{service}-{stage}-serverlessdeploymentbucket-1a2b3c",
            "Host": "s3.amazonaws.com",
        }
    if kind == "object":
        return {
            "bucketName": f"{service}-{stage}-serverlessdeploymentbucket-1a2b3c",
            "key": f"serverless/{service}/{stage}/1727{rng.randrange(10**9):09d}/{service}.zip",
        }
    if kind == "function":
        name = f"{service}-{stage}-{rng.choice(('create', 'get', 'list', 'worker'))}"
        return {"functionName": name, "runtime": "nodejs20.x", "handler": "handler.main", "memorySize": 1024}
    if kind == "role":
        return {
            "roleName": f"{service}-{stage}-{region}-lambdaRole",
            "policyName": f"{service}-{stage}-lambda",
        }
    if kind == "loggroup":
        return {"logGroupName": f"/aws/lambda/{service}-{stage}-{rng.choice(('create', 'get', 'worker'))}"}
    if kind == "table":
        return {"tableName": f"{service}-{stage}-items"}
    if kind == "queue":
        return {"queueUrl": f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{service}-{stage}-jobs"}
    if kind == "rule":
        return {"name": f"{service}-{stage}-schedule", "scheduleExpression": "rate(5 minutes)"}
    if kind == "key":
        return {"keyId": f"arn:aws:kms:{region}:{ACCOUNT}:key/{rng.choice(KEY_IDS)}"}
    if kind == "parameter":
        return {"name": f"/{service}/{stage}/db-url", "withDecryption": True}
    return None


def _identity(rng: random.Random, who: str) -> tuple[dict[str, Any], str, str]:
    """(userIdentity, sourceIPAddress, userAgent) for one caller kind."""
    if who == "deployer" or who == "deployer-cfn":
        session = f"ci-{rng.randrange(400):04d}"
        identity: dict[str, Any] = {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLEDEPLOY:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/serverless-deploy/{session}",
            "accountId": ACCOUNT,
            "accessKeyId": f"ASIA{rng.randrange(16**12):012X}",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLEDEPLOY",
                    "arn": DEPLOY_ROLE,
                    "accountId": ACCOUNT,
                    "userName": "serverless-deploy",
                },
                "attributes": {"creationDate": "2026-10-01T00:00:00Z", "mfaAuthenticated": "false"},
            },
        }
        if who == "deployer-cfn":
            identity["invokedBy"] = "cloudformation.amazonaws.com"
            return identity, "cloudformation.amazonaws.com", "cloudformation.amazonaws.com"
        return identity, f"203.0.113.{rng.randrange(1, 250)}", rng.choice(USER_AGENTS[1:3])
    if who == "cfn-role":
        session = "AWSCloudFormation"
        identity = {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLECFN:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/cfn-exec/{session}",
            "accountId": ACCOUNT,
            "invokedBy": "cloudformation.amazonaws.com",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLECFN",
                    "arn": CFN_ROLE,
                    "accountId": ACCOUNT,
                    "userName": "cfn-exec",
                },
                "attributes": {"creationDate": "2026-10-01T00:00:00Z", "mfaAuthenticated": "false"},
            },
        }
        return identity, "cloudformation.amazonaws.com", "cloudformation.amazonaws.com"
    if who == "workload":
        role = rng.choice(WORKLOAD_ROLES)
        session = f"{role[:20]}-fn-{rng.randrange(50)}"
        identity = {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLEWORK:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
            "accountId": ACCOUNT,
            "accessKeyId": f"ASIA{rng.randrange(16**12):012X}",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLEWORK",
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                    "accountId": ACCOUNT,
                    "userName": role,
                },
                "attributes": {"creationDate": "2026-10-01T00:00:00Z", "mfaAuthenticated": "false"},
            },
        }
        return identity, f"10.0.{rng.randrange(256)}.{rng.randrange(1, 255)}", USER_AGENTS[0]
    if who == "user":
        user = rng.choice(USERS)
        identity = {
            "type": "IAMUser",
            "principalId": f"AIDAEXAMPLE{user.upper()}",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
            "accountId": ACCOUNT,
            "accessKeyId": f"AKIA{rng.randrange(16**12):012X}",
            "userName": user,
        }
        return identity, f"198.51.100.{rng.randrange(1, 250)}", rng.choice(USER_AGENTS[2:])
    identity = {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}
    return identity, "lambda.amazonaws.com", "lambda.amazonaws.com"


def make_record(rng: random.Random, when: datetime, region: str) -> dict[str, Any]:
    """One CloudTrail management record, as CloudTrail writes it."""
    roll = rng.random()
    if roll < 0.25:
        who, calls = "deployer", DEPLOYER_CALLS
    elif roll < 0.40:
        who, calls = "deployer-cfn", CFN_CALLS
    elif roll < 0.50:
        who, calls = "cfn-role", CFN_CALLS
    elif roll < 0.85:
        who, calls = "workload", WORKLOAD_CALLS
    elif roll < 0.97:
        who, calls = "user", USER_CALLS
    else:
        who, calls = "service", WORKLOAD_CALLS
    source, name, read_only, kind = rng.choice(calls)
    service = rng.choice(SERVICES)
    identity, ip, agent = _identity(rng, who)
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": agent,
        "requestParameters": _request_parameters(kind, rng, service, region),
        "responseElements": None,
        "requestID": f"{rng.randrange(16**32):032x}",
        "eventID": f"{rng.randrange(16**32):032x}",
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com",
        },
    }
    if not read_only and rng.random() < 0.5:
        record["responseElements"] = {"requestId": f"{rng.randrange(16**32):032x}", "status": "OK"}
    if kind == "key" and rng.random() < 0.5:
        key_arn = (record["requestParameters"] or {}).get("keyId")
        record["resources"] = [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn}]
    if rng.random() < 0.02 and who != "service":
        action = f"{_iam_prefix(source)}:{name.rstrip('0123456789v')}"
        resource = f"arn:aws:{_iam_prefix(source)}:{region}:{ACCOUNT}:*"
        record["errorCode"] = (
            "AccessDenied" if source in ("s3.amazonaws.com", "iam.amazonaws.com") else "AccessDeniedException"
        )
        wording = rng.choice(DENY_WORDING).format(action=action)
        record["errorMessage"] = (
            f"User: {identity.get('arn', 'anonymous')} is not authorized to perform: {action} "
            f"on resource: {resource} {wording}"
        )
        record["responseElements"] = None
    return record


def _write_file(args: tuple[Path, int, int, int]) -> int:
    out, seed, index, count = args
    rng = random.Random(seed * 1_000_003 + index)
    region = REGIONS[index % len(REGIONS)]
    day = START + timedelta(days=(index // len(REGIONS)) % DAYS)
    minute = (index * 7) % (24 * 60)
    base = day + timedelta(minutes=minute)
    records = [make_record(rng, base + timedelta(seconds=rng.randrange(300)), region) for _ in range(count)]
    records.sort(key=lambda r: r["eventTime"])
    folder = out / "AWSLogs" / ACCOUNT / "CloudTrail" / region / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (base + timedelta(minutes=5)).strftime("%Y%m%dT%H%MZ")
    name = f"{ACCOUNT}_CloudTrail_{region}_{stamp}_{index:06d}{rng.randrange(16**10):010x}.json.gz"
    with gzip.open(folder / name, "wt", encoding="utf-8", compresslevel=6) as fh:
        json.dump({"Records": records}, fh, separators=(",", ":"))
    return count


def make(out: Path, shape: Shape, jobs: int = 1) -> int:
    """Write the tree; return how many records were written."""
    files = (shape.records + shape.per_file - 1) // shape.per_file
    work = [(out, shape.seed, i, min(shape.per_file, shape.records - i * shape.per_file)) for i in range(files)]
    if jobs <= 1:
        return sum(map(_write_file, work))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return sum(pool.map(_write_file, work, chunksize=16))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--per-file", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    written = make(args.out, Shape(args.records, args.per_file, args.seed), args.jobs)
    sys.stdout.write(f"{written} records in {args.out} (principal {DEPLOY_ROLE})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Make N realistic CloudTrail records as gzipped files in the S3 trail layout (deterministic per seed).

    python benchmarks/make_cloudtrail.py OUT_DIR --records 200000 [--seed 7] [--per-file 500] [--jobs 2]
    python benchmarks/make_cloudtrail.py OUT_DIR --records 500000 --principal-share 0.1 --other-roles 40 \
        --record-bytes 1500      # an organization trail's mix (below)

Writes ``OUT_DIR/AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<account>_CloudTrail_<region>_
<yyyymmddThhmmZ>_<id>.json.gz`` files, each ``{"Records": [...]}``, the way CloudTrail delivers them.
The mix: a deploy role's sessions (calls made directly and calls CloudFormation made on its behalf, with
``invokedBy``), a CloudFormation service role, IAM users, Lambda execution roles doing data-plane work,
AWS services; many event sources; about 2 % access denials with AWS's real errorMessage wording; five
regions, seven days. The deploy role's ARN is printed last, for ``--principal``.

With ``--principal-share S`` it writes an organization trail's mix instead: a share S of the records from the
deploy role (direct and CloudFormation-invoked calls, as above), the rest from ``--other-roles`` other roles'
sessions (CI jobs, Lambda functions, instance profiles of the member accounts), each record about
``--record-bytes`` long as JSON: full ``sessionContext`` (attributes, sourceIdentity), ``tlsDetails``, long user
agents, request parameters with tags and client/next tokens, response elements with credentials and ids.
About 2 % of the other roles' records are ``sts:AssumeRole`` calls on the deploy role (its ARN in
``requestParameters.roleArn`` and ``responseElements.assumedRoleUser``): they mention the principal's ARN and
are not its calls.
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
    principal_share: float | None = None  # None: the default mix; else the organization trail's mix
    other_roles: int = 40
    record_bytes: int = 1500

    @property
    def name(self) -> str:
        if self.principal_share is None:
            return f"ct-{self.records}-seed{self.seed}"
        return (
            f"org-{self.records}-seed{self.seed}-p{self.principal_share:g}-r{self.other_roles}-b{self.record_bytes}"
        )


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


ORG_ACCOUNTS = tuple(f"{210987654321 + 1111 * n:012d}" for n in range(6))
ORG_ROLE_KINDS = ("github-ci", "lambda", "ecs-task", "ec2-instance", "sso-admin", "data-pipeline", "monitoring")
ORG_CALLS = WORKLOAD_CALLS + USER_CALLS + (
    ("s3.amazonaws.com", "GetObject", True, "object"),
    ("ec2.amazonaws.com", "CreateTags", False, "none"),
    ("dynamodb.amazonaws.com", "Query", True, "table"),
    ("lambda.amazonaws.com", "ListFunctions20150331", True, "none"),
    ("ecs.amazonaws.com", "DescribeServices", True, "none"),
)
ORG_AGENTS = (
    "aws-sdk-java/2.25.60 Linux/5.10.219-208.866.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11"
    " vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/standard",
    "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.171.0 ft/paginator",
    "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#5.10.219-208.866.amzn2.x86_64 md/arch#x86_64"
    " lang/python#3.12.4 md/pyimpl#CPython exec-env/AWS_ECS_FARGATE cfg/retry-mode#legacy Botocore/1.34.144",
    "[Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0"
    " Safari/537.36]",
)


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def make_org_record(rng: random.Random, when: datetime, region: str, shape: Shape) -> dict[str, Any]:
    """One record of an organization trail: the deploy role's (share S), or one of the other roles'."""
    assert shape.principal_share is not None
    if rng.random() < shape.principal_share:
        record = make_record_as(rng, when, region, "deployer" if rng.random() < 0.6 else "deployer-cfn")
    else:
        n = rng.randrange(shape.other_roles)
        account = ORG_ACCOUNTS[n % len(ORG_ACCOUNTS)]
        role = f"{ORG_ROLE_KINDS[n % len(ORG_ROLE_KINDS)]}-role-{n:02d}"
        session = f"{role}-{_hex(rng, 8)}"
        assume = rng.random() < 0.02
        source, name, read_only, kind = (
            ("sts.amazonaws.com", "AssumeRole", False, "none") if assume else rng.choice(ORG_CALLS)
        )
        identity = {
            "type": "AssumedRole",
            "principalId": f"AROA{_hex(rng, 16).upper()}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            "accountId": account,
            "accessKeyId": f"ASIA{_hex(rng, 16).upper()}",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": f"AROA{_hex(rng, 16).upper()}",
                    "arn": f"arn:aws:iam::{account}:role/{role}",
                    "accountId": account,
                    "userName": role,
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "mfaAuthenticated": "false"},
                "sourceIdentity": f"ci-{_hex(rng, 6)}",
                "ec2RoleDelivery": "2.0",
            },
        }
        service = rng.choice(SERVICES)
        params = _request_parameters(kind, rng, service, region) or {}
        if assume:
            params = {"roleArn": DEPLOY_ROLE, "roleSessionName": f"ci-{_hex(rng, 8)}", "durationSeconds": 3600}
        record = {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "userAgent": rng.choice(ORG_AGENTS),
            "requestParameters": params,
            "responseElements": None,
            "requestID": f"{_hex(rng, 8)}-{_hex(rng, 4)}-{_hex(rng, 4)}-{_hex(rng, 4)}-{_hex(rng, 12)}",
            "eventID": f"{_hex(rng, 8)}-{_hex(rng, 4)}-{_hex(rng, 4)}-{_hex(rng, 4)}-{_hex(rng, 12)}",
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
            "tlsDetails": {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com",
            },
        }
        if assume:
            record["responseElements"] = {
                "credentials": {
                    "accessKeyId": f"ASIA{_hex(rng, 16).upper()}",
                    "sessionToken": _hex(rng, 96),
                    "expiration": "Oct 1, 2026, 1:00:00 PM",
                },
                "assumedRoleUser": {
                    "assumedRoleId": f"AROAEXAMPLEDEPLOY:{params['roleSessionName']}",
                    "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/serverless-deploy/{params['roleSessionName']}",
                },
            }
            record["resources"] = [{"accountId": ACCOUNT, "type": "AWS::IAM::Role", "ARN": DEPLOY_ROLE}]
        elif not read_only:
            record["responseElements"] = {"requestId": _hex(rng, 32), "status": "OK"}
    # pad to about record_bytes with what real records carry: tags, client and pagination tokens
    size = len(json.dumps(record, separators=(",", ":")))
    params = record["requestParameters"]
    if params is None:
        params = record["requestParameters"] = {}
    tags = []
    while size < shape.record_bytes - 120:
        tags.append({"key": f"team-{_hex(rng, 3)}", "value": f"cost-center-{_hex(rng, 10)}"})
        size += 48
    if tags:
        params["tagSet"] = {"items": tags}
    if size < shape.record_bytes:
        params["clientToken"] = _hex(rng, max(8, shape.record_bytes - size - 20))
    params["nextToken"] = _hex(rng, 24)
    return record


def make_record_as(rng: random.Random, when: datetime, region: str, who: str) -> dict[str, Any]:
    """A record of the default mix's caller kind ``who`` (only the deploy role's kinds are asked for)."""
    calls = DEPLOYER_CALLS if who == "deployer" else CFN_CALLS
    while True:
        record = make_record(rng, when, region)
        identity = record["userIdentity"]
        mine = identity.get("arn", "").startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/serverless-deploy/")
        kind = ("invokedBy" in identity) == (who == "deployer-cfn")
        if mine and kind and any(c[:2] == (record["eventSource"], record["eventName"]) for c in calls):
            return record


def _write_file(args: tuple[Path, int, int, int, Shape]) -> int:
    out, seed, index, count, shape = args
    rng = random.Random(seed * 1_000_003 + index)
    region = REGIONS[index % len(REGIONS)]
    day = START + timedelta(days=(index // len(REGIONS)) % DAYS)
    minute = (index * 7) % (24 * 60)
    base = day + timedelta(minutes=minute)
    if shape.principal_share is not None:
        records = [
            make_org_record(rng, base + timedelta(seconds=rng.randrange(300)), region, shape) for _ in range(count)
        ]
    else:
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
    work = [
        (out, shape.seed, i, min(shape.per_file, shape.records - i * shape.per_file), shape) for i in range(files)
    ]
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
    parser.add_argument(
        "--principal-share", type=float, default=None, help="org trail mix: the deploy role's share"
    )
    parser.add_argument("--other-roles", type=int, default=40, help="with --principal-share: how many other roles")
    parser.add_argument("--record-bytes", type=int, default=1500, help="with --principal-share: about this long")
    args = parser.parse_args(argv)
    shape = Shape(args.records, args.per_file, args.seed, args.principal_share, args.other_roles, args.record_bytes)
    written = make(args.out, shape, args.jobs)
    sys.stdout.write(f"{written} records in {args.out} (principal {DEPLOY_ROLE})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

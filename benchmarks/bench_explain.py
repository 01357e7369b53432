"""Benchmark: parse 100,000 failure lines (a realistic mix) with iamfit's failure-text parser.

Run: python benchmarks/bench_explain.py [N]
Prints the time for N lines parsed one by one, and for the same lines as one log text. Goal: < 10 s.
"""

from __future__ import annotations

import random
import sys
import time

from iamfit.evidence.failure_text import parse_failure_text

ACCOUNTS = ["210987654321", "123456789012", "555566667777"]
ACTIONS = [
    ("lambda:CreateFunction", "arn:aws:lambda:eu-west-1:{a}:function:svc-{n}"),
    ("iam:PassRole", "arn:aws:iam::{a}:role/svc-{n}-role"),
    ("cloudformation:DescribeStacks", "arn:aws:cloudformation:us-east-1:{a}:stack/svc-{n}/*"),
    ("s3:PutObject", "arn:aws:s3:::svc-{n}-deploys/serverless/svc/dev/code.zip"),
    ("logs:CreateLogGroup", "arn:aws:logs:us-east-1:{a}:log-group:/aws/lambda/svc-{n}"),
    ("iam:GetRole", "role svc-{n}-lambdaRole"),
]
REASONS = [
    " because no identity-based policy allows the {x} action",
    " with an explicit deny in a service control policy: arn:aws:organizations::999:policy/o-1/scp/p-1",
    " with an explicit deny in a permissions boundary",
    "",
]
NOISE = [
    "Serverless: Packaging service...",
    "Serverless: Uploading CloudFormation file to S3...",
    "CloudFormation - CREATE_IN_PROGRESS - AWS::Lambda::Function - ApiLambdaFunction",
    "Resource creation cancelled",
    "The following resource(s) failed to create: [ApiLambdaFunction, IamRoleLambdaExecution].",
    "Rate exceeded (Service: AmazonCloudFormation; Status Code: 400; Error Code: Throttling)",
    "  at Request.extractError (/usr/lib/node_modules/aws-sdk/lib/protocol/query.js:50:29)",
    "Embedded stack arn:aws:cloudformation:us-east-1:1:stack/x/y was not successfully created",
]
OTHER = [
    "API: s3:PutBucketPolicy Access Denied",
    "Did not have IAM permissions to process tags on AWS::IAM::Role resource.",
    "Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied; Request ID: X)",
    "An error occurred (AccessDenied) when calling the ListObjectsV2 operation: Access Denied",
    "You are not authorized to perform this operation. Encoded authorization failure message: AbC-_d",
]


def make_lines(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        kind = rnd.random()
        if kind < 0.5:
            action, res = rnd.choice(ACTIONS)
            a = rnd.choice(ACCOUNTS)
            principal = rnd.choice([f"arn:aws:iam::{a}:user/ci", f"arn:aws:sts::{a}:assumed-role/deploy/s{i}"])
            prefix = rnd.choice(
                [
                    "",
                    'Resource handler returned message: "',
                    "API: " + action + " ",
                    "An error occurred: X - ",
                    "ServerlessError: ",
                ]
            )
            reason = rnd.choice(REASONS).format(x=action)
            lines.append(
                f"{prefix}User: {principal} is not authorized to perform: {action} on resource: "
                f"{res.format(a=a, n=i % 97)}{reason}"
            )
        elif kind < 0.6:
            lines.append(rnd.choice(OTHER))
        else:
            lines.append(rnd.choice(NOISE))
    return lines


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 100_000
    lines = make_lines(n)
    parse_failure_text(lines[0])  # load the catalog once, outside the timing
    t0 = time.perf_counter()
    denials = sum(len(parse_failure_text(line).denials) for line in lines)
    t1 = time.perf_counter()
    whole = parse_failure_text("\n".join(lines))
    t2 = time.perf_counter()
    print(f"bench_explain: {n} lines one by one: {t1 - t0:.2f} s ({denials} denials, {n / (t1 - t0):,.0f} lines/s)")
    print(f"bench_explain: {n} lines as one log: {t2 - t1:.2f} s ({len(whole.denials)} distinct denials)")


if __name__ == "__main__":
    main(sys.argv[1:])

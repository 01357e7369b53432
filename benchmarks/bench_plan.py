"""Benchmark `iamfit plan --phase all`: every bundled example, and a synthetic 1,000-resource template.

    python benchmarks/bench_plan.py [--resources 1000] [--repeat 3]

Each figure is the best of ``--repeat`` runs of the whole command in-process (click's runner: reading the
service and the policy, both sandbox runs of create, update and remove, rendering the JSON), with the
generated policy (``iamfit generate``) as the policy. Goals (issue 4): < 1 s per example, < 5 s for the
1,000-resource template (in-process figure). The "new process" column is one cold ``python -m iamfit plan``
(interpreter start and imports -- cfn-lint alone imports in ~0.6 s -- included). Prints a Markdown table;
exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from iamfit.cli import cli
from iamfit.generate import generate_policies
from iamfit.service.model import load_service

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
ARTIFACTS = "serverless/synthetic/dev/1795713955375-2026-11-26T17:25:55.375Z"


def synthetic_template(resources: int) -> dict[str, Any]:
    """A Serverless-shaped template: deployment bucket, one execution role, then groups of a log group, a
    function (depends on its log group and the role), a version, a queue with an event source mapping, a
    table the function reads, a topic with a subscription permission -- 8 resources per group."""
    out: dict[str, Any] = {
        "ServerlessDeploymentBucket": {"Type": "AWS::S3::Bucket", "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}},
        "ServerlessDeploymentBucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "ServerlessDeploymentBucket"},
            "PolicyDocument": {"Statement": [{"Action": "s3:*", "Effect": "Deny", "Principal": "*",
                                              "Resource": [{"Fn::Join": ["", ["arn:aws:s3:::",
                                                                              {"Ref": "ServerlessDeploymentBucket"},
                                                                              "/*"]]}],
                                              "Condition": {"Bool": {"aws:SecureTransport": False}}}]}}},
        "IamRoleLambdaExecution": {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": "synthetic-dev-us-east-1-lambdaRole",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]},
                 "Action": ["sts:AssumeRole"]}]},
            "Policies": [{"PolicyName": "synthetic", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                 "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/synthetic-dev-*:*"}]}}]}},
    }
    groups = max(1, (resources - len(out)) // 8)
    for i in range(groups):
        fn = f"F{i:04d}"
        name = f"synthetic-dev-f{i:04d}"
        out[f"{fn}LogGroup"] = {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": f"/aws/lambda/{name}"}}
        out[f"{fn}Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{name}-q"}}
        out[f"{fn}Table"] = {"Type": "AWS::DynamoDB::Table", "Properties": {
            "TableName": f"{name}-t", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}}
        out[f"{fn}Topic"] = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"{name}-topic"}}
        out[f"{fn}LambdaFunction"] = {"Type": "AWS::Lambda::Function", "DependsOn": [f"{fn}LogGroup"], "Properties": {
            "Code": {"S3Bucket": {"Ref": "ServerlessDeploymentBucket"}, "S3Key": f"{ARTIFACTS}/synthetic.zip"},
            "Handler": "handler.main", "Runtime": "nodejs20.x", "FunctionName": name, "MemorySize": 256,
            "Timeout": 6, "Role": {"Fn::GetAtt": ["IamRoleLambdaExecution", "Arn"]},
            "Environment": {"Variables": {"TABLE": {"Ref": f"{fn}Table"}}}}}
        out[f"{fn}LambdaVersion{i:04d}abcdefghijklmnopqrstuvwxyz0123456789"] = {
            "Type": "AWS::Lambda::Version", "DeletionPolicy": "Retain", "Properties": {
                "FunctionName": {"Ref": f"{fn}LambdaFunction"}, "CodeSha256": f"sha{i}"}}
        out[f"{fn}EventSourceMappingSQS"] = {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "EventSourceArn": {"Fn::GetAtt": [f"{fn}Queue", "Arn"]},
            "FunctionName": {"Fn::GetAtt": [f"{fn}LambdaFunction", "Arn"]}, "BatchSize": 10}}
        out[f"{fn}LambdaPermissionSNS"] = {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Fn::GetAtt": [f"{fn}LambdaFunction", "Arn"]}, "Action": "lambda:InvokeFunction",
            "Principal": "sns.amazonaws.com", "SourceArn": {"Ref": f"{fn}Topic"}}}
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": out}


def _time_cli(source: Path, policy: Path, extra: list[str], repeat: int) -> tuple[float, dict[str, Any]]:
    runner = CliRunner()
    best, data = float("inf"), {}
    for _ in range(repeat):
        start = time.perf_counter()
        result = runner.invoke(cli, ["plan", str(source), "--policy", str(policy), "--phase", "all", "--json",
                                     "--account", ACCOUNT, *extra])
        best = min(best, time.perf_counter() - start)
        if result.exit_code not in (0, 1):
            raise SystemExit(f"plan failed on {source}: {result.output}{result.stderr}")
        data = json.loads(result.stdout)
    return best, data


def _time_process(source: Path, policy: Path, extra: list[str]) -> float:
    """One cold run: a new Python process (interpreter start and every import included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "iamfit", "plan", str(source), "--policy", str(policy), "--phase", "all",
                    "--json", "--account", ACCOUNT, *extra], check=False, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows, ok = [], True
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cases: list[tuple[str, Path, float]] = [
            (p.name, p, 1.0) for p in sorted((ROOT / "examples").iterdir()) if (p / "serverless.yml").exists()
        ]
        template = work / "synthetic.json"
        template.write_text(json.dumps(synthetic_template(args.resources)))
        cases.append((f"synthetic ({args.resources} resources)", template, 5.0))
        # warm-up: the first command pays one-off imports (cfn-lint schemas, policy_sentry, botocore models)
        for name, source, goal in cases:
            service = load_service(source, account=ACCOUNT)
            policies = generate_policies(service).policies
            extra: list[str] = []
            for principal, doc in policies.items():
                path = work / f"{name[:12]}-{principal}.json".replace(" ", "_")
                path.write_text(doc.dumps())
                if principal == "deployer":
                    deployer = path
                else:
                    extra = ["--cfn-role-policy", str(path)]
            if not rows:
                _time_cli(source, deployer, extra, 1)
            seconds, data = _time_cli(source, deployer, extra, args.repeat)
            cold = _time_process(source, deployer, extra)
            met = seconds < goal and data["fits"]
            ok = ok and met
            rows.append((name, len(service.resources), seconds, cold, goal, data["fits"], data["modeled_seconds"],
                         met))
    print("| service | resources | plan --phase all, in-process (s) | new process (s) | goal (s) | fits "
          "| modeled (min) | met |")
    print("|---|---:|---:|---:|---:|---|---:|---|")
    for name, n, seconds, cold, goal, fits, modeled, met in rows:
        print(f"| {name} | {n} | {seconds:.3f} | {cold:.2f} | < {goal:g} | {'yes' if fits else 'no'} "
              f"| {modeled / 60:.1f} | {'yes' if met else 'NO'} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

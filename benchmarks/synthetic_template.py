"""A synthetic Serverless-shaped template with N resources (functions, roles, log groups, queues, tables,
permissions and event source mappings with real dependencies), for benchmarks."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def make_template(n_resources: int, service: str = "bench", stage: str = "dev") -> dict[str, Any]:
    key = f"serverless/{service}/{stage}/1795713860651-2026-11-26T17:24:20.651Z/{service}.zip"
    resources: dict[str, Any] = {
        "ServerlessDeploymentBucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                }
            },
        },
        "IamRoleLambdaExecution": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
                "Policies": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": []}}],
                "RoleName": {"Fn::Join": ["-", [service, stage, {"Ref": "AWS::Region"}, "lambdaRole"]]},
            },
        },
    }
    i = 0
    while len(resources) < n_resources:
        i += 1
        fn = f"F{i}"
        resources[f"{fn}LogGroup"] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": f"/aws/lambda/{service}-{stage}-f{i}"},
        }
        resources[f"{fn}Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 60}}
        resources[f"{fn}Table"] = {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            },
        }
        resources[f"{fn}LambdaFunction"] = {
            "Type": "AWS::Lambda::Function",
            "DependsOn": [f"{fn}LogGroup"],
            "Properties": {
                "FunctionName": f"{service}-{stage}-f{i}",
                "Handler": "handler.main",
                "Runtime": "nodejs20.x",
                "Code": {"S3Bucket": {"Ref": "ServerlessDeploymentBucket"}, "S3Key": key},
                "Role": {"Fn::GetAtt": ["IamRoleLambdaExecution", "Arn"]},
                "Environment": {"Variables": {"TABLE": {"Ref": f"{fn}Table"}}},
            },
        }
        resources[f"{fn}EventSourceMappingSQS"] = {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": {"Fn::GetAtt": [f"{fn}Queue", "Arn"]},
                "FunctionName": {"Fn::GetAtt": [f"{fn}LambdaFunction", "Arn"]},
            },
        }
    while len(resources) > n_resources:
        resources.popitem()
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(f"synthetic-{count}.json")
    out.write_text(json.dumps(make_template(count), indent=1))
    print(out)

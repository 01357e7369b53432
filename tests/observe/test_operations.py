"""Operation resolution from real SDK requests: botocore signs each request as it would send it, the request is
caught before it leaves, and :func:`iamfit.observe.operations.resolve` must name botocore's own operation."""

from __future__ import annotations

import urllib.parse
from typing import Any

import boto3
import pytest

from iamfit.observe.operations import Request, resolve


class _Caught(Exception):
    def __init__(self, request: Any) -> None:
        self.request = request


def _wire(service: str, operation: str, **params: Any) -> Request:
    """The request botocore sends for ``operation`` (signed with fake keys), as the recorder sees it."""
    client = boto3.client(service, region_name="eu-west-1", endpoint_url="http://127.0.0.1:5000",
                          aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")

    def catch(request: Any, **_: Any) -> None:
        raise _Caught(request)

    client.meta.events.register("before-send", catch)
    with pytest.raises(_Caught) as caught:
        getattr(client, operation)(**params)
    sent = caught.value.request
    url = urllib.parse.urlsplit(sent.url)
    body = sent.body if isinstance(sent.body, bytes) else (sent.body or "").encode() if isinstance(
        sent.body, str) else b""
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else str(v) for k, v in sent.headers.items()}
    return Request(sent.method, url.path, url.query, headers, body)


@pytest.mark.parametrize(("service", "method", "params", "expected", "expected_params"), [
    # json: X-Amz-Target
    ("logs", "describe_log_groups", {"logGroupNamePrefix": "/aws/lambda/x"}, ("logs", "logs", "DescribeLogGroups"),
     {"logGroupNamePrefix": "/aws/lambda/x"}),
    ("sqs", "get_queue_attributes", {"QueueUrl": "http://q/123456789012/q1"}, ("sqs", "sqs", "GetQueueAttributes"),
     {"QueueUrl": "http://q/123456789012/q1"}),
    # query: Action=
    ("cloudformation", "describe_stacks", {"StackName": "svc-dev"}, ("cloudformation", "cloudformation",
                                                                     "DescribeStacks"), {"StackName": "svc-dev"}),
    ("iam", "get_role", {"RoleName": "r1"}, ("iam", "iam", "GetRole"), {"RoleName": "r1"}),
    ("sts", "get_caller_identity", {}, ("sts", "sts", "GetCallerIdentity"), {}),
    # rest-json: method + URI template
    ("lambda", "get_function", {"FunctionName": "svc-dev-f"}, ("lambda", "lambda", "GetFunction"),
     {"FunctionName": "svc-dev-f"}),
    ("lambda", "list_versions_by_function", {"FunctionName": "f"}, ("lambda", "lambda", "ListVersionsByFunction"),
     {"FunctionName": "f"}),
    ("apigateway", "get_resources", {"restApiId": "abc123"}, ("apigateway", "apigateway", "GetResources"),
     {"restApiId": "abc123"}),
    ("apigatewayv2", "get_apis", {}, ("apigateway", "apigatewayv2", "GetApis"), {}),
    # a label holding an ARN: its "/" travel as %2F (osls tags its API Gateway stage so)
    ("apigateway", "tag_resource", {"resourceArn": "arn:aws:apigateway:us-east-1::/restapis/a1/stages/dev",
                                    "tags": {"k": "v"}}, ("apigateway", "apigateway", "TagResource"),
     {"resourceArn": "arn:aws:apigateway:us-east-1::/restapis/a1/stages/dev", "tags": {"k": "v"}}),
    # rest-xml: method + URI template + literal query keys + required headers
    ("s3", "head_bucket", {"Bucket": "my-bucket"}, ("s3", "s3", "HeadBucket"), {"Bucket": "my-bucket"}),
    ("s3", "list_objects_v2", {"Bucket": "my-bucket", "Prefix": "a/"}, ("s3", "s3", "ListObjectsV2"),
     {"Bucket": "my-bucket", "Prefix": "a/"}),
    ("s3", "list_objects", {"Bucket": "my-bucket"}, ("s3", "s3", "ListObjects"), {"Bucket": "my-bucket"}),
    ("s3", "get_bucket_tagging", {"Bucket": "my-bucket"}, ("s3", "s3", "GetBucketTagging"), {"Bucket": "my-bucket"}),
    ("s3", "put_object", {"Bucket": "my-bucket", "Key": "dir/a b.zip", "Body": b"x"}, ("s3", "s3", "PutObject"),
     {"Bucket": "my-bucket", "Key": "dir/a b.zip"}),
    ("s3", "copy_object", {"Bucket": "my-bucket", "Key": "k2", "CopySource": "my-bucket/k1"},
     ("s3", "s3", "CopyObject"), {"Bucket": "my-bucket", "Key": "k2"}),
])
def test_each_protocol_resolves_to_botocores_operation(service: str, method: str, params: dict[str, Any],
                                                       expected: tuple[str, str, str],
                                                       expected_params: dict[str, Any]) -> None:
    resolved = resolve(_wire(service, method, **params))
    assert resolved is not None
    assert (resolved.service, resolved.model, resolved.operation) == expected
    assert resolved.region == "eu-west-1" and resolved.access_key == "AKIDEXAMPLE"
    assert {k: v for k, v in resolved.parameters.items() if k in expected_params} == expected_params


def test_delete_objects_names_its_keys() -> None:
    resolved = resolve(_wire("s3", "delete_objects", Bucket="b-1", Delete={"Objects": [{"Key": "a/1.zip"},
                                                                                       {"Key": "a/&2.json"}]}))
    assert resolved is not None and resolved.operation == "DeleteObjects"
    assert resolved.parameters["Delete"] == {"Objects": [{"Key": "a/1.zip"}, {"Key": "a/&2.json"}]}


def test_an_unsigned_request_is_not_an_aws_call() -> None:
    assert resolve(Request("GET", "/", "", {"user-agent": "curl"})) is None


def test_no_matching_operation_keeps_the_service() -> None:
    request = _wire("lambda", "list_functions")
    resolved = resolve(Request("PATCH", "/no/such/path", "", request.headers))
    assert resolved is not None and resolved.service == "lambda" and resolved.operation is None

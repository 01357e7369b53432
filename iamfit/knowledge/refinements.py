"""Property-conditioned pruning of registry handler permissions.

The registry lists every action a handler may call for any properties. A rule here says an action is
needed *only when* the resource uses some property. Actions no rule names stay (the registry's word is the
safe default). Every rule names its source: the registry schema's property documentation
(``registry:<Type>``), an AWS documentation page, or a public error report.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

Properties = Mapping[str, Any]
Predicate = Callable[[Properties], bool]


def _present(node: Any, parts: list[str]) -> bool:
    if not parts:
        return node not in (None, "", [], {})
    if isinstance(node, list):  # a list property: any of its items (``Targets.RoleArn``; ``Targets.0`` is item 0)
        if parts[0].isdigit():
            index = int(parts[0])
            return index < len(node) and _present(node[index], parts[1:])
        return any(_present(item, parts) for item in node)
    return isinstance(node, Mapping) and _present(node.get(parts[0]), parts[1:])


def has(*names: str) -> Predicate:
    """True when any of the (dotted) property paths is present and not empty; a path through a list property
    looks at every item of it."""

    def check(props: Properties) -> bool:
        return any(_present(props, name.split(".")) for name in names)

    check.__doc__ = " or ".join(names)
    return check


def never(props: Properties) -> bool:
    """never for a template CloudFormation deploys (import/replica/table-bucket workflows only)"""
    return False


@dataclass(frozen=True)
class Rule:
    type_name: str
    actions: tuple[str, ...]  # names or globs, case-insensitive
    needed_when: Predicate
    source: str
    operations: tuple[str, ...] = ("create", "update", "delete")

    def matches(self, type_name: str, action: str, operation: str) -> bool:
        if self.type_name != type_name or operation not in self.operations:
            return False
        low = action.lower()
        return any(fnmatch.fnmatchcase(low, pattern.lower()) for pattern in self.actions)

    @property
    def condition_text(self) -> str:
        return self.needed_when.__doc__ or "never"


_LAMBDA = "registry:AWS::Lambda::Function; AWS Lambda Developer Guide, 'Lambda execution role' and 'Configuring VPC'"
_S3 = "registry:AWS::S3::Bucket; Amazon S3 API reference (one PutBucket* call per configuration)"
_DDB = "registry:AWS::DynamoDB::Table; DynamoDB developer guide (import from S3, Kinesis streaming, SSE)"

RULES: tuple[Rule, ...] = (
    # --- AWS::Lambda::Function -------------------------------------------------------------------------
    Rule("AWS::Lambda::Function", ("kms:*",), has("KmsKeyArn"), _LAMBDA),
    Rule(
        "AWS::Lambda::Function",
        ("ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:DescribeNetworkInterfaces"),
        has("VpcConfig.SubnetIds"),
        _LAMBDA,
    ),
    Rule("AWS::Lambda::Function", ("elasticfilesystem:*", "s3files:*"), has("FileSystemConfigs"), _LAMBDA),
    Rule("AWS::Lambda::Function", ("lambda:*CodeSigningConfig",), has("CodeSigningConfigArn"), _LAMBDA),
    Rule("AWS::Lambda::Function", ("lambda:GetLayerVersion",), has("Layers"), _LAMBDA),
    Rule(
        "AWS::Lambda::Function",
        ("lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency"),
        has("ReservedConcurrentExecutions"),
        _LAMBDA,
        ("create", "update"),
    ),
    Rule("AWS::Lambda::Function", ("lambda:*RuntimeManagementConfig",), has("RuntimeManagementConfig"), _LAMBDA),
    Rule("AWS::Lambda::Function", ("lambda:*FunctionRecursionConfig",), has("RecursiveLoop"), _LAMBDA),
    Rule(
        "AWS::Lambda::Function",
        ("lambda:PutFunctionScalingConfig", "lambda:PassCapacityProvider"),
        has("CapacityProviderConfig", "FunctionScalingConfig"),
        _LAMBDA,
    ),
    Rule(
        "AWS::Lambda::Function",
        ("lambda:AssociateRuntimeAlias",),
        has("DurableConfig", "PublishToLatestPublished"),
        _LAMBDA,
    ),
    Rule("AWS::Lambda::Function", ("s3:GetObject",), has("Code.S3Bucket"), _LAMBDA),
    Rule("AWS::Lambda::Function", ("s3:GetObjectVersion",), has("Code.S3ObjectVersion"), _LAMBDA),
    Rule("AWS::Lambda::Function", ("lambda:PublishVersion",), has("SnapStart", "PublishToLatestPublished"), _LAMBDA),
    # --- AWS::Lambda::Version --------------------------------------------------------------------------
    Rule(
        "AWS::Lambda::Version",
        ("lambda:*ProvisionedConcurrencyConfig",),
        has("ProvisionedConcurrencyConfig"),
        "registry:AWS::Lambda::Version",
    ),
    Rule(
        "AWS::Lambda::Version",
        ("lambda:*RuntimeManagementConfig",),
        has("RuntimePolicy"),
        "registry:AWS::Lambda::Version",
    ),
    Rule(
        "AWS::Lambda::Version",
        ("lambda:PutFunctionScalingConfig",),
        has("FunctionScalingConfig"),
        "registry:AWS::Lambda::Version",
    ),
    # --- AWS::Lambda::EventSourceMapping ---------------------------------------------------------------
    Rule("AWS::Lambda::EventSourceMapping", ("kms:*",), has("KmsKeyArn"), "registry:AWS::Lambda::EventSourceMapping"),
    # --- AWS::Lambda::LayerVersion ---------------------------------------------------------------------
    Rule(
        "AWS::Lambda::LayerVersion",
        ("s3:GetObjectVersion",),
        has("Content.S3ObjectVersion"),
        "registry:AWS::Lambda::LayerVersion",
    ),
    # --- AWS::S3::Bucket -------------------------------------------------------------------------------
    Rule("AWS::S3::Bucket", ("s3:PutBucketAbac",), has("AbacStatus"), _S3),
    Rule(
        "AWS::S3::Bucket",
        ("s3:PutAnalyticsConfiguration", "s3:DeleteBucketAnalyticsConfiguration"),
        has("AnalyticsConfigurations"),
        _S3,
    ),
    Rule(
        "AWS::S3::Bucket", ("s3:PutEncryptionConfiguration", "s3:DeleteBucketEncryption"), has("BucketEncryption"), _S3
    ),
    Rule("AWS::S3::Bucket", ("s3:PutBucketCORS", "s3:DeleteBucketCors"), has("CorsConfiguration"), _S3),
    Rule("AWS::S3::Bucket", ("s3:PutInventoryConfiguration",), has("InventoryConfigurations"), _S3),
    Rule(
        "AWS::S3::Bucket",
        ("s3:PutLifecycleConfiguration", "s3:DeleteBucketLifecycle"),
        has("LifecycleConfiguration"),
        _S3,
    ),
    Rule(
        "AWS::S3::Bucket",
        ("s3:PutMetricsConfiguration", "s3:DeleteBucketMetricsConfiguration"),
        has("MetricsConfigurations"),
        _S3,
    ),
    Rule("AWS::S3::Bucket", ("s3:PutBucketNotification",), has("NotificationConfiguration"), _S3),
    Rule(
        "AWS::S3::Bucket",
        ("s3:PutBucketReplication", "s3:PutReplicationConfiguration", "s3:DeleteBucketReplication", "iam:PassRole"),
        has("ReplicationConfiguration"),
        _S3,
    ),
    Rule("AWS::S3::Bucket", ("s3:PutBucketWebsite", "s3:DeleteBucketWebsite"), has("WebsiteConfiguration"), _S3),
    Rule("AWS::S3::Bucket", ("s3:PutAccelerateConfiguration",), has("AccelerateConfiguration"), _S3),
    Rule("AWS::S3::Bucket", ("s3:PutBucketPublicAccessBlock",), has("PublicAccessBlockConfiguration"), _S3),
    Rule(
        "AWS::S3::Bucket",
        ("s3:PutBucketObjectLockConfiguration", "s3:PutObjectLockConfiguration"),
        has("ObjectLockConfiguration", "ObjectLockEnabled"),
        _S3,
    ),
    Rule("AWS::S3::Bucket", ("s3:PutBucketLogging",), has("LoggingConfiguration"), _S3),
    Rule("AWS::S3::Bucket", ("s3:PutBucketVersioning",), has("VersioningConfiguration"), _S3),
    Rule("AWS::S3::Bucket", ("s3:PutBucketOwnershipControls",), has("OwnershipControls"), _S3),
    Rule("AWS::S3::Bucket", ("s3:PutIntelligentTieringConfiguration",), has("IntelligentTieringConfigurations"), _S3),
    Rule("AWS::S3::Bucket", ("s3:PutBucketAcl", "s3:PutObjectAcl", "s3:GetBucketAcl"), has("AccessControl"), _S3),
    Rule("AWS::S3::Bucket", ("s3:*BucketMetadata*",), has("MetadataConfiguration", "MetadataTableConfiguration"), _S3),
    Rule("AWS::S3::Bucket", ("s3tables:*",), has("MetadataConfiguration", "MetadataTableConfiguration"), _S3),
    Rule("AWS::S3::Bucket", ("s3:DeleteObject",), never, _S3, ("create",)),
    # --- AWS::DynamoDB::Table --------------------------------------------------------------------------
    Rule(
        "AWS::DynamoDB::Table",
        (
            "dynamodb:DescribeImport",
            "dynamodb:ImportTable",
            "s3:GetObject",
            "s3:GetObjectMetadata",
            "s3:ListBucket",
            "logs:*",
        ),
        has("ImportSourceSpecification"),
        _DDB,
    ),
    Rule(
        "AWS::DynamoDB::Table",
        (
            "dynamodb:Scan",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
            "dynamodb:GetItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
        ),
        has("ImportSourceSpecification"),
        _DDB,
    ),
    Rule(
        "AWS::DynamoDB::Table",
        ("dynamodb:*KinesisStreamingDestination", "kinesis:*"),
        has("KinesisStreamSpecification"),
        _DDB,
    ),
    Rule("AWS::DynamoDB::Table", ("kms:*",), has("SSESpecification.KMSMasterKeyId", "SSESpecification.SSEType"), _DDB),
    Rule(
        "AWS::DynamoDB::Table",
        ("dynamodb:*ContributorInsights", "iam:CreateServiceLinkedRole"),
        has("ContributorInsightsSpecification"),
        _DDB,
    ),
    Rule("AWS::DynamoDB::Table", ("dynamodb:UpdateTimeToLive",), has("TimeToLiveSpecification"), _DDB),
    Rule("AWS::DynamoDB::Table", ("dynamodb:UpdateContinuousBackups",), has("PointInTimeRecoverySpecification"), _DDB),
    Rule(
        "AWS::DynamoDB::Table",
        ("dynamodb:PutResourcePolicy", "dynamodb:GetResourcePolicy", "dynamodb:DeleteResourcePolicy"),
        has("ResourcePolicy"),
        _DDB,
    ),
    Rule("AWS::DynamoDB::Table", ("dynamodb:CreateTableReplica", "dynamodb:AssociateTableReplica"), never, _DDB),
    Rule("AWS::DynamoDB::Table", ("dynamodb:CreateTable",), never, _DDB, ("update",)),
    # --- AWS::Logs::LogGroup ---------------------------------------------------------------------------
    Rule(
        "AWS::Logs::LogGroup",
        ("logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy"),
        has("RetentionInDays"),
        "registry:AWS::Logs::LogGroup",
    ),
    Rule(
        "AWS::Logs::LogGroup",
        ("logs:*DataProtectionPolicy", "logs:CreateLogDelivery", "firehose:*", "s3:*"),
        has("DataProtectionPolicy"),
        "registry:AWS::Logs::LogGroup",
    ),
    Rule(
        "AWS::Logs::LogGroup", ("logs:*ResourcePolic*",), has("ResourcePolicyDocument"), "registry:AWS::Logs::LogGroup"
    ),
    Rule("AWS::Logs::LogGroup", ("logs:*IndexPolic*",), has("FieldIndexPolicies"), "registry:AWS::Logs::LogGroup"),
    Rule(
        "AWS::Logs::LogGroup",
        ("logs:PutBearerTokenAuthentication",),
        has("BearerTokenAuthenticationEnabled"),
        "registry:AWS::Logs::LogGroup",
    ),
    Rule(
        "AWS::Logs::LogGroup",
        ("logs:AssociateKmsKey", "logs:DisassociateKmsKey"),
        has("KmsKeyId"),
        "registry:AWS::Logs::LogGroup",
    ),
    Rule(
        "AWS::Logs::LogGroup",
        ("logs:PutLogGroupDeletionProtection",),
        has("DeletionProtectionEnabled"),
        "registry:AWS::Logs::LogGroup",
    ),
    # --- AWS::IAM::Role --------------------------------------------------------------------------------
    Rule(
        "AWS::IAM::Role",
        ("iam:PutRolePolicy", "iam:GetRolePolicy"),
        has("Policies"),
        "registry:AWS::IAM::Role",
        ("create",),
    ),
    Rule("AWS::IAM::Role", ("iam:AttachRolePolicy",), has("ManagedPolicyArns"), "registry:AWS::IAM::Role", ("create",)),
    Rule(
        "AWS::IAM::Role",
        ("iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary"),
        has("PermissionsBoundary"),
        "registry:AWS::IAM::Role",
    ),
    Rule("AWS::IAM::Role", ("iam:UpdateRoleDescription",), has("Description"), "registry:AWS::IAM::Role"),
    Rule("AWS::IAM::Role", ("iam:DetachRolePolicy",), has("ManagedPolicyArns"), "registry:AWS::IAM::Role"),
    Rule("AWS::IAM::Role", ("iam:TagRole", "iam:UntagRole"), never, "registry:AWS::IAM::Role", ("delete",)),
    # --- SNS / SQS / KMS / Events ----------------------------------------------------------------------
    Rule("AWS::SNS::Topic", ("sns:*DataProtectionPolicy",), has("DataProtectionPolicy"), "registry:AWS::SNS::Topic"),
    Rule(
        "AWS::SNS::Topic",
        ("sns:Subscribe", "sns:Unsubscribe", "sns:ListSubscriptionsByTopic"),
        has("Subscription"),
        "registry:AWS::SNS::Topic",
    ),
    Rule("AWS::SNS::Topic", ("iam:GetRole", "iam:PassRole"), has("DeliveryStatusLogging"), "registry:AWS::SNS::Topic"),
    Rule(
        "AWS::SNS::Subscription",
        ("iam:GetRole", "iam:PassRole"),
        has("SubscriptionRoleArn"),
        "registry:AWS::SNS::Subscription",
    ),
    Rule(
        "AWS::KMS::Key",
        ("kms:EnableKeyRotation", "kms:DisableKeyRotation"),
        has("EnableKeyRotation"),
        "registry:AWS::KMS::Key",
    ),
    Rule("AWS::KMS::Key", ("kms:DisableKey",), has("Enabled"), "registry:AWS::KMS::Key", ("create",)),
    Rule("AWS::Events::Rule", ("iam:PassRole",), has("RoleArn", "Targets.RoleArn"), "registry:AWS::Events::Rule"),
    # --- Step Functions / Timestream / ACM / EventBridge / Cognito / Kinesis / CloudFront ---------------
    Rule(
        "AWS::StepFunctions::StateMachine",
        ("s3:GetObject", "s3:GetObjectVersion"),
        has("DefinitionS3Location"),
        "registry:AWS::StepFunctions::StateMachine; CloudFormation reference, AWS::StepFunctions::StateMachine "
        "DefinitionS3Location ('The name of the S3 bucket where the state machine definition is stored')",
    ),
    Rule(
        "AWS::StepFunctions::StateMachine",
        ("kms:*",),
        has("EncryptionConfiguration.KmsKeyId"),
        "registry:AWS::StepFunctions::StateMachine; Step Functions Developer Guide, 'Data at rest encryption' "
        "(customer managed key only)",
    ),
    Rule(
        "AWS::Timestream::Table",
        ("s3:*",),
        has("MagneticStoreWriteProperties.MagneticStoreRejectedDataLocation"),
        "registry:AWS::Timestream::Table; Timestream Developer Guide, 'Magnetic store writes' (rejected-data "
        "error reports in S3)",
    ),
    Rule(
        "AWS::Timestream::Table",
        ("kms:*",),
        has("MagneticStoreWriteProperties.MagneticStoreRejectedDataLocation.S3Configuration.KmsKeyId"),
        "registry:AWS::Timestream::Table; CloudFormation reference, Timestream Table S3Configuration KmsKeyId "
        "(the key of SSE_KMS error reports)",
    ),
    Rule(
        "AWS::CertificateManager::Certificate",
        ("acm-pca:*",),
        has("CertificateAuthorityArn"),
        "registry:AWS::CertificateManager::Certificate; ACM User Guide, 'Request a private certificate' (only "
        "certificates issued by a private CA call AWS Private CA)",
    ),
    Rule(
        "AWS::CertificateManager::Certificate",
        ("route53:ChangeResourceRecordSets",),
        has("DomainValidationOptions.HostedZoneId"),
        "registry:AWS::CertificateManager::Certificate; CloudFormation reference, DomainValidationOption "
        "HostedZoneId (CloudFormation writes the DNS validation record only into the hosted zone given)",
    ),
    Rule(
        "AWS::Events::EventBus",
        ("kms:*",),
        has("KmsKeyIdentifier"),
        "registry:AWS::Events::EventBus; EventBridge User Guide, 'Encrypting events' (customer managed key only)",
    ),
    Rule(
        "AWS::Events::EventBus",
        ("events:PutPermission", "events:RemovePermission"),
        has("Policy"),
        "registry:AWS::Events::EventBus; CloudFormation reference, AWS::Events::EventBus Policy (the bus's "
        "resource-based policy)",
    ),
    Rule(
        "AWS::Lambda::Alias",
        ("lambda:*ProvisionedConcurrencyConfig",),
        has("ProvisionedConcurrencyConfig"),
        "registry:AWS::Lambda::Alias",
    ),
    Rule(
        "AWS::Cognito::UserPool",
        ("kms:*",),
        has("LambdaConfig.KMSKeyID"),
        "registry:AWS::Cognito::UserPool; Cognito Developer Guide, 'Custom sender Lambda triggers' (the KMS key "
        "that encrypts codes for a custom sender)",
    ),
    Rule(
        "AWS::Kinesis::Stream",
        ("kinesis:StartStreamEncryption",),
        has("StreamEncryption"),
        "registry:AWS::Kinesis::Stream; Kinesis Data Streams API reference, StartStreamEncryption",
        ("create",),
    ),
    Rule(
        "AWS::CloudFront::Distribution",
        ("cloudfront:GetVpcOrigin",),
        has("DistributionConfig.Origins.VpcOriginConfig"),
        "registry:AWS::CloudFront::Distribution; CloudFront Developer Guide, 'Restrict access with VPC origins'",
    ),
    # --- API Gateway -----------------------------------------------------------------------------------
    Rule("AWS::ApiGateway::RestApi", ("s3:GetObject",), has("BodyS3Location"), "registry:AWS::ApiGateway::RestApi"),
    Rule(
        "AWS::ApiGateway::RestApi",
        ("apigateway:UpdateRestApiPolicy",),
        has("Policy"),
        "registry:AWS::ApiGateway::RestApi",
    ),
    Rule("AWS::ApiGateway::RestApi", ("iam:PassRole",), never, "registry:AWS::ApiGateway::RestApi"),
    Rule(
        "AWS::ApiGateway::Method", ("iam:PassRole",), has("Integration.Credentials"), "registry:AWS::ApiGateway::Method"
    ),
    Rule("AWS::Cognito::UserPoolClient", ("iam:PassRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
                                          "iam:CreateServiceLinkedRole"), has("AnalyticsConfiguration"),
         "registry:AWS::Cognito::UserPoolClient; Cognito developer guide, 'Using Amazon Pinpoint analytics'"),
    Rule("AWS::ApiGatewayV2::Api", ("s3:getObject",), has("BodyS3Location"), "registry:AWS::ApiGatewayV2::Api"),
    Rule(
        "AWS::ApiGatewayV2::Authorizer",
        ("iam:PassRole",),
        has("AuthorizerCredentialsArn"),
        "registry:AWS::ApiGatewayV2::Authorizer",
    ),
    Rule(
        "AWS::ApiGatewayV2::Integration",
        ("iam:PassRole",),
        has("CredentialsArn"),
        "registry:AWS::ApiGatewayV2::Integration",
    ),
)


@dataclass(frozen=True)
class Pruned:
    action: str
    rule: Rule


def prune(
    type_name: str, operation: str, actions: tuple[str, ...], properties: Properties
) -> tuple[tuple[str, ...], tuple[Pruned, ...]]:
    """(kept actions, dropped actions with the rule that dropped each)."""
    kept: list[str] = []
    dropped: list[Pruned] = []
    rules = [r for r in RULES if r.type_name == type_name and operation in r.operations]
    for action in actions:
        deciding = [r for r in rules if r.matches(type_name, action, operation)]
        if deciding and not any(r.needed_when(properties) for r in deciding):
            dropped.append(Pruned(action, deciding[0]))
            logger.debug(
                "%s %s: %s pruned, needed only when %s (source: %s)",
                type_name, operation, action, deciding[0].condition_text, deciding[0].source,
            )
        else:
            kept.append(action)
    return tuple(kept), tuple(dropped)


def refined_types() -> tuple[str, ...]:
    return tuple(sorted({r.type_name for r in RULES}))

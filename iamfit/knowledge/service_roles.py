"""Whom a resource passes its roles to, and which service-linked roles it creates.

``iam:PassRole`` is granted with ``iam:PassedToService`` (the service principal the role is handed to) and
``iam:CreateServiceLinkedRole`` with ``iam:AWSServiceName`` (the service the role is linked to), on
``role/aws-service-role/<service name>/*``: without them a deployer could pass any of the service's roles to EC2,
or create any service's linked role (IAM User Guide, "Granting a user permissions to pass a role to an AWS
service" and "Service-linked role permissions"). The tables below say, per resource type, which service that
is; each row names its source. ``predict.resource_needs`` falls back, in order, on the services the passed
role's trust policy names (when the template defines the role) and on the type's IAM service prefix
(``<prefix>.amazonaws.com``, the naming rule of service principals), and says so in the prediction's warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PASSROLE_DOC = "IAM User Guide, 'Granting a user permissions to pass a role to an AWS service' (iam:PassedToService)"
SLR_DOC = "IAM User Guide, 'Service-linked role permissions' (iam:AWSServiceName; role/aws-service-role/<service>/)"


@dataclass(frozen=True)
class ServiceOf:
    services: tuple[str, ...]
    source: str


_LAMBDA = "AWS Lambda Developer Guide, 'Lambda execution role' (trust: lambda.amazonaws.com)"
_STATES = "AWS Step Functions Developer Guide, 'How Step Functions works with IAM' (states.amazonaws.com)"
_EVENTS = "Amazon EventBridge User Guide, 'Using identity-based policies' (events.amazonaws.com)"
_APIGW = "API Gateway Developer Guide, 'API Gateway permissions model for invoking your API' (apigateway.amazonaws.com)"
_ECS_TASKS = "Amazon ECS Developer Guide, 'Task IAM role' / 'Task execution IAM role' (ecs-tasks.amazonaws.com)"
_GLUE = "AWS Glue Developer Guide, 'Setting up IAM permissions for AWS Glue' (glue.amazonaws.com)"
_APPSYNC = "AWS AppSync Developer Guide, 'Attaching a data source' (appsync.amazonaws.com)"
_COGNITO = "Amazon Cognito Developer Guide, 'SMS message settings' (cognito-idp.amazonaws.com)"
_LOGS = "CloudWatch Logs User Guide, 'Subscription filters' (logs.amazonaws.com)"

PASSED_TO: Mapping[str, ServiceOf] = {
    "AWS::Lambda::Function": ServiceOf(("lambda.amazonaws.com",), _LAMBDA),
    "AWS::StepFunctions::StateMachine": ServiceOf(("states.amazonaws.com",), _STATES),
    "AWS::Events::Rule": ServiceOf(("events.amazonaws.com",), _EVENTS),
    "AWS::Events::Endpoint": ServiceOf(("events.amazonaws.com",), _EVENTS),
    "AWS::Scheduler::Schedule": ServiceOf(("scheduler.amazonaws.com",),
                                          "EventBridge Scheduler User Guide, 'Set up the execution role'"),
    "AWS::Pipes::Pipe": ServiceOf(("pipes.amazonaws.com",),
                                  "Amazon EventBridge User Guide, 'Amazon EventBridge Pipes permissions'"),
    "AWS::ApiGateway::Account": ServiceOf(("apigateway.amazonaws.com",), _APIGW),
    "AWS::ApiGateway::Method": ServiceOf(("apigateway.amazonaws.com",), _APIGW),
    "AWS::ApiGateway::Authorizer": ServiceOf(("apigateway.amazonaws.com",), _APIGW),
    "AWS::ApiGateway::RestApi": ServiceOf(("apigateway.amazonaws.com",), _APIGW),
    "AWS::ApiGatewayV2::Integration": ServiceOf(("apigateway.amazonaws.com",), _APIGW),
    "AWS::ApiGatewayV2::Authorizer": ServiceOf(("apigateway.amazonaws.com",), _APIGW),
    "AWS::ECS::TaskDefinition": ServiceOf(("ecs-tasks.amazonaws.com",), _ECS_TASKS),
    "AWS::ECS::Service": ServiceOf(("ecs.amazonaws.com",),
                                   "Amazon ECS Developer Guide, 'Service-linked role for Amazon ECS' (legacy Role)"),
    "AWS::Glue::Job": ServiceOf(("glue.amazonaws.com",), _GLUE),
    "AWS::Glue::Crawler": ServiceOf(("glue.amazonaws.com",), _GLUE),
    "AWS::Glue::MLTransform": ServiceOf(("glue.amazonaws.com",), _GLUE),
    "AWS::Glue::Session": ServiceOf(("glue.amazonaws.com",), _GLUE),
    "AWS::AppSync::DataSource": ServiceOf(("appsync.amazonaws.com",), _APPSYNC),
    "AWS::AppSync::GraphQLApi": ServiceOf(("appsync.amazonaws.com",), _APPSYNC),
    "AWS::AppSync::Api": ServiceOf(("appsync.amazonaws.com",), _APPSYNC),
    "AWS::SNS::Topic": ServiceOf(("sns.amazonaws.com",), "Amazon SNS Developer Guide, 'Message delivery status'"),
    "AWS::SNS::Subscription": ServiceOf(("sns.amazonaws.com",),
                                        "Amazon SNS Developer Guide, 'Fanout to Firehose delivery streams'"),
    "AWS::S3::Bucket": ServiceOf(("s3.amazonaws.com",),
                                 "Amazon S3 User Guide, 'Setting up permissions for live replication'"),
    "AWS::Cognito::UserPool": ServiceOf(("cognito-idp.amazonaws.com",), _COGNITO),
    "AWS::Cognito::UserPoolClient": ServiceOf(("cognito-idp.amazonaws.com",),
                                              "Amazon Cognito Developer Guide, 'Using Amazon Pinpoint analytics'"),
    "AWS::Cognito::IdentityPoolRoleAttachment": ServiceOf(
        ("cognito-identity.amazonaws.com",), "Amazon Cognito Developer Guide, 'IAM roles' (identity pools)"),
    "AWS::Logs::SubscriptionFilter": ServiceOf(("logs.amazonaws.com",), _LOGS),
    "AWS::Logs::Destination": ServiceOf(("logs.amazonaws.com",), _LOGS),
    "AWS::KinesisFirehose::DeliveryStream": ServiceOf(
        ("firehose.amazonaws.com",), "Amazon Data Firehose Developer Guide, 'Controlling access'"),
    "AWS::IoT::TopicRule": ServiceOf(("iot.amazonaws.com",), "AWS IoT Core Developer Guide, 'Granting rules access'"),
    "AWS::CodeBuild::Project": ServiceOf(("codebuild.amazonaws.com",),
                                         "AWS CodeBuild User Guide, 'Allow CodeBuild to interact with other services'"),
    "AWS::CloudTrail::Trail": ServiceOf(("cloudtrail.amazonaws.com",),
                                        "AWS CloudTrail User Guide, 'Sending events to CloudWatch Logs'"),
    "AWS::EC2::FlowLog": ServiceOf(("vpc-flow-logs.amazonaws.com",),
                                   "Amazon VPC User Guide, 'IAM role for publishing flow logs to CloudWatch Logs'"),
    "AWS::RDS::DBInstance": ServiceOf(("monitoring.rds.amazonaws.com", "rds.amazonaws.com"),
                                      "Amazon RDS User Guide, 'Setting up and enabling Enhanced Monitoring'"),
    "AWS::RDS::DBCluster": ServiceOf(("monitoring.rds.amazonaws.com", "rds.amazonaws.com"),
                                     "Amazon RDS User Guide, 'Setting up and enabling Enhanced Monitoring'"),
    "AWS::RDS::DBProxy": ServiceOf(("rds.amazonaws.com",), "Amazon RDS User Guide, 'Setting up IAM for RDS Proxy'"),
    "AWS::EC2::Instance": ServiceOf(("ec2.amazonaws.com",), "Amazon EC2 User Guide, 'IAM roles for Amazon EC2'"),
    "AWS::AutoScaling::LaunchConfiguration": ServiceOf(("ec2.amazonaws.com",),
                                                       "Amazon EC2 User Guide, 'IAM roles for Amazon EC2'"),
    "AWS::KinesisAnalyticsV2::Application": ServiceOf(
        ("kinesisanalytics.amazonaws.com",), "Managed Service for Apache Flink Developer Guide, 'Service role'"),
    "AWS::CloudWatch::MetricStream": ServiceOf(("streams.metrics.cloudwatch.amazonaws.com",),
                                               "Amazon CloudWatch User Guide, 'Trust between CloudWatch and Firehose'"),
}

_APP_AUTOSCALING = "Application Auto Scaling User Guide, 'Service-linked roles for Application Auto Scaling'"
_RDS_SLR = "Amazon RDS User Guide, 'Using service-linked roles for Amazon RDS' (also Neptune, DocumentDB)"

SERVICE_LINKED: Mapping[str, ServiceOf] = {
    "AWS::DynamoDB::Table": ServiceOf(
        ("contributorinsights.dynamodb.amazonaws.com",),
        "Amazon DynamoDB Developer Guide, 'Using service-linked roles for CloudWatch Contributor Insights'"),
    "AWS::DynamoDB::GlobalTable": ServiceOf(
        ("replication.dynamodb.amazonaws.com", "dynamodb.application-autoscaling.amazonaws.com"),
        "Amazon DynamoDB Developer Guide, 'Global tables: IAM' and " + _APP_AUTOSCALING),
    "AWS::ECS::Cluster": ServiceOf(("ecs.amazonaws.com",), "Amazon ECS Developer Guide, 'Service-linked role'"),
    "AWS::ECS::CapacityProvider": ServiceOf(("ecs.amazonaws.com",),
                                            "Amazon ECS Developer Guide, 'Service-linked role'"),
    "AWS::ElastiCache::CacheCluster": ServiceOf(("elasticache.amazonaws.com",),
                                                "Amazon ElastiCache User Guide, 'Using service-linked roles'"),
    "AWS::ElastiCache::ReplicationGroup": ServiceOf(("elasticache.amazonaws.com",),
                                                    "Amazon ElastiCache User Guide, 'Using service-linked roles'"),
    "AWS::ElastiCache::ParameterGroup": ServiceOf(("elasticache.amazonaws.com",),
                                                  "Amazon ElastiCache User Guide, 'Using service-linked roles'"),
    "AWS::RDS::DBInstance": ServiceOf(("rds.amazonaws.com",), _RDS_SLR),
    "AWS::RDS::DBCluster": ServiceOf(("rds.amazonaws.com",), _RDS_SLR),
    "AWS::RDS::DBSubnetGroup": ServiceOf(("rds.amazonaws.com",), _RDS_SLR),
    "AWS::RDS::DBParameterGroup": ServiceOf(("rds.amazonaws.com",), _RDS_SLR),
    "AWS::RDS::DBClusterParameterGroup": ServiceOf(("rds.amazonaws.com",), _RDS_SLR),
    "AWS::RDS::OptionGroup": ServiceOf(("rds.amazonaws.com",), _RDS_SLR),
    "AWS::RDS::EventSubscription": ServiceOf(("rds.amazonaws.com",), _RDS_SLR),
    "AWS::Neptune::DBCluster": ServiceOf(("rds.amazonaws.com",), _RDS_SLR),
    "AWS::Neptune::DBInstance": ServiceOf(("rds.amazonaws.com",), _RDS_SLR),
    "AWS::Neptune::DBSubnetGroup": ServiceOf(("rds.amazonaws.com",), _RDS_SLR),
    "AWS::EFS::FileSystem": ServiceOf(("elasticfilesystem.amazonaws.com",),
                                      "Amazon EFS User Guide, 'Using service-linked roles for Amazon EFS'"),
    "AWS::AutoScaling::AutoScalingGroup": ServiceOf(("autoscaling.amazonaws.com",),
                                                    "Amazon EC2 Auto Scaling User Guide, 'Service-linked roles'"),
    "AWS::ApiGatewayV2::VpcLink": ServiceOf(
        ("ops.apigateway.amazonaws.com",), "API Gateway Developer Guide, 'Using service-linked roles for API Gateway'"),
    "AWS::Cognito::UserPool": ServiceOf(
        ("email.cognito-idp.amazonaws.com", "cognito-idp.amazonaws.com"),
        "Amazon Cognito Developer Guide, 'Using service-linked roles for Amazon Cognito'; AWS managed policies "
        "AmazonCognitoIdpEmailServiceRolePolicy (email with Amazon SES) and AmazonCognitoIdpServiceRolePolicy"),
    "AWS::Cognito::UserPoolClient": ServiceOf(("cognito-idp.amazonaws.com",),
                                              "Amazon Cognito Developer Guide, 'Using service-linked roles'"),
    "AWS::Events::Connection": ServiceOf(
        ("apidestinations.events.amazonaws.com",),
        "Amazon EventBridge User Guide, 'Using service-linked roles for EventBridge' (API destinations)"),
    "AWS::EKS::Cluster": ServiceOf(("eks.amazonaws.com",), "Amazon EKS User Guide, 'Using service-linked roles'"),
    "AWS::EKS::Nodegroup": ServiceOf(("eks-nodegroup.amazonaws.com",),
                                     "Amazon EKS User Guide, 'Using roles for Amazon EKS node groups'"),
    "AWS::EKS::FargateProfile": ServiceOf(("eks-fargate.amazonaws.com",),
                                          "Amazon EKS User Guide, 'Using roles for Amazon EKS Fargate profiles'"),
    "AWS::MSK::Cluster": ServiceOf(("kafka.amazonaws.com",), "Amazon MSK Developer Guide, 'Service-linked roles'"),
    "AWS::Redshift::Cluster": ServiceOf(("redshift.amazonaws.com",),
                                        "Amazon Redshift Management Guide, 'Using service-linked roles'"),
    "AWS::Batch::ComputeEnvironment": ServiceOf(("batch.amazonaws.com",),
                                                "AWS Batch User Guide, 'Using service-linked roles'"),
    "AWS::AmazonMQ::Broker": ServiceOf(("mq.amazonaws.com",),
                                       "Amazon MQ Developer Guide, 'Using service-linked roles'"),
    "AWS::AppRunner::Service": ServiceOf(("apprunner.amazonaws.com",),
                                         "AWS App Runner Developer Guide, 'Using service-linked roles'"),
    "AWS::CloudTrail::Trail": ServiceOf(("cloudtrail.amazonaws.com",),
                                        "AWS CloudTrail User Guide, 'Using service-linked roles'"),
    "AWS::GuardDuty::Detector": ServiceOf(("guardduty.amazonaws.com", "malware-protection.guardduty.amazonaws.com"),
                                          "Amazon GuardDuty User Guide, 'Service-linked role permissions'"),
    "AWS::WAFv2::LoggingConfiguration": ServiceOf(("wafv2.amazonaws.com",),
                                                  "AWS WAF Developer Guide, 'Using service-linked roles for AWS WAF'"),
    "AWS::Shield::Protection": ServiceOf(("shield.amazonaws.com",),
                                         "AWS Shield Developer Guide, 'Using service-linked roles'"),
}

# Lambda@Edge: CloudFront creates these two when a distribution first associates a function version
# (CloudFront Developer Guide, "Service-linked roles for Lambda@Edge").
EDGE_SERVICES = ("replicator.lambda.amazonaws.com", "logger.cloudfront.amazonaws.com")


def application_autoscaling_service(namespace: str) -> str:
    """The service name of Application Auto Scaling's linked role for one scalable-target namespace (the roles
    are named ``<namespace>.application-autoscaling.amazonaws.com``: ``lambda``, ``dynamodb``, ``ecs`` ...)."""
    return f"{namespace}.application-autoscaling.amazonaws.com"


def by_convention(type_name: str, prefix: str | None) -> str:
    """``<prefix>.amazonaws.com``: the service principal rule, for a type no table row names."""
    name = prefix or (type_name.split("::")[1].lower() if type_name.count("::") == 2 else "unknown")
    return f"{name}.amazonaws.com"

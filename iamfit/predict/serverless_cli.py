"""The AWS calls the Serverless Framework CLI makes itself, per command, config flag and Framework variant.

Every call cites its row in research on the Framework's source (docs/knowledge.md reproduces the table):
``serverless-cli.md §3.1 #N`` for ``deploy``, §3.2 ``deploy function``, §3.3 ``remove``, §3.4 the rest (osls
3.x/4.x, the same calls as Framework v3). The variants differ (iamfit.service.framework): v1 and v2 (and v3/osls
with ``deploymentMethod: direct``, v4 unless ``deploymentMethod: changesets``) call CreateStack/UpdateStack
instead of change sets; v4 keeps artifacts in a shared per-region bucket found through an SSM parameter
(``v4 …`` sources: serverless/serverless at 8cec971f1, the first commit with v4's source, packages/…).
Calls are listed in the order the CLI makes them, because the CLI stops at its first failing call (except
the ``tolerated`` ones, whose AccessDenied it ignores).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from iamfit.knowledge.arns import apigateway_tags_arn
from iamfit.needs import Condition
from iamfit.service.framework import SHARED_BUCKET_PARAMETER, deployment_method, shared_bucket_in
from iamfit.service.model import Service

COMMANDS = ("deploy", "deploy-function", "remove", "info", "rollback", "logs")
DEFAULT_COMMANDS = ("deploy", "remove")


@dataclass(frozen=True)
class CliCall:
    """One SDK call of the CLI: ``api`` as the SDK names it (``CloudFormation.CreateChangeSet``), the IAM
    ``action`` it is authorised as, on ``resource``; ``stack_op`` marks calls that start a stack operation."""

    command: str
    api: str
    action: str
    resource: str
    source: str
    tolerated: bool = False
    conditions: tuple[Condition, ...] = ()
    stack_op: str | None = None  # "create-stack" / "update-stack" / "delete-stack" / None

    @property
    def reason(self) -> str:
        return f"serverless {self.command}: {self.api}"


@dataclass(frozen=True)
class Bucket:
    """The deployment bucket a variant's CLI uses: ``custom`` (provider.deploymentBucket), ``stack`` (the
    stack's ServerlessDeploymentBucket) or ``shared`` (v4's per-region bucket), with its ARN and the ARN of
    the service's artifacts in it (``<deploymentPrefix>/<service>/<stage>/*``)."""

    kind: str
    arn: str
    objects: str


V4_BUCKET = "v4 packages/serverless/lib/plugins/aws/provider.js getServerlessDeploymentBucketName"
V4_GLOBAL = "v4 packages/util/src/globalBucket/index.js"


def deployment_bucket(service: Service, variant: str, *, first_deploy: bool = False) -> Bucket:
    """Which bucket the variant deploys through. v4 uses its shared bucket unless a custom bucket is set or
    the stack already holds a ServerlessDeploymentBucket (``V4_BUCKET``; the compiled template then keeps it),
    or ``provider.enableLegacyDeploymentBucket`` is set (v4 provider.js ``isLegacyDeploymentBucketEnabled``):
    a first deploy has no stack yet, so without the legacy flag it takes the shared bucket."""
    if service.custom_bucket:
        return Bucket("custom", service.bucket_arn, service.artifacts_arn)
    in_stack = "ServerlessDeploymentBucket" in (service.template.get("Resources") or {})
    legacy = bool(service.provider.get("enableLegacyDeploymentBucket"))
    if variant == "v4" and not legacy and (first_deploy or not in_stack):
        name = shared_bucket_in(service.template) or f"serverless-framework-deployments-{service.region}-*"
        arn = f"arn:{service.partition}:s3:::{name}"
        return Bucket("shared", arn, f"{arn}/{service.artifact_prefix}/*")
    return Bucket("stack", service.bucket_arn, service.artifacts_arn)


def shared_bucket_calls(service: Service, command: str, bucket: Bucket, *, first_deploy: bool) -> list[CliCall]:
    """v4 finds its shared bucket (``V4_BUCKET``): DescribeStackResource for a stack bucket, then
    ``getOrCreateDefaultBucket`` (``V4_GLOBAL``): GetParameter of ``/serverless-framework/deployment/s3-bucket``;
    when it is missing (the first deploy in the region) PutParameter (create-only), CreateBucket and
    PutBucketVersioning (engine AwsS3Client.createVersionedBucket); when it exists, CreateBucket again on the
    stored bucket (BucketAlreadyOwnedByYou is ignored, AccessDenied is not), and in us-east-1, where CreateBucket
    of an owned bucket succeeds, PutBucketVersioning again."""
    parameter = service.arn("arn:{partition}:ssm:{region}:{account}:parameter{name}", SHARED_BUCKET_PARAMETER)
    calls = [
        CliCall(command, "CloudFormation.DescribeStackResource (ServerlessDeploymentBucket)",
                "cloudformation:DescribeStackResource", service.stack_arn, V4_BUCKET),
        CliCall(command, "SSM.GetParameter (shared deployment bucket)", "ssm:GetParameter", parameter,
                f"{V4_GLOBAL} checkStoredBucket"),
    ]
    if first_deploy:
        calls.append(CliCall(command, "SSM.PutParameter (claim the shared bucket)", "ssm:PutParameter", parameter,
                             f"{V4_GLOBAL} createAndStoreBucket"))
    calls.append(CliCall(command, "S3.CreateBucket (shared deployment bucket)", "s3:CreateBucket", bucket.arn,
                         f"{V4_GLOBAL} " + ("createAndStoreBucket" if first_deploy else "checkStoredBucket")))
    if first_deploy or service.region == "us-east-1":
        calls.append(CliCall(command, "S3.PutBucketVersioning (shared deployment bucket)", "s3:PutBucketVersioning",
                             bucket.arn, f"{V4_GLOBAL} createVersionedBucket"))
    return calls


def _pass_role(service: Service, command: str) -> list[CliCall]:
    role = service.deployment_role
    if not role:
        return []
    return [
        CliCall(
            command,
            "IAM.PassRole (RoleARN on the stack call)",
            "iam:PassRole",
            role,
            "serverless-cli.md §2",
            conditions=(("StringEquals", "iam:PassedToService", ("cloudformation.amazonaws.com",)),),
        )
    ]


_SSM = re.compile(r"\$\{ssm(?:\([^)]*\))?:(/?[A-Za-z0-9_.\-/]+)")
_CF = re.compile(r"\$\{cf(?:\([^)]*\))?:([A-Za-z][A-Za-z0-9-]*)\.")
_S3 = re.compile(r"\$\{s3:([a-z0-9.\-]+)/([^},\s]+)\}")


def _config_text(service: Service) -> str:
    """The service's own config text (variables are resolved in the compiled package, so read the source)."""
    from iamfit.service.compile import config_file

    source = service.source
    if source is None:
        return ""
    for directory in (source, source.parent) if source.name == ".serverless" else (source,):
        path = config_file(directory)
        if path is not None:
            from iamfit.errors import BadInputError
            from iamfit.files import read_text

            try:
                return read_text(path, "serverless.yml", lenient=True)
            except BadInputError:  # unreadable here means the Framework could not have compiled it either
                return ""
    return ""


def variable_calls(service: Service, command: str) -> list[CliCall]:
    """Calls made to resolve ``${ssm:…}``, ``${cf:…}`` and ``${s3:…}`` variables (any command; §3.5)."""
    text = _config_text(service)
    calls = []
    for path in sorted(set(_SSM.findall(text))):
        name = path if path.startswith("/") else "/" + path
        calls.append(CliCall(command, "SSM.GetParameter", "ssm:GetParameter",
                             service.arn("arn:{partition}:ssm:{region}:{account}:parameter{name}", name),
                             "serverless-cli.md §3.5 ${ssm:}"))
    for stack in sorted(set(_CF.findall(text))):
        calls.append(CliCall(command, "CloudFormation.DescribeStacks (${cf:})", "cloudformation:DescribeStacks",
                             service.arn("arn:{partition}:cloudformation:{region}:{account}:stack/{name}/*", stack),
                             "serverless-cli.md §3.5 ${cf:}"))
    for bucket, key in sorted(set(_S3.findall(text))):
        calls.append(CliCall(command, "S3.GetObject (${s3:})", "s3:GetObject",
                             f"arn:{service.partition}:s3:::{bucket}/{key}", "serverless-cli.md §3.5 ${s3:}"))
    return calls


def image_calls(service: Service, command: str) -> list[CliCall]:
    """ECR calls for container-image functions built by the Framework (``provider.ecr.images``; §3.5)."""
    ecr = service.provider.get("ecr")
    images = ecr.get("images") if isinstance(ecr, dict) else None
    if not images:
        return []
    repo = service.arn("arn:{partition}:ecr:{region}:{account}:repository/{name}",
                       re.sub("-+", "-", f"serverless-{service.name}-{service.stage}".lower()))
    row = "serverless-cli.md §3.5 provider.ecr.images"
    calls = [
        CliCall(command, "ECR.DescribeRepositories", "ecr:DescribeRepositories", repo, row),
        CliCall(command, "ECR.CreateRepository", "ecr:CreateRepository", repo, row),
    ]
    if isinstance(ecr, dict) and ecr.get("maxImageCount"):
        calls.append(CliCall(command, "ECR.PutLifecyclePolicy", "ecr:PutLifecyclePolicy", repo, row))
    calls.append(CliCall(command, "ECR.GetAuthorizationToken (docker login)", "ecr:GetAuthorizationToken", "*",
                         row))
    for action in ("BatchCheckLayerAvailability", "InitiateLayerUpload", "UploadLayerPart", "CompleteLayerUpload",
                   "PutImage", "BatchGetImage", "GetDownloadUrlForLayer"):
        calls.append(CliCall(command, f"ECR.{action} (docker push)", f"ecr:{action}", repo, row))
    return calls


def deploy_calls(service: Service, *, first_deploy: bool, variant: str | None = None) -> list[CliCall]:
    """``serverless deploy`` in order. ``first_deploy``: the stack does not exist yet. ``variant``: the
    Framework whose CLI deploys (default: the service's primary one)."""
    c = "deploy"
    variant = variant or service.framework.primary
    the_bucket = deployment_bucket(service, variant, first_deploy=first_deploy)
    stack, bucket, objects = service.stack_arn, the_bucket.arn, the_bucket.objects
    change_set = deployment_method(variant, service.provider) == "changesets"
    calls: list[CliCall] = variable_calls(service, c) + image_calls(service, c)
    if the_bucket.kind == "shared":  # package:initialize sets the bucket name first (v4 package/index.js)
        calls += shared_bucket_calls(service, c, the_bucket, first_deploy=first_deploy)
    calls.append(
        CliCall(c, "CloudFormation.DescribeStacks", "cloudformation:DescribeStacks", stack, "serverless-cli.md §3.1 #2")
    )
    if first_deploy and the_bucket.kind == "stack":
        # the core stack (deployment bucket) is created first, from the create-stack template
        calls += _pass_role(service, c)
        if change_set:
            calls += [
                CliCall(
                    c,
                    "CloudFormation.CreateChangeSet",
                    "cloudformation:CreateChangeSet",
                    stack,
                    "serverless-cli.md §3.1 #3a",
                ),
                CliCall(
                    c,
                    "CloudFormation.DescribeChangeSet",
                    "cloudformation:DescribeChangeSet",
                    stack,
                    "serverless-cli.md §3.1 #3b",
                ),
                CliCall(
                    c,
                    "CloudFormation.ExecuteChangeSet",
                    "cloudformation:ExecuteChangeSet",
                    stack,
                    "serverless-cli.md §3.1 #3d",
                    stack_op="create-stack",
                ),
            ]
        else:
            calls.append(
                CliCall(
                    c,
                    "CloudFormation.CreateStack",
                    "cloudformation:CreateStack",
                    stack,
                    "serverless-cli.md §3.1 #3e",
                    stack_op="create-stack",
                )
            )
        calls.append(
            CliCall(
                c,
                "CloudFormation.DescribeStackEvents",
                "cloudformation:DescribeStackEvents",
                stack,
                "serverless-cli.md §3.1 #3f",
            )
        )
    if the_bucket.kind == "stack":
        calls.append(
            CliCall(
                c,
                "CloudFormation.DescribeStackResource",
                "cloudformation:DescribeStackResource",
                stack,
                "serverless-cli.md §3.1 #4",
            )
        )
        calls.append(CliCall(c, "S3.HeadBucket", "s3:ListBucket", bucket, "serverless-cli.md §3.1 #5"))
    elif the_bucket.kind == "custom" and variant == "osls":
        calls.append(CliCall(c, "S3.HeadBucket", "s3:ListBucket", bucket, "serverless-cli.md §3.1 #5'"))
    elif the_bucket.kind == "custom":  # the Framework itself checks a custom bucket's region
        calls.append(CliCall(c, "S3.GetBucketLocation (custom deployment bucket)", "s3:GetBucketLocation", bucket,
                             "deploy/lib/existsDeploymentBucket.js (v1.83.0), deploy/lib/ensure-valid-bucket-exists"
                             ".js (v2.72.0, v3.40.0, v4)"))
    else:
        calls.append(CliCall(c, "S3.GetBucketLocation (shared deployment bucket)", "s3:GetBucketLocation", bucket,
                             "v4 packages/serverless/lib/plugins/aws/deploy/lib/ensure-valid-bucket-exists.js"))
    calls += [
        CliCall(c, "S3.ListObjectsV2", "s3:ListBucket", bucket, "serverless-cli.md §3.1 #6"),
    ]
    if not first_deploy:
        calls.append(CliCall(c, "S3.HeadObject", "s3:GetObject", objects, "serverless-cli.md §3.1 #7"))
    for fn in service.function_names:
        calls.append(
            CliCall(
                c,
                "Lambda.GetFunction",
                "lambda:GetFunction",
                service.arn("arn:{partition}:lambda:{region}:{account}:function:{name}", fn),
                "serverless-cli.md §3.1 #8",
                tolerated=True,
            )
        )
    calls += [
        CliCall(c, "S3.PutObject (upload artifacts)", "s3:PutObject", objects, "serverless-cli.md §3.1 #10"),
        CliCall(
            c,
            "S3.AbortMultipartUpload (failed large upload)",
            "s3:AbortMultipartUpload",
            objects,
            "serverless-cli.md §4.2",
            tolerated=True,
        ),
        CliCall(
            c, "CloudFormation.ValidateTemplate", "cloudformation:ValidateTemplate", "*", "serverless-cli.md §3.1 #11"
        ),
        CliCall(
            c,
            "S3.GetObject (template read by CloudFormation as the caller)",
            "s3:GetObject",
            objects,
            "serverless-cli.md §2, §4.1",
        ),
    ]
    calls += _pass_role(service, c)
    late_create = first_deploy and the_bucket.kind != "stack"  # no core stack first: created from TemplateURL
    if change_set:
        calls += [
            CliCall(
                c,
                "CloudFormation.DeleteChangeSet",
                "cloudformation:DeleteChangeSet",
                stack,
                "serverless-cli.md §3.1 #12a",
            ),
            CliCall(
                c,
                "CloudFormation.CreateChangeSet",
                "cloudformation:CreateChangeSet",
                stack,
                "serverless-cli.md §3.1 #12b" + (" / #12e" if late_create else ""),
            ),
            CliCall(
                c,
                "CloudFormation.DescribeChangeSet",
                "cloudformation:DescribeChangeSet",
                stack,
                "serverless-cli.md §3.1 #12c",
            ),
            CliCall(
                c,
                "CloudFormation.ExecuteChangeSet",
                "cloudformation:ExecuteChangeSet",
                stack,
                "serverless-cli.md §3.1 #12c",
                stack_op="create-stack" if late_create else "update-stack",
            ),
        ]
    elif late_create:
        calls.append(
            CliCall(
                c,
                "CloudFormation.CreateStack",
                "cloudformation:CreateStack",
                stack,
                "serverless-cli.md §3.1 #12e",
                stack_op="create-stack",
            )
        )
    else:
        calls.append(
            CliCall(
                c,
                "CloudFormation.UpdateStack",
                "cloudformation:UpdateStack",
                stack,
                "serverless-cli.md §3.1 #12d",
                stack_op="update-stack",
            )
        )
    calls.append(
        CliCall(
            c,
            "CloudFormation.DescribeStackEvents",
            "cloudformation:DescribeStackEvents",
            stack,
            "serverless-cli.md §3.1 #12f",
        )
    )
    if service.provider.get("stackPolicy") and change_set:
        calls.append(
            CliCall(
                c,
                "CloudFormation.SetStackPolicy",
                "cloudformation:SetStackPolicy",
                stack,
                "serverless-cli.md §3.1 #12g",
            )
        )
    calls += [
        CliCall(
            c,
            "CloudFormation.DescribeStacks (info)",
            "cloudformation:DescribeStacks",
            stack,
            "serverless-cli.md §3.1 #13",
        ),
        CliCall(
            c,
            "CloudFormation.ListStackResources (info)",
            "cloudformation:ListStackResources",
            stack,
            "serverless-cli.md §3.1 #14",
        ),
    ]
    if service.api_gateway_stage_update:
        apis = service.arn("arn:{partition}:apigateway:{region}::/restapis")
        sub = service.arn("arn:{partition}:apigateway:{region}::/restapis/*")
        tags = apigateway_tags_arn(service.partition, service.region, "/restapis/*")  # the stage's tags
        row = "serverless-cli.md §3.1 #17"
        calls += [
            CliCall(c, "APIGateway.GetRestApis", "apigateway:GET", apis, row),
            CliCall(c, "APIGateway.GetDeployments", "apigateway:GET", sub, row),
            CliCall(c, "APIGateway.GetStage", "apigateway:GET", sub, row),
            CliCall(c, "APIGateway.UpdateStage", "apigateway:PATCH", sub, row),
            CliCall(c, "APIGateway.TagResource", "apigateway:PUT", tags, row),
            CliCall(c, "APIGateway.UntagResource", "apigateway:DELETE", tags, row),
            CliCall(
                c,
                "CloudWatchLogs.DeleteLogGroup (access logs off)",
                "logs:DeleteLogGroup",
                service.arn(
                    "arn:{partition}:logs:{region}:{account}:log-group:{name}:*",
                    f"/aws/api-gateway/{service.name}-{service.stage}",
                ),
                row,
                tolerated=True,
            ),
        ]
    calls += [
        CliCall(c, "S3.ListObjectsV2 (cleanup)", "s3:ListBucket", bucket, "serverless-cli.md §3.1 #20"),
        CliCall(c, "S3.DeleteObjects (cleanup)", "s3:DeleteObject", objects, "serverless-cli.md §3.1 #20"),
    ]
    return calls


def remove_calls(service: Service, variant: str | None = None) -> list[CliCall]:
    c = "remove"
    the_bucket = deployment_bucket(service, variant or service.framework.primary)
    stack, bucket, objects = service.stack_arn, the_bucket.arn, the_bucket.objects
    # v4 lists the versions of its (versioned) shared bucket: v4 remove/lib/bucket.js emptyS3Bucket
    versioned = bool(service.bucket_settings.get("versioning")) or the_bucket.kind == "shared"
    calls = variable_calls(service, c) + [
        CliCall(
            c,
            "ECR.DescribeRepositories",
            "ecr:DescribeRepositories",
            service.arn(
                "arn:{partition}:ecr:{region}:{account}:repository/{name}",
                f"serverless-{service.name}-{service.stage}".lower(),
            ),
            "serverless-cli.md §3.3",
            tolerated=True,
        ),
        CliCall(
            c,
            "CloudFormation.DescribeStacks (termination protection)",
            "cloudformation:DescribeStacks",
            stack,
            "serverless-cli.md §3.3 (osls 4.x)",
            tolerated=True,
        ),
    ]
    if the_bucket.kind == "stack":
        calls.append(
            CliCall(
                c,
                "CloudFormation.DescribeStackResource",
                "cloudformation:DescribeStackResource",
                stack,
                "serverless-cli.md §3.3",
            )
        )
    elif the_bucket.kind == "shared":
        calls += shared_bucket_calls(service, c, the_bucket, first_deploy=False)
    calls.append(CliCall(c, "S3.HeadBucket", "s3:ListBucket", bucket, "serverless-cli.md §3.3"))
    if versioned:
        calls += [
            CliCall(c, "S3.ListObjectVersions", "s3:ListBucketVersions", bucket, "serverless-cli.md §3.3"),
            CliCall(c, "S3.DeleteObjects", "s3:DeleteObject", objects, "serverless-cli.md §3.3"),
            CliCall(c, "S3.DeleteObjects (versions)", "s3:DeleteObjectVersion", objects, "serverless-cli.md §3.3"),
        ]
    else:
        calls += [
            CliCall(c, "S3.ListObjectsV2", "s3:ListBucket", bucket, "serverless-cli.md §3.3"),
            CliCall(c, "S3.DeleteObjects", "s3:DeleteObject", objects, "serverless-cli.md §3.3"),
        ]
    calls += _pass_role(service, c)
    calls += [
        CliCall(
            c,
            "CloudFormation.DeleteStack",
            "cloudformation:DeleteStack",
            stack,
            "serverless-cli.md §3.3",
            stack_op="delete-stack",
        ),
        CliCall(
            c,
            "CloudFormation.DescribeStackEvents",
            "cloudformation:DescribeStackEvents",
            stack,
            "serverless-cli.md §3.3",
        ),
    ]
    images = image_calls(service, c)
    if images:  # the repository the Framework created for the images
        calls.append(CliCall(c, "ECR.DeleteRepository", "ecr:DeleteRepository", images[0].resource,
                             "serverless-cli.md §3.3"))
    return calls


def other_calls(service: Service, command: str, variant: str | None = None) -> list[CliCall]:
    variant = variant or service.framework.primary
    the_bucket = deployment_bucket(service, variant)
    stack, bucket, objects = service.stack_arn, the_bucket.arn, the_bucket.objects
    fns = [service.arn("arn:{partition}:lambda:{region}:{account}:function:{name}", f) for f in service.function_names]
    if command == "info":
        return [
            CliCall(
                command,
                "CloudFormation.DescribeStacks",
                "cloudformation:DescribeStacks",
                stack,
                "serverless-cli.md §3.4",
            ),
            CliCall(
                command,
                "CloudFormation.ListStackResources",
                "cloudformation:ListStackResources",
                stack,
                "serverless-cli.md §3.4",
            ),
        ]
    if command == "deploy-function":
        out = []
        for fn in fns:
            out += [
                CliCall(command, "Lambda.GetFunction", "lambda:GetFunction", fn, "serverless-cli.md §3.2"),
                CliCall(
                    command, "Lambda.UpdateFunctionCode", "lambda:UpdateFunctionCode", fn, "serverless-cli.md §3.2"
                ),
                CliCall(
                    command,
                    "Lambda.UpdateFunctionConfiguration",
                    "lambda:UpdateFunctionConfiguration",
                    fn,
                    "serverless-cli.md §3.2",
                ),
            ]
        return out
    if command == "logs":
        groups = [
            service.arn("arn:{partition}:logs:{region}:{account}:log-group:{name}:*", f"/aws/lambda/{f}")
            for f in service.function_names
        ]
        out = []
        for group in groups:
            out += [
                CliCall(
                    command,
                    "CloudWatchLogs.DescribeLogStreams",
                    "logs:DescribeLogStreams",
                    group,
                    "serverless-cli.md §3.4",
                ),
                CliCall(
                    command, "CloudWatchLogs.FilterLogEvents", "logs:FilterLogEvents", group, "serverless-cli.md §3.4"
                ),
            ]
        return out
    if command == "rollback":
        out = []
        if the_bucket.kind == "shared":
            out += shared_bucket_calls(service, command, the_bucket, first_deploy=False)
        elif the_bucket.kind == "stack":
            out.append(
                CliCall(
                    command,
                    "CloudFormation.DescribeStackResource",
                    "cloudformation:DescribeStackResource",
                    stack,
                    "serverless-cli.md §3.4",
                )
            )
        out += [
            CliCall(command, "S3.ListObjectsV2", "s3:ListBucket", bucket, "serverless-cli.md §3.4"),
            CliCall(command, "S3.GetObject (serverless-state.json)", "s3:GetObject", objects, "serverless-cli.md §3.4"),
        ]
        out += _pass_role(service, command)
        if deployment_method(variant, service.provider) == "changesets":
            for api in ("DeleteChangeSet", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet"):
                out.append(
                    CliCall(
                        command,
                        f"CloudFormation.{api}",
                        f"cloudformation:{api}",
                        stack,
                        "serverless-cli.md §3.4",
                        stack_op="update-stack" if api == "ExecuteChangeSet" else None,
                    )
                )
        else:
            out.append(
                CliCall(
                    command,
                    "CloudFormation.UpdateStack",
                    "cloudformation:UpdateStack",
                    stack,
                    "serverless-cli.md §3.4",
                    stack_op="update-stack",
                )
            )
        out.append(
            CliCall(
                command,
                "CloudFormation.DescribeStackEvents",
                "cloudformation:DescribeStackEvents",
                stack,
                "serverless-cli.md §3.4",
            )
        )
        return out
    raise ValueError(f"unknown command {command!r}")


def cli_calls(
    service: Service, command: str, *, first_deploy: bool = False, variant: str | None = None
) -> list[CliCall]:
    """The CLI's own calls for one command, in order, as ``variant``'s CLI makes them (default: the
    service's primary Framework variant)."""
    if command == "deploy":
        return deploy_calls(service, first_deploy=first_deploy, variant=variant)
    if command == "remove":
        return remove_calls(service, variant)
    return other_calls(service, command, variant)


def all_cli_calls(service: Service, commands: tuple[str, ...]) -> list[CliCall]:
    """Every call of the commands, for every candidate Framework variant of the service (a deploy counts
    both as the first deploy and as a later one)."""
    out: list[CliCall] = []
    for variant in service.framework.variants:
        for command in commands:
            if command == "deploy":
                out += deploy_calls(service, first_deploy=True, variant=variant)
                out += deploy_calls(service, first_deploy=False, variant=variant)
            else:
                out += cli_calls(service, command, variant=variant)
    return out

"""The Service: a compiled Serverless package (or a bare template) with its names and resource ARNs."""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamfit.errors import BadInputError, UsageError
from iamfit.knowledge.arn import Arn, is_account_id
from iamfit.knowledge.arns import NAME_RULES, PARENT_PROPERTY, event_bus_name, fill_arn, generated_name_pattern
from iamfit.knowledge.regions import partition_of, unknown_region_message
from iamfit.service.framework import (
    NOT_TOLD,
    VARIANTS,
    Framework,
    deployment_method,
    detect_framework,
    untold_warning,
)
from iamfit.service.graph import ResourceGraph
from iamfit.service.identity import PackageRecord, read_package_record, resolve_identity
from iamfit.service.template import EXPANDED_TEMPLATE, load_template

UPDATE_TEMPLATE = "cloudformation-template-update-stack.json"
CREATE_TEMPLATE = "cloudformation-template-create-stack.json"
STATE_FILE = "serverless-state.json"
CORE_RESOURCES = ("ServerlessDeploymentBucket", "ServerlessDeploymentBucketPolicy")
_ARTIFACT_KEY = re.compile(r"^(?P<prefix>.+?)/(?P<service>[^/]+)/(?P<stage>[^/]+)/(?P<dir>\d{13}-[^/]+)/")
_SUB_VAR = re.compile(r"\$\{([^}]+)\}")

STAGE_HACK_TRIGGERS = ("tags", "stackTags")
NO_ACCOUNT_WARNING = "no --account given: ARNs use '*' for the account id"


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    properties: dict[str, Any] = field(compare=False, hash=False)
    raw: dict[str, Any] = field(compare=False, hash=False)


@dataclass(frozen=True)
class Service:
    """Everything iamfit knows about one service at one stage, region and account.

    Frozen: a Service for another account is a new one (``with_account``), so no caller sees its ARNs change
    under it. (``warnings`` stays a list that the deploy targets add notes to.)"""

    name: str
    stage: str
    region: str
    template: dict[str, Any]
    core_template: dict[str, Any]
    provider: dict[str, Any] = field(default_factory=dict)
    account: str | None = None
    partition: str = "aws"
    stack_name: str = ""
    source: Path | None = None
    artifact_dir: str | None = None
    warnings: list[str] = field(default_factory=list)
    framework: Framework = NOT_TOLD  # which Framework CLI deploys it (iamfit.service.framework)
    plugins: tuple[str, ...] | None = None  # the plugins serverless-state.json names; None: no record of them

    def __post_init__(self) -> None:
        if not self.stack_name:
            object.__setattr__(self, "stack_name", str(self.provider.get("stackName") or f"{self.name}-{self.stage}"))

    def with_account(self, account: str | None) -> Service:
        """This service in ``account``: every ARN, ``AWS::AccountId`` and report identity built from the new one
        names it (nothing derived from the account is cached, the copy starts with fresh cached templates).
        Given an account, the "no --account given" warning no longer holds and is left out."""
        warnings = [w for w in self.warnings if w != NO_ACCOUNT_WARNING] if account is not None else list(self.warnings)
        return dataclasses.replace(self, account=account, warnings=warnings)

    def identity(self) -> dict[str, Any]:
        """Which service, stage, region, account and stack a report is about."""
        return {
            "service": self.name,
            "stage": self.stage,
            "region": self.region,
            "account": self.account,
            "stack": self.stack_name,
        }

    # --- configuration the Framework reads -----------------------------------------------------------
    @property
    def account_or_wildcard(self) -> str:
        return self.account or "*"

    @property
    def deployment_role(self) -> str | None:
        iam = self.provider.get("iam") if isinstance(self.provider.get("iam"), dict) else {}
        role = (iam or {}).get("deploymentRole", self.provider.get("cfnRole"))
        return role if isinstance(role, str) else None

    @property
    def custom_bucket(self) -> str | None:
        bucket = self.provider.get("deploymentBucket")
        if isinstance(bucket, str):
            return bucket
        if isinstance(bucket, dict) and isinstance(bucket.get("name"), str):
            return str(bucket["name"])
        return None

    @property
    def bucket_settings(self) -> dict[str, Any]:
        bucket = self.provider.get("deploymentBucket")
        return bucket if isinstance(bucket, dict) else {}

    @property
    def deployment_method(self) -> str:
        """How the (primary) Framework CLI makes stack changes: ``changesets`` or ``direct``."""
        return deployment_method(self.framework.primary, self.provider)

    @property
    def deployment_prefix(self) -> str:
        return str(self.provider.get("deploymentPrefix") or "serverless")

    @property
    def artifact_prefix(self) -> str:
        return f"{self.deployment_prefix}/{self.name}/{self.stage}"

    @property
    def stack_tags(self) -> dict[str, str]:
        tags = {"STAGE": self.stage}
        for key in ("stackTags", "tags"):
            value = self.provider.get(key)
            if isinstance(value, dict):
                tags.update({str(k): str(v) for k, v in value.items()})
        return tags

    @property
    def has_rest_api(self) -> bool:
        return any(r.type == "AWS::ApiGateway::RestApi" for r in self.resources.values()) or bool(
            (self.provider.get("apiGateway") or {}).get("restApiId")
            if isinstance(self.provider.get("apiGateway"), dict)
            else False
        )

    @property
    def api_gateway_stage_update(self) -> bool:
        """True when the Framework updates the REST API stage itself after deploy (serverless-cli.md row 17)."""
        if not self.has_rest_api:
            return False
        tracing = self.provider.get("tracing")
        logs = self.provider.get("logs")
        api = self.provider.get("apiGateway")
        return bool(
            self.provider.get("tags")
            or self.provider.get("stackTags")
            or (isinstance(tracing, dict) and tracing.get("apiGateway"))
            or (isinstance(logs, dict) and logs.get("restApi"))
            or (isinstance(api, dict) and api.get("metrics"))
        )

    # --- resources -------------------------------------------------------------------------------------
    @functools.cached_property
    def resources(self) -> dict[str, Resource]:
        out = {}
        for logical_id, body in sorted(self.template["Resources"].items()):
            out[logical_id] = Resource(logical_id, body["Type"], body.get("Properties") or {}, body)
        return out

    @functools.cached_property
    def core_resources(self) -> dict[str, Resource]:
        return {
            lid: Resource(lid, body["Type"], body.get("Properties") or {}, body)
            for lid, body in sorted(self.core_template.get("Resources", {}).items())
        }

    @functools.cached_property
    def graph(self) -> ResourceGraph:
        return ResourceGraph(self.template["Resources"])

    @property
    def function_names(self) -> tuple[str, ...]:
        names = []
        for res in self.resources.values():
            if res.type == "AWS::Lambda::Function":
                names.append(self.physical_name(res.logical_id))
        return tuple(sorted(names))

    def lambda_runtimes(self) -> dict[str, list[str]]:
        """Managed runtime -> the functions that use it (``FunctionName`` when literal, else the logical id):
        the ``Runtime`` of every AWS::Lambda::Function in the compiled template, where the Framework writes
        ``provider.runtime`` as each function's default. Image functions and runtimes given by an intrinsic
        are left out."""
        out: dict[str, list[str]] = {}
        for res in self.resources.values():
            runtime = res.properties.get("Runtime")
            if res.type == "AWS::Lambda::Function" and isinstance(runtime, str) and runtime:
                name = res.properties.get("FunctionName")
                out.setdefault(runtime, []).append(name if isinstance(name, str) and name else res.logical_id)
        return {runtime: sorted(names) for runtime, names in sorted(out.items())}

    # --- names and ARNs --------------------------------------------------------------------------------
    def arn(self, template: str, name: str = "*") -> str:
        return fill_arn(
            template, partition=self.partition, region=self.region, account=self.account_or_wildcard, name=name
        )

    @property
    def stack_arn(self) -> str:
        return f"arn:{self.partition}:cloudformation:{self.region}:{self.account_or_wildcard}:stack/{self.stack_name}/*"

    @property
    def change_set_arn(self) -> str:
        return (
            f"arn:{self.partition}:cloudformation:{self.region}:{self.account_or_wildcard}:"
            f"changeSet/{self.stack_name}-change-set/*"
        )

    @property
    def bucket_name_pattern(self) -> str:
        if self.custom_bucket:
            return self.custom_bucket
        return generated_name_pattern(self.stack_name, "ServerlessDeploymentBucket", NAME_RULES["AWS::S3::Bucket"])

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket_name_pattern}"

    @property
    def artifacts_arn(self) -> str:
        return f"{self.bucket_arn}/{self.artifact_prefix}/*"

    def physical_name(self, logical_id: str) -> str:
        """The resource's name, or a pattern of it when CloudFormation generates it (``*`` if unknowable)."""
        res = self.resources.get(logical_id) or self.core_resources.get(logical_id)
        if res is None:
            return "*"
        rule = NAME_RULES.get(res.type)
        if rule is None:
            return "*"
        if rule.name_property and rule.name_property in res.properties:
            return self.resolve_one(res.properties[rule.name_property])
        if rule.generated and rule.name_property:
            return generated_name_pattern(self.stack_name, logical_id, rule)
        return "*"

    def resource_arns(self, logical_id: str) -> tuple[str, ...]:
        """ARN patterns of what operations on this resource act upon (its own ARN, or its parent's)."""
        res = self.resources.get(logical_id) or self.core_resources.get(logical_id)
        if res is None:
            return ()
        rule = NAME_RULES.get(res.type)
        if rule is not None:
            arn = self.arn(rule.arn, self.physical_name(logical_id)) if "{name}" in rule.arn else self.arn(rule.arn)
            if res.type == "AWS::Events::Rule" and "EventBusName" in res.properties:
                bus = event_bus_name(self.resolve_one(res.properties["EventBusName"]))
                if bus:
                    arn = arn.replace(":rule/", f":rule/{bus}/", 1)
            if res.type == "AWS::Timestream::Table" and "DatabaseName" in res.properties:
                arn = arn.replace(":database/*/", f":database/{self.resolve_one(res.properties['DatabaseName'])}/", 1)
            if res.type == "AWS::IAM::Role":
                path = res.properties.get("Path")
                if isinstance(path, str) and path not in ("", "/"):
                    arn = arn.replace(":role/", f":role{path}")
            return (arn,)
        parent = PARENT_PROPERTY.get(res.type)
        if parent is not None:
            prop, parent_type = parent
            values = self.resolve(res.properties.get(prop))
            parent_rule = NAME_RULES[parent_type]
            arns: list[str] = []
            for value in values:
                if value.startswith("arn:") and parent_type == "AWS::Lambda::Function" and value.endswith(":*") \
                        and value.count(":") == 7:
                    # a version's ARN (Ref of an AWS::Lambda::Version: a Lambda@Edge permission): the calls act on
                    # the qualified ARN; the function's own ARN as for AWS::Lambda::Version itself
                    arns.extend((value[:-2], value))
                elif value.startswith("arn:"):
                    arns.append(value.split(":*")[0] + (":*" if parent_type == "AWS::Logs::LogGroup" else ""))
                elif parent_type == "AWS::SQS::Queue" and value.startswith("https://"):
                    arns.append(self.arn(parent_rule.arn, value.rsplit("/", 1)[-1]))
                else:
                    arns.append(self.arn(parent_rule.arn, value))
            if res.type == "AWS::Lambda::Version":
                arns = arns + [a + ":*" for a in arns]
            return tuple(sorted(set(arns))) or (self.arn(parent_rule.arn),)
        if res.type.startswith("AWS::ApiGateway::"):
            return (self.arn(NAME_RULES["AWS::ApiGateway::RestApi"].arn),)
        if res.type.startswith("AWS::ApiGatewayV2::"):
            return (self.arn(NAME_RULES["AWS::ApiGatewayV2::Api"].arn),)
        return ()

    # --- intrinsic functions, resolved to strings with ``*`` where the value is not knowable ------------
    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_or_wildcard,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": self.stack_arn,
            "AWS::NoValue": "",
        }.get(name)

    def _ref(self, name: str) -> str:
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        res = self.resources.get(name) or self.core_resources.get(name)
        if res is None:
            return "*"  # a parameter or something outside the template
        if res.type == "AWS::Lambda::Version":
            # Ref is the version's ARN, function:<name>:<version> (CloudFormation reference, AWS::Lambda::Version,
            # Return values); the number is the service's to give
            qualified = [a for a in self.resource_arns(name) if a.endswith(":*")]
            return qualified[0] if qualified else "*"
        rule = NAME_RULES.get(res.type)
        if rule is None or rule.ref == "id":
            return "*"
        if rule.ref == "arn":
            return self.resource_arns(name)[0]
        if rule.ref == "url":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account_or_wildcard}/{self.physical_name(name)}"
        return self.physical_name(name)

    def _get_att(self, target: str, attribute: str) -> str:
        res = self.resources.get(target) or self.core_resources.get(target)
        if res is None:
            return "*"
        if attribute == "Arn":
            arns = self.resource_arns(target)
            if arns:
                return arns[0].removesuffix(":*") if res.type == "AWS::Logs::LogGroup" else arns[0]
        if attribute in ("QueueName", "TopicName", "Name") and res.type in NAME_RULES:
            return self.physical_name(target)
        return "*"

    def resolve(self, value: Any) -> tuple[str, ...]:
        """All strings a value may evaluate to (lists flatten); unknowable parts become ``*``."""
        if value is None:
            return ()
        if isinstance(value, list):
            return tuple(s for v in value for s in self.resolve(v))
        return (self.resolve_one(value),)

    def resolve_one(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float, bool)):
            return str(value).lower() if isinstance(value, bool) else str(value)
        if isinstance(value, dict) and len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref" and isinstance(arg, str):
                return self._ref(arg)
            if fn == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
                if len(parts) == 2 and all(isinstance(p, str) for p in parts):
                    return self._get_att(parts[0], parts[1])
                return "*"
            if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
                items = arg[1] if isinstance(arg[1], list) else [arg[1]]
                return arg[0].join(self.resolve_one(i) for i in items)
            if fn == "Fn::Sub":
                text, local = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
                if not isinstance(text, str) or not isinstance(local, dict):
                    return "*"
                return _SUB_VAR.sub(lambda m: self._sub_var(m.group(1), local), text)
            if fn == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
                a, b = self.resolve_one(arg[1]), self.resolve_one(arg[2])
                return a if a == b or not b else (b if not a else "*")
            if fn == "Fn::Select" and isinstance(arg, list) and len(arg) == 2:
                options = self.resolve(arg[1])
                try:
                    return options[int(self.resolve_one(arg[0]))]
                except (ValueError, IndexError):
                    return "*"
        return "*"

    def _sub_var(self, name: str, local: dict[str, Any]) -> str:
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in local:
            return self.resolve_one(local[name])
        if "." in name:
            target, attribute = name.split(".", 1)
            return self._get_att(target, attribute)
        return self._ref(name)


def _read_json(path: Path) -> Any:
    from iamfit.files import read_json

    return read_json(path)


def _config_text(directory: Path) -> str:
    """serverless.yml's text in ``directory`` ("" when there is none or it cannot be read)."""
    from iamfit.files import read_text
    from iamfit.service.compile import config_file

    path = config_file(directory) if directory.is_dir() else None
    if path is None:
        return ""
    try:
        return read_text(path, "serverless.yml", lenient=True)
    except BadInputError:  # the identity and the compile step report an unreadable config
        return ""


def _derive_core(template: dict[str, Any]) -> dict[str, Any]:
    resources = {k: v for k, v in template["Resources"].items() if k in CORE_RESOURCES}
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}


def transform_warning(template: dict[str, Any]) -> str | None:
    """The warning for a template that declares a ``Transform`` (SAM, AWS::LanguageExtensions, a macro):
    CloudFormation expands it when it deploys; iamfit reads the template as written (CloudFormation User Guide,
    "Transform": macros process the template before the change set is created)."""
    declared = template.get("Transform")
    if not declared:
        return None
    names = [declared] if isinstance(declared, str) else declared if isinstance(declared, list) else [declared]
    shown = ", ".join(n if isinstance(n, str) else str(n.get("Name", "?")) if isinstance(n, dict) else "?"
                      for n in names)
    return (f"the template declares Transform {shown}: CloudFormation expands it when it deploys, iamfit reads the "
            "template as written, so what the transform adds is not predicted (its own types are named as not "
            f"described); {EXPANDED_TEMPLATE}")


def load_service(
    path: Path,
    *,
    stage: str | None = None,
    region: str | None = None,
    account: str | None = None,
    compile_if_needed: bool = True,
    service_name: str | None = None,
    framework: str | None = None,
) -> Service:
    """A service from a service directory, a ``.serverless`` package directory, or a template file.

    Its name, stage and region come from the flags, else the package's serverless-state.json, else the names the
    Framework compiled into the template (iamfit.service.identity); a bare template that does not tell is bad input."""
    if account is not None and not is_account_id(account):
        raise UsageError(f"--account must be a 12-digit AWS account id, got {account!r:.40}")
    if region is not None and partition_of(region) is None:
        raise UsageError(unknown_region_message(region))
    if framework is not None and framework not in VARIANTS:
        raise UsageError(f"--framework must be one of {', '.join(VARIANTS)}, got {framework!r:.40}")
    if not path.exists():
        raise BadInputError(f"{path}: no such file or directory")
    record: PackageRecord | None = None
    package_dir = path.parent
    if path.is_dir():
        package = path
        from iamfit.service.compile import compile_service, config_file, needs_compile

        if config_file(path) is not None:

            package = path / ".serverless"
            if compile_if_needed and needs_compile(path):
                package = compile_service(path, stage=stage, region=region)
        elif (path / ".serverless" / UPDATE_TEMPLATE).exists():
            package = path / ".serverless"
        if not (package / UPDATE_TEMPLATE).exists():
            raise BadInputError(
                f"{path}: no serverless.yml and no compiled package ({UPDATE_TEMPLATE}); "
                "pass a service directory, its .serverless directory, or a template file"
            )
        package_dir = package
        template = load_template(package / UPDATE_TEMPLATE)
        create = package / CREATE_TEMPLATE
        core = load_template(create) if create.exists() else _derive_core(template)
        if (package / STATE_FILE).exists():
            record = read_package_record(_read_json(package / STATE_FILE), package / STATE_FILE)
    else:
        template = load_template(path)
        core = _derive_core(template)
        # The Framework's template inside its .serverless directory: the package's record sits next to it.
        if path.name == UPDATE_TEMPLATE and (path.parent / STATE_FILE).exists():
            record = read_package_record(_read_json(path.parent / STATE_FILE), path.parent / STATE_FILE)
    source = path
    ident = resolve_identity(path, template, record, service=service_name, stage=stage, region=region)
    warnings: list[str] = list(ident.warnings)
    provider = ident.provider
    artifact_dir = ident.artifact_dir
    name, the_stage, the_region = ident.name, ident.stage, ident.region
    partition = partition_of(the_region)
    if partition is None:  # not from --region (checked above): the package names it
        raise BadInputError(unknown_region_message(the_region, f"{source}: provider.region"))
    service_dir = package_dir.parent if package_dir.name == ".serverless" else package_dir
    found = detect_framework(
        override=framework,
        template=template,
        provider=provider,
        service_dir=service_dir,
        package_dir=package_dir,
        config_text=_config_text(service_dir),
        recorded_version=record.framework_version if record is not None else None,
    )
    untold = untold_warning(found)
    if untold is not None:
        warnings.append(untold)
    transform = transform_warning(template)
    if transform is not None:
        warnings.append(transform)
    service = Service(
        name=name,
        stage=the_stage,
        region=the_region,
        template=template,
        core_template=core,
        provider=provider,
        partition=partition,
        source=source,
        artifact_dir=artifact_dir,
        warnings=warnings,
        framework=found,
        plugins=record.plugins if record is not None else None,
    )
    if account is None and service.deployment_role:
        role = Arn.parse_or_none(service.deployment_role)
        account = role.account_id if role is not None else None
    if account is None:
        service.warnings.append(NO_ACCOUNT_WARNING)
    else:
        service = service.with_account(account)
    try:
        _ = service.graph  # validate the dependency graph early (cycles are bad input)
    except BadInputError as exc:
        if transform is None:
            raise
        # a SAM template's function and API name each other before the transform splits them: not a cycle then
        raise BadInputError(f"{exc.message}; the template declares a Transform, which iamfit does not run: "
                            f"{EXPANDED_TEMPLATE}") from None
    return service

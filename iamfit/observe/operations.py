"""Which API operation an HTTP request to AWS is, and its parameters, from botocore's service models.

The service is the SigV4 signing name of the request's ``Authorization`` header (its credential scope); the
operation, by the model's protocol:

* ``json``: the ``X-Amz-Target`` header, ``<targetPrefix>.<Operation>``;
* ``query`` / ``ec2``: the ``Action`` parameter (form body or query string);
* ``smithy-rpc-v2-cbor``: the path ``/service/<service>/operation/<Operation>``;
* ``rest-json`` / ``rest-xml``: the HTTP method and the path matched against each operation's ``requestUri``
  template (labels, greedy ``{Key+}`` labels, literal query keys such as ``?tagging``); among several matches
  the most specific wins (most literal query keys, then its required headers and query parameters present,
  then most literal path).

Parameters are the operation's input members the request carries: the JSON body's top-level keys, the form's
keys, the URI labels and query-string members (by member name). Request bodies of rest-xml operations are not
read (S3 uploads: their resource is in the URI), except the object keys of S3 ``DeleteObjects``.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([a-z0-9-]+)/([A-Za-z0-9-]+)/aws4_request")
_XML_KEY = re.compile(rb"<Key>([^<]*)</Key>")
_CBOR_PATH = re.compile(r"^/service/([^/]+)/operation/([A-Za-z0-9]+)$")

# signing name -> botocore service names that sign with it, where the name alone does not say (botocore's
# metadata.signingName / endpointPrefix). Names not listed are tried as botocore service names as they are.
_SIGNING: dict[str, tuple[str, ...]] = {
    "apigateway": ("apigateway", "apigatewayv2"),
    "monitoring": ("cloudwatch",),
    "email": ("ses", "sesv2"),
    "elasticloadbalancing": ("elbv2", "elb"),
    "es": ("opensearch", "es"),
    "states": ("stepfunctions",),
    "execute-api": ("apigatewaymanagementapi",),
    "cognito-idp": ("cognito-idp",),
    "events": ("events",),
    "iam": ("iam",),
    "s3": ("s3", "s3control"),
    "lambda": ("lambda",),
}


@dataclass(frozen=True)
class Request:
    """What the recorder saw of one HTTP request (``path`` as sent, percent-encoded)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""


@dataclass(frozen=True)
class Resolved:
    service: str  # signing name (the endpoint prefix)
    region: str
    access_key: str
    operation: str | None
    model: str | None = None  # botocore service name
    parameters: dict[str, Any] = field(default_factory=dict)


def credential_scope(headers: Mapping[str, str], query: Mapping[str, list[str]]) -> tuple[str, str, str] | None:
    """(access key, region, signing name) from the SigV4 Authorization header or a presigned query."""
    text = headers.get("authorization", "")
    found = _CREDENTIAL.search(text)
    if found:
        return found.group(1), found.group(3), found.group(4)
    cred = (query.get("X-Amz-Credential") or [""])[0].split("/")
    if len(cred) == 5:
        return cred[0], cred[2], cred[3]
    return None


@functools.cache
def _model(name: str) -> Any:
    import botocore.exceptions
    import botocore.session

    try:
        return botocore.session.get_session().get_service_model(name)
    except botocore.exceptions.UnknownServiceError:
        return None


@functools.cache
def _templates(name: str) -> tuple[tuple[str, re.Pattern[str], tuple[str, ...], tuple[str, ...], int, str], ...]:
    """Per operation of a rest model: (method, path regex, literal query keys, label member names, literal
    length, operation name)."""
    model = _model(name)
    out = []
    for op_name in model.operation_names:
        op = model.operation_model(op_name)
        uri = op.http.get("requestUri", "/")
        path, _, q = uri.partition("?")
        regex, labels, literal = "", [], 0
        for part in re.split(r"(\{[^}]+\})", path):
            if part.startswith("{"):
                label = part[1:-1]
                greedy = label.endswith("+")
                labels.append(label.rstrip("+"))
                regex += "(.+)" if greedy else "([^/]+)"
            else:
                regex += re.escape(part)
                literal += len(part)
        keys = tuple(sorted(k.split("=", 1)[0] for k in q.split("&") if k))
        out.append((op.http.get("method", "POST"), re.compile(f"^{regex.rstrip('/')}/?$" if regex != "/" else "^/?$"),
                    keys, tuple(labels), literal, op_name))
    return tuple(out)


def _member_names(op: Any, location: str) -> dict[str, str]:
    """wire name -> member name of the operation's input members at ``location`` (uri, querystring, header)."""
    shape = op.input_shape
    if shape is None:
        return {}
    return {
        (member.serialization.get("name") or name): name
        for name, member in shape.members.items()
        if member.serialization.get("location") == location
    }


def _rest(name: str, request: Request, query: Mapping[str, list[str]]) -> tuple[str, dict[str, Any]] | None:
    model = _model(name)
    path = request.path.rstrip("/") or "/"  # as sent: a label's "/" is %2F, a greedy label's is "/"
    best: tuple[tuple[int, int, int], str, dict[str, Any]] | None = None
    for method, regex, keys, labels, literal, op_name in _templates(name):
        if method != request.method:
            continue
        found = regex.match(path)
        if found is None or any(k not in query for k in keys):
            continue
        op = model.operation_model(op_name)
        required = set(op.input_shape.required_members) if op.input_shape is not None else set()
        headers = _member_names(op, "header")
        queries = _member_names(op, "querystring")
        missing = [wire for wire, member in {**headers, **queries}.items()
                   if member in required and wire.lower() not in request.headers and wire not in query]
        if missing:
            continue
        present = sum(1 for wire in headers if wire.lower() in request.headers) + sum(1 for w in queries if w in query)
        score = (len(keys), present, literal)
        if best is None or score > best[0]:
            uri = _member_names(op, "uri")
            params: dict[str, Any] = {uri.get(label, label): urllib.parse.unquote(value)
                                      for label, value in zip(labels, found.groups(), strict=True)}
            for wire, member in queries.items():
                if wire in query:
                    params[member] = query[wire][0]
            if model.metadata.get("protocol") == "rest-json" and request.body:
                params.update(_json_object(request.body))
            if op_name == "DeleteObjects" and request.body:  # the keys are the resources (s3:DeleteObject each)
                names = [html.unescape(k.decode("utf-8", "replace")) for k in _XML_KEY.findall(request.body)]
                params["Delete"] = {"Objects": [{"Key": k} for k in names]}
            best = (score, op_name, params)
    return (best[1], best[2]) if best else None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _form(request: Request, query: Mapping[str, list[str]]) -> dict[str, list[str]]:
    form = dict(query)
    if request.method == "POST" and request.body:
        try:
            form.update(urllib.parse.parse_qs(request.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            pass
    return form


def _candidates(signing: str) -> tuple[str, ...]:
    return _SIGNING.get(signing, (signing,))


def resolve(request: Request) -> Resolved | None:
    """The operation ``request`` calls, or None when it is not a signed AWS request. ``operation`` is None when
    no model of the signing name has a matching operation."""
    query = urllib.parse.parse_qs(request.query, keep_blank_values=True)
    scope = credential_scope(request.headers, query)
    if scope is None:
        return None
    access_key, region, signing = scope
    target = request.headers.get("x-amz-target", "")
    form: dict[str, list[str]] | None = None
    for name in _candidates(signing):
        model = _model(name)
        if model is None:
            continue
        protocol = model.metadata.get("protocol", "")
        if target:
            prefix, _, operation = target.rpartition(".")
            if prefix == model.metadata.get("targetPrefix") and operation in model.operation_names:
                return Resolved(signing, region, access_key, operation, name, _json_object(request.body))
            continue
        cbor = _CBOR_PATH.match(request.path)
        if cbor and cbor.group(2) in model.operation_names:
            return Resolved(signing, region, access_key, cbor.group(2), name, {})
        if protocol in ("query", "ec2") or "query" in model.metadata.get("protocols", ()):
            form = _form(request, query) if form is None else form
            action = (form.get("Action") or [""])[0]
            if action in model.operation_names:
                params = {k: v[0] if len(v) == 1 else v for k, v in sorted(form.items())
                          if k not in ("Action", "Version")}
                return Resolved(signing, region, access_key, action, name, params)
            continue
        if protocol in ("rest-json", "rest-xml"):
            found = _rest(name, request, query)
            if found is not None:
                return Resolved(signing, region, access_key, found[0], name, found[1])
    logger.info("no operation of %s matches %s %s", signing, request.method, request.path)
    return Resolved(signing, region, access_key, None)

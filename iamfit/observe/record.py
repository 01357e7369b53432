"""Recording the requests that reach the local AWS: a WSGI middleware in front of moto.

Each request made while a phase is set becomes a :class:`Call`: its service (signing name), operation and
parameters (:mod:`iamfit.observe.operations`), the phase, the user agent, the HTTP status moto answered, and its
source (:func:`source_of`).
"""

from __future__ import annotations

import io
import logging
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from iamfit.observe.operations import Request, resolve

logger = logging.getLogger(__name__)

CLI = "cli"
# The header iamfit's Node preload (iamfit/observe/node/source.js) adds to the CLI's requests made by a plugin's
# ``provider.request``: the plugin's package, read from the stack of that call.
SOURCE_HEADER = "x-iamfit-source"
# A Serverless plugin named in the user agent (a plugin that sets its own customUserAgent, e.g.
# "serverless-domain-manager/7.x"), the Framework itself excepted.
_PLUGIN_AGENT = re.compile(r"\b((?:@[a-z0-9-]+/)?serverless-[a-z0-9-]+)(?:/[0-9][^\s]*)?", re.IGNORECASE)


def source_of(user_agent: str, stack: str = "") -> str:
    """``plugin:<name>`` when the user agent (or a recorded stack) names a Serverless plugin, else ``cli``."""
    for text in (user_agent, stack):
        for found in _PLUGIN_AGENT.finditer(text):
            name = found.group(1).lower()
            if name not in ("serverless", "serverless-framework"):
                return f"plugin:{name}"
    return CLI


@dataclass(frozen=True)
class Call:
    """One request the CLI made to the local AWS."""

    phase: str
    service: str
    operation: str | None
    parameters: dict[str, Any]
    region: str
    user_agent: str
    status: int
    source: str
    time: str
    method: str = ""
    path: str = ""
    model: str | None = None
    access_key: str = ""
    error_code: str | None = field(default=None)


class Recorder:
    """The recording middleware: ``wrap(app)`` is a WSGI app that records, then serves with ``app``."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.phase: str | None = None
        self._lock = threading.Lock()

    def wrap(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def recording(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            phase = self.phase
            if phase is None or environ.get("PATH_INFO", "").startswith("/moto-api"):
                return app(environ, start_response)
            body = _read_body(environ)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            status: list[int] = []

            def start(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                status.append(int(status_line.split(" ", 1)[0]))
                return start_response(status_line, headers, exc_info) if exc_info else start_response(
                    status_line, headers)

            out = list(app(environ, start))
            self._record(phase, environ, body, status[0] if status else 0, b"".join(out))
            return out

        return recording

    def _record(self, phase: str, environ: dict[str, Any], body: bytes, status: int, answer: bytes) -> None:
        headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
        if "CONTENT_TYPE" in environ:
            headers["content-type"] = str(environ["CONTENT_TYPE"])
        raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "").split("?", 1)[0]
        path = raw if raw.startswith("/") else urllib.parse.quote(environ.get("PATH_INFO", "/"))
        request = Request(environ.get("REQUEST_METHOD", "GET"), path,
                          environ.get("QUERY_STRING", ""), headers, body)
        try:
            resolved = resolve(request)
        except Exception:  # noqa: BLE001 - a model we cannot read must not break the server; the call stays
            logger.exception("cannot resolve %s %s", request.method, request.path)
            resolved = None
        if resolved is None:
            logger.info("unsigned request %s %s not recorded", request.method, request.path)
            return
        agent = headers.get("user-agent", "") + " " + headers.get("x-amz-user-agent", "")
        call = Call(
            phase=phase,
            service=resolved.service,
            operation=resolved.operation,
            parameters=resolved.parameters,
            region=resolved.region,
            user_agent=agent.strip(),
            status=status,
            source=source_of(agent, headers.get(SOURCE_HEADER, "")),
            time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            method=request.method,
            path=request.path,
            model=resolved.model,
            access_key=resolved.access_key,
            error_code=_error_code(answer) if status >= 400 else None,
        )
        with self._lock:
            self.calls.append(call)


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        return bytes(stream.read(int(length)))
    if environ.get("wsgi.input_terminated"):
        return bytes(stream.read())
    return b""


_CODE = re.compile(rb"<Code>([^<]+)</Code>|\"__type\"\s*:\s*\"(?:[^\"#]*#)?([^\"]+)\"|\"code\"\s*:\s*\"([^\"]+)\"")


def _error_code(answer: bytes) -> str | None:
    found = _CODE.search(answer[:4096])
    if not found:
        return None
    code = next(g for g in found.groups() if g)
    return code.decode("utf-8", "replace")

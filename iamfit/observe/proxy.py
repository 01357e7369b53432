"""The HTTPS proxy of ``iamfit observe``, for AWS SDK v2 clients (Serverless Framework v3, plugins calling
``provider.request``): they ignore ``AWS_ENDPOINT_URL`` (aws-sdk 2.x reads no such variable) but honour
``HTTPS_PROXY`` (the Framework's ``lib/aws/request.js`` installs an ``https-proxy-agent`` for ``proxy``,
``HTTP(S)_PROXY``) and Node trusts the CA in ``NODE_EXTRA_CA_CERTS``.

How it works: a CA is generated for this run only (the ``cryptography`` package); its private key stays in
memory and is never written anywhere. The proxy accepts ``CONNECT`` to AWS hosts only (the DNS suffixes of
botocore's ``partitions.json``: ``amazonaws.com``, ``api.aws``, ``amazonaws.com.cn``...), answers the tunnel
with a leaf certificate for that host signed by the run's CA, terminates TLS with the stdlib :mod:`ssl` and
forwards each decrypted HTTP request, its ``Host`` header kept (moto routes by host; a virtual-hosted S3
request is sent path-style, :func:`path_style`), to the local AWS's endpoint, whose recording middleware
records it. Every other destination is refused with 403 and noted
(:attr:`ObserveProxy.refused`): an observation never reaches a real service.

Files live in a private directory (0700) made under the run directory: the CA certificate (public, for
``NODE_EXTRA_CA_CERTS``), the leaf key (0600) and leaf certificates (the ``ssl`` module loads a certificate
chain from files only). The directory is removed when the context exits on every path: normal end,
exception, Ctrl-C (KeyboardInterrupt) and SIGTERM, which the context turns into KeyboardInterrupt while it is
open in the main thread (and restores afterwards). Only a SIGKILL can leave it; it then holds no CA key.
"""

from __future__ import annotations

import datetime
import functools
import http.client
import http.server
import ipaddress
import json
import logging
import os
import re
import selectors
import shutil
import signal
import socket
import socketserver
import ssl
import tempfile
import threading
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

logger = logging.getLogger(__name__)

# The Node preload that names the plugin behind a call (an ``x-iamfit-source`` header, passed through to the
# local AWS like every other header; iamfit.observe.record reads it).
SOURCE_JS = Path(__file__).parent / "node" / "source.js"
# Hop-by-hop headers (RFC 9110 7.6.1) and the ones this proxy recomputes: never forwarded.
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
    "trailer", "transfer-encoding", "upgrade", "expect", "content-length",
})
_IDLE_SECONDS = 120


@functools.cache
def aws_dns_suffixes() -> tuple[str, ...]:
    """Every partition's DNS suffix and dual-stack suffix, from botocore's ``partitions.json`` (the data the SDKs
    build endpoint host names from)."""
    import botocore

    path = Path(botocore.__file__).parent / "data" / "partitions.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    suffixes = set()
    for partition in data["partitions"]:
        outputs = partition["outputs"]
        suffixes.update({outputs["dnsSuffix"], outputs["dualStackDnsSuffix"]})
    return tuple(sorted(suffixes))


def is_aws_host(host: str) -> bool:
    """``host`` is an AWS service endpoint: it is, or ends in ``.``, one of the partitions' DNS suffixes."""
    host = host.lower().rstrip(".")
    return any(host == s or host.endswith("." + s) for s in aws_dns_suffixes())


# A virtual-hosted-style S3 host: BUCKET.s3[.-REGION|.dualstack.REGION|-accelerate...].amazonaws.com[.cn]
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html). S3 Control and Object Lambda
# hosts put an account id or access point there, not a bucket: they are left alone.
_S3_VIRTUAL_HOST = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.(?P<endpoint>s3(?!-control|-object-lambda)(?:[.-][a-z0-9-]+)*"
    r"\.amazonaws\.com(?:\.cn)?)$"
)


def path_style(host: str, path: str) -> tuple[str, str]:
    """A virtual-hosted-style S3 request as the path-style request it equals (same bucket, key and query):
    SDK v2 clients address buckets by host, SDK v3 clients through ``AWS_ENDPOINT_URL`` by path, and the local
    AWS's recorder reads the bucket from the path. Any other request is returned unchanged."""
    found = _S3_VIRTUAL_HOST.match(host.lower().rstrip("."))
    if found is None:
        return host, path
    bucket = found.group("bucket")
    if path == "/" or path.startswith("/?"):
        return found.group("endpoint"), f"/{bucket}{path[1:]}"
    return found.group("endpoint"), f"/{bucket}{path}"


def through_proxy(proxy: ObserveProxy, env: dict[str, str]) -> dict[str, str]:
    """What a CLI child's environment ``env`` gets for the proxy: :meth:`ObserveProxy.child_env`, the Node
    preload naming plugins (:data:`SOURCE_JS`) added to its ``NODE_OPTIONS``, npm's update check off."""
    node_options = f"{env.get('NODE_OPTIONS', '')} --require {json.dumps(str(SOURCE_JS))}".strip()
    # npx's own npm asks the npm registry whether npm is current (its update notifier): not the deployer's
    # call, and the proxy would refuse it (https://docs.npmjs.com/cli/v10/using-npm/config#update-notifier).
    return {**proxy.child_env(), "NODE_OPTIONS": node_options, "npm_config_update_notifier": "false"}


class CertificateAuthority:
    """A CA for one run: an EC P-256 key held in memory only, a self-signed certificate valid for a day, and
    leaf certificates for host names (one leaf key per run), for a TLS-intercepting proxy."""

    def __init__(self) -> None:
        now = datetime.datetime.now(datetime.UTC)
        self._not_before = now - datetime.timedelta(minutes=5)
        self._not_after = now + datetime.timedelta(days=1)
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "iamfit observe"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"iamfit observe run CA {now:%Y%m%dT%H%M%S}"),
        ])
        self._name = name
        ski = x509.SubjectKeyIdentifier.from_public_key(self._key.public_key())
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._not_before).not_valid_after(self._not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def leaf_key_pem(self) -> bytes:
        return self.leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def leaf_pem(self, host: str) -> bytes:
        """A server certificate for ``host`` (a DNS name, or an IP address), signed by this CA."""
        try:
            san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            san = x509.DNSName(host)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64])]))
            .issuer_name(self._name)
            .public_key(self.leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._not_before).not_valid_after(self._not_after)
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                           critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)


def _write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    proxy: ObserveProxy


class _TunnelHandler(http.server.BaseHTTPRequestHandler):
    """The HTTP/1.1 requests inside one decrypted CONNECT tunnel, each forwarded to the local AWS."""

    protocol_version = "HTTP/1.1"
    timeout = _IDLE_SECONDS

    def __init__(self, request: Any, client_address: Any, server: Any, proxy: ObserveProxy, host: str) -> None:
        self.proxy = proxy
        self.tunnel_host = host
        self.upstream: http.client.HTTPConnection | None = None
        super().__init__(request, client_address, server)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        logger.debug("tunnel %s: " + format, self.tunnel_host, *args)

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self) -> None:
        try:
            body = self._body()
        except ValueError:
            self.send_error(400, "malformed chunked body")
            self.close_connection = True
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP and k.lower() != "host"}
        host = (self.headers.get("Host") or self.tunnel_host).removesuffix(":443")  # the tunnel's port
        host, path = path_style(host, self.path)
        headers["Host"] = host
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        self.proxy.count_forwarded(self.tunnel_host)
        try:
            status, reason, response_headers, payload = self.proxy.send_upstream(
                self, self.command, path, body, headers)
        except OSError as exc:
            logger.warning("observe proxy: the local AWS did not answer %s %s (%s)", self.command, self.path, exc)
            self.send_error(502, "the local AWS did not answer")
            return
        self.send_response_only(status, reason)
        for name, value in response_headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        if self.command == "HEAD":
            length = {k.lower(): v for k, v in response_headers}.get("content-length", "0")
            self.send_header("Content-Length", length)
        else:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _forward

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self.upstream is not None:
                self.upstream.close()


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    """The proxy's front: CONNECT to an AWS host is intercepted; anything else is refused."""

    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_SECONDS

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("proxy: " + format, *args)

    def do_CONNECT(self) -> None:  # noqa: N802 (the stdlib's naming)
        proxy = self.server.proxy
        host, _, port = self.path.rpartition(":")
        host = host.strip("[]") if host else self.path
        if proxy.is_local_aws(host, port):
            self._pipe_to_local_aws(proxy)
            return
        if not is_aws_host(host):
            proxy.refuse(f"{host}:{port or 443}")
            self.send_error(403, "iamfit observe reaches AWS hosts only")
            self.close_connection = True
            return
        try:
            context = proxy.context_for(host)
        except (OSError, ValueError) as exc:
            logger.warning("observe proxy: no certificate for %s (%s)", host, exc)
            self.send_error(502, "no certificate")
            self.close_connection = True
            return
        self.send_response_only(200, "Connection Established")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        try:
            tls = context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            # A client that does not trust the run's CA ends here: note it, the call is not observed.
            proxy.note_tls_failure(host, exc)
            return
        try:
            _TunnelHandler(tls, self.client_address, self.server, proxy, host)
        except (ssl.SSLError, OSError) as exc:
            logger.debug("tunnel %s closed: %s", host, exc)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def _pipe_to_local_aws(self, proxy: ObserveProxy) -> None:
        """A tunnel to the local AWS itself, bytes passed as they are: a client that sends every request through
        the proxy, ``AWS_ENDPOINT_URL``'s too (osls's https-proxy-agent tunnels plain HTTP and reads no
        ``NO_PROXY``), reaches the recorder directly."""
        self.close_connection = True
        try:
            upstream = socket.create_connection(proxy.upstream, timeout=_IDLE_SECONDS)
        except OSError as exc:
            logger.warning("observe proxy: the local AWS did not answer a tunnel (%s)", exc)
            self.send_error(502, "the local AWS did not answer")
            return
        self.send_response_only(200, "Connection Established")
        self.end_headers()
        self.wfile.flush()
        client = self.connection
        with upstream, selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, client)
            while True:
                ready = selector.select(timeout=_IDLE_SECONDS)
                if not ready:
                    return
                for key, _ in ready:
                    try:
                        data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                        if not data:
                            return
                        key.data.sendall(data)
                    except OSError:
                        return

    def _refuse_plain(self) -> None:
        target = urlsplit(self.path)
        self.server.proxy.refuse(f"{self.command} {target.scheme or 'http'}://{target.netloc or self.path}")
        self.send_error(403, "iamfit observe proxies HTTPS (CONNECT) to AWS hosts only")
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _refuse_plain


class ObserveProxy:
    """The proxy, as a context manager: ``with ObserveProxy(run_dir, endpoint_url) as proxy: proxy.child_env()``.

    ``endpoint_url`` is the local AWS (``http://127.0.0.1:PORT``); every request decrypted from a tunnel is sent
    there with its ``Host`` header. After the run, :attr:`refused` lists the non-AWS destinations a client asked
    for (refused with 403), :attr:`tls_failures` the AWS hosts whose client rejected the run's certificate,
    :attr:`forwarded` the number of requests forwarded per host."""

    def __init__(self, run_dir: Path, endpoint_url: str) -> None:
        upstream = urlsplit(endpoint_url)
        if upstream.scheme != "http" or not upstream.hostname:
            raise ValueError(f"the local AWS endpoint must be http://HOST:PORT, got {endpoint_url!r}")
        self._upstream = (upstream.hostname, upstream.port or 80)
        self._run_dir = run_dir
        self._lock = threading.Lock()
        self._contexts: dict[str, ssl.SSLContext] = {}
        self.refused: list[str] = []
        self.tls_failures: list[str] = []
        self.forwarded: dict[str, int] = {}
        self.directory: Path | None = None
        self._ca: CertificateAuthority | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._previous_sigterm: Any = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    def __enter__(self) -> ObserveProxy:
        self._install_sigterm()
        try:
            self._run_dir.mkdir(parents=True, exist_ok=True)
            self.directory = Path(tempfile.mkdtemp(prefix="proxy-", dir=self._run_dir))  # 0700
            self._ca = CertificateAuthority()
            _write_private(self.ca_path, self._ca.certificate_pem(), 0o644)
            _write_private(self.directory / "leaf-key.pem", self._ca.leaf_key_pem())
            server = _Server(("127.0.0.1", 0), _ProxyHandler)
            server.proxy = self
            self._server = server
            self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="iamfit-observe-proxy",
                                            daemon=True)
            self._thread.start()
            logger.info("observe proxy on %s, CA in %s", self.url, self.directory)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and remove the run's certificate directory; idempotent, safe on every exit path."""
        try:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                self._server = None
        finally:
            if self.directory is not None:
                shutil.rmtree(self.directory, ignore_errors=True)
                logger.info("observe proxy: removed %s", self.directory)
            self._ca = None
            self._contexts.clear()
            self._restore_sigterm()

    def _install_sigterm(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt("SIGTERM")

        self._previous_sigterm = signal.signal(signal.SIGTERM, on_sigterm)

    def _restore_sigterm(self) -> None:
        if self._previous_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None

    # -- what the child gets ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the observe proxy is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def ca_path(self) -> Path:
        if self.directory is None:
            raise RuntimeError("the observe proxy is not running")
        return self.directory / "ca.pem"

    def child_env(self) -> dict[str, str]:
        """The environment a CLI child needs to go through this proxy (added to the child's only, never to
        iamfit's own): the proxy for SDK v2 and the Framework v3 (``HTTPS_PROXY``/``https_proxy``), the run's
        CA for Node (``NODE_EXTRA_CA_CERTS``) and Python SDKs (``AWS_CA_BUNDLE``), and ``NO_PROXY`` for the
        local AWS itself, which SDK v3 clients reach directly through ``AWS_ENDPOINT_URL``."""
        url, ca = self.url, str(self.ca_path)
        local = f"{self._upstream[0]},localhost,127.0.0.1"
        return {
            "HTTPS_PROXY": url, "https_proxy": url,
            "NODE_EXTRA_CA_CERTS": ca, "AWS_CA_BUNDLE": ca,
            "NO_PROXY": local, "no_proxy": local,
        }

    # -- used by the handlers --------------------------------------------------------------------------------
    @property
    def upstream(self) -> tuple[str, int]:
        return self._upstream

    def is_local_aws(self, host: str, port: str) -> bool:
        """``host:port`` is the local AWS's own endpoint (a tunnel to it is passed through, not intercepted)."""
        local = {self._upstream[0], "127.0.0.1", "localhost"} if self._upstream[0] in ("127.0.0.1", "localhost") \
            else {self._upstream[0]}
        return host.lower() in local and port == str(self._upstream[1])

    def context_for(self, host: str) -> ssl.SSLContext:
        host = host.lower()
        with self._lock:
            context = self._contexts.get(host)
            if context is not None:
                return context
            if self._ca is None or self.directory is None:
                raise ValueError("the proxy is closing")
            cert_path = self.directory / f"leaf-{len(self._contexts)}.pem"
            _write_private(cert_path, self._ca.leaf_pem(host), 0o644)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_path, self.directory / "leaf-key.pem")
            self._contexts[host] = context
            return context

    def send_upstream(self, handler: _TunnelHandler, method: str, path: str, body: bytes,
                      headers: dict[str, str]) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """One request to the local AWS, on the tunnel's own keep-alive connection (opened on first use)."""
        for attempt in (1, 2):
            if handler.upstream is None:
                handler.upstream = http.client.HTTPConnection(*self._upstream, timeout=_IDLE_SECONDS)
            try:
                handler.upstream.request(method, path, body=body or None, headers=headers)
                response = handler.upstream.getresponse()
                payload = response.read()
                return response.status, response.reason, response.getheaders(), payload
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                handler.upstream.close()
                handler.upstream = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def count_forwarded(self, host: str) -> None:
        with self._lock:
            self.forwarded[host] = self.forwarded.get(host, 0) + 1

    def refuse(self, destination: str) -> None:
        with self._lock:
            if destination not in self.refused:
                self.refused.append(destination)
                logger.warning("observe proxy: refused %s (not an AWS host; the call was not made)", destination)

    def note_tls_failure(self, host: str, exc: BaseException) -> None:
        with self._lock:
            if host not in self.tls_failures:
                self.tls_failures.append(host)
                logger.warning("observe proxy: the client rejected the run's certificate for %s (%s)", host, exc)

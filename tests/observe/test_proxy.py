"""The HTTPS proxy of ``iamfit observe`` (iamfit/observe/proxy.py): it intercepts TLS to AWS hosts with a CA of
its own run, forwards the decrypted requests to the local AWS with their Host header, refuses every other host,
and leaves no certificate or key behind, whatever ends the run (Ctrl-C and SIGTERM included)."""

from __future__ import annotations

import http.client
import http.server
import os
import signal
import ssl
import stat
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from iamfit.observe.proxy import ObserveProxy, is_aws_host, path_style

REPO = Path(__file__).resolve().parents[2]


class _Upstream(http.server.ThreadingHTTPServer):
    daemon_threads = True
    seen: list[dict[str, Any]]


class _Recording(http.server.BaseHTTPRequestHandler):
    """Stands in for the local AWS: records what reaches it, answers a small JSON body."""

    protocol_version = "HTTP/1.1"
    server: _Upstream

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.seen.append({
            "method": self.command, "path": self.path, "host": self.headers["Host"],
            "user_agent": self.headers.get("User-Agent"), "body": self.rfile.read(length),
            "headers": {k.lower() for k in self.headers},
        })
        body = b'{"Versions": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def upstream() -> Iterator[_Upstream]:
    server = _Upstream(("127.0.0.1", 0), _Recording)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _endpoint(server: _Upstream) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def _opener(proxy: ObserveProxy, cafile: Path | None) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({"https": proxy.url}), urllib.request.HTTPSHandler(context=context)
    )


@pytest.mark.parametrize("host", [
    "lambda.us-east-1.amazonaws.com", "sts.amazonaws.com", "my-bucket.s3.amazonaws.com",
    "cloudformation.cn-north-1.amazonaws.com.cn", "lambda.us-east-1.api.aws", "LAMBDA.US-EAST-1.AMAZONAWS.COM.",
])
def test_aws_hosts_are_the_partitions_dns_suffixes(host: str) -> None:
    assert is_aws_host(host)


@pytest.mark.parametrize("host", [
    "example.com", "amazonaws.com.evil.example", "evilamazonaws.com", "core.serverless.com", "packages.example.org",
    "169.254.169.254", "localhost",
])
def test_other_hosts_are_not(host: str) -> None:
    assert not is_aws_host(host)


@pytest.mark.parametrize(("host", "path", "expected"), [
    ("my-bucket.s3.amazonaws.com", "/a/b.zip", ("s3.amazonaws.com", "/my-bucket/a/b.zip")),
    ("my-bucket.s3.amazonaws.com", "/", ("s3.amazonaws.com", "/my-bucket")),
    ("my-bucket.s3.amazonaws.com", "/?list-type=2&prefix=x", ("s3.amazonaws.com", "/my-bucket?list-type=2&prefix=x")),
    ("my.dotted.bucket.s3.eu-west-1.amazonaws.com", "/k", ("s3.eu-west-1.amazonaws.com", "/my.dotted.bucket/k")),
    ("b.s3-us-west-2.amazonaws.com", "/k", ("s3-us-west-2.amazonaws.com", "/b/k")),
    ("b.s3.dualstack.us-east-1.amazonaws.com", "/k", ("s3.dualstack.us-east-1.amazonaws.com", "/b/k")),
    ("b.s3.cn-north-1.amazonaws.com.cn", "/k", ("s3.cn-north-1.amazonaws.com.cn", "/b/k")),
    ("s3.amazonaws.com", "/b/k", ("s3.amazonaws.com", "/b/k")),
    ("123456789012.s3-control.us-east-1.amazonaws.com", "/v20180820/jobs",
     ("123456789012.s3-control.us-east-1.amazonaws.com", "/v20180820/jobs")),
    ("lambda.us-east-1.amazonaws.com", "/2015-03-31/functions", ("lambda.us-east-1.amazonaws.com",
                                                               "/2015-03-31/functions")),
])
def test_virtual_hosted_s3_goes_path_style(host: str, path: str, expected: tuple[str, str]) -> None:
    assert path_style(host, path) == expected


def test_an_sdk_style_https_request_reaches_the_local_aws_with_its_host(upstream: _Upstream,
                                                                        tmp_path: Path) -> None:
    """What an AWS SDK v2 client does with HTTPS_PROXY and the run's CA trusted: CONNECT, TLS, a signed request."""
    with ObserveProxy(tmp_path, _endpoint(upstream)) as proxy:
        opener = _opener(proxy, proxy.ca_path)
        request = urllib.request.Request(
            "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/f/versions?MaxItems=50",
            headers={"User-Agent": "aws-sdk-nodejs/2.1693.0 linux/v20.20.2 callback"},
        )
        with opener.open(request) as response:
            assert response.status == 200 and response.read() == b'{"Versions": []}'
        put = urllib.request.Request("https://my-bucket.s3.amazonaws.com/a/b.zip", data=b"zip" * 1000,
                                     method="PUT")
        with opener.open(put) as response:
            assert response.status == 200
        assert proxy.refused == [] and proxy.tls_failures == []
        assert proxy.forwarded == {"lambda.us-east-1.amazonaws.com": 1, "my-bucket.s3.amazonaws.com": 1}
    get, upload = upstream.seen
    assert get["method"] == "GET" and get["path"] == "/2015-03-31/functions/f/versions?MaxItems=50"
    assert get["host"] == "lambda.us-east-1.amazonaws.com"
    assert get["user_agent"] == "aws-sdk-nodejs/2.1693.0 linux/v20.20.2 callback"
    # virtual-hosted S3 (what SDK v2 sends) reaches the local AWS path-style, as SDK v3 clients send it there
    assert upload["host"] == "s3.amazonaws.com" and upload["path"] == "/my-bucket/a/b.zip"
    assert upload["body"] == b"zip" * 1000
    assert not {"proxy-connection", "proxy-authorization"} & get["headers"]


def test_a_chunked_body_and_several_requests_on_one_tunnel(upstream: _Upstream, tmp_path: Path) -> None:
    with ObserveProxy(tmp_path, _endpoint(upstream)) as proxy:
        context = ssl.create_default_context(cafile=str(proxy.ca_path))
        port = int(proxy.url.rsplit(":", 1)[1])
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context)
        connection.set_tunnel("cloudformation.us-east-1.amazonaws.com", 443)
        connection.request("POST", "/", body=iter([b"Action=ListStacks", b"&Version=2010-05-15"]),
                           encode_chunked=True)
        assert connection.getresponse().read() == b'{"Versions": []}'
        connection.request("HEAD", "/", headers={"Host": "cloudformation.us-east-1.amazonaws.com:443"})
        head = connection.getresponse()
        assert head.status == 200 and head.read() == b""
        connection.close()
    post, head_seen = upstream.seen
    assert post["body"] == b"Action=ListStacks&Version=2010-05-15"
    assert head_seen["method"] == "HEAD" and head_seen["host"] == "cloudformation.us-east-1.amazonaws.com"


def test_a_non_aws_host_is_refused_and_noted(upstream: _Upstream, tmp_path: Path) -> None:
    with ObserveProxy(tmp_path, _endpoint(upstream)) as proxy:
        opener = _opener(proxy, proxy.ca_path)
        with pytest.raises(urllib.error.URLError, match="403"):
            opener.open("https://core.serverless.com/api/v1/telemetry")
        plain = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy.url}))
        with pytest.raises(urllib.error.HTTPError) as refused:
            plain.open("http://169.254.169.254/latest/meta-data/")
        assert refused.value.code == 403
        assert proxy.refused == ["core.serverless.com:443", "GET http://169.254.169.254"]
    assert upstream.seen == []


def test_a_client_that_does_not_trust_the_run_ca_is_noted_not_served(upstream: _Upstream,
                                                                      tmp_path: Path) -> None:
    with ObserveProxy(tmp_path, _endpoint(upstream)) as proxy:
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            _opener(proxy, None).open("https://sts.amazonaws.com/")
        deadline = time.monotonic() + 30  # noted on the proxy's thread: slow on a loaded machine
        while not proxy.tls_failures and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proxy.tls_failures == ["sts.amazonaws.com"]
    assert upstream.seen == []


def test_the_ca_key_is_never_written_and_the_files_go_with_the_run(upstream: _Upstream, tmp_path: Path) -> None:
    with ObserveProxy(tmp_path, _endpoint(upstream)) as proxy:
        with _opener(proxy, proxy.ca_path).open("https://sts.amazonaws.com/") as response:
            response.read()
        directory = proxy.directory
        assert directory is not None and directory.parent == tmp_path
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        files = {p.name: p for p in directory.iterdir()}
        assert sorted(files) == ["ca.pem", "leaf-0.pem", "leaf-key.pem"]
        assert stat.S_IMODE(files["leaf-key.pem"].stat().st_mode) == 0o600
        ca = x509.load_pem_x509_certificate(files["ca.pem"].read_bytes())
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        leaf = x509.load_pem_x509_certificate(files["leaf-0.pem"].read_bytes())
        assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName) == ["sts.amazonaws.com"]
        leaf.verify_directly_issued_by(ca)
        # The one private key on disk is the leaf's, not the CA's: nothing here can sign another certificate.
        key = serialization.load_pem_private_key(files["leaf-key.pem"].read_bytes(), None)
        assert key.public_key() != ca.public_key()
        assert key.public_key() == leaf.public_key()
        assert b"PRIVATE KEY" not in files["ca.pem"].read_bytes() + files["leaf-0.pem"].read_bytes()
    assert not directory.exists() and list(tmp_path.iterdir()) == []


def test_the_files_go_when_the_run_fails(upstream: _Upstream, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), ObserveProxy(tmp_path, _endpoint(upstream)) as proxy:
        assert proxy.ca_path.is_file()
        raise RuntimeError("the CLI crashed")
    assert list(tmp_path.iterdir()) == []


def test_the_proxy_env_is_the_childs_only(upstream: _Upstream, tmp_path: Path) -> None:
    before = dict(os.environ)
    with ObserveProxy(tmp_path, _endpoint(upstream)) as proxy:
        env = proxy.child_env()
        assert dict(os.environ) == before
        assert env["HTTPS_PROXY"] == env["https_proxy"] == proxy.url
    assert env["NODE_EXTRA_CA_CERTS"] == env["AWS_CA_BUNDLE"] and env["NODE_EXTRA_CA_CERTS"].endswith("ca.pem")
    assert "127.0.0.1" in env["NO_PROXY"].split(",")


def test_a_local_aws_that_is_not_http_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="http://HOST:PORT"):
        ObserveProxy(tmp_path, "https://example.com")


# ^C reaches the child as a KeyboardInterrupt whatever the runner's own SIGINT disposition (a background job of a
# non-interactive shell starts with SIGINT ignored, and Python then installs no handler)
_RUN = textwrap.dedent("""
    import signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from pathlib import Path
    from iamfit.observe.proxy import ObserveProxy
    with ObserveProxy(Path(sys.argv[1]), "http://127.0.0.1:9") as proxy:
        print(proxy.directory, flush=True)
        time.sleep(60)
""")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_the_files_go_after_an_interrupt(tmp_path: Path, signum: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", _RUN, str(tmp_path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    directory = Path(child.stdout.readline().strip())
    assert (directory / "ca.pem").is_file() and (directory / "leaf-key.pem").is_file()
    child.send_signal(signum)
    _, stderr = child.communicate(timeout=30)
    assert child.returncode != 0 and "KeyboardInterrupt" in stderr
    assert not directory.exists() and list(tmp_path.iterdir()) == []


def test_a_tunnel_to_the_local_aws_itself_is_passed_through(upstream: _Upstream, tmp_path: Path) -> None:
    """osls's https-proxy-agent tunnels its AWS_ENDPOINT_URL requests (plain HTTP to 127.0.0.1) through the
    proxy too, NO_PROXY unread: a CONNECT to the local AWS's own host:port reaches it unchanged; any other local
    port is refused like every non-AWS host."""
    port = upstream.server_address[1]
    with ObserveProxy(tmp_path, _endpoint(upstream)) as proxy:
        proxy_port = int(proxy.url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=10)
        connection.set_tunnel("127.0.0.1", port)
        connection.request("POST", "/", body=b"Action=DescribeStacks", headers={"User-Agent": "aws-sdk-js/3"})
        assert connection.getresponse().read() == b'{"Versions": []}'
        connection.request("GET", "/2015-03-31/functions")
        assert connection.getresponse().status == 200
        connection.close()
        other = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=10)
        other.set_tunnel("127.0.0.1", port + 1 if port < 65535 else port - 1)
        with pytest.raises(OSError, match="403"):
            other.request("GET", "/")
        assert proxy.forwarded == {} and proxy.refused == [f"127.0.0.1:{port + 1 if port < 65535 else port - 1}"]
    assert [(s["method"], s["host"], s["body"]) for s in upstream.seen] == [
        ("POST", f"127.0.0.1:{port}", b"Action=DescribeStacks"), ("GET", f"127.0.0.1:{port}", b"")]

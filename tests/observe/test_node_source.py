"""iamfit/observe/node/source.js, the Node preload that names the plugin behind a call: a plugin's
``provider.request`` carries ``x-iamfit-source: <its package>`` down to the HTTP request, the Framework's own calls
carry nothing, and a request the Framework's queue (promise-queue) starts from another request's completion keeps
its caller's name. Run on a miniature of the Framework's layout (node_modules/serverless/lib/plugins/aws/
provider.js, node_modules/promise-queue, a plugin package): fast, no AWS."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from iamfit.observe.proxy import SOURCE_JS
from iamfit.observe.record import SOURCE_HEADER

FILES = {
    # one request at a time: the second runs from the first one's completion, in its async context
    "node_modules/promise-queue/lib/index.js": """
        class PromiseQueue {
          constructor() { this.items = []; this.busy = false; }
          add(generator) {
            return new Promise((resolve, reject) => { this.items.push({ generator, resolve, reject }); this.next(); });
          }
          next() {
            if (this.busy || !this.items.length) return;
            this.busy = true;
            const item = this.items.shift();
            item.generator().then((v) => { this.busy = false; item.resolve(v); this.next(); },
                                  (e) => { this.busy = false; item.reject(e); this.next(); });
          }
        }
        module.exports = PromiseQueue;
    """,
    "node_modules/serverless/lib/plugins/aws/provider.js": """
        const http = require('http');
        const PromiseQueue = require('promise-queue/lib/index.js');
        const queue = new PromiseQueue();
        class AwsProvider {
          request(service, method) {
            return queue.add(() => new Promise((resolve, reject) => {
              const req = http.request({ host: '127.0.0.1', port: Number(process.env.PORT), path: '/' + method,
                                         headers: { 'user-agent': 'aws-sdk-nodejs/2' } }, (res) => {
                res.resume(); res.on('end', resolve);
              });
              req.on('error', reject);
              req.end();
            }));
          }
        }
        module.exports = AwsProvider;
    """,
    "node_modules/serverless-prune-plugin/index.js": """
        module.exports = (provider) => Promise.resolve().then(() => provider.request('Lambda', 'listAliases'));
    """,
    "main.js": """
        const AwsProvider = require('serverless/lib/plugins/aws/provider.js');
        const prune = require('serverless-prune-plugin');
        const provider = new AwsProvider();
        Promise.all([provider.request('CloudFormation', 'describeStacks'), prune(provider)])
          .then(() => provider.request('CloudFormation', 'listStackResources'))
          .catch((e) => { console.error(e); process.exit(1); });
    """,
}


class _Seen(http.server.ThreadingHTTPServer):
    daemon_threads = True
    seen: list[tuple[str, str | None]]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Seen

    def do_GET(self) -> None:  # noqa: N802
        self.server.seen.append((self.path, self.headers.get(SOURCE_HEADER)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def run_main(tmp_path: Path, *, preload: bool) -> list[tuple[str, str | None]]:
    """main.js of the miniature, with or without the preload: each request's path and x-iamfit-source."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    server = _Seen(("127.0.0.1", 0), _Handler)
    server.seen = []
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    env = {k: v for k, v in os.environ.items() if k != "NODE_OPTIONS"}
    env["PORT"] = str(server.server_address[1])
    if preload:
        env["NODE_OPTIONS"] = f"--require {json.dumps(str(SOURCE_JS))}"
    try:
        done = subprocess.run([node, "main.js"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    finally:
        server.shutdown()
        server.server_close()
    return server.seen


def test_the_plugin_behind_each_call_is_named(tmp_path: Path) -> None:
    assert run_main(tmp_path, preload=True) == [
        ("/describeStacks", None),
        ("/listAliases", "serverless-prune-plugin"),  # queued behind the Framework's call, still the plugin's
        ("/listStackResources", None),
    ]


def test_without_the_preload_nothing_is_named(tmp_path: Path) -> None:
    """The header is the preload's doing (the test above would pass vacuously otherwise)."""
    assert {source for _, source in run_main(tmp_path, preload=False)} == {None}

"""Each bundled example's committed .serverless/ package is what the pinned osls produces today.

A fresh `osls package` of a temp copy of each service must match the committed templates and
serverless-state.json structurally, up to the packaging timestamp (the artifact directory
`<13-digit ms>-<ISO time>` and the `ApiGatewayDeployment<ms>` logical id), and the zip must hold the same
files. When this fails after a deliberate change, run scripts/compile-examples and commit the result.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OSLS = EXAMPLES / "node_modules" / ".bin" / "osls"
NAMES = ("deployment-role", "http-api-jwt", "rest-api", "sqs-worker", "vpc-kms")
TEMPLATES = ("cloudformation-template-create-stack.json", "cloudformation-template-update-stack.json")

_ARTIFACT_DIR = re.compile(r"\d{13}-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_DEPLOYMENT_ID = re.compile(r"ApiGatewayDeployment\d{13}")


def normalised(path: Path, service_dir: Path | None = None) -> Any:
    """The JSON in `path` with packaging timestamps (and a fresh compile's service dir) made neutral."""
    text = path.read_text(encoding="utf-8")
    if service_dir is not None:
        text = text.replace(json.dumps(f"{service_dir}/")[1:-1], "")
    text = _ARTIFACT_DIR.sub("<ARTIFACT-DIR>", text)
    text = _DEPLOYMENT_ID.sub("ApiGatewayDeployment<TIMESTAMP>", text)
    return json.loads(text)


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return sorted(archive.namelist())


@pytest.fixture(scope="session")
def osls() -> Path:
    if not (OSLS.is_file() and os.access(OSLS, os.X_OK)):
        pytest.fail(f"osls is not installed at {OSLS}: run `npm ci --prefix examples` first", pytrace=False)
    return OSLS


@pytest.fixture(scope="session")
def osls_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One throwaway HOME per test session: osls caches its compiled config schema there."""
    return tmp_path_factory.mktemp("osls-home")


def fresh_compile(name: str, osls: Path, home: Path, tmp_path: Path) -> Path:
    service = tmp_path / name
    shutil.copytree(EXAMPLES / name, service, ignore=shutil.ignore_patterns(".serverless", "node_modules"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_PROFILE", "AWS_DEFAULT_PROFILE"))}
    env.update(
        HOME=str(home),
        CI="1",
        NO_COLOR="1",
        FORCE_COLOR="0",
        NODE_NO_WARNINGS="1",
        SLS_TELEMETRY_DISABLED="1",
        SLS_NOTIFICATIONS_MODE="off",
        SLS_DEPRECATION_NOTIFICATION_MODE="error",
    )
    result = subprocess.run(
        [str(osls), "package", "--stage", "dev", "--region", "us-east-1"],
        cwd=service,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"osls package failed for {name}:\n{result.stdout}\n{result.stderr}"
    return service


def test_every_example_is_checked() -> None:
    on_disk = sorted(p.parent.name for p in EXAMPLES.glob("*/serverless.yml"))
    assert on_disk == list(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_committed_package_matches_a_fresh_compile(
    name: str, osls: Path, osls_home: Path, tmp_path: Path
) -> None:
    committed = EXAMPLES / name / ".serverless"
    service = fresh_compile(name, osls, osls_home, tmp_path)
    fresh = service / ".serverless"

    committed_files = sorted(p.name for p in committed.iterdir())
    assert committed_files == sorted(p.name for p in fresh.iterdir())
    assert f"iamfit-{name}.zip" in committed_files

    for template in TEMPLATES:
        if (committed / template).exists():
            assert normalised(committed / template) == normalised(fresh / template, service), template
    state = "serverless-state.json"
    assert normalised(committed / state) == normalised(fresh / state, service)

    zip_name = f"iamfit-{name}.zip"
    assert zip_names(committed / zip_name) == zip_names(fresh / zip_name) == ["handler.js"]


@pytest.mark.parametrize("name", NAMES)
def test_committed_package_is_machine_independent(name: str) -> None:
    """No absolute path of the machine that compiled it; the S3 key's timestamp pattern is the known one."""
    committed = EXAMPLES / name / ".serverless"
    for path in committed.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        absolute = re.search(r'"(?:/|[A-Za-z]:\\\\)[^"]*\.serverless', text)
        assert absolute is None, f"{path.name} holds an absolute path: {absolute.group()}"
    state = json.loads((committed / "serverless-state.json").read_text(encoding="utf-8"))
    assert state["service"]["artifact"] == f".serverless/iamfit-{name}.zip"
    directory = state["package"]["artifactDirectoryName"]
    assert re.fullmatch(rf"serverless/iamfit-{name}/dev/{_ARTIFACT_DIR.pattern}", directory)
    assert state["service"]["provider"]["region"] == "us-east-1"
    assert state["service"]["provider"]["stage"] == "dev"

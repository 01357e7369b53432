"""The console entry point as a real process: exit codes and one-line errors survive the fast exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iamfit", *args], capture_output=True, text=True, timeout=120)


def test_version_exits_zero() -> None:
    done = run("--version")
    assert done.returncode == 0 and "iamfit" in done.stdout


def test_bad_input_is_one_line_and_exit_3(tmp_path: Path) -> None:
    bad = tmp_path / "trail.json.gz"
    bad.write_bytes(b"\x1f\x8b not gzip")
    done = run("explain", str(bad))
    assert done.returncode == 3, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("iamfit: error:")
    assert "Traceback" not in done.stderr


def test_usage_error_exits_2() -> None:
    assert run("generate", "--no-such-option").returncode == 2


def test_version_names_the_knowledge_sources() -> None:
    from importlib.metadata import version

    from iamfit import __version__

    lines = run("--version").stdout.splitlines()
    assert lines[0] == f"iamfit {__version__}"
    for dist in ("cfn-lint", "policy-sentry", "botocore"):
        assert any(line.split()[:2] == [dist, version(dist)] for line in lines[1:]), (dist, lines)


def test_version_imports_no_knowledge_source() -> None:
    """--version reads the sources' versions from their metadata: importing them would cost ~0.3 s."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "iamfit", "--version"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "iamfit.knowledge.versions" in imported
    assert not {m for m in imported if m.split(".")[0] in ("policy_sentry", "cfnlint", "botocore", "boto3")}

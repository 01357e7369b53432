"""The suite is hermetic: what is in the directory pytest starts in (a `.iamfit/` the README's quick start left,
say) changes no test's outcome, and no test writes there (tests/conftest.py runs each test in its own empty
directory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from iamfit.cli import cli

from .conftest import EXAMPLES, REPO


def test_each_test_starts_in_an_empty_directory_of_its_own(isolated_cwd: Path, tmp_path: Path) -> None:
    assert Path.cwd() == isolated_cwd and list(isolated_cwd.iterdir()) == []
    assert REPO not in isolated_cwd.parents and isolated_cwd != REPO and isolated_cwd != tmp_path


def test_a_command_writes_its_state_into_the_test_directory(isolated_cwd: Path) -> None:
    """discover keeps .iamfit/ and policies/ relative to the working directory: here, the test's own."""
    result = CliRunner().invoke(cli, ["discover", str(EXAMPLES / "sqs-worker"), "--account", "123456789012"])
    assert result.exit_code == 0, result.output
    assert (isolated_cwd / ".iamfit" / "reports" / "iamfit-sqs-worker.json").is_file()
    assert list((isolated_cwd / ".iamfit" / "runs").iterdir())
    assert (isolated_cwd / "policies" / "iamfit-sqs-worker" / "deployer.json").is_file()


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"" for p in sorted(root.rglob("*"))}


def test_a_stray_state_directory_where_pytest_starts_changes_nothing(tmp_path: Path) -> None:
    """What the quick start leaves (`iamfit discover examples/rest-api` in the repository root) made
    tests/cli/test_check.py fail: `check` added the needs of .iamfit/reports/<service>.json in the working
    directory. Plant such reports (unreadable ones, so any read of them fails loudly) and run that test, and
    the test that writes state, from there."""
    start = tmp_path / "start"
    reports = start / ".iamfit" / "reports"
    reports.mkdir(parents=True)
    for example in sorted(EXAMPLES.iterdir()):
        if (example / "serverless.yml").is_file():
            (reports / f"iamfit-{example.name}.json").write_text("{not a discover report")
    (reports / "iamfit-rest-api.json").write_text(json.dumps({"needs": [{"bogus": True}]}))
    before = _tree(start)
    tests = [
        f"{REPO / 'tests' / 'cli' / 'test_check.py'}::test_json_sarif_github_formats",
        f"{REPO / 'tests' / 'cli' / 'test_check.py'}::test_committed_policies_exit_0",
        f"{Path(__file__)}::test_a_command_writes_its_state_into_the_test_directory",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "-c", str(REPO / "setup.cfg"),
         "--rootdir", str(REPO), "--basetemp", str(tmp_path / "inner"), *tests],
        cwd=start, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    summary = [line.split()[0] for line in proc.stdout.splitlines() if line.startswith(("PASSED ", "FAILED "))]
    assert summary == ["PASSED"] * 7, proc.stdout[-3000:]
    assert _tree(start) == before, "a test wrote into the directory pytest was started in"

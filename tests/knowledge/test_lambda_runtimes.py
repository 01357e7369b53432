"""Lambda runtime deprecation dates: the table, the warning text against an injected date, the examples."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamfit.cli import cli
from iamfit.knowledge.lambda_runtimes import (
    AWS_RUNTIMES,
    RUNTIME_DATES,
    deprecated_runtime,
    deprecation_warning,
    deprecation_warnings,
)
from iamfit.service.model import load_service
from tests.check.fixtures import ACCOUNT, EXAMPLES, REPO

TODAY = date(2026, 11, 29)
SOURCES = {"aws", "tflint", "aws-2019", "aws-cdk#29108", "aws-email-2021", "endoflife.date",
           "aws (as of 2026-04) / endoflife.date"}


def test_the_table_is_consistent_and_sourced() -> None:
    for runtime, row in RUNTIME_DATES.items():
        assert row.runtime == runtime and row.source in SOURCES, runtime
        if row.block_create is not None:
            assert row.deprecated <= row.block_create, runtime
        if row.block_create is not None and row.block_update is not None:
            assert row.block_create <= row.block_update, runtime
    nodejs20 = RUNTIME_DATES["nodejs20.x"]
    assert (nodejs20.deprecated, nodejs20.block_create, nodejs20.block_update) == (
        date(2026, 4, 30), date(2027, 2, 1), date(2027, 3, 9)
    )


def test_nodejs20_warning_names_the_functions_and_every_date() -> None:
    line = deprecation_warning("nodejs20.x", ["svc-dev-b", "svc-dev-a"], TODAY)
    assert line == (
        "functions svc-dev-a, svc-dev-b use the Lambda runtime nodejs20.x, deprecated by AWS on 2026-04-30: "
        "creating functions with it is blocked from 2027-02-01, updating them from 2027-03-09; move to a "
        f"supported runtime ({AWS_RUNTIMES})"
    )
    later = deprecation_warning("nodejs20.x", ["svc-dev-a"], date(2027, 2, 15))
    assert later is not None and later.startswith("function svc-dev-a uses the Lambda runtime nodejs20.x")
    assert "blocked since 2027-02-01, updating them from 2027-03-09" in later
    assert deprecation_warning("nodejs20.x", ["svc-dev-a"], date(2026, 4, 29)) is None  # not yet deprecated
    assert deprecation_warning("nodejs20.x", ["svc-dev-a"], date(2026, 4, 30)) is not None


@pytest.mark.parametrize("runtime", ["python3.9", "nodejs18.x", "python3.10", "java11", "provided.al2", "nodejs14.x",
                                     "dotnet8", "go1.x"])
def test_deprecated_runtimes_warn(runtime: str) -> None:
    line = deprecation_warning(runtime, ["f"], TODAY)
    assert line is not None and f"the Lambda runtime {runtime}, deprecated by AWS on " in line
    assert RUNTIME_DATES[runtime].deprecated.isoformat() in line and AWS_RUNTIMES in line


def test_unknown_block_dates_point_at_the_aws_page() -> None:
    line = deprecation_warning("python3.9", ["f"], TODAY)
    assert line is not None and "deprecated by AWS on 2025-12-15" in line and "(dates: see the AWS page)" in line


@pytest.mark.parametrize("runtime", ["nodejs22.x", "nodejs24.x", "python3.12", "python3.13", "python3.14",
                                     "java21", "provided.al2023", "ruby3.4", "made-up9.x"])
def test_supported_and_unknown_runtimes_do_not_warn(runtime: str) -> None:
    assert deprecated_runtime(runtime, TODAY) is None
    assert deprecation_warning(runtime, ["f"], TODAY) is None


def test_many_functions_are_counted_not_all_listed() -> None:
    line = deprecation_warning("nodejs20.x", [f"f{i}" for i in range(8)], TODAY)
    assert line is not None and "functions f0, f1, f2, f3, f4 and 3 more use" in line


def test_one_line_per_deprecated_runtime() -> None:
    lines = deprecation_warnings({"nodejs24.x": ["a"], "python3.9": ["b"], "nodejs20.x": ["c", "d"]}, TODAY)
    assert len(lines) == 2
    assert "nodejs20.x" in lines[0] and "c, d" in lines[0] and "python3.9" in lines[1]


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_examples_use_a_supported_runtime(name: str) -> None:
    service = load_service(REPO / "examples" / name, account=ACCOUNT, compile_if_needed=False)
    runtimes = service.lambda_runtimes()
    assert set(runtimes) == {"nodejs24.x"}, runtimes
    assert deprecation_warnings(runtimes, TODAY) == []


# --- the commands ---------------------------------------------------------------------------------------


def _package(tmp_path: Path, runtimes: dict[str, str]) -> Path:
    """sqs-worker's compiled package with some functions moved to other runtimes (logical id -> runtime)."""
    package = tmp_path / "pkg"
    shutil.copytree(REPO / "examples" / "sqs-worker" / ".serverless", package)
    path = package / "cloudformation-template-update-stack.json"
    template = json.loads(path.read_text())
    for logical_id, runtime in runtimes.items():
        template["Resources"][logical_id]["Properties"]["Runtime"] = runtime
    path.write_text(json.dumps(template))
    return package


def _runtime_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "the Lambda runtime" in line]


@pytest.fixture
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("iamfit.cli.options.today", lambda: TODAY)


@pytest.mark.usefixtures("fixed_today")
def test_generate_and_check_warn_once_per_deprecated_runtime(tmp_path: Path) -> None:
    package = _package(tmp_path, {"WorkerLambdaFunction": "nodejs20.x", "IngestLambdaFunction": "python3.9",
                                  "SweepLambdaFunction": "nodejs20.x"})
    out = tmp_path / "out"
    generated = CliRunner().invoke(cli, ["generate", str(package), "--account", ACCOUNT, "--out", str(out)])
    assert generated.exit_code == 0, generated.output
    lines = _runtime_lines(generated.stderr)
    assert len(lines) == 2, generated.stderr
    assert lines[0].startswith(
        "iamfit: warning: functions iamfit-sqs-worker-dev-sweep, iamfit-sqs-worker-dev-worker use the Lambda "
        "runtime nodejs20.x, deprecated by AWS on 2026-04-30: creating functions with it is blocked from "
        "2027-02-01, updating them from 2027-03-09"
    )
    assert lines[1].startswith("iamfit: warning: function iamfit-sqs-worker-dev-ingest uses the Lambda runtime "
                               "python3.9, deprecated by AWS on 2025-12-15")
    checked = CliRunner().invoke(cli, ["check", str(package), "--policy", str(out / "deployer.json"), "--account",
                                       ACCOUNT, "--no-discover-report"])
    assert checked.exit_code == 0, checked.output
    assert _runtime_lines(checked.stderr) == lines


@pytest.mark.usefixtures("fixed_today")
@pytest.mark.parametrize("name", EXAMPLES)
def test_the_examples_give_no_runtime_warning(name: str, tmp_path: Path) -> None:
    generated = CliRunner().invoke(cli, ["generate", str(REPO / "examples" / name), "--account", ACCOUNT, "--out",
                                         str(tmp_path / "out")])
    assert generated.exit_code == 0, generated.output
    assert _runtime_lines(generated.stderr) == []

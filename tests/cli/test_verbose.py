"""-v / -vv show the core's log on stderr, one readable line each; without them only warnings (issue 14, item 4)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from iamfit.cli import cli

from ..conftest import EXAMPLES

TEMPLATE = EXAMPLES / "sqs-worker" / ".serverless" / "cloudformation-template-update-stack.json"


def _generate(tmp_path: Path, *flags: str, after: tuple[str, ...] = ()) -> Result:
    args = [*flags, "generate", *after, str(TEMPLATE), "--account", "123456789012", "--out", str(tmp_path / "p")]
    return CliRunner().invoke(cli, args)


def _lines(result: Result, level: str) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith(f"iamfit: {level}: ")]


def test_without_v_no_info_or_debug_lines(tmp_path: Path) -> None:
    result = _generate(tmp_path)
    assert result.exit_code == 0, result.output
    assert _lines(result, "info") == [] and _lines(result, "debug") == []


def test_v_shows_what_was_read_at_info(tmp_path: Path) -> None:
    quiet = _generate(tmp_path)
    result = _generate(tmp_path, "-v")
    assert result.exit_code == 0, result.output
    assert f"iamfit: info: read the template {TEMPLATE} (19 resources)" in _lines(result, "info")
    assert _lines(result, "debug") == []
    assert result.stdout == quiet.stdout  # stdout is the same with or without -v


def test_vv_shows_the_refinement_rules_that_fired(tmp_path: Path) -> None:
    result = _generate(tmp_path, "-vv")
    assert result.exit_code == 0, result.output
    debug = _lines(result, "debug")
    # the module, then the rule: the action it pruned, the property that would need it, and the rule's source
    assert (
        "iamfit: debug: knowledge.refinements: AWS::Lambda::Function create: lambda:PutFunctionConcurrency pruned, "
        "needed only when ReservedConcurrentExecutions (source: registry:AWS::Lambda::Function; AWS Lambda "
        "Developer Guide, 'Lambda execution role' and 'Configuring VPC')"
    ) in debug
    assert _lines(result, "info")  # -vv includes -v


def test_v_after_the_subcommand_counts_too(tmp_path: Path) -> None:
    assert _lines(_generate(tmp_path, after=("-v",)), "info")
    assert not _lines(_generate(tmp_path, after=("-v",)), "debug")
    assert _lines(_generate(tmp_path, "-v", after=("-v",)), "debug")  # one before, one after: -vv
    assert _lines(_generate(tmp_path, after=("--verbose", "--verbose")), "debug")


def test_the_next_command_starts_quiet_again(tmp_path: Path) -> None:
    assert _lines(_generate(tmp_path, "-vv"), "debug")
    assert logging.getLogger("iamfit").level == logging.NOTSET  # reset when the command's context closed
    result = _generate(tmp_path)
    assert _lines(result, "info") == [] and _lines(result, "debug") == []


def test_warnings_still_show_without_v(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["generate", str(TEMPLATE), "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert "iamfit: warning: no --account given: ARNs use '*' for the account id" in result.stderr


def test_the_handler_formats_one_line_per_record(capsys) -> None:  # type: ignore[no-untyped-def]
    from iamfit.cli.log import configure

    log = logging.getLogger("iamfit.knowledge.example")
    try:
        configure(0)
        log.info("hidden")
        log.warning("a  warning\n  on two lines")
        configure(2)
        log.info("read %s", "x.json")
        log.debug("rule %s fired", "R1")
    finally:
        configure(0)
    assert capsys.readouterr().err.splitlines() == [
        "iamfit: warning: a warning on two lines",
        "iamfit: info: read x.json",
        "iamfit: debug: knowledge.example: rule R1 fired",
    ]


def test_v_logs_each_discovery_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["discover", str(EXAMPLES / "sqs-worker"), "--account", "123456789012", "--from-scratch",
            "--max-attempts", "2"]
    quiet = CliRunner().invoke(cli, args)
    result = CliRunner().invoke(cli, ["-vv", *args])
    assert result.exit_code == quiet.exit_code == 1
    assert _lines(quiet, "info") == []
    info = _lines(result, "info")
    assert "iamfit: info: create attempt 1 (discover) started on the sandbox target: deployer 0 statement(s)" in info
    assert any(line.startswith("iamfit: info: create attempt 1 (discover): failed (User: ") for line in info)
    assert any(
        line.startswith("iamfit: info: create attempt 1: grant deployer cloudformation:DescribeStacks on ")
        for line in info
    )
    assert any(line.endswith(": stopping (max-attempts) after 2 attempts") for line in info)
    # -vv: how an observed ARN was scoped (policy.scope)
    assert any(line.startswith("iamfit: debug: policy.scope: ") for line in _lines(result, "debug"))

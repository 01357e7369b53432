"""The compile adapter: finding the Framework, staleness, running `package`, and its error paths."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from pathlib import Path

import pytest

from iamfit.errors import EXIT_BAD_INPUT, BadInputError, FrameworkMissingError
from iamfit.service.compile import (
    MTIME_SLACK_SECONDS,
    QUIET_ENV,
    compile_service,
    config_file,
    find_framework,
    framework_error_line,
    needs_compile,
    quiet_environment,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REAL_OSLS = EXAMPLES / "node_modules" / ".bin" / "osls"
TEMPLATE = ".serverless/cloudformation-template-update-stack.json"


@pytest.fixture(scope="session")
def osls_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway HOME shared by this session's tests: osls caches its compiled config schema there."""
    return tmp_path_factory.mktemp("osls-home")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, osls_home: Path) -> None:
    """No framework override from the caller's environment, and never the real HOME."""
    monkeypatch.delenv("IAMFIT_SERVERLESS", raising=False)
    monkeypatch.setenv("HOME", str(osls_home))


def executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def service(tmp_path: Path, name: str = "svc") -> Path:
    directory = tmp_path / name
    directory.mkdir(parents=True)
    (directory / "serverless.yml").write_text("service: svc\nprovider:\n  name: aws\n", encoding="utf-8")
    return directory


def empty_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    bin_dir = tmp_path / "empty-bin"
    bin_dir.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


# --- find_framework ------------------------------------------------------------------------------


def test_env_override_is_shlex_split(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IAMFIT_SERVERLESS", "npx --no-install 'my osls'")
    assert find_framework(service(tmp_path)) == ["npx", "--no-install", "my osls"]


def test_blank_env_override_is_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IAMFIT_SERVERLESS", "   ")
    empty_path(monkeypatch, tmp_path)
    assert find_framework(service(tmp_path)) is None


def test_service_node_modules_prefers_osls_then_serverless(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty_path(monkeypatch, tmp_path)
    svc = service(tmp_path)
    bin_dir = svc / "node_modules" / ".bin"
    sls = executable(bin_dir / "sls", "exit 0\n")
    assert find_framework(svc) == [str(sls)]
    serverless = executable(bin_dir / "serverless", "exit 0\n")
    assert find_framework(svc) == [str(serverless)]
    osls = executable(bin_dir / "osls", "exit 0\n")
    assert find_framework(svc) == [str(osls)]


def test_service_node_modules_wins_over_a_parent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty_path(monkeypatch, tmp_path)
    executable(tmp_path / "node_modules" / ".bin" / "osls", "exit 0\n")
    svc = service(tmp_path)
    own = executable(svc / "node_modules" / ".bin" / "serverless", "exit 0\n")
    assert find_framework(svc) == [str(own)]


def test_walks_up_to_a_parent_node_modules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty_path(monkeypatch, tmp_path)
    parent_osls = executable(tmp_path / "repo" / "node_modules" / ".bin" / "osls", "exit 0\n")
    svc = service(tmp_path / "repo" / "services", "api")
    assert find_framework(svc) == [str(parent_osls)]


def test_non_executable_files_are_skipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty_path(monkeypatch, tmp_path)
    svc = service(tmp_path)
    (svc / "node_modules" / ".bin").mkdir(parents=True)
    (svc / "node_modules" / ".bin" / "osls").write_text("not executable", encoding="utf-8")
    assert find_framework(svc) is None


def test_falls_back_to_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bin_dir = empty_path(monkeypatch, tmp_path)
    svc = service(tmp_path)
    sls = executable(bin_dir / "sls", "exit 0\n")
    assert find_framework(svc) == [str(sls)]
    osls = executable(bin_dir / "osls", "exit 0\n")
    assert find_framework(svc) == [str(osls)]


def test_nothing_found_with_path_cleared(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty_path(monkeypatch, tmp_path)
    assert find_framework(service(tmp_path)) is None


def test_an_example_finds_the_pinned_osls() -> None:
    if not REAL_OSLS.exists():
        pytest.fail("osls is not installed: run `npm ci --prefix examples`", pytrace=False)
    assert find_framework(EXAMPLES / "rest-api") == [str(REAL_OSLS)]


# --- needs_compile -------------------------------------------------------------------------------


def built(svc: Path, age: float = 0.0) -> Path:
    """Write the package template, `age` seconds older than serverless.yml."""
    template = svc / TEMPLATE
    template.parent.mkdir(parents=True, exist_ok=True)
    template.write_text("{}", encoding="utf-8")
    config_time = (svc / "serverless.yml").stat().st_mtime
    os.utime(template, (config_time - age, config_time - age))
    return template


def test_needs_compile_without_a_package(tmp_path: Path) -> None:
    assert needs_compile(service(tmp_path)) is True


def test_fresh_package_needs_no_compile(tmp_path: Path) -> None:
    svc = service(tmp_path)
    built(svc, age=-60)
    assert needs_compile(svc) is False


def test_edited_config_needs_compile(tmp_path: Path) -> None:
    svc = service(tmp_path)
    built(svc, age=MTIME_SLACK_SECONDS + 5)
    assert needs_compile(svc) is True


def test_checkout_order_within_the_slack_is_not_stale(tmp_path: Path) -> None:
    svc = service(tmp_path)
    built(svc, age=0.001)
    assert needs_compile(svc) is False


@pytest.mark.parametrize("name", ["serverless.yaml", "serverless.ts", "serverless.js", "serverless.json"])
def test_any_config_variant_counts(tmp_path: Path, name: str) -> None:
    svc = service(tmp_path)
    built(svc, age=-60)
    variant = svc / name
    variant.write_text("{}", encoding="utf-8")
    later = time.time() + 600
    os.utime(variant, (later, later))
    assert needs_compile(svc) is True


def test_config_file_prefers_yml(tmp_path: Path) -> None:
    svc = service(tmp_path)
    (svc / "serverless.ts").write_text("export default {}", encoding="utf-8")
    assert config_file(svc) == svc / "serverless.yml"
    (svc / "serverless.yml").unlink()
    assert config_file(svc) == svc / "serverless.ts"
    (svc / "serverless.ts").unlink()
    assert config_file(svc) is None


# --- compile_service with the real osls ----------------------------------------------------------


def test_compiles_a_copy_of_an_example_with_the_pinned_osls(tmp_path: Path) -> None:
    if not REAL_OSLS.exists():
        pytest.fail("osls is not installed: run `npm ci --prefix examples`", pytrace=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "node_modules").symlink_to(EXAMPLES / "node_modules", target_is_directory=True)
    svc = repo / "sqs-worker"
    shutil.copytree(EXAMPLES / "sqs-worker", svc, ignore=shutil.ignore_patterns(".serverless"))
    assert needs_compile(svc) is True

    package_dir = compile_service(svc, stage="qa", region="eu-west-1", timeout=120)

    assert package_dir == svc.resolve() / ".serverless"
    assert needs_compile(svc) is False
    state = json.loads((package_dir / "serverless-state.json").read_text(encoding="utf-8"))
    # provider.stage in serverless-state.json keeps the configured "dev"; the CLI's --stage shows in
    # the artifact directory and in every generated name.
    assert state["package"]["artifactDirectoryName"].startswith("serverless/iamfit-sqs-worker/qa/")
    assert state["service"]["provider"]["region"] == "eu-west-1"
    template = json.loads(
        (package_dir / "cloudformation-template-update-stack.json").read_text(encoding="utf-8")
    )
    assert template["Resources"]["WorkerLambdaFunction"]["Properties"]["FunctionName"] == (
        "iamfit-sqs-worker-qa-worker"
    )
    assert (package_dir / "iamfit-sqs-worker.zip").is_file()


def test_real_osls_configuration_error_is_one_clean_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if not REAL_OSLS.exists():
        pytest.fail("osls is not installed: run `npm ci --prefix examples`", pytrace=False)
    monkeypatch.setenv("IAMFIT_SERVERLESS", str(REAL_OSLS))
    svc = tmp_path / "broken"
    svc.mkdir()
    (svc / "serverless.yml").write_text(
        "service: broken\nprovider:\n  name: aws\n  runtime: nodejs20.x\n"
        "functions:\n  f:\n    handler: h.h\n    bogus: 1\n",
        encoding="utf-8",
    )
    with pytest.raises(BadInputError) as caught:
        compile_service(svc, timeout=120)
    message = str(caught.value)
    assert message.startswith("`osls package` failed in ")
    assert message.endswith(": Configuration error at 'functions.f': unrecognized property 'bogus'")
    assert "\n" not in message and "Environment" not in message


# --- compile_service with fake frameworks --------------------------------------------------------

RECORDER = """\
printf '%s\\n' "$@" > "$PWD/args.txt"
env > "$PWD/env.txt"
if [ -t 0 ]; then echo tty > "$PWD/stdin.txt"; else echo not-a-tty > "$PWD/stdin.txt"; fi
mkdir -p .serverless
echo '{}' > .serverless/cloudformation-template-update-stack.json
"""


def test_runs_package_with_stage_region_and_the_quiet_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = executable(tmp_path / "bin" / "fake-sls", RECORDER)
    monkeypatch.setenv("IAMFIT_SERVERLESS", f"{fake} --verbose")
    monkeypatch.setenv("SOME_USER_VARIABLE", "kept")
    svc = service(tmp_path)

    assert compile_service(svc, stage="prod", region="eu-west-1") == svc.resolve() / ".serverless"

    assert (svc / "args.txt").read_text(encoding="utf-8").split() == [
        "--verbose",
        "package",
        "--stage",
        "prod",
        "--region",
        "eu-west-1",
    ]
    env = dict(
        line.split("=", 1)
        for line in (svc / "env.txt").read_text(encoding="utf-8").splitlines()
        if "=" in line
    )
    for key, value in QUIET_ENV.items():
        assert env[key] == value
    assert env["SLS_TELEMETRY_DISABLED"] == "1" and env["SLS_NOTIFICATIONS_MODE"] == "off"
    assert env["SOME_USER_VARIABLE"] == "kept"
    assert (svc / "stdin.txt").read_text(encoding="utf-8").strip() == "not-a-tty"


def test_no_stage_or_region_passes_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = executable(tmp_path / "bin" / "fake-sls", RECORDER)
    monkeypatch.setenv("IAMFIT_SERVERLESS", str(fake))
    svc = service(tmp_path)
    compile_service(svc)
    assert (svc / "args.txt").read_text(encoding="utf-8").split() == ["package"]


FAILING = r"""
echo '(node:4242) Warning: NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)' >&2
echo 'will require node >=22.' >&2
echo '(Use `node --trace-warnings ...` to show where the warning was created)' >&2
echo 'Environment: linux, node 20.20.2, osls 4.3.1 (local)' >&2
echo 'Docs:        github.com/oss-serverless/osls' >&2
echo
printf '\033[31mError:\033[39m\n'
printf '\342\224\214\342\224\200 \033[1mDeployment bucket "acme-deploys" could not be found'
printf '\033[22m \342\224\202\n'
echo
echo 'Learn more about deployment buckets here: https://example.invalid/docs'
exit 1
"""


def test_failure_raises_bad_input_with_the_last_meaningful_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = executable(tmp_path / "bin" / "fake-sls", FAILING)
    monkeypatch.setenv("IAMFIT_SERVERLESS", str(fake))
    svc = service(tmp_path)
    with pytest.raises(BadInputError) as caught:
        compile_service(svc)
    assert type(caught.value) is BadInputError
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert str(caught.value) == (
        f'`fake-sls package` failed in {svc.resolve()}: Deployment bucket "acme-deploys" could not be found'
    )


def test_silent_failure_names_the_exit_code(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = executable(tmp_path / "bin" / "fake-sls", "exit 7\n")
    monkeypatch.setenv("IAMFIT_SERVERLESS", str(fake))
    with pytest.raises(BadInputError, match="exit code 7, no error text"):
        compile_service(service(tmp_path))


def test_success_without_a_template_is_bad_input(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = executable(tmp_path / "bin" / "fake-sls", "echo packaged\n")
    monkeypatch.setenv("IAMFIT_SERVERLESS", str(fake))
    with pytest.raises(BadInputError, match="wrote no .serverless/cloudformation-template-update-stack.json"):
        compile_service(service(tmp_path))


def test_timeout_kills_the_framework_and_its_children(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The background child keeps stdout open: only killing the whole process group lets this return.
    fake = executable(tmp_path / "bin" / "fake-sls", "sleep 30 &\nsleep 30\n")
    monkeypatch.setenv("IAMFIT_SERVERLESS", str(fake))
    started = time.monotonic()
    with pytest.raises(BadInputError, match=r"`fake-sls package` timed out after 0.5 s in "):
        compile_service(service(tmp_path), timeout=0.5)
    assert time.monotonic() - started < 10


def test_missing_framework_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty_path(monkeypatch, tmp_path)
    svc = service(tmp_path)
    with pytest.raises(FrameworkMissingError) as caught:
        compile_service(svc)
    assert caught.value.exit_code == EXIT_BAD_INPUT == 3
    message = str(caught.value)
    assert "\n" not in message
    assert "npm install -g osls" in message and "npm install --save-dev osls" in message
    assert "IAMFIT_SERVERLESS" in message


def test_override_that_cannot_start_is_framework_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IAMFIT_SERVERLESS", str(tmp_path / "no-such-osls"))
    with pytest.raises(FrameworkMissingError, match="no-such-osls.*npm install -g osls"):
        compile_service(service(tmp_path))


def test_directory_without_a_service_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="holds no serverless.yml"):
        compile_service(tmp_path)
    with pytest.raises(BadInputError, match="is not a directory"):
        compile_service(tmp_path / "missing")


# --- framework_error_line ------------------------------------------------------------------------


def test_yaml_parse_error_skips_the_source_excerpt() -> None:
    output = (
        "Environment: linux, node 20.20.2, osls 4.3.1 (local)\n"
        "Docs:        github.com/oss-serverless/osls\n\n"
        'Error:\nCannot parse "serverless.yml": unexpected end of the stream (3:1)\n\n'
        " 1 | service: x\n 2 | provider: [\n 3 | \n-----^\n"
    )
    assert framework_error_line(output) == 'Cannot parse "serverless.yml": unexpected end of the stream (3:1)'


def test_configuration_error_keeps_its_heading() -> None:
    output = (
        "Error:\nConfiguration error: \n"
        "     at 'functions.f.events.0.http': must have required property 'path'\n"
        "     at 'functions.f.events.0.http': unrecognized property 'nope'\n\n"
        "Learn more about configuration validation here: https://example.invalid\n"
    )
    assert framework_error_line(output) == (
        "Configuration error: at 'functions.f.events.0.http': unrecognized property 'nope'"
    )


def test_serverless_v2_box_banner() -> None:
    output = (
        "\n  Serverless Error ----------------------------------------\n\n"
        "  The specified bucket does not exist\n\n"
        "  Get Support --------------------------------------------\n"
        "     Docs:          docs.serverless.com\n"
        "     Bugs:          github.com/serverless/serverless/issues\n\n"
        "  Your Environment Information ---------------------------\n"
        "     Operating System:          linux\n     Node Version:              20.20.2\n"
    )
    assert framework_error_line(output) == "The specified bucket does not exist"


def test_only_noise_gives_an_empty_line() -> None:
    assert framework_error_line("\x1b[90m\nEnvironment: linux\n────────\n") == ""


def test_quiet_environment_overrides_and_keeps_the_rest() -> None:
    env = quiet_environment({"SLS_TELEMETRY_DISABLED": "0", "PATH": "/bin"})
    assert env["SLS_TELEMETRY_DISABLED"] == "1"
    assert env["PATH"] == "/bin"
    assert env["SLS_NOTIFICATIONS_MODE"] == "off"

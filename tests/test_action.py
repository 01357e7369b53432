"""action.yml, run as the Actions runner runs a composite action: each step's ``run`` script with bash
(``bash --noprofile --norc -eo pipefail``), ``${{ ... }}`` expressions substituted (inputs, github.action_path,
steps.<id>.outputs), ``if:`` conditions evaluated, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY / GITHUB_PATH as files.
The install step and the ``uses:`` steps (setup-python, setup-node, upload-sarif) are skipped: the iamfit under
test is this checkout's, already installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
REFERENCE = re.compile(r"\b(?:inputs|github|steps)\.[A-Za-z0-9_.\-]+")


@dataclass
class Run:
    inputs: dict[str, str]
    workspace: Path
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    log: str = ""

    def value(self, ref: str) -> str:
        head, _, rest = ref.partition(".")
        if head == "inputs":
            return self.inputs[rest]
        if ref == "github.action_path":
            return str(REPO)
        if head == "steps":
            step_id, _, key = rest.partition(".outputs.")
            return self.outputs.get(step_id, {}).get(key, "")
        raise AssertionError(f"action.yml uses an expression this test does not model: {ref}")

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: self.value(m.group(1)), text)

    def condition(self, expression: str, failed: bool) -> bool:
        """The runner's ``if:``: an implicit success() unless a status function is named."""
        text = EXPRESSION.sub(lambda m: m.group(1), expression)
        statused = any(f in text for f in ("always()", "failure()", "success()", "cancelled()"))
        py = REFERENCE.sub(lambda m: repr(self.value(m.group(0))), text)
        py = py.replace("&&", " and ").replace("||", " or ").replace("always()", "True")
        py = py.replace("success()", repr(not failed)).replace("failure()", repr(failed))
        py = py.replace("cancelled()", "False")
        assert re.fullmatch(r"[\s'\w().=!,\-:/@]*", py), f"unexpected expression: {expression}"
        result = bool(eval(py, {"__builtins__": {}}, {}))  # noqa: S307 - the action's own fixed expressions
        return result if statused else result and not failed


def run_action(inputs: dict[str, str], workspace: Path, tmp: Path) -> tuple[Run, bool]:
    defaults = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    missing = [n for n, spec in ACTION["inputs"].items() if spec.get("required") and n not in inputs]
    assert not missing, missing
    run = Run({**defaults, **inputs}, workspace)
    files = {name: tmp / name.lower() for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_PATH")}
    for path in files.values():
        path.write_text("", encoding="utf-8")
    bin_dir = tmp / "bin"  # `iamfit` = this checkout's, run by the test's interpreter
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "iamfit"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m iamfit "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    runner_temp = tmp / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    failed = False
    for index, step in enumerate(ACTION["runs"]["steps"]):
        name = step.get("name", f"step {index}")
        if "if" in step and not run.condition(str(step["if"]), failed):
            run.skipped.append(name)
            continue
        if "uses" in step or step.get("id") == "install":
            run.skipped.append(name)
            continue
        assert step["shell"] == "bash"
        env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
            "RUNNER_TEMP": str(runner_temp),
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_ACTION_PATH": str(REPO),
            **{k: str(v) for k, v in files.items()},
            **{k: run.substitute(str(v)) for k, v in step.get("env", {}).items()},
        }
        script = tmp / f"step-{index}.sh"
        script.write_text(run.substitute(step["run"]), encoding="utf-8")
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=workspace,
                              env=env, capture_output=True, text=True, timeout=300)
        run.log += f"== {name} (exit {done.returncode})\n{done.stdout}{done.stderr}"
        run.ran.append(name)
        outputs: dict[str, str] = {}
        for line in files["GITHUB_OUTPUT"].read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            outputs[key] = value
        files["GITHUB_OUTPUT"].write_text("", encoding="utf-8")
        if step.get("id"):
            run.outputs[step["id"]] = outputs
        failed = failed or done.returncode != 0
    return run, not failed


def workspace_with(tmp_path: Path, drop: str | None = None) -> Path:
    """A repository with the rest-api example (its compiled .serverless/ too) and its committed policy, minus
    the action ``drop``."""
    ws = tmp_path / "repo"
    shutil.copytree(REPO / "examples" / "rest-api", ws / "service")  # copy2 keeps mtimes: the package stays fresh
    raw = json.loads((REPO / "policies" / "rest-api" / "deployer.json").read_text(encoding="utf-8"))
    if drop is not None:
        for st in raw["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            st["Action"] = [a for a in actions if a != drop]
    (ws / "policies").mkdir()
    (ws / "policies" / "deployer.json").write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    return ws


INPUTS = {"service-dir": "service", "policy": "policies/deployer.json", "account": "123456789012"}


def test_a_clean_committed_policy_passes(tmp_path: Path) -> None:
    ws = workspace_with(tmp_path)
    run, ok = run_action(INPUTS, ws, tmp_path)
    assert ok, run.log
    assert run.outputs["check"]["exit-code"] == "0"
    assert "Fail on findings" in run.skipped and "Install iamfit" in run.skipped
    assert "iamfit: service/.serverless/ is committed: no Framework needed" in run.log
    summary = (tmp_path / "github_step_summary").read_text(encoding="utf-8")
    assert summary.startswith("## iamfit check: `iamfit-rest-api`") and "**OK**" in summary
    sarif = json.loads((ws / "iamfit.sarif").read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0" and not [r for r in sarif["runs"][0]["results"] if r["level"] == "error"]


def test_one_action_removed_fails_with_the_finding_in_the_summary(tmp_path: Path) -> None:
    ws = workspace_with(tmp_path, drop="dynamodb:CreateTable")
    run, ok = run_action(INPUTS, ws, tmp_path)
    assert not ok, run.log
    assert run.outputs["check"]["exit-code"] == "1"
    assert run.ran[-1] == "Fail on findings" and "::error title=iamfit::" in run.log
    summary = (tmp_path / "github_step_summary").read_text(encoding="utf-8")
    assert "**FAIL**: 1 missing" in summary
    assert "| IAMFIT-C001 | missing | deployer | `dynamodb:CreateTable` |" in summary
    sarif = json.loads((ws / "iamfit.sarif").read_text(encoding="utf-8"))
    assert [r["ruleId"] for r in sarif["runs"][0]["results"] if r["level"] == "error"] == ["IAMFIT-C001"]


def test_bad_input_fails_the_step_itself(tmp_path: Path) -> None:
    ws = workspace_with(tmp_path)
    run, ok = run_action({**INPUTS, "policy": "policies/no-such.json"}, ws, tmp_path)
    assert not ok
    assert run.outputs["check"]["exit-code"] == "3" and "Fail on findings" in run.skipped
    assert "iamfit: error:" in run.log and "could not run (exit 3)" in run.log


def test_inputs_reach_run_scripts_only_through_env() -> None:
    """No ``${{ inputs.* }}`` inside a ``run`` script (script injection); the action's path is not an input."""
    for step in ACTION["runs"]["steps"]:
        if "run" in step:
            assert "inputs." not in step["run"], step["name"]
    spec: dict[str, Any] = ACTION["runs"]
    assert spec["using"] == "composite"
    uses = [s["uses"] for s in spec["steps"] if "uses" in s]
    assert "github/codeql-action/upload-sarif@v3" in uses


def test_the_workflow_example_uses_the_action_with_its_inputs() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "iamfit.yml").read_text(encoding="utf-8"))
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    step = next(s for s in steps if s.get("uses") == "./")
    assert set(step["with"]) <= set(ACTION["inputs"])
    assert all(n in step["with"] for n, spec in ACTION["inputs"].items() if spec.get("required"))
    assert step["with"]["node-version"] == "22"
    assert (REPO / step["with"]["service-dir"] / "serverless.yml").is_file()
    assert (REPO / step["with"]["policy"]).is_file()
    assert workflow["permissions"]["security-events"] == "write"
    assert "github.com/iamfit/iamfit" not in (REPO / ".github" / "workflows" / "iamfit.yml").read_text()

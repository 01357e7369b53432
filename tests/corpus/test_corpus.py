"""Real Serverless-compiled templates from public repositories (issue 13 §7): iamfit must hold on every one.

Each template under ``templates/<slug>/`` was committed by its authors as ``.serverless/cloudformation-template-
update-stack.json``; ``sources.json`` names its repository, path, commit and licence and the features it shows.
For every template:

- ``generate --split`` does not crash: exit 0, or exit 3 with the identity stop naming the flags to set (then the
  run is repeated with the flags the sources file records, so that the other checks still run);
- where the template shows the service's name and stage (the Framework's ``serverless/<service>/<stage>/``
  artifact keys) and its region (literal ARNs and names), the identity read equals them;
- every resource type of the template is described (some action's reason names it) or named in the output;
- every statement that grants ``iam:PassRole`` is conditioned on ``iam:PassedToService`` and every statement that
  grants ``iam:CreateServiceLinkedRole`` on ``iam:AWSServiceName``;
- ``plan --phase all`` accepts the policies ``generate`` wrote and finds no denial (with and without ``--split``).

No case is marked as expected to fail: the failures the corpus first showed (unconditioned
``iam:CreateServiceLinkedRole`` for Cognito user pools, an unnamed ``AWS::Route53::RecordSetGroup``, ``plan`` refusing
``generate --split``'s CloudFormation policy) were fixed by issue 13 §4, §5 and §6.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from iamfit.cli import cli

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
SOURCES: dict[str, Any] = json.loads((HERE / "sources.json").read_text(encoding="utf-8"))
ACCOUNT = "123456789012"
TEMPLATE_NAME = "cloudformation-template-update-stack.json"
IDENTITY_STOP = re.compile(r"^iamfit: error: .*: set (--service|--stage|--region)", re.MULTILINE)

def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def template_of(slug: str) -> Path:
    return TEMPLATES / slug / TEMPLATE_NAME


def flags_of(slug: str) -> list[str]:
    flags: dict[str, str] = SOURCES["templates"][slug].get("flags", {})
    return [item for name, value in sorted(flags.items()) for item in (f"--{name}", value)]


def cases() -> list[Any]:
    return [pytest.param(slug, id=slug) for slug in sorted(SOURCES["templates"])]


def generate(slug: str, out: Path, *extra: str) -> tuple[Result, dict[str, Any], bool]:
    """Run `generate` on the template; on the identity stop, again with the recorded flags.

    Returns the successful result, its --report and whether the flags were needed."""
    args = ["generate", "--out", out, "--report", out / "report.json", "--account", ACCOUNT, *extra]
    result = run(*args, template_of(slug))
    needed = False
    if result.exit_code == 3 and IDENTITY_STOP.search(result.stderr):
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert SOURCES["templates"][slug].get("flags"), f"{slug}: identity stop, but sources.json records no flags"
        needed = True
        result = run(*args, *flags_of(slug), template_of(slug))
    assert result.exit_code == 0, (result.exit_code, result.stderr, result.exception)
    assert "Traceback" not in result.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return result, report, needed


def policy_files(out: Path, principal: str) -> list[Path]:
    """The principal's policy: one file, or the parts ``generate`` splits it into over the inline quota."""
    one = out / f"{principal}.json"
    return [one] if one.exists() else sorted(out.glob(f"{principal}-[0-9]*.json"))


def repeated(option: str, files: list[Path]) -> list[str | Path]:
    assert files, option
    return [item for path in files for item in (option, path)]


def granted(statement: dict[str, Any], action: str) -> bool:
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else actions
    return statement.get("Effect") == "Allow" and any(
        fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in actions
    )


def condition_keys(statement: dict[str, Any]) -> set[str]:
    return {key.lower() for block in statement.get("Condition", {}).values() for key in block}


def test_every_template_has_its_source() -> None:
    slugs = {p.name for p in TEMPLATES.iterdir() if p.is_dir()}
    assert slugs == set(SOURCES["templates"])
    assert len(slugs) >= 60
    for slug, source in SOURCES["templates"].items():
        for key in ("repo", "path", "commit", "licence", "features"):
            assert source.get(key), (slug, key)
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]), slug
        assert source["path"].endswith(".serverless/" + TEMPLATE_NAME), slug
        assert json.loads(template_of(slug).read_text(encoding="utf-8"))["Resources"], slug


@pytest.mark.parametrize("slug", cases())
def test_generate_split(slug: str, tmp_path: Path) -> None:
    result, report, needed = generate(slug, tmp_path / "out", "--split")
    source = SOURCES["templates"][slug]
    # the identity: read as the template shows it, unless the flags had to say it
    expected = source.get("identity", {})
    if not needed:
        for key, value in expected.items():
            assert report[key] == value, (key, report[key], value)
    # every resource type is described or named
    template = json.loads(template_of(slug).read_text(encoding="utf-8"))
    types = {resource["Type"] for resource in template["Resources"].values()}
    reasons = {
        reason["reason"]
        for principal in report["principals"].values()
        for uses in principal["actions"].values()
        for reason in uses
    }
    said = result.stdout + result.stderr + json.dumps(report.get("warnings", []))
    unnamed = sorted(t for t in types if not any(r.startswith(t + " ") for r in reasons) and t not in said)
    assert not unnamed, f"types neither described nor named: {unnamed}"
    # PassRole and CreateServiceLinkedRole always conditioned
    for name in ("deployer", "cloudformation"):
        statements = [st for path in policy_files(tmp_path / "out", name)
                      for st in json.loads(path.read_text(encoding="utf-8"))["Statement"]]
        for statement in statements:
            if granted(statement, "iam:PassRole"):
                assert "iam:passedtoservice" in condition_keys(statement), (name, statement)
            if granted(statement, "iam:CreateServiceLinkedRole"):
                assert "iam:awsservicename" in condition_keys(statement), (name, statement)


@pytest.mark.parametrize("slug", cases())
def test_plan_accepts_generate(slug: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _, _, needed = generate(slug, out)
    flags = flags_of(slug) if needed else []
    result = run("plan", "--phase", "all", *repeated("--policy", policy_files(out, "deployer")), *flags,
                 template_of(slug))
    assert result.exit_code == 0, (result.exit_code, result.stdout[-3000:], result.stderr)


@pytest.mark.parametrize("slug", cases())
def test_plan_accepts_generate_split(slug: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _, _, needed = generate(slug, out, "--split")
    flags = flags_of(slug) if needed else []
    result = run(
        "plan", "--phase", "all", *repeated("--policy", policy_files(out, "deployer")),
        *repeated("--cfn-role-policy", policy_files(out, "cloudformation")), *flags, template_of(slug),
    )
    assert result.exit_code == 0, (result.exit_code, result.stdout[-3000:], result.stderr)

"""``generate --observed REPORT`` / ``discover --observed REPORT``: an ``iamfit observe`` report's unpredicted
calls become deployer needs with source ``observed: <cli> <version>[ <plugin>]``; anything that is not such a
report, or is another service's, is one ``iamfit: error:`` line and exit 3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from iamfit import api
from iamfit.cli import cli
from iamfit.errors import BadInputError
from iamfit.observe.observed import cli_label, read_observed
from iamfit.policy.document import PolicyDocument
from iamfit.policy.evaluate import PolicySet
from iamfit.service.model import load_service

from ..conftest import EXAMPLES

PACKAGE = EXAMPLES / "sqs-worker" / ".serverless"  # compiled: no osls run
ACCOUNT = "111122223333"
OBSERVED_ACCOUNT = "123456789012"  # moto's default: the account the observation ran in
FUNCTION = f"arn:aws:lambda:us-east-1:{OBSERVED_ACCOUNT}:function:iamfit-sqs-worker-dev-worker"


def allows(policy: PolicyDocument, action: str, resource: str) -> bool:
    return PolicySet.of(policy).allows(action, resource)


def report(**changes: Any) -> dict[str, Any]:
    """An observe report of the sqs-worker example deployed by Serverless v3 with serverless-prune-plugin."""
    calls = [
        {"phase": "create", "service": "lambda", "operation": "ListVersionsByFunction",
         "action": "lambda:ListVersionsByFunction", "resource": FUNCTION, "status": 200,
         "source": "plugin:serverless-prune-plugin"},
        {"phase": "create", "service": "lambda", "operation": "ListAliases", "action": "lambda:ListAliases",
         "resource": FUNCTION, "status": 200, "source": "plugin:serverless-prune-plugin"},
        {"phase": "create", "service": "s3", "operation": "ListBuckets", "action": "s3:ListAllMyBuckets",
         "resource": "*", "status": 200, "source": "cli"},
    ]
    base: dict[str, Any] = {
        "schema": "iamfit.observe/1", "service": "iamfit-sqs-worker", "stage": "dev", "region": "us-east-1",
        "account": OBSERVED_ACCOUNT,
        "cli": {"command": "npx serverless deploy --stage {stage}", "version": "serverless@3.39.0"},
        "phases": {"create": {"exit_code": 0, "calls": 3}},
        "calls": calls,
        "unpredicted": [
            {"action": "lambda:ListAliases", "resource": FUNCTION, "operation": "lambda:ListAliases",
             "phase": "create"},
            {"action": "s3:ListAllMyBuckets", "resource": "*", "operation": "s3:ListBuckets", "phase": "create"},
        ],
        "incomplete": [],
    }
    return {**base, **changes}


def write(tmp_path: Path, data: Any, name: str = "observe.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_unpredicted_calls_become_deployer_needs_in_the_services_account(tmp_path: Path) -> None:
    service = load_service(PACKAGE, account=ACCOUNT)
    observed = read_observed(write(tmp_path, report()), service)
    assert observed.cli == "serverless 3.39.0" and observed.warnings == []
    assert [n.to_json() for n in observed.needs] == [
        {"principal": "deployer", "action": "lambda:ListAliases",
         "resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:iamfit-sqs-worker-dev-worker",
         "reason": "lambda:ListAliases, called by serverless-prune-plugin in the create phase of the observed CLI",
         "source": "observed: serverless 3.39.0 serverless-prune-plugin"},
        {"principal": "deployer", "action": "s3:ListAllMyBuckets", "resource": "*",
         "reason": "s3:ListBuckets, called in the create phase of the observed CLI",
         "source": "observed: serverless 3.39.0"},
    ]


def test_without_an_account_the_observed_one_becomes_a_wildcard(tmp_path: Path) -> None:
    observed = read_observed(write(tmp_path, report()), load_service(PACKAGE))
    assert observed.needs[0].resource == "arn:aws:lambda:us-east-1:*:function:iamfit-sqs-worker-dev-worker"


def test_generate_grants_what_was_observed_and_says_where_from(tmp_path: Path) -> None:
    before = api.generate(PACKAGE, account=ACCOUNT)
    assert not allows(before.policies["deployer"],
        "lambda:ListAliases", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:iamfit-sqs-worker-dev-worker")
    result = api.generate(PACKAGE, account=ACCOUNT, observed=write(tmp_path, report()))
    deployer = result.policies["deployer"]
    assert allows(deployer, "lambda:ListAliases",
                  f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:iamfit-sqs-worker-dev-worker")
    assert allows(deployer, "s3:ListAllMyBuckets", "*")
    reasons = result.report()["principals"]["deployer"]["actions"]["lambda:ListAliases"]
    assert reasons == [{"resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:iamfit-sqs-worker-dev-worker",
                        "reason": "lambda:ListAliases, called by serverless-prune-plugin in the create phase of "
                                  "the observed CLI",
                        "source": "observed: serverless 3.39.0 serverless-prune-plugin"}]
    # everything predicted is still there
    assert before.prediction.needs == [n for n in result.prediction.needs if not n.source.startswith("observed:")]


def test_the_generate_command_prints_and_reports_the_observed_needs(tmp_path: Path) -> None:
    path = write(tmp_path, report())
    out = tmp_path / "policies"
    result = CliRunner().invoke(cli, ["generate", str(PACKAGE), "--account", ACCOUNT, "--observed", str(path),
                                      "--out", str(out), "--report", str(tmp_path / "why.json")])
    assert result.exit_code == 0, result.output
    assert f"  observed ({path}): 2 deployer need(s) the prediction lacked" in result.output
    assert (f"    lambda:ListAliases on arn:aws:lambda:us-east-1:{ACCOUNT}:function:iamfit-sqs-worker-dev-worker "
            "(observed: serverless 3.39.0 serverless-prune-plugin)") in result.output
    policy = json.loads((out / "deployer.json").read_text(encoding="utf-8"))
    assert any("lambda:ListAliases" in st["Action"] for st in policy["Statement"])
    why = json.loads((tmp_path / "why.json").read_text(encoding="utf-8"))
    assert why["principals"]["deployer"]["actions"]["lambda:ListAliases"][0]["source"].startswith("observed: ")


def test_an_incomplete_observation_grants_what_it_saw_and_warns(tmp_path: Path) -> None:
    path = write(tmp_path, report(incomplete=["update: the command exited 1: Error: AWS::AppSync::GraphQLApi"]))
    observed = read_observed(path, load_service(PACKAGE))
    assert len(observed.needs) == 2
    assert observed.warnings == [f"{path}: the observation is incomplete (update: the command exited 1: Error: "
                                 "AWS::AppSync::GraphQLApi): what the CLI would have called after it stopped is "
                                 "not in it"]
    result = CliRunner().invoke(cli, ["generate", str(PACKAGE), "--observed", str(path),
                                      "--out", str(tmp_path / "p")])
    assert result.exit_code == 0 and "iamfit: warning: " in result.stderr and "incomplete" in result.stderr


@pytest.mark.parametrize(("version", "command", "label"), [
    ("serverless@3.39.0", "npx serverless deploy", "serverless 3.39.0"),
    ("osls@4.3.1", "npx osls deploy --stage {stage}", "osls 4.3.1"),
    ("@scope/cli@1.2.3", "npx cli deploy", "@scope/cli 1.2.3"),
    (None, "npx osls deploy --stage {stage}", "osls (version unknown)"),
    (None, "./deploy.sh", "./deploy.sh (version unknown)"),
])
def test_the_cli_label(version: str | None, command: str, label: str) -> None:
    assert cli_label({"command": command, "version": version}, "r.json") == label


BAD: list[tuple[str, Any, str]] = [
    ("not JSON", "{not json", "observe.json: not valid JSON"),
    ("not an object", [1, 2], "not an iamfit observe report (a JSON object with schema 'iamfit.observe/1')"),
    ("wrong schema", {**report(), "schema": "iamfit.discover/1"},
     "not an iamfit observe report: schema is 'iamfit.discover/1', expected 'iamfit.observe/1'"),
    ("no schema", {k: v for k, v in report().items() if k != "schema"}, "schema is None"),
    ("another service", report(service="other"), "the observation is of service 'other', not 'iamfit-sqs-worker'"),
    ("another stage", report(stage="prod"), "the observation is of stage 'prod', not 'dev'"),
    ("another region", report(region="eu-west-1"), "the observation is of region 'eu-west-1', not 'us-east-1'"),
    ("no cli", report(cli=None), "'cli' must be an object with 'command' and 'version'"),
    ("cli without command", report(cli={"version": "x@1"}), "cli.command must be a non-empty string"),
    ("unpredicted not a list", report(unpredicted={}), "'unpredicted' must be a list"),
    ("entry not an object", report(unpredicted=["lambda:ListAliases"]), "unpredicted[0] must be an object"),
    ("entry without action", report(unpredicted=[{"resource": "*", "operation": "x:Y", "phase": "create"}]),
     "unpredicted[0].action must be a non-empty string"),
    ("action not service:Action", report(unpredicted=[{"action": "ListAliases", "resource": "*",
                                                       "operation": "x:Y", "phase": "create"}]),
     "unpredicted[0].action must be service:Action"),
    ("calls not a list", report(calls="x"), "'calls' must be a list"),
    ("a call not an object", report(calls=[3]), "calls[0] must be an object"),
    ("incomplete not a list", report(incomplete="yes"), "'incomplete' must be a list"),
]


@pytest.mark.parametrize(("data", "message"), [(d, m) for _, d, m in BAD], ids=[i for i, _, _ in BAD])
def test_a_bad_report_is_one_error_line_and_exit_3(tmp_path: Path, data: Any, message: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(BadInputError, match=None) as caught:
        read_observed(path, load_service(PACKAGE))
    assert message in str(caught.value) and str(path) in str(caught.value)
    for command in (["generate", str(PACKAGE), "--out", str(tmp_path / "p")],
                    ["discover", str(PACKAGE), "--max-attempts", "1"]):
        result = CliRunner().invoke(cli, [*command, "--observed", str(path)])
        assert result.exit_code == 3, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("iamfit: error:")]
        assert len(errors) == 1 and message in errors[0] and "Traceback" not in result.output


def test_a_missing_report_is_bad_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["generate", str(PACKAGE), "--observed", str(tmp_path / "nope.json")])
    assert result.exit_code == 3 and result.stderr.strip() == f"iamfit: error: {tmp_path / 'nope.json'}: no such file"


def test_discover_starts_from_the_observed_needs(tmp_path: Path) -> None:
    """The sandbox discover of the example, seeded with the observation: verified, and its policy grants the
    observed call with the observed source in the report."""
    path = write(tmp_path, report())
    root = tmp_path / "root"
    root.mkdir()
    outcome = api.discover(PACKAGE, root=root, account=ACCOUNT, report_path=tmp_path / "d.json", observed=path)
    assert outcome.result.verified
    assert allows(outcome.result.policies["deployer"],
        "lambda:ListAliases", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:iamfit-sqs-worker-dev-worker")
    sources = {n.source for n in outcome.result.needs if n.action == "lambda:ListAliases"}
    assert sources == {"observed: serverless 3.39.0 serverless-prune-plugin"}

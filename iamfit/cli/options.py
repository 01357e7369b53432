"""Options and small adapters shared by several commands."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from iamfit import files
from iamfit.errors import BadInputError, UsageError
from iamfit.knowledge.arn import is_account_id
from iamfit.policy.document import PolicyDocument
from iamfit.predict.serverless_cli import COMMANDS, DEFAULT_COMMANDS
from iamfit.service.model import Service, load_service


def check_region(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --region botocore's endpoint data knows (it gives the partition), else a usage error naming where to
    find valid ones. Also the core's rule (load_service); checked here to fail before any compile."""
    from iamfit.knowledge.regions import partition_of, unknown_region_message

    if value is not None and partition_of(value) is None:
        raise UsageError(unknown_region_message(value, param.opts[0] if param.opts else "--region"))
    return value


def check_account(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A 12-digit --account, else a usage error (the same in every command)."""
    if value is not None and not is_account_id(value):
        raise UsageError(f"--account must be a 12-digit AWS account id, got {value!r:.40}")
    return value


stage_option = click.option("--stage", help="Stage to compile/read (default: from the package, else dev).")
region_option = click.option("--region", callback=check_region,
                             help="Region for ARNs (default: from the package, else us-east-1).")
service_option = click.option("--service", "service_name", metavar="NAME",
                              help="Service name for ARNs (default: from the package, else the template's names).")
account_option = click.option("--account", callback=check_account,
                              help="12-digit account id for ARNs (default: '*', with a warning).")


def service_argument(f: Any) -> Any:
    return click.argument(
        "service_path", metavar="SERVICE_DIR|TEMPLATE", type=click.Path(path_type=Path, exists=False)
    )(f)


def load(service_path: Path, stage: str | None, region: str | None, account: str | None,
         service_name: str | None = None, framework: str | None = None) -> Service:
    return load_service(service_path, stage=stage, region=region, account=account, service_name=service_name,
                        framework=framework)


def parse_commands(value: str) -> tuple[str, ...]:
    """The Framework commands of --commands. An unknown one is bad input (exit 3, as the README's table says)."""
    commands = tuple(c.strip() for c in value.split(",") if c.strip())
    unknown = [c for c in commands if c not in COMMANDS]
    if unknown or not commands:
        got = f"; unknown: {', '.join(unknown)}" if unknown else ""
        raise BadInputError(f"--commands takes a comma-separated list of {', '.join(COMMANDS)}{got:.200}")
    return commands


def check_commands(ctx: click.Context, param: click.Parameter, value: str) -> str:
    parse_commands(value)
    return value


commands_option = click.option(
    "--commands",
    callback=check_commands,
    default=",".join(DEFAULT_COMMANDS),
    show_default=True,
    help=f"Framework commands the deployer runs: {', '.join(COMMANDS)}.",
)


def read_policy(path: Path) -> PolicyDocument:
    return PolicyDocument.from_text(read_text(path, "policy"), str(path))


def read_text(path: Path, what: str = "file") -> str:
    """The text of a file the user named (``-``: standard input), through the core's one reader."""
    if str(path) == "-":
        return files.decode(sys.stdin.buffer.read(), "stdin")
    return files.read_text(path, what)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def echo_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"iamfit: warning: {warning}", err=True)


def today() -> date:
    """Today's date (UTC): the one place the CLI reads the clock for date-dependent knowledge."""
    return datetime.now(UTC).date()


def echo_runtime_warnings(service: Service) -> None:
    """One warning per Lambda runtime of the service that AWS has deprecated (as of ``today()``)."""
    from iamfit.knowledge.lambda_runtimes import deprecation_warnings

    echo_warnings(deprecation_warnings(service.lambda_runtimes(), today()))


FORMAT_FILES = {"terraform": "iamfit.tf", "cloudformation": "iamfit-roles.yml", "serverless": "serverless-iam.yml"}

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "terraform", "cloudformation", "serverless"]),
    default="json",
    show_default=True,
    help="Also render the policies as Terraform, a CloudFormation template or a serverless.yml snippet "
    "(the per-principal JSON files are always written).",
)


def write_policies(
    out_dir: Path, policies: dict[str, PolicyDocument], fmt: str, service: Service | None, cfn_role_arn: str | None
) -> list[Path]:
    """Write ``<principal>.json`` for every principal (``<principal>-1.json`` ... when it is over a role's inline
    quota: :func:`iamfit.policy.render.json_files`, with a note on stderr), plus the rendered file for a non-JSON
    ``fmt``; remove
    what an earlier run wrote there and this one does not (refuse when that cannot be told apart from someone
    else's files: :mod:`iamfit.outputs`)."""
    from iamfit.outputs import write_outputs
    from iamfit.policy.pack import MAX_MANAGED
    from iamfit.policy.render import RenderContext, json_files, render, split_note
    from iamfit.principals import PRINCIPALS

    files: dict[str, str] = {}
    for principal, pieces in json_files(policies).items():
        files.update((name, doc.dumps()) for name, doc in pieces)
        if len(pieces) > 1:
            click.echo(f"iamfit: note: {split_note(principal, policies[principal], [n for n, _ in pieces])}",
                       err=True)
    if fmt != "json":
        if service is None:
            raise UsageError(f"--format {fmt} needs the SERVICE (for role and policy names)")
        context = RenderContext(
            service=service.name,
            stage=service.stage,
            account=service.account,
            cfn_role_name=cfn_role_arn.rsplit("/", 1)[-1] if cfn_role_arn else None,
        )
        files[FORMAT_FILES[fmt]] = render(policies, fmt, context)
    known = {f"{p}.json" for p in PRINCIPALS} | set(FORMAT_FILES.values())
    known |= {f"{p}-{n}.json" for p in PRINCIPALS for n in range(1, MAX_MANAGED + 1)}
    for name in write_outputs(out_dir, files, known):
        click.echo(f"iamfit: removed {out_dir / name} (an earlier run's output this run does not write)", err=True)
    return [out_dir / name for name in files]


summary_option = click.option(
    "--summary",
    "summary_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a Markdown summary here (for $GITHUB_STEP_SUMMARY or a pull-request comment).",
)


def write_summary(path: Path | None, text: str) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

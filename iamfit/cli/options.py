"""Options and small adapters shared by several commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from iamfit.errors import UsageError
from iamfit.knowledge.serverless_cli import COMMANDS, DEFAULT_COMMANDS
from iamfit.policy.document import PolicyDocument
from iamfit.service.model import Service, load_service

stage_option = click.option("--stage", help="Stage to compile/read (default: from the package, else dev).")
region_option = click.option("--region", help="Region for ARNs (default: from the package, else us-east-1).")
account_option = click.option("--account", help="12-digit account id for ARNs (default: '*', with a warning).")


def service_argument(f: Any) -> Any:
    return click.argument(
        "service_path", metavar="SERVICE_DIR|TEMPLATE", type=click.Path(path_type=Path, exists=False)
    )(f)


def load(service_path: Path, stage: str | None, region: str | None, account: str | None) -> Service:
    return load_service(service_path, stage=stage, region=region, account=account)


def parse_commands(value: str) -> tuple[str, ...]:
    commands = tuple(c.strip() for c in value.split(",") if c.strip())
    unknown = [c for c in commands if c not in COMMANDS]
    if unknown or not commands:
        raise UsageError(f"--commands takes a comma-separated list of {', '.join(COMMANDS)}")
    return commands


commands_option = click.option(
    "--commands",
    default=",".join(DEFAULT_COMMANDS),
    show_default=True,
    help=f"Framework commands the deployer runs: {', '.join(COMMANDS)}.",
)


def read_policy(path: Path) -> PolicyDocument:
    return PolicyDocument.from_text(read_text(path), str(path))


def read_text(path: Path) -> str:
    if str(path) == "-":
        return click.get_text_stream("stdin").read()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        from iamfit.errors import BadInputError

        raise BadInputError(f"{path}: no such file") from None
    except (UnicodeDecodeError, IsADirectoryError):
        from iamfit.errors import BadInputError

        raise BadInputError(f"{path}: not a readable text file") from None


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def echo_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"iamfit: warning: {warning}", err=True)


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
    """Write ``<principal>.json`` for every principal, plus the rendered file for a non-JSON ``fmt``."""
    from iamfit.policy.render import RenderContext, render

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for principal, doc in policies.items():
        path = out_dir / f"{principal}.json"
        path.write_text(doc.dumps(), encoding="utf-8")
        written.append(path)
    if fmt != "json":
        if service is None:
            raise UsageError(f"--format {fmt} needs the SERVICE (for role and policy names)")
        context = RenderContext(
            service=service.name,
            stage=service.stage,
            account=service.account,
            cfn_role_name=cfn_role_arn.rsplit("/", 1)[-1] if cfn_role_arn else None,
        )
        path = out_dir / FORMAT_FILES[fmt]
        path.write_text(render(policies, fmt, context), encoding="utf-8")
        written.append(path)
    return written


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

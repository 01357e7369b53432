"""The command line: click commands, one file each. The only code that prints or exits."""

from __future__ import annotations

import gc
import importlib
import importlib.util
import os
import sys
from typing import Any

import click

from iamfit import __version__
from iamfit.errors import EXIT_AWS, EXIT_BAD_INPUT, EXIT_INTERNAL, IamfitError

# name -> (module, function, one-line help). Modules are imported only when their command runs, so
# `iamfit --help` stays fast and a command's heavy dependencies load only for that command.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "generate": ("iamfit.cli.generate", "generate", "Predict the deploy policy from a compiled Serverless package."),
    "explain": (
        "iamfit.cli.explain",
        "explain",
        "Read a permission failure (text or CloudTrail) and say how to fix it.",
    ),
    "plan": ("iamfit.cli.plan", "plan", "Deploy in the sandbox with a policy and report every denial."),
    "discover": (
        "iamfit.cli.discover",
        "discover_command",
        "Run the deploy -> fail -> grant -> retry loop until the policy verifies.",
    ),
    "observe": (
        "iamfit.cli.observe",
        "observe_command",
        "Run the real Serverless CLI against a local AWS and record every call it makes.",
    ),
    "check": ("iamfit.cli.check", "check", "CI drift check: missing, excess and escalation-capable grants."),
    "replay": ("iamfit.cli.replay", "replay_command", "A policy from what a principal did, read from CloudTrail."),
    "audit": ("iamfit.cli.audit", "audit_command", "Granted vs used for an existing role or policy."),
    "cleanup": ("iamfit.cli.cleanup", "cleanup", "Find and delete what iamfit left in an AWS account."),
    "operator-policy": ("iamfit.cli.operator_policy", "operator_policy", "The policy iamfit's own operator needs."),
}


def _available(name: str) -> bool:
    module = COMMANDS[name][0]
    return importlib.util.find_spec(module) is not None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module, attr, _ = COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), attr)
        if not any(isinstance(p, _VerboseOption) for p in command.params):
            command.params.append(_VerboseOption())  # `iamfit discover -v ...` as well as `iamfit -v discover ...`
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IamfitError as exc:
            click.echo(f"iamfit: error: {exc.message}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("iamfit: interrupted", err=True)
            ctx.exit(130)
        except OSError as exc:
            click.echo(f"iamfit: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except Exception as exc:  # noqa: BLE001 - the one internal-error handler: a bug is one line (traceback on request)
            if os.environ.get("IAMFIT_DEBUG"):
                raise
            if type(exc).__module__.startswith(("botocore", "boto3", "s3transfer")):
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                if type(exc).__name__ == "ResponseParserError":  # e.g. an HTML error page of a local endpoint
                    first += " (the endpoint's answer is not in AWS's format: see the endpoint's own log)"
                click.echo(f"iamfit: AWS error: {type(exc).__name__}: {first}", err=True)
                ctx.exit(EXIT_AWS)
            click.echo(
                f"iamfit: internal error: {type(exc).__name__}: {exc} (set IAMFIT_DEBUG=1 for a traceback)",
                err=True,
            )
            ctx.exit(EXIT_INTERNAL)


_VERBOSE_HELP = "Also show what iamfit reads and does (-v), and which knowledge rule fired (-vv), on stderr."
_VERBOSITY = "iamfit.verbosity"


def _set_group_verbosity(ctx: click.Context, _param: click.Parameter, value: int) -> int:
    from iamfit.cli.log import configure

    ctx.meta[_VERBOSITY] = value or 0
    configure(value or 0)
    ctx.call_on_close(configure)  # back to warnings only: the next command in this process starts quiet
    return value


def _add_verbosity(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    """A subcommand's own -v counts on top of the group's (ctx.meta is shared by the group and its command)."""
    if value:
        from iamfit.cli.log import configure

        configure(int(ctx.meta.get(_VERBOSITY, 0)) + value)


class _VerboseOption(click.Option):
    """The -v/--verbose every subcommand also accepts, added by :meth:`LazyGroup.get_command`."""

    def __init__(self) -> None:
        super().__init__(
            ["-v", "--verbose"], count=True, expose_value=False, callback=_add_verbosity, help=_VERBOSE_HELP
        )


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from iamfit.knowledge.versions import version_text

    click.echo(version_text(__version__))
    ctx.exit(0)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show iamfit's version and those of the knowledge sources it reads (they decide its output), and exit.",
)
@click.option("-v", "--verbose", count=True, expose_value=False, callback=_set_group_verbosity, help=_VERBOSE_HELP)
def cli() -> None:
    """iamfit finds the least-privilege IAM policy a Serverless Framework deploy needs, verifies it by
    deploying (in the built-in sandbox or a throwaway AWS account), and keeps it least-privilege in CI.

    \b
    Exit codes:
      0   the policy fits / the input was read
      1   findings (drift, denials, lint; a discovery that stopped)
      2   usage error (bad option or option value: --account, --region, ...)
      3   bad input (unreadable or malformed file, unknown --commands)
      4   AWS error
      70  internal error (a bug; set IAMFIT_DEBUG=1 for the traceback)
    """


def main() -> None:
    try:
        cli(prog_name="iamfit")
    finally:
        # Skip the garbage collection Python runs at exit: it walks every object still alive, and the IAM
        # action database alone is enough of them to cost ~0.17 s, a third of a typical command. Files and
        # temporary directories are closed by then (context managers, atexit), so nothing is lost.
        gc.freeze()
    sys.exit(0)

"""``--framework``: which Serverless Framework CLI deploys the service (generate, plan, check, discover)."""

from __future__ import annotations

import click

from iamfit.service.framework import VARIANTS

framework_option = click.option(
    "--framework",
    type=click.Choice(VARIANTS),
    default=None,
    help="The Serverless Framework that deploys the service: v1, v2, v3, v4 (serverless.com) or osls "
    "(default: read from the package, frameworkVersion or the installed CLI; when it cannot be told, "
    "what each of them needs, with a warning).",
)

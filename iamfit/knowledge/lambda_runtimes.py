"""When AWS Lambda deprecates each managed runtime, and from when it blocks creating and updating functions
that use it. Pure data plus a lookup against a date the caller passes in (never the clock).

Source of record: the AWS Lambda developer guide's runtime tables, "Supported runtimes" and "Deprecated
runtimes" (``AWS_RUNTIMES`` below), read in November 2026. Each row names where its dates were read:

* ``aws`` -- the AWS page itself (for nodejs20.x: deprecation 2026-04-30, function creation blocked from
  2027-02-01, updates from 2027-03-09, as quoted in iamfit issue 12);
* ``tflint`` -- the deprecation dates transcribed from that page in tflint-ruleset-aws
  ``rules/aws_lambda_function_deprecated_runtime.go`` (``TFLINT``), which gives no block dates;
* ``aws-2019`` -- the 2019-2020 deprecation schedule of the older "Runtime support policy" page
  (``AWS_POLICY_2019``), which had separate create/update block dates;
* ``aws-cdk#29108`` -- the nodejs14.x dates of the AWS page as quoted in aws/aws-cdk discussion 29108;
* ``aws-email-2021`` -- AWS's Node.js 10 end-of-support email (July 30 / August 30, 2021), posted at
  https://news.ycombinator.com/item?id=27375620;
* ``endoflife.date`` -- https://endoflife.date/aws-lambda (its "deprecated support" end is the update-block
  date) for runtimes released after the tflint transcription.

A block date is ``None`` where no source at hand states it: the warning then points at the AWS page rather
than guessing. Dates change (AWS has moved block dates later more than once): update a row together with
its source, and ``tests/knowledge/test_lambda_runtimes.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

AWS_RUNTIMES = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html"
TFLINT = (
    "https://github.com/terraform-linters/tflint-ruleset-aws/blob/master/rules/"
    "aws_lambda_function_deprecated_runtime.go"
)
AWS_POLICY_2019 = "https://docs.aws.amazon.com/lambda/latest/dg/runtime-support-policy.html"


@dataclass(frozen=True)
class RuntimeDates:
    """One managed runtime: ``deprecated`` the deprecation date; ``block_create`` / ``block_update`` the first
    days on which Lambda refuses to create / update functions that use it (None: not stated by the source)."""

    runtime: str
    deprecated: date
    block_create: date | None
    block_update: date | None
    source: str

    def deprecated_on(self, today: date) -> bool:
        return today >= self.deprecated


def _row(runtime: str, deprecated: str, create: str | None, update: str | None, source: str) -> RuntimeDates:
    return RuntimeDates(
        runtime,
        date.fromisoformat(deprecated),
        date.fromisoformat(create) if create else None,
        date.fromisoformat(update) if update else None,
        source,
    )


RUNTIME_DATES: dict[str, RuntimeDates] = {
    r.runtime: r
    for r in (
        # Node.js
        _row("nodejs24.x", "2028-04-30", None, "2028-07-01", "endoflife.date"),
        _row("nodejs22.x", "2027-04-30", "2027-06-01", "2027-07-01", "aws (as of 2026-04) / endoflife.date"),
        _row("nodejs20.x", "2026-04-30", "2027-02-01", "2027-03-09", "aws"),
        _row("nodejs18.x", "2025-09-01", None, None, "tflint"),
        _row("nodejs16.x", "2024-06-12", None, None, "tflint"),
        _row("nodejs14.x", "2023-12-04", "2024-01-09", "2024-02-08", "aws-cdk#29108"),
        _row("nodejs12.x", "2023-03-31", None, None, "tflint"),
        _row("nodejs10.x", "2021-07-30", "2021-07-30", "2021-08-30", "aws-email-2021"),
        _row("nodejs8.10", "2019-12-31", "2020-01-06", "2020-02-03", "aws-2019"),
        _row("nodejs6.10", "2019-04-30", "2019-04-30", "2019-08-12", "aws-2019"),
        _row("nodejs4.3", "2018-04-30", "2018-12-15", "2019-04-30", "aws-2019"),
        _row("nodejs4.3-edge", "2018-04-30", "2018-12-15", "2019-04-30", "aws-2019"),
        _row("nodejs", "2016-10-31", "2016-10-31", "2016-10-31", "aws-2019"),
        # Python
        _row("python3.14", "2029-06-30", None, "2029-08-31", "endoflife.date"),
        _row("python3.13", "2029-06-30", None, None, "tflint"),
        _row("python3.12", "2028-10-31", None, None, "tflint"),
        _row("python3.11", "2026-06-30", None, None, "tflint"),
        _row("python3.10", "2026-06-30", None, None, "tflint"),
        _row("python3.9", "2025-12-15", None, None, "tflint"),
        _row("python3.8", "2024-10-14", None, None, "tflint"),
        _row("python3.7", "2023-12-04", None, None, "tflint"),
        _row("python3.6", "2022-07-18", None, None, "tflint"),
        _row("python2.7", "2021-07-15", None, None, "tflint"),
        # Java
        _row("java25", "2029-06-30", None, "2029-08-31", "endoflife.date"),
        _row("java21", "2029-06-30", None, None, "tflint"),
        _row("java17", "2026-06-30", None, None, "tflint"),
        _row("java11", "2026-06-30", None, None, "tflint"),
        _row("java8.al2", "2026-06-30", None, None, "tflint"),
        _row("java8", "2024-01-08", None, None, "tflint"),
        # .NET
        _row("dotnet10", "2028-11-14", None, "2029-01-15", "endoflife.date"),
        _row("dotnet8", "2026-11-10", None, None, "tflint"),
        _row("dotnet7", "2024-05-14", None, None, "tflint"),
        _row("dotnet6", "2024-11-12", None, None, "tflint"),
        _row("dotnet5.0", "2022-05-10", None, None, "tflint"),
        _row("dotnetcore3.1", "2023-04-03", None, None, "tflint"),
        _row("dotnetcore2.1", "2022-01-05", None, None, "tflint"),
        _row("dotnetcore2.0", "2019-04-30", "2019-04-30", "2019-05-30", "aws-2019"),
        _row("dotnetcore1.0", "2019-06-27", "2019-06-27", "2019-07-31", "aws-2019"),
        # Ruby
        _row("ruby3.4", "2028-03-31", None, "2028-05-31", "endoflife.date"),
        _row("ruby3.3", "2027-03-31", None, None, "tflint"),
        _row("ruby3.2", "2026-03-31", None, None, "tflint"),
        _row("ruby2.7", "2023-11-27", None, None, "tflint"),
        _row("ruby2.5", "2021-07-30", None, None, "tflint"),
        # OS-only
        _row("provided.al2023", "2029-06-30", None, None, "tflint"),
        _row("provided.al2", "2026-06-30", None, None, "tflint"),
        _row("provided", "2024-01-08", None, None, "tflint"),
        _row("go1.x", "2024-01-08", None, None, "tflint"),
    )
}


def deprecated_runtime(runtime: str, today: date) -> RuntimeDates | None:
    """The dates of ``runtime`` when Lambda has deprecated it on ``today``; None for a supported runtime
    or one the table does not know (a custom runtime, a newer one)."""
    row = RUNTIME_DATES.get(runtime)
    return row if row is not None and row.deprecated_on(today) else None


def _since(day: date, today: date) -> str:
    return f"{'since' if today >= day else 'from'} {day.isoformat()}"


def deprecation_warning(runtime: str, functions: list[str], today: date, *, show: int = 5) -> str | None:
    """One line for the functions that use a runtime deprecated on ``today`` (None when it is not)."""
    row = deprecated_runtime(runtime, today)
    if row is None:
        return None
    names = sorted(set(functions))
    listed = ", ".join(names[:show]) + (f" and {len(names) - show} more" if len(names) > show else "")
    noun = "function" if len(names) == 1 else "functions"
    verb = "uses" if len(names) == 1 else "use"
    if row.block_create is not None and row.block_update is not None:
        blocks = (
            f"creating functions with it is blocked {_since(row.block_create, today)}, updating them "
            f"{_since(row.block_update, today)}"
        )
    elif row.block_update is not None:
        blocks = f"updating functions with it is blocked {_since(row.block_update, today)}"
    else:
        blocks = "AWS blocks creating, then updating, functions with it (dates: see the AWS page)"
    return (
        f"{noun} {listed} {verb} the Lambda runtime {runtime}, deprecated by AWS on {row.deprecated.isoformat()}: "
        f"{blocks}; move to a supported runtime ({AWS_RUNTIMES})"
    )


def deprecation_warnings(functions_by_runtime: dict[str, list[str]], today: date) -> list[str]:
    """One line per runtime deprecated on ``today``, in runtime order (``functions_by_runtime``: runtime ->
    the functions that use it, as ``Service.lambda_runtimes`` gives it)."""
    out = []
    for runtime in sorted(functions_by_runtime):
        line = deprecation_warning(runtime, functions_by_runtime[runtime], today)
        if line is not None:
            out.append(line)
    return out

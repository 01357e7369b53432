"""Fixtures for the sandbox tests: the bundled examples with their generated policies."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pytest

from iamfit.generate import generate_policies
from iamfit.policy.document import PolicyDocument
from iamfit.service.model import Service, load_service

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = tuple(sorted(p.name for p in (ROOT / "examples").iterdir() if (p / "serverless.yml").exists()))
ACCOUNT = "123456789012"


@functools.cache
def example(name: str) -> tuple[Service, dict[str, PolicyDocument]]:
    service = load_service(ROOT / "examples" / name, account=ACCOUNT)
    return service, dict(generate_policies(service).policies)


def without(doc: PolicyDocument, action: str) -> PolicyDocument:
    """``doc`` with ``action`` removed from every statement (statements left empty are dropped)."""
    out = []
    for st in doc.statements:
        kept = tuple(a for a in st.actions if a.lower() != action.lower())
        if kept or not st.actions:
            out.append(dataclasses.replace(st, actions=kept))
    return PolicyDocument(tuple(out))


def dropped(policies: dict[str, PolicyDocument], *actions: str) -> dict[str, PolicyDocument]:
    out = dict(policies)
    for principal, doc in policies.items():
        for action in actions:
            doc = without(doc, action)
        out[principal] = doc
    return out


@pytest.fixture(params=EXAMPLES)
def example_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)

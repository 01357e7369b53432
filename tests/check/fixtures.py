"""Example services and their policies for the check tests: the committed policies/<name>/ when present and
generated from the installed data (policies/data-versions.json), else freshly generated (the same command
scripts/update-policies runs: generate --account 123456789012), so a newer cfn-lint or policy_sentry changes
what is checked, not whether the check tests pass."""

from __future__ import annotations

import functools
from pathlib import Path

from iamfit.generate import generate_policies
from iamfit.policy.document import PolicyDocument
from iamfit.service.model import Service, load_service
from tests.datadrift import golden_data_installed

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = ("rest-api", "sqs-worker", "vpc-kms", "http-api-jwt", "deployment-role")
ACCOUNT = "123456789012"


@functools.cache
def service(name: str) -> Service:
    return load_service(REPO / "examples" / name, account=ACCOUNT, compile_if_needed=False)


@functools.cache
def policy_texts(name: str) -> dict[str, str]:
    """principal -> policy JSON text."""
    committed = REPO / "policies" / name
    if (committed / "deployer.json").is_file() and golden_data_installed():
        return {p.stem: p.read_text(encoding="utf-8") for p in sorted(committed.glob("*.json"))}
    result = generate_policies(service(name))
    return {principal: doc.dumps() for principal, doc in result.policies.items()}


def write_policies(name: str, directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for principal, text in policy_texts(name).items():
        path = directory / f"{principal}.json"
        path.write_text(text, encoding="utf-8")
        out[principal] = path
    return out


def document(name: str, principal: str) -> PolicyDocument:
    return PolicyDocument.from_text(policy_texts(name)[principal])

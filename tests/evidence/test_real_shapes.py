"""Real failure shapes (tests/evidence/fixtures, each with its public source) that explain must read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iamfit.evidence.explain import explain_input
from iamfit.knowledge.catalog import default_catalog

FIXTURES = Path(__file__).parent / "fixtures"
SHAPES = json.loads((FIXTURES / "failure_shapes.json").read_text(encoding="utf-8"))["shapes"]


@pytest.mark.parametrize("shape", SHAPES, ids=[s["id"] for s in SHAPES])
def test_real_failure_shape(shape: dict[str, Any]) -> None:
    result = explain_input(shape["text"])
    assert result.permission_related
    (denial,) = result.denials
    expected = shape["expected"]
    assert denial.action == expected["action"]
    assert denial.resource == expected["resource"]
    if "candidates" in expected:
        assert list(denial.candidates) == expected["candidates"]
    assert set(expected.get("candidates_include", ())) <= set(denial.candidates)
    assert not set(expected.get("candidates_exclude", ())) & set(denial.candidates)
    if "candidates_prefix" in expected:
        assert denial.candidates and all(c.startswith(expected["candidates_prefix"] + ":") for c in denial.candidates)
    catalog = default_catalog()
    assert all(catalog.info(c) is not None for c in denial.candidates)  # never an action that does not exist


def test_handler_403_null_without_a_type_is_permission_related_with_no_guess() -> None:
    text = 'Resource handler returned message: "null (Service: Lambda, Status Code: 403, Request ID: 1)"'
    (denial,) = explain_input(text).denials
    assert denial.action is None and denial.candidates == ()


def test_handler_null_message_with_another_status_is_not_a_denial() -> None:
    text = 'Resource handler returned message: "null (Service: Lambda, Status Code: 500, Request ID: 1)"'
    assert not explain_input(text).permission_related


def test_percent_encoded_path_is_granted_as_aws_evaluated_it() -> None:
    shape = next(s for s in SHAPES if s["id"] == "apigateway-tags-percent-encoded-arn")
    fix = explain_input(shape["text"]).fix
    assert fix is not None
    assert fix["Statement"][0]["Resource"] == shape["expected"]["resource"]


def test_successful_record_of_an_action_without_resource_level_permissions_is_on_star() -> None:
    result = explain_input((FIXTURES / "cloudtrail_batchgetsecretvalue_success.json").read_bytes())
    (usage,) = result.usage
    assert usage.action == "secretsmanager:BatchGetSecretValue"
    assert usage.resource == "*"
    assert usage.principal == "arn:aws:iam::165109126369:user/christophe"

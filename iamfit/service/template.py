"""Read CloudFormation templates: JSON or YAML with short-form intrinsics (cfn-lint's decoder)."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from iamfit.errors import BadInputError
from iamfit.files import check_depth, check_yaml_depth, loads_json, read_text

logger = logging.getLogger(__name__)

# What to pass instead of a template a tool expands first (a Transform, Fn::ForEach): every message says the same.
EXPANDED_TEMPLATE = ("pass the expanded template (a deployed stack's: aws cloudformation get-template "
                     "--template-stage Processed)")


def _plain(value: Any, origin: str) -> Any:
    """cfn-lint's node types (dict_node, str_node ...) as plain Python values, as CloudFormation reads them.

    YAML reads an unquoted ``2012-10-17`` (a policy's ``Version``, written so in many public templates) as a date;
    CloudFormation keeps the text, so a date is its ISO spelling again (a timestamp with a time, its ISO form).
    Any other value JSON cannot hold (``!!binary``, ``!!set``) is bad input."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v, origin) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, origin) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise BadInputError(f"{origin}: a YAML value of type {type(value).__name__} has no CloudFormation meaning")


def parse_template(text: str, origin: str) -> dict[str, Any]:
    """Parse template text; raise BadInputError naming ``origin`` on anything that is not a template."""
    stripped = text.lstrip()
    if not stripped:
        raise BadInputError(f"{origin}: the template is empty")
    template: Any
    if stripped.startswith("{"):
        template = loads_json(text, origin)
    else:
        from cfnlint.decode import decode_str  # lazy: cfn-lint is heavy
        from yaml import YAMLError

        check_yaml_depth(text, origin)
        try:
            decoded, matches = decode_str(text)
        except (YAMLError, ValueError, TypeError, RecursionError) as exc:  # what cfn-lint's parser lets through
            raise BadInputError(f"{origin}: not a readable YAML or JSON template ({type(exc).__name__})") from None
        if decoded is None:
            detail = str(matches[0].message) if matches else "unreadable"
            raise BadInputError(f"{origin}: not a readable YAML or JSON template ({detail})")
        check_depth(decoded, origin)
        template = _plain(decoded, origin)
    if not isinstance(template, dict):
        raise BadInputError(f"{origin}: a template must be a mapping at the top level")
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise BadInputError(f"{origin}: the template has no Resources")
    for logical_id, resource in resources.items():
        if logical_id.startswith("Fn::ForEach::"):
            raise BadInputError(
                f"{origin}: {logical_id}: Fn::ForEach is expanded by the AWS::LanguageExtensions transform, which "
                f"iamfit does not run; {EXPANDED_TEMPLATE}"
            )
        if isinstance(resource, dict) and isinstance(resource.get("Type"), dict):
            tag = str(next(iter(resource["Type"]), "?")).removeprefix("Fn::")
            raise BadInputError(
                f"{origin}: resource {logical_id}: its Type is a {tag} tag, not a resource type: this template is "
                "for a pre-processor (a Rain module: `rain pkg` writes the template CloudFormation reads); pass "
                "the template it writes"
            )
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise BadInputError(f"{origin}: resource {logical_id} has no Type")
        props = resource.get("Properties", {})
        if props is not None and not isinstance(props, dict):
            raise BadInputError(f"{origin}: resource {logical_id} has Properties that are not a mapping")
        depends_on = resource.get("DependsOn", [])
        if not isinstance(depends_on, str) and not (
            isinstance(depends_on, list) and all(isinstance(d, str) for d in depends_on)
        ):
            raise BadInputError(f"{origin}: resource {logical_id}: DependsOn is not a name or a list of names")
    return template


def load_template(path: Path) -> dict[str, Any]:
    template = parse_template(read_text(path, "template"), str(path))
    logger.info("read the template %s (%d resources)", path, len(template["Resources"]))
    return template

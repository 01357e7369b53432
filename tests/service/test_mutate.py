"""The update variant: a code change, a configuration change, tags, and one replacement, derived by rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from iamfit.knowledge.arns import NAME_RULES
from iamfit.knowledge.registry import schema
from iamfit.service.model import load_service
from iamfit.service.mutate import update_changes, update_variant

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").iterdir() if (p / "serverless.yml").exists())


@pytest.mark.parametrize("name", EXAMPLES)
def test_update_variant_changes_code_configuration_and_forces_one_replacement(name: str) -> None:
    service = load_service(ROOT / "examples" / name, account="123456789012")
    before = json.dumps(service.template, sort_keys=True)
    variant = update_variant(service)
    assert json.dumps(service.template, sort_keys=True) == before  # the service itself is untouched
    assert variant is update_variant(service)
    _, new_dir, changes = update_changes(service)
    kinds = {c.kind for c in changes}
    assert {"code", "configuration", "replacement", "tags"} <= kinds
    # code: a new artifact directory under the same prefix, every S3Key moved, new version ids
    assert variant.artifact_dir == new_dir != service.artifact_dir
    assert new_dir is not None and new_dir.startswith(service.artifact_prefix + "/")
    assert service.artifact_dir not in json.dumps(variant.template)
    old_versions = {lid for lid, r in service.resources.items() if r.type == "AWS::Lambda::Version"}
    new_versions = {lid for lid, r in variant.resources.items() if r.type == "AWS::Lambda::Version"}
    assert len(old_versions) == len(new_versions) and not old_versions & new_versions
    # configuration: a function's MemorySize / Timeout / Environment
    config = next(c for c in changes if c.kind == "configuration" and c.logical_id in variant.resources
                  and variant.resources[c.logical_id].type == "AWS::Lambda::Function")
    fn = variant.resources[config.logical_id].properties
    assert fn["Environment"]["Variables"]["IAMFIT_UPDATE"] == "1"
    assert fn["MemorySize"] == service.resources[config.logical_id].properties.get("MemorySize", 1024) + 128
    # replacement: a create-only property of a resource whose name CloudFormation generates
    replaced = next(c for c in changes if c.kind == "replacement")
    old, new = service.resources[replaced.logical_id], variant.resources[replaced.logical_id]
    type_schema = schema(new.type)
    assert type_schema is not None
    changed = {p for p in set(old.properties) | set(new.properties) if old.properties.get(p) != new.properties.get(p)}
    assert changed and changed <= type_schema.create_only
    rule = NAME_RULES.get(new.type)
    assert not (rule and rule.name_property and rule.name_property in new.properties)
    assert variant.graph.depth() >= 1


def test_a_template_without_artifacts_still_gets_a_variant(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"Resources": {
        "Fn": {"Type": "AWS::Lambda::Function",
               "Properties": {"Role": "arn:aws:iam::1:role/r", "Code": {"ZipFile": "x"}}},
        "Perm": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Ref": "Fn"}, "Action": "lambda:InvokeFunction", "Principal": "sns.amazonaws.com"}},
    }}))
    service = load_service(path, service_name="svc", stage="dev", region="us-east-1", account="123456789012")
    variant = update_variant(service)
    assert variant.resources["Perm"].properties["FunctionName"] == {"Fn::GetAtt": ["Fn", "Arn"]}
    assert variant.resources["Fn"].properties["MemorySize"] == 1152
    assert variant.artifact_dir is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**6, max_value=10**6) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(memory=json_values, timeout=json_values)
@example(memory="512", timeout={"Ref": "T"})
def test_the_update_takes_any_memory_and_timeout_a_template_writes(tmp_path: Path, memory: object,
                                                                  timeout: object) -> None:
    """A function's MemorySize/Timeout may be an intrinsic (aws-cloudformation-templates' PyPlate macro writes
    `Timeout: !Ref LambdaTimeout`) or anything else: the update sets literal numbers, from Lambda's defaults when
    the template's are not literal (was an internal error, exit 70, in plan and discover)."""
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"Parameters": {"T": {"Type": "Number"}}, "Resources": {
        "Fn": {"Type": "AWS::Lambda::Function",
               "Properties": {"Role": "arn:aws:iam::1:role/r", "Code": {"ZipFile": "x"},
                              "MemorySize": memory, "Timeout": timeout}}}}))
    service = load_service(path, service_name="svc", stage="dev", region="us-east-1", account="123456789012")
    props = update_variant(service).resources["Fn"].properties
    assert isinstance(props["MemorySize"], int) and isinstance(props["Timeout"], int)
    if timeout == {"Ref": "T"} or not isinstance(timeout, (int, str)) or isinstance(timeout, bool):
        assert props["Timeout"] == 7

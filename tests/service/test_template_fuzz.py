"""Arbitrary text never crashes the template reader: it is a template, or one BadInputError."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamfit.errors import BadInputError
from iamfit.service.template import parse_template

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_a_template_or_bad_input(text: str) -> None:
    try:
        template = parse_template(text, "fuzz")
    except BadInputError as exc:
        assert exc.exit_code == 3 and "\n" not in exc.message
    else:
        assert isinstance(template["Resources"], dict) and template["Resources"]


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_document_is_a_template_or_bad_input(value: object) -> None:
    try:
        parse_template(json.dumps(value), "fuzz")
    except BadInputError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}", fullmatch=True), json_values, min_size=1, max_size=4))
def test_resources_of_any_shape_are_read_or_rejected_cleanly(resources: dict[str, object]) -> None:
    try:
        parse_template(json.dumps({"Resources": resources}), "fuzz")
    except BadInputError as exc:
        assert "fuzz" in exc.message


types = st.sampled_from(["AWS::SQS::Queue", "AWS::Lambda::Function", "AWS::IAM::Role", "AWS::S3::Bucket",
                         "AWS::Logs::LogGroup", "Custom::Thing", "AWS::Made::Up"])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.from_regex(r"[A-Z][A-Za-z0-9]{0,6}", fullmatch=True),
                       st.fixed_dictionaries({"Type": types}, optional={"Properties": st.dictionaries(
                           st.sampled_from(["FunctionName", "Role", "Code", "QueueName", "KmsKeyArn", "VpcConfig",
                                            "Tags", "ServiceToken", "RoleName", "Policies"]), json_values,
                           max_size=4), "DependsOn": json_values}),
                       min_size=1, max_size=5))
def test_generate_reads_any_resource_properties_or_rejects_them_cleanly(resources: dict[str, object]) -> None:
    from pathlib import Path
    from tempfile import TemporaryDirectory

    from iamfit.generate import generate_policies
    from iamfit.service.model import load_service

    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.json"
        path.write_text(json.dumps({"Resources": resources}))
        try:
            service = load_service(path, account="123456789012")
            generate_policies(service)
        except BadInputError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["service", "provider", "plugins", "frameworkVersion", "package"]),
                       json_values, max_size=5),
       json_values)
def test_any_package_record_reads_or_is_bad_input(service: dict[str, object], plugins: object) -> None:
    """serverless-state.json of any shape: a record (its plugins plain names, sorted), or one BadInputError."""
    from pathlib import Path

    from iamfit.service.identity import read_package_record

    for state in ({"service": service}, {"service": {**service, "plugins": plugins}}, service):
        try:
            record = read_package_record(state, Path("serverless-state.json"))
        except BadInputError as exc:
            assert exc.exit_code == 3 and "\n" not in exc.message
        else:
            assert all(isinstance(p, str) and p for p in record.plugins)
            assert list(record.plugins) == sorted(set(record.plugins))


YAML_SCALARS = st.sampled_from(
    ["2012-10-17", "2001-12-14t21:59:43.10-05:00", "2002-12-14", "yes", "~", "0x1F", "1e3", "'2012-10-17'",
     "!!binary aGVsbG8=", "!!set {a, b}", "!Ref Queue", ".nan", "-.inf"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(YAML_SCALARS, min_size=1, max_size=4))
def test_yaml_templates_read_as_json_values_or_bad_input(values: list[str]) -> None:
    """Whatever a YAML scalar decodes to (a date, binary, a set), the template holds only what JSON can, as
    CloudFormation reads it, or it is one BadInputError: never a value the sandbox cannot serialise (exit 70)."""
    props = "\n".join(f"      P{i}: {v}" for i, v in enumerate(values))
    text = f"Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n{props}\n"
    try:
        template = parse_template(text, "fuzz")
    except BadInputError as exc:
        assert exc.exit_code == 3 and "\n" not in exc.message
    else:
        json.dumps(template, allow_nan=True)


def test_an_unquoted_policy_version_is_the_string_cloudformation_reads() -> None:
    # awslabs/amazon-timestream-tools (tests/predict/fixtures/public-templates/) writes `Version: 2012-10-17`
    text = ("Resources:\n  B:\n    Type: AWS::S3::BucketPolicy\n    Properties:\n      Bucket: b\n"
            "      PolicyDocument:\n        Version: 2012-10-17\n        Statement: []\n")
    template = parse_template(text, "t.yaml")
    assert template["Resources"]["B"]["Properties"]["PolicyDocument"]["Version"] == "2012-10-17"


def test_fn_foreach_names_the_transform_iamfit_does_not_run() -> None:
    # the shape of aws-cloudformation/aws-cloudformation-templates CloudFormation/fn-foreach-ddb.yaml
    text = ("Transform: AWS::LanguageExtensions\nResources:\n  Fn::ForEach::Tables:\n    - Name\n    - [A, B]\n"
            "    - ${Name}Table:\n        Type: AWS::DynamoDB::Table\n")
    with pytest.raises(BadInputError, match="AWS::LanguageExtensions transform, which iamfit does not run"):
        parse_template(text, "t.yaml")


def test_a_rain_module_type_names_the_pre_processor() -> None:
    # the shape of aws-cloudformation/aws-cloudformation-templates CloudFormation/StackSets/common-resources.yaml
    text = "Resources:\n  Storage:\n    Type: !Rain::Module ../../RainModules/bucket.yml\n"
    with pytest.raises(BadInputError, match=r"resource Storage: its Type is a Rain::Module tag.*rain pkg"):
        parse_template(text, "t.yaml")

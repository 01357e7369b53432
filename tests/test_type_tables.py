"""Which of iamfit's per-type tables know each resource type the examples and the test fixtures use.

Adding a resource type touches up to nine tables in three packages (docs/contributing.md, "Adding a resource
type"). This test lists, for every type in ``examples/*/.serverless/cloudformation-template-update-stack.json``
and in the fixture templates under ``tests/``, which tables know it (``KNOWN``), and checks that each type
the examples use is known to the tables it needs, or is listed in ``NOT_NEEDED`` with the reason.
"""

from __future__ import annotations

import ast
import collections
import functools
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from iamfit.knowledge import arns, eventnames, refinements, registry, service_roles
from iamfit.targets.sandbox import shapes, timing

ROOT = Path(__file__).resolve().parent.parent
TYPE = re.compile(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+")
PREFIX = re.compile(r"AWS::[A-Za-z0-9]+::$")


def example_types() -> set[str]:
    found = set()
    for path in sorted(ROOT.glob("examples/*/.serverless/cloudformation-template-update-stack.json")):
        for body in json.loads(path.read_text(encoding="utf-8"))["Resources"].values():
            found.add(body["Type"])
    return found


def fixture_types() -> set[str]:
    """Types of the templates the tests build (``"Type": "AWS::..."`` in tests/**/*.py)."""
    found = set()
    for path in sorted((ROOT / "tests").rglob("*.py")):
        found.update(re.findall(r'"Type":\s*"(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)"', path.read_text(encoding="utf-8")))
    return found


@functools.cache
def literals(relative: str) -> frozenset[str]:
    """The type names (``AWS::A::B``) and type prefixes (``AWS::A::``) a module names in its code."""
    tree = ast.parse((ROOT / relative).read_text(encoding="utf-8"))
    values = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return frozenset(v for v in values if TYPE.fullmatch(v) or PREFIX.fullmatch(v))


def names(relative: str, type_name: str) -> bool:
    return any(type_name == v or (v.endswith("::") and type_name.startswith(v)) for v in literals(relative))


@functools.cache
def service_prefix(type_name: str) -> str | None:
    """The IAM service prefix most of the type's create handler permissions use (registry schema)."""
    schema = registry.schema(type_name)
    actions = schema.handlers.get("create", ()) if schema else ()
    counts = collections.Counter(a.split(":", 1)[0].lower() for a in actions)
    return counts.most_common(1)[0][0] if counts else None


def _eventnames(type_name: str) -> bool:
    prefix = service_prefix(type_name)
    return prefix is not None and (
        any(m.prefix == prefix for m in eventnames.MISMATCHES)
        or prefix in eventnames.SOURCE_PREFIXES.values()
        or prefix in eventnames._APIGATEWAY_SOURCES
    )


# Table name -> (where it is, does it know the type). docs/contributing.md names the same nine (+ the registry).
TABLES: dict[str, tuple[str, Callable[[str], bool]]] = {
    "registry": ("iamfit/knowledge/registry.py schema()", lambda t: registry.schema(t) is not None),
    "arns": ("iamfit/knowledge/arns.py NAME_RULES, PARENT_PROPERTY",
             lambda t: t in arns.NAME_RULES or t in arns.PARENT_PROPERTY),
    "refinements": ("iamfit/knowledge/refinements.py RULES",
                    lambda t: any(r.type_name == t for r in refinements.RULES)),
    "roles": ("iamfit/knowledge/service_roles.py PASSED_TO, SERVICE_LINKED",
              lambda t: t in service_roles.PASSED_TO or t in service_roles.SERVICE_LINKED),
    "eventnames": ("iamfit/knowledge/eventnames.py MISMATCHES, SOURCE_PREFIXES, _APIGATEWAY_SOURCES "
                   "(by the type's service)", _eventnames),
    "timing": ("iamfit/targets/sandbox/timing.py RESOURCE_SECONDS", lambda t: t in timing.RESOURCE_SECONDS),
    "shapes": ("iamfit/targets/sandbox/shapes.py _SERVICE_NAME (by the type's service)",
               lambda t: service_prefix(t) in shapes._SERVICE_NAME),
    "mutate": ("iamfit/service/mutate.py REPLACEMENT_RULES, UPDATE_RULES, update_changes' special cases",
               lambda t: names("iamfit/service/mutate.py", t)),
    "model": ("iamfit/service/model.py special cases (Service.resource_arns, _get_att, has_rest_api...)",
              lambda t: names("iamfit/service/model.py", t)),
    "world": ("iamfit/targets/sandbox/world.py Names.physical_id's special cases",
              lambda t: names("iamfit/targets/sandbox/world.py", t)),
}

# The listing: for every type of the examples and the fixtures, the tables that know it today. A change to a
# table or to the types used shows here first; update the row (and docs/contributing.md if a rule changes).
KNOWN: dict[str, frozenset[str]] = {t: frozenset(v.split()) for t, v in {
    "AWS::ApiGateway::Deployment": "registry eventnames timing shapes mutate model",
    "AWS::ApiGateway::Method": "registry refinements roles eventnames shapes model",
    "AWS::ApiGateway::RequestValidator": "registry eventnames shapes mutate model",
    "AWS::ApiGateway::Resource": "registry eventnames shapes model",
    "AWS::ApiGateway::RestApi": "registry arns refinements roles eventnames timing shapes model",
    "AWS::ApiGatewayV2::Api": "registry arns refinements eventnames shapes model",
    "AWS::ApiGatewayV2::Authorizer": "registry refinements roles eventnames shapes model",
    "AWS::ApiGatewayV2::Integration": "registry refinements roles eventnames shapes model",
    "AWS::ApiGatewayV2::Route": "registry eventnames shapes model",
    "AWS::ApiGatewayV2::Stage": "registry eventnames shapes model",
    "AWS::AppMesh::Mesh": "registry",  # without handler permissions: named as undescribed (test_undescribed.py)
    "AWS::ApplicationAutoScaling::ScalableTarget": "registry",
    "AWS::CloudFormation::CustomResource": "registry",
    "AWS::CloudFormation::WaitConditionHandle": "registry",  # a rule in knowledge/unregistered.py: no action
    "AWS::Cognito::UserPool": "registry arns refinements roles eventnames timing shapes",
    "AWS::Cognito::UserPoolClient": "registry refinements roles shapes mutate",
    "AWS::DynamoDB::Table": "registry arns refinements roles eventnames timing shapes",
    "AWS::ECS::Cluster": "registry roles",  # test_discover.py: two unresolved roles passed to two services
    "AWS::ECS::Service": "registry roles",
    "AWS::Events::Rule": "registry arns refinements roles timing shapes model",
    "AWS::IAM::InstanceProfile": "registry arns shapes",
    "AWS::IAM::Role": "registry arns refinements timing shapes model",
    "AWS::IAM::User": "registry shapes",
    "AWS::KMS::Alias": "registry arns eventnames shapes mutate",
    "AWS::KMS::Key": "registry arns refinements eventnames timing shapes",
    "AWS::KMS::ReplicaKey": "registry eventnames shapes",
    "AWS::Lambda::EventSourceMapping": "registry arns refinements eventnames timing shapes world",
    "AWS::Lambda::Function": "registry arns refinements roles eventnames timing shapes mutate model world",
    "AWS::Lambda::Permission": "registry arns eventnames timing shapes mutate world",
    "AWS::Lambda::Version": "registry arns refinements eventnames timing shapes mutate model world",
    "AWS::Logs::LogGroup": "registry arns refinements timing shapes model",
    "AWS::S3::Bucket": "registry arns refinements roles eventnames timing shapes model",
    "AWS::S3::BucketPolicy": "registry arns eventnames timing shapes",
    "AWS::SNS::Topic": "registry arns refinements roles eventnames timing shapes",
    "AWS::SQS::Queue": "registry arns eventnames timing shapes mutate model",
}.items()}

# Fixture types that are made up on purpose (unknown-type and custom-resource tests): no table knows them.
MADE_UP = frozenset({"AWS::Foo::Bar", "AWS::Made::Up", "AWS::Nope::Thing"})
# SAM's types, which its Transform expands and iamfit does not (tests/service/test_model.py: read as written, named)
TRANSFORMED = frozenset({"AWS::Serverless::Api", "AWS::Serverless::Function"})

# What each table is needed for, and the example types that do not need it (with the reason).
NEEDED = ("registry", "arns", "timing", "shapes")
NOT_NEEDED: dict[tuple[str, str], str] = {
    **{(t, "arns"): "scoped to the API's ARN by Service.resource_arns' AWS::ApiGateway(V2):: prefix rule (model)"
       for t in ("AWS::ApiGateway::Deployment", "AWS::ApiGateway::Method", "AWS::ApiGateway::RequestValidator",
                 "AWS::ApiGateway::Resource", "AWS::ApiGatewayV2::Authorizer", "AWS::ApiGatewayV2::Integration",
                 "AWS::ApiGatewayV2::Route", "AWS::ApiGatewayV2::Stage")},
    ("AWS::Cognito::UserPoolClient", "arns"): "its operations act on the user pool, whose ARN is `userpool/*`",
    **{(t, "timing"): "a short API-only create: timing.DEFAULT (abefarris' per-resource mean) applies"
       for t in ("AWS::ApiGateway::Method", "AWS::ApiGateway::RequestValidator", "AWS::ApiGateway::Resource",
                 "AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Authorizer", "AWS::ApiGatewayV2::Integration",
                 "AWS::ApiGatewayV2::Route", "AWS::ApiGatewayV2::Stage", "AWS::Cognito::UserPoolClient",
                 "AWS::KMS::Alias")},
}


def known(type_name: str) -> frozenset[str]:
    return frozenset(name for name, (_, knows) in TABLES.items() if knows(type_name))


def test_every_type_of_the_examples_and_fixtures_is_listed() -> None:
    used = example_types() | fixture_types()
    assert len(example_types()) >= 20
    assert sorted(used - MADE_UP - TRANSFORMED - set(KNOWN)) == []


@pytest.mark.parametrize("type_name", sorted(KNOWN))
def test_the_listing_says_which_tables_know_the_type(type_name: str) -> None:
    assert sorted(known(type_name)) == sorted(KNOWN[type_name])


@pytest.mark.parametrize("type_name", sorted(MADE_UP | TRANSFORMED))
def test_made_up_types_are_known_to_no_table(type_name: str) -> None:
    assert known(type_name) == frozenset()


@pytest.mark.parametrize("type_name", sorted(example_types()))
def test_each_example_type_is_known_to_the_tables_it_needs(type_name: str) -> None:
    missing = [t for t in NEEDED if t not in known(type_name) and (type_name, t) not in NOT_NEEDED]
    assert missing == []


def test_not_needed_entries_are_still_true() -> None:
    """An exemption for a table that now knows the type (or a type no example uses) is stale."""
    stale = [key for key in NOT_NEEDED if key[0] not in example_types() or key[1] in known(key[0])]
    assert stale == []

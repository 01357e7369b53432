"""Which Framework deploys a package, and what its CLI calls (issue 13 §1), on real public templates
(tests/predict/fixtures/framework/README.md names their sources)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from iamfit.predict import predict
from iamfit.predict.serverless_cli import all_cli_calls, cli_calls
from iamfit.principals import CLOUDFORMATION, DEPLOYER
from iamfit.service.framework import NOT_TOLD, majors
from iamfit.service.model import Service, load_service

from ..conftest import REPO

FIXTURES = Path(__file__).parent / "fixtures" / "framework"
V4 = FIXTURES / "v4-shared-bucket" / "cloudformation-template-update-stack.json"
V1 = REPO / "tests" / "service" / "fixtures" / "identity" / "official-joke-api.json"
ACCOUNT = "123456789012"
SHARED = "arn:aws:s3:::serverless-framework-deployments-us-east-1-e7af3a22-a802"
PARAMETER = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/serverless-framework/deployment/s3-bucket"


def needs(service: Service, principal: str = DEPLOYER) -> set[tuple[str, str]]:
    return {(n.action, n.resource) for n in predict(service).needs if n.principal == principal}


@pytest.fixture(scope="module")
def v4() -> Service:
    return load_service(V4, account=ACCOUNT)


def test_a_literal_shared_bucket_in_the_code_tells_v4(v4: Service) -> None:
    assert v4.framework.variants == ("v4",)
    assert "serverless-framework-deployments-us-east-1-e7af3a22-a802" in v4.framework.source
    assert not any("cannot tell which Serverless Framework" in w for w in v4.warnings)


def test_v4_deploys_through_the_shared_bucket_it_finds_in_ssm(v4: Service) -> None:
    granted = needs(v4)
    prefix = f"{SHARED}/serverless/starwars-marketplace-api/dev/*"
    assert {("ssm:GetParameter", PARAMETER), ("ssm:PutParameter", PARAMETER), ("s3:CreateBucket", SHARED),
            ("s3:PutBucketVersioning", SHARED), ("s3:GetBucketLocation", SHARED), ("s3:ListBucket", SHARED),
            ("s3:PutObject", prefix), ("s3:GetObject", prefix), ("s3:DeleteObject", prefix),
            ("s3:ListBucketVersions", SHARED), ("s3:DeleteObjectVersion", prefix)} <= granted
    assert not [r for _, r in granted if "serverlessdeploymentbuck" in r]  # no stack bucket exists
    # v4 deploys directly unless deploymentMethod: changesets
    actions = {a for a, _ in granted}
    assert {"cloudformation:CreateStack", "cloudformation:UpdateStack"} <= actions
    assert not actions & {"cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet"}


def test_v4_first_deploy_claims_the_parameter_then_creates_the_bucket_before_anything_else(v4: Service) -> None:
    first = cli_calls(v4, "deploy", first_deploy=True)
    order = [c.action for c in first]
    assert order[:5] == ["cloudformation:DescribeStackResource", "ssm:GetParameter", "ssm:PutParameter",
                         "s3:CreateBucket", "s3:PutBucketVersioning"]
    assert order.index("s3:PutBucketVersioning") < order.index("cloudformation:DescribeStacks")
    assert [c.action for c in first if c.stack_op] == ["cloudformation:CreateStack"]  # late, from TemplateURL
    later = [c.action for c in cli_calls(v4, "deploy", first_deploy=False)]
    assert "ssm:PutParameter" not in later and "s3:CreateBucket" in later  # CreateBucket on every run
    assert "s3:PutBucketVersioning" in later  # us-east-1 answers 200 to CreateBucket of an owned bucket
    elsewhere = dataclasses.replace(v4, region="eu-west-1")
    assert "s3:PutBucketVersioning" not in [c.action for c in cli_calls(elsewhere, "deploy", first_deploy=False)]


def test_v4_with_change_sets_and_with_a_custom_bucket(v4: Service) -> None:
    changesets = dataclasses.replace(v4, provider={"deploymentMethod": "changesets"})
    assert "cloudformation:CreateChangeSet" in {a for a, _ in needs(changesets)}
    custom = dataclasses.replace(v4, provider={"deploymentBucket": "my-artifacts"})
    granted = needs(custom)
    assert not [a for a, _ in granted if a.startswith("ssm:")]
    assert ("s3:PutObject", "arn:aws:s3:::my-artifacts/serverless/starwars-marketplace-api/dev/*") in granted
    # the Framework checks a custom bucket's region (osls, its fork, sends HeadBucket instead)
    assert ("s3:GetBucketLocation", "arn:aws:s3:::my-artifacts") in granted
    osls = dataclasses.replace(custom, framework=dataclasses.replace(custom.framework, variants=("osls",)))
    assert "s3:GetBucketLocation" not in {c.action for c in cli_calls(osls, "deploy", first_deploy=False)}


def test_deployment_prefix_moves_every_artifact_key(tmp_path: Path) -> None:
    # The real v4 template with its artifact keys under provider.deploymentPrefix "deploys/main"
    template = tmp_path / "cloudformation-template-update-stack.json"
    template.write_text(V4.read_text().replace('"serverless/starwars-marketplace-api/', '"deploys/main/starwars-'
                                                                                           'marketplace-api/'))
    svc = load_service(template, account=ACCOUNT)
    assert svc.artifact_prefix == "deploys/main/starwars-marketplace-api/dev"
    objects = f"{SHARED}/deploys/main/starwars-marketplace-api/dev/*"
    granted = needs(svc)
    assert {("s3:PutObject", objects), ("s3:DeleteObjectVersion", objects)} <= granted
    assert not [r for _, r in granted if "/serverless/" in r]
    split = predict(svc, split=True)
    reads = {n.resource for n in split.needs if n.principal == CLOUDFORMATION and n.action == "s3:GetObject"}
    assert reads == {objects}


def test_v1_template_deploys_with_create_and_update_stack() -> None:
    svc = load_service(V1)
    assert svc.framework.variants == ("v1",) and "1.42.0" in svc.framework.source
    actions = {a for a, _ in needs(svc)}
    assert {"cloudformation:CreateStack", "cloudformation:UpdateStack"} <= actions
    assert not actions & {"cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet",
                          "cloudformation:DeleteChangeSet", "cloudformation:DescribeChangeSet"}
    first = cli_calls(svc, "deploy", first_deploy=True)
    assert [c.action for c in first if c.stack_op] == ["cloudformation:CreateStack", "cloudformation:UpdateStack"]


def test_a_v2_package_records_its_framework_version_and_never_uses_change_sets() -> None:
    svc = load_service(FIXTURES / "v2-package" / ".serverless", account=ACCOUNT)
    assert svc.framework.variants == ("v2",)
    assert svc.framework.source == "frameworkVersion '2' in serverless-state.json"
    actions = {a for a, _ in needs(svc)}
    assert {"cloudformation:CreateStack", "cloudformation:UpdateStack"} <= actions
    assert not [a for a in actions if "ChangeSet" in a]
    first = cli_calls(svc, "deploy", first_deploy=True)
    assert [c.action for c in first if c.stack_op] == ["cloudformation:CreateStack", "cloudformation:UpdateStack"]
    assert [c.action for c in cli_calls(svc, "rollback") if c.stack_op] == ["cloudformation:UpdateStack"]


def test_code_reads_are_scoped_to_the_artifact_prefix_not_one_deploys_key() -> None:
    svc = load_service(V1, stage="prod", account=ACCOUNT)  # the package's keys name stage dev
    reads = {r for a, r in needs(svc, DEPLOYER) if a == "s3:GetObject"}
    assert reads and all(r.endswith("/serverless/aws-nodejs/prod/*") for r in reads), reads
    unrecorded = dataclasses.replace(load_service(V1, account=ACCOUNT), artifact_dir=None)
    reads = {n.resource for n in predict(unrecorded, split=True).needs
             if n.principal == CLOUDFORMATION and n.action == "s3:GetObject"}
    assert reads == {"arn:aws:s3:::aws-nodejs-dev-serverlessdeploymentbucket-*/serverless/aws-nodejs/dev/*"}
    assert not any("1490330149212" in r for r in reads)


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [("3", (3,)), ("'^3.0.0'", (3,)), (">=1.1.0 <2.0.0", (1,)), (">=2 || 4", (2, 3, 4)), (">=3", (3, 4)),
     ("<2.1.0", (1, 2)), ("2.x", (2,)), ("~1.38", (1,)), ("*", ())],
)
def test_framework_version_ranges(constraint: str, expected: tuple[int, ...]) -> None:
    assert majors(constraint) == expected


def _service_dir(tmp_path: Path, config: str) -> Path:
    svc = tmp_path / "svc"
    (svc / ".serverless").mkdir(parents=True)
    shutil.copy(V1, svc / ".serverless" / "cloudformation-template-update-stack.json")
    (svc / "serverless.yml").write_text(config)
    return svc


def test_framework_version_in_serverless_yml_tells(tmp_path: Path) -> None:
    svc = load_service(_service_dir(tmp_path, "service: aws-nodejs\nframeworkVersion: '3'\nprovider:\n  name: aws\n"),
                       compile_if_needed=False)
    assert svc.framework.variants == ("v3", "osls") and "frameworkVersion '3'" in svc.framework.source
    assert svc.framework.told  # osls is v3's fork: the same calls
    assert not any("cannot tell which Serverless Framework" in w for w in svc.warnings)
    assert "cloudformation:CreateChangeSet" in {c.action for c in all_cli_calls(svc, ("deploy",))}


def test_framework_version_4_may_be_v4_or_osls_4(tmp_path: Path) -> None:
    svc = load_service(_service_dir(tmp_path, "service: aws-nodejs\nframeworkVersion: '4'\n"), compile_if_needed=False)
    assert svc.framework.variants == ("v4", "osls") and not svc.framework.told
    assert any("cannot tell which Serverless Framework" in w for w in svc.warnings)
    actions = {a for a, _ in needs(svc)}
    assert {"cloudformation:CreateChangeSet", "cloudformation:UpdateStack", "ssm:GetParameter"} <= actions
    # a stack that holds its ServerlessDeploymentBucket keeps it under v4; only a first deploy takes the shared one
    v4 = dataclasses.replace(svc, framework=dataclasses.replace(svc.framework, variants=("v4",)))
    assert "ssm:GetParameter" in {c.action for c in cli_calls(v4, "deploy", first_deploy=True)}
    later = cli_calls(v4, "deploy", first_deploy=False)
    assert "ssm:GetParameter" not in {c.action for c in later}
    assert not [c for c in later if "serverless-framework-deployments" in c.resource]
    legacy = dataclasses.replace(v4, provider={**v4.provider, "enableLegacyDeploymentBucket": True})
    first = cli_calls(legacy, "deploy", first_deploy=True)
    assert "ssm:GetParameter" not in {c.action for c in first}
    assert [c.action for c in first if c.stack_op] == ["cloudformation:CreateStack", "cloudformation:UpdateStack"]


def test_the_installed_cli_tells(tmp_path: Path) -> None:
    service_dir = _service_dir(tmp_path, "service: aws-nodejs\nprovider:\n  name: aws\n")
    manifest = tmp_path / "node_modules" / "serverless" / "package.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"name": "serverless", "version": "2.72.4"}))
    assert load_service(service_dir, compile_if_needed=False).framework.variants == ("v2",)
    (service_dir / "node_modules" / "osls").mkdir(parents=True)
    (service_dir / "node_modules" / "osls" / "package.json").write_text('{"name": "osls", "version": "4.3.1"}')
    assert load_service(service_dir, compile_if_needed=False).framework.variants == ("osls",)


def test_v4_meta_json_tells(tmp_path: Path) -> None:
    service_dir = _service_dir(tmp_path, "service: aws-nodejs\nprovider:\n  name: aws\n")
    meta = {str(service_dir): {"versionFramework": "4.4.11"}}  # as v4's sf-core writes it
    (service_dir / ".serverless" / "meta.json").write_text(json.dumps(meta))
    svc = load_service(service_dir, compile_if_needed=False)
    assert svc.framework.variants == ("v4",) and "versionFramework 4.4.11" in svc.framework.source


def test_untold_grants_what_each_candidate_needs_and_says_so(tmp_path: Path) -> None:
    template = json.loads(V1.read_text())
    template["Resources"]["IamRoleLambdaExecution"]["Properties"]["RoleName"]["Fn::Join"][1][2] = {
        "Ref": "AWS::Region"}  # as Framework >= 1.42 writes it: no tell left
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    svc = load_service(path, region="us-east-1", account=ACCOUNT)
    assert svc.framework == NOT_TOLD
    assert any("cannot tell which Serverless Framework" in w and "--framework" in w for w in svc.warnings)
    actions = {a for a, _ in needs(svc)}
    assert {"cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet", "cloudformation:CreateStack",
            "cloudformation:UpdateStack"} <= actions
    # the sandbox runs one CLI: iamfit's pinned osls (change sets)
    assert "cloudformation:CreateStack" not in {c.action for c in cli_calls(svc, "deploy", first_deploy=False)}
    forced = load_service(path, region="us-east-1", account=ACCOUNT, framework="v3")
    assert forced.framework.variants == ("v3",) and forced.framework.source == "--framework"
    assert "cloudformation:UpdateStack" not in {a for a, _ in needs(forced)}

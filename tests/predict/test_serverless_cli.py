from __future__ import annotations

import pytest

from iamfit.predict.serverless_cli import cli_calls
from iamfit.service.model import load_service

from ..conftest import EXAMPLES


@pytest.fixture(scope="module")
def rest_api():  # type: ignore[no-untyped-def]
    return load_service(EXAMPLES / "rest-api", account="123456789012", compile_if_needed=False)


@pytest.fixture(scope="module")
def direct():  # type: ignore[no-untyped-def]
    return load_service(EXAMPLES / "deployment-role", compile_if_needed=False)


def actions(calls) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.action for c in calls]


def test_first_deploy_creates_the_core_stack_with_a_change_set_then_uploads(rest_api) -> None:  # type: ignore[no-untyped-def]
    calls = cli_calls(rest_api, "deploy", first_deploy=True)
    acts = actions(calls)
    assert acts[0] == "cloudformation:DescribeStacks"
    first_execute = acts.index("cloudformation:ExecuteChangeSet")
    assert acts.index("cloudformation:CreateChangeSet") < first_execute < acts.index("s3:PutObject")
    assert calls[first_execute].stack_op == "create-stack"
    ops = [c.stack_op for c in calls if c.stack_op]
    assert ops == ["create-stack", "update-stack"]
    assert "cloudformation:CreateStack" not in acts  # change sets are the default


def test_later_deploy_checks_for_changes_and_updates(rest_api) -> None:  # type: ignore[no-untyped-def]
    calls = cli_calls(rest_api, "deploy", first_deploy=False)
    assert [c.stack_op for c in calls if c.stack_op] == ["update-stack"]
    assert "s3:GetObject" in actions(calls)  # HeadObject of the previous deployment
    get_function = [c for c in calls if c.action == "lambda:GetFunction"]
    assert get_function and all(c.tolerated for c in get_function)


def test_provider_tags_turn_on_the_api_gateway_stage_update(rest_api) -> None:  # type: ignore[no-untyped-def]
    calls = cli_calls(rest_api, "deploy", first_deploy=False)
    stage = [c for c in calls if c.source.endswith("#17")]
    assert {c.action for c in stage} >= {"apigateway:GET", "apigateway:PATCH", "apigateway:PUT"}


def test_direct_method_custom_bucket_and_deployment_role(direct) -> None:  # type: ignore[no-untyped-def]
    first = cli_calls(direct, "deploy", first_deploy=True)
    acts = actions(first)
    assert "cloudformation:CreateChangeSet" not in acts
    assert "cloudformation:DescribeStackResource" not in acts  # custom bucket: name known
    creates = [c for c in first if c.stack_op]
    assert [c.action for c in creates] == ["cloudformation:CreateStack"]  # created late, from TemplateURL
    passes = [c for c in first if c.action == "iam:PassRole"]
    assert passes and passes[0].resource == direct.deployment_role
    assert passes[0].conditions == (("StringEquals", "iam:PassedToService", ("cloudformation.amazonaws.com",)),)
    later = cli_calls(direct, "deploy", first_deploy=False)
    assert [c.action for c in later if c.stack_op] == ["cloudformation:UpdateStack"]


def test_remove_deletes_artifacts_before_the_stack(rest_api) -> None:  # type: ignore[no-untyped-def]
    acts = actions(cli_calls(rest_api, "remove"))
    assert acts.index("s3:DeleteObject") < acts.index("cloudformation:DeleteStack")
    assert acts[-1] == "cloudformation:DescribeStackEvents"


def test_other_commands(rest_api) -> None:  # type: ignore[no-untyped-def]
    assert set(actions(cli_calls(rest_api, "info"))) == {
        "cloudformation:DescribeStacks",
        "cloudformation:ListStackResources",
    }
    assert set(actions(cli_calls(rest_api, "logs"))) == {"logs:DescribeLogStreams", "logs:FilterLogEvents"}
    assert "lambda:UpdateFunctionCode" in actions(cli_calls(rest_api, "deploy-function"))
    with pytest.raises(ValueError):
        cli_calls(rest_api, "fly")


def test_variables_and_images_add_the_calls_that_resolve_and_push_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses
    import shutil

    service_dir = tmp_path / "svc"
    shutil.copytree(EXAMPLES / "sqs-worker", service_dir, ignore=shutil.ignore_patterns("node_modules"))
    config = service_dir / "serverless.yml"
    config.write_text(config.read_text() + "\ncustom:\n  token: ${ssm:/ci/token}\n  vpc: ${cf:network-dev.VpcId}\n"
                      "  seed: ${s3:config-bucket/seed.json}\n")
    svc = load_service(service_dir, account="123456789012", compile_if_needed=False)
    svc = dataclasses.replace(svc, provider={**svc.provider, "ecr": {"images": {"app": {"path": "."}},
                                                                    "maxImageCount": 5}})
    calls = cli_calls(svc, "deploy", first_deploy=True)
    by_action = {(c.action, c.resource) for c in calls}
    assert ("ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/ci/token") in by_action
    assert ("cloudformation:DescribeStacks", "arn:aws:cloudformation:us-east-1:123456789012:stack/network-dev/*") \
        in by_action
    assert ("s3:GetObject", "arn:aws:s3:::config-bucket/seed.json") in by_action
    repo = "arn:aws:ecr:us-east-1:123456789012:repository/serverless-iamfit-sqs-worker-dev"
    assert {("ecr:CreateRepository", repo), ("ecr:PutLifecyclePolicy", repo), ("ecr:PutImage", repo),
            ("ecr:GetAuthorizationToken", "*")} <= by_action
    # variables resolve before anything else; the CLI stops at the first failure
    assert calls[0].action == "ssm:GetParameter"
    removal = {(c.action, c.resource) for c in cli_calls(svc, "remove")}
    assert ("ecr:DeleteRepository", repo) in removal
    assert ("ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/ci/token") in removal

"""The local AWS ``iamfit observe`` runs the Serverless CLI against: a moto server in this process, recording.

:class:`LocalAws` starts moto's ``ThreadedMotoServer`` on 127.0.0.1 on a free port, with its WSGI app wrapped by
:class:`iamfit.observe.record.Recorder`; ``endpoint_url`` is what the child's ``AWS_ENDPOINT_URL`` points at,
``wsgi_app`` is the recording app (an HTTPS proxy may serve decrypted requests straight into it), ``calls`` are
the recorded requests, and ``phase`` (settable) tags each call with the phase that made it (``None``: not
recorded, for what iamfit itself prepares).

While it runs, moto is patched so that it is never stricter than AWS (:data:`FIXES`, each says how AWS differs).
moto's state is per process: the server resets it on start and on stop.
"""

from __future__ import annotations

import json
import logging
import secrets
import string
import types
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from iamfit.observe.record import Call, Recorder

logger = logging.getLogger(__name__)

_MOTO_CFN_LOGGER = "moto"  # moto.cloudformation.parsing logs to it
DEFAULT_ACCOUNT = "123456789012"  # moto's default account (moto.core.DEFAULT_ACCOUNT_ID)


@dataclass(frozen=True)
class Fix:
    """One patch of moto: what moto does, and what AWS does instead."""

    name: str
    why: str
    apply: Callable[[], Callable[[], None]]  # patches, returns the undo


def _swap(owner: Any, attr: str, value: Any) -> Callable[[], None]:
    old = owner.__dict__[attr]
    setattr(owner, attr, value)
    return lambda: setattr(owner, attr, old)


def _keep_unupdatable_resources() -> Callable[[], None]:
    from moto.cloudformation import parsing

    parse_and_update = parsing.parse_and_update_resource

    def update_or_keep(logical_id: str, resource_json: Any, resources_map: Any, account_id: str,
                       region_name: str) -> Any:
        updated = parse_and_update(logical_id, resource_json, resources_map, account_id, region_name)
        return resources_map[logical_id] if updated is None else updated

    return _swap(parsing, "parse_and_update_resource", update_or_keep)


def _tag_the_updated_bucket() -> Callable[[], None]:
    from moto.s3.models import FakeBucket

    update_bucket = FakeBucket.__dict__["update_from_cloudformation_json"].__func__

    def update_from_cloudformation_json(cls: Any, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: Any, account_id: str, region_name: str) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        if "Tags" in properties and "BucketName" not in properties:
            cloudformation_json = {
                **cloudformation_json, "Properties": {**properties, "BucketName": original_resource.name}
            }
        return update_bucket(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                             region_name)

    return _swap(FakeBucket, "update_from_cloudformation_json", classmethod(update_from_cloudformation_json))


def _delete_with_exports() -> Callable[[], None]:
    from moto.cloudformation.models import CloudFormationBackend

    delete_stack = CloudFormationBackend.delete_stack

    def delete(self: Any, name_or_stack_id: str) -> None:
        for stack in list(self.stacks.values()):
            if name_or_stack_id in (stack.stack_id, stack.name):
                for export in stack.exports:
                    self.exports.setdefault(export.name, export)
        delete_stack(self, name_or_stack_id)

    return _swap(CloudFormationBackend, "delete_stack", delete)


def _validate_syntax_only() -> Callable[[], None]:
    from moto.cloudformation.models import CloudFormationBackend

    def validate_template(self: Any, template: str) -> list[Any]:
        import yaml
        from moto.cloudformation.utils import yaml_tag_constructor

        try:
            json.loads(template)
            return []
        except ValueError:
            pass
        class loader(yaml.SafeLoader):  # noqa: N801 - a Loader class, as yaml names them
            pass

        loader.add_multi_constructor("", yaml_tag_constructor)
        try:
            body = yaml.load(template, Loader=loader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            return [types.SimpleNamespace(message=f"Template format error: {exc}")]
        if not isinstance(body, dict):
            return [types.SimpleNamespace(message="Template format error: not a JSON or YAML object")]
        return []

    return _swap(CloudFormationBackend, "validate_template", validate_template)


def _versions_after_their_function() -> Callable[[], None]:
    from moto.cloudformation.parsing import ResourceMap

    build = ResourceMap.build_resource_diff
    update = ResourceMap.update

    def build_resource_diff(self: Any, other_template: dict[str, Any], parameters: Any = None) -> Any:
        diff = build(self, other_template, parameters)
        if getattr(self, "_iamfit_later", None) is not None:
            new = other_template.get("Resources") or {}
            later = [n for n in diff["Add"] if (new.get(n) or {}).get("Type") == "AWS::Lambda::Version"]
            diff["Add"] = [n for n in diff["Add"] if n not in later]
            self._iamfit_later = later
        return diff

    def update_then_versions(self: Any, template: dict[str, Any], parameters: Any = None) -> None:
        self._iamfit_later = []
        try:
            update(self, template, parameters)
            later = self._iamfit_later
        finally:
            self._iamfit_later = None
        for logical_name in later:
            _ = self[logical_name]  # moto creates a resource on first access, as ResourceMap.update does

    undo_build = _swap(ResourceMap, "build_resource_diff", build_resource_diff)
    undo_update = _swap(ResourceMap, "update", update_then_versions)
    return lambda: (undo_update(), undo_build(), None)[-1]


def _names_as_cloudformation_gives_them() -> Callable[[], None]:
    from moto.cloudformation import parsing

    from iamfit.knowledge.arns import NAME_RULES, RANDOM_SUFFIX, generated_name

    moto_name = parsing.generate_resource_name

    def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
        rule = NAME_RULES.get(resource_type)
        if rule is None or not rule.generated or rule.name_property is None:
            return moto_name(resource_type, stack_name, logical_id)
        suffix = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(RANDOM_SUFFIX))
        return generated_name(stack_name, logical_id, rule, suffix)

    return _swap(parsing, "generate_resource_name", generate_resource_name)


FIXES: tuple[Fix, ...] = (
    Fix(
        "generated-names",
        "moto names a resource CloudFormation names for you {stack}-{LogicalId}-{12 random} and cuts only the "
        "stack's part (S3) or nothing; CloudFormation's random part has 13 characters and the stack and logical "
        "id parts are both cut to the type's length limit (serverless#2791: "
        "thisisareallylongservice-serverlessdeploymentbuck-1aljxweu3wjjd). Names follow "
        "iamfit.knowledge.arns.generated_name, so ARNs the CLI acts on are the ones AWS would give.",
        _names_as_cloudformation_gives_them,
    ),
    Fix(
        "update-keeps-resources",
        "moto's ResourceMap.update stores what parse_and_update_resource returns for each modified resource, "
        "and that is None when the resource's moto class has no update_from_cloudformation_json (moto.kms Key, "
        "moto.logs LogGroup): the stack forgets a resource that still exists, a later Fn::GetAtt of it fails "
        "the update and deleting the stack skips it. AWS updates such properties in place: keep the resource.",
        _keep_unupdatable_resources,
    ),
    Fix(
        "bucket-tag-update",
        "moto's FakeBucket.update_from_cloudformation_json tags the bucket named by a BucketName property and "
        "raises KeyError (HTTP 500) when there is none, as for the Framework's deployment bucket; AWS tags the "
        "bucket being updated.",
        _tag_the_updated_bucket,
    ),
    Fix(
        "delete-stack-exports",
        "moto's update_stack / execute_change_set do not register a stack's new exports, and delete_stack then "
        "raises KeyError (HTTP 500) popping them; AWS had them registered: register them before the delete.",
        _delete_with_exports,
    ),
    Fix(
        "validate-template-syntax",
        "moto's ValidateTemplate runs cfn-lint and fails on its first match, warnings included (the http-api-jwt "
        "example: W3005 'dependency already enforced by a Ref'), and writes file.tmp into the working directory. "
        "AWS checks that the template is valid JSON, else valid YAML "
        "(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ValidateTemplate.html): so does "
        "this fix.",
        _validate_syntax_only,
    ),
    Fix(
        "lambda-version-after-update",
        "moto's ResourceMap.update creates the added resources before it updates the modified ones, so the "
        "AWS::Lambda::Version a redeploy adds (the Framework names it after the code's hash) publishes the "
        "function's old code, and moto's PublishVersion, seeing nothing changed, creates no version. AWS orders "
        "an update by dependencies (a Ref is one: "
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html): the "
        "version's FunctionName refers to the function, which is updated first. Added versions are created "
        "after the update.",
        _versions_after_their_function,
    ),
)


@contextmanager
def moto_fixed() -> Iterator[None]:
    """moto with :data:`FIXES` applied, undone on exit."""
    undo: list[Callable[[], None]] = []
    try:
        for fix in FIXES:
            undo.append(fix.apply())
        yield
    finally:
        for step in reversed(undo):
            step()


class _Server:
    """moto's ThreadedMotoServer with its WSGI app wrapped by ``wrap``."""

    def __init__(self, wrap: Callable[[Any], Any]) -> None:
        from moto.server import ThreadedMotoServer

        outer = self

        class Wrapped(ThreadedMotoServer):
            def _server_entry(self) -> None:
                # ThreadedMotoServer._server_entry, with the app wrapped (moto 5.x builds it here)
                from moto.moto_server import werkzeug_app
                from werkzeug.serving import WSGIRequestHandler, make_server

                # moto 5.2.5 serves with its own handler (it keeps S3 metadata headers with underscores);
                # earlier 5.x with werkzeug's
                base: type[WSGIRequestHandler] = getattr(werkzeug_app, "MotoRequestHandler", WSGIRequestHandler)

                def log_request(handler: WSGIRequestHandler, code: int | str = "-", size: int | str = "-") -> None:
                    logger.debug("%s %s", handler.requestline, code)

                quiet = type("Quiet", (base,), {"log_request": log_request})
                outer.app = wrap(werkzeug_app.DomainDispatcherApplication(werkzeug_app.create_backend_app))
                self._server = make_server(self._ip_address, self._port, outer.app, True, request_handler=quiet)
                self._server_ready_event.set()
                self._server.serve_forever()

        self.app: Any = None
        self.server = Wrapped(ip_address="127.0.0.1", port=0, verbose=False)


class _NotCreated(logging.Handler):
    """Collects the resource types moto's CloudFormation skips ("No Moto CloudFormation support for %s")."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.types: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "No Moto CloudFormation support for %s" and record.args:
            self.types.add(str(record.args[0]))  # type: ignore[index]


class LocalAws(AbstractContextManager["LocalAws"]):
    """A recording moto server, started on ``__enter__`` and stopped (state reset) on ``__exit__``.

    ``not_created`` lists the resource types moto's CloudFormation did not create (it skips them and the stack
    completes): CloudFormation's own calls for them are predicted, not observed, and a CLI that reads them
    would fail its phase (the observation is then incomplete)."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self._not_created = _NotCreated()
        self._warnings: Any = None
        self._propagate = True
        self._server: _Server | None = None
        self._fixes: AbstractContextManager[None] | None = None
        self.endpoint_url = ""

    @property
    def wsgi_app(self) -> Any:
        assert self._server is not None, "LocalAws is not started"
        return self._server.app

    @property
    def calls(self) -> list[Call]:
        return self.recorder.calls

    @property
    def phase(self) -> str | None:
        return self.recorder.phase

    @phase.setter
    def phase(self, value: str | None) -> None:
        self.recorder.phase = value

    @property
    def not_created(self) -> set[str]:
        return set(self._not_created.types)

    def __enter__(self) -> LocalAws:
        moto_log = logging.getLogger(_MOTO_CFN_LOGGER)
        moto_log.addHandler(self._not_created)
        self._propagate = moto_log.propagate
        moto_log.propagate = False  # said once in the report, not once per resource on stderr
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.filterwarnings("ignore", message="Tried to parse .* but it's not supported by moto")
        self._fixes = moto_fixed()
        self._fixes.__enter__()
        self._server = _Server(self.recorder.wrap)
        self._server.server.start()
        host, port = self._server.server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self.reset()
        logger.info("local AWS (moto) at %s", self.endpoint_url)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._server is not None:
                self.reset()
                self._server.server.stop()
        finally:
            if self._fixes is not None:
                self._fixes.__exit__(None, None, None)
            moto_log = logging.getLogger(_MOTO_CFN_LOGGER)
            moto_log.removeHandler(self._not_created)
            moto_log.propagate = self._propagate
            if self._warnings is not None:
                self._warnings.__exit__(None, None, None)

    def reset(self) -> None:
        """moto's state is per process, shared by every server in it: start from an empty account."""
        phase, self.phase = self.phase, None
        try:
            request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
            with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - our own local server
                pass
        finally:
            self.phase = phase

    def client(self, service: str, region: str, credentials: dict[str, str] | None = None) -> Any:
        """A boto3 client of the local AWS (iamfit's own preparation: not recorded while ``phase`` is None)."""
        import boto3

        creds = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint_url, **creds)  # type: ignore[call-overload]

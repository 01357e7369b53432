"""An ``iamfit observe`` report as deployer needs: what ``generate --observed`` and ``discover --observed`` merge
into the prediction.

The report's ``unpredicted`` entries are the (action, resource) pairs the real CLI called and the predicted deployer
policy does not allow (iamfit.observe.run): each becomes a deployer :class:`~iamfit.needs.Need` whose source is
``observed: <cli> <version>[ <plugin>]`` (the plugin that made the call, when the recorded call names one) and
whose reason names the operation and the phase. Calls the prediction already allows add nothing.

The observation ran against a local AWS, in the account the report names (moto's default unless ``--account``
was given): that account in a resource ARN becomes the service's (``*`` when no account is known), so the policy
names the account it is generated for. A report about another service, stage or region is bad input: its
resource names are not this deploy's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamfit import files
from iamfit.errors import BadInputError
from iamfit.needs import Need
from iamfit.observe import SCHEMA
from iamfit.principals import DEPLOYER
from iamfit.service.model import Service

logger = logging.getLogger(__name__)

WHAT = "iamfit observe report"


@dataclass
class Observed:
    """The needs an observe report adds, and what the reader should know about them."""

    needs: list[Need] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cli: str = ""


def _str(value: Any, where: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise BadInputError(f"{where} must be a non-empty string")
    return value


def cli_label(cli: Any, origin: str) -> str:
    """``<cli> <version>`` from the report's ``cli`` (``{"command", "version": "serverless@3.39.0"}``)."""
    if not isinstance(cli, dict):
        raise BadInputError(f"{origin}: 'cli' must be an object with 'command' and 'version'")
    command = _str(cli.get("command"), f"{origin}: cli.command")
    version = _str(cli.get("version"), f"{origin}: cli.version", optional=True)
    if version:
        name, _, number = version.rpartition("@")
        return f"{name} {number}" if name and number else version
    words = [w for w in (command or "").split() if not w.startswith("-")]
    if words and words[0] == "npx":
        words = words[1:]
    return f"{words[0] if words else 'cli'} (version unknown)"


def _plugins(calls: Any, origin: str) -> dict[tuple[str, str | None, str, str], set[str]]:
    """(action, resource, operation, phase) -> the plugins the recorded calls name as their source."""
    if not isinstance(calls, list):
        raise BadInputError(f"{origin}: 'calls' must be a list")
    out: dict[tuple[str, str | None, str, str], set[str]] = {}
    for i, call in enumerate(calls):
        if not isinstance(call, dict):
            raise BadInputError(f"{origin}: calls[{i}] must be an object")
        source = call.get("source")
        if not isinstance(source, str) or not source.startswith("plugin:"):
            continue
        key = (str(call.get("action")), call.get("resource") if isinstance(call.get("resource"), str) else None,
               f"{call.get('service')}:{call.get('operation')}", str(call.get("phase")))
        out.setdefault(key, set()).add(source.removeprefix("plugin:"))
    return out


def read_observed(path: Path, service: Service) -> Observed:
    """The deployer needs the observe report at ``path`` adds to ``service``'s prediction (BadInputError, naming
    the file, for anything that is not such a report or not about this service)."""
    origin = str(path)
    data = files.read_json(path, WHAT)
    if not isinstance(data, dict):
        raise BadInputError(f"{origin}: not an {WHAT} (a JSON object with schema {SCHEMA!r})")
    if data.get("schema") != SCHEMA:
        got = data.get("schema")
        raise BadInputError(f"{origin}: not an {WHAT}: schema is {got!r:.60}, expected {SCHEMA!r}")
    for key, mine in (("service", service.name), ("stage", service.stage), ("region", service.region)):
        theirs = data.get(key)
        if theirs is not None and theirs != mine:
            raise BadInputError(f"{origin}: the observation is of {key} {theirs!r:.80}, not {mine!r} "
                                f"(observe and generate the same service, stage and region)")
    cli = cli_label(data.get("cli"), origin)
    plugins = _plugins(data.get("calls", []), origin)
    unpredicted = data.get("unpredicted")
    if not isinstance(unpredicted, list):
        raise BadInputError(f"{origin}: 'unpredicted' must be a list")
    observed_account = data.get("account")
    account = service.account_or_wildcard
    result = Observed(cli=cli)
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(unpredicted):
        where = f"{origin}: unpredicted[{i}]"
        if not isinstance(item, dict):
            raise BadInputError(f"{where} must be an object")
        action = _str(item.get("action"), f"{where}.action")
        resource = _str(item.get("resource"), f"{where}.resource", optional=True)
        operation = _str(item.get("operation"), f"{where}.operation")
        phase = _str(item.get("phase"), f"{where}.phase")
        assert action is not None and operation is not None and phase is not None
        if action.count(":") != 1:
            raise BadInputError(f"{where}.action must be service:Action, got {action!r:.60}")
        names = sorted(plugins.get((action, resource, operation, phase), ()))
        source = f"observed: {cli}" + (f" {' '.join(names)}" if names else "")
        granted = _in_account(resource, observed_account, account) if resource else "*"
        if (action, granted) in seen:
            continue
        seen.add((action, granted))
        by = f" by {', '.join(names)}" if names else ""
        result.needs.append(Need(DEPLOYER, action, granted,
                                 reason=f"{operation}, called{by} in the {phase} phase of the observed CLI",
                                 source=source))
    incomplete = data.get("incomplete") or []
    if not isinstance(incomplete, list):
        raise BadInputError(f"{origin}: 'incomplete' must be a list")
    if incomplete:
        result.warnings.append(
            f"{origin}: the observation is incomplete ({'; '.join(str(r) for r in incomplete)[:300]}): what the "
            "CLI would have called after it stopped is not in it")
    logger.info("%s: %d observed need(s) from %s", origin, len(result.needs), cli)
    return result


def _in_account(resource: str, observed: Any, account: str) -> str:
    """``resource`` with the observation's account (its fifth ARN field) replaced by ``account``."""
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and isinstance(observed, str) and parts[4] == observed:
        parts[4] = account
        return ":".join(parts)
    return resource

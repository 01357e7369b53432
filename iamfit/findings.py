"""What every job reports: one :class:`Rule` type and one :class:`Finding` type.

``lint`` (:mod:`iamfit.policy.lint`), ``check`` (:mod:`iamfit.check`) and ``audit`` (:mod:`iamfit.audit`) each
define their rules as :class:`Rule` values and report :class:`Finding` values; every renderer (text, JSON,
SARIF, GitHub annotations, Markdown summaries) lives in :mod:`iamfit.report` and reads these two types.
This module imports nothing from iamfit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    """How serious a finding is."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def sarif(self) -> str:
        """The SARIF level: ``error``, ``warning`` or ``note``."""
        return "note" if self is Level.INFO else self.value


@dataclass(frozen=True)
class Rule:
    """A rule: its id (``IAMFIT-E001``), default level, title, description, sources (documents it rests
    on), the kind of finding it reports (``missing``, ``excess``, ``escalation``, ``lint``,
    ``unused-action``, ``over-broad-resource``) and the page that documents it."""

    rule_id: str
    level: Level
    title: str
    description: str
    sources: tuple[str, ...] = ()
    kind: str = ""
    help_uri: str = ""


@dataclass(frozen=True)
class Finding:
    """One finding of a rule. ``principal``: whose grants (``deployer``, ``cloudformation``; empty when the
    job has no principal); ``policy``/``sid``: the policy (file path or live role's policy) and statement;
    ``path``/``line``: where it sits (serverless.yml for a missing need, else the policy file; empty path
    when unknown); ``reason``/``source``/``anchor``/``suggestion``: why a need exists and what to grant
    instead; ``accepted``: an escalation-capable grant the service needs, reported but never failing."""

    rule_id: str
    level: Level
    message: str
    action: str
    resource: str
    sid: str = ""
    kind: str = ""
    principal: str = ""
    policy: str = ""
    reason: str = ""
    source: str = ""
    anchor: str = ""
    suggestion: tuple[str, ...] = ()
    accepted: bool = False
    path: str = ""
    line: int = 1

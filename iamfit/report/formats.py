"""``iamfit check`` and ``iamfit audit`` output: text for people, JSON, GitHub workflow annotations (SARIF:
``sarif.py``, Markdown summaries: ``summary.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from iamfit.audit import AuditResult
from iamfit.check import DEFAULT_FAIL_ON, KINDS, CheckResult
from iamfit.findings import Finding
from iamfit.service.locate import relative_path

FORMATS = ("text", "json", "sarif", "github")


def render_json(result: CheckResult, fail_on: Iterable[str] = DEFAULT_FAIL_ON) -> str:
    return json.dumps(result.to_json(fail_on), indent=2) + "\n"


def _verdict(result: CheckResult, fail_on: Iterable[str]) -> str:
    failing = result.failing(fail_on)
    if not failing:
        return "OK: the policies fit the service"
    counts: dict[str, int] = {}
    for f in failing:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    return "FAIL: " + ", ".join(f"{counts[k]} {k}" for k in KINDS if k in counts)


def render_text(result: CheckResult, fail_on: Iterable[str] = DEFAULT_FAIL_ON) -> str:
    fail_on = frozenset(fail_on)
    svc = result.service
    lines = [f"iamfit check {svc.name} ({svc.stage}, {svc.region}, stack {svc.stack_name})"]
    for principal, info in sorted(result.checked.items()):
        what = ", ".join(info["policies"]) or "-"
        boundary = f" (boundary {info['boundary']})" if info.get("boundary") else ""
        lines.append(f"  {principal:<15} {info['met']}/{info['needs']} needs met by {what}{boundary}")
    for kind in KINDS:
        group = [f for f in result.findings if f.kind == kind and not f.accepted]
        if not group:
            continue
        note = "" if kind in fail_on else " (reported, not failing: see --fail-on)"
        lines.append(f"{kind.upper()} ({len(group)}){note}")
        lines.extend(_text_finding(f) for f in group)
    accepted = [f for f in result.findings if f.accepted]
    if accepted:
        lines.append(f"ACCEPTED ({len(accepted)}): escalation-capable grants the service needs")
        lines.extend(f"  {f.rule_id} {f.principal}: {f.action} on {f.resource}" for f in accepted)
    lines.append(_verdict(result, fail_on))
    return "\n".join(lines) + "\n"


def _text_finding(f: Finding) -> str:
    head = f"  {f.rule_id} {f.principal}: {f.action} on {f.resource}"
    if f.kind == "missing":
        return (
            f"{head}\n      needed by {f.reason}\n      knowledge: {f.source}\n      at {f.path}:{f.line} ({f.anchor})"
        )
    detail = f.message.split(": ", 1)[-1]
    out = f"{head}\n      {detail}\n      at {f.path}:{f.line}" + (f" (Sid {f.sid})" if f.sid else "")
    return out


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(result: CheckResult, fail_on: Iterable[str] = DEFAULT_FAIL_ON, root: Path | None = None) -> str:
    """GitHub Actions workflow commands: one ``::error``/``::warning`` annotation per finding (accepted
    findings left out); file paths relative to ``root`` (default: the working directory, the checkout)."""
    fail_on = frozenset(fail_on)
    root = root or Path.cwd()
    lines = []
    for f in result.findings:
        if f.accepted:
            continue
        command = {"error": "error", "warning": "warning"}.get(f.level, "notice")
        if command == "error" and f.kind not in fail_on:
            command = "warning"
        title = f"{f.rule_id} {f.kind}"
        where = f"file={_escape_property(relative_path(f.path, root))},line={f.line}"
        lines.append(f"::{command} {where},title={_escape_property(title)}::{_escape_data(f.message)}")
    lines.append(_verdict(result, fail_on))
    return "\n".join(lines) + "\n"


AUDIT_KINDS = ("escalation", "unused-action", "over-broad-resource", "lint")


def render_audit_json(result: AuditResult) -> str:
    return json.dumps(result.to_json(), indent=2) + "\n"


def render_audit_text(result: AuditResult, sizes: Sequence[str]) -> str:
    """``audit``'s text report; ``sizes``: the lines saying how large the proposal is and where it goes."""
    lines = [f"audit of {result.principal or 'the given policies'}: {result.granted_actions} actions granted, "
             f"{len(result.used)} used"]
    for kind in AUDIT_KINDS:
        for f in result.findings:
            if f.kind == kind:
                where = f" [{f.policy}{' ' + f.sid if f.sid else ''}]" if f.policy else ""
                lines.append(f"  {f.level.value:<7} {f.rule_id} {kind}: {f.message}{where}")
    lines.extend(f"  warning: {w}" for w in result.warnings)
    if result.not_observable:
        lines.append(f"not observable ({len(result.not_observable)}): the evidence cannot show their use; kept in "
                     "the proposal, never counted unused")
        for n in result.not_observable:
            where = f" [{n.policy}{' ' + n.sid if n.sid else ''}]" if n.policy else ""
            lines.append(f"  {n.action}: {n.reason}{where}")
    if result.stats is not None:
        lines.append(f"CloudTrail: {result.stats.summary()}")
        lines.extend(f"  skipped {f.path}: {f.reason}" for f in result.stats.files_skipped[:10])
        if len(result.stats.files_skipped) > 10:
            lines.append(f"  ... and {len(result.stats.files_skipped) - 10} more skipped (--format json lists all)")
    if not result.findings:
        lines.append("  no findings: everything granted was used, on resources no broader than needed")
    lines.append("right-sized proposal (what was used):")
    lines.extend(sizes)
    return "\n".join(lines) + "\n"

"""Markdown summaries of ``check``, ``audit`` and ``discover`` for ``$GITHUB_STEP_SUMMARY`` or a PR comment.

GitHub-flavoured Markdown: tables, a ```` ```diff ```` block inside a collapsible ``<details>``, and for
``discover`` a Mermaid Gantt chart of the run on modeled time. Built from the result objects the jobs
return; deterministic (no clock, no run id, paths relative to ``root``), so the same run gives the same text.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamfit.service.locate import policy_line, relative_path

if TYPE_CHECKING:
    from iamfit.audit import AuditResult
    from iamfit.check import CheckResult, Grants
    from iamfit.discover import AttemptRecord, DiscoveryResult, Grant
    from iamfit.findings import Finding

MAX_LISTED = 6
"""How many names a table cell lists before ``+N more``."""


# --- Markdown helpers --------------------------------------------------------------------------------


def cell(text: str) -> str:
    """Text safe in a table cell: pipes escaped, line breaks flattened."""
    return " ".join(text.replace("|", "\\|").split())


def code(text: str) -> str:
    """Inline code that survives any text (a backtick inside gets a longer fence)."""
    if not text:
        return ""
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return lines


def listed(names: Sequence[str], limit: int = MAX_LISTED, wrap: bool = True) -> str:
    shown = [code(n) if wrap else n for n in names[:limit]]
    more = f" +{len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(shown) + more if names else "–"


def details(summary: str, body: Sequence[str]) -> list[str]:
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>"]


def _minutes(seconds: float) -> str:
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# --- check -------------------------------------------------------------------------------------------


def _where(f: Finding, root: Path) -> str:
    where = f"{relative_path(f.path, root)}:{f.line}" if f.path else ""
    if f.anchor:
        where += f" ({f.anchor})"
    if f.sid and not f.anchor:
        where += f" (Sid {f.sid})"
    return where


def _statement_for(action: str, resource: str, grants: Grants | None) -> tuple[str, str] | None:
    """(policy origin, Sid) of the Allow statement a missing need fits best: one granting the need's resource
    (or a pattern covering it), preferring one that already grants actions of the same service."""
    if grants is None:
        return None
    service = action.partition(":")[0].lower()
    best: tuple[int, str, str] | None = None
    for policy in grants.policies:
        for index, st in enumerate(policy.document.statements):
            if st.effect != "Allow" or not st.resources:
                continue
            if not any(r == resource or fnmatch.fnmatchcase(resource, r) for r in st.resources):
                continue
            same_service = any(a.partition(":")[0].lower() == service for a in st.actions)
            exact = resource in st.resources
            score = (2 if same_service else 0) + (1 if exact else 0)
            if best is None or score > best[0]:
                best = (score, policy.origin, st.sid or f"statement {index + 1}")
    return (best[1], best[2]) if best else None


def check_policy_diff(
    result: CheckResult, grants: Mapping[str, Grants] | None = None, root: Path | None = None
) -> list[str]:
    """The change that fixes the drift, per statement: ``-`` actions (and resources) to remove, ``+`` to add.
    A missing need is placed in the statement that already grants its resource, else in a new statement."""
    root = root or Path.cwd()
    blocks: dict[tuple[str, str], list[str]] = defaultdict(list)

    def add(origin: str, sid: str, line: str) -> None:
        key = (relative_path(origin, root) if origin else "", sid)
        if line not in blocks[key]:
            blocks[key].append(line)

    for f in result.findings:
        if f.accepted:
            continue
        if f.kind == "missing":
            place = _statement_for(f.action, f.resource, (grants or {}).get(f.principal))
            origin, sid = place if place else (f"{f.principal}: a new statement", "")
            add(origin, sid, f"+ {f.action}    on {f.resource}")
        elif f.rule_id == "IAMFIT-C002":
            add(f.policy, f.sid, f"- {f.action}")
        elif f.rule_id == "IAMFIT-C005":
            add(f.policy, f.sid, f"- {f.action}")
            for needed in f.suggestion:
                add(f.policy, f.sid, f"+ {needed}")
        elif f.rule_id == "IAMFIT-C003":
            add(f.policy, f.sid, f"- Resource {f.resource}")
            for scope in f.suggestion:
                add(f.policy, f.sid, f"+ Resource {scope}")
        elif f.rule_id == "IAMFIT-C004":
            add(f.policy, f.sid, f"- {f.action}    on {f.resource}")
    lines: list[str] = []
    for (origin, sid), changes in sorted(blocks.items()):
        lines.append(f"@@ {origin}{' Sid ' + sid if sid else ''} @@")
        lines.extend(sorted(changes, key=lambda c: (c[0] == "+", c)))
    return lines


def _verdict_counts(failing: Sequence[Finding], kinds: Sequence[str]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for f in failing:
        counts[f.kind] += 1
    return ", ".join(f"{counts[k]} {k}" for k in kinds if counts.get(k))


def check_summary(
    result: CheckResult,
    fail_on: Iterable[str] | None = None,
    grants: Mapping[str, Grants] | None = None,
    root: Path | None = None,
) -> str:
    """``iamfit check`` as Markdown: verdict, needs met per principal, the findings table (rule, principal,
    action, resource, where), accepted findings and the policy diff (collapsed)."""
    from iamfit.check import DEFAULT_FAIL_ON, KINDS

    kinds = frozenset(DEFAULT_FAIL_ON if fail_on is None else fail_on)
    root = root or Path.cwd()
    svc = result.service
    failing = result.failing(kinds)
    lines = [f"## iamfit check: {code(svc.name)}", ""]
    if failing:
        lines.append(f"**FAIL**: {_verdict_counts(failing, KINDS)} "
                     f"(fails on: {', '.join(k for k in KINDS if k in kinds) or 'nothing'})")
    else:
        lines.append("**OK**: the policies fit the service")
    lines += ["", f"Stage {code(svc.stage)}, region {code(svc.region)}, stack {code(svc.stack_name)}"
              + (f", configuration {code(relative_path(result.config, root))}" if result.config else "") + ".", ""]
    lines += table(
        ["Principal", "Needs met", "Policies"],
        (
            [
                principal,
                f"{info['met']}/{info['needs']}",
                ", ".join(code(relative_path(p, root)) for p in info["policies"])
                + (f" (boundary {code(relative_path(info['boundary'], root))})" if info.get("boundary") else ""),
            ]
            for principal, info in sorted(result.checked.items())
        ),
    )
    shown = [f for f in result.findings if not f.accepted]
    if shown:
        lines += ["", "### Findings", ""]
        lines += table(
            ["Rule", "Kind", "Principal", "Action", "Resource", "Where"],
            (
                [
                    f.rule_id,
                    f.kind + ("" if f.kind in kinds else " (not failing)"),
                    f.principal,
                    code(f.action),
                    code(f.resource),
                    code(_where(f, root)),
                ]
                for f in shown
            ),
        )
        missing = [f for f in shown if f.kind == "missing"]
        if missing:
            lines += ["", "Why each missing permission is needed:", ""]
            lines += [f"- {code(f.action)} on {code(f.resource)}: {f.reason} (knowledge: {f.source})" for f in missing]
    accepted = [f for f in result.findings if f.accepted]
    if accepted:
        body = table(
            ["Rule", "Principal", "Action", "Resource"],
            ([f.rule_id, f.principal, code(f.action), code(f.resource)] for f in accepted),
        )
        lines += ["", *details(f"Accepted ({len(accepted)}): escalation-capable grants the service needs", body)]
    diff = check_policy_diff(result, grants, root)
    if diff:
        lines += ["", *details("Policy diff: what to add (+) and remove (-), per statement",
                               ["```diff", *diff, "```"])]
    if result.warnings:
        lines += ["", *[f"> warning: {w}" for w in result.warnings]]
    return "\n".join(lines) + "\n"


# --- audit -------------------------------------------------------------------------------------------


def audit_summary(result: AuditResult, texts: Mapping[str, str] | None = None, root: Path | None = None) -> str:
    """``iamfit audit`` as Markdown: verdict, granted vs used, the findings table (where: the policy file
    line when the grant came from a file) and, collapsed, what to remove per statement."""
    root = root or Path.cwd()
    texts = texts or {}
    who = result.principal or "the given policies"
    lines = [f"## iamfit audit: {code(who)}", ""]
    if result.findings:
        counts: dict[str, int] = defaultdict(int)
        for f in result.findings:
            counts[f.kind] += 1
        lines.append("**FAIL**: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    else:
        lines.append("**OK**: everything granted was used, on resources no broader than needed")
    lines += ["", f"{result.granted_actions} actions granted, {len(result.used)} used in the window; the "
              f"right-sized proposal has {len(result.proposal.actions())} actions."]
    if result.stats is not None:
        lines += ["", f"CloudTrail: {result.stats.summary()}."]
        lines += [f"- skipped {code(f.path)}: {f.reason}" for f in result.stats.files_skipped]

    def where(f: Finding) -> str:
        sid = f" (Sid {f.sid})" if f.sid else ""
        if not f.policy:
            return ""
        if f.policy in texts:
            return f"{relative_path(f.policy, root)}:{policy_line(texts[f.policy], f.action, f.sid)}{sid}"
        return f"{f.policy}{sid}"

    if result.findings:
        lines += ["", "### Findings", ""]
        lines += table(
            ["Rule", "Kind", "Principal", "Action", "Resource", "Where"],
            ([f.rule_id, f.kind, code(who), code(f.action), code(f.resource), code(where(f))]
             for f in result.findings),
        )
    blocks: dict[tuple[str, str], list[str]] = defaultdict(list)
    for f in result.findings:
        key = (relative_path(f.policy, root) if f.policy in texts else f.policy, f.sid)
        if f.kind == "unused-action":
            blocks[key].append(f"- {f.action}")
        elif f.kind == "over-broad-resource":
            used = sorted(result.used[f.action.lower()].resources) if f.action.lower() in result.used else []
            blocks[key].append(f"- {f.action}    on {f.resource}")
            blocks[key].extend(f"+ {f.action}    on {r}" for r in used)
    if blocks:
        diff: list[str] = []
        for (origin, sid), changes in sorted(blocks.items()):
            diff.append(f"@@ {origin}{' Sid ' + sid if sid else ''} @@")
            diff.extend(sorted(set(changes), key=lambda c: (c[0] == "+", c)))
        lines += ["", *details("Policy diff: unused grants to remove (-), used resources to scope to (+)",
                               ["```diff", *diff, "```"])]
    if result.not_observable:
        lines += ["", "### Not observable (kept in the proposal)", "",
                  "The evidence cannot show whether these were used, so they are neither used nor unused:", ""]
        lines += table(["Action", "Why", "Where"],
                       ([code(n.action), n.reason,
                         code(f"{relative_path(n.policy, root) if n.policy in texts else n.policy}"
                              f"{' (Sid ' + n.sid + ')' if n.sid else ''}")]
                        for n in result.not_observable))
    if result.warnings:
        lines += ["", *[f"> warning: {w}" for w in result.warnings]]
    return "\n".join(lines) + "\n"


# --- discover ----------------------------------------------------------------------------------------

_CLI = "Serverless Framework CLI"
_UNTIED = "not tied to one resource"


def _grant_group(grant: Grant, attempt: AttemptRecord) -> str:
    """What a grant was for: the CloudFormation resource type whose operation needed it, or the Framework CLI."""
    source = grant.need.source
    if source.startswith("registry:"):
        return source.removeprefix("registry:").partition("#")[0]
    if source.startswith("serverless-cli"):
        return _CLI
    action = grant.need.action.lower()
    for resource in attempt.reached:
        if any(d.lower() == action for d in resource.denied):
            return resource.resource_type
    if "cli-output" in grant.evidence:
        return _CLI
    return _UNTIED


def _attempt_label(a: AttemptRecord) -> str:
    """A Gantt task name: no ``:`` ``#`` ``;`` (Mermaid's separators)."""
    if a.succeeded:
        what = "passed"
    elif not a.reached_stack:
        what = "CLI stopped before CloudFormation"
    else:
        what = f"{sum(1 for r in a.reached if r.failed)} of {_count(len(a.reached), 'resource')} failed"
    actions = {d.action for d in a.denials if d.action}
    parts = [f"attempt {a.number}", what]
    if actions:
        parts.append(_count(len(actions), "denied action"))
    if a.grants:
        parts.append("+" + _count(len(a.grants), "grant"))
    return ", ".join(parts)


def discover_gantt(result: DiscoveryResult) -> list[str]:
    """A Mermaid Gantt chart of the run on modeled time: a section per phase (and round), a bar per
    attempt (``crit`` when it failed), labelled with what it reached, was denied and got granted."""
    from iamfit.targets.base import PHASES

    total = result.modeled_seconds
    lines = [
        "gantt",
        f"    title {result.service.name} - discover on {result.target}, modeled time",
        "    dateFormat X",
        f"    axisFormat {'%H:%M' if total >= 3600 else '%M:%S'}",
    ]
    clock = 0.0
    for round_name in ("discover", "prune"):
        for phase in PHASES:
            attempts = result.attempts_of(phase, round_name)
            if not attempts:
                continue
            lines.append(f"    section {phase if round_name == 'discover' else round_name + ' ' + phase}")
            for a in attempts:
                start = round(clock)
                clock += a.modeled_seconds
                end = max(round(clock), start + 1)
                tag = "active" if a.succeeded else "crit"
                lines.append(f"    {_attempt_label(a)} :{tag}, {round_name[0]}{phase[0]}{a.number}, {start}, {end}")
    return lines


def _limits_lines(result: DiscoveryResult) -> list[str]:
    from iamfit.targets.sandbox.coverage import model_limits

    limits = model_limits(result.service)
    return ["", "Not checked by the model (`iamfit observe` runs the real CLI and its plugins against a local AWS):",
            "", *(f"- {limit}" for limit in limits)] if limits else []


def _verdict_lines(result: DiscoveryResult) -> list[str]:
    if result.stop is not None:
        return [f"**STOPPED** ({result.stop.reason}): {result.stop.message}", "",
                *[f"- {item}" for item in result.stop.action_items]]
    if result.target == "sandbox":
        return [
            "**VERIFIED in the sandbox model**: create, update and remove all passed with these policies in "
            "iamfit's built-in sandbox.",
            "",
            "> The sandbox is iamfit's model of AWS (CloudFormation, the resource handlers' permission calls, IAM "
            "policy evaluation, timing), not AWS: this verifies the policies against that model. A real deploy "
            "can still need what the model lacks; `iamfit discover --target aws` verifies in a real account.",
            *_limits_lines(result),
        ]
    return [f"**VERIFIED on {result.target}**: create, update and remove all passed with these policies, "
            "deploying in a real AWS account."]


def _by_hand_lines(result: DiscoveryResult, by_hand: Mapping[str, Any]) -> list[str]:
    ours = len(result.attempts)
    lines = table(
        ["", "Attempts", "Modeled time"],
        [
            ["iamfit discover", str(ours), _minutes(result.modeled_seconds)],
            ["by hand", str(by_hand.get("attempts", "?")),
             _minutes(float(by_hand["modeled_seconds"])) if "modeled_seconds" in by_hand else "?"],
        ],
    )
    notes: list[str] = []
    for key, value in by_hand.items():
        if key in ("attempts", "modeled_seconds"):
            continue
        label = key.replace("_", " ")
        if isinstance(value, str):
            notes.append(f"- {label}: {value}")
        elif isinstance(value, Mapping):
            notes.append(f"- {label}:")
            notes.extend(f"  - {k}: {v}" for k, v in value.items())
        elif isinstance(value, Sequence):
            notes.append(f"- {label}:")
            notes.extend(f"  - {v}" for v in value)
        else:
            notes.append(f"- {label}: {value}")
    return [*lines, "", *notes] if notes else lines


def discover_summary(result: DiscoveryResult, by_hand: Mapping[str, Any] | None = None) -> str:
    """``iamfit discover`` as Markdown: the verdict and what it verified, a Mermaid Gantt chart of the run,
    each attempt's reached resources and harvested denials, the grants per resource type, and the
    comparison with the by-hand loop (with its assumptions)."""
    from iamfit.targets.base import PHASES

    svc = result.service
    start = "the prediction" if result.seeded else "an empty policy"
    lines = [f"## iamfit discover: {code(svc.name)}", "", *_verdict_lines(result), ""]
    lines.append(f"Stage {code(svc.stage)}, region {code(svc.region)}, target {code(result.target)}; started from "
                 f"{start}; {len(result.attempts)} attempts, {_minutes(result.modeled_seconds)} modeled.")
    actions = {p: len(d.actions()) for p, d in sorted(result.policies.items())}
    if actions:
        lines[-1] += " Policies: " + ", ".join(f"{p} {n} actions" for p, n in actions.items()) + "."
    if result.pruned:
        lines.append(f"Pruned {len(result.pruned)} predicted actions no attempt used, and re-verified.")
    lines += ["", "### The run", "", "```mermaid", *discover_gantt(result), "```", ""]
    rows = []
    for round_name in ("discover", "prune"):
        for phase in PHASES:
            for a in result.attempts_of(phase, round_name):
                reached = [r.logical_id + (" ✗" if r.failed else "") for r in a.reached]
                denied = sorted({d.action for d in a.denials if d.action})
                rows.append([
                    phase if round_name == "discover" else f"{round_name} {phase}",
                    str(a.number),
                    "passed" if a.succeeded else ("failed in the CLI" if not a.reached_stack
                                                  else f"failed ({a.stack_status})"),
                    _minutes(a.modeled_seconds),
                    f"{len(reached)}: " + listed(reached, wrap=False) if reached else "–",
                    listed(denied),
                    str(len(a.grants)),
                ])
    lines += table(["Phase", "Attempt", "Outcome", "Modeled", "Resources reached (✗ failed)", "Denied", "Granted"],
                   rows)
    groups: dict[str, set[str]] = defaultdict(set)
    for a in result.attempts:
        for g in a.grants:
            groups[_grant_group(g, a)].add(g.need.action)
    if groups:
        order = sorted(groups, key=lambda k: (k in (_CLI, _UNTIED), k))
        lines += ["", "### Grants added, per resource type", ""]
        lines += table(["For", "Actions granted"],
                       ([k, f"{len(groups[k])}: " + listed(sorted(groups[k]), limit=12)] for k in order))
    if by_hand:
        lines += ["", "### Against the by-hand loop", "", *_by_hand_lines(result, by_hand)]
    return "\n".join(lines) + "\n"

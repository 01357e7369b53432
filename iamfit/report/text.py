"""Text renderers of ``plan``, ``generate`` and ``explain``, and the size lines ``generate``, ``replay`` and
``audit`` print: pure string building from the jobs' results (the CLI only echoes them)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamfit.evidence.model import Cause
from iamfit.targets.sandbox.coverage import MODEL_NOTE, limits_lines

if TYPE_CHECKING:
    from iamfit.evidence.explain import Explanation
    from iamfit.generate import GeneratedPolicies
    from iamfit.policy.document import PolicyDocument


def size_summary(
    policies: Mapping[str, PolicyDocument], where: Callable[[str], str]
) -> tuple[list[str], list[str]]:
    """Per policy, the size line ``generate``, ``replay`` and ``audit`` print (actions, statements, characters
    against the managed and inline quotas, how ``pack`` splits it, and ``where(name)`` it goes), and a warning
    for every policy that does not fit one managed policy as written."""
    from iamfit.policy.pack import INLINE_LIMIT, MANAGED_LIMIT, size_report

    lines: list[str] = []
    warnings: list[str] = []
    for name, doc in policies.items():
        rep = size_report(doc)
        lines.append(
            f"  {name:<15} {len(doc.actions()):>3} actions  {len(doc.statements):>3} statements  "
            f"{rep.size:>6} chars (managed limit {MANAGED_LIMIT}, inline {INLINE_LIMIT}: {rep.verdict})"
            f"  -> {where(name)}"
        )
        if rep.fits:
            continue
        if rep.managed is None:
            warnings.append(f"the {name} policy ({rep.size} characters) does not fit IAM's quotas even packed: "
                            f"{rep.problem}")
        else:
            warnings.append(
                f"the {name} policy is {rep.size} characters, over the {MANAGED_LIMIT} of one managed policy: "
                f"attach it as {rep.managed} managed policies"
                + (f" or inline (under {INLINE_LIMIT})" if rep.inline else "")
                + "; --format terraform|cloudformation writes it packed"
            )
    return lines, warnings


def generate_text(result: GeneratedPolicies, out_dir: Path) -> tuple[str, list[str]]:
    """The summary a person reads, and the size warnings (stderr)."""
    svc = result.service
    lines = [f"{svc.name} ({svc.stage}, {svc.region}, stack {svc.stack_name})"]
    files = result.policy_files()
    sizes, warnings = size_summary(
        result.policies, lambda p: ", ".join(str(out_dir / name) for name in files[p]["files"])
    )
    lines.extend(sizes)
    precision = result.report()["precision"]
    lines.append(
        f"  precision: {precision['iamfit_resource_actions']} resource actions granted vs "
        f"{precision['registry_union_actions']} in the raw union of registry handler permissions"
    )
    by_resource = result.pruned_by_resource()
    if by_resource:
        count = sum(len(g["actions"]) for r in by_resource.values() for g in r["pruned"])
        lines.append(f"  pruned: {count} registry action(s) on {len(by_resource)} resource(s), each with why "
                     "(the properties it sets, DeletionPolicy/UpdateReplacePolicy, tags): --report, "
                     "\"pruned_by_resource\"")
        kept = [(lid, r["type"], g) for lid, r in by_resource.items() for g in r["pruned"]
                if "CloudFormation keeps" in g["why"]]
        for lid, type_name, g in kept:
            lines.append(f"    {lid} ({type_name}): no {'/'.join(g['operations'])} actions: {g['why']}")
    gaps = result.prediction.undescribed
    if gaps:
        lines.append(f"  not described: {len(gaps)} resource(s) whose permissions iamfit cannot predict (grant them "
                     "by hand, or verify with discover --target aws):")
        lines.extend(f"    {u.logical_id} ({u.type}): {u.reason}" for u in gaps)
    wild = result.wildcard_resources()
    if wild:
        lines.append('  Resource "*":')
        for principal, action, why in wild:
            lines.append(f"    {principal}: {action} ({why})")
    if result.prediction.cloudformation_role_arn:
        lines.append(
            f"  deploymentRole: {result.prediction.cloudformation_role_arn} "
            "(deployer has iam:PassRole on it, iam:PassedToService=cloudformation.amazonaws.com)"
        )
    return "\n".join(lines), warnings


def minutes(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


def plan_text(data: dict[str, Any], missing_cfn_policy: bool) -> str:
    lines = [f"iamfit plan: stack {data['stack']} (account {data['account']}, {data['region']}) in the sandbox"]
    if missing_cfn_policy:
        lines.append("note: the service sets a deploymentRole and no --cfn-role-policy was given: "
                     "CloudFormation's requests are all denied")
    lines.extend(f"note: {n}" for n in data.get("notes", []))
    for p in data["phases"]:
        state = "ok" if p["fits"] else ("FAILED" if not p["succeeded"] else "DENIALS")
        lines.append(f"\n{p['phase']:<7} {state:<8} stack {p['stack_status'] or '-'}  "
                     f"modeled {minutes(p['modeled_seconds'])}")
        if p["first_failure"]:
            lines.append(f"  first failure: {p['first_failure']}")
        if p["denials"]:
            lines.append(f"  denials ({len(p['denials'])}, every path):")
            for d in p["denials"]:
                note = " [tolerated by the CLI]" if d["tolerated"] else ""
                lines.append(f"    {d['principal']:<14} {d['action']} on {d['resource']}{note}")
                lines.append(f"    {'':<14}   at {d['where']} ({d['cause']})")
    actions = data["denied_actions"]
    lines.append("")
    if data["fits"]:
        total = minutes(data["modeled_seconds"])
        lines.append(f"The policy fits in the sandbox model ({MODEL_NOTE}): every phase succeeds with no denial "
                     f"(modeled {total}).")
    else:
        lines.append(f"The policy does not fit: {len(actions)} denied action(s): {', '.join(actions) or '-'}.")
    unverified = data.get("unverified", [])
    if unverified:
        lines.append(f"Not verified: {len(unverified)} resource(s) whose needs the sandbox could not check "
                     "(verify with `iamfit discover --target aws`, or grant their needs by hand):")
        lines.extend(f"  - {u['logical_id']} ({u['type']}): {u['reason']}" for u in unverified)
    if data["fits"]:
        lines.extend(limits_lines(data.get("model_limits", []), indent=""))
    return "\n".join(lines)


def explain_text(result: Explanation) -> str:
    lines: list[str] = []
    if not result.permission_related and not result.usage:
        return "Not a permission failure: nothing in this text says a request was denied."
    unknown = set(result.unknown_actions)
    for i, group in enumerate(result.groups, 1):
        d = group.denial
        what = d.action or "an action the text does not name"
        times = f" ({group.count} identical)" if group.count > 1 else ""
        lines.append(f"Denial {i}{times}: {what}")
        lines.append(f"  to:    {d.principal or 'the caller (the text does not name it)'}")
        lines.append(f"  on:    {d.resource or 'a resource the text does not name'}")
        lines.append(f"  why:   {d.cause.where_the_block_lives} ({d.cause.value})")
        if group.count > 1 and group.first_seen:
            lines.append(f"  when:  {group.first_seen} .. {group.last_seen}")
        if d.candidates:
            lines.append(f"  likely one of (inferred, not named in the text): {', '.join(d.candidates)}")
        if d.action in unknown:
            lines.append("  fix:   not offered: this action is not in the IAM reference (see the note below)")
        elif d.cause is Cause.UNKNOWN:
            lines.append("  fix:   the text names no reason; granting it fixes a missing Allow, not a Deny")
        elif d.cause.fixable_by_grant:
            lines.append("  fix:   grant it (statement below)")
        else:
            lines.append(
                f"  fix:   the block lives in {d.cause.where_the_block_lives}; "
                "adding an Allow will NOT help -- change that policy (or ask whoever owns it)"
            )
    if result.usage:
        lines.append(f"Used ({len(result.usage)} distinct successful call(s)):")
        for u in result.usage:
            lines.append(f"  {u.action} on {u.resource or '*'} by {u.principal or '-'}")
    if result.fix is not None:
        lines.append("Smallest statement that fixes the grantable denials:")
        lines.append(json.dumps(result.fix, indent=2))
    for note in result.notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines)

"""The text ``iamfit discover`` prints at the end of a run: per round and phase, the totals, the by-hand figure,
what --prune dropped, and the verdict (built from the result and its JSON report; no clock, no I/O); and the
command that resumes an interrupted run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamfit.by_hand import BY_HAND_ESTIMATE_SHORT, BY_HAND_MODEL_SHORT

if TYPE_CHECKING:
    from iamfit.discover import DiscoveryResult
    from iamfit.discover_run import AwsAccess


def prune_lines(result: DiscoveryResult) -> list[str]:
    """What --prune dropped, per principal (and what a phase then needed back), or why nothing was."""
    if not result.pruned:
        if result.stop is not None:
            return ["  prune: not run (the discover round did not verify)"]
        return ["  prune: nothing could be pruned (every predicted action was used by an attempt, "
                "or is never in CloudTrail)"]
    final = {(n.principal, n.action.lower()) for n in result.needs}
    dropped: dict[str, list[str]] = {}
    back: dict[str, list[str]] = {}
    for item in result.pruned:
        principal, action = item.split(":", 1)
        (back if (principal, action.lower()) in final else dropped).setdefault(principal, []).append(action)
    lines = [f"  pruned {sum(map(len, dropped.values()))} predicted action(s) no attempt used"]
    lines.extend(f"    {p}: {', '.join(actions)}" for p, actions in sorted(dropped.items()))
    lines.extend(f"    {p}, needed back by the re-verification: {', '.join(actions)}" for p, actions in
                 sorted(back.items()))
    return lines


def summary(result: DiscoveryResult, rep: dict[str, Any], prune: bool = False) -> str:
    """The run's summary; ``rep`` is its report (:func:`iamfit.discover.report`)."""
    lines = [f"{result.service.name} ({result.service.stage}) on {result.target}, run {result.run_id}"]
    for round_name, phases in rep["phases"].items():
        for phase, body in phases.items():
            granted = sum(len(a["granted"]) for a in body["attempts"])
            lines.append(
                f"  {round_name:<8} {phase:<6} {len(body['attempts']):>2} attempt(s), {body['failed_attempts']} "
                f"failed, {granted} grant(s), {body['modeled_seconds']:.0f} s modeled"
            )
    totals = rep["totals"]
    lines.append(
        f"  total: {totals['attempts']} attempts ({totals['attempts_reaching_cloudformation']} reached "
        f"CloudFormation), {totals['modeled_seconds'] / 60:.1f} min modeled"
    )
    if totals.get("by_hand"):
        bh = totals["by_hand"]
        lines.append(f"  by hand: ~{bh['attempts']} attempts, {bh['modeled_seconds'] / 60:.1f} min modeled "
                     f"({BY_HAND_MODEL_SHORT if bh.get('model') == 'simulated' else BY_HAND_ESTIMATE_SHORT})")
    lines.append("  actions: " + ", ".join(f"{p} {n}" for p, n in totals["actions"].items()))
    if prune:
        lines.extend(prune_lines(result))
    unread = result.unavailable_evidence
    if unread:
        lines.append(
            "  evidence not read: "
            + "; ".join(f"{source}: {reason}" for source, reason in sorted(unread.items()))
        )
    without = " and ".join(sorted(unread))
    if result.stop:
        lines.append(f"STOPPED ({result.stop.reason}): {result.stop.message}")
        lines.extend(f"  - {item}" for item in result.stop.action_items)
        if unread:
            lines.append(f"  - the attempts had no {without} evidence: denials only it shows are not in this verdict")
    else:
        passed = "create, update and remove all passed with these policies"
        if unread:
            passed += f", judged on stack events and deploy output only ({without} evidence was unavailable)"
        if result.target == "sandbox":
            from iamfit.targets.sandbox.coverage import Unverified, verdict_lines

            unverified = tuple(Unverified(u["logical_id"], u["type"], u["reason"]) for u in rep.get("unverified", ()))
            lines.extend(verdict_lines(unverified, passed, tuple(rep.get("model_limits", ()))))
        else:
            lines.append(f"VERIFIED on {result.target}: {passed}")
    if result.target != "sandbox" and rep.get("undescribed"):  # the sandbox's verdict names them already
        lines.append(f"  not described by iamfit's knowledge: {len(rep['undescribed'])} resource(s), their needs "
                     "found on AWS only:")
        lines.extend(f"  - {u['logical_id']} ({u['type']}): {u['reason']}" for u in rep["undescribed"])
    return "\n".join(lines)


def resume_command(service_path: Path, run_id: str, target_name: str, aws: AwsAccess, out_dir: Path | None,
                   report_path: Path | None, fmt: str, service_name: str | None = None,
                   framework: str | None = None) -> str:
    """The command that resumes ``run_id``: the journal has the run's identity and loop options; what it
    does not keep (AWS access, where the outputs go) is repeated."""
    import shlex

    words = ["iamfit", "discover", str(service_path), "--resume", run_id]
    if service_name is not None:  # not journaled: the package (or template) is read again on resume
        words += ["--service", service_name]
    if framework is not None:
        words += ["--framework", framework]
    if target_name == "aws":
        words += ["--target", "aws"]
        for flag in ("account_guard", "profile", "endpoint_url", "deploy_command"):
            if getattr(aws, flag):
                words += ["--" + flag.replace("_", "-"), str(getattr(aws, flag))]
        if aws.keep:
            words.append("--keep")
    if out_dir is not None:
        words += ["--out", str(out_dir)]
    if report_path is not None:
        words += ["--report", str(report_path)]
    if fmt != "json":
        words += ["--format", fmt]
    return shlex.join(words)

"""Lint a policy document: escalation-capable grants, guardrails, unscoped resources, unknown actions.

Every rule lives in ``RULES`` (an :class:`iamfit.findings.Rule`: id, level, title, description, sources, kind);
docs/lint.md documents each one. Only Allow statements are checked for what they grant (a Deny never
escalates); unknown actions are reported in any statement.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import replace

from iamfit.findings import Finding, Level, Rule
from iamfit.knowledge.catalog import ActionCatalog
from iamfit.needs import Condition
from iamfit.policy.document import PolicyDocument, Statement
from iamfit.policy.guardrails import POLICY_EDITING, guardrail_violation, has_boundary_condition, is_unscoped

RHINO = "https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/"
BISHOP_FOX = "https://github.com/BishopFox/iam-vulnerable"
PASSROLE_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html"
CONDITION_KEYS_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html"
BOUNDARY_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html"
ANALYZER_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html"
NOTACTION_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html"
NOTRESOURCE_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html"
SAR_DOC = "https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"
HELP = "https://github.com/iamfit/iamfit/blob/main/docs/lint.md#"
GUARDRAILS = "docs/discover.md, 'Guardrails' (iamfit/policy/guardrails.py)"


_RULES = (
    Rule(
        "IAMFIT-E001",
        Level.ERROR,
        "iam:PassRole on every role",
        "iam:PassRole on `*` (or on every role of an account) lets the principal hand any role, including "
        "administrator roles, to a service it controls. Name the roles.",
        (RHINO, PASSROLE_DOC, ANALYZER_DOC),
    ),
    Rule(
        "IAMFIT-W002",
        Level.WARNING,
        "iam:PassRole without iam:PassedToService",
        "Without an `iam:PassedToService` condition the role can be passed to any service (EC2, Lambda, "
        "Glue ...), not only the one that needs it (for a deployment role: cloudformation.amazonaws.com).",
        (PASSROLE_DOC, CONDITION_KEYS_DOC),
    ),
    Rule(
        "IAMFIT-E003",
        Level.ERROR,
        "Managed policy version control",
        "iam:CreatePolicyVersion / iam:SetDefaultPolicyVersion let the principal rewrite (or roll back to) "
        "a managed policy attached to itself (a privilege escalation method in Rhino Security Labs' list).",
        (RHINO, BISHOP_FOX),
    ),
    Rule(
        "IAMFIT-E004",
        Level.ERROR,
        "Policy attachment without a permissions boundary",
        "Put/Attach role, user or group policies, AddUserToGroup and changing permissions boundaries let "
        "the principal grant itself (or a role it can use) any permission, unless the grant carries an "
        "`iam:PermissionsBoundary` condition that forces a boundary on what it edits.",
        (RHINO, BOUNDARY_DOC, BISHOP_FOX),
    ),
    Rule(
        "IAMFIT-E005",
        Level.ERROR,
        "Credential creation for IAM users",
        "iam:CreateAccessKey, iam:CreateLoginProfile and iam:UpdateLoginProfile mint credentials for "
        "other (possibly more privileged) users (escalation methods in Rhino Security Labs' list).",
        (RHINO, BISHOP_FOX),
    ),
    Rule(
        "IAMFIT-E006",
        Level.ERROR,
        "Trust policy editing",
        "iam:UpdateAssumeRolePolicy lets the principal make any role trust it, then assume it (escalation method 14).",
        (RHINO, BISHOP_FOX),
    ),
    Rule(
        "IAMFIT-W007",
        Level.WARNING,
        "iam:PassRole combined with a compute-creating action",
        "A principal that can pass a role and create compute (a Lambda function, an EC2 instance, a "
        "CloudFormation stack, a Glue endpoint ...) can run code as that role (the PassRole methods of "
        "Rhino Security Labs' list). "
        "Expected for a deployer; make sure PassRole names only the roles the service defines.",
        (RHINO, BISHOP_FOX),
    ),
    Rule(
        "IAMFIT-W008",
        Level.WARNING,
        "lambda:UpdateFunctionCode on every function",
        "Updating the code of any function runs code as that function's role, however privileged "
        "(escalation method 18). Scope the resource to the service's functions.",
        (RHINO,),
    ),
    Rule(
        "IAMFIT-E009",
        Level.ERROR,
        "sts:AssumeRole on every role",
        "sts:AssumeRole on `*` lets the principal assume every role whose trust policy trusts its account.",
        (ANALYZER_DOC, GUARDRAILS),
    ),
    Rule(
        "IAMFIT-E010",
        Level.ERROR,
        "Guardrail: never granted automatically",
        "The grant trips one of iamfit's guardrails (`*` actions, whole-service wildcards, wildcards over "
        "IAM or Organizations, wildcards covering escalation actions). The discovery loop never grants "
        "these unless the user allows the action by name.",
        (GUARDRAILS,),
    ),
    Rule(
        "IAMFIT-W011",
        Level.WARNING,
        'Resource "*" on an action that supports resource-level permissions',
        "The action can be scoped to specific resources (the Service Authorization Reference lists "
        'resource types for it), yet the statement grants it on "*".',
        (SAR_DOC, ANALYZER_DOC),
    ),
    Rule(
        "IAMFIT-E012",
        Level.ERROR,
        "Unknown action",
        "No IAM action has this name (or no action matches this pattern): a typo, or an action AWS "
        "renamed. IAM accepts the policy but the statement grants nothing.",
        (SAR_DOC, ANALYZER_DOC),
    ),
    Rule(
        "IAMFIT-W013",
        Level.WARNING,
        "Allow with NotAction",
        "Allow + NotAction grants every action not listed, including actions AWS adds later.",
        (NOTACTION_DOC,),
    ),
    Rule(
        "IAMFIT-W014",
        Level.WARNING,
        "Allow with NotResource",
        "Allow + NotResource grants the actions on every resource not listed, including resources "
        "created later and in other accounts.",
        (NOTRESOURCE_DOC,),
    ),
)
# Rules for grants that give more than meant (privilege escalation, unbounded grants); the rest is hygiene.
# check and audit both report these as "escalation".
ESCALATION_RULES = frozenset(
    {
        "IAMFIT-E001",
        "IAMFIT-W002",
        "IAMFIT-E003",
        "IAMFIT-E004",
        "IAMFIT-E005",
        "IAMFIT-E006",
        "IAMFIT-W007",
        "IAMFIT-W008",
        "IAMFIT-E009",
        "IAMFIT-E010",
        "IAMFIT-W013",
        "IAMFIT-W014",
    }
)

# every rule with its kind (escalation or lint) and its section of docs/lint.md
RULES: dict[str, Rule] = {
    r.rule_id: replace(r, kind="escalation" if r.rule_id in ESCALATION_RULES else "lint",
                       help_uri=HELP + r.rule_id.lower())
    for r in _RULES
}

POLICY_VERSION_ACTIONS = ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion")
CREDENTIAL_ACTIONS = ("iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile")
# the guardrails' policy-editing actions that attach or write policies and boundaries
ATTACH_ACTIONS = tuple(
    sorted(POLICY_EDITING - {*POLICY_VERSION_ACTIONS, *CREDENTIAL_ACTIONS, "iam:UpdateAssumeRolePolicy"})
)
COMPUTE_ACTIONS = (
    "cloudformation:CreateStack",
    "cloudformation:UpdateStack",
    "codebuild:CreateProject",
    "datapipeline:CreatePipeline",
    "ec2:RunInstances",
    "ecs:RunTask",
    "glue:CreateDevEndpoint",
    "glue:CreateJob",
    "lambda:CreateFunction",
    "lambda:UpdateFunctionConfiguration",
    "sagemaker:CreateNotebookInstance",
)


def _grants(statement: Statement, action: str) -> bool:
    """Whether an Allow statement's Action / NotAction covers ``action`` (case-insensitive)."""
    low = action.lower()
    if statement.actions:
        return any(fnmatch.fnmatchcase(low, p.lower()) for p in statement.actions)
    return not any(fnmatch.fnmatchcase(low, p.lower()) for p in statement.not_actions)


def _names_service(statement: Statement, action: str) -> bool:
    """The statement's Action names the action's service literally (not ``*`` / ``*:...``)."""
    service = action.partition(":")[0].lower()
    return any(p.partition(":")[0].lower() == service for p in statement.actions)


def _resources(statement: Statement) -> tuple[str, ...]:
    return statement.resources if statement.resources else ("*",)  # NotResource: unscoped


def _conditions(statement: Statement) -> tuple[Condition, ...]:
    return tuple((op, key, values) for op, keys in statement.conditions for key, values in keys)


def _has_positive_condition(statement: Statement, key: str) -> bool:
    return any(
        k.lower() == key and "not" not in op.lower() and op.lower() != "null" for op, k, _v in _conditions(statement)
    )


def _unscoped(statement: Statement) -> str | None:
    return next((r for r in _resources(statement) if is_unscoped(r)), None)


def _finding(rule_id: str, message: str, action: str, resource: str, statement: Statement) -> Finding:
    return Finding(rule_id, RULES[rule_id].level, message, action, resource, statement.sid)


def _escalations(statement: Statement) -> Iterator[Finding]:
    first_resource = _resources(statement)[0]
    if _grants(statement, "iam:PassRole"):
        unscoped = _unscoped(statement)
        if unscoped is not None:
            yield _finding("IAMFIT-E001", f"iam:PassRole on {unscoped}", "iam:PassRole", unscoped, statement)
        if not _has_positive_condition(statement, "iam:passedtoservice"):
            yield _finding(
                "IAMFIT-W002",
                "iam:PassRole without an iam:PassedToService condition",
                "iam:PassRole",
                first_resource,
                statement,
            )
    for action in POLICY_VERSION_ACTIONS:
        if _grants(statement, action):
            yield _finding("IAMFIT-E003", f"{action} can rewrite managed policies", action, first_resource, statement)
    if not has_boundary_condition(_conditions(statement)):
        for action in ATTACH_ACTIONS:
            if _grants(statement, action):
                yield _finding(
                    "IAMFIT-E004",
                    f"{action} without an iam:PermissionsBoundary condition",
                    action,
                    first_resource,
                    statement,
                )
    for action in CREDENTIAL_ACTIONS:
        if _grants(statement, action):
            yield _finding("IAMFIT-E005", f"{action} mints credentials", action, first_resource, statement)
    if _grants(statement, "iam:UpdateAssumeRolePolicy"):
        yield _finding(
            "IAMFIT-E006",
            "iam:UpdateAssumeRolePolicy can make any role trust the principal",
            "iam:UpdateAssumeRolePolicy",
            first_resource,
            statement,
        )
    if _grants(statement, "lambda:UpdateFunctionCode"):
        unscoped = next(
            (r for r in _resources(statement) if is_unscoped(r) or r.endswith(":function:*")),
            None,
        )
        if unscoped is not None:
            yield _finding(
                "IAMFIT-W008",
                f"lambda:UpdateFunctionCode on {unscoped}",
                "lambda:UpdateFunctionCode",
                unscoped,
                statement,
            )
    if _grants(statement, "sts:AssumeRole"):
        unscoped = _unscoped(statement)
        if unscoped is not None:
            yield _finding("IAMFIT-E009", f"sts:AssumeRole on {unscoped}", "sts:AssumeRole", unscoped, statement)


def _guardrails(statement: Statement, reported: set[str]) -> Iterator[Finding]:
    """Guardrail violations not already reported by a more specific rule for the same action."""
    conditions = _conditions(statement)
    for pattern in statement.actions or ("*",):
        if pattern.lower() in reported:
            continue
        for resource in _resources(statement):
            reason = guardrail_violation(pattern, resource, conditions)
            if reason is not None:
                yield _finding("IAMFIT-E010", reason, pattern, resource, statement)
                break


def _catalog_findings(statement: Statement, catalog: ActionCatalog) -> Iterator[Finding]:
    for pattern in statement.actions + statement.not_actions:
        if pattern == "*":
            continue
        wildcard = "*" in pattern or "?" in pattern
        known = bool(catalog.expand(pattern)) if wildcard else catalog.info(pattern) is not None
        if not known:
            what = "no known action matches" if wildcard else "no such action"
            yield _finding("IAMFIT-E012", f"{pattern}: {what}", pattern, _resources(statement)[0], statement)
            continue
        if statement.effect != "Allow" or wildcard or "*" not in statement.resources:
            continue
        info = catalog.info(pattern)
        if info is not None and info.supports_resource_level:
            types = ", ".join(sorted({rt.name for rt in info.resource_types if rt.name})) or "resources"
            yield _finding(
                "IAMFIT-W011",
                f'{info.action} supports resource-level permissions ({types}) but is granted on "*"',
                info.action,
                "*",
                statement,
            )


def lint(document: PolicyDocument, *, catalog: ActionCatalog | None = None) -> tuple[Finding, ...]:
    """Every finding for ``document``, sorted (rule id, Sid, action, resource, message); no duplicates."""
    found: set[Finding] = set()
    allows = [s for s in document.statements if s.effect == "Allow"]
    for statement in allows:
        specific = list(_escalations(statement))
        found.update(specific)
        reported = {f.action.lower() for f in specific if f.level is Level.ERROR}
        found.update(_guardrails(statement, reported))
        if statement.not_actions:
            found.add(
                _finding(
                    "IAMFIT-W013",
                    f"Allow with NotAction {', '.join(statement.not_actions)}",
                    "*",
                    _resources(statement)[0],
                    statement,
                )
            )
        if statement.not_resources:
            found.add(
                _finding(
                    "IAMFIT-W014",
                    f"Allow with NotResource {', '.join(statement.not_resources)}",
                    (statement.actions or ("*",))[0],
                    "*",
                    statement,
                )
            )
    passrole = next((s for s in allows if _grants(s, "iam:PassRole")), None)
    if passrole is not None:
        for statement in allows:
            for action in COMPUTE_ACTIONS:
                if statement.actions and _names_service(statement, action) and _grants(statement, action):
                    found.add(
                        _finding(
                            "IAMFIT-W007",
                            f"{action} together with iam:PassRole (Sid {passrole.sid or '-'})",
                            action,
                            _resources(statement)[0],
                            statement,
                        )
                    )
    if catalog is not None:
        for statement in document.statements:
            found.update(_catalog_findings(statement, catalog))
    return tuple(sorted(found, key=lambda f: (f.rule_id, f.sid, f.action, f.resource, f.message)))

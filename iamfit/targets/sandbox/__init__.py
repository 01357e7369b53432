"""The sandbox target: in-process CloudFormation + IAM (see :mod:`iamfit.targets.sandbox.target`)."""

from iamfit.targets.sandbox.target import SandboxTarget, Verdict
from iamfit.targets.sandbox.world import ExtendedWorld, ExtraNeed, KnowledgeWorld, Names, Requirement, World

SANDBOX_ACCOUNT = "123456789012"  # the account the sandbox names resources in when the user gives none

__all__ = ["SANDBOX_ACCOUNT", "ExtendedWorld", "ExtraNeed", "KnowledgeWorld", "Names", "Requirement", "SandboxTarget",
           "Verdict", "World"]

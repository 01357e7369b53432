"""The sandbox target: in-process CloudFormation + IAM (see :mod:`iamfit.targets.sandbox.target`)."""

from iamfit.targets.sandbox.target import SandboxTarget, Verdict
from iamfit.targets.sandbox.world import ExtendedWorld, ExtraNeed, KnowledgeWorld, Names, Requirement, World

__all__ = ["ExtendedWorld", "ExtraNeed", "KnowledgeWorld", "Names", "Requirement", "SandboxTarget", "Verdict",
           "World"]

"""The AWS target: discovery attempts in a real (sandbox) account. See docs/aws.md."""

from iamfit.targets.aws.target import AwsTarget, CleanupReport, make_aws_target, terminate_as_interrupt

__all__ = ["AwsTarget", "CleanupReport", "make_aws_target", "terminate_as_interrupt"]

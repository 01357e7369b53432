"""One exception hierarchy. Each error carries the process exit code the CLI uses for it.

Exit codes (documented in the README):
    0  the policy fits / the input was read
    1  findings (drift, denials, lint) -- not an exception, returned as data
    2  usage error
    3  bad input (malformed template, policy, CloudTrail file, failure text, unknown resource type)
    4  AWS error
    70 internal error (a bug: one line, the traceback with IAMFIT_DEBUG=1)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_AWS = 4
EXIT_INTERNAL = 70  # EX_SOFTWARE in sysexits.h


class IamfitError(Exception):
    """Base of every error iamfit raises on purpose. The message is one line, for a person."""

    exit_code: int = EXIT_BAD_INPUT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())

    def __str__(self) -> str:
        return self.message


class UsageError(IamfitError):
    """The command was called wrongly (conflicting options, a missing required value)."""

    exit_code = EXIT_USAGE


class BadInputError(IamfitError):
    """The input could not be read: a malformed template, policy, CloudTrail file or failure text."""

    exit_code = EXIT_BAD_INPUT


class FrameworkMissingError(BadInputError):
    """The service needs compiling and no Serverless Framework CLI was found."""


class AwsError(IamfitError):
    """An AWS API call failed in a way iamfit cannot turn into evidence."""

    exit_code = EXIT_AWS


class SafetyError(IamfitError):
    """iamfit refused to act because acting would break a safety rule (wrong account, foreign stack)."""

    exit_code = EXIT_USAGE

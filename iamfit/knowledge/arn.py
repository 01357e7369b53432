"""An Amazon Resource Name as a value: ``arn:partition:service:region:account:resource``.

Source: IAM User Guide, "IAM identifiers" / AWS General Reference "Amazon Resource Names (ARNs)": an ARN is six
colon-separated fields; the resource field is everything after the fifth colon and may itself hold ``:`` and
``/`` (``log-group:/aws/lambda/f:*``, ``role/path/name``). Region and account are empty for global resources
(``arn:aws:s3:::bucket``, ``arn:aws:iam::123456789012:role/r``). An account id is twelve digits.

The resource part is ``resource-type/resource-id``, ``resource-type:resource-id`` or a bare name (AWS General
Reference, "ARN format"); ``resource_type``/``resource_id`` split it at the first ``/`` or ``:``, whichever comes
first, and keep everything after it (an S3 access point object ``accesspoint/ap/object/k/e/y``, a log group
``log-group:/aws/x:*``). An S3 ARN with an empty region is a bucket or object (``bucket/key``), never typed.

Parsing is lenient about the fields' contents so that ARN *patterns* (``arn:aws:iam::*:role/*``) parse too; it
only asks for the ``arn`` prefix, six fields and a non-empty partition, service and resource.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

ACCOUNT_ID = re.compile(r"[0-9]{12}")


class NotAnArnError(ValueError):
    """The text is not an ARN (no ``arn:`` prefix, fewer than six fields, an empty partition/service/resource)."""


def is_account_id(text: str | None) -> bool:
    """True for a twelve-digit AWS account id."""
    return text is not None and ACCOUNT_ID.fullmatch(text) is not None


def _type_cut(resource: str) -> int | None:
    """Where the resource type ends: the first ``/`` or ``:`` (None when there is neither, or it starts the text)."""
    cuts = [i for i in (resource.find("/"), resource.find(":")) if i > 0]
    return min(cuts) if cuts else None


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> Arn:
        """The ARN ``text`` names; NotAnArnError if it is not one."""
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2] or not parts[5]:
            raise NotAnArnError(f"not an ARN: {text!r:.80}")
        return cls(parts[1], parts[2], parts[3], parts[4], parts[5])

    @classmethod
    def parse_or_none(cls, text: str | None) -> Arn | None:
        """The ARN ``text`` names, or None for anything else (including None)."""
        if not text:
            return None
        try:
            return cls.parse(text)
        except NotAnArnError:
            return None

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    @property
    def account_id(self) -> str | None:
        """The account field when it is a twelve-digit account id (not empty, not a wildcard)."""
        return self.account if is_account_id(self.account) else None

    @property
    def resource_type(self) -> str:
        """The resource part's type (``role``, ``accesspoint``, ``log-group``), "" for a bare name or an S3
        bucket/object ARN (``arn:aws:s3:::bucket/key``: no region, no type)."""
        if self.service == "s3" and not self.region:
            return ""
        cut = _type_cut(self.resource)
        return self.resource[:cut] if cut is not None else ""

    @property
    def resource_id(self) -> str:
        """The resource part after its type and the separator (all of it when it has no type)."""
        if not self.resource_type:
            return self.resource
        return self.resource[len(self.resource_type) + 1 :]

    def with_account(self, account: str) -> Arn:
        return replace(self, account=account)

    def with_service(self, service: str) -> Arn:
        return replace(self, service=service)

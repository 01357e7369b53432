"""Scope an observed request (a denial, a CloudTrail record) to the resource pattern a policy should grant.

An observed ARN is concrete: ``table/svc-dev-ItemsTable-1X2Y3Z`` carries CloudFormation's random suffix and
changes on every replacement. The scoper maps it to the service's own ARN pattern when one matches
(``table/svc-dev-ItemsTable-*``); otherwise it keeps the ARN (without the account when the account is not the
user's). Actions without resource-level permissions get ``*``; a request that names no resource gets the
action's ARN format in this account and region.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Iterable

from iamfit.knowledge.arn import Arn
from iamfit.knowledge.catalog import ActionCatalog

logger = logging.getLogger(__name__)

_VAR = re.compile(r"\$\{[^}]+\}")
_OPTIONAL = re.compile(r"\[[^\]]*\]")  # optional ARN segments in the Service Authorization Reference


class ArnScoper:
    def __init__(
        self,
        catalog: ActionCatalog,
        patterns: Iterable[str] = (),
        *,
        partition: str = "aws",
        region: str = "*",
        account: str | None = None,
        pin_account: bool = True,
    ) -> None:
        self.catalog = catalog
        # most specific first: fewest wildcards, then longest
        self.patterns = sorted({p for p in patterns if p != "*"}, key=lambda p: (p.count("*"), -len(p), p))
        self.partition, self.region, self.account = partition, region, account
        self.pin_account = pin_account

    def scope(self, action: str, resource: str | None) -> str:
        info = self.catalog.info(action)
        if info is not None and not info.supports_resource_level:
            logger.debug("%s: no resource-level permissions, scoped to *", action)
            return "*"
        if resource and resource.startswith("arn:"):
            # CloudTrail names a log group without the ":*" suffix its IAM resource pattern has
            for candidate in (resource, resource + ":*"):
                for pattern in self.patterns:
                    if fnmatch.fnmatchcase(candidate, pattern):
                        logger.debug("%s on %s: scoped to the service's pattern %s", action, resource, pattern)
                        return pattern
            if not self.pin_account:
                arn = Arn.parse_or_none(resource)
                if arn is not None and arn.account:
                    return str(arn.with_account("*"))
            logger.debug("%s on %s: no service pattern matches, the ARN is kept", action, resource)
            return resource
        if info is not None:
            for rt in info.resource_types:
                if rt.arn_format != "*":
                    return _VAR.sub(
                        "*",
                        _OPTIONAL.sub("", rt.arn_format)
                        .replace("${Partition}", self.partition)
                        .replace("${Region}", self.region)
                        .replace("${Account}", self.account or "*"),
                    )
        return "*"

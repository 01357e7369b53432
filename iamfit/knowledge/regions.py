"""AWS regions and their partitions, from botocore's endpoint data (``botocore/data/partitions.json``).

A region is known when botocore lists it under a partition and its name matches that partition's
``regionRegex`` (which leaves out pseudo-regions such as ``aws-global``). Its partition gives the ARN prefix:
``arn:aws-cn:`` in ``cn-north-1``, ``arn:aws-us-gov:`` in ``us-gov-west-1``. The file is read as JSON without
importing botocore (that import costs ~0.1 s), on first use.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import re
from pathlib import Path

log = logging.getLogger(__name__)

REGION_HINT = "see `aws ec2 describe-regions` or the regions in botocore's data/partitions.json"

# When botocore's data cannot be read: the shape of every region name, and the partitions by prefix.
_REGION_SHAPE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_FALLBACK_PARTITIONS = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"),
                        ("us-isof-", "aws-iso-f"), ("us-iso-", "aws-iso"), ("eu-isoe-", "aws-iso-e"),
                        ("eusc-", "aws-eusc"))


@functools.cache
def _known_regions() -> dict[str, str] | None:
    """region -> partition, as botocore lists them; None when botocore's data is not there."""
    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "partitions.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        out = {}
        for partition in data["partitions"]:
            pattern = re.compile(partition["regionRegex"])
            for region in partition["regions"]:
                if pattern.match(region):
                    out[region] = partition["id"]
    except (OSError, ValueError, KeyError, TypeError, re.error) as exc:
        log.warning("botocore's partitions.json could not be read (%s): regions are checked by shape only", exc)
        return None
    return out


def partition_of(region: str) -> str | None:
    """The partition of ``region`` (``aws``, ``aws-cn``, ``aws-us-gov``, ...), or None for a region botocore does
    not know."""
    known = _known_regions()
    if known is not None:
        return known.get(region)
    if not _REGION_SHAPE.match(region):
        return None
    return next((partition for prefix, partition in _FALLBACK_PARTITIONS if region.startswith(prefix)), "aws")


def unknown_region_message(region: str, source: str = "--region") -> str:
    """One line saying ``region`` is not a region, the nearest known names, and where to find the valid ones."""
    import difflib

    close = difflib.get_close_matches(region, sorted(_known_regions() or ()), n=3)
    guess = f"did you mean {' or '.join(close)}? " if close else ""
    return f"{source}: unknown AWS region {region!r:.60}; {guess}{REGION_HINT}"

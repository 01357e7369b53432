"""Output directories (``--out``): iamfit replaces its own earlier outputs there and never touches anything else.

Every write leaves a manifest, ``.iamfit-outputs.json``, naming the files iamfit wrote with their SHA-256. The
next write into the same directory removes the files the manifest names that it does not write again (a
``cloudformation.json`` from an earlier ``--split``, an ``iamfit.tf`` from an earlier ``--format terraform``),
so policies of two runs are never mixed. It refuses (before writing anything) when such a stale file cannot be
told to be iamfit's own: changed since iamfit wrote it, or carrying one of iamfit's output names in a directory
without a manifest (an earlier version's run, or someone's own file).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from iamfit.errors import UsageError

logger = logging.getLogger(__name__)

MANIFEST = ".iamfit-outputs.json"
SCHEMA = "iamfit.outputs/1"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _plain(name: object) -> bool:
    return isinstance(name, str) and bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


def read_manifest(directory: Path) -> dict[str, str]:
    """``{file name: sha256}`` of what iamfit last wrote in ``directory`` (empty without a manifest)."""
    path = directory / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
        raise UsageError(f"{path} is not an iamfit output manifest; delete it or choose another --out") from None
    return {str(k): str(v) for k, v in files.items() if _plain(k)}


def write_outputs(directory: Path, files: Mapping[str, str], known_names: Iterable[str] = ()) -> list[str]:
    """Write ``files`` (name -> text) into ``directory`` and remove iamfit's stale outputs there.

    ``known_names``: every name iamfit may write into such a directory; one of them present, not written now
    and not in the manifest is refused. Returns the names removed."""
    for name in files:
        if not _plain(name):
            raise ValueError(f"output file name {name!r} is not a plain file name")
    previous = read_manifest(directory) if directory.is_dir() else {}
    stale: list[str] = []
    foreign: list[str] = []
    for name, digest in sorted(previous.items()):
        path = directory / name
        if name in files or not path.is_file():
            continue
        (stale if _digest(path.read_bytes()) == digest else foreign).append(name)
    foreign.extend(
        name
        for name in sorted(set(known_names) - set(files) - set(previous))
        if directory.is_dir() and (directory / name).exists()
    )
    if foreign:
        raise UsageError(
            f"{directory} holds {', '.join(sorted(foreign))} from an earlier run, not written by this one and not "
            "known to be iamfit's unchanged output; remove them or choose another --out (outputs of two runs are "
            "never mixed)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    for name, text in files.items():
        data = text.encode("utf-8")
        tmp = directory / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(directory / name)
        written[name] = _digest(data)
    for name in stale:
        (directory / name).unlink()
        logger.info("removed %s: written by an earlier run, not by this one", directory / name)
    manifest = {"schema": SCHEMA, "files": dict(sorted(written.items()))}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return stale

"""Where in serverless.yml (or a policy file) a finding comes from, found by a plain text search.

No YAML parser: serverless.yml may hold ``${...}`` variables and custom tags, and only the line of a key is
wanted. ``KeyIndex`` records the first line of every mapping key by its dotted path (``functions.listItems``,
``resources.Resources.ItemsTable``, ``provider.iam.deploymentRole``); keys inside list items are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from iamfit.errors import BadInputError
from iamfit.files import read_text

CONFIG_NAMES = ("serverless.yml", "serverless.yaml")
_KEY = re.compile(r"""^(?P<indent> *)(?P<key>[A-Za-z0-9_.$\-]+|"[^"]+"|'[^']+')\s*:(?:\s|$)""")


@dataclass(frozen=True)
class Location:
    """A file (as given, usually relative to the working directory) and a 1-based line."""

    path: str
    line: int = 1


class KeyIndex:
    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        stack: list[tuple[int, str]] = []  # (indent, key)
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            indent = len(raw) - len(raw.lstrip(" "))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            if raw.lstrip().startswith("-"):
                stack.append((indent, "\0"))  # a list item: nothing below it is indexed
                continue
            m = _KEY.match(raw)
            if not m:
                continue
            if any(k == "\0" for _, k in stack):
                continue
            key = m.group("key").strip("\"'")
            path = ".".join([k for _, k in stack] + [key])
            self.lines.setdefault(path, number)
            stack.append((indent, key))

    def line(self, path: str) -> int | None:
        return self.lines.get(path)

    def children(self, path: str) -> tuple[str, ...]:
        prefix = path + "."
        return tuple(p[len(prefix) :] for p in self.lines if p.startswith(prefix) and "." not in p[len(prefix) :])


def normalized_function_name(name: str) -> str:
    """The Framework's getNormalizedFunctionName: first letter upper, ``-`` → Dash, ``_`` → Underscore."""
    out = name.replace("-", "Dash").replace("_", "Underscore")
    return out[:1].upper() + out[1:]


_LOGICAL_ID = re.compile(r"^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+ (?P<lid>[A-Za-z0-9]+)\b")


def logical_id_of(reason: str) -> str | None:
    """The logical id in a need's reason (``AWS::Lambda::Function ListItemsLambdaFunction create``)."""
    m = _LOGICAL_ID.match(reason)
    return m.group("lid") if m else None


class ServiceLocator:
    """Maps a need (its reason and action) to the serverless.yml key it comes from."""

    def __init__(self, config: Path | None, display: str | None = None) -> None:
        self.config = config
        self.display = display or (str(config) if config else "")
        text = ""
        if config is not None and config.is_file():
            try:
                text = read_text(config, "serverless.yml", lenient=True)
            except BadInputError:  # only line numbers are lost: findings point at the file's first line
                text = ""
        self.index = KeyIndex(text)
        self.functions = {normalized_function_name(f): f for f in self.index.children("functions")}

    @classmethod
    def for_service(cls, source: Path | None) -> ServiceLocator:
        if source is None:
            return cls(None)
        base = source if source.is_dir() else source.parent
        for name in CONFIG_NAMES:
            if (base / name).is_file():
                return cls(base / name)
        return cls(None, str(source))

    def anchor(self, reason: str, action: str = "") -> str:
        """The dotted key path that best explains a need (falls back to ``provider``, then ``service``)."""
        lid = logical_id_of(reason)
        candidates: list[str] = []
        if lid is not None:
            candidates.append(f"resources.Resources.{lid}")
            best = max((n for n in self.functions if lid.startswith(n)), key=len, default=None)
            if best is not None:
                candidates.append(f"functions.{self.functions[best]}")
            if lid.startswith("IamRoleLambdaExecution"):
                candidates += ["provider.iam.role", "provider.iam", "provider.iamRoleStatements"]
            if lid.startswith("ServerlessDeploymentBucket"):
                candidates.append("provider.deploymentBucket")
            if lid.startswith(("ApiGateway", "HttpApi")):
                candidates += ["provider.apiGateway", "provider.httpApi", "functions"]
            candidates.append("functions" if best else "provider")
        else:
            if action.lower() == "iam:passrole":
                candidates += ["provider.iam.deploymentRole", "provider.cfnRole"]
            if action.lower().startswith("s3:"):
                candidates.append("provider.deploymentBucket")
            candidates.append("provider")
        candidates.append("service")
        return next((c for c in candidates if self.index.line(c) is not None), "service")

    def locate(self, reason: str, action: str = "") -> Location:
        anchor = self.anchor(reason, action)
        return Location(self.display, self.index.line(anchor) or 1)


def relative_path(path: str, root: Path) -> str:
    """``path`` relative to ``root`` (POSIX separators) when it lies inside it, else as given."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(root.resolve())
        except ValueError:
            return path
    return p.as_posix()


def policy_line(text: str, action: str, sid: str = "") -> int:
    """The line of a policy file naming ``action`` (after the statement ``sid`` when given), else 1."""
    lines = text.splitlines()
    start = 0
    if sid:
        start = next((i for i, ln in enumerate(lines) if f'"{sid}"' in ln), 0)
    needle = f'"{action}"'.lower()
    for i in list(range(start, len(lines))) + list(range(0, start)):
        if needle in lines[i].lower():
            return i + 1
    return start + 1 if sid else 1

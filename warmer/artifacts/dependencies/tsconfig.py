"""tsconfig.json / jsconfig.json: the `compilerOptions.paths` and `baseUrl` that turn `@/x` into a file.

The files are JSON with comments and trailing commas (what TypeScript's own parser accepts). An
extract keeps only what module resolution needs: `extends`, `baseUrl` and `paths`. The reduce
follows TypeScript's rules (its handbook's "Module Resolution" and `tsc --showConfig`):

- the config that governs a file is the nearest `tsconfig.json` (else `jsconfig.json`) in its
  directory or above, as editors and `tsc -p` pick it; when that one is a "solution" of project
  `references` (Vite's tsconfig.app.json + tsconfig.node.json), the referenced project whose
  `include`/`files` cover the file;
- `extends` (a path or, since TypeScript 5.0, a list) is read first and overridden key by key;
  an inherited `baseUrl` or `paths` stays relative to the config that declared it;
- `paths` targets are relative to `baseUrl` when one is set, else to the declaring config's directory;
- the pattern with the longest prefix before its `*` wins, then its targets are tried in order;
- a non-relative specifier no pattern matched is tried under `baseUrl`.

`extends` naming a package (`@tsconfig/node18/tsconfig.json`) points into node_modules, which is
not in the repository: the chain stops there and the entry says so.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from warmer.artifacts.dependencies.source_text import without_comments

CONFIG_NAMES = ("tsconfig.json", "jsconfig.json")
_TRAILING_COMMA = re.compile(r"""("(?:\\.|[^"\\])*")|,(\s*[}\]])""")


def _jsonc(text: str) -> Any:
    code = without_comments(text)
    code = _TRAILING_COMMA.sub(lambda m: m.group(1) or m.group(2), code)
    return json.loads(code)


def extract_tsconfig(text: str) -> dict[str, Any]:
    """`extends` (always a list), `baseUrl` and `paths` of one config file, or its JSON error."""
    try:
        data = _jsonc(text)
    except json.JSONDecodeError as exc:
        return {"error": f"invalid JSON: {exc.msg} (line {exc.lineno})", "line": exc.lineno}
    if not isinstance(data, dict):
        return {"error": "not a JSON object"}
    extends = data.get("extends") or []
    options = data.get("compilerOptions") or {}
    result: dict[str, Any] = {"extends": [extends] if isinstance(extends, str) else list(extends)}
    references = [r.get("path") for r in data.get("references") or [] if isinstance(r, dict)]
    if references:
        result["references"] = [r for r in references if isinstance(r, str)]
    for key in ("include", "files"):
        if isinstance(data.get(key), list):
            result[key] = [p for p in data[key] if isinstance(p, str)]
    if isinstance(options, dict):
        if isinstance(options.get("baseUrl"), str):
            result["baseUrl"] = options["baseUrl"]
        if isinstance(options.get("paths"), dict):
            result["paths"] = {k: [t for t in v if isinstance(t, str)] for k, v in options["paths"].items()}
    return result


@dataclass(frozen=True)
class Resolution:
    """The effective options of one config: absolute (repository-relative) base directories."""

    base_url: str | None
    paths: dict[str, list[str]]
    paths_dir: str  # directory of the config that declared `paths`
    problems: tuple[str, ...] = ()

    @property
    def paths_base(self) -> str:
        """What `paths` targets are relative to: `baseUrl` when set, else the declaring config's directory."""
        return self.base_url if self.base_url is not None else self.paths_dir


def _dir(path: str) -> str:
    parent = str(PurePosixPath(path).parent)
    return "" if parent == "." else parent


def _join(directory: str, relative: str) -> str:
    joined = (
        posixpath.normpath(posixpath.join(directory, relative)) if directory else posixpath.normpath(relative)
    )
    return "" if joined == "." else joined


class TsConfigs:
    """Every tsconfig/jsconfig of the commit, resolved through `extends`, and the one governing a file."""

    def __init__(self, configs: dict[str, dict[str, Any]]) -> None:
        self.configs = configs
        self._resolved: dict[str, Resolution] = {}
        self.by_dir: dict[str, str] = {}
        for name in CONFIG_NAMES:  # tsconfig.json before jsconfig.json in one directory
            for path in sorted(configs):
                if PurePosixPath(path).name == name:
                    self.by_dir.setdefault(_dir(path), path)

    def governing(self, file: str) -> str | None:
        directory = _dir(file)
        while True:
            if directory in self.by_dir:
                return self._project_of(self.by_dir[directory], file)
            if not directory:
                return None
            directory = _dir(directory)

    def _project_of(self, config: str, file: str) -> str:
        """A "solution" config (`references` to tsconfig.app.json, tsconfig.node.json, as Vite writes
        them) governs nothing itself: the referenced project whose `include`/`files` cover the file
        does, as TypeScript's language server decides."""
        data = self.configs.get(config, {})
        for reference in data.get("references", []):
            target = _join(_dir(config), reference)
            candidate = target if target in self.configs else _join(target, "tsconfig.json")
            if candidate in self.configs and _covers(candidate, self.configs[candidate], file):
                return candidate
        return config

    def _extended(self, config: str, name: str) -> str | None:
        if not name.startswith((".", "/")):
            return None  # a package in node_modules
        target = _join(_dir(config), name)
        for candidate in (target, target + ".json", _join(target, "tsconfig.json")):
            if candidate in self.configs:
                return candidate
        return None

    def resolution(self, config: str, seen: tuple[str, ...] = ()) -> Resolution:
        if config in self._resolved:
            return self._resolved[config]
        data = self.configs.get(config, {})
        base_url: str | None = None
        paths: dict[str, list[str]] = {}
        paths_dir = _dir(config)
        problems: list[str] = [f"{config}: {data['error']}"] if data.get("error") else []
        for name in data.get("extends", []):
            parent = self._extended(config, name)
            if parent is None:
                problems.append(f"{config}: extends {name!r}, which is not in the repository")
                continue
            if parent in seen:
                problems.append(f"{config}: extends itself through {parent}")
                continue
            inherited = self.resolution(parent, (*seen, config))
            base_url = inherited.base_url if inherited.base_url is not None else base_url
            if inherited.paths:
                paths, paths_dir = inherited.paths, inherited.paths_dir
            problems.extend(inherited.problems)
        if "baseUrl" in data:
            base_url = _join(_dir(config), data["baseUrl"])
        if "paths" in data:
            paths, paths_dir = data["paths"], _dir(config)
        result = Resolution(base_url, paths, paths_dir, tuple(problems))
        self._resolved[config] = result
        return result


def _match(pattern: str, specifier: str) -> str | None:
    """What `*` stands for when `specifier` matches `pattern` (`""` for an exact key), else None."""
    if "*" not in pattern:
        return "" if pattern == specifier else None
    prefix, _, suffix = pattern.partition("*")
    if (
        specifier.startswith(prefix)
        and specifier.endswith(suffix)
        and len(specifier) >= len(prefix) + len(suffix)
    ):
        return specifier[len(prefix) : len(specifier) - len(suffix)]
    return None


def resolve_alias(
    specifier: str, resolution: Resolution, find_module: Callable[[str], str | None]
) -> str | None:
    """The file a non-relative specifier names through `paths` or `baseUrl`, or None (a package)."""
    matches = [(p, _match(p, specifier)) for p in resolution.paths]
    matches = [(p, star) for p, star in matches if star is not None]
    if matches:
        pattern, star = max(matches, key=lambda m: len(m[0].partition("*")[0]))
        for target in resolution.paths[pattern]:
            found = find_module(_join(resolution.paths_base, target.replace("*", star or "", 1)))
            if found:
                return found
    if resolution.base_url is not None:
        return find_module(_join(resolution.base_url, specifier))
    return None


def _pattern(pattern: str) -> re.Pattern[str]:
    """A tsconfig `include` glob as a regex: `**/` any directories, `*` and `?` within one segment;
    a pattern whose last segment has no wildcard and no extension names a directory (all below it)."""
    last = pattern.rstrip("/").split("/")[-1]
    if "*" not in last and "?" not in last and "." not in last:
        pattern = pattern.rstrip("/") + "/**/*"
    text = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    return re.compile(f"^{text}$")


def _covers(config: str, data: dict[str, Any], file: str) -> bool:
    base = _dir(config)
    if file in {_join(base, f) for f in data.get("files", [])}:
        return True
    include = data.get("include", [] if "files" in data else ["**/*"])
    patterns = [_join(base, p) for p in include]
    return any(p in ("", ".") or _pattern(p).match(file) for p in patterns)

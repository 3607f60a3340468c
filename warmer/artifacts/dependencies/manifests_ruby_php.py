"""Ruby and PHP manifests: Gemfile + Gemfile.lock (Bundler), composer.json + composer.lock (Composer).

A Gemfile is Ruby; Bundler's documented forms are read line by line: `gem "name", "req", ...`
(several requirements join with commas), `group :test, :development do ... end` blocks and
`group:` / `groups:` options. Gemfile.lock's `specs:` sections list `name (version)` at four
spaces of indentation (dependencies of a spec at six).
"""

from __future__ import annotations

import json
import re
from typing import Any

from warmer.artifacts.dependencies.manifests import ManifestError, dep

_GEM = re.compile(r"""^\s*gem\s*\(?\s*['"]([^'"]+)['"]((?:\s*,\s*['"][^'"]*['"])*)(.*)$""")
_GROUP_BLOCK = re.compile(r"^\s*group\s*\(?\s*((?::\w+|['\"]\w+['\"])(?:\s*,\s*(?::\w+|['\"]\w+['\"]))*)")
_GROUP_OPTION = re.compile(
    r"\bgroups?\s*(?::|=>)\s*\[?\s*((?::\w+|['\"]\w+['\"])(?:\s*,\s*(?::\w+|['\"]\w+['\"]))*)"
)
_BLOCK_OPENERS = re.compile(r"^\s*(?:group|platforms?|source|install_if|git|path|github)\b.*\bdo\b")


def _names(text: str) -> list[str]:
    return [n.strip().lstrip(":").strip("'\"") for n in text.split(",") if n.strip()]


def _group(names: list[str]) -> str:
    if not names:
        return "runtime"
    return "test" if "test" in names else "dev" if "development" in names else names[0]


def parse_gemfile(text: str) -> dict[str, Any]:
    deps: list[dict[str, Any]] = []
    stack: list[list[str]] = []  # the groups of each open `do` block
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        if _BLOCK_OPENERS.match(line):
            group = _GROUP_BLOCK.match(line)
            stack.append(_names(group.group(1)) if group else [])
            continue
        if re.match(r"^\s*end\b", line) and stack:
            stack.pop()
            continue
        gem = _GEM.match(line)
        if gem is None:
            continue
        requirements = [r.strip().strip("'\"") for r in gem.group(2).split(",") if r.strip()]
        option = _GROUP_OPTION.search(gem.group(3))
        groups = _names(option.group(1)) if option else next((g for g in reversed(stack) if g), [])
        spec = ", ".join(requirements) or None
        pinned = (
            requirements[0]
            if len(requirements) == 1 and re.match(r"^=?\s*\d[\w.]*$", requirements[0])
            else None
        )
        deps.append(
            dep("rubygems", gem.group(1), spec, _group(groups), pinned.lstrip("= ") if pinned else None)
        )
    return {"ecosystem": "rubygems", "dependencies": deps}


def parse_gemfile_lock(text: str) -> dict[str, Any]:
    by_name: dict[str, list[str]] = {}
    in_specs = False
    for line in text.splitlines():
        if line.strip() == "specs:":
            in_specs = True
            continue
        if line and not line.startswith(" "):
            in_specs = False
        match = re.match(r"^ {4}([^\s(]+) \(([^)]+)\)$", line) if in_specs else None
        if match:
            version = match.group(2).split("-")[0] if "-" in match.group(2) else match.group(2)  # platform
            versions = by_name.setdefault(match.group(1), [])
            if version not in versions:
                versions.append(version)
    if text.strip() and not by_name and "specs:" in text:
        raise ManifestError("no `name (version)` entries under specs:")
    return {"ecosystem": "rubygems", "locked": {"by_name": by_name, "by_spec": {}}}


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(str(exc)) from exc
    if not isinstance(data, dict):
        raise ManifestError(f"{what} is not a JSON object")
    return data


def parse_composer_json(text: str) -> dict[str, Any]:
    """`require` (runtime) and `require-dev` (dev); `php` and `ext-*` are platform requirements."""
    data = _json_object(text, "composer.json")
    deps: list[dict[str, Any]] = []
    for key, group in (("require", "runtime"), ("require-dev", "dev")):
        table = data.get(key) or {}
        if not isinstance(table, dict):
            raise ManifestError(f"{key} is not an object")
        for name, spec in sorted(table.items()):
            platform = name == "php" or name.startswith(("ext-", "lib-")) or name == "composer-plugin-api"
            deps.append(dep("packagist", name, str(spec), "platform" if platform else group))
    return {"ecosystem": "packagist", "dependencies": deps}


def parse_composer_lock(text: str) -> dict[str, Any]:
    data = _json_object(text, "composer.lock")
    by_name: dict[str, list[str]] = {}
    for key in ("packages", "packages-dev"):
        for package in data.get(key) or []:
            if isinstance(package, dict) and "name" in package and "version" in package:
                by_name.setdefault(package["name"], []).append(str(package["version"]).removeprefix("v"))
    return {"ecosystem": "packagist", "locked": {"by_name": by_name, "by_spec": {}}}

"""Which files are manifests and lockfiles, and the Python and npm parsers.

Every parser takes the file's text only (never its path), so its result can be
cached by blob id; the reduce adds the path. A parser raises `ManifestError`
with the underlying parser's message when the file cannot be read as its format.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement


class ManifestError(Exception):
    """The manifest is not valid in its own format; the message is the parser's."""


def dep(
    ecosystem: str, name: str, spec: str | None, group: str, resolved: str | None = None
) -> dict[str, Any]:
    """One declared dependency, before the reduce adds its manifest path and locked version."""
    return {"ecosystem": ecosystem, "name": name, "spec": spec or None, "resolved": resolved, "group": group}


def normalize_python_name(name: str) -> str:
    """PEP 503 normalisation: how pip compares distribution names."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --- Python -------------------------------------------------------------------------------------


def _pinned(requirement: Requirement) -> str | None:
    """`==1.2.3` (no wildcard) pins the version, so the declaration is also the resolution."""
    specs = list(requirement.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def _requirement(text: str, group: str) -> dict[str, Any]:
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise ManifestError(f"invalid requirement {text!r}: {exc}") from exc
    spec = str(requirement.specifier) or (requirement.url if requirement.url else None)
    return dep("pypi", requirement.name, spec, group, _pinned(requirement))


def parse_pyproject(text: str) -> dict[str, Any]:
    """PEP 621 `[project]`, PEP 735 `[dependency-groups]` and Poetry's `[tool.poetry]` tables."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(str(exc)) from exc
    deps: list[dict[str, Any]] = []
    project = data.get("project", {})
    deps.extend(_requirement(r, "runtime") for r in project.get("dependencies", []))
    for extra, reqs in sorted(project.get("optional-dependencies", {}).items()):
        deps.extend(_requirement(r, f"optional:{extra}") for r in reqs)
    for name, reqs in sorted(data.get("dependency-groups", {}).items()):
        deps.extend(_requirement(r, name) for r in reqs if isinstance(r, str))  # skip {include-group}
    poetry = data.get("tool", {}).get("poetry", {})
    tables: list[tuple[str, dict[str, Any]]] = [("runtime", poetry.get("dependencies", {}))]
    tables.append(("dev", poetry.get("dev-dependencies", {})))
    for name, group in sorted(poetry.get("group", {}).items()):
        tables.append((name, group.get("dependencies", {})))
    for group_name, table in tables:
        for name, value in table.items():
            if name.lower() == "python":  # the interpreter constraint, not a package
                continue
            table = value if isinstance(value, dict) else {}
            spec = value if isinstance(value, str) else table.get("version")
            optional = isinstance(value, dict) and value.get("optional") is True
            deps.append(dep("pypi", name, spec, "optional" if optional else group_name))
    return {"ecosystem": "pypi", "dependencies": deps}


def requirements_group(path: str) -> str:
    """requirements.txt is runtime; requirements-dev.txt or requirements/test.txt name their group."""
    pure = PurePosixPath(path)
    stem = pure.stem.lower()
    if pure.parent.name.lower() == "requirements":
        return "runtime" if stem in ("base", "main", "prod", "production", "requirements") else stem
    suffix = re.sub(r"^requirements[-_.]?", "", stem)
    return suffix or "runtime"


def parse_requirements(text: str) -> dict[str, Any]:
    """pip requirement lines; options (-r, -e, --index-url ...) are recorded as written, not followed."""
    deps: list[dict[str, Any]] = []
    options: list[str] = []
    errors: list[str] = []
    logical = re.sub(r"\\\r?\n", "", text)  # pip joins continuation lines first
    for number, raw in enumerate(logical.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith("-"):
            options.append(line)
            continue
        try:
            deps.append(_requirement(line, ""))  # the group comes from the path, in the reduce
        except ManifestError as exc:
            errors.append(f"line {number}: {exc}")
    return {"ecosystem": "pypi", "dependencies": deps, "options": options, "line_errors": errors}


# --- npm ----------------------------------------------------------------------------------------

_NPM_GROUPS = {
    "dependencies": "runtime",
    "devDependencies": "dev",
    "peerDependencies": "peer",
    "optionalDependencies": "optional",
}


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(str(exc)) from exc


def parse_package_json(text: str) -> dict[str, Any]:
    data = _json(text)
    if not isinstance(data, dict):
        raise ManifestError("package.json is not a JSON object")
    deps: list[dict[str, Any]] = []
    for key, group in _NPM_GROUPS.items():
        table = data.get(key) or {}
        if not isinstance(table, dict):
            raise ManifestError(f"{key} is not an object")
        deps.extend(dep("npm", name, str(spec), group) for name, spec in sorted(table.items()))
    main = data.get("main")
    return {"ecosystem": "npm", "dependencies": deps, "main": main if isinstance(main, str) else None}


def parse_package_lock(text: str) -> dict[str, Any]:
    """package-lock.json v2/v3 `packages` (top-level node_modules only), or v1 `dependencies`."""
    data = _json(text)
    if not isinstance(data, dict):
        raise ManifestError("lockfile is not a JSON object")
    by_name: dict[str, list[str]] = {}
    packages = data.get("packages")
    if isinstance(packages, dict):
        for key, info in packages.items():
            top_level = key.startswith("node_modules/") and "/node_modules/" not in key
            if top_level and isinstance(info, dict) and "version" in info:
                by_name[key.removeprefix("node_modules/")] = [str(info["version"])]
    else:
        for name, info in (data.get("dependencies") or {}).items():
            if isinstance(info, dict) and "version" in info:
                by_name[name] = [str(info["version"])]
    return {"ecosystem": "npm", "locked": {"by_name": by_name, "by_spec": {}}}


def _split_descriptor(descriptor: str) -> tuple[str, str]:
    """`@scope/name@^1.0` → (`@scope/name`, `^1.0`); yarn berry's `npm:` protocol is dropped."""
    at = descriptor.rfind("@")
    if at <= 0:
        return descriptor, ""
    return descriptor[:at], descriptor[at + 1 :].removeprefix("npm:")


def parse_yarn_lock(text: str) -> dict[str, Any]:
    """yarn.lock v1 (and the berry YAML shape): `name@range[, name@range2]:` then `version "x"`."""
    by_spec: dict[str, str] = {}
    by_name: dict[str, list[str]] = {}
    descriptors: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            header = line.rstrip().removesuffix(":")
            if header == "__metadata":
                descriptors = []
                continue
            descriptors = [_split_descriptor(part.strip().strip('"')) for part in header.split(",")]
            continue
        match = re.match(r'\s+version:?\s+"?([^"\s]+)"?\s*$', line)
        if match and descriptors:
            version = match.group(1)
            for name, spec in descriptors:
                by_spec[f"{name}@{spec}"] = version
                versions = by_name.setdefault(name, [])
                if version not in versions:
                    versions.append(version)
            descriptors = []
    if text.strip() and not by_spec:
        raise ManifestError("no `name@range:` entries with a version found")
    return {"ecosystem": "npm", "locked": {"by_name": by_name, "by_spec": by_spec}}


def parsers() -> dict[str, Callable[[str], dict[str, Any]]]:
    """Parser for each manifest kind (the native-ecosystem ones live in `manifests_native`)."""
    from warmer.artifacts.dependencies import manifests_native as native

    return {
        "pyproject": parse_pyproject,
        "requirements": parse_requirements,
        "package_json": parse_package_json,
        "package_lock": parse_package_lock,
        "yarn_lock": parse_yarn_lock,
        "go_mod": native.parse_go_mod,
        "cargo_toml": native.parse_cargo_toml,
        "cargo_lock": native.parse_cargo_lock,
        "pom": native.parse_pom,
        "gradle": native.parse_gradle,
    }


def has_parser(kind: str) -> bool:
    return kind in parsers()


def parse_manifest(kind: str, text: str) -> dict[str, Any]:
    """The cacheable extract of one manifest: its dependencies or lock map, or the parser's error."""
    parser = parsers().get(kind)
    if parser is None:
        return {"error": f"{kind} files are not parsed yet"}
    try:
        return parser(text)
    except ManifestError as exc:
        return {"error": str(exc)}

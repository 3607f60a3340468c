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

import yaml
from packaging.requirements import InvalidRequirement, Requirement

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: lockfiles are big


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
    name = data.get("name")
    return {
        "ecosystem": "npm",
        "dependencies": deps,
        "main": main if isinstance(main, str) else None,
        "name": name if isinstance(name, str) else None,
    }


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


def _pnpm_version(value: Any) -> str | None:
    """`18.2.0`, `18.2.0(react@18.2.0)` (v9 peer suffix) or `{version: ...}` → `18.2.0`."""
    if isinstance(value, dict):
        value = value.get("version")
    if not isinstance(value, str | int | float):
        return None
    text = str(value).split("(")[0].split("_")[0]
    return None if text.startswith(("link:", "file:", "workspace:")) else text


def parse_pnpm_lock(text: str) -> dict[str, Any]:
    """pnpm-lock.yaml v5 to v9: each importer's (workspace package's) dependencies with their specifier
    and locked version, and every locked version of each package name."""
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise ManifestError(str(exc).splitlines()[0]) from exc
    if not isinstance(data, dict):
        raise ManifestError("pnpm-lock.yaml is not a mapping")
    importers = data.get("importers") if isinstance(data.get("importers"), dict) else {".": data}
    by_importer: dict[str, dict[str, str]] = {}
    by_name: dict[str, list[str]] = {}
    for directory, importer in importers.items():
        if not isinstance(importer, dict):
            continue
        locked: dict[str, str] = {}
        specifiers = importer.get("specifiers") or {}  # v5 keeps them beside the versions
        for key in ("dependencies", "devDependencies", "optionalDependencies"):
            for name, value in (importer.get(key) or {}).items():
                version = _pnpm_version(value)
                if version:
                    spec = value.get("specifier") if isinstance(value, dict) else specifiers.get(name)
                    locked[f"{name}@{spec}"] = version
                    locked[name] = version
        by_importer["" if directory == "." else str(directory)] = locked
    for key in (data.get("packages") or {}) | (data.get("snapshots") or {}):
        match = re.match(r"^/?((?:@[^/@]+/)?[^/@]+)[@/]([^(_/]+)", str(key))
        if match:
            versions = by_name.setdefault(match.group(1), [])
            if match.group(2) not in versions:
                versions.append(match.group(2))
    return {"ecosystem": "npm", "locked": {"by_name": by_name, "by_spec": {}, "by_importer": by_importer}}


def parsers() -> dict[str, Callable[[str], dict[str, Any]]]:
    """Parser for each manifest kind (the native-ecosystem ones live in `manifests_native`)."""
    from warmer.artifacts.dependencies import gradle, manifests_python, manifests_ruby_php
    from warmer.artifacts.dependencies import manifests_native as native

    return {
        "pyproject": parse_pyproject,
        "requirements": parse_requirements,
        "setup_py": manifests_python.parse_setup_py,
        "setup_cfg": manifests_python.parse_setup_cfg,
        "pipfile": manifests_python.parse_pipfile,
        "pipfile_lock": manifests_python.parse_pipfile_lock,
        "poetry_lock": manifests_python.parse_poetry_lock,
        "uv_lock": manifests_python.parse_uv_lock,
        "package_json": parse_package_json,
        "package_lock": parse_package_lock,
        "yarn_lock": parse_yarn_lock,
        "pnpm_lock": parse_pnpm_lock,
        "go_mod": native.parse_go_mod,
        "go_sum": native.parse_go_sum,
        "cargo_toml": native.parse_cargo_toml,
        "cargo_lock": native.parse_cargo_lock,
        "pom": native.parse_pom,
        "gradle": gradle.parse_gradle,
        "gradle_settings": gradle.parse_gradle_settings,
        "gradle_properties": gradle.parse_gradle_properties,
        "gemfile": manifests_ruby_php.parse_gemfile,
        "gemfile_lock": manifests_ruby_php.parse_gemfile_lock,
        "composer_json": manifests_ruby_php.parse_composer_json,
        "composer_lock": manifests_ruby_php.parse_composer_lock,
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

"""Python manifests beyond pyproject/requirements: setup.py, setup.cfg, Pipfile, and the lockfiles
poetry.lock, uv.lock and Pipfile.lock.

setup.py is a program and is never run: the literal lists and dicts passed to `setup(...)`
(`install_requires`, `extras_require`, `tests_require`, `setup_requires`), or assigned to a name
that is passed there, are read with `ast`. Anything computed at run time is reported as such.
Lockfiles map each package to its locked versions; a name locked at two versions (uv.lock with
per-platform markers) is resolved in the reduce by the declared requirement (`versions.py`).
"""

from __future__ import annotations

import ast
import configparser
import json
import tomllib
from typing import Any

from warmer.artifacts.dependencies.manifests import ManifestError, _requirement, dep, normalize_python_name

_SETUP_GROUPS = {"install_requires": "runtime", "tests_require": "test", "setup_requires": "build"}


def _toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(str(exc)) from exc


def _literal(node: ast.AST | None, names: dict[str, ast.AST]) -> Any:
    if isinstance(node, ast.Name) and node.id in names:
        node = names[node.id]
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _requirements(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list | tuple):
        return []
    return [
        line.split("#")[0].strip() for line in value if isinstance(line, str) and line.split("#")[0].strip()
    ]


def parse_setup_py(text: str) -> dict[str, Any]:
    """Literal requirements of `setup(...)` / `setuptools.setup(...)`; setup.py is not executed."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise ManifestError(f"SyntaxError: {exc.msg} (line {exc.lineno})") from exc
    names: dict[str, ast.AST] = {}
    calls: list[ast.Call] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            names[node.targets[0].id] = node.value
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if name == "setup":
                calls.append(node)
    deps: list[dict[str, Any]] = []
    computed: list[str] = []
    errors: list[str] = []
    for call in calls:
        for keyword in call.keywords:
            if keyword.arg in _SETUP_GROUPS:
                value = _literal(keyword.value, names)
                if value is None:
                    computed.append(keyword.arg)
                for line in _requirements(value):
                    _add(deps, errors, line, _SETUP_GROUPS[keyword.arg])
            elif keyword.arg == "extras_require":
                value = _literal(keyword.value, names)
                if not isinstance(value, dict):
                    computed.append(keyword.arg)
                    continue
                for extra, lines in sorted(value.items()):
                    for line in _requirements(lines):
                        _add(deps, errors, line, f"optional:{extra}")
    result: dict[str, Any] = {"ecosystem": "pypi", "dependencies": deps, "line_errors": errors}
    if computed:
        result["options"] = [f"{name} is computed at run time: not read" for name in sorted(set(computed))]
    return result


def _add(deps: list[dict[str, Any]], errors: list[str], line: str, group: str) -> None:
    try:
        deps.append(_requirement(line, group))
    except ManifestError as exc:
        errors.append(str(exc))


def parse_setup_cfg(text: str) -> dict[str, Any]:
    """`[options] install_requires / tests_require / setup_requires` and `[options.extras_require]`."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise ManifestError(str(exc).splitlines()[0]) from exc
    deps: list[dict[str, Any]] = []
    errors: list[str] = []
    if parser.has_section("options"):
        for key, group in _SETUP_GROUPS.items():
            for line in _requirements(parser.get("options", key, fallback="")):
                _add(deps, errors, line, group)
    if parser.has_section("options.extras_require"):
        for extra, value in sorted(parser.items("options.extras_require")):
            for line in _requirements(value):
                _add(deps, errors, line, f"optional:{extra}")
    return {"ecosystem": "pypi", "dependencies": deps, "line_errors": errors}


def _pipfile_spec(value: Any) -> tuple[str | None, str | None]:
    """(spec, pinned version) of a Pipfile entry: `"*"`, `">=1"`, `{version = "==1.2"}`, `{git = ...}`."""
    spec = value if isinstance(value, str) else value.get("version") if isinstance(value, dict) else None
    if isinstance(value, dict) and spec is None:
        spec = value.get("git") or value.get("path") or value.get("file")
    spec = None if spec in (None, "*") else str(spec)
    pinned = spec[2:] if spec and spec.startswith("==") and "*" not in spec and "," not in spec else None
    return spec, pinned


def parse_pipfile(text: str) -> dict[str, Any]:
    """Pipfile `[packages]` (runtime), `[dev-packages]` (dev) and custom categories (pipenv 2022+)."""
    data = _toml(text)
    deps: list[dict[str, Any]] = []
    for section, table in data.items():
        if section in ("source", "requires", "scripts", "pipenv") or not isinstance(table, dict):
            continue
        group = {"packages": "runtime", "dev-packages": "dev"}.get(section, section)
        for name, value in sorted(table.items()):
            spec, pinned = _pipfile_spec(value)
            deps.append(dep("pypi", name, spec, group, pinned))
    return {"ecosystem": "pypi", "dependencies": deps}


def _locked(by_name: dict[str, list[str]]) -> dict[str, Any]:
    return {"ecosystem": "pypi", "locked": {"by_name": by_name, "by_spec": {}}}


def _packages_lock(text: str) -> dict[str, Any]:
    """poetry.lock and uv.lock: `[[package]]` tables with `name` and `version`, by normalised name."""
    data = _toml(text)
    by_name: dict[str, list[str]] = {}
    for package in data.get("package", []):
        if isinstance(package, dict) and "name" in package and "version" in package:
            versions = by_name.setdefault(normalize_python_name(str(package["name"])), [])
            if str(package["version"]) not in versions:
                versions.append(str(package["version"]))
    return _locked(by_name)


def parse_poetry_lock(text: str) -> dict[str, Any]:
    return _packages_lock(text)


def parse_uv_lock(text: str) -> dict[str, Any]:
    return _packages_lock(text)


def parse_pipfile_lock(text: str) -> dict[str, Any]:
    """Pipfile.lock: `default` and `develop` (and custom categories) map names to `"version": "==x"`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(str(exc)) from exc
    if not isinstance(data, dict):
        raise ManifestError("Pipfile.lock is not a JSON object")
    by_name: dict[str, list[str]] = {}
    for section, table in data.items():
        if section == "_meta" or not isinstance(table, dict):
            continue
        for name, info in table.items():
            version = info.get("version") if isinstance(info, dict) else None
            if isinstance(version, str) and version.startswith("=="):
                versions = by_name.setdefault(normalize_python_name(name), [])
                if version[2:] not in versions:
                    versions.append(version[2:])
    return _locked(by_name)

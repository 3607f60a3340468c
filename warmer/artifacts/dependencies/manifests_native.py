"""Go, Cargo and Maven manifests: go.mod, Cargo.toml + Cargo.lock, pom.xml (Gradle: `gradle.py`).

go.mod has no parser in the standard library; its grammar is line based and
small, so it is read line by line.
"""

from __future__ import annotations

import re
import tomllib
import xml.etree.ElementTree as ET
from typing import Any

from warmer.artifacts.dependencies.manifests import ManifestError, dep

# --- go.mod -------------------------------------------------------------------------------------


def _go_fields(line: str) -> tuple[list[str], bool]:
    """The whitespace-separated fields of a go.mod line and whether it carries `// indirect`."""
    code, _, comment = line.partition("//")
    return code.split(), comment.strip() == "indirect"


def parse_go_mod(text: str) -> dict[str, Any]:
    """`require` (single and block, `// indirect`) and `replace`; go.mod versions are the selected ones."""
    deps: list[dict[str, Any]] = []
    replaces: dict[str, str] = {}
    module: str | None = None
    block: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        fields, indirect = _go_fields(raw)
        if not fields:
            continue
        if block is not None:
            if fields == [")"]:
                block = None
                continue
            directive, args = block, fields
        else:
            directive, args = fields[0], fields[1:]
            if args == ["("]:
                block = directive
                continue
        if directive == "require":
            if len(args) != 2:
                raise ManifestError(f"line {number}: expected `module version`, got {raw.strip()!r}")
            deps.append(dep("go", args[0], args[1], "indirect" if indirect else "runtime", args[1]))
        elif directive == "replace":
            if "=>" not in args:
                raise ManifestError(f"line {number}: replace without `=>`: {raw.strip()!r}")
            arrow = args.index("=>")
            replaces[args[0]] = " ".join(args[arrow + 1 :])
        elif directive == "module" and args:
            module = args[0].strip('"')
    for item in deps:
        if item["name"] in replaces:
            item["replace"] = replaces[item["name"]]
    return {"ecosystem": "go", "dependencies": deps, "replaces": replaces, "module": module}


def parse_go_sum(text: str) -> dict[str, Any]:
    """go.sum: `module version[/go.mod] hash` lines; every version of each module whose content is summed."""
    by_name: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise ManifestError(f"line {number}: expected `module version hash`, got {line.strip()!r}")
        module, version = fields[0], fields[1]
        if not version.endswith("/go.mod") and version not in by_name.setdefault(module, []):
            by_name[module].append(version)
    return {"ecosystem": "go", "locked": {"by_name": by_name, "by_spec": {}}}


# --- Cargo --------------------------------------------------------------------------------------

_CARGO_GROUPS = {"dependencies": "runtime", "dev-dependencies": "dev", "build-dependencies": "build"}


def _cargo_table(table: Any, group: str) -> list[dict[str, Any]]:
    if not isinstance(table, dict):
        raise ManifestError(f"[{group}] dependencies is not a table")
    deps = []
    for key, value in sorted(table.items()):
        if isinstance(value, str):
            deps.append(dep("cargo", key, value, group))
        elif isinstance(value, dict):
            name = value.get("package", key)  # `alias = { package = "real-name" }`
            item = dep("cargo", name, value.get("version"), "optional" if value.get("optional") else group)
            deps.append(item)
        else:
            raise ManifestError(f"dependency {key!r} is neither a version string nor a table")
    return deps


def parse_cargo_toml(text: str) -> dict[str, Any]:
    """[dependencies], [dev-dependencies], [build-dependencies], their [target.*] forms, workspace deps."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(str(exc)) from exc
    deps: list[dict[str, Any]] = []
    for key, group in _CARGO_GROUPS.items():
        deps.extend(_cargo_table(data.get(key, {}), group))
    for _target, tables in sorted(data.get("target", {}).items()):
        for key, group in _CARGO_GROUPS.items():
            deps.extend(_cargo_table(tables.get(key, {}), group))
    deps.extend(_cargo_table(data.get("workspace", {}).get("dependencies", {}), "workspace"))
    return {"ecosystem": "cargo", "dependencies": deps, "crate": _crate_layout(data)}


def _code_name(key: str) -> str:
    """How Rust code names a dependency: its key in Cargo.toml with `-` as `_`."""
    return key.replace("-", "_")


def _crate_layout(data: dict[str, Any]) -> dict[str, Any]:
    """What the Rust import graph needs from a manifest: names, edition, target roots, local crates."""
    package = data.get("package") if isinstance(data.get("package"), dict) else {}
    workspace = data.get("workspace") if isinstance(data.get("workspace"), dict) else {}
    lib = data.get("lib") if isinstance(data.get("lib"), dict) else {}
    tables: list[dict[str, Any]] = [data.get(k) or {} for k in _CARGO_GROUPS]
    for target in (data.get("target") or {}).values():
        tables.extend(target.get(k) or {} for k in _CARGO_GROUPS if isinstance(target, dict))
    names: set[str] = set()
    paths: dict[str, str] = {}
    inherited: list[str] = []
    for table in tables:
        for key, value in table.items() if isinstance(table, dict) else []:
            names.add(_code_name(key))
            if isinstance(value, dict) and isinstance(value.get("path"), str):
                paths[_code_name(key)] = value["path"]
            elif isinstance(value, dict) and value.get("workspace") is True:
                inherited.append(key)
    workspace_paths = {
        key: value["path"]
        for key, value in (workspace.get("dependencies") or {}).items()
        if isinstance(value, dict) and isinstance(value.get("path"), str)
    }
    targets = [
        t["path"]
        for kind in ("bin", "test", "example", "bench")
        for t in data.get(kind) or []
        if isinstance(t, dict) and isinstance(t.get("path"), str)
    ]
    if isinstance(package.get("build"), str):
        targets.append(package["build"])
    edition = package.get("edition", "2015")
    workspace_package = workspace.get("package") if isinstance(workspace.get("package"), dict) else {}
    return {
        "name": package.get("name") if isinstance(package.get("name"), str) else None,
        "edition": edition if isinstance(edition, str) else "workspace",  # `edition.workspace = true`
        "lib_name": lib.get("name") if isinstance(lib.get("name"), str) else None,
        "lib_path": lib.get("path") if isinstance(lib.get("path"), str) else None,
        "target_paths": sorted(targets),
        "dependency_names": sorted(names),
        "path_dependencies": dict(sorted(paths.items())),
        "workspace_dependencies": sorted(inherited),
        "workspace_members": [m for m in workspace.get("members") or [] if isinstance(m, str)],
        "workspace_exclude": [m for m in workspace.get("exclude") or [] if isinstance(m, str)],
        "workspace_paths": {_code_name(k): v for k, v in sorted(workspace_paths.items())},
        "workspace_edition": workspace_package.get("edition"),
    }


def parse_cargo_lock(text: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(str(exc)) from exc
    by_name: dict[str, list[str]] = {}
    for package in data.get("package", []):
        if "name" in package and "version" in package:
            by_name.setdefault(package["name"], []).append(package["version"])
    return {"ecosystem": "cargo", "locked": {"by_name": by_name, "by_spec": {}}}


# --- Maven --------------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _child_text(element: ET.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


def _children(element: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if element is None else [c for c in element if _local(c.tag) == name]


def _substitute(value: str | None, properties: dict[str, str]) -> str | None:
    """`${name}` from <properties> (and project.version), repeated for properties that refer to others."""
    if value is None:
        return None
    for _ in range(10):
        new = re.sub(r"\$\{([^}]+)\}", lambda m: properties.get(m.group(1), m.group(0)), value)
        if new == value:
            break
        value = new
    return value


_MAVEN_SCOPES = {"compile": "runtime", "runtime": "runtime", "test": "test", "provided": "provided"}


def parse_pom(text: str) -> dict[str, Any]:
    """<dependencies> and <dependencyManagement> with groupId:artifactId, version, scope, ${properties}."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ManifestError(str(exc)) from exc
    properties: dict[str, str] = {}
    for holder in _children(root, "properties"):
        for prop in holder:
            properties[_local(prop.tag)] = (prop.text or "").strip()
    for key in ("version", "groupId", "artifactId"):
        value = _child_text(root, key)
        if value is not None:
            properties[f"project.{key}"] = value
    parent = next(iter(_children(root, "parent")), None)
    if parent is not None and _child_text(parent, "version"):
        properties.setdefault("project.version", _child_text(parent, "version") or "")
        properties["project.parent.version"] = _child_text(parent, "version") or ""
    sections = [(root, False)] + [(m, True) for m in _children(root, "dependencyManagement")]
    deps: list[dict[str, Any]] = []
    for section, managed in sections:
        for holder in _children(section, "dependencies"):
            for element in _children(holder, "dependency"):
                group_id = _substitute(_child_text(element, "groupId"), properties)
                artifact = _substitute(_child_text(element, "artifactId"), properties)
                if not group_id or not artifact:
                    raise ManifestError("a <dependency> without groupId or artifactId")
                version = _substitute(_child_text(element, "version"), properties)
                scope = _child_text(element, "scope") or "compile"
                group = "managed" if managed else _MAVEN_SCOPES.get(scope, scope)
                if _child_text(element, "optional") == "true":
                    group = "optional"
                deps.append(dep("maven", f"{group_id}:{artifact}", version, group))
    return {"ecosystem": "maven", "dependencies": deps}

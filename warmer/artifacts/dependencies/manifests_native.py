"""Go, Cargo and Maven/Gradle manifests: go.mod, Cargo.toml + Cargo.lock, pom.xml, build.gradle(.kts).

go.mod has no parser in the standard library; its grammar is line based and
small, so it is read line by line. Gradle build scripts are programs: only the
string-notation and map-notation dependency declarations are recognised.
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
    for item in deps:
        if item["name"] in replaces:
            item["replace"] = replaces[item["name"]]
    return {"ecosystem": "go", "dependencies": deps, "replaces": replaces}


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
    return {"ecosystem": "cargo", "dependencies": deps}


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


# --- Gradle -------------------------------------------------------------------------------------

_CONFIGURATION = (
    r"(?P<conf>(?:[a-z]\w*?)?(?:[Ii]mplementation|[Aa]pi|[Cc]ompileOnly|[Rr]untimeOnly|[Cc]ompile|[Rr]untime"
    r"|[Aa]nnotationProcessor)|kapt|ksp|classpath)"
)
_STRING_NOTATION = re.compile(
    rf"^\s*{_CONFIGURATION}\s*\(?\s*(?:(?:enforcedPlatform|platform)\s*\(\s*)?"
    r"(?P<q>['\"])(?P<coord>[^'\"\s:]+:[^'\"\s:]+(?::[^'\"\s]*)?)(?P=q)",
    re.MULTILINE,
)
_MAP_NOTATION = re.compile(
    rf"^\s*{_CONFIGURATION}\s*\(?\s*group\s*[:=]\s*['\"](?P<group>[^'\"]+)['\"]\s*,\s*"
    r"name\s*[:=]\s*['\"](?P<name>[^'\"]+)['\"]"
    r"(?:\s*,\s*version\s*[:=]\s*['\"](?P<version>[^'\"]+)['\"])?",
    re.MULTILINE,
)


def _gradle_group(configuration: str) -> str:
    lower = configuration.lower()
    if lower.startswith("test") or lower.startswith("androidtest"):
        return "test"
    if lower in ("classpath", "kapt", "ksp") or lower.endswith("annotationprocessor"):
        return "build"
    if lower.endswith("compileonly"):
        return "provided"
    return "runtime"


def parse_gradle(text: str) -> dict[str, Any]:
    """`conf "g:a:v"`, `conf("g:a:v")`, `conf(platform("g:a:v"))` and `conf group: 'g', name: 'a', ...`.

    Versions interpolated from Gradle variables (`$ver`, version catalogs) are kept as written.
    """
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    text = re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE)
    found: list[tuple[int, dict[str, Any]]] = []
    for match in _STRING_NOTATION.finditer(text):
        parts = match.group("coord").split(":")
        version = parts[2] if len(parts) > 2 and parts[2] else None
        item = dep("maven", f"{parts[0]}:{parts[1]}", version, _gradle_group(match.group("conf")))
        found.append((match.start(), item))
    for match in _MAP_NOTATION.finditer(text):
        name = f"{match.group('group')}:{match.group('name')}"
        found.append(
            (match.start(), dep("maven", name, match.group("version"), _gradle_group(match["conf"])))
        )
    return {"ecosystem": "maven", "dependencies": [item for _, item in sorted(found, key=lambda f: f[0])]}

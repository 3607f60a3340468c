"""Gradle: build.gradle(.kts) dependency declarations, `ext` variables, gradle.properties, settings.gradle.

Build scripts are programs (Groovy or Kotlin); the declarations recognised are the ones Gradle's
documentation writes, in any configuration (`implementation`, `api`, `developmentOnly`,
`testFixturesApi`, a custom one): string notation `conf "g:a:v"` / `conf("g:a:v")`, platforms
`conf(platform("g:a:v"))` and map notation `conf group: 'g', name: 'a', version: 'v'`, inside a
`dependencies { }` block. Versions written as `$name`, `${name}` or `${rootProject.ext.name}` are
kept as written by the extract and substituted in the reduce from the script's own `ext`
variables (`ext.name = 'v'`, `ext { name = 'v' }`, Kotlin's `val name by extra("v")` and
`extra["name"] = "v"`), the parent projects' and gradle.properties.
"""

from __future__ import annotations

import re
from typing import Any

from warmer.artifacts.dependencies.manifests import dep
from warmer.artifacts.dependencies.source_text import without_comments

_STRING_NOTATION = re.compile(
    r"^\s*(?P<conf>[a-z]\w*)\s*\(?\s*(?:(?:enforcedPlatform|platform|testFixtures)\s*\(\s*)?"
    r"(?P<q>['\"])(?P<coord>[^'\"\s:]+:[^'\"\s:]+(?::[^'\"\s]*)?)(?P=q)",
    re.MULTILINE,
)
_MAP_NOTATION = re.compile(
    r"^\s*(?P<conf>[a-z]\w*)\s*\(?\s*group\s*[:=]\s*['\"](?P<group>[^'\"]+)['\"]\s*,\s*"
    r"name\s*[:=]\s*['\"](?P<name>[^'\"]+)['\"]"
    r"(?:\s*,\s*version\s*[:=]\s*['\"](?P<version>[^'\"]+)['\"])?",
    re.MULTILINE,
)
_DEPENDENCIES_BLOCK = re.compile(r"\bdependencies\s*\{")
# `ext.x = 'v'`, `ext["x"] = 'v'`, `project.ext.x = 'v'`, `extra["x"] = "v"`, `set("x", "v")` in ext.
_EXT_ASSIGN = re.compile(
    r"""(?:\b(?:project\.|rootProject\.)?ext(?:ra)?\s*(?:\.\s*(?P<a>\w+)|\[\s*['"](?P<b>[\w.-]+)['"]\s*\])"""
    r"""|\bset\s*\(\s*['"](?P<c>[\w.-]+)['"]\s*,)\s*=?\s*['"](?P<v>[^'"$]+)['"]"""
)
_EXT_BLOCK = re.compile(r"\bext\s*\{")
_BLOCK_ASSIGN = re.compile(r"""^\s*(?:def\s+)?(?P<k>\w+)\s*=\s*['"](?P<v>[^'"$]+)['"]""", re.MULTILINE)
_KOTLIN_EXTRA = re.compile(r"""\bval\s+(?P<k>\w+)\s+by\s+extra\s*\(\s*['"](?P<v>[^'"$]+)['"]\s*\)""")
_VARIABLE = re.compile(r"\$\{\s*(?:(?:rootProject|project)\.)?(?:ext(?:ra)?\.)?([\w.]+)\s*\}|\$(\w+)")


def _blocks(text: str, opener: re.Pattern[str]) -> list[str]:
    """The bodies of every `name {` block (balanced braces)."""
    bodies = []
    for match in opener.finditer(text):
        depth, start = 1, match.end()
        for position in range(start, len(text)):
            if text[position] == "{":
                depth += 1
            elif text[position] == "}":
                depth -= 1
                if depth == 0:
                    bodies.append(text[start:position])
                    break
    return bodies


def gradle_group(configuration: str) -> str:
    """The dependency group a configuration stands for."""
    lower = configuration.lower()
    if lower.endswith("developmentonly"):  # Spring Boot's developmentOnly, testAndDevelopmentOnly
        return "dev"
    if lower.startswith(("test", "androidtest", "integrationtest")):
        return "test"
    if lower in ("classpath", "kapt", "ksp") or lower.endswith("annotationprocessor"):
        return "build"
    if lower.endswith("compileonly"):
        return "provided"
    return "runtime"


def variables_of(text: str) -> dict[str, str]:
    """`ext` / `extra` variables a script assigns string values to."""
    found: dict[str, str] = {}
    for match in _EXT_ASSIGN.finditer(text):
        found[match.group("a") or match.group("b") or match.group("c")] = match.group("v")
    for body in _blocks(text, _EXT_BLOCK):
        for match in _BLOCK_ASSIGN.finditer(body):
            found.setdefault(match.group("k"), match.group("v"))
    for match in _KOTLIN_EXTRA.finditer(text):
        found[match.group("k")] = match.group("v")
    return dict(sorted(found.items()))


def parse_gradle(text: str) -> dict[str, Any]:
    """Declarations in `dependencies { }` blocks, each with its configuration; `ext` variables."""
    code = without_comments(text)
    found: list[tuple[int, dict[str, Any]]] = []
    for offset, body in enumerate(_blocks(code, _DEPENDENCIES_BLOCK), 1):
        for match in _STRING_NOTATION.finditer(body):
            configuration = match.group("conf")
            parts = match.group("coord").split(":")
            version = parts[2] if len(parts) > 2 and parts[2] else None
            item = dep("maven", f"{parts[0]}:{parts[1]}", version, gradle_group(configuration))
            found.append((offset * 10**7 + match.start(), {**item, "configuration": configuration}))
        for match in _MAP_NOTATION.finditer(body):
            configuration = match.group("conf")
            name = f"{match.group('group')}:{match.group('name')}"
            item = dep("maven", name, match.group("version"), gradle_group(configuration))
            found.append((offset * 10**7 + match.start(), {**item, "configuration": configuration}))
    ordered = [item for _, item in sorted(found, key=lambda f: f[0])]
    unique = list({(d["name"], d["configuration"], d["spec"]): d for d in ordered}.values())
    return {"ecosystem": "maven", "dependencies": unique, "variables": variables_of(code)}


def substitute_gradle(spec: str, variables: dict[str, str]) -> str:
    """`$x`, `${x}` and `${rootProject.ext.x}` replaced by the variable's value where it is known."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, variables.get(name.rsplit(".", 1)[-1], match.group(0)))

    return _VARIABLE.sub(value, spec)


def parse_gradle_properties(text: str) -> dict[str, Any]:
    """gradle.properties: Java properties `key=value` / `key: value` (versions shared by the build)."""
    properties: dict[str, str] = {}
    for raw in re.sub(r"\\\r?\n\s*", "", text).splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        match = re.match(r"^([^=:\s]+)\s*[=:\s]\s*(.*)$", line)
        if match:
            properties[match.group(1)] = match.group(2).strip()
    return {"ecosystem": "maven", "properties": properties}


def parse_gradle_settings(text: str) -> dict[str, Any]:
    """settings.gradle: the root project's name and the subprojects it `include`s (no dependencies)."""
    code = without_comments(text)
    projects: set[str] = set()
    for call in re.finditer(r"\binclude\s*\(?([^\n)]*)", code):
        projects.update(p.strip(":") for p in re.findall(r"['\"]([^'\"]+)['\"]", call.group(1)))
    name = re.search(r"rootProject\.name\s*=\s*['\"]([^'\"]+)['\"]", code)
    return {
        "ecosystem": "maven",
        "dependencies": [],
        "projects": sorted(projects),
        "root_project": name.group(1) if name else None,
    }

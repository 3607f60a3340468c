"""The per-path half of file_summary: which files are key, what role each plays, and the summary text.

Roles are explicit rules, checked in order, over the path (directory and file name, via the same
tests the commit trigger uses) and the blob's facts (routes, symbols, content markers). The first
rule that matches wins, so the order is the policy: a generated file is generated whatever else it
looks like, a test that starts a server is still a test, a module with routes is a route handler
even when it also defines models.

The summary is written by a `Summarizer`. Only the deterministic one exists; an LLM-backed one can
implement the same protocol later and fall back to this one.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Protocol

from warmer.artifacts.classify import (
    is_ci_config,
    is_generated,
    is_lockfile,
    is_manifest,
    is_migration,
    is_source,
    is_test_file,
    is_vendored,
)
from warmer.artifacts.file_summary.facts import MARKUP_KIND, TEXT_KIND
from warmer.artifacts.languages import language_of
from warmer.artifacts.symbols.extract import symbol_language

ROLES = (
    "entry_point", "test", "config", "manifest", "ci", "model", "route_handler", "cli", "migration",
    "docs", "build", "library", "script", "generated", "data",
)  # fmt: skip

_MARKUP_EXTENSIONS = frozenset({".md", ".markdown", ".rst", ".txt", ".adoc"})
_CONFIG_EXTENSIONS = frozenset({".toml", ".ini", ".cfg", ".yaml", ".yml", ".json", ".env", ".conf"})
_CONFIG_NAMES = frozenset(
    {"settings.py", "config.py", "conf.py", "configuration.py", ".editorconfig", ".env.example",
     ".pre-commit-config.yaml", "ruff.toml", "mypy.ini", ".flake8", "tsconfig.json", ".eslintrc.json"}
)  # fmt: skip
_BUILD_NAMES = frozenset(
    {"Dockerfile", "Makefile", "CMakeLists.txt", "build.rs", "Justfile", "justfile", "Rakefile",
     "meson.build", "BUILD", "BUILD.bazel", "WORKSPACE", "Containerfile", "docker-compose.yml",
     "docker-compose.yaml", "compose.yaml"}
)  # fmt: skip
_BUILD_PREFIXES = ("webpack.config.", "vite.config.", "rollup.config.", "esbuild.", "babel.config.")
_DOC_DIRS = frozenset({"docs", "doc", "documentation"})
# Top-level folders beside a project's own code: read less often than the code itself.
_PERIPHERAL_DIRS = _DOC_DIRS | {"examples", "example", "samples", "benchmarks", "bench", "benches", "scripts"}
_SCRIPT_DIRS = frozenset({"scripts", "script", "bin", "tools"})
_MIGRATION_DIRS = frozenset({"migrations", "migration", "versions", "alembic"})
_MODEL_NAMES = frozenset({"models.py", "model.py", "schema.py", "entities.py"})
_DATA_EXTENSIONS = frozenset({".csv", ".tsv", ".sql", ".xml", ".jsonl", ".ndjson", ".parquet"})
# Entry points by name alone: files a tool runs by that name. `app.py` and `main.py` of a library are
# modules like any other; they are entry points when they have a `__main__` guard (or `package main`
# with `func main`, or a shebang under bin/), which the markers say.
_ENTRY_NAMES = frozenset({"__main__.py", "manage.py", "wsgi.py", "asgi.py"})


def extract_kind(path: str) -> str:
    """How a file is read: its symbol grammar, prose (markup), or plain text."""
    grammar = symbol_language(path)
    if grammar is not None:
        return grammar
    return MARKUP_KIND if PurePosixPath(path).suffix.lower() in _MARKUP_EXTENSIONS else TEXT_KIND


def is_key_file(path: str) -> bool:
    """Whether connect summarizes this file: source code, or README/manifest/config at the top, or CI."""
    pure = PurePosixPath(path)
    if is_vendored(path):
        return False
    if is_source(path):
        return True
    if is_ci_config(path):
        return True
    if len(pure.parts) != 1 or is_lockfile(path):
        return False
    name = pure.name
    return (
        name.upper().startswith("README")
        or is_manifest(path)
        or name in _CONFIG_NAMES
        or name in _BUILD_NAMES
        or pure.suffix.lower() in _CONFIG_EXTENSIONS
    )


def key_file_priority(path: str) -> tuple[int, int, str]:
    """Which key files a capped connect keeps first: top-level files and CI, then the project's own
    source, then tests, docs and examples, then generated files and migrations; shallow first within
    each, by path. On Django the cap used to fill with 1,606 files under tests/ while 511 of the 885
    django/*.py modules, the ones agents ask about, got no summary."""
    parts = PurePosixPath(path).parts
    depth = len(parts)
    peripheral = depth > 1 and parts[0] in _PERIPHERAL_DIRS
    if depth == 1 or (is_ci_config(path) and not is_test_file(path) and not peripheral):
        rank = 0
    elif is_generated(path) or is_migration(path):
        rank = 3
    elif is_test_file(path) or peripheral:  # test folders' helpers and fixtures too
        rank = 2
    else:
        rank = 1
    return (rank, depth, path)


def role_of(path: str, facts: dict[str, Any]) -> str:
    """The file's role: the first explicit rule (path, name, symbols, routes, markers) that matches."""
    pure = PurePosixPath(path)
    name, suffix = pure.name, pure.suffix.lower()
    dirs = set(pure.parts[:-1])
    markers = set(facts.get("markers", []))
    code = symbol_language(path) is not None or is_source(path)
    if "generated" in markers or name.endswith((".pb.go", "_pb2.py", ".min.js", ".generated.ts")):
        return "generated"
    if name == "conftest.py" or is_test_file(path):
        return "test"
    if is_manifest(path):
        return "manifest"
    if is_ci_config(path):
        return "ci"
    if markers & {"alembic_migration", "django_migration"} or (code and dirs & _MIGRATION_DIRS):
        return "migration"
    if name.upper().startswith(("README", "CHANGELOG", "CONTRIBUTING", "LICENSE")) or (
        not code and (suffix in _MARKUP_EXTENSIONS or dirs & _DOC_DIRS)
    ):
        return "docs"
    if name in _BUILD_NAMES or name.startswith(_BUILD_PREFIXES):
        return "build"
    if name in _CONFIG_NAMES or suffix in _CONFIG_EXTENSIONS:
        return "config"
    if facts.get("routes", 0) > 0 or "flask_route" in markers:
        return "route_handler"
    if markers & {"django_model", "sqlalchemy_model"} or (name in _MODEL_NAMES and facts.get("main_symbols")):
        return "model"
    if (
        markers & {"main_guard", "go_main"}
        or name in _ENTRY_NAMES
        or ("shebang" in markers and "bin" in dirs)
    ):
        return "entry_point"
    if "cli" in markers or pure.stem in ("cli", "commands"):
        return "cli"
    if "shebang" in markers or dirs & _SCRIPT_DIRS or suffix in (".sh", ".bash", ".ps1"):
        return "script"
    if suffix in _DATA_EXTENSIONS or not code:
        return "data"
    return "library"


class Summarizer(Protocol):
    """Writes the 1-3 sentence summary of a file from its facts (path, role, purpose, symbols, routes)."""

    def summarize(self, facts: dict[str, Any]) -> str: ...


_ROLE_PHRASES = {
    "entry_point": "Entry point",
    "test": "Tests",
    "config": "Configuration",
    "manifest": "Package manifest",
    "ci": "CI configuration",
    "model": "Data models",
    "route_handler": "Route handlers",
    "cli": "Command-line interface",
    "migration": "Database migration",
    "docs": "Documentation",
    "build": "Build configuration",
    "library": "Library module",
    "script": "Script",
    "generated": "Generated code",
    "data": "Data file",
}
_FRAMEWORK_NAMES = {"fastapi": "FastAPI", "django": "Django", "flask": "Flask", "express": "Express"}
_NAMES_SHOWN = 3
_NOT_TESTED_ROLES = frozenset({"test", "docs", "manifest", "ci", "config", "build", "data", "generated"})
# kind → (singular, plural) in a summary: an interface is an interface, a type alias is not a class.
_KIND_WORDS = {
    "class": ("class", "classes"), "interface": ("interface", "interfaces"), "struct": ("struct", "structs"),
    "enum": ("enum", "enums"), "trait": ("trait", "traits"), "type": ("type", "types"),
    "function": ("function", "functions"), "union": ("union", "unions"), "record": ("record", "records"),
}  # fmt: skip


def _names(items: list[str]) -> str:
    shown = items[:_NAMES_SHOWN]
    more = len(items) - len(shown)
    text = ", ".join(shown)
    return f"{text} and {more} more" if more else text


class DeterministicSummarizer:
    """Builds the summary from the facts alone: same facts, same text, no model and no network."""

    def summarize(self, facts: dict[str, Any]) -> str:
        phrase = _ROLE_PHRASES[facts["role"]]
        frameworks = [_FRAMEWORK_NAMES.get(f, f.capitalize()) for f in facts.get("frameworks", [])]
        if frameworks:
            phrase += f" ({', '.join(frameworks)})"
        routes = facts.get("routes", 0)
        if routes:
            first = f"{phrase}: {routes} route{'s' if routes != 1 else ''}."
        else:
            language = facts.get("language")
            detail = ", ".join(x for x in (language, f"{facts['lines']} lines") if x)
            first = f"{phrase} ({detail})."
        sentences = [first]
        purpose = facts.get("purpose")
        if purpose:
            sentences.append(f"Purpose: {purpose}" + ("" if purpose[-1] in ".!?…" else "."))
        by_kind: dict[str, list[str]] = {}
        for symbol in facts.get("main_symbols", []):
            by_kind.setdefault(symbol["kind"], []).append(symbol["name"])
        parts = [
            f"{_KIND_WORDS.get(kind, (kind, kind + 's'))[len(names) != 1]} {_names(names)}"
            for kind, names in by_kind.items()
        ]
        if parts:
            sentences.append(f"Defines {', '.join(parts)}.")
        users = facts.get("imported_by") or []
        if users:
            count = facts.get("imported_by_count", len(users))
            more = count - min(len(users), _NAMES_SHOWN)
            shown = ", ".join(users[:_NAMES_SHOWN]) + (f" and {more} more" if more > 0 else "")
            sentences.append(f"Imported by {count} file{'s' if count != 1 else ''} ({shown}).")
        tests = facts.get("tested_by") or []
        if tests:
            sentences.append(f"Tested by {_names(tests)}.")
        elif facts.get("imported_by") is not None and facts.get("role") not in _NOT_TESTED_ROLES:
            sentences.append("No test reaches it through imports.")
        return " ".join(sentences)


def language_label(path: str, kind: str) -> str | None:
    """The language recorded in the entry: the grammar when there is one, else the name-based guess."""
    return kind if kind not in (TEXT_KIND, MARKUP_KIND) else language_of(path)

"""Test ↔ source by file name alone: each ecosystem's convention, computed from paths (no content read).

A test file names its subject (`test_core.py`, `core_test.go`, `core.spec.ts`,
`CoreTest.java`, `core_spec.rb`); candidates are the source files with that stem
in the same language family. Directories decide between candidates: the same
directory wins, then a mirror once layout words (`tests`, `src`, `main/java`,
`spec`, `lib`, `app`, ...) are dropped, then a flat test directory next to a
single candidate. Go links only within one package directory, as `go test` does.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath

from warmer.artifacts.classify import is_test_file

_JS_EXT = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_FAMILY = {
    ".py": "python",
    ".go": "go",
    ".java": "jvm",
    ".kt": "jvm",
    ".scala": "jvm",
    ".rb": "ruby",
    **{ext: "js" for ext in _JS_EXT},
}
# Directory names that only say "this is a test/source tree", dropped before comparing layouts.
_LAYOUT_DIRS = frozenset(
    {"test", "tests", "__tests__", "spec", "specs", "testing", "src", "lib", "app", "main", "java",
     "kotlin", "scala", "unit", "unittest", "unittests", "integration"}
)  # fmt: skip
_PY_TEST = re.compile(r"^(?:test_(?P<a>.+)|(?P<b>.+)_test)\.py$")
_GO_TEST = re.compile(r"^(?P<a>.+)_test\.go$")
_JS_TEST = re.compile(r"^(?P<a>.+)\.(?:test|spec)\.[cm]?[jt]sx?$")
_JVM_TEST = re.compile(r"^(?:(?P<a>.+?)(?:Tests?|TestCase|IT)|Test(?P<b>[A-Z].*))\.(?:java|kt|scala)$")
_RB_TEST = re.compile(r"^(?P<a>.+)_(?:spec|test)\.rb$")
_JS_SOURCE = re.compile(r"\.[cm]?[jt]sx?$")


@dataclass(frozen=True)
class TestName:
    """What a test file's name says: the ecosystem, and the stem of the file it tests."""

    __test__ = False  # not a pytest class, whatever the module is imported as
    family: str
    subject: str


def family_of(path: str) -> str | None:
    name = PurePosixPath(path).name
    if name.endswith(".d.ts"):
        return None
    return _FAMILY.get(PurePosixPath(path).suffix)


def test_name(path: str) -> TestName | None:
    """The test a path is by its ecosystem's naming convention, or None for sources and test helpers."""
    pure = PurePosixPath(path)
    name = pure.name
    for family, pattern in (
        ("python", _PY_TEST),
        ("go", _GO_TEST),
        ("js", _JS_TEST),
        ("jvm", _JVM_TEST),
        ("ruby", _RB_TEST),
    ):
        match = pattern.match(name)
        if match and (family != "jvm" or is_test_file(path)):
            return TestName(family, match.group("a") or match.group("b"))
    if "__tests__" in pure.parts[:-1] and _JS_SOURCE.search(name) and not name.endswith(".d.ts"):
        return TestName("js", _JS_SOURCE.sub("", name))
    return None


def source_stem(path: str) -> str:
    """The name a test would use for this source: `core` for `core.py`, the package for `__init__.py`."""
    pure = PurePosixPath(path)
    if pure.name in ("__init__.py", "index.ts", "index.js", "index.tsx", "index.jsx"):
        return pure.parent.name
    return _JS_SOURCE.sub("", pure.name) if family_of(path) == "js" else pure.stem


def _layout(path: str) -> tuple[str, ...]:
    return tuple(p for p in PurePosixPath(path).parent.parts if p not in _LAYOUT_DIRS)


def _dir(path: str) -> str:
    parent = str(PurePosixPath(path).parent)
    return "" if parent == "." else parent


def _common_prefix(a: str, b: str) -> int:
    count = 0
    for x, y in zip(PurePosixPath(a).parts, PurePosixPath(b).parts, strict=False):
        if x != y:
            break
        count += 1
    return count


class NameIndex:
    """Source files by (family, stem), to answer "which file does this test's name point at"."""

    def __init__(self, sources: list[str]) -> None:
        self.by_stem: dict[tuple[str, str], list[str]] = defaultdict(list)
        for path in sorted(sources):
            family = family_of(path)
            if family:
                self.by_stem[(family, source_stem(path))].append(path)

    def subjects(self, test: str, name: TestName) -> list[str]:
        """The source files this test's name links to; an ambiguous name with no layout hint links none."""
        candidates = self.by_stem.get((name.family, name.subject), [])
        if name.family == "go":
            return [c for c in candidates if _dir(c) == _dir(test)]
        test_dir = _dir(test)
        if PurePosixPath(test_dir).name == "__tests__":
            test_dir = _dir(test_dir)
        layout = _layout(test)
        scored: list[tuple[tuple[int, int, int, int], str]] = []
        for candidate in candidates:
            theirs = _layout(candidate)
            related = (
                theirs[len(theirs) - len(layout) :] == layout or layout[len(layout) - len(theirs) :] == theirs
            )
            score = (
                int(_dir(candidate) == test_dir),
                int(theirs == layout),
                int(related),
                _common_prefix(_dir(candidate), test_dir),
            )
            scored.append((score, candidate))
        if not scored:
            return []
        best = max(score for score, _ in scored)
        winners = sorted(c for score, c in scored if score == best)
        if len(winners) > 1 and best[:2] == (0, 0):  # e.g. a flat tests/test_utils.py and two utils.py
            return []
        if best[:3] == (0, 0, 0) and len(scored) > 1:
            return []
        return winners


def naming_reason(test: str, source: str) -> str:
    return f"naming: {PurePosixPath(test).name} ↔ {PurePosixPath(source).name}"

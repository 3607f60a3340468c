"""test_map: which test files exercise which source files, and why each link is believed.

Two kinds of evidence. Naming (`naming.py`): each ecosystem's convention read
from paths alone. Imports: a Python or JS/TS test file importing a module of
the repository, found with the dependency_graph's extractors and resolvers; the
extract is per blob and cached under the same kinds (`python`, `js`), so a blob
dependency_graph already read costs nothing here. Only test files are read.
A link with both kinds of evidence is `high` confidence, one kind `medium`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from warmer.artifacts.base import ArtifactResult, Entry, GenerationContext, whole_repository_header
from warmer.artifacts.classify import is_source, is_test_file
from warmer.artifacts.dependencies import extract
from warmer.artifacts.dependencies.js_imports import resolve_relative
from warmer.artifacts.dependencies.python_imports import ModuleIndex, resolve_python
from warmer.artifacts.extracting import extract_files
from warmer.artifacts.relevance import PATH_ONLY, ReadBlob, Refresh, whole_refresh
from warmer.artifacts.test_map.naming import NameIndex, TestName, naming_reason, test_name
from warmer.git.diff import PathChange

DEFAULT_MAX_FILE_BYTES = 2_000_000
UNTESTED_CAP = 500
# Not code under test: build and test-runner configuration that happens to be written in a code language.
_NOT_SUBJECTS = frozenset({"conftest.py", "setup.py", "noxfile.py", "__main__.py"})
_TOOL_CONFIG = re.compile(r"^[\w.-]+\.config\.[cm]?[jt]s$")  # jest.config.js, vite.config.ts, ...
_PYTEST_CONFIG = frozenset({"conftest.py", "pytest.ini"})


def is_subject(path: str) -> bool:
    """A file tests could be about: code, outside test trees, not a type declaration or runner config."""
    name = PurePosixPath(path).name
    return (
        is_source(path)
        and not is_test_file(path)
        and name not in _NOT_SUBJECTS
        and not name.endswith((".d.ts", ".pyi"))
        and not _TOOL_CONFIG.match(name)
    )


def import_kind(path: str) -> str | None:
    """The extract a test file needs for import evidence (dependency_graph's kinds), or None."""
    name = test_name(path)
    if name is None or name.family not in ("python", "js"):
        return None
    return "python" if name.family == "python" else "js"


class TestMap:
    """The test_map generator: naming links from paths, import links from each test file's extract."""

    __test__ = False
    artifact_type = "test_map"
    version = "1"

    def kind_of(self, path: str) -> str | None:
        """Test files' content for import evidence; every path for naming links and module resolution."""
        return import_kind(path) or PATH_ONLY

    def refresh(self, changes: Sequence[PathChange], read_blob: ReadBlob) -> Refresh | None:
        """The product page's "test files or source-test associations changed": a test file edited, or
        any file added, removed or renamed (names and module paths are the associations)."""
        return whole_refresh(self.kind_of, changes)

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        max_bytes = int(ctx.params.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES))
        done = extract_files(
            ctx, self.kind_of, lambda _p, kind, data: extract(kind, data, max_bytes), max_bytes
        )
        imports: dict[str, tuple[str, dict[str, Any]]] = {}
        skipped = list(done.skipped)
        for item in done.wanted:
            payload = done.payload(item)
            if payload.get("skipped"):
                skipped.append({"path": item.path, "reason": payload["skipped"]})
            else:
                imports[item.path] = (item.kind, payload)
        payload = self._reduce(ctx, done.all_paths, imports, skipped)
        return ArtifactResult(
            [Entry("", ctx.snapshot.tree_id, payload)],
            calls=done.calls,
        )

    def _reduce(
        self,
        ctx: GenerationContext,
        all_paths: set[str],
        imports: dict[str, tuple[str, dict[str, Any]]],
        skipped: list[dict[str, str]],
    ) -> dict[str, Any]:
        paths = sorted(all_paths)
        subjects = [p for p in paths if is_subject(p)]
        subject_set = set(subjects)
        tests: dict[str, TestName] = {}
        for path in paths:
            name = test_name(path)
            if name is not None:
                tests[path] = name

        reasons: dict[tuple[str, str], set[str]] = defaultdict(set)  # (source, test) → reasons
        kinds: dict[tuple[str, str], set[str]] = defaultdict(set)
        names = NameIndex(subjects)
        for test, name in tests.items():
            for source in names.subjects(test, name):
                reasons[(source, test)].add(naming_reason(test, source))
                kinds[(source, test)].add("naming")
        for source, test, reason in self._import_links(imports, paths, subject_set):
            reasons[(source, test)].add(reason)
            kinds[(source, test)].add("imports")

        links = [
            {
                "source": source,
                "test": test,
                "reasons": sorted(reasons[(source, test)]),
                "confidence": "high" if len(kinds[(source, test)]) > 1 else "medium",
            }
            for source, test in sorted(reasons)
        ]
        by_source: dict[str, list[str]] = defaultdict(list)
        by_test: dict[str, list[str]] = defaultdict(list)
        for source, test in sorted(reasons):
            by_source[source].append(test)
            by_test[test].append(source)
        untested = [s for s in subjects if s not in by_source]
        return {
            **whole_repository_header(self, ctx),
            "links": links,
            "by_source": dict(sorted(by_source.items())),
            "by_test": {t: sorted(s) for t, s in sorted(by_test.items())},
            "untested_sources": untested[:UNTESTED_CAP],
            "untested_source_count": len(untested),
            "tests_without_source": sorted(t for t in tests if t not in by_test),
            "counts": {"sources": len(subjects), "tests": len(tests), "links": len(links)},
            "frameworks": self._frameworks(tests, imports, paths),
            "skipped": sorted(skipped, key=lambda s: (s["path"], s["reason"])),
        }

    def slices(self, payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """What the map says about each file it links (`?path=`): its tests, or the sources it tests."""
        found: dict[str, dict[str, Any]] = {}
        for link in payload["links"]:
            for side, other in (("source", "test"), ("test", "source")):
                entry = found.setdefault(link[side], {"tests": [], "tested_sources": [], "links": []})
                entry["tests" if side == "source" else "tested_sources"].append(link[other])
                entry["links"].append(link)
        return found

    @staticmethod
    def empty_slice() -> dict[str, Any]:
        """A file the map links to nothing: no test covers it, and it tests nothing."""
        return {"tests": [], "tested_sources": [], "links": []}

    def _import_links(
        self, imports: dict[str, tuple[str, dict[str, Any]]], paths: list[str], subjects: set[str]
    ) -> list[tuple[str, str, str]]:
        """(source, test, reason) for every repository module a test file imports that is not test code."""
        index = ModuleIndex([p for p in paths if PurePosixPath(p).suffix in (".py", ".pyi")])
        files = set(paths)
        found: list[tuple[str, str, str]] = []
        for test, (kind, result) in sorted(imports.items()):
            if kind == "python":
                internal, _, _, _ = resolve_python(test, result["imports"], index)
                for target in sorted(internal & subjects):
                    module = index.of_path.get(target, ("", target))[1]
                    found.append((target, test, f"imports: {module}"))
            else:
                for spec in result["imports"]:
                    if spec.startswith(("./", "../")) or spec in (".", ".."):
                        target = resolve_relative(test, spec, files)
                        if target and target in subjects and target != test:
                            found.append((target, test, f"imports: {spec}"))
        return found

    def _frameworks(
        self, tests: dict[str, TestName], imports: dict[str, tuple[str, dict[str, Any]]], paths: list[str]
    ) -> dict[str, int]:
        """Test files per framework: by what they import, then the runner config, then by name."""
        names = {PurePosixPath(p).name for p in paths}
        pytest_config = bool(names & _PYTEST_CONFIG)
        vitest_config = any(n.startswith("vitest.config.") for n in names)
        jest_config = any(n.startswith("jest.config.") for n in names)
        counts: dict[str, int] = defaultdict(int)
        for test, name in tests.items():
            modules = _imported_tops(imports.get(test))
            framework: str | None
            if name.family == "python":
                if "pytest" in modules or (pytest_config and "unittest" not in modules):
                    framework = "pytest"
                else:
                    framework = "unittest" if "unittest" in modules else None
            elif name.family == "js":
                if "vitest" in modules or (vitest_config and not jest_config):
                    framework = "vitest"
                else:
                    framework = "jest" if "@jest/globals" in modules or jest_config else None
            else:
                framework = {"go": "go test", "jvm": "junit"}.get(name.family)
                if name.family == "ruby":
                    framework = "rspec" if test.endswith("_spec.rb") else "minitest"
            if framework:
                counts[framework] += 1
        return dict(sorted(counts.items()))


def _imported_tops(entry: tuple[str, dict[str, Any]] | None) -> set[str]:
    """Top-level module names (Python) or package specifiers (JS) a test file imports."""
    if entry is None:
        return set()
    kind, result = entry
    if kind == "python":
        return {item["module"].split(".")[0] for item in result["imports"] if not item["level"]}
    return {spec if spec.startswith("@") else spec.split("/")[0] for spec in result["imports"]}


__all__ = ["TestMap", "import_kind", "is_subject"]

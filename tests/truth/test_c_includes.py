"""dependency_graph's C/C++ include edges against the real preprocessor (gcc/g++ `-H`).

Real code: googletest (C++, Debian's `googletest`, /usr/src/googletest) and Brotli (C, its PyPI
sdist). Each file is preprocessed on its own as the main file with the include directories its
build files give (googletest's CMakeLists `gtest_build_include_dirs` and `gmock_build_include_dirs`,
Brotli's setup.py `include_dirs=["c/include"]`). Preprocessing each file with `-E -dI` echoes every `#include` directive in the
branches taken (with line markers naming the file it is in, so include guards hide nothing), and
each directive is resolved by the compiler itself: a probe file holding only that line, in the
including file's directory, preprocessed with `-H` (depth 1 is the header opened; `-M -MG` goes on
past headers the build generates, like config.h). The compiler evaluates `#if`, which
dependency_graph does not: an include under a branch not taken here is an edge the compiler does
not see, so precision is reported beside recall.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.corpora import CorpusUnavailable, debian_package, git_repo_of, pypi_sdist
from tests.support.extracts import generation_context
from tests.support.truth_table import Table, printed_table, ratio
from warmer.artifacts.dependencies import DependencyGraph

GCC, GXX = shutil.which("gcc"), shutil.which("g++")
pytestmark = pytest.mark.skipif(GCC is None or GXX is None, reason="gcc/g++ are not installed")
_C_FILES = (".c", ".h", ".cc", ".cpp", ".hpp", ".hh", ".cxx")

BROTLI = "1.2.1"


def _debian(package: str, relative: str) -> tuple[Path, str]:
    tree = debian_package(package)
    changelog = tree / "usr/share/doc" / package / "changelog.Debian.gz"
    version = gzip.decompress(changelog.read_bytes()).decode().splitlines()[0].split("(")[1].split(")")[0]
    return tree / relative, version


# corpus → (its source root and version, include directories from its build files, language)
CORPORA: dict[str, tuple[Callable[[], tuple[Path, str]], list[str], str]] = {
    "googletest (Debian)": (
        lambda: _debian("googletest", "usr/src/googletest"),
        ["googletest/include", "googletest", "googlemock/include", "googlemock"],
        "c++",
    ),
    "Brotli (PyPI sdist)": (lambda: (pypi_sdist("Brotli", BROTLI), BROTLI), ["c/include"], "c"),
}


@pytest.fixture(scope="module")
def edge_table(request: pytest.FixtureRequest) -> Iterator[Table]:
    yield from printed_table(
        request,
        "dependency_graph C/C++ include edges vs the preprocessor (gcc -H)",
        ["language", "corpus", "version", "files", "oracle edges", "edges", "recall", "precision"],
    )


def _compiler(language: str) -> list[str]:
    return [GXX if language == "c++" else GCC, "-x", language, "-w"]


def active_directives(root: Path, path: str, include_dirs: list[str], language: str) -> set[tuple[str, str]]:
    """The `#include` directives of `path` in branches the preprocessor takes: `-E -dI` echoes every
    directive it executes, and the line markers say which file each one is in."""
    command = [*_compiler(language), "-E", "-dI", *(f"-I{d}" for d in include_dirs), path]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=60, errors="replace")
    directives, current = set(), path
    for line in done.stdout.splitlines():
        if line.startswith("# ") and '"' in line:
            current = os.path.normpath(line.split('"')[1])
        elif line.startswith("#include") and current == os.path.normpath(path):
            spelled = line[len("#include") :].strip()
            directives.add((spelled[0], spelled[1:-1]))
    return directives


def resolved_by_compiler(
    root: Path,
    directory: str,
    directive: tuple[str, str],
    include_dirs: list[str],
    language: str,
    key: object,
) -> str | None:
    """Where the compiler finds one directive from a file in `directory`: a probe file holding only that
    line, preprocessed there with `-H` (depth 1 is the header it opened)."""
    opener, name = directive
    probe = root / directory / f".probe-{abs(hash(key))}"  # one per directive: probes run in parallel
    probe.write_text(f"#include {opener}{name}{'>' if opener == '<' else chr(34)}\n")
    try:
        command = [
            *_compiler(language),
            "-M",
            "-MG",
            "-H",
            *(f"-I{d}" for d in include_dirs),
            str(probe.relative_to(root)),
        ]
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=60)
    finally:
        probe.unlink()
    for line in done.stderr.splitlines():
        if line.startswith(". "):
            header = os.path.normpath(line[2:].strip())
            return header if not os.path.isabs(header) and (root / header).is_file() else None
    return None


def compiler_edges(
    root: Path, files: list[str], include_dirs: list[str], language: str
) -> set[tuple[str, str]]:
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # each call is a compiler process
        active = dict(
            zip(
                files,
                pool.map(lambda f: active_directives(root, f, include_dirs, language), files),
                strict=True,
            )
        )
    wanted = {
        (os.path.dirname(f) if d[0] == '"' else "", d) for f, directives in active.items() for d in directives
    }
    keys = sorted(wanted)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        found = dict(
            zip(
                keys,
                pool.map(lambda k: resolved_by_compiler(root, k[0], k[1], include_dirs, language, k), keys),
                strict=True,
            )
        )
    edges = set()
    for path, directives in active.items():
        for directive in directives:
            target = found[(os.path.dirname(path) if directive[0] == '"' else "", directive)]
            if target and target != path:
                edges.add((path, target))
    return edges


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_include_edges_match_the_preprocessor(corpus: str, tmp_path: Path, edge_table: Table) -> None:
    load, include_dirs, language = CORPORA[corpus]
    try:
        source, version = load()
    except CorpusUnavailable as exc:
        pytest.skip(str(exc))
    root = tmp_path / "copy"  # the probes are written beside the files
    shutil.copytree(source, root, symlinks=True)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.suffix in _C_FILES and p.is_file())
    oracle = compiler_edges(root, files, include_dirs, language)
    repo = git_repo_of(source, tmp_path / "repo")
    payload = DependencyGraph().generate(generation_context(repo)).entries[0].payload
    mine = {(e["from"], e["to"]) for e in payload["internal_edges"] if e["from"].endswith(_C_FILES)}
    recall = ratio(len(oracle & mine), len(oracle))
    precision = ratio(len(oracle & mine), len(mine))
    edge_table.add(
        language=language,
        corpus=corpus,
        version=version,
        files=len(files),
        **{"oracle edges": len(oracle), "edges": len(mine)},
        recall=f"{recall:.3f}",
        precision=f"{precision:.3f}",
    )
    assert len(oracle) > 50
    assert recall >= 0.95, sorted(oracle - mine)[:20]
    assert precision >= 0.85, sorted(mine - oracle)[:20]

"""dependency_graph's Java edges against a javac-free resolver: javalang's tokenizer and the JLS rules.

Real Java from Debian: BeanShell (`bsh-src`) and OpenJFX (`openjfx-source`, the javafx.* modules).
The oracle reads each file's `package` and `import` declarations with javalang (a Java tokenizer
nobody here wrote), and resolves them by the Java Language Specification: a public top-level type
lives in the file named after it (JLS 7.6); `import p.T;` names type T of package p, or a member
type of p's type (the longest package/type split); `import p.*;` is every type of package p
(JLS 7.5.2); static imports name members of a type (JLS 7.5.3/7.5.4). An edge is file → the file
declaring the named type, or → every file of an on-demand package.
"""

from __future__ import annotations

import gzip
import shutil
import tarfile
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.corpora import CACHE, CorpusUnavailable, debian_package, git_repo_of
from tests.support.extracts import generation_context
from tests.support.truth_table import Table, printed_table, ratio
from warmer.artifacts.dependencies import DependencyGraph

javalang = pytest.importorskip("javalang")


def _unpacked(name: str, archive: Path) -> Path:
    """An archive shipped inside a Debian package, unpacked once into the corpus cache."""
    target = CACHE / f"unpacked-{name}"
    if not target.exists():
        staging = CACHE / f".staging-unpacked-{name}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(staging)
        else:
            with tarfile.open(archive) as tar:
                tar.extractall(staging, filter="data")
        staging.rename(target)
    return target


def bsh() -> Path:
    tree = debian_package("bsh-src")
    return _unpacked("bsh-src", tree / "usr/src/bsh-src/bsh.tar.gz") / "src"


def openjfx() -> Path:
    tree = debian_package("openjfx-source")
    return _unpacked("openjfx-source", tree / "usr/share/openjfx/lib/src.zip")


CORPORA = {"bsh-src": bsh, "openjfx-source": openjfx}


@pytest.fixture(scope="module")
def edge_table(request: pytest.FixtureRequest) -> Iterator[Table]:
    yield from printed_table(
        request,
        "dependency_graph Java edges vs javalang + JLS resolution",
        ["language", "corpus", "version", "files", "oracle edges", "edges", "recall", "precision"],
    )


def _header(text: str) -> tuple[str, list[tuple[str, bool, bool]]]:
    """(package, [(name, static, on_demand)]) from javalang's tokens, up to the first type declaration."""
    tokens = javalang.tokenizer.tokenize(text)
    package, imports = "", []
    current: list[str] | None = None
    static = on_demand = False
    mode = None
    for token in tokens:
        value = token.value
        if mode is None:
            if value == "package":
                mode, current = "package", []
            elif value == "import":
                mode, current, static, on_demand = "import", [], False, False
            elif value in ("class", "interface", "enum", "@", "record", "public", "abstract", "final"):
                break
            continue
        assert current is not None
        if value == ";":
            if mode == "package":
                package = ".".join(current)
            else:
                imports.append((".".join(current), static, on_demand))
            mode = None
        elif value == "static" and mode == "import" and not current:
            static = True
        elif value == "*":
            on_demand = True
        elif value != ".":
            current.append(value)
    return package, imports


def java_oracle(root: Path) -> set[tuple[str, str]]:
    files = sorted(p for p in root.rglob("*.java"))
    headers = {}
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            headers[str(path.relative_to(root))] = _header(text)
        except javalang.tokenizer.LexerError:
            continue
    types: dict[tuple[str, str], str] = {}
    packages: dict[str, list[str]] = defaultdict(list)
    for rel, (package, _) in headers.items():
        if package:
            types[(package, Path(rel).stem)] = rel
            packages[package].append(rel)

    def type_file(dotted: str) -> str | None:
        parts = dotted.split(".")
        for split in range(len(parts) - 1, 0, -1):
            found = types.get((".".join(parts[:split]), parts[split]))
            if found:
                return found
        return None

    edges = set()
    for rel, (_, imports) in headers.items():
        for name, static, on_demand in imports:
            if on_demand and not static and name in packages:
                targets = packages[name]
            else:
                found = type_file(name)
                targets = [found] if found else []
            edges.update((rel, t) for t in targets if t != rel)
    return edges


def _version(package: str) -> str:
    changelog = debian_package(package) / "usr/share/doc" / package / "changelog.Debian.gz"
    return gzip.decompress(changelog.read_bytes()).decode().splitlines()[0].split("(")[1].split(")")[0]


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_java_edges_match_a_javac_free_resolver(corpus: str, tmp_path: Path, edge_table: Table) -> None:
    try:
        root = CORPORA[corpus]()
    except CorpusUnavailable as exc:
        pytest.skip(str(exc))
    oracle = java_oracle(root)
    repo = git_repo_of(root, tmp_path / "repo")
    payload = DependencyGraph().generate(generation_context(repo)).entries[0].payload
    mine = {(e["from"], e["to"]) for e in payload["internal_edges"] if e["from"].endswith(".java")}
    recall = ratio(len(oracle & mine), len(oracle))
    precision = ratio(len(oracle & mine), len(mine))
    java_files = sum(1 for _ in root.rglob("*.java"))
    edge_table.add(
        language="java",
        corpus=corpus,
        version=_version(corpus),
        files=java_files,
        **{"oracle edges": len(oracle), "edges": len(mine)},
        recall=f"{recall:.3f}",
        precision=f"{precision:.3f}",
    )
    row = next(r for r in payload["languages"] if r["language"] == "java")
    assert row["files"] == java_files and row["edges"] == len(mine)
    assert len(oracle) > 100
    assert recall >= 0.95, sorted(oracle - mine)[:20]
    assert precision >= 0.95, sorted(mine - oracle)[:20]

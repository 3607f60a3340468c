"""dependency_graph's Go edges against the Go toolchain, on real modules from Debian's golang-*-dev.

The oracle is Go's own: `go list -e -json path/...` (in GOPATH mode, the module copied to
GOPATH/src/<its module path>: module mode refuses a go.mod whose requirements cannot be
downloaded, and nothing is downloaded here) says which directories are packages, their import
paths and which files build on this platform; Go's `go/parser` (ImportsOnly) says what each file
imports and its package name. An oracle edge is file → every file of the imported package (its
GoFiles and CgoFiles, plus other platforms' files of the same package name), as dependency_graph
defines its edges. Nothing of warmer's code takes part in the oracle. Needs Debian's golang-go.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.corpora import CorpusUnavailable, debian_package, git_repo_of
from tests.support.extracts import generation_context
from tests.support.truth_table import Table, printed_table, ratio
from warmer.artifacts.dependencies import DependencyGraph

GO = shutil.which("go")
pytestmark = pytest.mark.skipif(GO is None, reason="the Go toolchain (Debian's golang-go) is not installed")

# (Debian package, module directory under /usr/share/gocode/src)
CORPORA = [
    ("golang-github-gin-gonic-gin-dev", "github.com/gin-gonic/gin"),
    ("golang-github-go-chi-chi-dev", "github.com/go-chi/chi"),
    ("golang-github-labstack-echo-dev", "github.com/labstack/echo"),
    ("golang-github-prometheus-client-golang-dev", "github.com/prometheus/client_golang"),
]

_IMPORTS_PROGRAM = """
package main

import (
\t"encoding/json"
\t"go/parser"
\t"go/token"
\t"os"
\t"path/filepath"
\t"strconv"
\t"strings"
)

func main() {
\troot := os.Args[1]
\tout := json.NewEncoder(os.Stdout)
\tfilepath.Walk(root, func(path string, info os.FileInfo, err error) error {
\t\tif err != nil || info.IsDir() || !strings.HasSuffix(path, ".go") {
\t\t\treturn nil
\t\t}
\t\tfile, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
\t\tif err != nil {
\t\t\treturn nil
\t\t}
\t\timports := []string{}
\t\tfor _, spec := range file.Imports {
\t\t\tvalue, _ := strconv.Unquote(spec.Path.Value)
\t\t\timports = append(imports, value)
\t\t}
\t\trel, _ := filepath.Rel(root, path)
\t\tout.Encode(map[string]interface{}{"file": rel, "package": file.Name.Name, "imports": imports})
\t\treturn nil
\t})
}
"""


@pytest.fixture(scope="module")
def edge_table(request: pytest.FixtureRequest) -> Iterator[Table]:
    yield from printed_table(
        request,
        "dependency_graph Go edges vs go list + go/parser",
        ["language", "corpus", "version", "files", "oracle edges", "edges", "recall", "precision"],
    )


def debian_version(package: str, tree: Path) -> str:
    changelog = tree / "usr/share/doc" / package / "changelog.Debian.gz"
    first = gzip.decompress(changelog.read_bytes()).decode().splitlines()[0]
    return first.split("(")[1].split(")")[0]


def _go_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOPATH=str(tmp / "gopath"),
        GOCACHE=str(tmp / "gocache"),
        GOFLAGS="",
        GOPROXY="off",
        GOWORK="off",
        GO111MODULE="off",
        GOTOOLCHAIN="local",
        CGO_ENABLED="1",
    )
    return env


def _json_stream(text: str) -> list[dict]:
    decoder, position, found = json.JSONDecoder(), 0, []
    while position < len(text):
        while position < len(text) and text[position].isspace():
            position += 1
        if position < len(text):
            value, position = decoder.raw_decode(text, position)
            found.append(value)
    return found


def go_oracle(source: Path, tmp: Path) -> tuple[set[tuple[str, str]], set[str]]:
    """(file → file edges, files the oracle read) by `go list` and `go/parser`."""
    env = _go_env(tmp)
    module_path = next(
        line.split()[1].strip('"')
        for line in (source / "go.mod").read_text().splitlines()
        if line.startswith("module ")
    )
    module = tmp / "gopath" / "src" / module_path
    shutil.copytree(source, module, symlinks=True)
    listed = subprocess.run(
        [GO, "list", "-e", "-json", f"{module_path}/..."],
        cwd=module,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    packages = _json_stream(listed.stdout)
    assert packages, listed.stderr
    program = tmp / "imports" / "main.go"
    program.parent.mkdir(parents=True)
    program.write_text(_IMPORTS_PROGRAM)
    parsed = subprocess.run(
        [GO, "run", str(program), str(module)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=program.parent,
    )
    assert parsed.returncode == 0, parsed.stderr
    files = {entry["file"]: entry for entry in _json_stream(parsed.stdout)}

    def rel(directory: str, name: str) -> str:
        return str((Path(directory) / name).relative_to(module))

    targets: dict[str, set[str]] = {}
    sources: set[str] = set()
    for package in packages:
        if not package.get("Dir") or not Path(package["Dir"]).is_relative_to(module):
            continue
        builds = [*package.get("GoFiles", []), *package.get("CgoFiles", [])]
        others = [
            f
            for f in package.get("IgnoredGoFiles", [])
            if not f.endswith("_test.go")
            and files.get(rel(package["Dir"], f), {}).get("package") == package["Name"]
        ]
        targets[package["ImportPath"]] = {rel(package["Dir"], f) for f in builds + others}
        for group in ("GoFiles", "CgoFiles", "TestGoFiles", "XTestGoFiles", "IgnoredGoFiles"):
            sources.update(rel(package["Dir"], f) for f in package.get(group, []))
    edges = set()
    for source in sources:
        for imported in files.get(source, {}).get("imports", []):
            edges.update((source, target) for target in targets.get(imported, ()) if target != source)
    return edges, sources


@pytest.mark.parametrize(("package", "module_dir"), CORPORA, ids=[c[0] for c in CORPORA])
def test_go_edges_match_the_go_toolchain(
    package: str, module_dir: str, tmp_path: Path, edge_table: Table
) -> None:
    try:
        tree = debian_package(package)
    except CorpusUnavailable as exc:
        pytest.skip(str(exc))
    source = tree / "usr/share/gocode/src" / module_dir
    oracle, read = go_oracle(source, tmp_path)
    repo = git_repo_of(source, tmp_path / "repo")
    payload = DependencyGraph().generate(generation_context(repo)).entries[0].payload
    mine = {(e["from"], e["to"]) for e in payload["internal_edges"] if e["from"].endswith(".go")}
    mine_comparable = {(a, b) for a, b in mine if a in read}
    recall = ratio(len(oracle & mine), len(oracle))
    precision = ratio(len(oracle & mine_comparable), len(mine_comparable))
    edge_table.add(
        language="go",
        corpus=package,
        version=debian_version(package, tree),
        files=len(read),
        **{"oracle edges": len(oracle), "edges": len(mine_comparable)},
        recall=f"{recall:.3f}",
        precision=f"{precision:.3f}",
    )
    go_row = next(row for row in payload["languages"] if row["language"] == "go")
    assert go_row["edges"] > 0 and not go_row.get("problems")
    assert len(oracle) > 20, "the corpus must have internal imports to measure"
    assert recall >= 0.95, sorted(oracle - mine)[:20]
    assert precision >= 0.95, sorted(mine_comparable - oracle)[:20]

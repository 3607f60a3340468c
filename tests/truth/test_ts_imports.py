"""dependency_graph's TypeScript edges (relative imports and tsconfig `paths` aliases) against the
TypeScript compiler's own module resolution.

Real code: rxjs's npm tarball (its TypeScript sources, a tsconfig.json with `paths`, extended by
src/tsconfig.base.json) and Airflow's web UI from the apache-airflow-core sdist (a React app whose
Vite-style solution tsconfig.json references tsconfig.app.json, where `paths` map `src/*` and
`openapi/*`: most of its imports go through them). The oracle is the `typescript` package from npm run by node: `ts.preProcessFile` (the
compiler's scanner) lists each file's module specifiers, `ts.getParsedCommandLineOfConfigFile`
reads the governing tsconfig.json (extends included), `ts.resolveModuleName` resolves each
specifier. An edge is a specifier the compiler resolves to a source file of the corpus.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.corpora import CorpusUnavailable, git_repo_of, npm_package, pypi_sdist
from tests.support.extracts import generation_context
from tests.support.truth_table import Table, printed_table, ratio
from warmer.artifacts.dependencies import DependencyGraph

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")
TYPESCRIPT = "5.6.3"
AIRFLOW = "3.3.2"


def rxjs() -> Path:
    return npm_package("rxjs", "7.8.1")


def airflow_ui() -> Path:
    """Airflow's web UI (React + Vite), shipped in apache-airflow-core's sdist: `src/*` and `openapi/*`
    aliases in tsconfig.app.json, behind a solution-style tsconfig.json."""
    return pypi_sdist("apache-airflow-core", AIRFLOW) / "src" / "airflow" / "ui"


# corpus → (loader, version)
CORPORA = {"rxjs (npm)": (rxjs, "7.8.1"), "airflow ui (PyPI apache-airflow-core)": (airflow_ui, AIRFLOW)}

_ORACLE = r"""
const ts = require(process.argv[2]);
const path = require("path");
const fs = require("fs");
const root = path.resolve(process.argv[3]);
const files = [];
(function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) { if (entry.name !== "node_modules") walk(full); }
    else if (/\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/.test(entry.name)) files.push(full);
  }
})(root);
const configs = new Map();
function parse(config) {
  if (!configs.has(config)) {
    configs.set(config, ts.getParsedCommandLineOfConfigFile(config, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic() {} }));
  }
  return configs.get(config);
}
function optionsFor(file) {
  let dir = path.dirname(file);
  while (dir.startsWith(root)) {
    const candidate = path.join(dir, "tsconfig.json");
    if (fs.existsSync(candidate)) {
      const parsed = parse(candidate);
      // A solution config (files: [], references: [...]): the referenced project holding the file.
      for (const reference of (parsed && parsed.projectReferences) || []) {
        const project = parse(ts.resolveProjectReferencePath(reference));
        if (project && project.fileNames.map((f) => path.resolve(f)).includes(file)) return project.options;
      }
      return parsed ? parsed.options : {};
    }
    if (dir === root) break;
    dir = path.dirname(dir);
  }
  return { moduleResolution: ts.ModuleResolutionKind.Node10, allowJs: true };
}
const edges = [];
for (const file of files) {
  const info = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
  const options = optionsFor(file);
  for (const imported of info.importedFiles) {
    const resolved = ts.resolveModuleName(imported.fileName, file, options, ts.sys).resolvedModule;
    if (resolved && resolved.resolvedFileName.startsWith(root + path.sep) && !resolved.isExternalLibraryImport) {
      edges.push([path.relative(root, file), path.relative(root, resolved.resolvedFileName), imported.fileName]);
    }
  }
}
process.stdout.write(JSON.stringify(edges));
"""


@pytest.fixture(scope="module")
def edge_table(request: pytest.FixtureRequest) -> Iterator[Table]:
    yield from printed_table(
        request,
        f"dependency_graph TypeScript edges vs TypeScript {TYPESCRIPT}'s resolveModuleName",
        ["language", "corpus", "version", "files", "oracle edges", "edges", "recall", "precision"],
    )


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_ts_edges_match_the_typescript_compiler(name: str, tmp_path: Path, edge_table: Table) -> None:
    load, version = CORPORA[name]
    try:
        source = load()
        typescript = npm_package("typescript", TYPESCRIPT)
    except CorpusUnavailable as exc:
        pytest.skip(str(exc))
    script = tmp_path / "oracle.js"
    script.write_text(_ORACLE)
    done = subprocess.run(
        [NODE, str(script), str(typescript / "lib" / "typescript.js"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    resolved = json.loads(done.stdout)
    oracle = {(a, b) for a, b, _ in resolved}
    aliased = {(a, b) for a, b, spec in resolved if not spec.startswith(".")}  # through tsconfig `paths`
    repo = git_repo_of(source, tmp_path / "repo")
    payload = DependencyGraph().generate(generation_context(repo)).entries[0].payload
    mine = {
        (e["from"], e["to"])
        for e in payload["internal_edges"]
        if e["from"].endswith((".ts", ".tsx", ".js", ".mjs", ".cjs"))
    }
    compiled = {a for a, _ in oracle} | {a for a, _ in mine}
    mine = {(a, b) for a, b in mine if a in compiled}
    recall = ratio(len(oracle & mine), len(oracle))
    precision = ratio(len(oracle & mine), len(mine))
    edge_table.add(
        language="typescript",
        corpus=name,
        version=version,
        files=sum(1 for p in source.rglob("*.ts")),
        **{"oracle edges": f"{len(oracle)} ({len(aliased)} via paths)", "edges": len(mine)},
        recall=f"{recall:.3f}",
        precision=f"{precision:.3f}",
    )
    assert len(oracle) > 100 and aliased <= mine
    assert recall >= 0.95, sorted(oracle - mine)[:20]
    assert precision >= 0.95, sorted(mine - oracle)[:20]

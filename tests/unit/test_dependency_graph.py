"""dependency_graph read from git objects: real imports, real manifests, every ecosystem, reuse by blob."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.extracts import CountingCache, generation_context
from tests.support.gitrepo import commit, git, make_repo, repo_from_tree, write
from warmer.artifacts.base import ArtifactResult
from warmer.artifacts.dependencies import DependencyGraph

NODE_GYP = Path("/usr/lib/node_modules/npm/node_modules/node-gyp")  # ships with the system's npm
REQUESTS = Path("/usr/lib/google-cloud-sdk/platform/gsutil/third_party/requests")  # a src/ layout


def run(repo: Path, cache: Any = None, params: dict[str, Any] | None = None) -> ArtifactResult:
    ctx = generation_context(repo, cache=cache, params=params)
    result = DependencyGraph().generate(ctx)
    assert len(result.entries) == 1 and result.entries[0].source_hash == ctx.snapshot.tree_id
    return result


def generate(repo: Path, cache: Any = None, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return run(repo, cache, params).entries[0].payload


def deps_of(payload: dict[str, Any], manifest: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["name"], d["group"]): d for d in payload["dependencies"] if d["manifest"] == manifest}


def edges(payload: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["from"], e["to"]) for e in payload["internal_edges"]}


def test_click_imports_are_an_internal_graph_with_stdlib_leaves(click_corpus: Path) -> None:
    payload = generate(click_corpus)
    graph = edges(payload)
    assert ("click/core.py", "click/types.py") in graph  # `from .types import ...`
    assert ("click/__init__.py", "click/core.py") in graph
    assert ("click/__init__.py", "click/decorators.py") in graph
    stdlib = {s["module"] for s in payload["stdlib_imports"] if s["language"] == "python"}
    assert {"os", "sys", "typing", "collections"} <= stdlib
    external = {e["module"] for e in payload["external_imports"]}
    assert "click" not in external and "os" not in external and "sys" not in external
    assert payload["manifests"] == [] and payload["dependencies"] == []
    assert all(
        e["from"].startswith("click/") and e["to"].startswith("click/") for e in payload["internal_edges"]
    )
    assert payload["tree"] == git(click_corpus, "rev-parse", "HEAD^{tree}").strip()


@pytest.mark.skipif(not NODE_GYP.is_dir(), reason="npm's bundled node-gyp is not installed")
def test_real_npm_package_manifest_requires_and_mapping(tmp_path: Path) -> None:
    payload = generate(repo_from_tree(NODE_GYP, tmp_path))
    declared = json.loads((NODE_GYP / "package.json").read_text())
    deps = deps_of(payload, "node-gyp/package.json")
    for name, spec in declared["dependencies"].items():
        assert deps[(name, "runtime")]["spec"] == spec
    for name, spec in declared["devDependencies"].items():
        assert deps[(name, "dev")]["spec"] == spec
    assert ("node-gyp/lib/build.js", "node-gyp/lib/log.js") in edges(payload)  # require('./log')
    external = {e["module"]: e for e in payload["external_imports"] if e["language"] == "javascript"}
    assert external["graceful-fs"]["package"] == "graceful-fs" and external["graceful-fs"]["files"] > 1
    builtins = {s["module"] for s in payload["stdlib_imports"] if s["language"] == "javascript"}
    assert {"path", "os"} <= builtins and "path" not in external
    gyp = next(m for m in payload["manifests"] if m["path"] == "node-gyp/gyp/pyproject.toml")
    assert gyp["ecosystem"] == "pypi"  # gyp's own pyproject, parsed with tomllib
    assert payload["errors"] == []


@pytest.mark.skipif(not REQUESTS.is_dir(), reason="gsutil's vendored requests source is not installed")
def test_real_src_layout_and_requirements_file(tmp_path: Path) -> None:
    payload = generate(repo_from_tree(REQUESTS, tmp_path))
    graph = edges(payload)
    assert ("requests/src/requests/api.py", "requests/src/requests/sessions.py") in graph
    assert ("requests/src/requests/sessions.py", "requests/src/requests/adapters.py") in graph
    dev = deps_of(payload, "requests/requirements-dev.txt")
    assert dev[("pytest-httpbin", "dev")]["spec"] == "==2.0.0"
    assert dev[("pytest-httpbin", "dev")]["resolved"] == "2.0.0"
    assert dev[("pytest", "dev")]["spec"] == "<9,>=2.8.0"
    manifest = next(m for m in payload["manifests"] if m["path"] == "requests/requirements-dev.txt")
    assert manifest["options"] == ["-e .[socks]"]
    external = {e["module"]: e for e in payload["external_imports"] if e["language"] == "python"}
    assert external["pytest"]["package"] == "pytest"
    assert "requests" not in external
    # setup.py is read with `ast`, never run: `install_requires=requires` names a literal list
    setup = deps_of(payload, "requests/setup.py")
    assert {name: d["spec"] for (name, group), d in setup.items() if group == "runtime"} == {
        "charset_normalizer": "<4,>=2",
        "idna": "<4,>=2.5",
        "urllib3": "<3,>=1.21.1",
        "certifi": ">=2017.4.17",
    }
    assert external["urllib3"]["package"] == "urllib3"
    assert external["charset_normalizer"]["package"] == "charset_normalizer"


PYPROJECT = """
[project]
name = "demo"
dependencies = ["PyYAML>=6", "requests[socks]>=2.31,<3", "python-dateutil"]
[project.optional-dependencies]
fast = ["orjson==3.9.10"]
[tool.poetry.dependencies]
python = "^3.11"
httpx = "^0.27"
rich = { version = ">=13", optional = true }
[tool.poetry.group.test.dependencies]
pytest = "^8"
"""

REQUIREMENTS = """\
# pinned for production
-r base.txt
--index-url https://example.org/simple
Django==4.2.7  # LTS
celery[redis]>=5.3 ; python_version >= "3.9"
not a requirement!!
"""

PACKAGE_JSON = {
    "name": "web",
    "dependencies": {"react": "^18.2.0", "@babel/core": "^7.23.0"},
    "devDependencies": {"typescript": "~5.3.0"},
    "peerDependencies": {"react-dom": "^18"},
    "optionalDependencies": {"fsevents": "^2.3.3"},
}
PACKAGE_LOCK = {
    "lockfileVersion": 3,
    "packages": {
        "": {"name": "web"},
        "node_modules/react": {"version": "18.2.0"},
        "node_modules/@babel/core": {"version": "7.23.5"},
        "node_modules/typescript": {"version": "5.3.3"},
        "node_modules/foo/node_modules/react": {"version": "16.0.0"},
    },
}
YARN_LOCK = """\
# yarn lockfile v1


"@babel/core@^7.23.0":
  version "7.23.9"
  resolved "https://registry.yarnpkg.com/@babel/core/-/core-7.23.9.tgz"

react@^18.0.0, react@^18.2.0:
  version "18.2.0"
"""
GO_MOD = """\
module example.com/svc

go 1.21

require github.com/pkg/errors v0.9.1

require (
\tgolang.org/x/sync v0.5.0
\tgithub.com/stretchr/testify v1.8.4 // indirect
)

replace golang.org/x/sync => ../sync
"""
CARGO_TOML = """
[package]
name = "tool"
[dependencies]
serde = { version = "1.0", features = ["derive"] }
anyhow = "1"
local = { path = "../local" }
[dev-dependencies]
tempfile = "3.8"
[build-dependencies]
cc = "1.0.83"
"""
CARGO_LOCK = """
version = 3
[[package]]
name = "serde"
version = "1.0.193"
[[package]]
name = "anyhow"
version = "1.0.75"
[[package]]
name = "tool"
version = "0.1.0"
"""
POM = """<?xml version="1.0"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.demo</groupId><artifactId>app</artifactId><version>2.1.0</version>
  <properties><guava.version>32.1.3-jre</guava.version><junit.version>5.10.1</junit.version></properties>
  <dependencies>
    <dependency><groupId>com.google.guava</groupId><artifactId>guava</artifactId>
      <version>${guava.version}</version></dependency>
    <dependency><groupId>org.junit.jupiter</groupId><artifactId>junit-jupiter</artifactId>
      <version>${junit.version}</version><scope>test</scope></dependency>
    <dependency><groupId>org.demo</groupId><artifactId>core</artifactId>
      <version>${project.version}</version></dependency>
  </dependencies>
</project>
"""
GRADLE = """
plugins { id("org.jetbrains.kotlin.jvm") version "1.9.21" }
repositories { maven { url "https://repo.example.org/maven" } }
dependencies {
    implementation("com.squareup.okhttp3:okhttp:4.12.0")
    implementation 'org.slf4j:slf4j-api:2.0.9'
    api(platform("org.springframework.boot:spring-boot-dependencies:3.2.0"))
    testImplementation "org.junit.jupiter:junit-jupiter:5.10.1"
    compileOnly group: 'org.projectlombok', name: 'lombok', version: '1.18.30'
    // implementation("com.example:commented-out:1.0")
}
"""


@pytest.fixture
def polyglot(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "poly",
        {
            "pyproject.toml": PYPROJECT,
            "requirements/prod.txt": REQUIREMENTS,
            "app/__init__.py": "",
            "app/main.py": "import yaml\nimport dateutil.parser\nimport requests\nimport numpy\nfrom . import util\n",
            "app/util.py": "import os\n",
            "web/package.json": json.dumps(PACKAGE_JSON),
            "web/package-lock.json": json.dumps(PACKAGE_LOCK),
            "web/src/index.ts": "import React from 'react';\nimport { a } from './lib';\nimport fs from 'node:fs';\n",
            "web/src/lib/index.ts": "export const a = require('@babel/core/lib/x');\n",
            "yarnapp/package.json": json.dumps(
                {"dependencies": {"react": "^18.2.0", "@babel/core": "^7.23.0"}}
            ),
            "yarnapp/yarn.lock": YARN_LOCK,
            "svc/go.mod": GO_MOD,
            "tool/Cargo.toml": CARGO_TOML,
            "tool/Cargo.lock": CARGO_LOCK,
            "java/pom.xml": POM,
            "android/build.gradle": GRADLE,
            "broken/package.json": '{"dependencies": {"left-pad": "^1.0.0",}',
        },
    )


def test_python_manifests(polyglot: Path) -> None:
    payload = generate(polyglot)
    py = deps_of(payload, "pyproject.toml")
    assert py[("PyYAML", "runtime")]["spec"] == ">=6"
    assert py[("requests", "runtime")]["spec"] == "<3,>=2.31"
    assert py[("python-dateutil", "runtime")]["spec"] is None
    assert py[("orjson", "optional:fast")]["resolved"] == "3.9.10"
    assert py[("httpx", "runtime")]["spec"] == "^0.27"
    assert py[("rich", "optional")]["spec"] == ">=13"
    assert py[("pytest", "test")]["spec"] == "^8"
    assert not any(name == "python" for name, _ in py)
    req = deps_of(payload, "requirements/prod.txt")
    assert (
        req[("Django", "runtime")]["spec"] == "==4.2.7" and req[("Django", "runtime")]["resolved"] == "4.2.7"
    )
    assert req[("celery", "runtime")]["spec"] == ">=5.3"
    manifest = next(m for m in payload["manifests"] if m["path"] == "requirements/prod.txt")
    assert manifest["options"] == ["-r base.txt", "--index-url https://example.org/simple"]
    assert any(e["path"] == "requirements/prod.txt" and "line 6" in e["error"] for e in payload["errors"])


def test_npm_manifests_and_lockfiles(polyglot: Path) -> None:
    payload = generate(polyglot)
    web = deps_of(payload, "web/package.json")
    assert web[("react", "runtime")] == {
        "ecosystem": "npm",
        "name": "react",
        "spec": "^18.2.0",
        "resolved": "18.2.0",  # the top-level node_modules entry, not the nested 16.0.0
        "group": "runtime",
        "manifest": "web/package.json",
    }
    assert web[("@babel/core", "runtime")]["resolved"] == "7.23.5"
    assert web[("typescript", "dev")]["resolved"] == "5.3.3"
    assert web[("react-dom", "peer")]["resolved"] is None
    assert web[("fsevents", "optional")]["spec"] == "^2.3.3"
    yarn = deps_of(payload, "yarnapp/package.json")
    assert yarn[("@babel/core", "runtime")]["resolved"] == "7.23.9"
    assert yarn[("react", "runtime")]["resolved"] == "18.2.0"


def test_malformed_package_json_is_an_error_and_the_rest_is_produced(polyglot: Path) -> None:
    payload = generate(polyglot)
    broken = [e for e in payload["errors"] if e["path"] == "broken/package.json"]
    assert len(broken) == 1 and "Expecting property name" in broken[0]["error"]
    assert not any(d["manifest"] == "broken/package.json" for d in payload["dependencies"])
    parsed = {m["path"] for m in payload["manifests"]}
    assert {
        "web/package.json",
        "svc/go.mod",
        "tool/Cargo.toml",
        "java/pom.xml",
        "android/build.gradle",
    } <= parsed


def test_go_cargo_maven_gradle(polyglot: Path) -> None:
    payload = generate(polyglot)
    go = deps_of(payload, "svc/go.mod")
    assert go[("github.com/pkg/errors", "runtime")]["spec"] == "v0.9.1"
    assert go[("github.com/stretchr/testify", "indirect")]["resolved"] == "v1.8.4"
    assert go[("golang.org/x/sync", "runtime")]["replace"] == "../sync"
    cargo = deps_of(payload, "tool/Cargo.toml")
    assert (
        cargo[("serde", "runtime")]["spec"] == "1.0" and cargo[("serde", "runtime")]["resolved"] == "1.0.193"
    )
    assert cargo[("anyhow", "runtime")]["resolved"] == "1.0.75"
    assert cargo[("local", "runtime")]["spec"] is None
    assert cargo[("tempfile", "dev")]["spec"] == "3.8" and cargo[("tempfile", "dev")]["resolved"] is None
    assert cargo[("cc", "build")]["spec"] == "1.0.83"
    pom = deps_of(payload, "java/pom.xml")
    assert pom[("com.google.guava:guava", "runtime")]["spec"] == "32.1.3-jre"
    assert pom[("org.junit.jupiter:junit-jupiter", "test")]["spec"] == "5.10.1"
    assert pom[("org.demo:core", "runtime")]["spec"] == "2.1.0"
    gradle = deps_of(payload, "android/build.gradle")
    assert set(gradle) == {
        ("com.squareup.okhttp3:okhttp", "runtime"),
        ("org.slf4j:slf4j-api", "runtime"),
        ("org.springframework.boot:spring-boot-dependencies", "runtime"),
        ("org.junit.jupiter:junit-jupiter", "test"),
        ("org.projectlombok:lombok", "provided"),
    }
    assert gradle[("com.squareup.okhttp3:okhttp", "runtime")]["spec"] == "4.12.0"
    assert gradle[("org.projectlombok:lombok", "provided")]["spec"] == "1.18.30"


def test_imports_map_to_declared_packages(polyglot: Path) -> None:
    payload = generate(polyglot)
    external = {(e["language"], e["module"]): e["package"] for e in payload["external_imports"]}
    assert external[("python", "yaml")] == "PyYAML"
    assert external[("python", "dateutil")] == "python-dateutil"
    assert external[("python", "requests")] == "requests"
    assert external[("python", "numpy")] is None  # imported, never declared
    assert external[("javascript", "react")] == "react"
    assert external[("javascript", "@babel/core")] == "@babel/core"  # deep import, scoped package
    assert ("app/main.py", "app/util.py") in edges(payload)
    assert ("web/src/index.ts", "web/src/lib/index.ts") in edges(payload)
    assert {"language": "javascript", "module": "fs", "files": 1} in payload["stdlib_imports"]
    assert {"language": "python", "module": "os", "files": 1} in payload["stdlib_imports"]


def test_odd_files_and_syntax_errors_are_reported(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "odd",
        {
            "pkg/__init__.py": "from .good import x\n",
            "pkg/good.py": "x = 1\n",
            "pkg/bad.py": "def broken(:\n    import json\n",
            "pkg/latin.py": "# caf\xe9\n".encode("latin-1"),
            "pkg/blob.py": b"\0\x01binary",
            "pkg/huge.py": "import os\n" * 2000,
            "top.py": "from .. import nothing\n",
        },
    )
    payload = generate(repo, params={"max_file_bytes": 10_000})
    reasons = {s["path"]: s["reason"] for s in payload["skipped"]}
    assert reasons == {"pkg/latin.py": "non_utf8", "pkg/blob.py": "binary", "pkg/huge.py": "too_large"}
    errors = {e["path"]: e["error"] for e in payload["errors"]}
    assert errors["pkg/bad.py"].startswith("SyntaxError") and "line 1" in errors["pkg/bad.py"]
    bad = next(e for e in payload["errors"] if e["path"] == "pkg/bad.py")
    assert bad["line"] == 1 and bad["kind"] == "python"
    assert {"path": "top.py", "language": "python", "import": "from .. import nothing"} in payload[
        "unresolved_imports"
    ]
    python = next(row for row in payload["languages"] if row["language"] == "python")
    assert python["parse_errors"] == 1 and python["unresolved"] == 1
    assert ("pkg/__init__.py", "pkg/good.py") in edges(payload)
    larger = generate(repo, params={"max_file_bytes": 100_000})  # the cap grew: parsed this time
    assert "pkg/huge.py" not in {s["path"] for s in larger["skipped"]}


def test_one_changed_blob_is_the_only_one_extracted_again(polyglot: Path) -> None:
    cache = CountingCache()
    first = run(polyglot, cache)
    assert first.calls["reused"] == 0 and first.calls["extracted"] == cache.computed > 10
    write(polyglot, {"app/util.py": "import os\nimport json\n"})
    commit(polyglot, "util imports json")
    second = run(polyglot, cache)
    assert second.calls == {"extracted": 1, "reused": first.calls["extracted"] - 1}
    assert {"language": "python", "module": "json", "files": 1} in second.entries[0].payload["stdlib_imports"]


def test_same_content_under_two_kinds_of_path(tmp_path: Path) -> None:
    """An empty file is both `__init__.py` and `requirements.txt`: one blob, two extracts, both answered."""
    repo = make_repo(
        tmp_path / "twins", {"pkg/__init__.py": "", "requirements.txt": "", "pkg/m.py": "import pkg\n"}
    )
    cache = CountingCache()
    payload = generate(repo, cache)
    assert {"path": "requirements.txt", "ecosystem": "pypi", "dependencies": 0} in payload["manifests"]
    assert ("pkg/m.py", "pkg/__init__.py") in edges(payload)
    assert generate(repo, cache) == payload


def test_deterministic(polyglot: Path, click_corpus: Path) -> None:
    for repo in (polyglot, click_corpus):
        cold = generate(repo)
        warm_cache = CountingCache()
        generate(repo, warm_cache)
        assert json.dumps(generate(repo, warm_cache), sort_keys=False) == json.dumps(cold, sort_keys=False)


def test_the_statement_walk_finds_every_import_ast_walk_finds_in_real_code() -> None:
    """The fast walk skips expressions; on real code it must miss no import (nested, in try, in match)."""
    import ast
    import email

    import sqlalchemy

    from warmer.artifacts.dependencies.python_imports import _statements

    checked = 0
    for package in (sqlalchemy, email):
        for path in Path(package.__file__).parent.rglob("*.py"):
            tree = ast.parse(path.read_text())
            everything = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
            statements = [n for n in _statements(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
            assert sorted(map(id, statements)) == sorted(map(id, everything)), path
            checked += len(everything)
    assert checked > 5000

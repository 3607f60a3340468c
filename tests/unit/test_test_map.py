"""test_map read from git objects: every ecosystem's naming convention, import evidence, reuse by blob."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.extracts import CountingCache, generation_context
from tests.support.gitrepo import commit, git, make_repo, repo_from_tree, write
from warmer.artifacts.base import ArtifactResult
from warmer.artifacts.test_map import TestMap

try:
    import tornado

    TORNADO: Path | None = Path(tornado.__file__).parent  # ships its tests as tornado/test/*_test.py
except ImportError:  # pragma: no cover - depends on the environment
    TORNADO = None


def run(repo: Path, cache: Any = None) -> ArtifactResult:
    ctx = generation_context(repo, cache=cache)
    result = TestMap().generate(ctx)
    assert len(result.entries) == 1 and result.entries[0].source_hash == ctx.snapshot.tree_id
    return result


def generate(repo: Path, cache: Any = None) -> dict[str, Any]:
    return run(repo, cache).entries[0].payload


def links(payload: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(link["source"], link["test"]): link for link in payload["links"]}


@pytest.mark.skipif(TORNADO is None, reason="tornado is not installed")
def test_tornado_tests_link_to_their_modules_by_name_and_import(tmp_path: Path) -> None:
    assert TORNADO is not None
    payload = generate(repo_from_tree(TORNADO, tmp_path))
    found = links(payload)
    web = found[("tornado/web.py", "tornado/test/web_test.py")]
    assert web["reasons"] == ["imports: tornado.web", "naming: web_test.py ↔ web.py"]
    assert web["confidence"] == "high"
    # util_test.py names tornado/util.py, not the test helper tornado/test/util.py beside it
    assert ("tornado/util.py", "tornado/test/util_test.py") in found
    assert "tornado/test/util.py" not in payload["by_source"]
    assert "tornado/test/util.py" not in payload["by_test"]
    # a test in tornado/test/ naming a module one package down
    assert found[("tornado/platform/asyncio.py", "tornado/test/asyncio_test.py")]["confidence"] == "high"
    # httputil_test imports tornado.escape too: an import-only, medium link
    escape = found[("tornado/escape.py", "tornado/test/httputil_test.py")]
    assert escape == {
        "source": "tornado/escape.py",
        "test": "tornado/test/httputil_test.py",
        "reasons": ["imports: tornado.escape"],
        "confidence": "medium",
    }
    assert "tornado/test/web_test.py" in payload["by_source"]["tornado/web.py"]
    assert "tornado/web.py" in payload["by_test"]["tornado/test/web_test.py"]
    assert payload["frameworks"].get("unittest", 0) > 5
    assert payload["untested_source_count"] == len(payload["untested_sources"])
    assert all(not path.startswith("tornado/test/") for path in payload["untested_sources"])
    assert payload["tree"] == git(tmp_path, "rev-parse", "HEAD^{tree}").strip()


def test_python_src_layout_with_mirrored_tests(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "py",
        {
            "src/app/__init__.py": "",
            "src/app/core.py": "def run():\n    return 1\n",
            "src/app/io/__init__.py": "",
            "src/app/io/reader.py": "def read():\n    return ''\n",
            "src/app/cli.py": "import sys\n",
            "tests/conftest.py": "import pytest\n",
            "tests/test_core.py": "from app.core import run\n\ndef test_run():\n    assert run() == 1\n",
            "tests/io/test_reader.py": "import pytest\n\ndef test_read():\n    pass\n",
            "tests/test_orphan.py": "import pytest\n",
        },
    )
    payload = generate(repo)
    found = links(payload)
    core = found[("src/app/core.py", "tests/test_core.py")]
    assert core["reasons"] == ["imports: app.core", "naming: test_core.py ↔ core.py"]
    assert core["confidence"] == "high"
    reader = found[("src/app/io/reader.py", "tests/io/test_reader.py")]
    assert reader["reasons"] == ["naming: test_reader.py ↔ reader.py"] and reader["confidence"] == "medium"
    assert payload["untested_sources"] == ["src/app/__init__.py", "src/app/cli.py", "src/app/io/__init__.py"]
    assert payload["untested_source_count"] == 3
    assert payload["tests_without_source"] == ["tests/test_orphan.py"]
    assert (
        "tests/conftest.py" not in payload["by_test"]
        and "tests/conftest.py" not in payload["untested_sources"]
    )
    assert payload["frameworks"] == {"pytest": 3}


def test_import_only_links_and_a_test_importing_two_modules(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "imp",
        {
            "pkg/__init__.py": "",
            "pkg/parser.py": "X = 1\n",
            "pkg/render.py": "Y = 2\n",
            "tests/test_end_to_end.py": (
                "import unittest\nfrom pkg.parser import X\nfrom pkg import render\n\n"
                "class T(unittest.TestCase):\n    def test(self):\n        pass\n"
            ),
        },
    )
    payload = generate(repo)
    assert payload["by_test"] == {"tests/test_end_to_end.py": ["pkg/parser.py", "pkg/render.py"]}
    found = links(payload)
    assert found[("pkg/parser.py", "tests/test_end_to_end.py")]["reasons"] == ["imports: pkg.parser"]
    assert found[("pkg/render.py", "tests/test_end_to_end.py")]["reasons"] == ["imports: pkg.render"]
    assert {link["confidence"] for link in payload["links"]} == {"medium"}
    assert payload["frameworks"] == {"unittest": 1}


def test_jest_and_vitest_conventions(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "js",
        {
            "package.json": '{"name": "x"}\n',
            "jest.config.js": "module.exports = {};\n",
            "src/sum.ts": "export const sum = (a: number, b: number) => a + b;\n",
            "src/sum.test.ts": "import { sum } from './sum';\ntest('s', () => expect(sum(1, 2)).toBe(3));\n",
            "src/format.js": "module.exports = (x) => String(x);\n",
            "src/__tests__/format.js": "const format = require('../format');\n",
            "src/util/deep.ts": "export const d = 1;\n",
            "src/types.d.ts": "export type T = number;\n",
            "web/button.tsx": "export const Button = () => null;\n",
            "web/button.spec.tsx": "import { test } from 'vitest';\n",
            "test/integration.test.js": "const { d } = require('../src/util/deep');\n",
        },
    )
    payload = generate(repo)
    found = links(payload)
    assert found[("src/sum.ts", "src/sum.test.ts")]["reasons"] == [
        "imports: ./sum",
        "naming: sum.test.ts ↔ sum.ts",
    ]
    assert found[("src/format.js", "src/__tests__/format.js")]["confidence"] == "high"
    assert found[("web/button.tsx", "web/button.spec.tsx")]["reasons"] == [
        "naming: button.spec.tsx ↔ button.tsx"
    ]
    assert found[("src/util/deep.ts", "test/integration.test.js")]["reasons"] == ["imports: ../src/util/deep"]
    assert payload["untested_sources"] == []  # jest.config.js and types.d.ts are not code under test
    assert payload["frameworks"] == {"jest": 3, "vitest": 1}


def test_go_links_only_within_the_package_directory(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "go",
        {
            "go.mod": "module example.com/x\n",
            "server/handler.go": "package server\n",
            "server/handler_test.go": "package server\n",
            "client/handler.go": "package client\n",
            "client/extra_test.go": "package client\n",
        },
    )
    payload = generate(repo)
    assert payload["by_test"] == {"server/handler_test.go": ["server/handler.go"]}
    assert payload["links"][0]["reasons"] == ["naming: handler_test.go ↔ handler.go"]
    assert payload["untested_sources"] == ["client/handler.go"]
    assert payload["tests_without_source"] == ["client/extra_test.go"]
    assert payload["frameworks"] == {"go test": 2}


def test_maven_and_rspec_mirrors(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "jvm",
        {
            "pom.xml": "<project/>\n",
            "src/main/java/com/acme/Order.java": "package com.acme;\nclass Order {}\n",
            "src/main/java/com/acme/billing/Order.java": "package com.acme.billing;\nclass Order {}\n",
            "src/test/java/com/acme/OrderTest.java": "package com.acme;\nclass OrderTest {}\n",
            "src/test/java/com/acme/billing/TestOrder.java": "package com.acme.billing;\n",
            "src/test/java/com/acme/TestSupport.java": "package com.acme;\n",
            "lib/shop/cart.rb": "class Cart; end\n",
            "app/models/user.rb": "class User; end\n",
            "spec/shop/cart_spec.rb": "require 'shop/cart'\n",
            "spec/models/user_spec.rb": "require 'rails_helper'\n",
            "spec/spec_helper.rb": "\n",
        },
    )
    payload = generate(repo)
    assert payload["by_test"] == {
        "spec/models/user_spec.rb": ["app/models/user.rb"],
        "spec/shop/cart_spec.rb": ["lib/shop/cart.rb"],
        "src/test/java/com/acme/OrderTest.java": ["src/main/java/com/acme/Order.java"],
        "src/test/java/com/acme/billing/TestOrder.java": ["src/main/java/com/acme/billing/Order.java"],
    }
    assert links(payload)[("lib/shop/cart.rb", "spec/shop/cart_spec.rb")]["reasons"] == [
        "naming: cart_spec.rb ↔ cart.rb"
    ]
    assert payload["frameworks"] == {"junit": 3, "rspec": 2}  # Surefire runs Test*.java too
    assert payload["untested_sources"] == []
    assert payload["tests_without_source"] == ["src/test/java/com/acme/TestSupport.java"]


def test_ambiguous_names_without_layout_hints_link_nothing(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "amb",
        {
            "a/utils.py": "",
            "b/utils.py": "",
            "tests/test_utils.py": "def test():\n    pass\n",
        },
    )
    payload = generate(repo)
    assert payload["links"] == [] and payload["tests_without_source"] == ["tests/test_utils.py"]


def test_deterministic_and_reuses_unchanged_test_blobs(tmp_path: Path) -> None:
    files = {f"pkg/m{i}.py": f"V = {i}\n" for i in range(5)}
    files |= {f"tests/test_m{i}.py": f"from pkg.m{i} import V\n" for i in range(5)}
    files["pkg/__init__.py"] = ""
    repo = make_repo(tmp_path / "re", files)
    cache = CountingCache()
    first = run(repo, cache)
    assert first.calls == {"extracted": 5, "reused": 0}  # only test files are read
    again = run(repo, cache)
    assert again.calls == {"extracted": 0, "reused": 5}
    assert again.entries[0].payload == first.entries[0].payload
    assert generate(repo) == first.entries[0].payload  # a cold cache gives the same answer

    write(repo, {"tests/test_m3.py": "from pkg.m3 import V\nfrom pkg.m4 import V as W\n"})
    commit(repo, "test m3 against m4 too")
    second = run(repo, cache)
    assert second.calls == {"extracted": 1, "reused": 4}
    payload = second.entries[0].payload
    assert payload["by_test"]["tests/test_m3.py"] == ["pkg/m3.py", "pkg/m4.py"]
    assert payload["by_source"]["pkg/m4.py"] == ["tests/test_m3.py", "tests/test_m4.py"]


def test_unreadable_test_files_are_skipped_not_fatal(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "bad",
        {
            "core.py": "X = 1\n",
            "test_core.py": b"\xff\xfe not utf-8 \x00\x01",
            "test_broken.py": "def (:\n",
        },
    )
    payload = generate(repo)
    assert payload["skipped"] == [{"path": "test_core.py", "reason": "binary"}]
    assert links(payload)[("core.py", "test_core.py")]["reasons"] == ["naming: test_core.py ↔ core.py"]
    assert payload["tests_without_source"] == ["test_broken.py"]

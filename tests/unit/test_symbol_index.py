"""symbol_index read from git objects: facts checked against Python's own parser, ten languages,
odd and broken files, reuse by blob, determinism, and the look-ups."""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from sqlalchemy import select

from tests.support.extracts import CountingCache, generation_context
from tests.support.factories import add_repo
from tests.support.gitrepo import commit, git, make_repo, write
from warmer.artifacts import registry
from warmer.artifacts.symbols import SymbolIndex, search, symbols_of
from warmer.artifacts.symbols.extract import extract_symbols, symbol_language
from warmer.artifacts.symbols.table import initials
from warmer.cache.extracts import DbExtractCache
from warmer.cache.store import write_result
from warmer.ledger.db import Database
from warmer.ledger.models import Repository


def run(
    repo: Path, cache: Any = None, params: dict[str, Any] | None = None, rev: str = "HEAD"
) -> tuple[dict[str, Any], dict[str, int]]:
    """The manifest with every file's symbols joined back in (`symbols`), and the extract counts."""
    ctx = generation_context(repo, rev=rev, cache=cache, params=params)
    result = SymbolIndex().generate(ctx)
    *files, manifest = result.entries
    assert manifest.path == "" and manifest.source_hash == ctx.snapshot.tree_id
    assert "symbols" not in manifest.payload  # searched through the table, served per file
    assert sorted(e.path for e in files) == sorted(manifest.payload["files"])
    for entry in files:  # per file, keyed by the file's blob: shared wherever the content is
        assert entry.source_hash == git(repo, "rev-parse", f"{rev}:{entry.path}").strip()
        assert entry.payload["symbols"] == [s for s in symbols_of(result) if s["file"] == entry.path]
    return {**manifest.payload, "symbols": symbols_of(result)}, result.calls


def generate(repo: Path, cache: Any = None, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return run(repo, cache, params)[0]


def facts(symbols: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {(s["name"], s["kind"], s["parent"], s["start_line"], s["end_line"]) for s in symbols}


def by_name(symbols: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [s for s in symbols if s["name"] == name]
    return found


@pytest.fixture(scope="module")
def click_index(click_corpus: Path) -> dict[str, Any]:
    return generate(click_corpus)


def _core_ast() -> ast.Module:
    return ast.parse((Path(click.__file__).parent / "core.py").read_bytes())


def _first_doc_line(node: ast.AST) -> str | None:
    doc = ast.get_docstring(node)  # type: ignore[arg-type]
    return doc.split("\n", 1)[0].strip() or None if doc else None


# --- real code, checked against Python's ast -------------------------------------------------------


def test_click_command_class_and_its_methods_match_ast(
    click_index: dict[str, Any], click_corpus: Path
) -> None:
    tree = _core_ast()
    command = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Command")
    ours = [s for s in click_index["symbols"] if s["file"] == "click/core.py"]
    cls = next(s for s in ours if s["name"] == "Command" and s["kind"] == "class")
    assert (cls["start_line"], cls["end_line"]) == (command.lineno, command.end_lineno)
    assert cls["doc"] == _first_doc_line(command) and cls["doc"]
    assert cls["parent"] is None and cls["signature"].startswith("class Command")

    invoke = next(n for n in command.body if isinstance(n, ast.FunctionDef) and n.name == "invoke")
    method = next(s for s in ours if s["name"] == "invoke" and s["start_line"] == invoke.lineno)
    assert method["kind"] == "method" and method["parent"] == "Command"
    assert method["end_line"] == invoke.end_lineno
    assert method["signature"].startswith("def invoke(self, ctx: Context)")
    assert method["doc"] == _first_doc_line(invoke)

    files = click_index["files"]
    assert files["click/core.py"]["blob"] == git(click_corpus, "rev-parse", "HEAD:click/core.py").strip()
    assert files["click/core.py"]["symbols"] == len(ours)
    assert click_index["tree"] == git(click_corpus, "rev-parse", "HEAD^{tree}").strip()
    assert click_index["languages"] == {"python": len(files)}
    assert click_index["skipped"] == [] and click_index["errors"] == []


def _definitions(node: ast.AST, owner: ast.AST | None = None) -> list[tuple[ast.AST, ast.AST | None]]:
    """Every def and class with the nearest def or class around it (through ifs, trys, ...)."""
    found = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.append((child, owner))
            found.extend(_definitions(child, child))
        else:
            found.extend(_definitions(child, owner))
    return found


def test_every_click_definition_agrees_with_ast(click_index: dict[str, Any]) -> None:
    """Each function and class ast finds in core.py: same name, lines, kind, parent and docstring line."""
    ours = {(s["name"], s["start_line"]): s for s in click_index["symbols"] if s["file"] == "click/core.py"}
    definitions = _definitions(_core_ast())
    for node, owner in definitions:
        assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        symbol = ours[(node.name, node.lineno)]
        assert symbol["end_line"] == node.end_lineno, node.name
        assert symbol["doc"] == _first_doc_line(node), node.name
        assert symbol["parent"] == getattr(owner, "name", None), node.name
        kind = "class" if isinstance(node, ast.ClassDef) else "function"
        if kind == "function" and isinstance(owner, ast.ClassDef):
            kind = "method"
        assert symbol["kind"] == kind, node.name
    assert len(definitions) > 100
    assert len([s for s in ours.values() if s["kind"] in ("class", "function", "method")]) == len(definitions)


def test_symbols_are_sorted_by_file_then_line_and_carry_their_file(click_index: dict[str, Any]) -> None:
    keys = [(s["file"], s["start_line"]) for s in click_index["symbols"]]
    assert keys == sorted(keys)
    assert {s["file"] for s in click_index["symbols"]} <= set(click_index["files"])
    assert all(len(s["signature"]) <= 200 for s in click_index["symbols"])


# --- ten languages ---------------------------------------------------------------------------------

SNIPPETS: dict[str, tuple[str, str, set[tuple[Any, ...]]]] = {
    "python": (
        "m.py",
        'MAX_SIZE = 10\n\n\nclass Shape(Base):\n    """A shape.\n\n    Long text."""\n\n'
        "    @property\n    def area(self) -> float:\n        return 0.0\n\n\ndef main():\n    pass\n",
        {
            ("MAX_SIZE", "constant", None, 1, 1),
            ("Shape", "class", None, 4, 11),
            ("area", "method", "Shape", 10, 11),
            ("main", "function", None, 14, 15),
        },
    ),
    "javascript": (
        "app.js",
        "/**\n * Adds numbers.\n */\nexport function add(a, b) {\n  return a + b;\n}\n\n"
        "export const double = (x) => x * 2;\n\nclass Counter {\n  increment() {\n    this.n++;\n  }\n}\n"
        "const LIMIT = 5;\nlet mutable = 1;\n",
        {
            ("add", "function", None, 4, 6),
            ("double", "function", None, 8, 8),
            ("Counter", "class", None, 10, 14),
            ("increment", "method", "Counter", 11, 13),
            ("LIMIT", "constant", None, 15, 15),
        },
    ),
    "typescript": (
        "types.ts",
        "export interface Repo {\n  name: string;\n  fetch(ref: string): Promise<void>;\n}\n\n"
        "export type Id = string;\n\nenum Color { Red, Green }\n\n"
        "export class Store implements Repo {\n  name = 'x';\n  async fetch(ref: string): Promise<void> {}\n}\n",
        {
            ("Repo", "interface", None, 1, 4),
            ("fetch", "method", "Repo", 3, 3),
            ("Id", "type", None, 6, 6),
            ("Color", "enum", None, 8, 8),
            ("Store", "class", None, 10, 13),
            ("fetch", "method", "Store", 12, 12),
        },
    ),
    "tsx": (
        "View.tsx",
        "interface Props { title: string }\n\nexport function View({ title }: Props) {\n"
        "  return <h1 className='t'>{title}</h1>;\n}\n\nexport const Empty = () => <div />;\n",
        {
            ("Props", "interface", None, 1, 1),
            ("View", "function", None, 3, 5),
            ("Empty", "function", None, 7, 7),
        },
    ),
    "go": (
        "server.go",
        "package server\n\n// Server answers requests.\ntype Server struct {\n\taddr string\n}\n\n"
        "type Handler interface {\n\tServe() error\n}\n\nconst Port = 8080\n\n"
        "// Start begins listening.\nfunc (s *Server) Start() error {\n\treturn nil\n}\n\nfunc New() *Server { return nil }\n",
        {
            ("Server", "struct", None, 4, 6),
            ("Handler", "interface", None, 8, 10),
            ("Serve", "method", "Handler", 9, 9),
            ("Port", "constant", None, 12, 12),
            ("Start", "method", "Server", 15, 17),
            ("New", "function", None, 19, 19),
        },
    ),
    "java": (
        "Shop.java",
        "package shop;\n\n/** A shop. */\npublic class Shop {\n    public static final int MAX = 3;\n"
        "    private int count;\n\n    public Shop() {}\n\n    /** Sells one. */\n    public void sell(int n) {\n"
        "        count -= n;\n    }\n\n    interface Listener {\n        void sold(int n);\n    }\n}\n",
        {
            ("Shop", "class", None, 4, 18),
            ("MAX", "constant", "Shop", 5, 5),
            ("Shop", "method", "Shop", 8, 8),
            ("sell", "method", "Shop", 11, 13),
            ("Listener", "interface", "Shop", 15, 17),
            ("sold", "method", "Listener", 16, 16),
        },
    ),
    "rust": (
        "lib.rs",
        "/// A point.\n#[derive(Debug)]\npub struct Point {\n    x: i32,\n}\n\npub trait Area {\n"
        "    fn area(&self) -> f64;\n}\n\nimpl Point {\n    pub fn new(x: i32) -> Self {\n        Point { x }\n"
        "    }\n}\n\npub enum Shape { A, B }\n\npub const ORIGIN: i32 = 0;\n\nfn helper() {}\n",
        {
            ("Point", "struct", None, 3, 5),
            ("Area", "trait", None, 7, 9),
            ("area", "method", "Area", 8, 8),
            ("new", "method", "Point", 12, 14),
            ("Shape", "enum", None, 17, 17),
            ("ORIGIN", "constant", None, 19, 19),
            ("helper", "function", None, 21, 21),
        },
    ),
    "c": (
        "list.c",
        "#include <stdlib.h>\n#define CAPACITY 16\n\n/* A node. */\nstruct node {\n    int value;\n};\n\n"
        "typedef struct node node_t;\n\n/* Allocates a node. */\nstatic node_t *node_new(int value)\n{\n"
        "    return malloc(sizeof(node_t));\n}\n",
        {
            ("CAPACITY", "constant", None, 2, 2),
            ("node", "struct", None, 5, 7),
            ("node_t", "type", None, 9, 9),
            ("node_new", "function", None, 12, 15),
        },
    ),
    "cpp": (
        "widget.cpp",
        "namespace ui {\n\n// A widget.\nclass Widget {\n public:\n  Widget();\n  void draw() const;\n"
        "  int width() { return 1; }\n};\n\n}  // namespace ui\n\nvoid ui::Widget::draw() const {}\n",
        {
            ("ui", "namespace", None, 1, 11),
            ("Widget", "class", "ui", 4, 9),
            ("Widget", "method", "Widget", 6, 6),
            ("draw", "method", "Widget", 7, 7),
            ("width", "method", "Widget", 8, 8),
            ("draw", "method", "ui::Widget", 13, 13),
        },
    ),
    "ruby": (
        "billing.rb",
        "# Billing things.\nmodule Billing\n  RATE = 3\n\n  # An invoice.\n  class Invoice < Base\n"
        "    # Totals it.\n    def total(items)\n      items.sum\n    end\n\n    def self.build\n    end\n  end\nend\n",
        {
            ("Billing", "module", None, 2, 15),
            ("RATE", "constant", "Billing", 3, 3),
            ("Invoice", "class", "Billing", 6, 14),
            ("total", "method", "Invoice", 8, 10),
            ("build", "method", "Invoice", 12, 13),
        },
    ),
    "csharp": (
        "Cart.cs",
        "namespace Shop.Cart\n{\n    /// <summary>A cart.</summary>\n    public class Cart : ICart\n    {\n"
        "        public const int Max = 9;\n        public int Count { get; set; }\n\n"
        "        public void Add(Item item)\n        {\n        }\n    }\n\n    public interface ICart { }\n}\n",
        {
            ("Shop.Cart", "namespace", None, 1, 15),
            ("Cart", "class", "Shop.Cart", 4, 12),
            ("Max", "constant", "Cart", 6, 6),
            ("Count", "property", "Cart", 7, 7),
            ("Add", "method", "Cart", 9, 11),
            ("ICart", "interface", "Shop.Cart", 14, 14),
        },
    ),
}

DOCS = {
    "python": ("Shape", "A shape."),
    "javascript": ("add", "Adds numbers."),
    "go": ("Start", "Start begins listening."),
    "java": ("sell", "Sells one."),
    "rust": ("Point", "A point."),
    "c": ("node_new", "Allocates a node."),
    "cpp": ("Widget", "A widget."),
    "ruby": ("total", "Totals it."),
    "csharp": ("Cart", "A cart."),
}


@pytest.mark.parametrize("language", sorted(SNIPPETS))
def test_each_language_finds_its_definitions(language: str) -> None:
    path, source, expected = SNIPPETS[language]
    assert symbol_language(path) == language
    payload = extract_symbols(path, language, source.encode())
    assert "error" not in payload and payload["language"] == language
    assert facts(payload["symbols"]) == expected
    if language in DOCS:
        name, doc = DOCS[language]
        assert next(s for s in payload["symbols"] if s["name"] == name)["doc"] == doc
    json.dumps(payload)  # what the extract cache stores


def test_signatures_stop_before_the_body_and_fit_on_one_line() -> None:
    source = "def build(\n    name: str,\n    count: int = 1,\n) -> list[str]:\n    return []\n"
    (symbol,) = extract_symbols("b.py", "python", source.encode())["symbols"]
    assert symbol["signature"] == "def build( name: str, count: int = 1, ) -> list[str]"
    go = extract_symbols("s.go", "go", SNIPPETS["go"][1].encode())["symbols"]
    assert by_name(go, "Start")["signature"] == "func (s *Server) Start() error"
    assert by_name(go, "Server")["signature"] == "type Server struct"
    java = extract_symbols("S.java", "java", SNIPPETS["java"][1].encode())["symbols"]
    assert by_name(java, "MAX")["signature"] == "public static final int MAX = 3;"
    long = "def f(" + ", ".join(f"a{i}" for i in range(100)) + "):\n    pass\n"
    assert len(extract_symbols("l.py", "python", long.encode())["symbols"][0]["signature"]) == 200


def test_all_ten_languages_through_the_generator(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "poly", {path: source for path, source, _ in SNIPPETS.values()})
    payload = generate(repo)
    assert payload["languages"] == {
        "c": 1, "cpp": 1, "csharp": 1, "go": 1, "java": 1, "javascript": 1, "python": 1, "ruby": 1,
        "rust": 1, "typescript": 2,
    }  # fmt: skip
    for _language, (path, _source, expected) in SNIPPETS.items():
        assert facts([s for s in payload["symbols"] if s["file"] == path]) == expected
        assert payload["files"][path]["symbols"] == len(expected)


def test_cpp_header_named_h_is_parsed_as_cpp() -> None:
    header = b"#pragma once\nnamespace geo {\nclass Box {\n public:\n  double volume() const;\n};\n}\n"
    payload = extract_symbols("box.h", symbol_language("box.h") or "", header)
    assert payload["language"] == "c" and payload["grammar"] == "cpp" and "error" not in payload
    assert facts(payload["symbols"]) == {
        ("geo", "namespace", None, 2, 7),
        ("Box", "class", "geo", 3, 6),
        ("volume", "method", "Box", 5, 5),
    }


# --- broken and odd files --------------------------------------------------------------------------


def test_a_syntax_error_keeps_the_valid_symbols_and_says_where(tmp_path: Path) -> None:
    broken = "def ok():\n    return 1\n\n\ndef broken(:\n    pass\n\n\nclass StillHere:\n    def m(self):\n        pass\n"
    repo = make_repo(tmp_path / "broken", {"bad.py": broken, "good.py": "def fine():\n    pass\n"})
    payload = generate(repo)
    bad = [s for s in payload["symbols"] if s["file"] == "bad.py"]
    assert {("ok", 1, 2), ("StillHere", 9, 11), ("m", 10, 11)} <= {
        (s["name"], s["start_line"], s["end_line"]) for s in bad
    }
    assert by_name(bad, "m")["parent"] == "StillHere"
    assert payload["files"]["bad.py"]["error"] == "syntax error near line 5"
    assert payload["errors"] == [{"path": "bad.py", "error": "syntax error near line 5"}]
    assert "error" not in payload["files"]["good.py"]
    assert [s["name"] for s in payload["symbols"] if s["file"] == "good.py"] == ["fine"]


def test_binary_non_utf8_oversized_and_symlinked_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "odd",
        {
            "blob.py": b"def f():\n    pass\n\0\0\0",
            "latin1.py": "NAME = 'caf\xe9'\n".encode("latin-1"),
            "huge.js": "function big() {}\n" + "var a = 1;\n" * 20_000,  # ~220 KB
            "README.md": "# not code\n",
            "ok.py": "def ok():\n    pass\n",
        },
    )
    os.symlink("ok.py", repo / "link.py")
    commit(repo, "odd files")
    cache = CountingCache()
    payload = generate(repo, cache, params={"max_file_bytes": 100_000})
    assert payload["skipped"] == [
        {"path": "blob.py", "reason": "binary"},
        {"path": "huge.js", "reason": "too_large"},
        {"path": "latin1.py", "reason": "non_utf8"},
        {"path": "link.py", "reason": "symlink"},
    ]
    assert set(payload["files"]) == {"ok.py"} and payload["languages"] == {"python": 1}
    assert [s["name"] for s in payload["symbols"]] == ["ok"]
    # The cap is a parameter, the cache is per blob: a larger cap parses the big file after all.
    bigger, calls = run(repo, cache, params={"max_file_bytes": 1_000_000})
    assert calls == {"extracted": 1, "reused": 3}
    assert "huge.js" in bigger["files"] and by_name(bigger["symbols"], "big")["file"] == "huge.js"
    smaller = generate(repo, cache, params={"max_file_bytes": 100_000})
    assert smaller == payload


# --- reuse, determinism, persistence -------------------------------------------------------------


def test_a_second_commit_extracts_only_the_changed_blob(click_corpus: Path, tmp_path: Path) -> None:
    cache = CountingCache()
    first, calls = run(click_corpus, cache)
    files = len(first["files"])
    assert calls == {"extracted": files, "reused": 0} and cache.computed == files
    work = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(click_corpus), str(work))
    write(
        work, {"click/utils.py": (work / "click/utils.py").read_text() + "\n\ndef added_later():\n    pass\n"}
    )
    commit(work, "change one file")
    second, calls = run(work, cache)
    assert calls == {"extracted": 1, "reused": files - 1} and cache.computed == files + 1
    added = by_name(second["symbols"], "added_later")
    assert added["file"] == "click/utils.py" and added["kind"] == "function"
    assert [s for s in second["symbols"] if s["file"] != "click/utils.py"] == [
        s for s in first["symbols"] if s["file"] != "click/utils.py"
    ]


def test_same_content_under_two_grammars_is_recomputed_not_confused(tmp_path: Path) -> None:
    source = "export function view() {\n  return 1;\n}\n"
    repo = make_repo(tmp_path / "twice", {"a.ts": source, "b.tsx": source})
    cache = CountingCache()
    payload, calls = run(repo, cache)
    assert calls["extracted"] == 1  # one blob: one cache row
    assert {(s["file"], s["name"]) for s in payload["symbols"]} == {("a.ts", "view"), ("b.tsx", "view")}
    assert generate(repo, cache) == payload


def test_deterministic_and_json_clean(click_corpus: Path, click_index: dict[str, Any]) -> None:
    again = generate(click_corpus)
    assert again == click_index
    assert json.loads(json.dumps(again, sort_keys=True)) == again


def test_extracts_persist_in_the_ledger(small_repo: Path, sqlite_db: Database) -> None:
    first = generate(small_repo, DbExtractCache(sqlite_db, "symbol_index", SymbolIndex.version))
    again = DbExtractCache(sqlite_db, "symbol_index", SymbolIndex.version)
    assert len(again.get_many([f["blob"] for f in first["files"].values()])) == 3
    assert generate(small_repo, again) == first
    assert [s["name"] for s in first["symbols"]] == ["main", "test_main"]


def test_registered_as_an_entry_point() -> None:
    assert isinstance(registry.get("symbol_index"), SymbolIndex)


# --- look-ups (through the symbols table's indexes, on both ledgers) -----------------------------


@pytest.fixture
def served(ledger: Database, click_corpus: Path) -> Iterator[Any]:
    """click's symbol index stored as a job stores it, for one branch; yields a search function."""
    repo = add_repo(ledger, name="click")
    ctx = generation_context(click_corpus)
    generator = SymbolIndex()
    result = generator.generate(ctx)
    with ledger.engine.begin() as conn:
        write_result(conn, repo_id=repo.id, branch="main", commit=ctx.commit, artifact_type="symbol_index",
                     version=generator.version, result=result, job_id=None, complete=True,
                     indexer=generator.index_entries)  # fmt: skip

    def lookup(mode: str, text: str, limit: int = 20) -> list[dict[str, Any]]:
        with ledger.session() as session:
            return getattr(search, mode)(session, repo.id, "main", text, limit)  # type: ignore[no-any-return]

    yield lookup


def test_exact_lookup(served: Any) -> None:
    command = next(n for n in _core_ast().body if isinstance(n, ast.ClassDef) and n.name == "Command")
    (found,) = served("exact", "Command")
    assert (found["file"], found["start_line"], found["kind"]) == ("click/core.py", command.lineno, "class")
    assert found["match"] == "exact"
    qualified = served("exact", "Command.invoke")
    assert [(s["parent"], s["name"]) for s in qualified] == [("Command", "invoke")]
    assert served("exact", "command") != [] and served("exact", "Nope") == []
    many = served("exact", "__init__", 1000)
    assert len(many) > 5 and many == sorted(many, key=lambda s: (s["file"], s["start_line"]))


def test_prefix_lookup(served: Any) -> None:
    found = served("prefix", "Comm", 5)
    assert found[0]["name"] == "Command" and len(found) == 5
    assert all(s["name"].casefold().startswith("comm") for s in found)
    names = [s["name"] for s in served("prefix", "Comm", 100)]
    assert "CommandCollection" in names
    assert names.index("Command") < names.index("CommandCollection") < names.index("command")
    assert served("prefix", "zzz_not_there", 5) == []
    assert served("prefix", "100%_", 5) == []  # LIKE wildcards are text, not patterns


def test_fuzzy_lookup(served: Any) -> None:
    found = served("fuzzy", "cmnd", 10)
    assert found[0]["name"].casefold() == "command" and found[0]["match"] == "subsequence"
    scores = [s["score"] for s in found]
    assert scores == sorted(scores, reverse=True)
    typo = served("fuzzy", "Cmomand", 3)  # swapped letters: one slip, not a subsequence
    assert typo[0]["name"] in ("Command", "command") and typo[0]["match"] == "typo"
    assert served("fuzzy", "get_prms", 1)[0]["name"] == "get_params"
    assert served("fuzzy", "Command", 1)[0]["match"] == "exact"
    acronym = served("fuzzy", "mc", 5)  # the initials of MultiCommand
    assert "MultiCommand" in [s["name"] for s in acronym] or "make_context" in [s["name"] for s in acronym]
    assert served("fuzzy", "cmnd", 10) == found  # same answer every time
    assert served("fuzzy", "", 10) == []
    labels = {s["name"]: s["match"] for s in served("fuzzy", "Command", 100)}
    assert labels["Command"] == "exact" and labels["command"] == "exact-ignoring-case"
    assert labels["CommandCollection"] == "prefix" and found[0]["match"] == "subsequence"


def test_a_branch_sees_only_the_symbols_it_serves(served: Any, ledger: Database) -> None:
    with ledger.session() as session:
        other = session.execute(select(Repository.id).where(Repository.name == "click")).scalar_one()
        assert search.exact(session, other, "feature", "Command", 5) == []  # no refs on that branch


def test_initials() -> None:
    assert [initials(n) for n in ("QuerySet", "get_queryset", "HTTPResponse", "parse_v2", "_x")] == [
        "qs", "gq", "hr", "pv2", "x"
    ]  # fmt: skip


def test_fuzzy_scoring_prefers_word_starts_and_short_names() -> None:
    score = search.subsequence_score
    assert score("gp", "get_params") > score("gp", "wrap_groups")  # type: ignore[operator]
    assert score("Cmd", "Command") > score("Cmd", "CommandCollection")  # type: ignore[operator]
    assert score("xyz", "Command") is None
    assert search.edit_distance("comand", "command", 1) == 1
    assert search.edit_distance("cmomand", "command", 2) == 1  # a swap of neighbours is one edit
    assert search.edit_distance("comnad", "command", 2) == 2
    assert search.edit_distance("abc", "xyz", 2) is None

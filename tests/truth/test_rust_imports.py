"""dependency_graph's Rust edges against a resolver written here from the Rust reference's rules.

Real crates from Debian's librust-*-dev (crates.io sources under /usr/share/cargo/registry). The
oracle shares no code with warmer: its own tokenizer (comments, nested block comments, strings, raw
strings, chars vs lifetimes), its own item scan (`mod`, `use`, `extern crate` at any depth, inline
`mod x { }` blocks, `#[path]`), and the reference's rules: crate roots from Cargo's target
auto-discovery, a `mod x;` file beside a mod-rs file or under a non-mod-rs file's own directory,
`use` paths from `crate`/`self`/`super`/a module in scope (2018 uniform paths), an item resolving
to its module's file. Declarations inside macro invocations are counted by the oracle (its scan does
not know macros), so a resolver that skips them loses recall here, honestly.
"""

from __future__ import annotations

import gzip
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.corpora import CorpusUnavailable, debian_package, git_repo_of
from tests.support.extracts import generation_context
from tests.support.truth_table import Table, printed_table, ratio
from warmer.artifacts.dependencies import DependencyGraph

CORPORA = ["librust-regex-syntax-dev", "librust-syn-dev", "librust-nom-dev", "librust-clap-dev"]

_TOKEN = re.compile(
    r"""(?P<ws>\s+)|(?P<line>//[^\n]*)|(?P<block>/\*)|(?P<raw>b?r(?P<hashes>\#*)")|(?P<str>b?"(?:\\.|[^"\\])*")"""
    r"""|(?P<char>b?'(?:\\.|[^'\\])')|(?P<life>'[A-Za-z_]\w*)|(?P<ident>(?:r\#)?[A-Za-z_]\w*)|(?P<path>::)"""
    r"""|(?P<punct>.)""",
    re.DOTALL,
)


def tokens(text: str) -> list[str]:
    out, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        assert match is not None
        kind = match.lastgroup
        if kind == "block":  # nested block comments
            depth, position = 1, match.end()
            while depth and position < len(text):
                if text.startswith("/*", position):
                    depth, position = depth + 1, position + 2
                elif text.startswith("*/", position):
                    depth, position = depth - 1, position + 2
                else:
                    position += 1
            continue
        if match.group("raw") is not None:
            end = text.find('"' + match.group("hashes"), match.end())
            position = len(text) if end < 0 else end + 1 + len(match.group("hashes"))
            out.append('"')
            continue
        position = match.end()
        if kind in ("ws", "line"):
            continue
        value = match.group(0)
        out.append('"' + value.split('"', 1)[1] if kind == "str" else value.removeprefix("r#"))
    return out


def _use_tree(toks: list[str], at: int, prefix: list[str]) -> tuple[list[list[str]], int]:
    """Paths of a use tree starting at toks[at]; returns (paths, index after the tree)."""
    path = list(prefix)
    while True:
        token = toks[at]
        if token == "{":
            paths, at = [], at + 1
            while toks[at] != "}":
                found, at = _use_tree(toks, at, path)
                paths.extend(found)
                if toks[at] == ",":
                    at += 1
            return paths, at + 1
        if token == "*":
            return [[*path, "*"]], at + 1
        if token == "self" and path:
            at += 1
        else:
            path.append(token)
            at += 1
        if toks[at] == "::":
            at += 1
            continue
        if toks[at] == "as":
            at += 2
        return [path], at


def scan(text: str) -> tuple[list[tuple[list[str], str, str | None]], list[tuple[list[str], list[str]]]]:
    """(mod declarations (scope, name, #[path]), use paths (scope, path)) of one file."""
    toks = [*tokens(text), ";"]
    mods, uses, scope_stack, depth = [], [], [], 0
    path_attr = None
    at = 0
    while at < len(toks) - 1:
        token = toks[at]
        if token == "#" and toks[at + 1] == "[" and toks[at + 2] == "path" and toks[at + 3] == "=":
            path_attr = toks[at + 4].strip('"')
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if scope_stack and scope_stack[-1][1] == depth:
                scope_stack.pop()
        elif token == "mod" and re.match(r"^[A-Za-z_]\w*$", toks[at + 1]):
            name, after = toks[at + 1], toks[at + 2]
            scope = [s for s, _ in scope_stack]
            if after == ";":
                mods.append((scope, name, path_attr))
            elif after == "{":
                mods.append((scope, name, "inline"))
                scope_stack.append((name, depth))
                depth += 1
                at += 3
                path_attr = None
                continue
        elif token == "use" and toks[at + 1] not in ("(", "=", ","):
            start = at + 1 + (toks[at + 1] == "::")
            found, at = _use_tree(toks, start, [])
            uses.extend(([s for s, _ in scope_stack], p) for p in found)
            continue
        elif token == "extern" and toks[at + 1] == "crate":
            uses.append(([s for s, _ in scope_stack], [toks[at + 2]]))
        if token in (";", "}"):
            path_attr = None
        at += 1
    return mods, uses


def rust_oracle(crate_dir: Path) -> set[tuple[str, str]]:
    manifest = tomllib.loads((crate_dir / "Cargo.toml").read_text())
    files = {str(p.relative_to(crate_dir)): p.read_text(errors="replace") for p in crate_dir.rglob("*.rs")}
    lib = manifest.get("lib", {}).get("path", "src/lib.rs")
    roots = [lib] if lib in files else []
    for path in sorted(files):
        parts = path.split("/")
        top_target = parts[0] in ("tests", "examples", "benches") and len(parts) == 2
        if (
            path in ("src/main.rs", "build.rs")
            or top_target
            or (parts[:2] == ["src", "bin"] and len(parts) == 3)
        ):
            roots.append(path)
    for kind in ("bin", "test", "example", "bench"):
        roots += [t["path"] for t in manifest.get(kind, []) if "path" in t and t["path"] in files]
    deps = {
        k.replace("-", "_")
        for key in ("dependencies", "dev-dependencies", "build-dependencies")
        for k in manifest.get(key, {})
    }
    crate_name = manifest.get("lib", {}).get("name", manifest["package"]["name"]).replace("-", "_")
    edition = str(manifest["package"].get("edition", "2015"))
    scanned = {path: scan(text) for path, text in files.items()}

    edges: set[tuple[str, str]] = set()
    trees: list[tuple[dict, dict, dict]] = []
    owner: dict[str, tuple[int, tuple[str, ...]]] = {}
    lib_tree = None
    for root in dict.fromkeys(roots):
        number = len(trees)
        module_file: dict[tuple[str, ...], str] = {}
        children: dict[tuple[str, ...], set[str]] = {}
        pending = [(root, ())]
        while pending:
            path, module = pending.pop()
            if path in owner or path not in files:
                continue
            owner[path] = (number, module)
            module_file[module] = path
            directory = (
                str(Path(path).parent)
                if path == root or path.endswith("mod.rs")
                else str(Path(path).with_suffix(""))
            )
            for scope, name, attr in scanned[path][0]:
                child = (*module, *scope, name)
                children.setdefault((*module, *scope), set()).add(name)
                if attr == "inline":
                    module_file.setdefault(child, path)
                    continue
                base = str(Path(directory, *scope))
                if attr:  # the reference's table: beside the file, or under the inline modules' directory
                    candidates = [f"{base}/{attr}" if scope else str(Path(path).parent / attr)]
                else:
                    candidates = [f"{base}/{name}.rs", f"{base}/{name}/mod.rs"]
                candidates = [os.path.normpath(c) for c in candidates]
                found = next((c for c in candidates if c in files), None)
                if found:
                    edges.add((path, found))
                    pending.append((found, child))
        trees.append((module_file, children, {"root": root}))
        if root == lib:
            lib_tree = number

    def deepest(tree: int, base: tuple[str, ...], rest: list[str]) -> str | None:
        module_file = trees[tree][0]
        for end in range(len(rest), -1, -1):
            if (*base, *rest[:end]) in module_file:
                return module_file[(*base, *rest[:end])]
        return None

    for path, (_, uses) in scanned.items():
        if path not in owner:
            continue
        tree, module = owner[path]
        children = trees[tree][1]
        for scope, use_path in uses:
            current = (*module, *scope)
            first, rest = use_path[0], [s for s in use_path[1:] if s != "*"]
            if first == "crate":
                target = deepest(tree, (), rest)
            elif first in ("self", "super"):
                base, segments = list(current), list(use_path)
                while segments and segments[0] in ("self", "super"):
                    if segments[0] == "super" and base:
                        base.pop()
                    segments = segments[1:]
                target = deepest(tree, tuple(base), [s for s in segments if s != "*"])
            elif first in children.get(current, set()):
                target = deepest(tree, current, [first, *rest])
            elif edition == "2015" and first in children.get((), set()):
                target = deepest(tree, (), [first, *rest])
            elif first == crate_name and lib_tree is not None and tree != lib_tree:
                target = deepest(lib_tree, (), rest)
            else:
                target = None  # std, an external crate (`deps`), or an item in scope
                assert first not in deps or first not in children.get(current, set())
            if target and target != path:
                edges.add((path, target))
    return edges


@pytest.fixture(scope="module")
def edge_table(request: pytest.FixtureRequest) -> Iterator[Table]:
    yield from printed_table(
        request,
        "dependency_graph Rust edges vs a resolver from the Rust reference",
        ["language", "corpus", "version", "files", "oracle edges", "edges", "recall", "precision"],
    )


@pytest.mark.parametrize("package", CORPORA)
def test_rust_edges_match_the_reference_rules(package: str, tmp_path: Path, edge_table: Table) -> None:
    try:
        tree = debian_package(package)
    except CorpusUnavailable as exc:
        pytest.skip(str(exc))
    (crate_dir,) = (tree / "usr/share/cargo/registry").iterdir()
    oracle = rust_oracle(crate_dir)
    repo = git_repo_of(crate_dir, tmp_path / "repo")
    payload = DependencyGraph().generate(generation_context(repo)).entries[0].payload
    mine = {(e["from"], e["to"]) for e in payload["internal_edges"] if e["from"].endswith(".rs")}
    recall = ratio(len(oracle & mine), len(oracle))
    precision = ratio(len(oracle & mine), len(mine))
    changelog = tree / "usr/share/doc" / package / "changelog.Debian.gz"
    version = gzip.decompress(changelog.read_bytes()).decode().splitlines()[0].split("(")[1].split(")")[0]
    edge_table.add(
        language="rust",
        corpus=f"{package} ({crate_dir.name})",
        version=version,
        files=sum(1 for _ in crate_dir.rglob("*.rs")),
        **{"oracle edges": len(oracle), "edges": len(mine)},
        recall=f"{recall:.3f}",
        precision=f"{precision:.3f}",
    )
    assert len(oracle) > 20
    assert recall >= 0.95, sorted(oracle - mine)[:20]
    assert precision >= 0.95, sorted(mine - oracle)[:20]

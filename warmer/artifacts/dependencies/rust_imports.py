"""Rust imports: `mod`, `use` and `extern crate` of each file (tree-sitter), resolved through the crates'
module trees.

The rules are the Rust reference's. A crate starts at its root file (`src/lib.rs`, `src/main.rs`,
`src/bin/*.rs`, `tests/*.rs`, `examples/*.rs`, `benches/*.rs`, `build.rs`, or the paths Cargo.toml
names). `mod x;` in a root or `mod.rs` file is `x.rs` or `x/mod.rs` beside it; in `a.rs` it is
`a/x.rs` or `a/x/mod.rs`; `#[path = "p"]` overrides that, relative to the declaring file's
directory (inside inline modules, to their directory: `a/inline/p` in `a.rs`). A `use` path
starts at `crate`, `self`, `super`, a module in scope (2018 "uniform paths"; 2015 paths start at
the crate root), another crate of the workspace or a path dependency (by its library name), or an
external crate. It resolves to the file of the deepest module it names (an item lives in its
module's file). Paths inside macro invocations are not read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import PurePosixPath
from typing import Any

from tree_sitter import Language, Node, Parser, Query, QueryCursor
from tree_sitter_language_pack import get_language

_QUERY = "(mod_item) @mod (use_declaration) @use (extern_crate_declaration) @extern"
STDLIB_CRATES = frozenset({"std", "core", "alloc", "proc_macro", "test"})


@cache
def _grammar() -> tuple[Language, Query]:
    language = get_language("rust")
    return language, Query(language, _QUERY)


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _segments(node: Node) -> list[str]:
    return [s.strip().removeprefix("r#") for s in _text(node).split("::") if s.strip()]


def _use_paths(node: Node, prefix: list[str]) -> list[list[str]]:
    """A use tree flattened: `a::{b, c::*, self}` → [a, b], [a, c, *], [a]."""
    kind = node.type
    if kind in ("identifier", "scoped_identifier", "crate", "self", "super", "metavariable"):
        segments = _segments(node)
        return [prefix if segments == ["self"] else prefix + segments]
    if kind == "use_as_clause":
        path = node.child_by_field_name("path")
        return _use_paths(path, prefix) if path is not None else []
    if kind == "use_wildcard":
        inner = [c for c in node.named_children]
        base = prefix + (_segments(inner[0]) if inner else [])
        return [[*base, "*"]]
    if kind == "scoped_use_list":
        path = node.child_by_field_name("path")
        base = prefix + (_segments(path) if path is not None else [])
        items = node.child_by_field_name("list")
        return _use_paths(items, base) if items is not None else [base]
    if kind == "use_list":
        return [p for child in node.named_children for p in _use_paths(child, prefix)]
    return []


def _scope(node: Node) -> list[str]:
    """The inline modules (`mod a { ... }`) around a node, outermost first."""
    names: list[str] = []
    parent = node.parent
    while parent is not None:
        if parent.type == "mod_item" and parent.child_by_field_name("body") is not None:
            name = parent.child_by_field_name("name")
            if name is not None:
                names.insert(0, _text(name))
        parent = parent.parent
    return names


def _path_attribute(node: Node) -> str | None:
    sibling = node.prev_named_sibling
    while sibling is not None and sibling.type == "attribute_item":
        text = _text(sibling)
        if text.replace(" ", "").startswith("#[path="):
            return text.split("=", 1)[1].strip().rstrip("]").strip().strip('"')
        sibling = sibling.prev_named_sibling
    return None


def extract_rust_imports(text: str) -> dict[str, Any]:
    """Module declarations, use paths and extern crates, each with the inline-module scope it sits in."""
    language, query = _grammar()
    tree = Parser(language).parse(text.encode())
    captures = QueryCursor(query).captures(tree.root_node)
    mods: set[tuple[tuple[str, ...], str, bool, str]] = set()
    for node in captures.get("mod", []):
        name = node.child_by_field_name("name")
        if name is not None:
            inline = node.child_by_field_name("body") is not None
            mods.add((tuple(_scope(node)), _text(name), inline, _path_attribute(node) or ""))
    uses: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    for node in captures.get("use", []):
        argument = node.child_by_field_name("argument")
        if argument is not None:
            scope = tuple(_scope(node))
            uses.update((scope, tuple(path)) for path in _use_paths(argument, []) if path)
    externs = {
        _text(n.child_by_field_name("name"))
        for n in captures.get("extern", [])
        if n.child_by_field_name("name")
    }
    result: dict[str, Any] = {
        "mods": [
            {"scope": list(s), "name": n, "inline": i, "path": p or None} for s, n, i, p in sorted(mods)
        ],
        "uses": [{"scope": list(s), "path": list(p)} for s, p in sorted(uses)],
        "extern_crates": sorted(externs),
    }
    if tree.root_node.has_error:
        error = _first_error(tree.root_node)
        result["error"] = f"parse error (line {error})"
        result["line"] = error
    return result


def _first_error(node: Node) -> int:
    pending = [node]
    while pending:
        current = pending.pop(0)
        if current.type == "ERROR" or current.is_missing:
            return current.start_point[0] + 1
        pending[:0] = [c for c in current.children if c.has_error or c.is_missing or c.type == "ERROR"]
    return node.start_point[0] + 1


# --- the crates and their module trees ---------------------------------------------------------


@dataclass
class Crate:
    name: str  # how other crates `use` it (library name, `-` → `_`)
    package_dir: str
    edition: str
    lib_root: str | None
    other_roots: list[str]  # binaries, tests, examples, benches, build script: a crate tree each
    dependencies: dict[str, str] = field(default_factory=dict)  # name in code → package dir (workspace/path)
    declared: set[str] = field(default_factory=set)  # every dependency's name in code


def _join(directory: str, *parts: str) -> str:
    joined = PurePosixPath(directory, *parts) if directory else PurePosixPath(*parts)
    normal: list[str] = []
    for part in joined.parts:
        if part == "..":
            if normal:
                normal.pop()
        elif part != ".":
            normal.append(part)
    return "/".join(normal)


def _dir(path: str) -> str:
    parent = str(PurePosixPath(path).parent)
    return "" if parent == "." else parent


def crate_roots(package_dir: str, manifest: dict[str, Any], files: set[str]) -> tuple[str | None, list[str]]:
    """(library root, other target roots) of one Cargo package: declared paths and Cargo's auto-discovery."""
    lib = manifest.get("lib_path") or "src/lib.rs"
    lib_root = _join(package_dir, lib) if _join(package_dir, lib) in files else None
    others = [_join(package_dir, p) for p in manifest.get("target_paths", [])]
    prefix = f"{package_dir}/" if package_dir else ""
    for path in sorted(files):
        if not path.startswith(prefix) or not path.endswith(".rs"):
            continue
        below = path[len(prefix) :]
        parts = below.split("/")
        if (
            below in ("src/main.rs", "build.rs")
            or (
                parts[0] in ("tests", "examples", "benches")
                and (len(parts) == 2 or (len(parts) == 3 and parts[2] == "main.rs"))
            )
            or (
                parts[:2] == ["src", "bin"]
                and (len(parts) == 3 or (len(parts) == 4 and parts[3] == "main.rs"))
            )
        ):
            others.append(path)
    return lib_root, sorted({p for p in others if p in files and p != lib_root})


class RustIndex:
    """Module tree of every crate target: file → (tree, module path), (tree, module path) → file."""

    def __init__(self, crates: list[Crate], files: dict[str, dict[str, Any]]) -> None:
        self.crates = crates
        self.by_dir = {c.package_dir: c for c in crates}
        self.tree_crate: list[Crate] = []  # tree id → its package
        self.lib_tree: dict[str, int] = {}  # package dir → the tree id of its library
        self.module_of: dict[str, tuple[int, tuple[str, ...]]] = {}
        self.file_of: dict[tuple[int, tuple[str, ...]], str] = {}
        self.children: dict[tuple[int, tuple[str, ...]], set[str]] = defaultdict(set)
        self.mod_edges: dict[str, set[str]] = defaultdict(set)
        self.unresolved_mods: dict[str, list[str]] = defaultdict(list)
        for crate in crates:  # libraries first: a file reached from a library belongs to it
            if crate.lib_root:
                self.lib_tree[crate.package_dir] = len(self.tree_crate)
                self._walk(len(self.tree_crate), crate.lib_root, files)
                self.tree_crate.append(crate)
        for crate in crates:
            for root in crate.other_roots:
                self._walk(len(self.tree_crate), root, files)
                self.tree_crate.append(crate)

    def _walk(self, crate: int, root: str, files: dict[str, dict[str, Any]]) -> None:
        pending = [(root, ())]
        while pending:
            path, module = pending.pop()
            if path in self.module_of or path not in files:
                continue
            self.module_of[path] = (crate, module)
            self.file_of[(crate, module)] = path
            name = PurePosixPath(path).name
            is_mod_root = path == root or name == "mod.rs"
            own_dir = _dir(path) if is_mod_root else _join(_dir(path), PurePosixPath(path).stem)
            for decl in files[path].get("mods", []):
                scope = tuple(decl["scope"])
                child = (*module, *scope, decl["name"])
                self.children[(crate, (*module, *scope))].add(decl["name"])
                if decl["inline"]:
                    self.file_of.setdefault((crate, child), path)
                    continue
                if decl["path"]:  # the reference: beside the file, or under its inline modules' directory
                    candidates = [
                        _join(own_dir, *scope, decl["path"]) if scope else _join(_dir(path), decl["path"])
                    ]
                else:
                    base = _join(own_dir, *scope)
                    candidates = [_join(base, decl["name"] + ".rs"), _join(base, decl["name"], "mod.rs")]
                found = next((c for c in candidates if c in files), None)
                if found:
                    self.mod_edges[path].add(found)
                    pending.append((found, child))
                else:
                    self.unresolved_mods[path].append(f"mod {decl['name']}")

    def crate_of(self, path: str) -> tuple[Crate | None, int, tuple[str, ...]]:
        found = self.module_of.get(path)
        if found is None:
            return None, -1, ()
        tree, module = found
        return self.tree_crate[tree], tree, module

    def deepest(self, crate: int, base: tuple[str, ...], rest: list[str]) -> str | None:
        """The file of the deepest module along base + rest (an item resolves to its module's file)."""
        for end in range(len(rest), -1, -1):
            found = self.file_of.get((crate, (*base, *rest[:end])))
            if found:
                return found
        return None


def resolve_rust(
    path: str, extract: dict[str, Any], index: RustIndex
) -> tuple[set[str], set[str], set[str], list[str]]:
    """(internal target files, external crates, standard crates, unresolved) for one file."""
    internal = set(index.mod_edges.get(path, ()))
    external: set[str] = set()
    stdlib: set[str] = set()
    unresolved = list(index.unresolved_mods.get(path, []))
    crate, tree, module = index.crate_of(path)
    if crate is None:
        if extract.get("uses") or extract.get("mods"):
            unresolved.append("file is not reached from any crate root")
        return internal, external, stdlib, unresolved
    uses = [(u["scope"], u["path"]) for u in extract.get("uses", [])]
    uses += [([], [name]) for name in extract.get("extern_crates", [])]
    for scope, use_path in uses:
        current = (*module, *scope)
        first, rest = use_path[0], [s for s in use_path[1:] if s != "*"]
        other = crate.dependencies.get(first)
        if first in ("crate", "$crate"):
            target = index.deepest(tree, (), rest)
        elif first in ("self", "super"):
            base = list(current)
            segments = list(use_path)
            while segments and segments[0] in ("self", "super"):
                if segments[0] == "super" and base:
                    base.pop()
                segments = segments[1:]
            target = index.deepest(tree, tuple(base), [s for s in segments if s != "*"])
        elif first in index.children.get((tree, current), ()):
            target = index.deepest(tree, current, [first, *rest])
        elif crate.edition == "2015" and first in index.children.get((tree, ()), ()):
            target = index.deepest(tree, (), [first, *rest])
        elif (
            first == crate.name and crate.package_dir in index.lib_tree
        ):  # a binary or test using its library
            target = index.deepest(index.lib_tree[crate.package_dir], (), rest)
        elif other is not None and other in index.lib_tree:  # a workspace member or path dependency
            target = index.deepest(index.lib_tree[other], (), rest)
        elif first in STDLIB_CRATES:
            stdlib.add(first)
            continue
        elif first in crate.declared:
            external.add(first)
            continue
        else:  # an item in scope (`use Ordering::*` after importing Ordering): no module to link
            continue
        if target:
            internal.add(target)
    internal.discard(path)
    return internal, external, stdlib, unresolved

"""Which router a reference in one file names: imports and exports followed across the commit.

Each language finds modules its own way, as its runtime would:

* Python: `from pkg.api import bp`, `from . import views`, `import pkg.api as api`; a dotted module
  is the file whose path ends with it (so `src/` layouts work), `__init__.py` re-exports followed.
* JavaScript/TypeScript: relative `require()`/`import` specifiers with Node's extension and
  `index` lookup (and TypeScript's `./x.js` meaning `./x.ts`); `export default`, `export { a as b }`,
  `module.exports = …`, `exports.x = …`.
* Go: one package is one directory; a call `pkg.Register(v1)` goes to the directory whose path the
  import path ends with, a bare `Register(v1)` stays in the caller's package. References are
  scoped by function (`Routes.v1`), and a parameter or returned router joins caller and callee.
* Rust: functions are found by name, in the same file first, then anywhere in the crate.
"""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath
from typing import Any

Node = tuple[str, str]
_MAX_DEPTH = 8
_JS_EXTENSIONS = (".js", ".ts", ".mjs", ".cjs", ".jsx", ".tsx", ".mts", ".cts")


class Resolver:
    """Turns (file, local reference) into a global router node, across the commit's extracts."""

    def __init__(self, extracts: list[tuple[str, dict[str, Any]]], all_paths: set[str]) -> None:
        self.extracts = dict(extracts)
        self.kind = {path: extract["kind"] for path, extract in extracts}
        self.all_paths = all_paths
        self._python_modules: dict[str, list[str]] = {}
        self._go_dirs: set[str] = set()
        self._functions: dict[str, list[str]] = {}  # Rust/Go function name → files or packages
        self._methods: dict[str, list[str]] = {}  # Go method name → `Type.Method` keys
        for path, extract in extracts:
            if extract["kind"] == "python":
                dotted = _python_module(path)
                parts = dotted.split(".")
                for start in range(len(parts)):
                    self._python_modules.setdefault(".".join(parts[start:]), []).append(path)
            elif extract["kind"] == "go":
                self._go_dirs.add(_dir(path))
            for name in extract.get("functions", {}):
                self._functions.setdefault(name, []).append(_dir(path) if extract["kind"] == "go" else path)
                if "." in name:
                    self._methods.setdefault(name.rsplit(".", 1)[1], []).append(name)
        self.known: set[Node] = set()
        for path, extract in extracts:
            for route in extract.get("routes", []):
                if route.get("router") is not None:
                    self.known.add(self.node(path, route["router"]))
            for mount in extract.get("mounts", []):
                self.known.add(self.node(path, mount["parent"]))
            for name in extract.get("routers", {}):
                self.known.add(self.node(path, name))

    # -- public ---------------------------------------------------------------------------------

    def node(self, path: str, ref: Any) -> Node:
        """The global node of a reference (a name, or a call/parameter reference in Go and Rust)."""
        found = self._resolve(path, ref, 0)
        if found:
            return found[0]
        return (self._key(path), ref if isinstance(ref, str) else repr(sorted(ref.items())))

    def view(self, path: str, ref: str) -> tuple[str, dict[str, Any]] | None:
        """The file and facts of a Python view a reference names (a function or class)."""
        for file, name in self._resolve(path, ref, 0):
            fact = self.extracts.get(file, {}).get("views", {}).get(name)
            if fact is not None:
                return file, fact
        return None

    def targets(self, path: str, ref: Any) -> list[Node]:
        """The known routers a mounted reference names; empty when none is in the commit."""
        return [node for node in self._resolve(path, ref, 0) if node in self.known]

    # -- dispatch -------------------------------------------------------------------------------

    def _key(self, path: str) -> str:
        return _dir(path) if self.kind.get(path) == "go" else path

    def _resolve(self, path: str, ref: Any, depth: int) -> list[Node]:
        if depth > _MAX_DEPTH or path not in self.extracts:
            return []
        kind = self.kind[path]
        if isinstance(ref, dict) and "module" in ref:  # Django `include("blog.urls")`
            target = self._python_file(ref["module"])
            return [(target, "urlpatterns")] if target else []
        if isinstance(ref, dict):
            return self._call(path, ref)
        if kind == "python":
            return self._python(path, ref, depth)
        if kind in ("javascript", "typescript", "tsx"):
            return self._js(path, ref, depth)
        return [(self._key(path), ref)]

    # -- Python ---------------------------------------------------------------------------------

    def _python(self, path: str, ref: str, depth: int) -> list[Node]:
        imports = self.extracts[path].get("imports", {})
        head, _, rest = ref.partition(".")
        imported = imports.get(head)
        if imported is None:
            return [(path, ref)]
        module = _absolute(imported["module"], imported.get("level", 0), path)
        name = imported.get("name")
        if name is not None:
            submodule = self._python_file(f"{module}.{name}" if module else name)
            if submodule is not None:
                return self._python(submodule, rest, depth + 1) if rest else []
            target = self._python_file(module)
            if target is None:
                return []
            return self._python(target, name + ("." + rest if rest else ""), depth + 1)
        parts = rest.split(".") if rest else []
        for cut in range(len(parts), -1, -1):  # the longest module prefix that is a file
            target = self._python_file(".".join([module, *parts[:cut]]))
            if target is not None and parts[cut:]:
                return self._python(target, ".".join(parts[cut:]), depth + 1)
        return []

    def _python_file(self, module: str) -> str | None:
        if not module:
            return None
        candidates = self._python_modules.get(module, [])
        return min(candidates, key=lambda p: (len(p), p)) if candidates else None

    # -- JavaScript / TypeScript ----------------------------------------------------------------

    def _js(self, path: str, ref: str, depth: int) -> list[Node]:
        extract = self.extracts[path]
        head, _, rest = ref.partition(".")
        imported = extract.get("imports", {}).get(head)
        if imported is None:
            return [(path, ref)]
        target = self._js_file(path, imported["module"])
        if target is None:
            return []
        name = imported.get("name") or "default"
        if name == "*":
            if not rest:
                return []
            name, _, rest = rest.partition(".")
        exports = self.extracts[target].get("exports", {})
        local = exports.get(name)
        if local is None:
            return []
        return self._js(target, local + ("." + rest if rest else ""), depth + 1)

    def _js_file(self, path: str, spec: str) -> str | None:
        if not spec.startswith("."):
            return None
        base = posixpath.normpath(posixpath.join(posixpath.dirname(path), spec))
        stem = base.rsplit(".", 1)[0] if base.endswith(_JS_EXTENSIONS) else None
        candidates = [base, *(base + ext for ext in _JS_EXTENSIONS)]
        candidates += [f"{base}/index{ext}" for ext in _JS_EXTENSIONS]
        if stem is not None:
            candidates += [stem + ext for ext in _JS_EXTENSIONS]
        return next((c for c in candidates if c in self.extracts), None)

    # -- Go and Rust calls ----------------------------------------------------------------------

    def _call(self, path: str, ref: dict[str, Any]) -> list[Node]:
        """`{"call": F, "pkg": alias, "arg": i}` (F's i-th parameter) or `{..., "returns": true}`."""
        kind = self.kind[path]
        found: list[Node] = []
        for key, place in self._call_places(path, ref, kind):
            for file in self._files_of(place, kind):
                function = self.extracts[file].get("functions", {}).get(key)
                if function is None:
                    continue
                if "returns" in ref:
                    local = function.get("returns")
                elif "arg" in ref and ref["arg"] < len(function.get("params", [])):
                    local = function["params"][ref["arg"]]
                else:
                    local = None
                if local:
                    found.append((place, f"{key}.{local}") if kind == "go" else (file, local))
        if not found and ref.get("or"):
            found.append((path, ref["or"]))
        return found

    def _call_places(self, path: str, ref: dict[str, Any], kind: str) -> list[tuple[str, str]]:
        """(function key, file or package) where the called function may be defined."""
        name = ref["call"]
        here = _dir(path) if kind == "go" else path
        if kind == "go":
            alias = ref.get("pkg")
            import_path = self.extracts[path].get("imports", {}).get(alias) if alias else None
            if ref.get("recv"):
                key = f"{ref['recv']}.{name}"
                return [(key, here)] if here in self._functions.get(key, []) else []
            if alias and import_path is not None:
                return [(name, d) for d in self._functions.get(name, []) if _go_dir_matches(d, import_path)]
            if alias:  # a method on a value (`h.Register(r)`): one method of that name in the package
                keys = [k for k in self._methods.get(name, []) if here in self._functions.get(k, [])]
                return [(keys[0], here)] if len(keys) == 1 else []
            return [(name, here)] if here in self._functions.get(name, []) else []
        places = self._functions.get(name, [])
        if here in places:
            return [(name, here)]
        modules = (ref.get("pkg") or "").split("::")[:-1]
        hinted = [
            p
            for p in places
            if modules and (PurePosixPath(p).stem in modules or modules[-1] == PurePosixPath(p).parent.name)
        ]
        return [(name, p) for p in (hinted or (places if len(places) <= 2 else []))]

    def _files_of(self, place: str, kind: str) -> list[str]:
        if kind != "go":
            return [place]
        return [p for p in self.extracts if self.kind[p] == "go" and _dir(p) == place]


def _dir(path: str) -> str:
    return posixpath.dirname(path)


def _go_dir_matches(directory: str, import_path: str) -> bool:
    return (
        directory == import_path
        or import_path.endswith("/" + directory)
        or directory.endswith("/" + import_path)
    )


def _python_module(path: str) -> str:
    pure = PurePosixPath(path).with_suffix("")
    parts = list(pure.parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(module: str, level: int, path: str) -> str:
    """`..models` seen from `pkg/sub/views.py` → `pkg.models`."""
    if not level:
        return module
    package = _python_module(path).split(".")
    if not path.endswith("__init__.py"):
        package = package[:-1]
    base = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join([*base, module] if module else base)

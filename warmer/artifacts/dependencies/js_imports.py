"""JavaScript/TypeScript module specifiers (regex over source) and their resolution to files.

Static `import ... from 'x'`, side-effect `import 'x'`, `export ... from 'x'`,
`require('x')` and dynamic `import('x')` with a literal argument. Block
comments and whole-line `//` comments are removed first so commented-out code
does not count. Bare specifiers go through the governing tsconfig's
`paths`/`baseUrl` (`tsconfig.py`) and the repository's own package names before they are reported
as packages; package `exports` maps are not read.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from warmer.artifacts.dependencies.tsconfig import TsConfigs, resolve_alias

_SPECIFIER = re.compile(
    # `\s*` around braces and quotes: minified bundles write `import{a as b}from"./x.js"`
    r"""(?:(?<![\w$.'"])import\s*(?:type\s+)?(?:[\w*${}\s,]+?\s*\bfrom\s*)?"""
    r"""|(?<![\w$.'"])export\s*(?:type\s+)?[\w*${}\s,]*?\s*\bfrom\s*"""
    r"""|(?<![\w$.])require\s*\(\s*|(?<![\w$.])import\s*\(\s*)(['"])([^'"\n]+)\1(?!\s*\+)"""
)
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_LINE_COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)

NODE_BUILTINS = frozenset(
    {
        "assert",
        "async_hooks",
        "buffer",
        "child_process",
        "cluster",
        "console",
        "constants",
        "crypto",
        "dgram",
        "diagnostics_channel",
        "dns",
        "domain",
        "events",
        "fs",
        "http",
        "http2",
        "https",
        "inspector",
        "module",
        "net",
        "os",
        "path",
        "perf_hooks",
        "process",
        "punycode",
        "querystring",
        "readline",
        "repl",
        "stream",
        "string_decoder",
        "sys",
        "test",
        "timers",
        "tls",
        "trace_events",
        "tty",
        "url",
        "util",
        "v8",
        "vm",
        "wasi",
        "worker_threads",
        "zlib",
    }
)
_EXTENSIONS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".d.ts", ".json")


def extract_js_imports(text: str) -> dict[str, Any]:
    """The module specifiers one file names, sorted and unique (their order changes no edge)."""
    code = _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub("", text))
    return {"imports": sorted({match.group(2) for match in _SPECIFIER.finditer(code)})}


def package_of(specifier: str) -> str:
    """`@scope/name/deep/path` → `@scope/name`; `lodash/fp` → `lodash`."""
    parts = specifier.split("/")
    return "/".join(parts[:2]) if specifier.startswith("@") and len(parts) > 1 else parts[0]


def is_builtin(specifier: str) -> bool:
    return specifier.startswith("node:") or specifier.split("/")[0] in NODE_BUILTINS


def find_module(target: str, files: set[str], mains: dict[str, str] | None = None) -> str | None:
    """Node/TypeScript file resolution of a repository path: as written, with an extension, a directory's
    package.json `main` or `index.*`, or a `.js` name whose source is `.ts`."""
    target = "" if target == "." else target
    candidates = [target] + [target + ext for ext in _EXTENSIONS]
    main = (mains or {}).get(target)
    if main:
        main_path = posixpath.normpath(posixpath.join(target, main))
        candidates += [main_path] + [main_path + ext for ext in _EXTENSIONS]
    candidates += [posixpath.join(target, f"index{ext}") for ext in _EXTENSIONS]
    stem, ext = posixpath.splitext(target)
    if ext in (".js", ".jsx", ".mjs", ".cjs"):  # TypeScript ESM imports name the emitted .js file
        candidates += [stem + ts for ts in (".ts", ".tsx", ".mts", ".cts")]
    return next((c for c in candidates if c in files), None)


def resolve_relative(
    importer: str, specifier: str, files: set[str], mains: dict[str, str] | None = None
) -> str | None:
    """The file a `./` or `../` specifier names, or None when it is not in the repository."""
    target = posixpath.normpath(posixpath.join(posixpath.dirname(importer), specifier))
    if target.startswith("../") or target == "..":
        return None
    return find_module(target, files, mains)


def is_relative(specifier: str) -> bool:
    return specifier.startswith(("./", "../")) or specifier in (".", "..")


def resolve_js(
    importer: str,
    specifiers: list[str],
    files: set[str],
    mains: dict[str, str],
    tsconfigs: TsConfigs | None = None,
    packages: dict[str, str] | None = None,
) -> tuple[set[str], set[str], set[str], list[str]]:
    """(internal target files, external packages, node builtins, unresolved relative specifiers).

    A bare specifier is tried, in TypeScript's order, against the governing tsconfig's `paths` and
    `baseUrl`, then as a package of the repository itself (a workspace's `name`), then it is external."""
    internal: set[str] = set()
    external: set[str] = set()
    builtins: set[str] = set()
    unresolved: list[str] = []
    config = tsconfigs.governing(importer) if tsconfigs else None
    resolution = tsconfigs.resolution(config) if tsconfigs and config else None
    for specifier in specifiers:
        if is_relative(specifier):
            found = resolve_relative(importer, specifier, files, mains)
            if found:
                internal.add(found)
            else:
                unresolved.append(specifier)
            continue
        if specifier.startswith("/") or "://" in specifier:
            continue
        if resolution is not None:
            found = resolve_alias(specifier, resolution, lambda target: find_module(target, files, mains))
            if found:
                internal.add(found)
                continue
        if is_builtin(specifier):
            builtins.add(specifier.removeprefix("node:").split("/")[0])
            continue
        package = package_of(specifier)
        if packages and package in packages:
            inside = posixpath.normpath(
                posixpath.join(packages[package], specifier[len(package) :].lstrip("/"))
            )
            found = find_module(inside, files, mains)
            if found:
                internal.add(found)
                continue
        external.add(package)
    internal.discard(importer)
    return internal, external, builtins, unresolved

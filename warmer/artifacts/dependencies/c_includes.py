"""C and C++ `#include` (and Objective-C-style `#import`) directives, resolved to the repository's headers.

The preprocessor's rule: `#include "x.h"` looks in the including file's own directory first, then
in the include directories; `#include <x.h>` only in the include directories. Those directories
come from the build (CMake, Make, Meson, setup.py), which is not evaluated here; but whatever `-I`
directory D makes `a/b.h` resolve, `D/a/b.h` is a file of the repository whose path ends with
`a/b.h`. So a header is found by that suffix, and when several files end with it, the one nearest
the including file (longest shared directory prefix) is taken: the include directory a project
means for its own sources is almost always its own tree's. An angle include no file ends with is a
system or third-party header (standard ones are reported as such); a quoted one is unresolved
(usually generated at build time, like `config.h`). Conditional compilation is not evaluated: an
include under `#ifdef` counts.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from pathlib import PurePosixPath
from typing import Any

from warmer.artifacts.dependencies.source_text import without_comments

_INCLUDE = re.compile(
    r'^[ \t]*#[ \t]*(?:include|import|include_next)[ \t]*([<"])([^>"\n]+)[>"]', re.MULTILINE
)
# The C17 and C++23 standard headers (the languages' own libraries, like Python's stdlib).
_STANDARD = """
    assert.h complex.h ctype.h errno.h fenv.h float.h inttypes.h iso646.h limits.h locale.h math.h
    setjmp.h signal.h stdalign.h stdarg.h stdatomic.h stdbool.h stddef.h stdint.h stdio.h stdlib.h
    stdnoreturn.h string.h tgmath.h threads.h time.h uchar.h wchar.h wctype.h algorithm any array
    atomic barrier bit bitset cassert ccomplex cctype cerrno cfenv cfloat charconv chrono cinttypes
    ciso646 climits clocale cmath codecvt compare complex concepts condition_variable coroutine
    csetjmp csignal cstdalign cstdarg cstdbool cstddef cstdint cstdio cstdlib cstring ctgmath ctime
    cuchar cwchar cwctype deque exception execution expected filesystem flat_map flat_set format
    forward_list fstream functional future generator initializer_list iomanip ios iosfwd iostream
    istream iterator latch limits list locale map mdspan memory memory_resource mutex new numbers
    numeric optional ostream print queue random ranges ratio regex scoped_allocator semaphore set
    shared_mutex source_location span spanstream sstream stack stacktrace stdexcept stdfloat
    stop_token streambuf string string_view strstream syncstream system_error thread tuple
    type_traits typeindex typeinfo unordered_map unordered_set utility valarray variant vector
    version
"""
STANDARD_HEADERS = frozenset(_STANDARD.split())


def extract_includes(text: str) -> dict[str, Any]:
    """The headers a file includes, each as written and whether in angle brackets (sorted, unique)."""
    found = {(m.group(2).strip(), m.group(1) == "<") for m in _INCLUDE.finditer(without_comments(text))}
    return {"includes": [{"path": p, "angle": a} for p, a in sorted(found)]}


def _dir(path: str) -> str:
    parent = str(PurePosixPath(path).parent)
    return "" if parent == "." else parent


def _shared(a: str, b: str) -> int:
    count = 0
    for x, y in zip(a.split("/"), b.split("/"), strict=False):
        if x != y:
            break
        count += 1
    return count


class HeaderIndex:
    """Files by name, to find every file ending with an include path."""

    def __init__(self, paths: set[str]) -> None:
        self.paths = paths
        self.by_name: dict[str, list[str]] = defaultdict(list)
        for path in sorted(paths):
            self.by_name[PurePosixPath(path).name].append(path)

    def find(self, importer: str, include: str, angle: bool) -> str | None:
        if not angle:
            own = posixpath.normpath(posixpath.join(_dir(importer), include))
            if own in self.paths:
                return own
        clean = posixpath.normpath(include)
        if clean.startswith("../"):
            return None  # relative to an include directory above the repository's files
        suffix = "/" + clean
        matches = [
            p for p in self.by_name.get(PurePosixPath(clean).name, []) if p == clean or p.endswith(suffix)
        ]
        if not matches:
            return None
        here = _dir(importer)
        return max(matches, key=lambda p: (_shared(_dir(p), here), -len(p), p))


def resolve_includes(
    path: str, includes: list[dict[str, Any]], index: HeaderIndex
) -> tuple[set[str], set[str], set[str], list[str]]:
    """(internal headers, external headers by first path element, standard headers, unresolved quoted)."""
    internal: set[str] = set()
    external: set[str] = set()
    standard: set[str] = set()
    unresolved: list[str] = []
    for item in includes:
        found = index.find(path, item["path"], item["angle"])
        if found:
            internal.add(found)
        elif item["path"] in STANDARD_HEADERS:
            standard.add(item["path"])
        elif item["angle"]:
            external.add(item["path"].split("/")[0])
        else:
            unresolved.append(f'#include "{item["path"]}"')
    internal.discard(path)
    return internal, external, standard, unresolved

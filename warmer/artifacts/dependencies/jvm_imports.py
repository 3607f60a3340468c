"""Java and Kotlin imports: package declarations and imports, resolved to the files declaring the types.

Java's rules: a file's package is its `package` declaration (not its directory); `import a.b.C;`
names type `C` of package `a.b` (or a nested type, `a.b.C.D`, which lives in `C`'s file);
`import a.b.*;` is every type of package `a.b`; `import static a.b.C.m;` and `import static
a.b.C.*;` name members of type `C`. A public top-level Java type lives in the file named after it,
so a Java file declares its stem. Kotlin files declare any number of top-level classes, objects,
functions and properties under any file name, so a Kotlin extract lists them. Types of the same
package need no import and make no edge: the graph is what the imports say.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import PurePosixPath
from typing import Any

from warmer.artifacts.dependencies.source_text import without_comments

_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.MULTILINE)
_JAVA_IMPORT = re.compile(r"^\s*import\s+(static\s+)?([\w.]+?)(\s*\.\s*\*)?\s*;", re.MULTILINE)
_KOTLIN_IMPORT = re.compile(r"^\s*import\s+([\w.`]+?)(\.\*)?(?:\s+as\s+\w+)?\s*;?\s*$", re.MULTILINE)
_KOTLIN_MODIFIERS = (
    r"(?:(?:public|internal|protected|expect|actual|inline|data|sealed|enum|annotation|abstract|open|final"
    r"|value|const|lateinit|suspend|tailrec|operator|infix|external|fun)\s+)*"
)
_KOTLIN_DECL = re.compile(
    rf"^{_KOTLIN_MODIFIERS}(?P<kw>class|interface|object|typealias|fun|val|var)\s+"
    r"(?:<[^>]*>\s*)?(?P<rest>[^\n]*)",
    re.MULTILINE,
)
_KOTLIN_NAME = re.compile(r"^(?:[\w.<>?,\s]*?\.)?`?(\w+)`?")
# The JDK's own packages (its modules' exported API) and Kotlin's standard library.
_STDLIB = re.compile(
    r"^(java|jdk|sun|com\.sun|kotlin|org\.w3c\.dom|org\.xml\.sax|org\.ietf\.jgss|javax\.(annotation\.processing"
    r"|crypto|imageio|lang\.model|management|naming|net|print|rmi|script|security|sound|sql|swing|tools"
    r"|transaction\.xa|xml|accessibility))(\.|$)"
)


def _imports(head: str, pattern: re.Pattern[str], kotlin: bool) -> list[dict[str, Any]]:
    found: set[tuple[str, bool, bool]] = set()
    for match in pattern.finditer(head):
        if kotlin:
            found.add((match.group(1).replace("`", ""), False, bool(match.group(2))))
        else:
            found.add((match.group(2), bool(match.group(1)), bool(match.group(3))))
    return [{"name": n, "static": s, "wildcard": w} for n, s, w in sorted(found)]


def extract_java_imports(text: str) -> dict[str, Any]:
    code = without_comments(text)
    package = _PACKAGE.search(code)
    return {"package": package.group(1) if package else "", "imports": _imports(code, _JAVA_IMPORT, False)}


def extract_kotlin_imports(text: str) -> dict[str, Any]:
    """Package, imports and the names of the file's non-private top-level declarations."""
    code = without_comments(text)
    package = _PACKAGE.search(code)
    declares: set[str] = set()
    for match in _KOTLIN_DECL.finditer(code):
        rest = match.group("rest")
        if match.group("kw") == "fun" and "(" in rest:
            rest = rest[: rest.index("(")].rsplit(".", 1)[-1]
        name = _KOTLIN_NAME.match(rest.strip())
        if name:
            declares.add(name.group(1))
    return {
        "package": package.group(1) if package else "",
        "imports": _imports(code, _KOTLIN_IMPORT, True),
        "declares": sorted(declares),
    }


class JvmIndex:
    """(package, top-level name) → file, and package → its files, over the commit's Java and Kotlin."""

    def __init__(self, files: dict[str, dict[str, Any]]) -> None:
        self.types: dict[tuple[str, str], str] = {}
        self.packages: dict[str, list[str]] = defaultdict(list)
        for path, extract in sorted(files.items()):
            package = extract.get("package") or ""
            if not package:
                continue  # the default package cannot be imported
            self.packages[package].append(path)
            names = extract.get("declares") if "declares" in extract else [PurePosixPath(path).stem]
            for name in names or []:
                self.types.setdefault((package, name), path)

    def type_file(self, dotted: str) -> str | None:
        """The file of the type a dotted name starts with: `a.b.C.D.m` → the file declaring `a.b.C`."""
        parts = dotted.split(".")
        for split in range(len(parts) - 1, 0, -1):
            found = self.types.get((".".join(parts[:split]), parts[split]))
            if found:
                return found
        return None

    def ours(self, dotted: str) -> bool:
        """Whether a name lies in one of the repository's packages (so not finding it is our gap)."""
        parts = dotted.split(".")
        return any(".".join(parts[:n]) in self.packages for n in range(len(parts), 0, -1))


def _package_of(dotted: str) -> str:
    """The package part of an imported name: the segments before the first capitalised one."""
    parts = dotted.split(".")
    for n, part in enumerate(parts):
        if part[:1].isupper():
            return ".".join(parts[:n]) or dotted
    return ".".join(parts[:-1]) or dotted


def resolve_jvm(
    path: str, imports: list[dict[str, Any]], index: JvmIndex
) -> tuple[set[str], set[str], set[str], list[str]]:
    """(internal target files, external packages, JDK/Kotlin packages, unresolved names of our packages)."""
    internal: set[str] = set()
    external: set[str] = set()
    stdlib: set[str] = set()
    unresolved: list[str] = []
    for item in imports:
        name = item["name"]
        if item["wildcard"] and not item["static"] and name in index.packages:
            internal.update(index.packages[name])  # every type of the package
            continue
        target = index.type_file(name)  # `import a.b.C.*` (C's nested types) lands here too
        if target:
            internal.add(target)
        elif _STDLIB.match(name):
            stdlib.add(_package_of(name))
        elif index.ours(name):
            unresolved.append(("import static " if item["static"] else "import ") + name)
        else:
            external.add(_package_of(name) if not item["wildcard"] or item["static"] else name)
    internal.discard(path)
    return internal, external, stdlib, unresolved

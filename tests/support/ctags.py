"""universal-ctags as the oracle for symbol_index: which of its tags are definitions we claim, and agreement.

The mapping is fixed here, once, from what each side means by a kind, not from what makes the figures
good. Each ctags kind maps to the families of our kinds that name the same thing:

    function   function, method (and ctags's C++ member prototypes: a class's declared methods)
    type       class, interface, struct, enum, trait, type (alias, typedef, delegate), union
    module     module, namespace
    constant   constant (module-level constants, `#define NAME value`, Java `static final`, C# `const`)
    macro      macro (`#define NAME`, `#define F(x)`, `macro_rules!`)
    property   property (C#)

A ctags tag is *required* (counted in recall) when its kind is one we claim to index completely. Where
we index a documented subset of a ctags kind, the subset rule is the claim (Python constants are the
module-level UPPER_CASE names; JavaScript/TypeScript top-level `const`; Rust statics and consts outside
functions; C++ prototypes declared in a class), and the rest of that kind
is neither required nor wrong. ctags tags that name nothing in the source are not required: ctags's
`AnonymousFunction…`/`__anon…` placeholders, JavaScript computed-member assignments
(`app[method] = function`, which ctags names after the object), object literals held in function
locals (`var headers = {…}`, which ctags's JavaScript parser calls classes), and Ruby "constants"
inside method bodies (Ruby forbids assigning a constant in a method; ctags tags hash keys and
comparisons there). Kinds not listed for a language (fields, members, locals, enumerators, imports,
Go/JS package variables) are neither required nor claimed.

Agreement of one tag and one of our symbols: same file, same name (spacing removed, for C++
`operator ()`; a C# explicit interface implementation's interface prefix removed), compatible families, and ctags's line (the name's line) within our symbol's lines.
Recall is required tags matched / required tags; precision is our symbols matched by any ctags tag /
our symbols; "line" is the share of matches where ctags's line is our `start_line`.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CTAGS = "ctags"

FAMILY_OF_OURS = {
    "function": "function", "method": "function",
    "class": "type", "interface": "type", "struct": "type", "enum": "type", "trait": "type", "type": "type",
    "union": "type", "record": "type",
    "module": "module", "namespace": "module",
    "constant": "constant", "macro": "macro", "property": "property",
}  # fmt: skip
_F, _T, _M, _C = frozenset({"function"}), frozenset({"type"}), frozenset({"module"}), frozenset({"constant"})
_MACRO = frozenset({"macro", "constant"})

# ctags language → ctags kind → families of ours it may be. A kind here is *claimed* (required) unless
# it is in PARTIAL, where only tags passing the language's subset rule are required.
KINDS: dict[str, dict[str, frozenset[str]]] = {
    "Python": {"class": _T, "function": _F, "member": _F, "variable": _C | _T},
    "JavaScript": {
        "function": _F | _T, "class": _T | _F, "method": _F, "generator": _F, "getter": _F, "setter": _F,
        "constant": _C | _F, "variable": _C | _F,
    },
    "TypeScript": {
        "function": _F, "method": _F, "generator": _F, "class": _T, "interface": _T, "alias": _T, "enum": _T,
        "namespace": _M, "constant": _C | _F, "variable": _C | _F,
    },
    "Go": {
        "func": _F, "methodSpec": _F, "struct": _T, "interface": _T, "type": _T, "talias": _T, "const": _C,
    },
    "Java": {"class": _T, "interface": _T, "enum": _T, "annotation": _T, "method": _F, "field": _C},
    "Rust": {
        "function": _F, "method": _F, "struct": _T, "enum": _T, "interface": _T, "typedef": _T, "module": _M,
        "macro": frozenset({"macro"}), "variable": _C,
    },
    "C": {"function": _F, "struct": _T, "union": _T, "enum": _T, "typedef": _T, "macro": _MACRO},
    "C++": {
        "function": _F, "prototype": _F, "class": _T, "struct": _T, "union": _T, "enum": _T, "typedef": _T,
        "namespace": _M, "macro": _MACRO,
    },
    "Ruby": {"method": _F, "singletonMethod": _F, "class": _T, "module": _M, "constant": _C},
    "C#": {
        # ctags's C# parser calls a delegate declaration a method
        "method": _F | _T, "class": _T, "struct": _T, "interface": _T, "enum": _T, "typedef": _T, "namespace": _M,
        "property": frozenset({"property"}), "field": _C,
    },
}  # fmt: skip
PARTIAL: dict[str, frozenset[str]] = {
    "Python": frozenset({"variable"}),
    "JavaScript": frozenset({"constant", "variable"}),
    "TypeScript": frozenset({"constant", "variable"}),
    "Java": frozenset({"field"}),  # only `static final` fields are constants; ctags does not mark them
    "Rust": frozenset({"variable"}),
    "C++": frozenset({"prototype"}),
    "C#": frozenset({"field"}),  # only `const` fields are constants; ctags does not mark them
}
_CONSTANT_NAME = re.compile(r"^_*[A-Z][A-Z0-9_]*$")
_COMPUTED_MEMBER = re.compile(r"[\w$.]\[[^\]]*\]\s*=[^=]")
_OBJECT_LITERAL_LOCAL = re.compile(r"=\s*\{")
_TOP_LEVEL_CONST = re.compile(r"^/\^(?:export\s+)?(?:declare\s+)?const\s")
_FUNCTION_SCOPES = frozenset({"function", "method", "member", "singletonMethod", "generator"})
_CLASS_SCOPES = frozenset({"class", "struct", "union"})


@dataclass(frozen=True)
class Tag:
    path: str
    name: str
    line: int
    kind: str
    language: str
    scope_kind: str | None
    pattern: str


def run_ctags(root: Path, files: list[str], extra: tuple[str, ...] = ()) -> list[Tag]:
    """ctags's definition tags of `files` (relative to `root`), every kind we map enabled."""
    command = [
        CTAGS, "--output-format=json", "--fields=+nlzKZ", "--kinds-C++=+p", "--extras=-{qualified}",
        *extra, "-L", "-", "-f", "-",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=root, input="\n".join(files), capture_output=True, text=True, check=True
    )
    tags = []
    for line in done.stdout.splitlines():
        record: dict[str, Any] = json.loads(line)
        if record.get("_type") != "tag":
            continue
        tags.append(
            Tag(
                record["path"],
                record["name"],
                record["line"],
                record["kind"],
                record.get("language", ""),
                record.get("scopeKind"),
                record.get("pattern", ""),
            )
        )
    return tags


def required(tag: Tag) -> bool:
    """Whether a complete symbol index must hold this tag (see the module docstring for each rule)."""
    kinds = KINDS.get(tag.language, {})
    if tag.kind not in kinds or tag.name.startswith(("AnonymousFunction", "__anon")):
        return False
    if tag.language == "JavaScript":
        if _COMPUTED_MEMBER.search(tag.pattern):
            return False
        if tag.scope_kind in _FUNCTION_SCOPES | {"class"} and tag.kind == "class":
            return not _OBJECT_LITERAL_LOCAL.search(tag.pattern)
    if tag.language == "Ruby" and tag.kind == "constant" and tag.scope_kind in _FUNCTION_SCOPES:
        return False
    if tag.kind not in PARTIAL.get(tag.language, ()):
        return True
    if tag.language == "Python":
        return tag.scope_kind is None and bool(_CONSTANT_NAME.match(tag.name))
    if tag.language in ("JavaScript", "TypeScript"):
        # Top-level `const` (ctags loses the scope of some locals, so the unindented line says top-level).
        return tag.kind == "constant" and tag.scope_kind is None and bool(_TOP_LEVEL_CONST.match(tag.pattern))
    if tag.language == "Rust":
        return tag.scope_kind not in _FUNCTION_SCOPES
    if tag.language == "C++":
        return (
            tag.scope_kind in _CLASS_SCOPES
        )  # a class's declared methods; free prototypes are not definitions
    return False


def _normal(name: str) -> str:
    """Names compared without spacing (`operator ()`) and without the interface that qualifies a C#
    explicit implementation (ctags's `IEnumerable.GetEnumerator` is the method `GetEnumerator`)."""
    return "".join(name.split()).rsplit(".", 1)[-1]


@dataclass
class Agreement:
    required: int = 0
    found: int = 0
    line_exact: int = 0
    ours: int = 0
    confirmed: int = 0
    misses: list[Tag] = field(default_factory=list)
    unconfirmed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.required if self.required else 1.0

    @property
    def precision(self) -> float:
        return self.confirmed / self.ours if self.ours else 1.0

    @property
    def line_agreement(self) -> float:
        return self.line_exact / self.found if self.found else 1.0


def _agrees(tag: Tag, symbol: dict[str, Any]) -> bool:
    families = KINDS.get(tag.language, {}).get(tag.kind, frozenset())
    return FAMILY_OF_OURS.get(symbol["kind"]) in families and symbol["start_line"] <= tag.line <= max(
        symbol["end_line"], symbol["start_line"]
    )


def compare(tags: list[Tag], symbols: list[dict[str, Any]]) -> Agreement:
    """How our symbols (each with its `file`) and ctags's tags agree."""
    ours_by_name: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for symbol in symbols:
        ours_by_name[(symbol["file"], _normal(symbol["name"]))].append(symbol)
    tags_by_name: dict[tuple[str, str], list[Tag]] = defaultdict(list)
    for tag in tags:
        tags_by_name[(tag.path, _normal(tag.name))].append(tag)
    result = Agreement(ours=len(symbols))
    for tag in tags:
        if not required(tag):
            continue
        result.required += 1
        candidates = [s for s in ours_by_name.get((tag.path, _normal(tag.name)), []) if _agrees(tag, s)]
        if not candidates:
            result.misses.append(tag)
            continue
        result.found += 1
        best = min(candidates, key=lambda s: tag.line - s["start_line"])
        result.line_exact += best["start_line"] == tag.line
    for symbol in symbols:
        if any(_agrees(t, symbol) for t in tags_by_name.get((symbol["file"], _normal(symbol["name"])), [])):
            result.confirmed += 1
        else:
            result.unconfirmed.append(symbol)
    return result

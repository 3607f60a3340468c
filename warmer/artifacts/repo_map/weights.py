"""How much one reference says about which file is meant: Aider's multipliers, and what links.

A file's tags (its definitions and the identifiers it references) become weighted edges to the files
defining those names (`graph.py`); these are the rules for the weights.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

LONG_NAME = 8  # snake_case or camelCase names at least this long are specific
MANY_DEFINERS = 5
LONG_NAME_WEIGHT = 10.0
PRIVATE_WEIGHT = 0.1
# A method reached as `x.name` could be any type's `name` (a file's `.write`, a dict's `.get`): such a
# reference says less about which file is meant than a top-level name imported and used by name.
MEMBER_WEIGHT = 0.5
MANY_DEFINERS_WEIGHT = 0.1
# Generated, vendored and migration files: references into them count this much, and so does their
# share of the teleport mass. A Django migration names every model; that makes the models important,
# not the migration; a generated `types.gen.ts` is referenced everywhere and read by nobody.
DEMOTED_WEIGHT = 0.05
_FAMILIES = {"javascript": "js", "typescript": "js", "tsx": "js", "c": "c", "cpp": "c", "java": "jvm",
             "kotlin": "jvm", "scala": "jvm"}  # fmt: skip


def family_of(kind: str) -> str | None:
    """The family a file's references link within: JS with TS, C with C++, Java with Kotlin; prose none."""
    return None if kind == "text" else _FAMILIES.get(kind, kind)


@functools.lru_cache(maxsize=1 << 16)  # pure, and asked again for every name on every commit
def name_weight(name: str, definers: int) -> float:
    """Aider's multipliers: how much one reference to `name` says about the files defining it."""
    weight = 1.0
    snake = "_" in name.strip("_") and any(c.isalpha() for c in name)
    camel = any(c.isupper() for c in name) and any(c.islower() for c in name)
    if (snake or camel) and len(name) >= LONG_NAME:
        weight *= LONG_NAME_WEIGHT
    if name.startswith("_"):
        weight *= PRIVATE_WEIGHT
    if definers > MANY_DEFINERS:
        weight *= MANY_DEFINERS_WEIGHT
    return weight


@dataclass
class FileTags:
    definitions: list[dict[str, Any]]  # name, kind, line, signature, parent
    references: dict[str, int]  # identifier → count
    member_references: dict[str, int] = field(default_factory=dict)  # of those, after `.`, `->`, `::`
    # The language family a reference links within (a TS type and a Python class of one name are not one
    # thing); None for prose (README, manifests), whose mentions may name anything.
    family: str | None = None
    # Generated, vendored or a migration: not where a reader starts (see `DEMOTED_WEIGHT`).
    demoted: bool = False


def links(source: FileTags, target: FileTags) -> bool:
    return source.family is None or target.family is None or source.family == target.family

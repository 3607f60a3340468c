"""Which of several locked versions a declared requirement selects.

A lockfile may hold one package at two versions (Cargo.lock with `syn` 1.x and 2.x, pnpm with two
majors of a transitive dependency): the version a manifest's requirement resolves to is the one
its requirement matches, highest first, as the package manager picked it. Python requirements are
PEP 440 specifiers (`packaging`); Poetry's `^`/`~` and Cargo's and npm's requirements follow the
semver rules each tool documents:

- Cargo: `1.2.3` and `^1.2.3` mean `>=1.2.3, <2.0.0` (`^0.2.3` → `<0.3.0`, `^0.0.3` → `<0.0.4`),
  `~1.2.3` means `>=1.2.3, <1.3.0`, `*` and `1.*` are wildcards, `=`, `>`, `>=`, `<`, `<=` compare;
  comparators are separated by commas and all must hold.
- npm: as Cargo, but a bare `1.2.3` is exact, `1.2` is `1.2.x`, comparators are separated by
  spaces, alternatives by `||`, and `a - b` is an inclusive range.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

_VERSION = re.compile(
    r"^v?(\d+)(?:\.(\d+|[x*X]))?(?:\.(\d+|[x*X]))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)
_COMPARATOR = re.compile(r"^(\^|~|=|>=|<=|>|<)?\s*(.+)$")

Triple = tuple[int, int, int]
Check = Callable[[Triple], bool]


def _parse(text: str) -> tuple[list[int | None], str | None] | None:
    match = _VERSION.match(text.strip())
    if match is None:
        if text.strip() in ("*", "x", "X", ""):
            return [None, None, None], None
        return None
    parts: list[int | None] = [
        int(p) if p is not None and p.isdigit() else None for p in match.group(1, 2, 3)
    ]
    return parts, match.group(4)


def _triple(version: str) -> Triple | None:
    parsed = _parse(version)
    if parsed is None or parsed[1] is not None or any(p is None for p in parsed[0]):
        return None  # pre-releases are never picked for a plain requirement
    major, minor, patch = parsed[0]
    assert major is not None and minor is not None and patch is not None
    return major, minor, patch


def _bounds(op: str, parts: list[int | None], bare_exact: bool) -> Check | None:
    major, minor, patch = parts
    low = (major or 0, minor or 0, patch or 0)
    if major is None:
        return lambda v: True
    if op == "" and bare_exact and patch is not None:
        op = "="
    if op in ("", "^"):
        if major > 0 or minor is None:
            high = (major + 1, 0, 0)
        elif minor > 0 or patch is None:
            high = (0, minor + 1, 0)
        else:
            high = (0, 0, (patch or 0) + 1)
        if op == "" and bare_exact:  # npm `1.2` is `1.2.x`
            high = (major + 1, 0, 0) if minor is None else (major, minor + 1, 0)
        return lambda v: low <= v < high
    if op == "~":
        high = (major + 1, 0, 0) if minor is None else (major, minor + 1, 0)
        return lambda v: low <= v < high
    if op == "=":
        if patch is None:  # `=1.2` is `1.2.*`
            high = (major + 1, 0, 0) if minor is None else (major, minor + 1, 0)
            return lambda v: low <= v < high
        return lambda v: v == low
    if op == ">":
        above = low if patch is not None else ((major + 1, 0, 0) if minor is None else (major, minor + 1, 0))
        return (lambda v: v > above) if patch is not None else (lambda v: v >= above)
    if op == ">=":
        return lambda v: v >= low
    if op == "<":
        return lambda v: v < low
    if op == "<=":
        if patch is not None:
            return lambda v: v <= low
        high = (major + 1, 0, 0) if minor is None else (major, minor + 1, 0)
        return lambda v: v < high
    return None


def _comparators(parts: list[str], bare_exact: bool) -> list[Check] | None:
    checks = []
    for part in parts:
        match = _COMPARATOR.match(part.strip())
        parsed = _parse(match.group(2)) if match else None
        if match is None or parsed is None:
            return None
        check = _bounds(match.group(1) or "", parsed[0], bare_exact)
        if check is None:
            return None
        checks.append(check)
    return checks


def cargo_matcher(requirement: str) -> Check | None:
    checks = _comparators([p for p in requirement.split(",") if p.strip()] or ["*"], bare_exact=False)
    return None if checks is None else (lambda v: all(c(v) for c in checks))


def npm_matcher(requirement: str) -> Check | None:
    alternatives: list[list[Check]] = []
    for alternative in requirement.split("||"):
        alternative = re.sub(r"(\^|~|>=|<=|>|<|=)\s+", r"\1", alternative.strip())
        hyphen = re.match(r"^(\S+)\s+-\s+(\S+)$", alternative)
        parts = [f">={hyphen.group(1)}", f"<={hyphen.group(2)}"] if hyphen else alternative.split() or ["*"]
        checks = _comparators(parts, bare_exact=True)
        if checks is None:
            return None
        alternatives.append(checks)
    return lambda v: any(all(c(v) for c in checks) for checks in alternatives)


def _pick_semver(matcher: Check | None, versions: list[str]) -> str | None:
    if matcher is None:
        return None
    accepted = [(t, v) for v in versions if (t := _triple(v)) is not None and matcher(t)]
    return max(accepted)[1] if accepted else None


def _pick_python(spec: str, versions: list[str]) -> str | None:
    try:
        specifier = SpecifierSet(spec)
    except InvalidSpecifier:
        return _pick_semver(cargo_matcher(spec), versions)  # Poetry's `^1.2` / `~1.2`
    accepted = []
    for version in versions:
        try:
            parsed = Version(version)
        except InvalidVersion:
            continue
        if specifier.contains(parsed):
            accepted.append((parsed, version))
    return max(accepted)[1] if accepted else None


def pick_locked(ecosystem: str, spec: str | None, versions: list[str]) -> str | None:
    """The highest of `versions` the requirement `spec` accepts, or None when none does (or it
    cannot be read as its ecosystem's requirement syntax)."""
    if not versions:
        return None
    spec = (spec or "").strip()
    if ecosystem == "pypi":
        return _pick_python(spec, versions)
    if ecosystem == "cargo":
        return _pick_semver(cargo_matcher(spec or "*"), versions)
    if ecosystem == "npm":
        return _pick_semver(npm_matcher(spec or "*"), versions)
    return None

"""Python import name → PyPI distribution, from pipreqs' maintained mapping rather than a list kept here.

`import jwt` is installed by `PyJWT`, `import dotenv` by `python-dotenv`, `import rest_framework` by
`djangorestframework`: the import name and the distribution name differ for hundreds of packages.
pipreqs (Apache-2.0) keeps that list as `pipreqs/mapping`, one `import_name:distribution` a line,
updated by its users' pull requests; `data/pipreqs_mapping` is that file copied byte for byte from
the release named below (a test compares it with the sdist on PyPI). pipreqs itself is not a
dependency: its 0.5 release pins IPython and nbconvert. To update, copy the newer release's file and
change `PIPREQS_VERSION`.

A namespace import name (`azure`, `google`) maps to several distributions: the repository's own
declarations decide, and without one the name stays ambiguous instead of guessed.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from warmer.artifacts.dependencies.manifests import normalize_python_name

PIPREQS_VERSION = "0.5.0"
MAPPING_FILE = "pipreqs_mapping"


@cache
def _mapping() -> dict[str, tuple[str, ...]]:
    text = resources.files("warmer.artifacts.dependencies").joinpath("data", MAPPING_FILE).read_text()
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        name, sep, distribution = line.strip().partition(":")
        if sep and name and distribution and distribution not in found.setdefault(name, []):
            found[name].append(distribution)
    return {name: tuple(dists) for name, dists in found.items()}


def candidates(module: str) -> tuple[str, ...]:
    """The distributions that install import name `module` (`google.protobuf` is looked up as itself,
    then as `google`), per pipreqs; empty when the mapping does not know the name."""
    mapping = _mapping()
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        found = mapping.get(".".join(parts[:end]))
        if found:
            return found
    return ()


def declared_package(module: str, declared: dict[str, str]) -> str | None:
    """The declared distribution (normalised name → name as declared) that provides `module`, or None.

    The mapping's candidates first, then the import name itself (most distributions are named like
    their import: `requests`), then its `ns.sub` form with `-` (`google.cloud` → `google-cloud`)."""
    for name in candidates(module):
        if normalize_python_name(name) in declared:
            return declared[normalize_python_name(name)]
    for name in (module, module.split(".")[0]):
        if normalize_python_name(name) in declared:
            return declared[normalize_python_name(name)]
    return None


def distribution(module: str) -> str | None:
    """The distribution to install for `module`: the mapping's one answer, the import name itself when
    the mapping has no entry (pip's own assumption), or None when the mapping lists several."""
    found = candidates(module)
    if len(found) == 1:
        return found[0]
    return None if found else module.split(".")[0]

"""The artifact registry: built-in and custom generators, found through entry points.

A custom artifact type is one module with a generator class plus one line of
packaging: `[project.entry-points."warmer.artifacts"] my_type = "pkg.mod:MyGen"`.
WARMER_ARTIFACT_MODULES (comma-separated modules) loads more without packaging,
e.g. for tests and benchmarks.
"""

from __future__ import annotations

import importlib
import logging
import os
from functools import lru_cache
from importlib.metadata import entry_points

from warmer.artifacts.base import ArtifactGenerator, UnknownArtifactType

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "warmer.artifacts"
_registered: dict[str, type[ArtifactGenerator]] = {}


def register(cls: type[ArtifactGenerator]) -> type[ArtifactGenerator]:
    """Class decorator: make `cls` the generator of `cls.artifact_type`."""
    _registered[cls.artifact_type] = cls
    return cls


@lru_cache(maxsize=1)
def _load() -> dict[str, type[ArtifactGenerator]]:
    found: dict[str, type[ArtifactGenerator]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception:  # one broken plugin must not take the others down
            log.exception("cannot load artifact generator %s = %s", ep.name, ep.value)
            continue
        found[ep.name] = cls
    for module in filter(None, (m.strip() for m in os.environ.get("WARMER_ARTIFACT_MODULES", "").split(","))):
        try:
            importlib.import_module(module)
        except Exception:  # a misconfigured extra must not take the built-in types down
            log.exception("cannot import WARMER_ARTIFACT_MODULES entry %r", module)
    return found


def _all() -> dict[str, type[ArtifactGenerator]]:
    return {**_load(), **_registered}


def available() -> list[str]:
    return sorted(_all())


def get(artifact_type: str) -> ArtifactGenerator:
    """A fresh generator for the type, or UnknownArtifactType naming the known ones."""
    generators = _all()
    if artifact_type not in generators:
        raise UnknownArtifactType(
            f"no generator registered for artifact type {artifact_type!r} "
            f"(available: {', '.join(sorted(generators)) or 'none'})"
        )
    return generators[artifact_type]()

"""Per-file slices of whole-repository artifacts (`?path=`): a file's tests, a module's imports.

An agent asking about one file gets what the artifact says about that file, not the whole
repository's map. Each generator that can be sliced says how (`slices(payload)` and
`empty_slice()`); the slices of an entry are built once, when first asked, and kept with the
entry in the process's cache.
"""

from __future__ import annotations

import json
from typing import Any

from warmer.artifacts import registry
from warmer.cache.entry_cache import ENTRIES


def sliceable(artifact_type: str) -> bool:
    return artifact_type in registry.available() and hasattr(registry.get(artifact_type), "slices")


def slice_json(artifact_type: str, entry_key: str, payload_json: bytes, path: str) -> bytes:
    """What the entry says about `path`, as JSON; a path it never mentions gets the empty slice."""
    generator: Any = registry.get(artifact_type)

    def build() -> tuple[dict[str, bytes], int]:
        found = {
            file: _encoded(artifact_type, file, part)
            for file, part in generator.slices(json.loads(payload_json)).items()
        }
        return found, sum(len(k) + len(v) for k, v in found.items())

    index: dict[str, bytes] = ENTRIES.get_or_load(entry_key + "#slices", build)
    return index.get(path) or _encoded(artifact_type, path, generator.empty_slice())


def _encoded(artifact_type: str, path: str, part: dict[str, Any]) -> bytes:
    return json.dumps({"artifact_type": artifact_type, "path": path, "slice_of": "", **part}).encode()

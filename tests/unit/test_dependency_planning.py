"""When a commit must rebuild dependency_graph: held against the extractor itself.

The rule (warmer/artifacts/dependencies/planning.py) must see every edit that changes what the
extractor reads from a file, and only those. Checked two ways: edits inside multi-line import
statements of each language the graph reads, and random single-line edits of real code (the
installed click and an npm package's JavaScript), where whenever the extract differs the rule must
say so. A rule reading import-like lines with a regex failed the second (a line opening a string).
"""

from __future__ import annotations

import random
from pathlib import Path

import click
import pytest

from tests.support import corpora
from warmer.artifacts.dependencies import extract, kind_of
from warmer.artifacts.dependencies.planning import dependency_refresh
from warmer.git.diff import ChangeKind, PathChange

MAX_BYTES = 2_000_000

# (path, before, after): each `after` changes an import inside a statement spanning several lines.
MULTI_LINE = [
    ("main.go", b'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n', b'package main\n\nimport (\n\t"fmt"\n\t"net/http"\n)\n'),
    ("pkg/a.py", b"from pkg import (\n    b,\n    c,\n)\n", b"from pkg import (\n    b,\n    d,\n)\n"),
    ("pkg/e.py", b"from pkg.sub import \\\n    name\n", b"from pkg.other import \\\n    name\n"),
    ("src/a.js", b"import {\n  a,\n} from './x';\n", b"import {\n  a,\n} from './y';\n"),
    ("src/lib.rs", b"pub(crate) use crate::{\n    a,\n    b,\n};\n", b"pub(crate) use crate::{\n    a,\n    c,\n};\n"),
    ("src/main.rs", b"mod a;\npub mod b;\n", b"mod a;\npub mod c;\n"),
]  # fmt: skip


def _refresh(path: str, before: bytes, after: bytes) -> bool:
    blobs = {"old": before, "new": after}
    change = PathChange(ChangeKind.MODIFIED, path, old_blob="old", new_blob="new")
    read_extract = lambda kind, data: extract(kind, data, MAX_BYTES)  # noqa: E731
    return dependency_refresh(kind_of, [change], blobs.__getitem__, read_extract) is not None


def _extract(path: str, data: bytes) -> dict:
    """What the graph is built from (an extract's `size` is not: it only says why a file was skipped)."""
    kind = kind_of(path)
    assert kind is not None, path
    return {k: v for k, v in extract(kind, data, MAX_BYTES).items() if k != "size"}


@pytest.mark.parametrize(("path", "before", "after"), MULTI_LINE, ids=[case[0] for case in MULTI_LINE])
def test_an_edit_inside_a_multi_line_import_rebuilds_the_graph(
    path: str, before: bytes, after: bytes
) -> None:
    assert _extract(path, before) != _extract(path, after)  # the extractor sees the change
    assert _refresh(path, before, after)
    body = before + b"\n\n# a comment, nothing imported\n"
    assert not _refresh(path, before, body) or _extract(path, before) != _extract(path, body)


def _real_files() -> list[tuple[str, bytes]]:
    root = Path(click.__file__).parent
    files = [(f"click/{p.name}", p.read_bytes()) for p in sorted(root.glob("*.py"))]
    package = corpora.npm_package("express", "4.19.2")
    files += [(str(p.relative_to(package)), p.read_bytes()) for p in sorted(package.rglob("*.js"))]
    return files


def test_random_single_line_edits_of_real_code_never_change_an_extract_unseen() -> None:
    rng = random.Random(20261205)
    files = _real_files()
    checked = changed = 0
    for _ in range(400):
        path, data = rng.choice(files)
        lines = data.splitlines(keepends=True)
        if len(lines) < 2:
            continue
        at = rng.randrange(len(lines))
        donor = rng.choice(lines)
        edits = [
            lines[:at] + lines[at + 1 :],  # a line deleted
            [*lines[:at], donor, *lines[at:]],  # a line of the same file copied elsewhere
        ]
        for edited in edits:
            after = b"".join(edited)
            checked += 1
            if _extract(path, data) != _extract(path, after):
                changed += 1
                assert _refresh(path, data, after), (path, at, lines[at][:120], donor[:120])
    assert checked >= 700 and changed >= 20, (checked, changed)  # not vacuous: imports were hit

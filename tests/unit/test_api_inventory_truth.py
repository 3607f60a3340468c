"""api_inventory against routes read by hand from real applications fetched from the registries.

Each `tests/data/api_inventory/<framework>.json` names a package and version (PyPI sdist, npm
tarball, Debian package), the files whose routes were read, what was read where (`read_from`), and
every route as (method, full served path, file). The inventory of that code must give the same
(method, path) for ≥ 95 % of them per framework, and serve little else there. A table of the
figures is printed (pytest -s) and copied into the README.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.corpora import debian_package, git_repo_of, npm_package, pypi_sdist
from tests.support.extracts import generation_context
from warmer.artifacts.api_inventory import ApiInventory

DATA = Path(__file__).parent.parent / "data" / "api_inventory"
CASES = sorted(p.stem for p in DATA.glob("*.json"))
MINIMUM = 0.95
RESULTS: dict[str, tuple[str, int, int, int]] = {}


def _source(case: dict[str, Any]) -> Path:
    if case["source"] == "pypi":
        return pypi_sdist(case["package"], case["version"])
    if case["source"] == "npm":
        return npm_package(case["package"], case["version"])
    raise ValueError(case["source"])


def _corpus(case: dict[str, Any], into: Path) -> Path:
    """The case's code as a one-commit git repository (several Debian packages side by side)."""
    if case["source"] != "debian":
        root = _source(case)
        return git_repo_of(root / case.get("subdir", ""), into / "repo")
    staging = into / "tree"
    if "packages" in case:  # several packages side by side, each under its own folder name
        for name, package in case["packages"].items():
            src = debian_package(name, case.get("suite")) / package["path"]
            shutil.copytree(src, staging / Path(package["path"]).name)
    else:
        shutil.copytree(debian_package(case["package"], case.get("suite")) / case.get("subdir", ""), staging)
    return git_repo_of(staging, into / "repo")


def _version(case: dict[str, Any]) -> str:
    if "packages" in case:
        return ", ".join(f"{n} {p['version']}" for n, p in case["packages"].items())
    return f"{case['package']} {case['version']}"


@pytest.mark.parametrize("name", CASES)
def test_routes_match_the_hand_read_list(name: str, tmp_path: Path) -> None:
    case = json.loads((DATA / f"{name}.json").read_text())
    repo = _corpus(case, tmp_path)
    payload = ApiInventory().generate(generation_context(repo)).entries[0].payload
    in_scope = [
        r for r in payload["routes"] if any(r["file"].startswith(f) or r["file"] == f for f in case["files"])
    ]
    found = Counter((r["method"], r["path"]) for r in in_scope if r["framework"] == case["framework"])
    expected = Counter((method, path) for method, path, _file in case["routes"])
    exact = sum((found & expected).values())
    extra = sum((found - expected).values())
    RESULTS[name] = (_version(case), sum(expected.values()), exact, extra)
    share = exact / sum(expected.values())
    missing = sorted((expected - found).elements())
    unexpected = sorted((found - expected).elements())
    minimum = case.get("minimum", MINIMUM)
    assert share >= minimum, f"{name}: {exact}/{sum(expected.values())} exact; missing {missing[:20]}"
    assert extra <= 0.05 * sum(expected.values()), (
        f"{name}: routes not in the hand-read list: {unexpected[:20]}"
    )


def test_print_the_table() -> None:
    """The figures of this run, per framework (run after the cases: pytest keeps file order)."""
    if not RESULTS:
        pytest.skip("no case ran in this session")
    print("\n| framework corpus | version | routes read by hand | exact | exact % | extra |")
    print("|---|---|---|---|---|---|")
    for name, (version, total, exact, extra) in sorted(RESULTS.items()):
        print(f"| {name} | {version} | {total} | {exact} | {100 * exact / total:.1f} % | {extra} |")

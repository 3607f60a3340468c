"""What a serving process does for speed, held to what it must not change: the same answers.

The entry cache, ETag revalidation, per-file slices and batched hit recording are each checked
against the uncached answer, on a real server socket where HTTP is involved.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support import corpora
from tests.support.gitrepo import commit
from tests.unit.test_http_api import Server
from warmer.cache import hit_recorder
from warmer.cache.agent_api import get, symbols
from warmer.cache.entry_cache import ENTRIES, EntryCache
from warmer.cache.hit_recorder import HitRecorder
from warmer.ledger.db import Database
from warmer.ledger.models import CacheLookup, Job, JobStatus
from warmer.ledger.repositories import UnknownRepository, find
from warmer.settings import Settings, load_settings
from warmer.triggers import commit as commit_trigger
from warmer.triggers.connect import connect
from warmer.worker.inline import run_jobs


def test_the_entry_cache_is_bounded_by_bytes_and_drops_the_least_recently_used() -> None:
    cache = EntryCache(max_bytes=100)
    for name in "abcd":
        cache.put(name, name, 25)
    assert cache.get("a") == "a"  # a is now the most recent
    cache.put("e", "e", 25)
    assert cache.get("b") is None and cache.get("a") == "a" and cache.size == 100
    cache.put("huge", "x", 26)  # more than a quarter: returned to the caller, never kept
    assert cache.get("huge") is None and cache.size == 100
    cache.resize(50)
    assert cache.size <= 50 and cache.get("a") == "a"


def _settings(tmp_path: Path, db: Database) -> Settings:
    config = tmp_path / "engineering_cache.yaml"
    config.write_text(
        "engineering_cache:\n  warmers:\n"
        "    on_connect:\n      artifacts: [file_summary, test_map, dependency_graph, symbol_index]\n"
        "    on_commit:\n      debounce_seconds: 0\n"
    )
    return load_settings(
        {"WARMER_CONFIG": str(config), "WARMER_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": db.url}
    )


def _run_queued(db: Database, settings: Settings) -> None:
    with db.session() as session:
        queued = session.execute(select(Job.id).where(Job.status == JobStatus.QUEUED)).scalars().all()
    run_jobs(db, settings, list(queued), "test-worker")


@pytest.fixture
def warmed_flask(ledger: Database, tmp_path: Path) -> Iterator[tuple[Database, Settings, Path]]:
    """Real code with its tests: Flask 3.0.3's sdist as a git repository, connected and warmed."""
    repo = corpora.git_repo_of(corpora.pypi_sdist("flask", "3.0.3"), tmp_path / "flask")
    settings = _settings(tmp_path, ledger)
    done = connect(ledger, settings, str(repo), name="flask")
    assert done.planned is not None
    _run_queued(ledger, settings)
    ENTRIES.clear()
    yield ledger, settings, repo
    ENTRIES.clear()


def _http(
    server: Server, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_a_hit_revalidates_with_its_etag_until_the_branch_moves(
    warmed_flask: tuple[Database, Settings, Path],
) -> None:
    db, settings, repo = warmed_flask
    server = Server(db, settings)
    try:
        url = "/v1/repos/flask/artifacts/file_summary?path=src/flask/app.py&task_type=review"
        status, headers, body = _http(server, url)
        assert status == 200 and headers["ETag"] and headers["Cache-Control"] == "no-cache"
        first = json.loads(body)
        # The bytes the server spliced together are the JSON of the uncached answer.
        ENTRIES.clear()
        assert (
            first == get(db, "flask", "file_summary", path="src/flask/app.py", task_type="review").as_json()
        )
        status, again, body = _http(server, url, {"If-None-Match": headers["ETag"]})
        assert (status, body, again["ETag"]) == (304, b"", headers["ETag"])
        assert _http(server, url, {"If-None-Match": '"other", W/' + headers["ETag"]})[0] == 304
        assert _http(server, url, {"If-None-Match": '"other"'})[0] == 200

        # A commit that changes another file: the entry stays, the commit it is served for moves,
        # so the old ETag no longer matches and the client gets the new commit.
        termui = repo / "src" / "flask" / "cli.py"
        termui.write_text(termui.read_text() + "\n# a comment\n")
        sha = commit(repo, "touch cli")
        commit_trigger.record(db, settings, "flask", sha=sha, branch="main", source="test")
        commit_trigger.plan_due(db, settings, actor="test")
        _run_queued(db, settings)
        status, moved, body = _http(server, url, {"If-None-Match": headers["ETag"]})
        assert status == 200 and moved["ETag"] != headers["ETag"]
        now = json.loads(body)
        assert now["commit"] == sha and now["entry_key"] == first["entry_key"] and now["stale"] is False
    finally:
        server.stop()
    with db.session() as session:
        hits = session.execute(select(CacheLookup.hit).where(CacheLookup.artifact_type == "file_summary"))
        assert list(hits.scalars()) == [True] * 6  # a 304 is a hit too: every request counted


def _payload(db: Database, artifact: str, path: str = "") -> dict[str, Any]:
    found = get(db, "flask", artifact, path=path, task_type="review")
    assert found.hit and found.payload is not None
    return found.payload


def test_per_file_slices_say_what_the_whole_artifact_says_about_that_file(
    warmed_flask: tuple[Database, Settings, Path],
) -> None:
    db = warmed_flask[0]
    graph = _payload(db, "dependency_graph")
    modules = sorted(
        {e["from"] for e in graph["internal_edges"]} | {e["to"] for e in graph["internal_edges"]}
    )
    assert len(modules) > 10
    for module in modules:
        part = _payload(db, "dependency_graph", module)
        assert part["path"] == module and part["artifact_type"] == "dependency_graph"
        assert part["imports"] == sorted(e["to"] for e in graph["internal_edges"] if e["from"] == module)
        assert part["imported_by"] == sorted(e["from"] for e in graph["internal_edges"] if e["to"] == module)
    tests = _payload(db, "test_map")
    assert len(tests["by_source"]) > 5 and len(tests["by_test"]) > 5
    for source, linked in tests["by_source"].items():
        assert _payload(db, "test_map", source)["tests"] == linked
    for test, sources in tests["by_test"].items():
        assert _payload(db, "test_map", test)["tested_sources"] == sources
    # A file the artifact never mentions: a hit saying nothing links it, not a miss.
    assert _payload(db, "test_map", "no/such/file.py") == {
        "artifact_type": "test_map", "path": "no/such/file.py", "slice_of": "",
        "tests": [], "tested_sources": [], "links": [],
    }  # fmt: skip


def test_serving_processes_batch_fresh_hits_and_write_misses_at_once(
    warmed_flask: tuple[Database, Settings, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, settings, _repo = warmed_flask
    recorder = HitRecorder(flush_secs=3600)  # flushed by hand below
    monkeypatch.setattr(hit_recorder, "_RECORDER", recorder)

    def recorded() -> list[tuple[str, bool]]:
        with db.session() as session:
            return sorted(tuple(r) for r in session.execute(select(CacheLookup.path, CacheLookup.hit)))

    for _ in range(3):
        assert get(db, "flask", "file_summary", path="src/flask/app.py", task_type="t", settings=settings).hit
    assert not get(db, "flask", "file_summary", path="nowhere.py", task_type="t", settings=settings).hit
    assert recorded() == [("nowhere.py", False)]  # the miss at once: the miss trigger counts it
    recorder.flush()
    assert recorded() == [("nowhere.py", False)] + [("src/flask/app.py", True)] * 3


def test_an_unknown_repository_is_named_without_listing_the_connected_ones(
    warmed_flask: tuple[Database, Settings, Path],
) -> None:
    db = warmed_flask[0]
    with db.session() as session, pytest.raises(UnknownRepository) as raised:
        find(session, "secret-project")
    assert "secret-project" in str(raised.value) and "flask" not in str(raised.value)


def test_a_repeated_symbol_search_is_answered_again_from_memory_until_the_index_changes(
    warmed_flask: tuple[Database, Settings, Path],
) -> None:
    db, settings, repo = warmed_flask
    before = symbols(db, "flask", "make_response", mode="fuzzy")
    assert before.matches and before.matches == symbols(db, "flask", "make_response", mode="fuzzy").matches
    ENTRIES.clear()
    assert symbols(db, "flask", "make_response", mode="fuzzy").matches == before.matches  # same uncached

    # A commit adds a function with a nearer name: the manifest changes, so the answer does.
    helpers = repo / "src" / "flask" / "helpers.py"
    helpers.write_text(helpers.read_text() + "\n\ndef make_responses():\n    return []\n")
    sha = commit(repo, "add make_responses")
    commit_trigger.record(db, settings, "flask", sha=sha, branch="main", source="test")
    commit_trigger.plan_due(db, settings, actor="test")
    _run_queued(db, settings)
    after = symbols(db, "flask", "make_responses", mode="exact")
    assert [(m["file"], m["start_line"]) for m in after.matches] == [
        ("src/flask/helpers.py", len(helpers.read_text().splitlines()) - 1)
    ]
    names = [m["name"] for m in symbols(db, "flask", "make_response", mode="fuzzy").matches]
    assert "make_responses" in names and after.lookup.commit == sha

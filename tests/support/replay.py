"""Incremental equals full: what a branch serves after commit refreshes, compared with a
from-scratch build of the same commit in an empty ledger (tests/unit/test_incremental_replay.py,
test_history_edges.py, tests/integration/test_release_replay.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from warmer.artifacts.embeddings import index_payload
from warmer.artifacts.embeddings.search import load_vectors
from warmer.ledger import migrate
from warmer.ledger.db import Database
from warmer.ledger.models import CacheEntry, CacheRef, Job, JobStatus, Trigger
from warmer.settings import ALL_COMMIT_ARTIFACTS, ALL_CONNECT_ARTIFACTS, Settings, load_settings
from warmer.triggers.connect import connect
from warmer.triggers.plan import enqueue_artifacts
from warmer.worker.inline import run_jobs

# Every artifact a branch serves, all refreshed by commits (on_commit.keep_all_fresh, the default).
ALL_SERVED = list(dict.fromkeys([*ALL_CONNECT_ARTIFACTS, *ALL_COMMIT_ARTIFACTS]))
# Without embedding_index: for replays whose fresh builds would embed the whole corpus each time.
SERVED = [a for a in ALL_SERVED if a != "embedding_index"]
# Identify the commit an entry was built at, not its content: an artifact a commit did not need to
# refresh keeps its older commit id while its content must still equal the fresh build's.
COMMIT_FIELDS = {"commit", "tree", "base_commit"}
# One text's vector is a function of the text (onnx_model.py runs one text per call); the margin is
# for float rounding only.
MIN_COSINE = 0.9999


def replay_config(artifacts: list[str], debounce_seconds: float = 0) -> str:
    return (
        "engineering_cache:\n  warmers:\n"
        f"    on_connect:\n      artifacts: [{', '.join(artifacts)}]\n"
        f"    on_commit:\n      debounce_seconds: {debounce_seconds:g}\n"
    )


def replay_settings(tmp_path: Path, db: Database, name: str, artifacts: list[str] = SERVED) -> Settings:
    config = tmp_path / f"{name}.yaml"
    config.write_text(replay_config(artifacts))
    return load_settings(
        {
            "WARMER_CONFIG": str(config),
            "WARMER_DATA_DIR": str(tmp_path / f"{name}-data"),
            "DATABASE_URL": db.url,
        }
    )


def run_all(db: Database, settings: Settings) -> None:
    """Run every queued job in this process; none may fail."""
    with db.session() as session:
        queued = session.execute(select(Job.id).where(Job.status == JobStatus.QUEUED)).scalars().all()
    run_jobs(db, settings, queued, "replay")
    with db.session() as session:
        failed = session.execute(
            select(Job.artifact_type, Job.error).where(Job.status == JobStatus.FAILED)
        ).all()
    assert failed == []


def served(db: Database, artifacts: set[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """(artifact type, path) → payload without the commit ids, for what the branch serves now."""
    with db.session() as session:
        rows = session.execute(
            select(CacheRef.artifact_type, CacheRef.path, CacheEntry.payload).join(
                CacheEntry, CacheEntry.key == CacheRef.entry_key
            )
        ).all()
    return {
        (row.artifact_type, row.path): {k: v for k, v in row.payload.items() if k not in COMMIT_FIELDS}
        for row in rows
        if row.artifact_type in artifacts
    }


def assert_serves_a_fresh_build(
    ledger: Database,
    corpus: Path,
    tmp_path: Path,
    head: str,
    label: str,
    artifacts: set[str],
    repo_name: str = "click",
) -> dict[tuple[str, str], dict[str, Any]]:
    """Build `head` from scratch in an empty SQLite ledger and check that `ledger` serves exactly
    that (entries and contents, commit ids aside; embedding_index's vectors by cosine); return what
    the fresh build serves."""
    incremental = served(ledger, artifacts)
    slug = "fresh-" + "".join(c if c.isalnum() else "-" for c in label)
    fresh_db = Database(f"sqlite:///{tmp_path / slug}.db")
    migrate.upgrade(fresh_db)
    fresh_settings = replay_settings(tmp_path, fresh_db, slug, [*SERVED, *sorted(artifacts - set(SERVED))])
    connected = connect(fresh_db, fresh_settings, str(corpus), name=repo_name)
    run_all(fresh_db, fresh_settings)
    # A commit summarizes the files it touched even when they are not key files: build those too.
    touched = sorted(
        path for kind, path in incremental if kind == "file_summary" and path
        and ("file_summary", path) not in served(fresh_db, {"file_summary"})
    )  # fmt: skip
    if touched:
        enqueue_artifacts(
            fresh_db, connected.repo, head, ["file_summary"], Trigger.MANUAL, "replay", scope=tuple(touched)
        )
        run_all(fresh_db, fresh_settings)
    full = served(fresh_db, artifacts)
    try:
        assert sorted(incremental) == sorted(full), (
            f"{label}: different entries",
            sorted(set(incremental) ^ set(full)),
        )
        for key, payload in full.items():
            assert incremental[key] == payload, f"{label}: {key} differs from a fresh build"
        if ("embedding_index", "") in full:
            files = {
                path: payload for (kind, path), payload in full.items() if kind == "embedding_index" and path
            }
            index = index_payload(full[("embedding_index", "")], files)
            assert_same_vectors(ledger, fresh_db, index, label)
    finally:
        fresh_db.dispose()
    return full


def assert_same_vectors(ledger: Database, fresh: Database, index: dict[str, Any], label: str) -> None:
    """Every chunk of the index has a vector in both ledgers, and they agree."""
    hashes = sorted({chunk["hash"] for chunk in index["chunks"]})
    ours, theirs = load_vectors(ledger, index["model"], hashes), load_vectors(fresh, index["model"], hashes)
    assert set(ours) == set(theirs) == set(hashes), f"{label}: vectors missing"
    if not hashes:
        return
    a = np.stack([np.frombuffer(ours[h], "<f4") for h in hashes])
    b = np.stack([np.frombuffer(theirs[h], "<f4") for h in hashes])
    cosines = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cosines.min() >= MIN_COSINE, f"{label}: a vector differs (cosine {cosines.min():.4f})"

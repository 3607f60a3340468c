"""The connect trigger fires on first connect, on re-connect after a disconnect, and on a change of branch."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.gitrepo import commit, git
from warmer.ledger.db import Database
from warmer.ledger.models import Trigger
from warmer.settings import load_settings
from warmer.triggers.connect import ConnectError, connect, disconnect


def test_connect_fires_on_first_connect_reconnect_and_branch_change(
    ledger: Database, small_repo: Path, tmp_path: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "engineering_cache:\n  warmers:\n    on_connect:\n      artifacts: [repo_map, symbol_index]\n"
    )
    settings = load_settings(
        {"WARMER_CONFIG": str(config), "WARMER_DATA_DIR": str(tmp_path / "d"), "DATABASE_URL": ledger.url}
    )

    first = connect(ledger, settings, str(small_repo), name="small")
    assert first.reason == "new" and first.planned is not None
    assert [j.trigger for j in first.planned.jobs] == [Trigger.CONNECT, Trigger.CONNECT]
    again = connect(ledger, settings, str(small_repo), name="small")
    assert again.reason == "unchanged" and again.planned is None  # nothing new to build

    disconnect(ledger, "small")
    with pytest.raises(ConnectError, match="already disconnected"):
        disconnect(ledger, "small")
    back = connect(ledger, settings, str(small_repo), name="small")
    assert back.reason == "reconnected" and back.planned is not None
    assert not any(job.created for job in back.planned.jobs)  # same commit: the earlier jobs stand in

    git(small_repo, "checkout", "-q", "-b", "develop")
    head = commit(small_repo, "develop work")
    moved = connect(ledger, settings, str(small_repo), name="small", branch="develop")
    assert moved.reason == "branch changed" and moved.repo.branch == "develop"
    assert (
        moved.planned is not None
        and moved.planned.commit == head
        and all(j.created for j in moved.planned.jobs)
    )

    off = tmp_path / "off.yaml"
    off.write_text("engineering_cache:\n  warmers:\n    on_connect:\n      enabled: false\n")
    disabled = load_settings(
        {"WARMER_CONFIG": str(off), "WARMER_DATA_DIR": str(tmp_path / "d"), "DATABASE_URL": ledger.url}
    )
    assert connect(ledger, disabled, str(small_repo), name="small", branch="main").planned is None


def test_a_name_taken_by_another_source_is_refused(
    ledger: Database, small_repo: Path, tmp_path: Path
) -> None:
    (tmp_path / "none").write_text("")  # every default
    settings = load_settings(
        {
            "WARMER_CONFIG": str(tmp_path / "none"),
            "WARMER_DATA_DIR": str(tmp_path / "d"),
            "DATABASE_URL": ledger.url,
        }
    )
    connect(ledger, settings, str(small_repo), name="small")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(small_repo), str(other))
    with pytest.raises(ConnectError, match="already connected from"):
        connect(ledger, settings, str(other), name="small")
    with pytest.raises(ConnectError, match="invalid repository name"):
        connect(ledger, settings, str(small_repo), name="../escape")

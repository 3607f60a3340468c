"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from tests.support.gitrepo import make_repo, repo_from_tree
from warmer.ledger import migrate
from warmer.ledger.db import Database
from warmer.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's environment, config file or data directory."""
    for name in list(__import__("os").environ):
        if name.startswith("KEEPTRUSTS_CACHE_WARMER_") or name in (
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "WARMER_CONFIG",
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WARMER_DATA_DIR", str(tmp_path / "data"))
    config = tmp_path / "no-config.yaml"  # named, so it must exist: empty means every default
    config.write_text("")
    monkeypatch.setenv("WARMER_CONFIG", str(config))
    monkeypatch.delenv("WARMER_ARTIFACT_MODULES", raising=False)
    # Commands answer from the ledger in-process; the resident server's own tests turn it on.
    monkeypatch.setenv("WARMER_RESIDENT", "0")


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    migrate.upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def small_repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "small",
        {
            "README.md": "# small\n\nA tiny project.\n",
            "app/__init__.py": "",
            "app/main.py": "def main():\n    return 1\n",
            "tests/test_main.py": "from app.main import main\n\n\ndef test_main():\n    assert main() == 1\n",
        },
    )


@pytest.fixture(scope="session")
def click_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real code nobody here wrote: the installed `click` package's source as a git repository."""
    source = Path(click.__file__).parent
    return repo_from_tree(source, tmp_path_factory.mktemp("corpus"))


def pytest_report_header() -> str:
    return f"python {sys.version.split()[0]}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, migrated Postgres database for one test, dropped afterwards."""
    from tests.support.services import create_database, database_url, drop_database

    name = create_database()
    url = database_url(name)
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    yield url
    drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The ledger on both backends it supports: the embedded SQLite file and Postgres."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
        migrate.upgrade(db)
    else:
        db = Database(request.getfixturevalue("pg_url"))
    yield db
    db.dispose()

from pathlib import Path

import pytest

from warmer.settings import EngineeringCache, SettingsError, load_settings, load_yaml

ROOT = Path(__file__).resolve().parents[2]


def _empty(tmp_path: Path) -> str:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    return str(path)


def test_documented_defaults(tmp_path: Path) -> None:
    settings = load_settings({"WARMER_DATA_DIR": str(tmp_path), "WARMER_CONFIG": _empty(tmp_path)})
    worker = settings.worker
    assert (worker.concurrency, worker.poll_interval_secs, worker.heartbeat_secs) == (4, 5, 30)
    assert (worker.stale_threshold_secs, worker.health_port, worker.max_retries) == (120, 8081, 3)
    assert settings.broker_url == "redis://localhost:6379/0"
    assert settings.embedded and settings.database_url == f"sqlite:///{tmp_path / 'warmer.db'}"
    miss = settings.warmers.on_miss
    assert (miss.enabled, miss.threshold, miss.window_hours, miss.max_jobs_per_hour) == (True, 5, 24, 20)
    assert settings.warmers.on_commit.debounce_seconds == 30
    assert settings.warmers.on_connect.artifacts[0] == "repo_map"


def test_shipped_yaml_holds_every_key_at_its_default() -> None:
    assert load_yaml(ROOT / "config/engineering_cache.yaml") == EngineeringCache()
    text = (ROOT / "config/engineering_cache.yaml").read_text()
    for key in (
        "debounce_seconds",
        "branches",
        "threshold",
        "window_hours",
        "max_jobs_per_hour",
        "artifacts",
    ):
        assert f"{key}:" in text


def test_environment_overrides_and_postgres_scheme(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "KEEPTRUSTS_CACHE_WARMER_CONCURRENCY": "8",
            "KEEPTRUSTS_CACHE_WARMER_HEALTH_PORT": "9090",
            "DATABASE_URL": "postgres://u:p@db:5432/warmer",
            "CELERY_BROKER_URL": "amqp://guest:guest@localhost:5672//",
            "WARMER_CONFIG": _empty(tmp_path),
        }
    )
    assert settings.worker.concurrency == 8 and settings.worker.health_port == 9090
    assert settings.database_url == "postgresql+psycopg2://u:p@db:5432/warmer"
    assert not settings.embedded


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"KEEPTRUSTS_CACHE_WARMER_CONCURRENCY": "four"},
            "KEEPTRUSTS_CACHE_WARMER_CONCURRENCY: input should be a valid integer",
        ),
        (
            {"KEEPTRUSTS_CACHE_WARMER_CONCURRENCY": "0"},
            "KEEPTRUSTS_CACHE_WARMER_CONCURRENCY: input should be greater than or equal to 1",
        ),
        ({"KEEPTRUSTS_CACHE_WARMER_HEALTH_PORT": "70000"}, "KEEPTRUSTS_CACHE_WARMER_HEALTH_PORT"),
        (
            {
                "KEEPTRUSTS_CACHE_WARMER_HEARTBEAT_SECS": "60",
                "KEEPTRUSTS_CACHE_WARMER_STALE_THRESHOLD_SECS": "30",
            },
            "KEEPTRUSTS_CACHE_WARMER_STALE_THRESHOLD_SECS: value error, must be greater than HEARTBEAT_SECS (60)",
        ),
    ],
)
def test_bad_environment_value_names_the_variable(env: dict[str, str], expected: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings({**env, "WARMER_CONFIG": _empty(tmp_path)})
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            "engineering_cache:\n  warmers:\n    on_miss:\n      treshold: 5\n",
            "engineering_cache.warmers.on_miss.treshold: unknown key",
        ),
        (
            "engineering_cache:\n  warmers:\n    on_miss:\n      threshold: lots\n",
            "engineering_cache.warmers.on_miss.threshold: input should be a valid integer",
        ),
        (
            "engineering_cache:\n  warmers:\n    on_commit:\n      debounce_seconds: -1\n",
            "engineering_cache.warmers.on_commit.debounce_seconds",
        ),
        ("cache:\n  warmers: {}\n", "expected one top-level key 'engineering_cache'"),
        ("engineering_cache: [\n", "not valid YAML"),
    ],
)
def test_bad_yaml_names_the_key(tmp_path: Path, document: str, expected: str) -> None:
    path = tmp_path / "engineering_cache.yaml"
    path.write_text(document)
    with pytest.raises(SettingsError) as error:
        load_settings({"WARMER_CONFIG": str(path)})
    assert expected in str(error.value)
    assert str(path) in str(error.value)


def test_yaml_values_are_read(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "engineering_cache:\n  warmers:\n    on_commit:\n      branches: [main, develop]\n"
        "    on_miss:\n      enabled: false\n      threshold: 3\n"
    )
    settings = load_settings({"WARMER_CONFIG": str(path)})
    assert settings.warmers.on_commit.branches == ["main", "develop"]
    assert settings.warmers.on_miss.enabled is False and settings.warmers.on_miss.threshold == 3
    assert settings.warmers.on_connect.enabled is True  # untouched keys keep their defaults

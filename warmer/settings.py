"""Settings: the documented environment variables plus the engineering_cache YAML.

Everything is validated once, at start. A bad value or an unknown key stops the
process with one message naming the key and what was expected, instead of a
worker that runs with a silently wrong default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from warmer.ledger.db import normalize_database_url

ENV_PREFIX = "KEEPTRUSTS_CACHE_WARMER_"
DEFAULT_CONFIG_PATH = Path("config/engineering_cache.yaml")
DEFAULT_BROKER_URL = "redis://localhost:6379/0"
ALL_CONNECT_ARTIFACTS = [
    "repo_map",
    "dependency_graph",
    "test_map",
    "api_inventory",
    "symbol_index",
    "embedding_index",
    "file_summary",
]
ALL_COMMIT_ARTIFACTS = [
    "file_summary",
    "dependency_graph",
    "test_map",
    "recent_change_summary",
    "known_failure_fingerprint",
]


class SettingsError(ValueError):
    """A configuration value is invalid; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OnConnect(_Strict):
    enabled: bool = True
    artifacts: list[str] = Field(default_factory=lambda: list(ALL_CONNECT_ARTIFACTS))


class OnCommit(_Strict):
    enabled: bool = True
    # Empty means "the repository's tracked branch".
    branches: list[str] = Field(default_factory=list)
    debounce_seconds: float = Field(default=30, ge=0)
    artifacts: list[str] = Field(default_factory=lambda: list(ALL_COMMIT_ARTIFACTS))
    # warmer's own, beyond the product page: also refresh every other artifact the branch serves
    # (the on_connect ones) when a file its generator reads changed, so no hit lags the head.
    # false: only `artifacts` are refreshed; hits on the others then say `stale: true`.
    keep_all_fresh: bool = True


class OnMiss(_Strict):
    enabled: bool = True
    threshold: int = Field(default=5, ge=1)
    window_hours: float = Field(default=24, gt=0)
    max_jobs_per_hour: int = Field(default=20, ge=1)


class Warmers(_Strict):
    on_connect: OnConnect = Field(default_factory=OnConnect)
    on_commit: OnCommit = Field(default_factory=OnCommit)
    on_miss: OnMiss = Field(default_factory=OnMiss)


class EngineeringCache(_Strict):
    warmers: Warmers = Field(default_factory=Warmers)


class WorkerSettings(_Strict):
    """The six documented KEEPTRUSTS_CACHE_WARMER_* variables, plus warmer's own."""

    concurrency: int = Field(default=4, ge=1, le=512)
    poll_interval_secs: float = Field(default=5, gt=0)
    heartbeat_secs: float = Field(default=30, gt=0)
    stale_threshold_secs: float = Field(default=120, gt=0)
    health_port: int = Field(default=8081, ge=0, le=65535)
    max_retries: int = Field(default=3, ge=0)
    # Not in the seed: a hard per-job limit, because a heartbeat thread can stay
    # alive while the job itself hangs (see NOTES, ledger lesson 3).
    job_timeout_secs: float = Field(default=1800, gt=0)
    # Delay before a failed attempt is retried; doubles per failure.
    retry_backoff_secs: float = Field(default=5, ge=0)
    # Retention (worker/retention.py, run by the leader): how long finished jobs (with their
    # events) and raw lookups are kept. The hourly lookup rollup and the audit trail stay.
    retain_completed_hours: float = Field(default=24 * 7, gt=0)
    retain_failed_hours: float = Field(default=24 * 30, gt=0)
    retain_lookups_hours: float = Field(default=24 * 30, gt=0)
    retention_interval_secs: float = Field(default=600, gt=0)

    @field_validator("stale_threshold_secs")
    @classmethod
    def _stale_after_heartbeat(cls, value: float, info: Any) -> float:
        heartbeat = info.data.get("heartbeat_secs")
        if heartbeat is not None and value <= heartbeat:
            raise ValueError(
                f"must be greater than HEARTBEAT_SECS ({heartbeat:g}), or every running job would look stale"
            )
        return value


class Settings(_Strict):
    database_url: str
    broker_url: str = DEFAULT_BROKER_URL
    data_dir: Path
    config_path: Path
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    engineering_cache: EngineeringCache = Field(default_factory=EngineeringCache)

    @property
    def warmers(self) -> Warmers:
        return self.engineering_cache.warmers

    @property
    def refreshed_on_commit(self) -> list[str]:
        """The artifacts a commit may refresh: `on_commit.artifacts`, plus the connect ones when
        `keep_all_fresh` (each only if the commit changed what its generator reads)."""
        on_commit = self.warmers.on_commit
        extra = self.warmers.on_connect.artifacts if on_commit.keep_all_fresh else []
        return list(dict.fromkeys([*on_commit.artifacts, *extra]))

    @property
    def embedded(self) -> bool:
        """True when the ledger is the embedded SQLite file (no servers)."""
        return self.database_url.startswith("sqlite")


_WORKER_ENV_KEYS = {
    "CONCURRENCY": "concurrency",
    "POLL_INTERVAL_SECS": "poll_interval_secs",
    "HEARTBEAT_SECS": "heartbeat_secs",
    "STALE_THRESHOLD_SECS": "stale_threshold_secs",
    "HEALTH_PORT": "health_port",
    "MAX_RETRIES": "max_retries",
    "JOB_TIMEOUT_SECS": "job_timeout_secs",
    "RETRY_BACKOFF_SECS": "retry_backoff_secs",
    "RETAIN_COMPLETED_HOURS": "retain_completed_hours",
    "RETAIN_FAILED_HOURS": "retain_failed_hours",
    "RETAIN_LOOKUPS_HOURS": "retain_lookups_hours",
    "RETENTION_INTERVAL_SECS": "retention_interval_secs",
}


def default_data_dir(env: Mapping[str, str]) -> Path:
    if env.get("WARMER_DATA_DIR"):
        return Path(env["WARMER_DATA_DIR"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "warmer"


def _sentence(message: str) -> str:
    return message[:1].lower() + message[1:]


def _describe(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        key = source + ".".join(str(part) for part in item["loc"])
        if item["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key")
        else:
            got = item.get("input")
            lines.append(f"{key}: {_sentence(item['msg'])} (got {got!r})")
    return "; ".join(lines)


def load_yaml(path: Path) -> EngineeringCache:
    """Read the engineering_cache YAML; a missing file means all defaults."""
    if not path.exists():
        return EngineeringCache()
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or set(document) - {"engineering_cache"}:
        unknown = sorted(set(document) - {"engineering_cache"}) if isinstance(document, dict) else []
        raise SettingsError(
            f"{path}: expected one top-level key 'engineering_cache'"
            + (f", found unknown key(s) {unknown}" if unknown else "")
        )
    try:
        return EngineeringCache.model_validate(document.get("engineering_cache") or {})
    except ValidationError as exc:
        raise SettingsError(f"{path}: {_describe(exc, 'engineering_cache.')}") from exc


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment (and the YAML file it points to)."""
    env = os.environ if env is None else env
    worker_values: dict[str, str] = {}
    for suffix, field in _WORKER_ENV_KEYS.items():
        value = env.get(ENV_PREFIX + suffix)
        if value is not None and value.strip() != "":
            worker_values[field] = value.strip()
    try:
        worker = WorkerSettings.model_validate(worker_values)
    except ValidationError as exc:
        parts = []
        field_to_env = {field: ENV_PREFIX + suffix for suffix, field in _WORKER_ENV_KEYS.items()}
        for item in exc.errors():
            name = field_to_env.get(str(item["loc"][0]), str(item["loc"][0]))
            parts.append(f"{name}: {_sentence(item['msg'])} (got {item.get('input')!r})")
        raise SettingsError("; ".join(parts)) from exc

    data_dir = default_data_dir(env)
    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'warmer.db'}"
    config_path = Path(env.get("WARMER_CONFIG") or DEFAULT_CONFIG_PATH)
    return Settings(
        database_url=normalize_database_url(database_url),
        broker_url=env.get("CELERY_BROKER_URL") or DEFAULT_BROKER_URL,
        data_dir=data_dir,
        config_path=config_path,
        worker=worker,
        engineering_cache=load_yaml(config_path),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, loaded once."""
    return load_settings()

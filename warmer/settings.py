"""Settings: the documented environment variables plus the engineering_cache YAML.

Everything is validated once, at start. A bad value or an unknown key stops the
process with one message naming the key and what was expected, instead of a
worker that runs with a silently wrong default.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from warmer.data_dir import default_data_dir
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


_HOUR = 3600.0
_DAY = 24 * _HOUR
_WEEK = 7 * _DAY
_TEN_YEARS_IN_HOURS = 10 * 366 * 24.0
_MAX_ENTRY_CACHE_MB = 1024 * 1024


class OnCommit(_Strict):
    enabled: bool = True
    # Empty means "the repository's tracked branch".
    branches: list[str] = Field(default_factory=list)
    debounce_seconds: float = Field(default=30, ge=0, le=_DAY, allow_inf_nan=False)
    artifacts: list[str] = Field(default_factory=lambda: list(ALL_COMMIT_ARTIFACTS))
    # warmer's own, beyond the product page: also refresh every other artifact the branch serves
    # (the on_connect ones) when a file its generator reads changed, so no hit lags the head.
    # false: only `artifacts` are refreshed; hits on the others then say `stale: true`.
    keep_all_fresh: bool = True


class OnMiss(_Strict):
    enabled: bool = True
    threshold: int = Field(default=5, ge=1, le=1_000_000)
    window_hours: float = Field(default=24, gt=0, le=366 * 24, allow_inf_nan=False)
    max_jobs_per_hour: int = Field(default=20, ge=1, le=1_000_000)


class Warmers(_Strict):
    on_connect: OnConnect = Field(default_factory=OnConnect)
    on_commit: OnCommit = Field(default_factory=OnCommit)
    on_miss: OnMiss = Field(default_factory=OnMiss)


class EngineeringCache(_Strict):
    warmers: Warmers = Field(default_factory=Warmers)


class WorkerSettings(_Strict):
    """The six documented KEEPTRUSTS_CACHE_WARMER_* variables, plus warmer's own.

    Every number is finite and bounded: `inf` or 1e308 would pass a bare `> 0` and then overflow
    in a timedelta or in Celery's time limits, far from the variable that caused it."""

    concurrency: int = Field(default=4, ge=1, le=512)
    poll_interval_secs: float = Field(default=5, gt=0, le=_HOUR, allow_inf_nan=False)
    heartbeat_secs: float = Field(default=30, gt=0, le=_HOUR, allow_inf_nan=False)
    stale_threshold_secs: float = Field(default=120, gt=0, le=_WEEK, allow_inf_nan=False)
    health_port: int = Field(default=8081, ge=0, le=65535)
    max_retries: int = Field(default=3, ge=0, le=1000)
    # Not in the seed: a hard per-job limit, because a heartbeat thread can stay
    # alive while the job itself hangs (see NOTES, ledger lesson 3).
    job_timeout_secs: float = Field(default=1800, gt=0, le=_WEEK, allow_inf_nan=False)
    # Delay before a failed attempt is retried; doubles per failure.
    retry_backoff_secs: float = Field(default=5, ge=0, le=_HOUR, allow_inf_nan=False)
    # Retention (worker/retention.py, run by the leader): how long finished jobs (with their
    # events) and raw lookups are kept. The hourly lookup rollup and the audit trail stay.
    retain_completed_hours: float = Field(default=24 * 7, gt=0, le=_TEN_YEARS_IN_HOURS, allow_inf_nan=False)
    retain_failed_hours: float = Field(default=24 * 30, gt=0, le=_TEN_YEARS_IN_HOURS, allow_inf_nan=False)
    retain_lookups_hours: float = Field(default=24 * 30, gt=0, le=_TEN_YEARS_IN_HOURS, allow_inf_nan=False)
    retention_interval_secs: float = Field(default=600, gt=0, le=_DAY, allow_inf_nan=False)

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
    # WARMER_ENTRY_CACHE_MB: entries a serving process (`warmer serve`, `warmer mcp`) keeps in memory.
    entry_cache_mb: int = Field(default=128, ge=0, le=_MAX_ENTRY_CACHE_MB)
    # WARMER_EXTRACT_MEMO_MB: per-blob extracts a worker process keeps decoded between its jobs.
    extract_memo_mb: int = Field(default=256, ge=0, le=_MAX_ENTRY_CACHE_MB)

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


def load_yaml(path: Path, *, named: bool = False) -> EngineeringCache:
    """Read the engineering_cache YAML. The default file may be absent (all defaults); a file named
    by WARMER_CONFIG (`named`) must exist. Unreadable or non-UTF-8 files are errors either way."""
    shown = f"WARMER_CONFIG={str(path)!r}" if named else str(path)
    if not path.exists():
        if not named:
            return EngineeringCache()
        raise SettingsError(
            f"{shown}: no such file; name an existing YAML file, or unset WARMER_CONFIG for"
            f" {DEFAULT_CONFIG_PATH} (all defaults when that is absent too)"
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise SettingsError(
            f"{shown}: cannot be read: {exc.strerror or exc}; expected a readable YAML file"
        ) from exc
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"{shown}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start});"
            " expected a UTF-8 YAML file"
        ) from exc
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or set(document) - {"engineering_cache"}:
        unknown = (
            sorted(map(str, set(document) - {"engineering_cache"})) if isinstance(document, dict) else []
        )
        raise SettingsError(
            f"{path}: expected one top-level key 'engineering_cache'"
            + (f", found unknown key(s) {unknown}" if unknown else "")
        )
    try:
        return EngineeringCache.model_validate(document.get("engineering_cache") or {})
    except ValidationError as exc:
        raise SettingsError(f"{path}: {_describe(exc, 'engineering_cache.')}") from exc


def _allowed(field: str) -> str:
    """What a worker variable accepts, from its declared type and bounds."""
    info = WorkerSettings.model_fields[field]
    words = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    bounds = [
        f"{words[name]} {getattr(item, name):g}"
        for item in info.metadata
        for name in words
        if getattr(item, name, None) is not None
    ]
    kind = "a whole number" if info.annotation is int else "a finite number"
    return f"{kind} {' and '.join(bounds)}"


def _worker_settings(env: Mapping[str, str]) -> WorkerSettings:
    values: dict[str, str] = {}
    for suffix, field in _WORKER_ENV_KEYS.items():
        value = env.get(ENV_PREFIX + suffix)
        if value is not None and value.strip() != "":
            values[field] = value.strip()
    try:
        return WorkerSettings.model_validate(values)
    except ValidationError as exc:
        parts = []
        field_to_env = {field: ENV_PREFIX + suffix for suffix, field in _WORKER_ENV_KEYS.items()}
        for item in exc.errors():
            field = str(item["loc"][0])
            name = field_to_env.get(field, field)
            parts.append(
                f"{name}: {_sentence(item['msg'])} (got {item.get('input')!r}); allowed: {_allowed(field)}"
            )
        raise SettingsError("; ".join(parts)) from exc


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment (and the YAML file it points to); every variable is
    checked here, where it is read, and a bad one is a SettingsError naming it, its value and
    what it accepts."""
    env = os.environ if env is None else env
    worker = _worker_settings(env)
    data_dir = _data_dir(env)
    _check_llm_timeout(env)
    named_config = (env.get("WARMER_CONFIG") or "").strip()
    config_path = Path(named_config).expanduser() if named_config else DEFAULT_CONFIG_PATH
    return Settings(
        database_url=database_url_from(env, data_dir),
        broker_url=broker_url_from(env),
        data_dir=data_dir,
        config_path=config_path,
        worker=worker,
        engineering_cache=load_yaml(config_path, named=bool(named_config)),
        entry_cache_mb=_megabytes(env, "WARMER_ENTRY_CACHE_MB", 128),
        extract_memo_mb=_megabytes(env, "WARMER_EXTRACT_MEMO_MB", 256),
    )


def _megabytes(env: Mapping[str, str], name: str, default: int) -> int:
    value = (env.get(name) or "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) > _MAX_ENTRY_CACHE_MB:
        raise SettingsError(
            f"{name}={value[:40]!r}: allowed: a whole number of megabytes from 0 to {_MAX_ENTRY_CACHE_MB}"
        )
    return int(value)


def _data_dir(env: Mapping[str, str]) -> Path:
    path = default_data_dir(env)
    if path.exists() and not path.is_dir():
        raise SettingsError(
            f"WARMER_DATA_DIR={str(path)!r}: is not a directory; expected a directory (created when missing)"
        )
    return path


def _check_llm_timeout(env: Mapping[str, str]) -> None:
    """WARMER_LLM_TIMEOUT_SECS is read by file_summary's LLM client; a bad value is said at start."""
    value = (env.get("WARMER_LLM_TIMEOUT_SECS") or "").strip()
    if not value:
        return
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0 < seconds <= _HOUR):
        raise SettingsError(
            f"WARMER_LLM_TIMEOUT_SECS={value!r}: allowed: a finite number of seconds > 0 and <= 3600"
        )


_DATABASE_FORMS = (
    "expected postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE (postgres:// also accepted),"
    " or sqlite:///PATH for the embedded ledger"
)


def database_url_from(env: Mapping[str, str], data_dir: Path) -> str:
    """DATABASE_URL normalized for SQLAlchemy, or the embedded SQLite file when it is unset."""
    raw = (env.get("DATABASE_URL") or "").strip()
    if not raw:
        return f"sqlite:///{data_dir / 'warmer.db'}"
    normalized = normalize_database_url(raw)
    try:
        url = make_url(normalized)
    except (ArgumentError, ValueError) as exc:
        raise SettingsError(
            f"DATABASE_URL={redact_url(raw)!r}: not a database URL ({exc}); {_DATABASE_FORMS}"
        ) from None
    if url.drivername not in ("postgresql+psycopg2", "sqlite"):
        raise SettingsError(
            f"DATABASE_URL={redact_url(raw)!r}: unsupported scheme {url.drivername!r}; {_DATABASE_FORMS}"
        )
    if url.drivername == "sqlite" and not url.database:
        raise SettingsError(f"DATABASE_URL={redact_url(raw)!r}: names no database file; {_DATABASE_FORMS}")
    return normalized


BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")
_BROKER_FORMS = (
    "expected redis://[:PASSWORD@]HOST[:PORT][/DB], rediss://..., or amqp://USER:PASSWORD@HOST[:PORT]/VHOST"
)


def broker_url_from(env: Mapping[str, str]) -> str:
    """CELERY_BROKER_URL (Celery's own variable), checked: Redis or RabbitMQ, a host, a numeric port."""
    raw = (env.get("CELERY_BROKER_URL") or "").strip() or DEFAULT_BROKER_URL
    for one in raw.split(";"):  # kombu's failover list: each must be a broker warmer can use
        shown = f"CELERY_BROKER_URL={redact_url(raw)!r}"
        scheme = one.split("://", 1)[0] if "://" in one else ""
        if scheme not in BROKER_SCHEMES:
            raise SettingsError(f"{shown}: unknown scheme {scheme or one[:20]!r}; {_BROKER_FORMS}")
        parts = urlsplit(one)
        try:
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
        except ValueError as exc:
            raise SettingsError(f"{shown}: {exc}; {_BROKER_FORMS}") from None
        if not parts.hostname:
            raise SettingsError(f"{shown}: names no host; {_BROKER_FORMS}")
        if scheme.startswith("redis") and parts.path not in ("", "/") and not parts.path[1:].isdigit():
            raise SettingsError(
                f"{shown}: the Redis database {parts.path[1:]!r} is not a number; {_BROKER_FORMS}"
            )
    return raw


def redact_url(url: str) -> str:
    """The URL as it may be shown: a password becomes ***."""
    parts = urlsplit(url) if "://" in url else None
    if parts is None or parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, loaded once."""
    return load_settings()

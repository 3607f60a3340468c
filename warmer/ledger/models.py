"""The ledger's tables. States and triggers are str Enums mirroring Postgres enums."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from warmer.ledger.db import UTCDateTime, utcnow

# SQLite only autoincrements INTEGER PRIMARY KEY; Postgres gets a bigint identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


class JobStatus(enum.StrEnum):
    """A job's lifecycle state; each says who moves it on."""

    QUEUED = "queued"  # a worker claims it (or the poller re-publishes its message)
    CLAIMED = "claimed"  # the claiming worker starts it; the reaper reclaims it if that worker dies
    RUNNING = "running"  # the worker completes or fails it; the reaper reclaims it on a stale heartbeat
    COMPLETED = "completed"  # terminal, kept for audit
    FAILED = "failed"  # terminal until a person re-queues it (never automatic)

    @classmethod
    def active(cls) -> tuple[JobStatus, ...]:
        return (cls.QUEUED, cls.CLAIMED, cls.RUNNING)


class Trigger(enum.StrEnum):
    """What caused a job; decides its queue and priority (commit > connect > miss)."""

    COMMIT = "commit"
    CONNECT = "connect"
    MANUAL = "manual"  # a person asked for a full warming: connect's queue and priority
    MISS = "miss"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda members: [m.value for m in members])


class Base(DeclarativeBase):
    pass


class Repository(Base):
    __tablename__ = "repositories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(Text)  # clone URL or local path
    branch: Mapped[str] = mapped_column(String(255))  # the tracked branch
    connected: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Shared with the git host to sign push webhooks (GitHub HMAC key, GitLab token). Never printed
    # again after `warmer webhook-secret` shows it once.
    webhook_secret: Mapped[str | None] = mapped_column(String(200))


_QUEUED = text("status = 'queued'")
_IN_FLIGHT = text("status IN ('claimed', 'running')")
_FINISHED = text("finished_at IS NOT NULL")
_TERMINAL_EVENT = text("to_status IN ('completed', 'failed')")
_COMPLETED = text("status = 'completed'")
_MISS = text("trigger = 'miss'")
# The metrics' counters count these events through their own small indexes, never by a scan.
RECLAIM_EVENT = text("detail LIKE 'reclaim %'")
RETRY_EVENT = text("to_status = 'queued' AND detail LIKE 'failure %'")


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    branch: Mapped[str] = mapped_column(String(255))
    commit: Mapped[str] = mapped_column(String(64))
    artifact_type: Mapped[str] = mapped_column(String(100))
    # None = the whole repository; otherwise the paths the generator should redo.
    scope: Mapped[list[str] | None] = mapped_column(Json)
    params: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    trigger: Mapped[Trigger] = mapped_column(_enum(Trigger, "job_trigger"))
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"))
    # attempts: times a worker claimed it. failures: generator errors.
    # reclaims: times a worker died holding it. The last two are capped apart.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    reclaims: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(200))
    claim_token: Mapped[str | None] = mapped_column(String(36))
    error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(64))
    # Not published before this time (retry backoff, debounce); kept here, not in broker ETAs.
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())
    # NULL means no message is known to be on the broker: the poller publishes one.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Partial indexes: every state change rewrites the row (status is indexed, so no HOT
        # update), and each index a row version enters costs an insertion. These only take the
        # rows in the states their queries ask about.
        Index("ix_jobs_queued", "available_at", postgresql_where=_QUEUED, sqlite_where=_QUEUED),
        Index("ix_jobs_in_flight", "worker_id", postgresql_where=_IN_FLIGHT, sqlite_where=_IN_FLIGHT),
        Index("ix_jobs_finished", "finished_at", postgresql_where=_FINISHED, sqlite_where=_FINISHED),
        Index("ix_jobs_repo", "repo_id", "artifact_type"),
        # The console's reads (migration 0008): keyset pages of a filtered list, newest first...
        Index("ix_jobs_status_id", "status", "id"),
        Index("ix_jobs_repo_id", "repo_id", "id"),
        Index("ix_jobs_trigger_id", "trigger", "id"),
        # ... counts of the last 24 hours from the index alone, and each repository's last warming ...
        Index(
            "ix_jobs_finished_status",
            "finished_at",
            "status",
            postgresql_where=_FINISHED,
            sqlite_where=_FINISHED,
        ),
        Index(
            "ix_jobs_repo_completed",
            "repo_id",
            "finished_at",
            postgresql_where=_COMPLETED,
            sqlite_where=_COMPLETED,
        ),
        # ... miss jobs by when they were queued (Analytics) and by when they become available (the
        # miss trigger's per-hour cap counts these for every threshold it reaches) ...
        Index("ix_jobs_miss_queued", "queued_at", "status", postgresql_where=_MISS, sqlite_where=_MISS),
        Index("ix_jobs_miss_available", "available_at", postgresql_where=_MISS, sqlite_where=_MISS),
        # ... and search by commit prefix (text_pattern_ops: LIKE 'abc%' whatever the collation).
        Index("ix_jobs_commit", "commit", postgresql_ops={"commit": "varchar_pattern_ops"}),
        # One active job per (repo, branch, commit, artifact, scope): duplicates collapse.
        Index(
            "ux_jobs_active_dedupe",
            "dedupe_key",
            unique=True,
            postgresql_where=text("status IN ('queued', 'claimed', 'running')"),
            sqlite_where=text("status IN ('queued', 'claimed', 'running')"),
        ),
        # Rows maintenance could not handle are refused (migration 0007; triggers on SQLite):
        # a priority no queue knows, negative counters, a claimed or running job without its claim
        # (it could never complete, and nothing would say it is stuck), a finished job without a time.
        CheckConstraint(
            "(trigger = 'commit' AND priority = 0) OR (trigger IN ('connect', 'manual') AND priority = 1)"
            " OR (trigger = 'miss' AND priority = 2)",
            name="ck_jobs_priority_of_trigger",
        ),
        CheckConstraint("attempts >= 0 AND failures >= 0 AND reclaims >= 0", name="ck_jobs_counters"),
        CheckConstraint(
            "status NOT IN ('claimed', 'running')"
            " OR (claim_token IS NOT NULL AND worker_id IS NOT NULL AND claimed_at IS NOT NULL)",
            name="ck_jobs_claim",
        ),
        CheckConstraint("status <> 'queued' OR claim_token IS NULL", name="ck_jobs_queued_unclaimed"),
        CheckConstraint(
            "status NOT IN ('completed', 'failed') OR finished_at IS NOT NULL", name="ck_jobs_finished"
        ),
    )


# Search by error text (ILIKE '%...%') through trigrams: Postgres only (pg_trgm); SQLite scans.
Index(
    "ix_jobs_error_trgm",
    Job.error,
    postgresql_using="gin",
    postgresql_ops={"error": "gin_trgm_ops"},
    postgresql_where=text("error IS NOT NULL"),
).ddl_if(dialect="postgresql")


class JobEvent(Base):
    """Append-only: one row per transition. Audit trail and phase timings come from here."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())
    from_status: Mapped[JobStatus | None] = mapped_column(_enum(JobStatus, "job_status"))
    to_status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"))
    actor: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "ix_job_events_finished_by",
            "actor",
            postgresql_where=_TERMINAL_EVENT,
            sqlite_where=_TERMINAL_EVENT,
        ),
        CheckConstraint("attempt >= 0", name="ck_job_events_attempt"),
        Index("ix_job_events_reclaims", "id", postgresql_where=RECLAIM_EVENT, sqlite_where=RECLAIM_EVENT),
        Index("ix_job_events_retries", "id", postgresql_where=RETRY_EVENT, sqlite_where=RETRY_EVENT),
    )


class WarmerInstance(Base):
    """One row per worker start (a fresh id each time, never the hostname)."""

    __tablename__ = "warmer_instances"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("concurrency >= 1", name="ck_warmer_instances_concurrency"),)


class CacheEntry(Base):
    """Content-addressed artifact content: the key hashes every true input."""

    __tablename__ = "cache_entries"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    artifact_type: Mapped[str] = mapped_column(String(100))
    generator_version: Mapped[str] = mapped_column(String(50))
    source_hash: Mapped[str] = mapped_column(String(64))  # git tree/blob id it was built from
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())


class CacheRef(Base):
    """Which entry a repository's branch currently serves, apart from the content itself.

    `commit` is the newest commit the entry is known to be right for: the job that wrote it, moved
    forward by cache/freshness.py whenever a later commit changed nothing its generator reads. A ref
    at a commit other than the branch head is served with `stale: true`."""

    __tablename__ = "cache_refs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    branch: Mapped[str] = mapped_column(String(255))
    artifact_type: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(Text, default="")  # "" = the whole repository
    commit: Mapped[str] = mapped_column(String(64))
    entry_key: Mapped[str] = mapped_column(ForeignKey("cache_entries.key"))
    job_id: Mapped[int | None] = mapped_column(BigId)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())

    __table_args__ = (
        UniqueConstraint("repo_id", "branch", "artifact_type", "path", name="ux_cache_refs"),
        # Secondary indexes (symbols) are keyed by entry: this finds which branches serve one.
        Index("ix_cache_refs_entry", "entry_key", "repo_id", "branch"),
    )


class SymbolRow(Base):
    """One symbol of one per-file symbol_index entry: the index agents search by name.

    Rows belong to the entry (content-addressed), written once when the entry is first stored;
    which branch serves them comes from `cache_refs`. `folded` is the name lower-cased (prefix and
    fuzzy look-ups: btree and, on Postgres, a pg_trgm GIN index; on SQLite an FTS5 trigram table);
    `initials` the letters at word starts (`qs` for QuerySet), for acronym queries."""

    __tablename__ = "symbols"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_key: Mapped[str] = mapped_column(ForeignKey("cache_entries.key", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(300))
    folded: Mapped[str] = mapped_column(String(300))
    initials: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(50))
    start_line: Mapped[int] = mapped_column(Integer)
    symbol: Mapped[dict[str, Any]] = mapped_column(Json)  # every field, as served

    __table_args__ = (
        Index("ix_symbols_entry", "entry_key"),
        Index("ix_symbols_name", "name"),
        Index("ix_symbols_folded", "folded", postgresql_ops={"folded": "text_pattern_ops"}),
        Index("ix_symbols_initials", "initials", postgresql_ops={"initials": "text_pattern_ops"}),
        Index(
            "ix_symbols_folded_trgm",
            "folded",
            postgresql_using="gin",
            postgresql_ops={"folded": "gin_trgm_ops"},
        ),
    )


class BlobExtract(Base):
    """Per-file results keyed by blob id: unchanged or shared content is never recomputed."""

    __tablename__ = "blob_extracts"

    artifact_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    generator_version: Mapped[str] = mapped_column(String(50), primary_key=True)
    blob_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    payload: Mapped[dict[str, Any]] = mapped_column(Json)


class CacheLookup(Base):
    """Every agent lookup, hit or miss: miss counting and hit-rate analytics read this."""

    __tablename__ = "cache_lookups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repo_id: Mapped[int | None] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    repo_name: Mapped[str] = mapped_column(String(200))
    artifact_type: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(Text, default="")
    task_type: Mapped[str] = mapped_column(String(100))
    hit: Mapped[bool] = mapped_column(Boolean)
    # A hit built at an older commit than the head, whose inputs changed since: it counts toward the
    # miss trigger like a miss.
    stale: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())

    __table_args__ = (
        Index("ix_cache_lookups_pattern", "task_type", "repo_id", "artifact_type", "at"),
        # Did a hit follow a miss job on the same path (Analytics' conversions), and retention by age.
        Index("ix_cache_lookups_path", "repo_id", "artifact_type", "path", "hit", "at"),
        Index("ix_cache_lookups_at", "at"),
    )


class _LookupCounters:
    """Counters of the lookups of one (period, repository, artifact type)."""

    repo_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    artifact_type: Mapped[str] = mapped_column(String(100))
    repo_name: Mapped[str] = mapped_column(String(200))
    lookups: Mapped[int] = mapped_column(BigInteger, default=0)
    hits: Mapped[int] = mapped_column(BigInteger, default=0)
    misses: Mapped[int] = mapped_column(BigInteger, default=0)
    stale_hits: Mapped[int] = mapped_column(BigInteger, default=0)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LookupHourly(_LookupCounters, Base):
    """Lookups per clock hour and (repository, artifact type), kept as they are recorded
    (ledger/lookup_stats.py): Analytics' windows up to two days read hours, never the raw
    lookups. A stale hit is a hit that counts as a miss for the miss trigger. Kept 7 days."""

    __tablename__ = "lookup_hourly"

    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    # The period leads: every read is a range of periods.
    __table_args__ = (PrimaryKeyConstraint("hour", "repo_id", "artifact_type"),)


class LookupDaily(_LookupCounters, Base):
    """The same counters per UTC day: longer windows and the metrics' totals read these, and
    they outlive the raw lookups retention prunes."""

    __tablename__ = "lookup_daily"

    day: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (PrimaryKeyConstraint("day", "repo_id", "artifact_type"),)


class MissConversion(Base):
    """A completed miss-triggered job that was followed by a hit on what it warmed (same
    repository, artifact and path). Once converted always converted, so it is found once (by
    ledger/conversions.py's fold) and counted by a join ever after, never probed again."""

    __tablename__ = "miss_conversions"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    converted_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())


class LedgerAudit(Base):
    """What people and maintenance did beyond single transitions: a bulk re-queue (who, which
    filter, how many), a retention run (what it pruned, up to which cutoffs)."""

    __tablename__ = "ledger_audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    detail: Mapped[dict[str, Any]] = mapped_column(Json)

    __table_args__ = (Index("ix_ledger_audit_action", "action", "id"),)


class LedgerTotal(Base):
    """Running totals that must survive retention (Prometheus counters never go down), and the
    watermark of each incremental fold: one small row each."""

    __tablename__ = "ledger_totals"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobDurationTotal(Base):
    """The completed jobs' run-time histogram per artifact type, folded in from the jobs finished
    since the last fold (console/metrics.py), so a scrape reads a few rows, not every job."""

    __tablename__ = "job_duration_totals"

    artifact_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    sum_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    buckets: Mapped[list[int]] = mapped_column(Json)  # cumulative counts, one per bound


class ClusterState(Base):
    """Small shared facts between workers, e.g. the broker server id last seen."""

    __tablename__ = "cluster_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())


class BranchState(Base):
    """The commit, and its tree, a branch's cache was last planned from.

    The commit trigger diffs a new commit's tree against this tree: only what
    changed since is refreshed. Set by connect, by a full warming and by each
    planned commit."""

    __tablename__ = "branch_state"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True)
    branch: Mapped[str] = mapped_column(String(255), primary_key=True)
    commit: Mapped[str] = mapped_column(String(64))
    tree: Mapped[str] = mapped_column(String(64))
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())


class BranchHead(Base):
    """The newest commit of a branch the ledger knows: set by connect, a full warming and every
    accepted push (at once, before its debounce window closes). Every hit is served with it; a hit
    whose ref is at another commit is stale (cache/freshness.py)."""

    __tablename__ = "branch_heads"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True)
    branch: Mapped[str] = mapped_column(String(255), primary_key=True)
    commit: Mapped[str] = mapped_column(String(64))
    tree: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())


class CommitTriggerStatus(enum.StrEnum):
    PENDING = "pending"  # waiting out its debounce window; later pushes replace its commit
    PLANNED = "planned"  # its jobs were enqueued
    IGNORED = "ignored"  # not a tracked branch, a disconnected repository, or the trigger is disabled


_PENDING = text("status = 'pending'")


class CommitTrigger(Base):
    """One push (or a burst of them collapsed by the debounce window), and what became of it."""

    __tablename__ = "commit_triggers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    branch: Mapped[str] = mapped_column(String(255))
    commit: Mapped[str] = mapped_column(String(64))  # the latest commit seen in the window
    commits_seen: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(50))  # cli, webhook:github, webhook:gitlab, hook, ...
    status: Mapped[CommitTriggerStatus] = mapped_column(_enum(CommitTriggerStatus, "commit_trigger_status"))
    detail: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # At most one open window per branch: a push inside it updates the row instead.
        Index(
            "ux_commit_triggers_pending",
            "repo_id",
            "branch",
            unique=True,
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        ),
        Index("ix_commit_triggers_due", "due_at", postgresql_where=_PENDING, sqlite_where=_PENDING),
        CheckConstraint("commits_seen >= 1", name="ck_commit_triggers_commits_seen"),
    )


class WebhookDelivery(Base):
    """Every push webhook received, accepted or refused, and why: refusals must be visible."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())
    provider: Mapped[str] = mapped_column(String(20))
    repo_name: Mapped[str] = mapped_column(String(200))
    delivery_id: Mapped[str | None] = mapped_column(String(100))
    event: Mapped[str | None] = mapped_column(String(100))
    status_code: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(Text)
    commit_trigger_id: Mapped[int | None] = mapped_column(BigId)

    __table_args__ = (
        CheckConstraint("status_code BETWEEN 100 AND 599", name="ck_webhook_deliveries_status_code"),
    )


class EmbeddingVector(Base):
    """One chunk's vector under one model, keyed by the chunk's content hash: shared by every file,
    commit, branch and repository that holds the same text, so it is embedded once."""

    __tablename__ = "embedding_vectors"

    model_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    chunk_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian, `dim` values
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())


class JunitReport(Base):
    """Every JUnit XML report ingested; the same file twice (same sha256) is counted once."""

    __tablename__ = "junit_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(20))  # cli | http
    commit: Mapped[str | None] = mapped_column(String(64))
    tests: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer)  # failed + errored test cases
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())

    __table_args__ = (UniqueConstraint("repo_id", "sha256", name="ux_junit_reports_file"),)


class FailureFingerprint(Base):
    """A normalized failure signature of a repository: how often it was seen, first and last."""

    __tablename__ = "failure_fingerprints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    exception_type: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)  # normalized
    frames: Mapped[list[str]] = mapped_column(Json)  # normalized top frames
    test_name: Mapped[str] = mapped_column(Text)  # the last test that failed this way
    sample: Mapped[str] = mapped_column(Text)  # the last raw message, truncated
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, server_default=utcnow())

    __table_args__ = (UniqueConstraint("repo_id", "fingerprint", name="ux_failure_fingerprints"),)

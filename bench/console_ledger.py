"""A ledger of a real deployment's size, built in Postgres by generate_series (seconds, not hours).

Scale 1 is issue 15's ledger: 50,000 jobs over 7 days, 200,000 events, 250,000 lookups, ~461
miss-triggered jobs in the last 24 h; 20 repositories, 28 worker instances (4 alive), 209 cache
refs per repository. Scale N multiplies every count by N. Ids grow with time, as they do when a
ledger fills up; the newest 200 x N jobs are queued, 8 x N running, 3 % of the rest failed with a
traceback (varied words, for search), 1 % of jobs were reclaimed once. Lookups hit 85 % of the
time; the per-file artifacts look up one of 500 paths, the miss jobs warm one of those paths.
The empty ledger (scale 0) holds one repository and one completed job, so that every page has
something to render.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from warmer.ledger.db import Database
from warmer.ledger.lookup_stats import backfill_sql

ARTIFACTS = ["repo_map", "dependency_graph", "test_map", "api_inventory", "symbol_index",
             "embedding_index", "file_summary", "recent_change_summary", "known_failure_fingerprint"]  # fmt: skip
ERRORS = ["ValueError: could not parse manifest", "TimeoutError: generator exceeded JOB_TIMEOUT_SECS",
          "GitError: object not found in mirror", "UnicodeDecodeError: invalid start byte",
          "MemoryError: embedding batch too large"]  # fmt: skip


def counts(scale: int) -> dict[str, int]:
    return {
        "repos": 20 * scale, "jobs": 50_000 * scale, "lookups": 250_000 * scale,
        "instances": 28 * scale, "alive": 4 * scale, "refs_per_repo": 209,
        "queued": 200 * scale, "running": 8 * scale,
    }  # fmt: skip


def _sql(scale: int) -> list[str]:
    c = counts(scale)
    arts = "ARRAY[" + ",".join(f"'{a}'" for a in ARTIFACTS) + "]"
    errs = "ARRAY[" + ",".join(f"'{e}'" for e in ERRORS) + "]"
    jobs, active = c["jobs"], c["queued"] + c["running"]
    span = "interval '7 days'"
    # Per job g: its time, trigger, repository, artifact; the newest are active.
    job_rows = f"""
        SELECT g,
          now() - {span} + ({span} * g / {jobs}) - interval '20 minutes' AS q,
          CASE WHEN g % 1000 < 65 THEN 'miss' WHEN g % 1000 < 665 THEN 'commit'
               WHEN g % 1000 < 965 THEN 'connect' ELSE 'manual' END AS trig,
          1 + (pg_temp.hashint(g) % {c["repos"]}) AS repo,
          ({arts})[1 + pg_temp.hashint(g * 7) % 9] AS art,
          CASE WHEN g > {jobs} - {c["queued"]} THEN 'queued' WHEN g > {jobs} - {active} THEN 'running'
               WHEN pg_temp.hashint(g * 13) % 100 < 3 THEN 'failed' ELSE 'completed' END AS st
        FROM generate_series(1, {jobs}) g"""
    return [
        "CREATE OR REPLACE FUNCTION pg_temp.hashint(x bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS "
        "$$ SELECT abs(hashtext(x::text))::bigint $$",
        # The instance that ran job g: 4 x scale alive at a time, replaced every 6 hours.
        f"CREATE OR REPLACE FUNCTION pg_temp.inst(g bigint) RETURNS text LANGUAGE sql IMMUTABLE AS "
        f"$$ SELECT 'w-' || ((g * {c['instances'] // c['alive']}) / ({jobs} + 1) * {c['alive']} + g % {c['alive']} + 1) $$",
        f"INSERT INTO repositories (name, source, branch, connected) SELECT 'repo-' || lpad(g::text, 4, '0'),"
        f" '/srv/git/repo-' || g, 'main', true FROM generate_series(1, {c['repos']}) g",
        "INSERT INTO branch_state (repo_id, branch, commit, tree) SELECT id, 'main', md5(id::text) || 'aaaaaaaa',"
        " md5('t' || id) FROM repositories",
        f"""INSERT INTO warmer_instances (id, hostname, pid, concurrency, started_at, heartbeat_at, stopped_at)
        SELECT 'w-' || g, 'host-' || (g % {c["alive"]}), 1000 + g, 4,
          now() - interval '7 days' + interval '6 hours' * (g / {c["alive"]}),
          CASE WHEN g > {c["instances"]} - {c["alive"]} THEN now() - interval '5 seconds'
               ELSE now() - interval '7 days' + interval '6 hours' * (g / {c["alive"]} + 1) END,
          CASE WHEN g > {c["instances"]} - {c["alive"]} THEN NULL
               ELSE now() - interval '7 days' + interval '6 hours' * (g / {c["alive"]} + 1) END
        FROM generate_series(1, {c["instances"]}) g""",
        f"""INSERT INTO jobs (repo_id, branch, commit, artifact_type, scope, params, trigger, priority, status,
          attempts, failures, reclaims, worker_id, claim_token, error, dedupe_key, available_at, published_at, queued_at,
          claimed_at, started_at, heartbeat_at, finished_at)
        SELECT repo, 'main', md5(g::text) || substr(md5((g * 3)::text), 1, 8), art,
          CASE WHEN trig = 'miss' THEN jsonb_build_array('src/mod' || (pg_temp.hashint(g * 5) % 500) || '.py') END,
          '{{}}'::jsonb, trig::job_trigger, CASE trig WHEN 'commit' THEN 0 WHEN 'miss' THEN 2 ELSE 1 END,
          st::job_status, CASE WHEN st = 'queued' THEN 0 ELSE 1 END, CASE WHEN st = 'failed' THEN 4 ELSE 0 END,
          CASE WHEN g % 100 = 7 THEN 1 ELSE 0 END,
          CASE WHEN st IN ('running', 'failed') THEN pg_temp.inst(g) END,
          CASE WHEN st = 'running' THEN md5('claim' || g) END,
          CASE WHEN st = 'failed' THEN ({errs})[1 + pg_temp.hashint(g * 11) % 5] || ' in ' || art || ' job ' || g
            || E'\\nTraceback (most recent call last):\\n  File "warmer/worker/runner.py", line 118, in _generate\\n'
            || E'  File "warmer/artifacts/' || art || '.py", line 42, in generate\\n' END,
          md5('dedupe' || g), q, q, q,
          CASE WHEN st <> 'queued' THEN q + interval '2 seconds' END,
          CASE WHEN st <> 'queued' THEN q + interval '3 seconds' END,
          CASE WHEN st <> 'queued' THEN q + interval '4 seconds' END,
          CASE WHEN st IN ('completed', 'failed') THEN q + interval '3 seconds' + interval '1 second' * (pg_temp.hashint(g) % 90) END
        FROM ({job_rows}) s ORDER BY g""",
        # Events: queued, claimed (or a reclaim for 1 %), running, then completed/failed.
        """INSERT INTO job_events (job_id, at, from_status, to_status, actor, attempt, detail)
        SELECT j.id, j.queued_at + interval '1 second' * k,
          (ARRAY[NULL, 'queued', 'claimed', 'running'])[k]::job_status,
          CASE WHEN k = 1 THEN 'queued' WHEN k = 2 AND j.reclaims = 1 THEN 'queued' WHEN k = 2 THEN 'claimed'
               WHEN k = 3 THEN 'running' ELSE j.status::text END::job_status,
          CASE WHEN k = 1 THEN 'trigger:' || j.trigger ELSE pg_temp.inst(j.id) END, k / 2,
          CASE WHEN k = 1 THEN 'trigger=' || j.trigger WHEN k = 2 AND j.reclaims = 1 THEN 'reclaim 1: heartbeat stale'
               WHEN k = 4 AND j.status = 'failed' THEN 'failure 4/4: ' || j.error END
        FROM jobs j CROSS JOIN generate_series(1, 4) k
        WHERE k = 1 OR j.status IN ('completed', 'failed') OR (j.status = 'running' AND k <= 3)""",
        f"""INSERT INTO cache_lookups (repo_id, repo_name, artifact_type, path, task_type, hit, at)
        SELECT r.id, r.name, a.art,
          CASE WHEN a.art IN ('file_summary', 'symbol_index') THEN 'src/mod' || (pg_temp.hashint(g * 17) % 500) || '.py'
               ELSE '' END,
          (ARRAY['review', 'edit', 'test', 'explain'])[1 + pg_temp.hashint(g * 19) % 4], pg_temp.hashint(g * 23) % 100 < 85,
          now() - interval '7 days' + (interval '7 days' * g / {c["lookups"]})
        FROM generate_series(1, {c["lookups"]}) g
        CROSS JOIN LATERAL (SELECT ({arts})[1 + pg_temp.hashint(g * 29) % 9] AS art) a
        JOIN repositories r ON r.id = 1 + pg_temp.hashint(g * 31) % {c["repos"]}""",
        *backfill_sql("postgresql"),
        f"""INSERT INTO cache_entries (key, artifact_type, generator_version, source_hash, payload)
        SELECT md5('entry' || r.id || '-' || k), ({arts})[1 + k % 9], '1', md5(k::text), '{{}}'::jsonb
        FROM repositories r CROSS JOIN generate_series(1, {c["refs_per_repo"]}) k""",
        f"""INSERT INTO cache_refs (repo_id, branch, artifact_type, path, commit, entry_key, updated_at)
        SELECT r.id, 'main', ({arts})[1 + k % 9], CASE WHEN k <= 9 THEN '' ELSE 'src/mod' || k || '.py' END,
          CASE WHEN k % 5 = 0 THEN md5('old' || r.id) ELSE md5(r.id::text) || 'aaaaaaaa' END,
          md5('entry' || r.id || '-' || k), now() - interval '1 hour'
        FROM repositories r CROSS JOIN generate_series(1, {c["refs_per_repo"]}) k""",
    ]


EMPTY = [
    "INSERT INTO repositories (name, source, branch, connected) VALUES ('repo-0001', '/srv/git/one', 'main', true)",
    """INSERT INTO jobs (repo_id, branch, commit, artifact_type, params, trigger, priority, status, attempts,
      failures, reclaims, dedupe_key, queued_at, claimed_at, started_at, finished_at)
    VALUES (1, 'main', md5('one'), 'repo_map', '{}', 'connect', 1, 'completed', 1, 0, 0, md5('one'),
      now() - interval '1 minute', now() - interval '50 seconds', now() - interval '49 seconds',
      now() - interval '40 seconds')""",
    """INSERT INTO job_events (job_id, at, from_status, to_status, actor, attempt) VALUES
      (1, now() - interval '1 minute', NULL, 'queued', 'trigger:connect', 0),
      (1, now() - interval '50 seconds', 'queued', 'claimed', 'w-1', 1),
      (1, now() - interval '49 seconds', 'claimed', 'running', 'w-1', 1),
      (1, now() - interval '40 seconds', 'running', 'completed', 'w-1', 1)""",
]


def build(db: Database, scale: int) -> dict[str, Any]:
    """Fill a migrated, empty ledger; returns the row counts it holds."""
    with db.engine.begin() as conn:
        for statement in _sql(scale) if scale else EMPTY:
            conn.execute(text(statement))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does on a live ledger
        figures = {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("jobs", "job_events", "cache_lookups", "lookup_hourly", "lookup_daily", "repositories",
                          "warmer_instances", "cache_refs")
        }  # fmt: skip
        figures["miss_jobs_24h"] = conn.execute(
            text(
                "SELECT count(*) FROM jobs WHERE trigger = 'miss' AND queued_at >= now() - interval '24 hours'"
            )
        ).scalar_one()
    return figures

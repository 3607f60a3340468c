"""Ledger + queue throughput, duplicates, lost jobs, and kill -9 recovery, on real Redis + Postgres.

    python bench/ledger_throughput.py [--jobs 2000] [--rounds 3] [--concurrency 2]

Each round runs N no-op tasks through bare Celery (no ledger) and N no-op jobs
through warmer's ledger (advisory lock, guarded claim, heartbeats, events,
completion), both with 2 prefork processes and the same delivery settings,
queue pre-filled, worker started after. Throughput is N over the time from the
first start to the last finish. Rounds alternate so machine noise hits both;
medians and the ratio of medians are reported next to the targets.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import redis
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import services  # noqa: E402
from tests.support.factories import add_repo  # noqa: E402
from tests.support.gitrepo import make_repo  # noqa: E402
from warmer import publisher  # noqa: E402
from warmer.ledger import migrate, transitions  # noqa: E402
from warmer.ledger.db import Database  # noqa: E402
from warmer.ledger.models import Job, JobEvent, JobStatus, Trigger  # noqa: E402

BROKER = "redis://127.0.0.1:6379/12"
HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(patterns: dict[str, str]) -> dict[str, float]:
    """CPU seconds used so far by live processes whose command line contains each pattern."""
    totals = dict.fromkeys(patterns, 0.0)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        for name, pattern in patterns.items():
            if pattern in command:
                totals[name] += (int(fields[11]) + int(fields[12])) / HZ
                break
    return totals


class Window:
    """Steady state only: from 5 % to 95 % of the work done, wall time and CPU of every process."""

    def __init__(self, total: int, done: object, patterns: dict[str, str]) -> None:
        self.total, self.done, self.patterns = total, done, patterns

    def measure(self) -> tuple[float, dict[str, float]]:
        start_at, stop_at = int(self.total * 0.05), int(self.total * 0.95)
        services.wait_for(lambda: self.done() >= start_at, 900, 0.1, "the run to warm up")  # type: ignore[operator]
        cpu0, t0, n0 = cpu_seconds(self.patterns), time.perf_counter(), self.done()  # type: ignore[operator]
        services.wait_for(lambda: self.done() >= stop_at, 900, 0.1, "the run to finish")  # type: ignore[operator]
        cpu1, t1, n1 = cpu_seconds(self.patterns), time.perf_counter(), self.done()  # type: ignore[operator]
        jobs = n1 - n0
        return jobs / (t1 - t0), {k: (cpu1[k] - cpu0[k]) / jobs * 1000 for k in self.patterns}


def worker_command(app: str, concurrency: int, *queues: str) -> list[str]:
    command = [sys.executable, "-m", "celery", "-A", app, "worker", "-c", str(concurrency),
               "--without-mingle", "--without-gossip", "-l", "warning"]  # fmt: skip
    return command + (["-Q", ",".join(queues)] if queues else [])


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()


def plain_round(jobs: int, concurrency: int, log: Path) -> tuple[float, dict[str, float]]:
    from bench.plain_celery import app, noop

    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    with app.producer_or_acquire() as producer:
        for _ in range(jobs):
            noop.apply_async(args=[jobs], producer=producer)
    process = start(
        worker_command("bench.plain_celery", concurrency, "plain"), {"CELERY_BROKER_URL": BROKER}, log
    )
    window = Window(jobs, lambda: int(client.get("bench:plain:count") or 0),
                    {"worker": "-A bench.plain_celery worker", "redis": "redis-server"})  # fmt: skip
    try:
        return window.measure()
    finally:
        services.wait_for(lambda: client.get("bench:plain:last"), 600, 0.2, "plain celery to finish")
        stop(process)


def warmer_env(db_url: str, data: Path, **extra: str) -> dict[str, str]:
    data.mkdir(parents=True, exist_ok=True)
    (data / "none.yaml").write_text("")  # a named config file must exist; empty means every default
    return {"DATABASE_URL": db_url, "CELERY_BROKER_URL": BROKER, "WARMER_DATA_DIR": str(data),
            "WARMER_ARTIFACT_MODULES": "bench.artifacts", "WARMER_CONFIG": str(data / "none.yaml"), **extra}  # fmt: skip


def warmer_round(db: Database, app: object, repo_id: int, head: str, jobs: int, concurrency: int,
                 env: dict[str, str], log: Path, round_no: int) -> tuple[float, dict[str, float], int, int]:  # fmt: skip
    redis.Redis.from_url(BROKER).flushdb()
    with db.session() as session:
        ids = [
            transitions.enqueue(session, transitions.JobSpec(
                repo_id=repo_id, branch="main", commit=head, artifact_type="bench_noop",
                trigger=Trigger.CONNECT, params={"round": round_no, "n": n}), actor="bench").job_id
            for n in range(jobs)
        ]  # fmt: skip
    publisher.publish(app, db, [(i, Trigger.CONNECT, 1) for i in ids])  # type: ignore[arg-type]
    process = start(worker_command("warmer", concurrency), env, log)

    def completed() -> int:
        with db.session() as session:
            return (
                session.execute(  # a range, not an IN list: the poll must not load the database it measures
                    select(func.count()).where(Job.id >= ids[0], Job.status == JobStatus.COMPLETED)
                ).scalar_one()
            )

    window = Window(
        jobs, completed, {"worker": "-A warmer worker", "postgres": "postgres", "redis": "redis-server"}
    )
    try:
        rate, cpu = window.measure()
        services.wait_for(lambda: completed() == jobs, 900, 0.25, "warmer jobs to finish")
    finally:
        stop(process)
    with db.session() as session:
        runs = dict(session.execute(
            select(JobEvent.job_id, func.count()).where(JobEvent.job_id.in_(ids), JobEvent.to_status == JobStatus.RUNNING)
            .group_by(JobEvent.job_id)
        ).all())  # fmt: skip
    duplicates = sum(count - 1 for count in runs.values() if count > 1)
    return rate, cpu, duplicates, jobs - completed()


def kill9_recovery(
    db: Database, app: object, repo_id: int, head: str, env: dict[str, str], logs: Path
) -> float:
    """Seconds from SIGKILL of the worker running a job to that job running again on another worker."""
    defaults = {**env, "KEEPTRUSTS_CACHE_WARMER_HEARTBEAT_SECS": "30", "KEEPTRUSTS_CACHE_WARMER_STALE_THRESHOLD_SECS": "120",
                "KEEPTRUSTS_CACHE_WARMER_POLL_INTERVAL_SECS": "5"}  # fmt: skip
    redis.Redis.from_url(BROKER).flushdb()
    with db.session() as session:
        job_id = transitions.enqueue(session, transitions.JobSpec(
            repo_id=repo_id, branch="main", commit=head, artifact_type="bench_sleep", trigger=Trigger.COMMIT,
            params={"seconds": 20}), actor="bench").job_id  # fmt: skip
    victim = start(
        worker_command("warmer", 1),
        {**defaults, "KEEPTRUSTS_CACHE_WARMER_HEALTH_PORT": "18801"},
        logs / "victim.log",
    )
    publisher.publish(app, db, [(job_id, Trigger.COMMIT, 0)])  # type: ignore[arg-type]

    def status() -> JobStatus:
        with db.session() as session:
            return session.get(Job, job_id).status  # type: ignore[union-attr]

    services.wait_for(lambda: status() == JobStatus.RUNNING, 60, 0.1, "the job to run")
    rescuer = start(
        worker_command("warmer", 1),
        {**defaults, "KEEPTRUSTS_CACHE_WARMER_HEALTH_PORT": "18802"},
        logs / "rescuer.log",
    )
    time.sleep(6)  # the rescuer is up and polling
    killed = db.now()
    os.killpg(victim.pid, 9)
    victim.wait()

    def running_again() -> object:
        with db.session() as session:
            row = session.get(Job, job_id)
            return (
                row is not None
                and row.status == JobStatus.RUNNING
                and row.started_at > killed
                and row.started_at
            )

    try:
        restarted = services.wait_for(running_again, 180, 0.1, "the job to run again")
    finally:
        stop(rescuer)
    return (restarted - killed).total_seconds()  # type: ignore[operator]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--skip-kill", action="store_true")
    args = parser.parse_args()

    work = Path(os.environ.get("BENCH_DIR", "/tmp/warmer-bench"))
    work.mkdir(parents=True, exist_ok=True)
    name = services.create_database()
    db_url = services.database_url(name)
    db = Database(db_url)
    try:
        migrate.upgrade(db)
        repo_path = make_repo(work / f"repo-{name}", {"a.py": "x = 1\n"})
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo_path, capture_output=True, text=True
        ).stdout.strip()
        repo = add_repo(db, source=str(repo_path), name="bench")
        env = warmer_env(db_url, work / f"data-{name}", KEEPTRUSTS_CACHE_WARMER_HEALTH_PORT="18800")
        from celery import Celery

        app = Celery("bench-publisher")
        app.config_from_object("warmer.celery_defaults")
        app.conf.broker_url = BROKER

        plain, ledger, duplicates, lost = [], [], 0, 0
        plain_cpu: list[dict[str, float]] = []
        ledger_cpu: list[dict[str, float]] = []
        for round_no in range(args.rounds):
            rate, cpu = plain_round(args.jobs, args.concurrency, work / "plain.log")
            plain.append(rate)
            plain_cpu.append(cpu)
            rate, cpu, dup, missing = warmer_round(db, app, repo.id, head, args.jobs, args.concurrency, env,
                                                   work / "warmer.log", round_no)  # fmt: skip
            ledger.append(rate)
            ledger_cpu.append(cpu)
            duplicates += dup
            lost += missing
            print(f"  round {round_no + 1}: plain {plain[-1]:7.1f} tasks/s   warmer {rate:7.1f} jobs/s   "
                  f"ratio {rate / plain[-1]:.2f}", flush=True)  # fmt: skip
        ratio = statistics.median(ledger) / statistics.median(plain)

        def cpu_line(samples: list[dict[str, float]]) -> tuple[float, str]:
            keys = samples[0].keys()
            medians = {k: statistics.median(s[k] for s in samples) for k in keys}
            return sum(medians.values()), "  ".join(f"{k} {v:.2f}" for k, v in medians.items())

        plain_total, plain_parts = cpu_line(plain_cpu)
        ledger_total, ledger_parts = cpu_line(ledger_cpu)
        print(f"\nledger + queue throughput: {args.jobs} no-op jobs x {args.rounds} rounds, "
              f"{args.concurrency} prefork processes, Redis + Postgres on this 2-core machine, steady state (5-95 %)")  # fmt: skip
        print(
            f"  plain Celery (no ledger) median  {statistics.median(plain):7.1f} tasks/s   {[round(p) for p in plain]}"
        )
        print(
            f"  warmer ledger jobs       median  {statistics.median(ledger):7.1f} jobs/s    {[round(r) for r in ledger]}"
        )
        print(
            f"  ratio warmer/plain               {ratio:7.2f}    target >= 0.50  {'MET' if ratio >= 0.5 else 'MISSED'}"
        )
        print(f"  CPU per job, all processes: plain {plain_total:.2f} ms ({plain_parts}); "
              f"warmer {ledger_total:.2f} ms ({ledger_parts}); ratio {plain_total / ledger_total:.2f}")  # fmt: skip
        print(
            f"  duplicate executions             {duplicates:7d}    target 0        {'MET' if duplicates == 0 else 'MISSED'}"
        )
        print(
            f"  lost jobs                        {lost:7d}    target 0        {'MET' if lost == 0 else 'MISSED'}"
        )
        if not args.skip_kill:
            seconds = kill9_recovery(db, app, repo.id, head, env, work)
            print(
                "\nkill -9 recovery at the documented defaults (heartbeat 30 s, stale threshold 120 s, poll 5 s)"
            )
            print(f"  job running again on another worker after {seconds:5.1f} s   "
                  f"target well under 120 s  {'MET' if seconds < 60 else 'MISSED'}")  # fmt: skip
    finally:
        db.dispose()
        services.drop_database(name)


if __name__ == "__main__":
    main()

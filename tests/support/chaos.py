"""Chaos over a real cluster (tests/integration/test_chaos.py, bench/chaos.py): many cheap jobs on
several real workers, with random `kill -9` of main processes and pool children, one Redis
FLUSHALL, one Redis restart and one Postgres crash, all on the cluster's private servers.

What is judged comes from two independent records: the ledger (every job completed or failed,
completions counted from `job_events`) and the generator's own log (test_sleep appends
`start TAG PID TIME` / `end TAG PID TIME` to `runs_file`), which shows whether one job ever ran in
two processes at once. A run that a kill cut short ends, in that log, when its process was last
seen alive (a sampler reads /proc every SAMPLE_SECS).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import statistics
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from tests.support import services
from warmer.ledger import transitions
from warmer.ledger.models import Job, JobEvent, JobStatus, Repository, Trigger

if TYPE_CHECKING:
    from tests.integration.conftest import Cluster

SAMPLE_SECS = 0.1
_TERMINAL = (JobStatus.COMPLETED, JobStatus.FAILED)


@dataclass(frozen=True)
class ChaosPlan:
    jobs: int
    job_seconds: float
    workers: int = 4
    concurrency: int = 2
    kill_every: tuple[float, float] = (3.0, 6.0)  # seconds between kills, uniformly drawn
    flushall_at: float = 10.0  # seconds after the first message is published
    redis_restart_at: float = 25.0
    postgres_crash_at: float = 40.0
    settle_secs: float = 240.0  # after the faults, how long every job has to finish
    seed: int = 20261205


@dataclass
class Fault:
    kind: str
    at: float
    affected: list[str] = field(default_factory=list)  # tags of the runs it cut short (kills)
    recovered_after: float | None = None  # until every affected run started again, or the next start
    requeued_after: float | None = None  # kills: until the ledger had every cut-short job queued again


@dataclass
class ChaosReport:
    jobs: int
    statuses: dict[str, int]
    failed: list[tuple[int, str | None]]
    stuck: list[int]
    completed_twice: list[int]
    overlaps: list[str]
    faults: list[Fault]
    seconds: float
    job_ids: list[int]  # by tag: tag n is job_ids[n]
    started_at: float  # the epoch time fault times count from

    def kill_recoveries(self) -> list[float]:
        return [
            f.recovered_after
            for f in self.faults
            if f.kind.startswith("kill") and f.recovered_after is not None
        ]

    def kill_requeues(self) -> list[float]:
        return [
            f.requeued_after
            for f in self.faults
            if f.kind.startswith("kill") and f.requeued_after is not None
        ]

    def lines(self) -> list[str]:
        kills = self.kill_recoveries()
        shown = [
            f"{self.jobs} jobs in {self.seconds:.0f} s: {self.statuses}",
            f"lost or stuck: {len(self.stuck)}; failed: {len(self.failed)}; completed twice: "
            f"{len(self.completed_twice)}; run concurrently twice (generator log): {len(self.overlaps)}",
            f"kills: {sum(f.kind.startswith('kill') for f in self.faults)} "
            f"({sum(f.kind == 'kill main' for f in self.faults)} main processes, "
            f"{sum(f.kind == 'kill child' for f in self.faults)} pool children)",
        ]
        requeues = self.kill_requeues()
        if requeues:
            shown.append(
                f"kill -> cut-short jobs queued again and re-published: median {statistics.median(requeues):.1f} s, "
                f"max {max(requeues):.1f} s"
            )
        if kills:
            shown.append(
                f"kill -> cut-short runs running again: median {statistics.median(kills):.1f} s, max {max(kills):.1f} s"
            )
            slowest = max((f for f in self.faults if f.kind.startswith("kill") and f.recovered_after is not None),
                          key=lambda f: f.recovered_after or 0)  # fmt: skip
            shown.append(f"slowest: {slowest.kind} at {slowest.at:.0f} s, cut short: {slowest.affected}")
        for fault in self.faults:
            if not fault.kind.startswith("kill"):
                after = "never" if fault.recovered_after is None else f"{fault.recovered_after:.1f} s"
                shown.append(f"{fault.kind} at {fault.at:.0f} s -> next job start after {after}")
        return shown


def enqueue_jobs(
    cluster: Cluster, repo: Repository, head: str, plan: ChaosPlan, runs_file: Path
) -> list[int]:
    """The jobs, in one transaction: test_sleep runs that log to `runs_file` under their own tag."""
    ids = []
    with cluster.db.session() as session:
        for n in range(plan.jobs):
            spec = transitions.JobSpec(
                repo_id=repo.id, branch=repo.branch, commit=head, artifact_type="test_sleep",
                trigger=Trigger.CONNECT, scope=None,
                params={"seconds": plan.job_seconds, "runs_file": str(runs_file), "tag": str(n)},
            )  # fmt: skip
            ids.append(transitions.enqueue(session, spec, actor="chaos").job_id)
    return ids


class _Sampler(threading.Thread):
    """When each process of the workers' process groups was last seen alive: pool children whose
    main process was killed are orphans still in their group, and may still be running a job."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.groups: set[int] = set()
        self.last_alive: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            now = time.time()
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[2]) in self.groups and fields[0] != "Z":
                    self.last_alive[int(stat.parent.name)] = now
            self.stop.wait(SAMPLE_SECS)


def _runs(runs_file: Path) -> list[tuple[str, str, int, float]]:
    if not runs_file.exists():
        return []
    rows = []
    for line in runs_file.read_text().splitlines():
        what, tag, pid, at = line.split()
        rows.append((what, tag, int(pid), float(at)))
    return rows


def _in_flight(runs_file: Path, pids: set[int]) -> list[str]:
    """Tags started in one of `pids` and not ended there."""
    open_runs: dict[tuple[str, int], int] = defaultdict(int)
    for what, tag, pid, _at in _runs(runs_file):
        if pid in pids:
            open_runs[(tag, pid)] += 1 if what == "start" else -1
    return sorted({tag for (tag, _pid), n in open_runs.items() if n > 0})


def _overlaps(runs_file: Path, last_alive: dict[int, float]) -> list[str]:
    """Tags whose runs overlapped in time; a run without an end ends when its process was last seen."""
    intervals: dict[str, list[tuple[float, float]]] = defaultdict(list)
    started: dict[tuple[str, int], float] = {}
    for what, tag, pid, at in _runs(runs_file):
        if what == "start":
            started[(tag, pid)] = at
        elif (tag, pid) in started:
            intervals[tag].append((started.pop((tag, pid)), at))
    for (tag, pid), at in started.items():
        intervals[tag].append((at, last_alive.get(pid, at) + SAMPLE_SECS))
    found = []
    for tag, spans in intervals.items():
        spans.sort()
        found += [f"{tag}: {a} and {b}" for a, b in itertools.pairwise(spans) if b[0] < a[1]]
    return found


def _recovery(fault: Fault, runs: list[tuple[str, str, int, float]], started_at: float) -> float | None:
    """Kills: until every run it cut short started again (or ended: an orphaned pool child may
    finish it). Other faults: until the next run started anywhere."""
    absolute = started_at + fault.at
    if fault.affected:
        again = []
        for tag in fault.affected:
            later = [at for _what, t, _pid, at in runs if t == tag and at > absolute]
            if not later:
                return None
            again.append(min(later))
        return max(again) - absolute
    later = [at for what, _t, _pid, at in runs if what == "start" and at > absolute]
    return min(later) - absolute if later else None


def run_chaos(cluster: Cluster, repo: Repository, head: str, plan: ChaosPlan, runs_file: Path) -> ChaosReport:
    assert cluster.redis is not None and cluster.postgres is not None, "chaos runs on private servers"
    rng = random.Random(plan.seed)
    ids = enqueue_jobs(cluster, repo, head, plan, runs_file)
    cluster.publish(ids)  # as a trigger does, at once (a leader would otherwise publish them first)
    workers = [cluster.worker(f"chaos{n}", concurrency=plan.concurrency) for n in range(plan.workers)]
    sampler = _Sampler()
    sampler.groups.update(w.pid for w in workers)
    sampler.start()
    started = time.time()
    faults: list[Fault] = []
    scheduled = sorted([(plan.flushall_at, "redis flushall"), (plan.redis_restart_at, "redis restart"),
                        (plan.postgres_crash_at, "postgres crash")])  # fmt: skip
    next_kill = rng.uniform(*plan.kill_every)
    try:
        while scheduled or not _all_done(cluster, ids):
            elapsed = time.time() - started
            if elapsed > plan.postgres_crash_at + plan.settle_secs:
                break
            if scheduled and elapsed >= scheduled[0][0]:
                kind = scheduled.pop(0)[1]
                faults.append(Fault(kind, elapsed))
                if kind == "redis flushall":
                    cluster.redis.flushall()
                elif kind == "redis restart":
                    cluster.redis.restart()
                else:
                    cluster.postgres.crash()
                    cluster.postgres.start()
            elif scheduled and elapsed >= next_kill:
                next_kill = elapsed + rng.uniform(*plan.kill_every)
                faults.append(_kill(rng, cluster, workers, runs_file, elapsed))
                sampler.groups.update(w.pid for w in workers)
            time.sleep(0.2)
        services.wait_for(lambda: _all_done(cluster, ids), 60, 0.5, "the last jobs")
    except AssertionError:
        pass  # reported below as stuck jobs
    finally:
        sampler.stop.set()
        sampler.join()
        for group in sampler.groups:  # orphaned pool children of killed main processes
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
    return _report(cluster, ids, faults, runs_file, sampler.last_alive, started)


def _kill(
    rng: random.Random, cluster: Cluster, workers: list[services.Worker], runs_file: Path, at: float
) -> Fault:
    """kill -9 a pool child (its main process starts another) or a main process alone (its children
    are orphaned mid-job; a new worker takes its place, as a supervisor would start one)."""
    worker = rng.choice(workers)
    children = worker.pool_pids()
    if children and rng.random() < 0.5:
        child = rng.choice(children)
        affected = _in_flight(runs_file, {child})
        os.kill(child, signal.SIGKILL)
        return Fault("kill child", at, affected)
    affected = _in_flight(runs_file, {worker.pid, *children})
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.process is not None
    worker.process.wait(timeout=10)
    workers.remove(worker)
    workers.append(cluster.worker(worker.name, concurrency=worker.concurrency, wait=False))
    return Fault("kill main", at, affected)


def _all_done(cluster: Cluster, ids: list[int]) -> bool:
    try:
        with cluster.db.session() as session:
            active = session.execute(
                select(func.count()).where(Job.id.in_(ids), Job.status.notin_(_TERMINAL))
            )
            return active.scalar_one() == 0
    except Exception:  # Postgres is down: not done
        return False


def _report(
    cluster: Cluster, ids: list[int], faults: list[Fault], runs_file: Path, last_alive: dict[int, float],
    started: float,
) -> ChaosReport:  # fmt: skip
    with cluster.db.session() as session:
        rows = session.execute(select(Job.id, Job.status, Job.error).where(Job.id.in_(ids))).all()
        twice = session.execute(
            select(JobEvent.job_id).where(JobEvent.to_status == JobStatus.COMPLETED)
            .group_by(JobEvent.job_id).having(func.count() > 1)
        ).scalars().all()  # fmt: skip
    statuses: dict[str, int] = defaultdict(int)
    for row in rows:
        statuses[row.status.value] += 1
    runs = _runs(runs_file)
    for fault in faults:
        fault.recovered_after = _recovery(fault, runs, started)
        if fault.affected:
            fault.requeued_after = _requeued(
                cluster, [ids[int(tag)] for tag in fault.affected], started + fault.at
            )
    return ChaosReport(
        jobs=len(ids),
        statuses=dict(statuses),
        failed=[(row.id, row.error) for row in rows if row.status == JobStatus.FAILED],
        stuck=[row.id for row in rows if row.status not in _TERMINAL],
        completed_twice=list(twice),
        overlaps=_overlaps(runs_file, last_alive),
        faults=faults,
        seconds=time.time() - started,
        job_ids=ids,
        started_at=started,
    )


def _requeued(cluster: Cluster, job_ids: list[int], after: float) -> float | None:
    """Seconds from `after` until the ledger had put every one of the jobs back to queued (the
    reaper's reclaim; its message is published in the same tick), or had them completed."""
    latest = 0.0
    with cluster.db.session() as session:
        for job_id in job_ids:
            times = [
                e.at.timestamp() for e in session.execute(
                    select(JobEvent).where(JobEvent.job_id == job_id,
                                           JobEvent.to_status.in_((JobStatus.QUEUED, JobStatus.COMPLETED)))
                ).scalars() if e.at.timestamp() > after
            ]  # fmt: skip
            if not times:
                return None
            latest = max(latest, min(times) - after)
    return latest


def summary(report: ChaosReport) -> dict[str, Any]:
    return {"stuck": report.stuck, "failed": report.failed[:5], "twice": report.completed_twice,
            "overlaps": report.overlaps[:5]}  # fmt: skip

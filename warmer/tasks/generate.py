"""warmer.generate_artifact: run one ledger job. The message carries only the job id."""

from __future__ import annotations

import logging
import time

from celery.exceptions import Reject

from warmer import runtime
from warmer.celery_app import app
from warmer.worker.runner import LedgerUnavailable, Outcome


class JobFailed(Exception):
    """The job failed for good (retries spent, or a permanent error): the task's state is FAILURE."""


log = logging.getLogger("worker_cache_warmer")


@app.task(name="warmer.generate_artifact")
def generate_artifact(job_id: int) -> str:
    """Returns the outcome: completed, retrying, skipped (duplicate) or lost; raises JobFailed
    when the job failed.

    If the ledger is unreachable before the job is claimed, the message is held
    in this process slot (still unacked, its priority intact) and the claim is
    tried again; nothing can run without the ledger anyway. After the stale
    threshold the message goes back to the broker rather than blocking forever.
    """
    settings = runtime.settings().worker
    runner = runtime.job_runner()
    deadline = time.monotonic() + settings.stale_threshold_secs
    warned = False
    while True:
        try:
            report = runner.run(int(job_id))
            if report.outcome is Outcome.FAILED:
                # Celery (and so Flower) must see a failed job as a failed task, not a SUCCESS
                # whose result happens to say "failed". The ledger already holds the failure.
                raise JobFailed(f"job {job_id} failed: {(report.error or '').splitlines()[0][:500]}")
            return report.outcome.value
        except LedgerUnavailable as exc:
            if time.monotonic() > deadline:
                raise Reject(f"ledger unavailable: {exc}", requeue=True) from exc
            if not warned:
                log.warning("ledger unavailable (%s); holding job_id=%s until it is back", exc, job_id)
                warned = True
            time.sleep(settings.poll_interval_secs)

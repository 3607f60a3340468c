"""warmer.generate_artifact: run one ledger job. The message carries only the job id."""

from __future__ import annotations

from celery import Task

from warmer import runtime
from warmer.celery_app import app
from warmer.worker.runner import JobRunner, LedgerUnavailable


@app.task(name="warmer.generate_artifact", bind=True, max_retries=None)
def generate_artifact(self: Task, job_id: int) -> str:
    """Returns the outcome: completed, retrying, failed, skipped (duplicate) or lost."""
    try:
        report = JobRunner(runtime.database(), runtime.settings(), runtime.instance_id()).run(int(job_id))
    except LedgerUnavailable as exc:
        # Not claimed yet: keep the message alive instead of acking it into oblivion.
        raise self.retry(countdown=runtime.settings().worker.poll_interval_secs, exc=exc) from exc
    return report.outcome.value

"""warmer.full_warming: `celery -A warmer call warmer.full_warming --args='["<repo>"]'`."""

from __future__ import annotations

from typing import Any

from warmer import runtime
from warmer.celery_app import app
from warmer.publisher import publish
from warmer.triggers.manual import full_warming


@app.task(name="warmer.full_warming")
def full_warming_task(repo: str) -> dict[str, Any]:
    """Enqueue every baseline artifact of `repo` at its branch head, trigger=manual."""
    db = runtime.database()
    planned = full_warming(db, runtime.settings(), repo, actor=f"celery:{runtime.instance_id()}")
    publish(app, db, [(job.job_id, job.trigger, job.priority) for job in planned.created])
    return {
        "repo": planned.repo,
        "commit": planned.commit,
        "jobs": [job.job_id for job in planned.jobs],
        "created": len(planned.created),
    }

"""The comparison for the ledger benchmark: bare Celery no-op tasks with warmer's delivery settings
(Redis, late ack, one message per free process), and no ledger. Each task counts itself in Redis."""

from __future__ import annotations

import os
import time

import redis
from celery import Celery

BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/12")
COUNTER = "bench:plain:count"

app = Celery("plain", broker=BROKER)
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    worker_disable_prefetch=True,
    task_ignore_result=True,
    task_default_queue="plain",
    worker_hijack_root_logger=False,
)
_redis = redis.Redis.from_url(BROKER)


@app.task(name="plain.noop")
def noop(total: int) -> None:
    now = time.time()
    pipe = _redis.pipeline()
    pipe.set("bench:plain:first", now, nx=True)
    pipe.incr(COUNTER)
    count = pipe.execute()[1]
    if count == total:
        _redis.set("bench:plain:last", now)

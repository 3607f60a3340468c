"""warmer's Celery settings, derived from its own settings; `celeryconfig.py` starts from these.

The choices that make priority strict and redelivery safe (see NOTES.md):
late ack with one message per free process (prefetch cannot reorder jobs),
every message with an explicit priority, and no result backend: the ledger
is the record of what happened.
"""

from warmer.queues import REDIS_PRIORITY_STEPS as _REDIS_PRIORITY_STEPS
from warmer.queues import default_queue as _default_queue
from warmer.queues import is_amqp as _is_amqp
from warmer.queues import kombu_queues as _kombu_queues
from warmer.queues import message_priority as _priority
from warmer.settings import get_settings as _get_settings

# Names without a leading underscore are Celery settings: `from ... import *` takes them all.
_settings = _get_settings()

broker_url = _settings.broker_url
broker_connection_retry_on_startup = True
broker_connection_max_retries = None  # keep reconnecting through a broker outage
broker_transport_options = {
    "visibility_timeout": max(3600, int(_settings.worker.job_timeout_secs * 2)),
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
    "health_check_interval": 10,
    "priority_steps": _REDIS_PRIORITY_STEPS,  # Redis only: each rank's re-published and new lanes
}

task_queues = _kombu_queues(broker_url)
task_default_queue = _default_queue(broker_url)
task_default_priority = _priority(1, broker_url)
# `celery call` has no --priority: the route gives warmer.full_warming its queue and priority.
task_routes = {
    "warmer.full_warming": {"queue": _default_queue(broker_url), "priority": _priority(1, broker_url)},
    "warmer.generate_artifact": {"queue": _default_queue(broker_url)},
}
task_acks_late = True
task_reject_on_worker_lost = False  # the stale-job reaper brings a dead worker's job back, once
task_ignore_result = True
# JOB_TIMEOUT_SECS is enforced by the runner at the generator's checkpoints (the job fails with
# a clear error, between units of work). This hard limit is the backstop for a generator that
# hangs without reaching a checkpoint: the pool kills the process, the lock vanishes, the reaper
# brings the job back.
task_time_limit = _settings.worker.job_timeout_secs + 60
task_serializer = "json"
accept_content = ["json"]

worker_concurrency = _settings.worker.concurrency
worker_prefetch_multiplier = 1
worker_disable_prefetch = not _is_amqp(broker_url)  # Redis: fetch only when a process is free
worker_cancel_long_running_tasks_on_connection_loss = False  # the ledger makes reruns no-ops
worker_hijack_root_logger = True
worker_log_format = "[%(asctime)s] %(levelname)s %(name)s: %(message)s"
worker_task_log_format = "[%(asctime)s] %(levelname)s %(name)s: %(message)s"
# No task events by default: they cost the main process a broker publish per state change.
# The console (Flower) switches them on in running workers itself (its enable_events broadcast).
worker_send_task_events = False

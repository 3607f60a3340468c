"""Celery settings for warmer workers (Celery's convention: `celeryconfig.py` in the working directory).

The defaults come from warmer's own settings (CELERY_BROKER_URL, the
KEEPTRUSTS_CACHE_WARMER_* variables) through warmer.celery_defaults. Override
any Celery setting below; keep task_acks_late, the prefetch settings and the
explicit priorities, or commit jobs stop overtaking miss jobs.
"""

from warmer.celery_defaults import *  # noqa: F403

# Examples:
# broker_url = "amqp://guest:guest@localhost:5672//"   # RabbitMQ instead of Redis
# worker_max_tasks_per_child = 200                      # recycle processes that grow

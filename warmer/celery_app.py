"""The Celery application: `celery -A warmer worker` finds it as `warmer.app`."""

from __future__ import annotations

from celery import Celery
from celery.utils.imports import import_from_cwd

from warmer.settings import SettingsError, get_settings
from warmer.worker.components import WarmerWorker

try:
    get_settings()
except SettingsError as exc:  # one clear line instead of a traceback from deep inside Celery
    raise SystemExit(f"warmer: invalid configuration: {exc}") from None

app = Celery("warmer", include=["warmer.tasks.generate", "warmer.tasks.full_warming"])
try:
    # Celery's convention: a deployer's celeryconfig.py in the working directory.
    app.config_from_object(import_from_cwd("celeryconfig"))
except ImportError:
    app.config_from_object("warmer.celery_defaults")
app.steps["worker"].add(WarmerWorker)

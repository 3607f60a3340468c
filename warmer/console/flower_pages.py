"""Flower's own pages inside the console: warmer's navigation bar on them, and links both ways
between a Celery task and the warmer job it ran.

Flower renders from one template folder with a hard-coded navbar (NOTES.md). The application's
`template_loader` is replaced by an overlay: the few names in OVERRIDES come from warmer's
templates, every other name (and `flower/<name>`, the original) from Flower's. Warmer's own
pages keep their own loader (PageHandler.create_template_loader).
"""

from __future__ import annotations

import ast
import os
from typing import Any

import flower
from tornado.template import Loader, Template

FLOWER_TEMPLATES = os.path.join(os.path.dirname(flower.__file__), "templates")
WARMER_TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")
OVERRIDES = {"navbar.html", "warmer_nav.html"}
GENERATE_TASK = "warmer.generate_artifact"


class OverlayLoader(Loader):
    """Flower's templates, with warmer's navbar in place of Flower's."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(FLOWER_TEMPLATES, **kwargs)

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        return name  # names are flat in both folders; "flower/x.html" names Flower's original

    def _create_template(self, name: str) -> Template:
        if name in OVERRIDES:
            path = os.path.join(WARMER_TEMPLATES, name)
        else:
            path = os.path.join(FLOWER_TEMPLATES, name.removeprefix("flower/"))
        with open(path, "rb") as f:
            return Template(f.read(), name=name, loader=self)


def job_id_of(task: Any) -> int | None:
    """The warmer job a Celery task ran: generate_artifact's one argument, the job id."""
    if getattr(task, "name", None) != GENERATE_TASK:
        return None
    args = getattr(task, "args", None)
    try:
        value = ast.literal_eval(args) if isinstance(args, str) else args
    except (ValueError, SyntaxError):
        return None
    if isinstance(value, list | tuple) and len(value) == 1 and isinstance(value[0], int):
        return value[0]
    return None


def task_job_id(handler: Any) -> int | None:
    """On Flower's task page: the job its task ran (shown as a link in warmer's navbar)."""
    if type(handler).__name__ != "TaskView" or not handler.path_args:
        return None
    task = handler.application.events.state.tasks.get(handler.path_args[0])
    return job_id_of(task) if task is not None else None


def tasks_of_job(application: Any, job_id: int) -> list[Any]:
    """The Celery tasks Flower has seen run `job_id` (one per delivery), newest first."""
    found = [task for task in list(application.events.state.tasks.values()) if job_id_of(task) == job_id]
    return sorted(found, key=lambda task: task.timestamp or task.received or 0, reverse=True)

"""warmer: pre-computes engineering-cache artifacts so AI coding agents get instant hits.

`celery -A warmer worker` finds the Celery app here as `warmer.app`; it is
imported lazily so the CLI and library users do not pay for Celery unless
they need it.
"""

from typing import Any

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    if name in ("app", "celery"):
        from warmer.celery_app import app

        return app
    raise AttributeError(f"module 'warmer' has no attribute {name!r}")

"""Per-process singletons: settings, the ledger database, and this worker's identity.

The database is created lazily and re-created in a forked child, so a
prefork child never shares a socket with its parent.
"""

from __future__ import annotations

import os
import socket
import uuid

from warmer.ledger.db import Database
from warmer.settings import Settings, get_settings
from warmer.worker.runner import JobRunner

INSTANCE_ENV = "WARMER_INSTANCE_ID"
_db: Database | None = None
_db_pid: int | None = None


def settings() -> Settings:
    return get_settings()


def database() -> Database:
    """This process's Database (a forked child gets its own)."""
    global _db, _db_pid
    if _db is None or _db_pid != os.getpid():
        if _db is not None:
            _db.after_fork()  # forget the parent's sockets without closing them under it
        _db, _db_pid = Database(settings().database_url), os.getpid()
    return _db


_runner: tuple[int, JobRunner] | None = None


def job_runner() -> JobRunner:
    """This process's JobRunner: its job connection and heartbeat thread live as long as the process."""
    global _runner
    if _runner is None or _runner[0] != os.getpid():
        _runner = (os.getpid(), JobRunner(database(), settings(), instance_id()))
    return _runner[1]


def new_instance_id() -> str:
    """A fresh id per worker start, never just the hostname (a restart is a new instance)."""
    instance = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    os.environ[INSTANCE_ENV] = instance  # inherited by the pool's child processes
    return instance


def instance_id() -> str:
    """The worker instance this process belongs to (a CLI process gets a one-off id)."""
    return os.environ.get(INSTANCE_ENV) or new_instance_id()

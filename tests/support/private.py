"""Private Redis and Postgres servers on free ports, for tests that stop, crash or flush them.

The machine's own Redis and Postgres are shared by every engineer and every test
run: nothing here ever stops or restarts them. A fault test starts its own
servers, with their data in a temporary directory, and removes them afterwards.
Postgres refuses to run as root, so as root initdb and pg_ctl run as an
unprivileged system user (created once with `useradd --system`).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg2
import redis

PG_BIN = Path(os.environ.get("WARMER_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = os.environ.get("WARMER_PG_USER", "warmer-pg")


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class PrivateRedis:
    """A redis-server of our own: no persistence, its port kept across restarts."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="warmer-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url(db), socket_timeout=5, socket_connect_timeout=2)

    def up(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            [
                "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.dir),
                "--logfile", str(self.dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        _wait(lambda: self.up() or self.process.poll() is not None, 30, f"redis on :{self.port}")  # type: ignore[union-attr]
        if not self.up():
            raise RuntimeError(f"redis-server on :{self.port} did not start:\n{self.log()}")
        return self

    def run_id(self) -> str:
        return str(self.client().info("server")["run_id"])

    def flushall(self) -> None:
        """Every key of every db gone; the server (and its run_id) stays."""
        self.client().flushall()

    def kill(self) -> None:
        """SIGKILL: everything in memory is lost, like a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        """Down and up again on the same port: empty, with a new run_id."""
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.dir / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _ensure_user(name: str) -> pwd.struct_passwd:
    """The unprivileged system user Postgres runs as when we are root (created once)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    done = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", name],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode not in (0, 9):  # 9: created meanwhile by a parallel test run
        raise RuntimeError(f"useradd {name} failed: {done.stderr.strip()}")
    return pwd.getpwnam(name)


class PrivatePostgres:
    """A Postgres cluster of our own (initdb into a temporary directory), trust auth on 127.0.0.1."""

    def __init__(self, port: int | None = None, *, fsync: bool = True) -> None:
        self.port = port or free_port()
        self.fsync = fsync
        self.dir = Path(tempfile.mkdtemp(prefix="warmer-pg-"))
        self.data = self.dir / "data"
        self.logfile = self.dir / "postgres.log"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            user = _ensure_user(PG_USER)
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        self._initialized = False

    def _run(self, *argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", PG_USER, "--"] if self._as_root else []
        done = subprocess.run([*prefix, *argv], capture_output=True, text=True, cwd=self.dir, timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}\n{self.log()}")
        return done

    def admin_dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def up(self) -> bool:
        try:
            psycopg2.connect(self.admin_dsn(), connect_timeout=2).close()
            return True
        except psycopg2.OperationalError:
            return False

    def start(self) -> PrivatePostgres:
        if not self._initialized:
            self._run(
                str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                "--auth=trust", "-E", "UTF8", "--no-instructions",
                *([] if self.fsync else ["--no-sync"]),
            )  # fmt: skip
            self._initialized = True
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir}"
            f" -c max_connections=200 -c fsync={'on' if self.fsync else 'off'}"
        )
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.logfile),
            "-o",
            options,
            "-w",
            "start",
        )
        _wait(self.up, 60, f"postgres on :{self.port}")
        return self

    def stop(self, mode: str = "fast") -> None:
        """`fast`: a clean shutdown. `immediate`: every server process quits at once, no
        checkpoint, as in a crash; the next start replays the WAL."""
        if self._initialized:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)
            _wait(lambda: not self.up(), 30, f"postgres on :{self.port} to stop")

    def crash(self) -> None:
        self.stop("immediate")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def create_database(self, prefix: str = "warmer") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        conn = psycopg2.connect(self.admin_dsn())
        conn.autocommit = True
        try:
            conn.cursor().execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return name

    def database_url(self, name: str) -> str:
        return self.admin_dsn(name)

    def log(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

"""How long `warmer` commands take from the shell, against `python -c pass` in the same run.

    python bench/cli_latency.py [--runs 5] [--port 8097] [--keep DIR]

The repository is real code nobody here wrote: Flask's tutorial app (flaskr) from the Flask 3.0.3
sdist, warmed once (repo_map, symbol_index, embedding_index) on an embedded SQLite ledger in a
temporary data directory. Each command is run `--runs` times as a user runs it (the console
script, a new process each time, output to a pipe); the median is printed beside its target:

    warmer --help                              <= 3 x python -c pass
    warmer symbols flaskr get_db               <= 5 x python -c pass     (the CLI's resident server)
    warmer get flaskr repo_map                 <= 5 x python -c pass     (the CLI's resident server)
    warmer search flaskr "..." --server URL    <= 0.2 s                  (a running warmer serve)

`symbols` and `get` run as a user runs them (the default): the first lookup command answers from
the ledger in its own process and starts the CLI's resident server (warmer/cli/resident.py),
which answers the later ones; that first run is printed too. For scale, the same commands with
WARMER_RESIDENT=0 (each process opens the ledger itself; `search` then loads the embedding model
in the process: one run). The server answers ten searches before
the timed runs (WARM_UP), so its model is loaded and its worker threads have run a search, as for
a server that has been running.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.corpora import pypi_sdist  # noqa: E402
from tests.support.gitrepo import commit, git  # noqa: E402

WARMER = str(Path(sys.executable).parent / "warmer")
WARM_UP = 10  # searches before the timed ones: the server's thread pool holds 8 threads
QUERY = "register a new user with a username and password"


def timed(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return statistics.median(times), times


def prepare(root: Path, env: dict[str, str]) -> None:
    repo = root / "flaskr"
    shutil.copytree(pypi_sdist("flask", "3.0.3") / "examples" / "tutorial", repo)
    git(repo, "init", "--quiet", "-b", "main")
    commit(repo, "flaskr")
    (root / "config.yaml").write_text(
        "engineering_cache:\n  warmers:\n    on_connect:\n"
        "      artifacts: [repo_map, symbol_index, embedding_index]\n"
    )
    done = subprocess.run([WARMER, "warm", str(repo)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"warmer warm failed: {done.stderr}")


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([WARMER, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("warmer serve did not start") from None
            time.sleep(0.2)


def resident_states(root: Path) -> list[Path]:
    return list((root / "data" / "resident").glob("*.json"))


def wait_for_resident(root: Path) -> None:
    deadline = time.monotonic() + 60
    while not resident_states(root):
        if time.monotonic() > deadline:
            raise SystemExit("the CLI's resident server did not start")
        time.sleep(0.1)


def stop_residents(root: Path) -> None:
    for state in resident_states(root):
        pid = json.loads(state.read_text())["pid"]
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while state.exists() and time.monotonic() < deadline:
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, default=8097, help="for the warmer serve this bench starts")
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it (default: a temporary folder)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="warmer-cli-latency-"))
    root.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WARMER_SERVER_URL", "COLUMNS")}
    env |= {"WARMER_DATA_DIR": str(root / "data"), "WARMER_CONFIG": str(root / "config.yaml")}
    if not (root / "data" / "warmer.db").exists():
        print("warming flaskr (repo_map, symbol_index, embedding_index) ...", flush=True)
        prepare(root, env)
    local = env | {"WARMER_RESIDENT": "0"}  # every command answers from the ledger in its own process
    server = start_server(local, args.port)
    url = f"http://127.0.0.1:{args.port}"
    symbols = [WARMER, "symbols", "flaskr", "get_db"]
    get = [WARMER, "get", "flaskr", "repo_map", "--task-type", "bench"]
    try:
        # A server that has been running has its model loaded and its worker threads started.
        timed([WARMER, "search", "flaskr", QUERY, "--server", url], local, WARM_UP)
        baseline, _ = timed([sys.executable, "-c", "pass"], env, args.runs)
        # The default: the first lookup command answers from the ledger and starts the CLI's
        # resident server; the later ones ask it.
        stop_residents(root)
        first = timed(symbols, env, 1)[0]
        wait_for_resident(root)
        rows = [
            ("python -c pass", baseline, None),
            ("warmer --help", timed([WARMER, "--help"], env, args.runs)[0], ("x", 3.0)),
            ("warmer symbols flaskr get_db", timed(symbols, env, args.runs)[0], ("x", 5.0)),
            ("warmer get flaskr repo_map", timed(get, env, args.runs)[0], ("x", 5.0)),
            ("warmer search ... --server URL", timed([WARMER, "search", "flaskr", QUERY, "--server", url],
                                                     local, args.runs)[0], ("s", 0.2)),
            ("warmer search (resident)", timed([WARMER, "search", "flaskr", QUERY], env, args.runs)[0], None),
            ("  the first symbols (starts it)", first, None),
            ("symbols, WARMER_RESIDENT=0", timed(symbols, local, args.runs)[0], None),
            ("get, WARMER_RESIDENT=0", timed(get, local, args.runs)[0], None),
            ("search, WARMER_RESIDENT=0 (1 run)", timed([WARMER, "search", "flaskr", QUERY], local, 1)[0], None),
        ]  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
        stop_residents(root)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    load = os.getloadavg()
    print(f"\nmedians of {args.runs} runs; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'command':36} {'median':>9} {'x pass':>7}  target")
    failed = False
    for name, seconds, target in rows:
        ratio = seconds / baseline
        verdict = ""
        if target is not None:
            kind, limit = target
            ok = ratio <= limit if kind == "x" else seconds <= limit
            failed |= not ok
            verdict = (f"<= {limit:g} x pass" if kind == "x" else f"<= {limit:g} s") + (
                "  ok" if ok else "  MISSED"
            )
        print(f"{name:36} {seconds * 1000:7.0f}ms {ratio:6.1f}x  {verdict}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

"""`warmer console --url_prefix=ops` as a real process: the startup line names the URL the
console answers at, its pages link under the prefix, and nothing is served outside it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path

import pytest

from tests.console.support import CONSOLE_REDIS, console_env
from tests.support import services

pytestmark = pytest.mark.integration
WARMER = str(Path(sys.executable).parent / "warmer")


def _get(url: str) -> tuple[int, str]:
    token = b64encode(b"admin:prefix-pw").decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_startup_line_names_the_prefixed_url_and_the_console_answers_there(
    pg_url: str, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, **console_env(pg_url, tmp_path)}
    for key in [k for k in env if k.startswith("FLOWER_")]:
        del env[key]
    log = tmp_path / "console.log"
    with open(log, "wb") as out:
        console = subprocess.Popen(
            [WARMER, "console", "--port", str(port), "--broker", CONSOLE_REDIS, "--basic-auth",
             "admin:prefix-pw", "--url_prefix=ops"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        services.wait_for(lambda: "warmer console at" in log.read_text() or console.poll() is not None, 30, 0.2,
                          "the startup line")  # fmt: skip
        found = re.search(r"warmer console at (\S+) \(basic auth", log.read_text())
        assert found, log.read_text()
        url = found.group(1)
        assert url == f"http://127.0.0.1:{port}/ops/warmer"
        status, page = _get(url)
        assert status == 200 and "Queue overview" in page
        assert 'href="/ops/warmer/jobs"' in page  # the navigation stays under the prefix
        assert (
            _get(url + "/jobs")[0] == 200
            and _get(f"http://127.0.0.1:{port}/ops/api/warmer/overview")[0] == 200
        )
        assert _get(f"http://127.0.0.1:{port}/warmer")[0] == 404  # nothing outside the prefix
    finally:
        console.terminate()
        try:
            console.wait(timeout=10)
        except subprocess.TimeoutExpired:
            console.kill()

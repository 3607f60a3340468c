"""The deployment files (compose, Kubernetes, Dockerfile), parsed and checked against the code they start.

No container engine runs here, so nothing is built or started. Instead the files are read
with PyYAML and every command they name is run from this venv with --help, in the
environment the file gives it: a renamed command, a subcommand that does not exist, a
misspelled variable or a default that drifted fails here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from warmer.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
COMPOSE_FILE = REPO / "docker-compose.yml"
K8S_DIR = REPO / "deploy" / "k8s"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

# The six documented variables and their documented defaults, with the settings field each sets.
DOCUMENTED_DEFAULTS = {
    "KEEPTRUSTS_CACHE_WARMER_CONCURRENCY": "4",
    "KEEPTRUSTS_CACHE_WARMER_POLL_INTERVAL_SECS": "5",
    "KEEPTRUSTS_CACHE_WARMER_HEARTBEAT_SECS": "30",
    "KEEPTRUSTS_CACHE_WARMER_STALE_THRESHOLD_SECS": "120",
    "KEEPTRUSTS_CACHE_WARMER_HEALTH_PORT": "8081",
    "KEEPTRUSTS_CACHE_WARMER_MAX_RETRIES": "3",
}
SETTINGS_FIELDS = {
    "KEEPTRUSTS_CACHE_WARMER_CONCURRENCY": "concurrency",
    "KEEPTRUSTS_CACHE_WARMER_POLL_INTERVAL_SECS": "poll_interval_secs",
    "KEEPTRUSTS_CACHE_WARMER_HEARTBEAT_SECS": "heartbeat_secs",
    "KEEPTRUSTS_CACHE_WARMER_STALE_THRESHOLD_SECS": "stale_threshold_secs",
    "KEEPTRUSTS_CACHE_WARMER_HEALTH_PORT": "health_port",
    "KEEPTRUSTS_CACHE_WARMER_MAX_RETRIES": "max_retries",
}
WORKER_COMMAND = ["celery", "-A", "warmer", "worker", "-l", "info"]
MIGRATE_COMMAND = ["warmer", "db", "upgrade"]
HEALTH_PORT = 8081
HEALTH_PATH = "/health"
DATA_DIR = "/var/lib/warmer"
CONSOLE_SCRIPTS = {"celery", "warmer"}
HELP_TIMEOUT = 120


# --- reading the files -------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def k8s_files() -> list[Path]:
    return sorted(K8S_DIR.glob("*.y*ml"))


def k8s_documents() -> list[dict[str, Any]]:
    return [doc for path in k8s_files() for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def argv(command: str | list[Any] | None) -> list[str]:
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def env_dict(environment: dict[str, Any] | list[str] | None) -> dict[str, str]:
    """A compose `environment` (mapping or KEY=value list) as strings."""
    if environment is None:
        return {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def warmer_services() -> dict[str, dict[str, Any]]:
    """The compose services run from warmer's image: those built from deploy/Dockerfile."""
    return {name: service for name, service in compose()["services"].items() if "build" in service}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return doc["spec"]["template"]["spec"]
    return None


def k8s_containers() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(label, container, pod spec) for every container of every workload."""
    found = []
    for doc in k8s_documents():
        spec = pod_spec(doc)
        for container in (spec or {}).get("containers", []):
            found.append((f"{doc['kind']}/{doc['metadata']['name']}/{container['name']}", container, spec))
    return found


def container_argv(container: dict[str, Any]) -> list[str]:
    return argv(container.get("command")) + argv(container.get("args"))


def is_worker(command: list[str]) -> bool:
    return command[:4] == WORKER_COMMAND[:4]


def k8s_workers() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    workers = [item for item in k8s_containers() if is_worker(container_argv(item[1]))]
    assert workers, "no Kubernetes container runs `celery -A warmer worker`"
    return workers


def literal_env(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: str(item["value"]) for item in container.get("env", []) if "value" in item}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    instructions, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        keyword, _, rest = (current + line).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a line continuation"
    return instructions


def dockerfile_words(arguments: str) -> list[str]:
    """An instruction's arguments, exec (JSON) form or shell form."""
    return json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)


def only(instructions: list[tuple[str, str]], keyword: str) -> str:
    matching = [rest for name, rest in instructions if name == keyword]
    assert len(matching) == 1, f"expected one {keyword} in the Dockerfile, found {len(matching)}"
    return matching[0]


def launches() -> list[tuple[str, list[str], dict[str, str]]]:
    """Every command the files start from warmer's image, with the literal environment it gets."""
    found = [
        (f"compose:{name}", argv(service.get("command")), env_dict(service.get("environment")))
        for name, service in warmer_services().items()
    ]
    found += [
        (label, container_argv(container), literal_env(container)) for label, container, _ in k8s_containers()
    ]
    found.append(("Dockerfile CMD", dockerfile_words(only(dockerfile_instructions(), "CMD")), {}))
    return found


def run_help(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Values compose fills in at `up` (${...}) are not literal settings: leave them out.
    literal = {key: value for key, value in env.items() if "${" not in value}
    return subprocess.run(
        command,
        cwd=REPO,  # like the image's WORKDIR: celeryconfig.py and config/ are here
        env={**os.environ, "COLUMNS": "200", **literal},
        capture_output=True,
        text=True,
        timeout=HELP_TIMEOUT,
    )


# --- (a) the files parse, with the expected shape ----------------------------------------------


def test_compose_file_parses_with_the_stack_services() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "worker", "console"}
    assert set(warmer_services()) == {"migrate", "worker", "console"}
    for name, service in warmer_services().items():
        assert service["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}, name
    assert len({service["image"] for service in warmer_services().values()}) == 1, "one image for all"


def test_compose_connection_urls_match_the_postgres_and_redis_services() -> None:
    services = compose()["services"]
    postgres = env_dict(services["postgres"]["environment"])
    for name, service in warmer_services().items():
        env = env_dict(service["environment"])
        db = urlsplit(env["DATABASE_URL"])
        assert db.scheme.startswith("postgres"), name
        assert (db.hostname, db.port, db.path.lstrip("/")) == ("postgres", 5432, postgres["POSTGRES_DB"]), (
            name
        )
        assert (db.username, db.password) == (postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"]), name
        broker = urlsplit(env["CELERY_BROKER_URL"])
        assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", 6379), name
    assert "pg_isready" in " ".join(argv(services["postgres"]["healthcheck"]["test"]))
    assert argv(services["redis"]["healthcheck"]["test"]) == ["CMD", "redis-cli", "ping"]


def test_k8s_files_parse_into_the_expected_objects() -> None:
    assert [path.name for path in k8s_files()] == ["console.yaml", "deployment.yaml", "migrate-job.yaml"]
    objects = {(doc["apiVersion"], doc["kind"], doc["metadata"]["name"]) for doc in k8s_documents()}
    assert objects == {
        ("apps/v1", "Deployment", "warmer-cache-warmer"),
        ("batch/v1", "Job", "warmer-db-upgrade"),
        ("apps/v1", "Deployment", "warmer-console"),
        ("v1", "Service", "warmer-console"),
    }


def test_k8s_selectors_match_their_pods() -> None:
    docs = k8s_documents()
    pods = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "Deployment"}
    for name, doc in pods.items():
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert doc["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
    for service in (doc for doc in docs if doc["kind"] == "Service"):
        targets = [
            doc
            for doc in pods.values()
            if service["spec"]["selector"].items() <= doc["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(targets) == 1, f"Service {service['metadata']['name']} selects {len(targets)} Deployments"
        ports = [p for c in pod_spec(targets[0])["containers"] for p in c.get("ports", [])]
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert any(target in (p.get("name"), p["containerPort"]) for p in ports), target


def test_k8s_pods_run_as_the_image_user() -> None:
    user = only(dockerfile_instructions(), "USER").split(":")[0]
    assert user.isdigit(), "a numeric USER lets runAsNonRoot verify the image"
    for label, _, spec in k8s_containers():
        context = spec.get("securityContext", {})
        assert context.get("runAsNonRoot") is True, label
        assert context.get("runAsUser") == int(user), label


# --- (b) the documented variables ------------------------------------------------------------


def test_documented_defaults_are_the_code_defaults() -> None:
    worker = load_settings({"WARMER_CONFIG": str(REPO / "config" / "engineering_cache.yaml")}).worker
    for name, default in DOCUMENTED_DEFAULTS.items():
        assert getattr(worker, SETTINGS_FIELDS[name]) == float(default), name


def test_compose_worker_sets_every_documented_variable_at_its_default() -> None:
    env = env_dict(warmer_services()["worker"]["environment"])
    for name, default in DOCUMENTED_DEFAULTS.items():
        assert name in env, f"compose worker does not set {name}"
        assert env[name] == default, f"{name}={env[name]!r}, documented default {default!r}"
    assert env["WARMER_DATA_DIR"] == DATA_DIR
    assert env["WARMER_CONFIG"] == "config/engineering_cache.yaml"


def test_compose_worker_runs_after_the_migration_with_a_data_volume() -> None:
    worker = warmer_services()["worker"]
    assert worker["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert warmer_services()["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert worker["deploy"]["replicas"] == 1
    volume_targets = {str(volume).split(":")[1] for volume in worker["volumes"]}
    assert env_dict(worker["environment"])["WARMER_DATA_DIR"] in volume_targets
    named = {str(volume).split(":")[0] for volume in worker["volumes"]}
    assert named <= set(compose()["volumes"]), "the data volume is declared at the top level"


def test_compose_console_commits_no_password() -> None:
    console = warmer_services()["console"]
    assert re.fullmatch(
        r"\$\{WARMER_CONSOLE_AUTH:\?[^}]+\}", env_dict(console["environment"])["FLOWER_BASIC_AUTH"]
    )
    assert console["ports"] == ["5555:5555"]


def test_k8s_workers_set_every_documented_variable() -> None:
    for label, container, _ in k8s_workers():
        env = literal_env(container)
        for name in DOCUMENTED_DEFAULTS:
            assert env.get(name, "").strip(), f"{label} does not set {name}"
        assert env["WARMER_DATA_DIR"] == DATA_DIR, label


def test_k8s_worker_deployment_takes_its_urls_from_secrets() -> None:
    (deployment,) = [doc for doc in k8s_documents() if doc["metadata"]["name"] == "warmer-cache-warmer"]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 300
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "warmer"
    env = {item["name"]: item for item in container["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "warmer-db", "key": "url"}
    assert env["CELERY_BROKER_URL"]["valueFrom"]["secretKeyRef"] == {"name": "warmer-broker", "key": "url"}
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert {"cpu", "memory"} <= container["resources"]["limits"].keys()


def test_k8s_secrets_are_never_literal() -> None:
    for label, container, _ in k8s_containers():
        env = literal_env(container)
        for name in ("DATABASE_URL", "CELERY_BROKER_URL", "FLOWER_BASIC_AUTH"):
            assert name not in env, f"{label} sets {name} in plain text"


def test_k8s_workers_mount_a_volume_at_the_data_dir() -> None:
    for label, container, spec in k8s_workers():
        mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}
        assert DATA_DIR in mounts, label
        assert mounts[DATA_DIR] in {volume["name"] for volume in spec["volumes"]}, label


@pytest.mark.parametrize("label", [label for label, _, _ in launches()])
def test_literal_environment_is_valid_settings(label: str) -> None:
    (env,) = [env for name, _, env in launches() if name == label]
    literal = {key: value for key, value in env.items() if "${" not in value}
    config = literal.get("WARMER_CONFIG", "config/engineering_cache.yaml")
    assert (REPO / config).is_file(), f"{label}: WARMER_CONFIG {config} is not in the image's working dir"
    load_settings({**literal, "WARMER_CONFIG": str(REPO / config)})  # raises SettingsError if invalid


# --- (c) the commands exist -------------------------------------------------------------------


def test_every_command_starts_with_a_console_script_of_this_venv() -> None:
    for label, command, _ in launches():
        assert command, f"{label} has no command"
        assert command[0] in CONSOLE_SCRIPTS, f"{label} runs {command[0]!r}"
        assert shutil.which(command[0], path=str(VENV_BIN)), f"{command[0]} is not installed in {VENV_BIN}"


def test_the_roles_run_the_documented_commands() -> None:
    services = warmer_services()
    assert argv(services["worker"]["command"]) == WORKER_COMMAND
    assert argv(services["migrate"]["command"]) == MIGRATE_COMMAND
    assert argv(services["console"]["command"])[:4] == ["celery", "-A", "warmer", "flower"]
    commands = {label.split("/")[1]: command for label, command, _ in launches() if label.count("/") == 2}
    assert commands["warmer-cache-warmer"] == WORKER_COMMAND
    assert commands["warmer-db-upgrade"] == MIGRATE_COMMAND
    assert commands["warmer-console"][:4] == ["celery", "-A", "warmer", "flower"]


def celery_launches() -> list[tuple[str, list[str], dict[str, str]]]:
    return [launch for launch in launches() if launch[1][:1] == ["celery"]]


def test_celery_commands_use_the_real_subcommands() -> None:
    for label, command, _ in celery_launches():
        assert command[1:3] == ["-A", "warmer"], label
    assert {command[3] for _, command, _ in celery_launches()} == {"worker", "flower"}


@pytest.mark.parametrize("label", [label for label, _, _ in celery_launches()])
def test_celery_subcommand_and_options_exist(label: str) -> None:
    (command, env) = next((command, env) for name, command, env in celery_launches() if name == label)
    subcommand, options = command[3], [word for word in command[4:] if word.startswith("-")]
    done = run_help([sys.executable, "-m", "celery", "-A", "warmer", subcommand, "--help"], env)
    assert done.returncode == 0, done.stderr + done.stdout
    for option in (word.split("=", 1)[0] for word in options):
        if subcommand == "flower":  # Flower's options are Tornado options, not in --help
            from flower.options import default_options

            assert option.lstrip("-") in default_options, f"flower has no {option}"
        else:
            assert re.search(rf"(?<![\w-]){re.escape(option)}\b", done.stdout), (
                f"{subcommand} has no {option}"
            )


def test_celery_help_fails_for_a_subcommand_that_does_not_exist() -> None:
    """The check above can fail: an unknown subcommand does not exit 0."""
    done = run_help([sys.executable, "-m", "celery", "-A", "warmer", "no-such-subcommand", "--help"], {})
    assert done.returncode != 0


def test_warmer_commands_exist() -> None:
    commands = [command for _, command, _ in launches() if command[:1] == ["warmer"]]
    assert MIGRATE_COMMAND in commands
    for command in commands:
        done = run_help([str(VENV_BIN / "warmer"), *command[1:], "--help"], {})
        assert done.returncode == 0, done.stderr + done.stdout
        assert f"Usage: warmer {' '.join(command[1:])}" in done.stdout


# --- (d) the Dockerfile -----------------------------------------------------------------------


def dockerignore_patterns() -> list[str]:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignored(path: str) -> bool:
    """Docker's rule, closely enough for these files: the last matching pattern wins, and a
    pattern matching a parent directory excludes what is under it."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for pattern in dockerignore_patterns():
        negated = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not negated
    return ignored


def copy_sources() -> list[list[str]]:
    """The sources of each COPY, normalized (no ./ prefix, no trailing /)."""
    copies = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "COPY":
            assert "--from" not in rest, "multi-stage COPY: extend this test"
            words = [word for word in dockerfile_words(rest) if not word.startswith("--")]  # --chown etc.
            assert len(words) >= 2, rest
            copies.append([word.removeprefix("./").rstrip("/") for word in words[:-1]])
    return copies


def is_glob(source: str) -> bool:
    return any(char in source for char in "*?[")


def test_dockerfile_copy_sources_exist_in_the_context() -> None:
    assert copy_sources(), "the Dockerfile copies nothing"
    for sources in copy_sources():
        for source in sources:
            if not is_glob(source):  # a plain name must exist; a pattern may match nothing
                assert (REPO / source).exists(), f"COPY source {source} does not exist"
        # ...but Docker fails a COPY whose sources match nothing at all.
        copied = [path for source in sources for path in REPO.glob(source) if path.exists()]
        assert copied, f"COPY {sources} copies nothing"


def test_dockerfile_copies_what_pip_install_and_the_runtime_need() -> None:
    sources = [source for sources in copy_sources() for source in sources]
    for needed in ("pyproject.toml", "celeryconfig.py", "config", "warmer"):
        assert needed in sources, f"the Dockerfile does not copy {needed}"
    readme = tomllib.loads((REPO / "pyproject.toml").read_text())["project"].get("readme")
    if isinstance(readme, str):
        assert any(re.fullmatch(_pattern_regex(source), readme) for source in sources), f"{readme} not copied"


def test_dockerignore_keeps_the_copied_files_and_drops_the_rest() -> None:
    for source in (source for sources in copy_sources() for source in sources if not is_glob(source)):
        path = REPO / source
        for file in [path] if path.is_file() else (f for f in path.rglob("*") if f.is_file()):
            relative = file.relative_to(REPO).as_posix()
            cache = "__pycache__" in file.parts or file.suffix == ".pyc"
            assert dockerignored(relative) == cache, f"{relative}: ignored={not cache} expected"
    assert not dockerignored("README.md")
    for junk in (
        ".venv/bin/python",
        ".git/HEAD",
        "warmer/__pycache__/settings.cpython-311.pyc",
        ".pytest_cache/v/cache/nodeids",
        "test-artifacts/run.log",
        "tests/unit/test_deploy_files.py",
        "bench/results/latest.json",
        ".env",
    ):
        assert dockerignored(junk), f"{junk} would be sent to the build"


def test_dockerfile_builds_the_runtime_image() -> None:
    instructions = dockerfile_instructions()
    assert only(instructions, "FROM") == "python:3.11-slim"
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    (apt,) = [run for run in runs if "apt-get install" in run]
    assert re.search(r"apt-get install -y --no-install-recommends( \S+)* git\b", apt), apt
    assert "rm -rf /var/lib/apt/lists/*" in apt
    assert any(re.search(r"pip install --no-cache-dir \.(\s|$)", run) for run in runs)
    assert any(re.search(r"useradd\b[^&]*\swarmer(\s|$)", run) for run in runs), "no user warmer"
    assert any(f"chown warmer:warmer {DATA_DIR}" in run for run in runs)
    assert only(instructions, "WORKDIR") == "/app"
    assert f"WARMER_DATA_DIR={DATA_DIR}" in only(instructions, "ENV").split()
    assert only(instructions, "USER").split(":")[0] not in {"root", "0"}
    assert only(instructions, "EXPOSE").split() == [str(HEALTH_PORT)]


def test_dockerfile_cmd_is_the_worker() -> None:
    cmd = only(dockerfile_instructions(), "CMD")
    assert cmd.startswith("["), "exec form, so SIGTERM reaches celery (warm shutdown)"
    command = json.loads(cmd)
    assert command[0] == "celery"
    assert command == WORKER_COMMAND


# --- (e) health probes ------------------------------------------------------------------------


def resolve_port(port: int | str, container: dict[str, Any]) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    return number


def test_k8s_worker_probes_point_at_the_health_endpoint() -> None:
    for label, container, _ in k8s_workers():
        assert {"name": "health", "containerPort": HEALTH_PORT} in container["ports"], label
        assert literal_env(container)["KEEPTRUSTS_CACHE_WARMER_HEALTH_PORT"] == str(HEALTH_PORT), label
        assert {"livenessProbe", "readinessProbe"} <= container.keys(), label
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            if kind in container:
                probe = container[kind]["httpGet"]
                assert probe["path"] == HEALTH_PATH, f"{label} {kind}"
                assert resolve_port(probe["port"], container) == HEALTH_PORT, f"{label} {kind}"


def flower_handler(path: str) -> type:
    """The handler Flower routes `path` to (its first matching route, as Tornado does)."""
    from flower.urls import handlers

    for handler in handlers:
        if hasattr(handler, "regex"):  # a tornado URLSpec
            pattern, target = handler.regex.pattern, handler.handler_class
        else:
            pattern, target = handler[:2]
        if re.fullmatch(pattern.removesuffix("$"), path):
            return target
    raise AssertionError(f"flower routes nothing to {path}")


def test_k8s_console_probes_point_at_flower() -> None:
    from flower.views.monitor import Healthcheck

    consoles = [(label, c) for label, c, _ in k8s_containers() if container_argv(c)[3:4] == ["flower"]]
    assert consoles
    for label, container in consoles:
        (port,) = [int(w.split("=")[1]) for w in container_argv(container) if w.startswith("--port=")]
        assert {"livenessProbe", "readinessProbe"} <= container.keys(), label
        for kind in ("readinessProbe", "livenessProbe"):
            probe = container[kind]["httpGet"]
            assert resolve_port(probe["port"], container) == port, f"{label} {kind}"
            # Flower's /healthcheck answers without a login; anything else would be 401 or 404.
            assert flower_handler(probe["path"]) is Healthcheck, f"{label} {kind} {probe['path']}"


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = self.server.status if self.path == HEALTH_PATH else 404  # type: ignore[attr-defined]
        body = json.dumps({"status": "healthy" if status == 200 else "unhealthy"}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_compose_worker_healthcheck_follows_the_health_endpoint(health_server: ThreadingHTTPServer) -> None:
    """The healthcheck's own command, aimed at a stand-in endpoint: 0 on 200, failure on 503."""
    test = argv(warmer_services()["worker"]["healthcheck"]["test"])
    assert test[:3] == ["CMD", "python", "-c"], "the slim image has python, not curl"
    code = test[3]
    url = f"http://localhost:{HEALTH_PORT}{HEALTH_PATH}"
    assert re.search(rf"['\"]{re.escape(url)}['\"]", code), f"healthcheck does not GET {url}"
    host, port = health_server.server_address[:2]
    aimed = code.replace(f"http://localhost:{HEALTH_PORT}", f"http://{host}:{port}")
    for status, healthy in ((200, True), (503, False)):
        health_server.status = status  # type: ignore[attr-defined]
        done = subprocess.run([sys.executable, "-c", aimed], capture_output=True, timeout=30)
        assert (done.returncode == 0) is healthy, f"status {status}: exit {done.returncode}"

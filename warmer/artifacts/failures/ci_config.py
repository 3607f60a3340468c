"""Test commands and jobs from a repository's CI configuration, read with real parsers.

GitHub Actions, GitLab CI and CircleCI files are YAML (PyYAML's safe loader); tox.ini is INI
(configparser); noxfile.py is Python (ast, never executed); Makefiles are read by their own
grammar: a target line at column 0, its recipe lines indented by a tab. Each file's extract is a
list of jobs, each with its commands and whether each command runs tests. A file that does not
parse yields an error for that file alone.

Extracts are cached by blob id, so they never name their own path: the reducer adds it.
"""

from __future__ import annotations

import ast
import configparser
import posixpath
import re
import shlex
from typing import Any

import yaml

from warmer.artifacts.classify import is_vendored
from warmer.artifacts.failures.test_commands import is_test_command

Payload = dict[str, Any]

_MAKEFILES = frozenset({"Makefile", "makefile", "GNUmakefile"})
MAX_MATRIX_VALUES = 50


def ci_kind(path: str) -> str | None:
    """Which CI system's file `path` is, or None."""
    directory, name = posixpath.split(path)
    if directory == ".github/workflows" and name.endswith((".yml", ".yaml")):
        return "github_actions"
    if path == ".gitlab-ci.yml":
        return "gitlab_ci"
    if path == ".circleci/config.yml":
        return "circleci"
    if is_vendored(path):
        return None
    if name in _MAKEFILES:
        return "make"
    if name == "tox.ini":
        return "tox"
    if name == "noxfile.py":
        return "nox"
    return None


def extract_ci(kind: str, data: bytes) -> Payload:
    """{"jobs": [...], "error": None} or {"jobs": [], "error": why} for a file that does not parse."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"jobs": [], "error": "not UTF-8 text"}
    try:
        jobs = _PARSERS[kind](text)
    except (yaml.YAMLError, configparser.Error, SyntaxError, ValueError, RecursionError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return {"jobs": [], "error": f"{type(exc).__name__}: {first}"[:500]}
    return {"jobs": jobs, "error": None}


def _job(name: str, commands: list[str], **extra: Any) -> Payload:
    return {
        "name": name,
        "commands": [{"command": c, "is_test": is_test_command(c)} for c in commands],
        **{k: v for k, v in extra.items() if v not in (None, [], {})},
    }


def _script_lines(script: Any) -> list[str]:
    """A `run:` block or a script list as logical lines: no blanks, comments, or `\\` breaks."""
    if isinstance(script, list):
        return [line for item in script for line in _script_lines(item)]
    if not isinstance(script, str):
        return []
    lines: list[str] = []
    pending = ""
    for raw in script.splitlines():
        line = raw.strip()
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line and not line.startswith("#"):
            lines.append(line)
    if pending.strip():
        lines.append(pending.strip())
    return lines


def _matrix(value: Any) -> dict[str, list[Any]] | None:
    """The scalar axes of a build matrix (include/exclude lists and huge axes are left out)."""
    if not isinstance(value, dict):
        return None
    axes = {}
    for key, values in value.items():
        if key in ("include", "exclude") or not isinstance(values, list) or len(values) > MAX_MATRIX_VALUES:
            continue
        if all(isinstance(v, str | int | float | bool) for v in values):
            axes[str(key)] = values
    return axes or None


def _load_yaml(text: str, loader: type[yaml.SafeLoader] | None = None) -> dict[str, Any]:
    document = yaml.load(text, Loader=loader or _SafeLoader)  # a SafeLoader subclass: no arbitrary objects
    if not isinstance(document, dict):
        raise ValueError("the top level is not a mapping")
    return document


def github_actions(text: str) -> list[Payload]:
    jobs = _load_yaml(text).get("jobs")
    if not isinstance(jobs, dict):
        raise ValueError("no `jobs` mapping")
    result = []
    for job_id, job in jobs.items():
        if not isinstance(job, dict):
            continue
        steps = job.get("steps") if isinstance(job.get("steps"), list) else []
        commands = [
            line for step in steps if isinstance(step, dict) for line in _script_lines(step.get("run"))
        ]
        actions = [
            step["uses"] for step in steps if isinstance(step, dict) and isinstance(step.get("uses"), str)
        ]
        strategy = job.get("strategy") if isinstance(job.get("strategy"), dict) else {}
        result.append(
            _job(
                str(job_id),
                commands,
                title=job.get("name") if isinstance(job.get("name"), str) else None,
                runs_on=job.get("runs-on") if isinstance(job.get("runs-on"), str | list) else None,
                matrix=_matrix(strategy.get("matrix")),
                uses=job.get("uses") if isinstance(job.get("uses"), str) else None,  # a reusable workflow
                actions=actions,
            )
        )
    return result


# --- GitLab CI --------------------------------------------------------------------------------------

_GITLAB_KEYWORDS = frozenset(
    {"stages", "variables", "default", "include", "workflow", "image", "services", "cache",
     "before_script", "after_script", "types"}
)  # fmt: skip


class _Reference:
    """GitLab's `!reference [.job, key]` tag, resolved once the whole file is loaded."""

    def __init__(self, path: list[Any]) -> None:
        self.path = path


class _SafeLoader(yaml.SafeLoader):
    """The safe loader, plus GitLab's `!reference` tag (plain safe_load rejects the file)."""


_SafeLoader.add_constructor(
    "!reference", lambda loader, node: _Reference(loader.construct_sequence(node, deep=True))
)


def _resolve(value: Any, document: dict[str, Any], depth: int = 0) -> Any:
    if isinstance(value, _Reference):
        target: Any = document
        for key in value.path:
            target = target.get(key) if isinstance(target, dict) else None
        return _resolve(target, document, depth + 1) if depth < 10 else None
    if isinstance(value, list):
        return [_resolve(item, document, depth) for item in value]
    return value


def _gitlab_key(job: dict[str, Any], key: str, document: dict[str, Any], depth: int = 0) -> Any:
    """A job's key, inherited through `extends` (the last template wins, like GitLab's merge)."""
    if key in job:
        return _resolve(job[key], document)
    parents = job.get("extends")
    parents = [parents] if isinstance(parents, str) else parents if isinstance(parents, list) else []
    found = None
    for parent in parents:
        template = document.get(parent)
        if isinstance(template, dict) and depth < 10:
            value = _gitlab_key(template, key, document, depth + 1)
            found = value if value is not None else found
    return found


def gitlab_ci(text: str) -> list[Payload]:
    document = _load_yaml(text)
    result = []
    for name, job in document.items():
        # Hidden keys (`.template`) are never run by themselves; keywords are not jobs.
        if not isinstance(name, str) or name.startswith(".") or name in _GITLAB_KEYWORDS:
            continue
        if not isinstance(job, dict):
            continue
        script = _gitlab_key(job, "script", document)
        trigger = job.get("trigger")
        if script is None and trigger is None:
            continue
        commands = [
            *_script_lines(_gitlab_key(job, "before_script", document)),
            *_script_lines(script),
        ]
        parallel = _gitlab_key(job, "parallel", document)
        matrix = parallel.get("matrix") if isinstance(parallel, dict) else None
        stage = _gitlab_key(job, "stage", document)
        result.append(
            _job(
                name,
                commands,
                stage=stage if isinstance(stage, str) else "test",
                matrix=[m for m in matrix if isinstance(m, dict)] if isinstance(matrix, list) else None,
                trigger=trigger if isinstance(trigger, str) else None,
            )
        )
    return result


# --- CircleCI ---------------------------------------------------------------------------------------


def circleci(text: str) -> list[Payload]:
    document = _load_yaml(text)
    jobs = document.get("jobs") if isinstance(document.get("jobs"), dict) else {}
    result = []
    for name, job in jobs.items():
        if not isinstance(job, dict):
            continue
        commands: list[str] = []
        orb_steps: list[str] = []
        for step in job.get("steps") or []:
            if isinstance(step, dict) and "run" in step:
                run = step["run"]
                commands += _script_lines(run.get("command") if isinstance(run, dict) else run)
            elif isinstance(step, dict) and len(step) == 1:
                orb_steps.append(str(next(iter(step))))
            elif isinstance(step, str) and step != "checkout":
                orb_steps.append(step)
        result.append(_job(str(name), commands, steps=orb_steps))
    workflows = document.get("workflows") if isinstance(document.get("workflows"), dict) else {}
    for workflow, spec in workflows.items():
        if isinstance(spec, dict) and isinstance(spec.get("jobs"), list):
            names = [str(next(iter(j))) if isinstance(j, dict) and j else str(j) for j in spec["jobs"]]
            for job in result:
                if job["name"] in names:
                    job.setdefault("workflows", []).append(str(workflow))
    return result


# --- Makefile ---------------------------------------------------------------------------------------

# `target [more targets]: prerequisites` at column 0, not `VAR := value` or `VAR = value`.
_MAKE_RULE = re.compile(r"^(?P<targets>[^\s:=#][^:=#]*?)\s*::?(?!=)(?P<prereqs>[^=]*)$")
_MAKE_CONDITIONAL = re.compile(r"^\s*(?:ifeq|ifneq|ifdef|ifndef|else|endif)\b")


def makefile(text: str) -> list[Payload]:
    """Targets whose recipe runs tests (a Makefile's other targets build, lint or clean)."""
    text = re.sub(r"\\\n[ \t]*", " ", text)
    result = []
    target: str | None = None
    recipe: list[str] = []

    def close() -> None:
        commands = [c.lstrip("@-+ ").strip() for c in recipe]
        commands = [c for c in commands if c and not c.startswith("#")]
        if target and any(is_test_command(c) for c in commands):
            result.append(_job(target, commands))

    for line in text.splitlines():
        if line.startswith("\t"):
            if target is not None:
                recipe.append(line[1:])
            continue
        if not line.strip() or line.lstrip().startswith("#") or _MAKE_CONDITIONAL.match(line):
            continue  # a conditional inside a recipe keeps the target open
        match = _MAKE_RULE.match(line.split(";", 1)[0] if ";" in line else line)
        close()
        target, recipe = None, []
        if match:
            names = [n for n in match["targets"].split() if not n.startswith(".") and "%" not in n]
            target = " ".join(names) or None
            if ";" in line:  # `test: ; pytest`: an inline recipe
                recipe.append(line.split(";", 1)[1])
    close()
    return result


# --- tox --------------------------------------------------------------------------------------------


def tox_ini(text: str) -> list[Payload]:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.read_string(text)
    result = []
    envlist = parser.get("tox", "envlist", fallback="")
    for section in parser.sections():
        if section != "testenv" and not section.startswith("testenv:"):
            continue
        commands = _script_lines(parser.get(section, "commands", fallback=""))
        name = section.split(":", 1)[1] if ":" in section else "testenv"
        envs = [e.strip() for e in re.split(r"[,\n]", envlist) if e.strip()] if name == "testenv" else None
        result.append(_job(name, commands, envlist=envs))
    return result


# --- nox --------------------------------------------------------------------------------------------


def _is_session_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return ast.unparse(target) in ("nox.session", "session")


def _literal_command(call: ast.Call) -> str:
    parts = []
    for arg in call.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            parts.append(shlex.quote(arg.value) if arg.value and " " not in arg.value else repr(arg.value))
        elif isinstance(arg, ast.Starred):
            parts.append(f"*{ast.unparse(arg.value)}")
        else:
            parts.append(f"{{{ast.unparse(arg)}}}")
    return " ".join(parts)


def noxfile(text: str) -> list[Payload]:
    tree = ast.parse(text)
    result = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        decorator = next((d for d in node.decorator_list if _is_session_decorator(d)), None)
        if decorator is None or not node.args.args:
            continue
        name, python = node.name, None
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    name = str(keyword.value.value)
                elif keyword.arg in ("python", "py"):
                    python = ast.unparse(keyword.value)
        session = node.args.args[0].arg
        commands = [
            _literal_command(call)
            for call in ast.walk(node)
            if isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr in ("run", "run_always")
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == session
        ]
        result.append(_job(name, commands, python=python))
    return result


_PARSERS = {
    "github_actions": github_actions,
    "gitlab_ci": gitlab_ci,
    "circleci": circleci,
    "make": makefile,
    "tox": tox_ini,
    "nox": noxfile,
}

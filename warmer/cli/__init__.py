"""The `warmer` command. Errors a user can fix print one line and exit 2; nothing else changes.

Starting fast is part of the interface: `warmer --help` imports click and nothing else. Each
command's module (and what it needs: the ledger, git, the generators, rich) is imported only when
that command runs; `COMMANDS` says where each lives and what `--help` prints for it (a test keeps
those lines equal to the commands' own docstrings).

Exit statuses follow grep and rg: 0 found or done, 1 nothing found (a miss, no match, a failed
generator), 2 a usage or user error.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any

import click

COMMANDS: dict[str, tuple[str, str]] = {
    "commit": (
        "warmer.cli.commits",
        "Tell warmer about a push; it refreshes only what the changed paths affect.",
    ),
    "connect": (
        "warmer.cli.repos",
        "Mirror a repository (PATH or URL), record it, and enqueue its baseline warming.",
    ),
    "console": (
        "warmer.cli.console",
        "Serve the console: Warmers, Jobs, Repositories, Analytics, Flower's pages, the JSON API.",
    ),
    "db": ("warmer.cli.db", "The ledger database's schema."),
    "disconnect": (
        "warmer.cli.commits",
        "Stop warming a repository (pushes are ignored); `warmer connect` brings it back.",
    ),
    "failures": ("warmer.cli.failures", "REPO's known failure fingerprints, most frequent first."),
    "full-warm": (
        "warmer.cli.repos",
        "Enqueue every baseline artifact again at the branch head (manual trigger).",
    ),
    "get": ("warmer.cli.repos", "Print a cache entry as JSON; exit 1 on a miss (which is recorded)."),
    "ingest-junit": (
        "warmer.cli.failures",
        "Count a JUnit XML report's failures into REPO's known failure fingerprints.",
    ),
    "job": ("warmer.cli.jobs", "One job: its fields, time in each phase, its history and full error."),
    "jobs": ("warmer.cli.jobs", "List jobs, newest first."),
    "mcp": (
        "warmer.cli.mcp",
        "Serve the cache to coding agents over the Model Context Protocol (stdio or HTTP).",
    ),
    "requeue": ("warmer.cli.jobs", "Put a failed job back in the queue with a fresh allowance of retries."),
    "search": (
        "warmer.cli.symbols",
        "Semantic search over the cached embedding index; exit 1 on a (recorded) miss.",
    ),
    "serve": (
        "warmer.cli.serve",
        "Serve GET /v1/repos/{repo}/artifacts/{type}, /symbols, /search and POST /junit.",
    ),
    "status": ("warmer.cli.jobs", "Queue overview and the active warmer instances."),
    "symbols": (
        "warmer.cli.symbols",
        "Search the cached symbol index; exit 1 when nothing matches or on a (recorded) miss.",
    ),
    "warm": ("warmer.cli.warm", "Connect a local repository and run all its connect jobs in this process."),
    "webhook-secret": (
        "warmer.cli.webhooks",
        "Set a new webhook secret for REPO and print it once (the old one stops working).",
    ),
    "webhooks": ("warmer.cli.webhooks", "Serve POST /webhooks/{github|gitlab}/{repo} for push events."),
}


def user_error_types() -> tuple[type[BaseException], ...]:
    """The failures a user can fix. Imported only once one was raised, so starting stays cheap."""
    from warmer.artifacts.base import UnknownArtifactType
    from warmer.artifacts.failures.junit import JunitError
    from warmer.cache.lookup import InvalidLookup
    from warmer.git.mirror import GitError
    from warmer.ledger.migrate import SchemaOutOfDate
    from warmer.ledger.repositories import UnknownRepository
    from warmer.ledger.transitions import TransitionRefused
    from warmer.settings import SettingsError
    from warmer.triggers.connect import ConnectError

    return (
        SettingsError,
        GitError,
        ConnectError,
        UnknownRepository,
        UnknownArtifactType,
        TransitionRefused,
        SchemaOutOfDate,
        InvalidLookup,
        JunitError,
    )


def fail(message: str, code: int = 2) -> None:
    click.echo(f"warmer: error: {message}", err=True)
    sys.exit(code)


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected failures into one clear message on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Exception as exc:
            from sqlalchemy.exc import OperationalError

            if isinstance(exc, user_error_types()):
                fail(str(exc))
            if isinstance(exc, OperationalError):
                fail(f"cannot reach the ledger database: {str(exc.orig).strip().splitlines()[0]}")
            raise

    return wrapper


class LazyGroup(click.Group):
    """A group whose commands are imported when they are run, not when the group is listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(COMMANDS[cmd_name][0])  # its decorators register it on `cli`
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self._short_help(name)) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def _short_help(self, name: str) -> str:
        if name in COMMANDS:
            return COMMANDS[name][1]
        return self.commands[name].get_short_help_str(limit=200)


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import version

    click.echo(f"warmer {version('warmer')} (python {sys.version.split()[0]})")
    ctx.exit()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_version,
    help="Print the version and exit.",
)
def cli() -> None:
    """warmer: pre-computes engineering-cache artifacts for AI coding agents."""


def main() -> None:
    cli(prog_name="warmer")

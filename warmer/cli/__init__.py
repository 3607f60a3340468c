"""The `warmer` command. Errors a user can fix print one line and exit 2; nothing else changes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy.exc import OperationalError

from warmer.artifacts.base import UnknownArtifactType
from warmer.artifacts.failures.junit import JunitError
from warmer.cache.lookup import InvalidLookup
from warmer.git.mirror import GitError
from warmer.ledger.migrate import SchemaOutOfDate
from warmer.ledger.repositories import UnknownRepository
from warmer.ledger.transitions import TransitionRefused
from warmer.settings import SettingsError
from warmer.triggers.connect import ConnectError

USER_ERRORS = (
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
    """Turn expected failures into one clear line on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as exc:
            fail(str(exc))
        except OperationalError as exc:
            fail(f"cannot reach the ledger database: {str(exc.orig).strip().splitlines()[0]}")

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """warmer: pre-computes engineering-cache artifacts for AI coding agents."""


def main() -> None:
    from warmer.cli import commits, console, db, failures, jobs, repos, serve, symbols, warm, webhooks  # noqa: F401 - registers commands

    cli(prog_name="warmer")

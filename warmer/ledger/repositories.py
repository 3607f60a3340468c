"""Connected repositories in the ledger."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from warmer.ledger.models import Repository


class UnknownRepository(LookupError):
    pass


def find(session: Session, name_or_id: str | int) -> Repository:
    """A repository by name (or numeric id). UnknownRepository names only what was asked: the
    message reaches HTTP and MCP clients, who must not learn what else is connected."""
    repo = None
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        repo = session.get(Repository, int(name_or_id))
    if repo is None:
        repo = session.execute(
            select(Repository).where(Repository.name == str(name_or_id))
        ).scalar_one_or_none()
    if repo is None:
        raise UnknownRepository(
            f"unknown repository {str(name_or_id)[:200]!r}"
            " (the console's Repositories page lists the connected ones)"
        )
    return repo

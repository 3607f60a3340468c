"""Connected repositories in the ledger."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from warmer.ledger.models import Repository


class UnknownRepository(LookupError):
    pass


def find(session: Session, name_or_id: str | int) -> Repository:
    """A repository by name (or numeric id); UnknownRepository lists the known names."""
    repo = None
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        repo = session.get(Repository, int(name_or_id))
    if repo is None:
        repo = session.execute(
            select(Repository).where(Repository.name == str(name_or_id))
        ).scalar_one_or_none()
    if repo is None:
        names = session.execute(select(Repository.name).order_by(Repository.name).limit(20)).scalars().all()
        known = f" (connected: {', '.join(names)})" if names else " (no repositories are connected)"
        raise UnknownRepository(f"unknown repository {name_or_id!r}{known}")
    return repo

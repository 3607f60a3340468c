"""The job list: filters, search and sort over the ledger, one keyset page at a time.

A page costs what it shows: every filter has an index whose leading column it is (status, repo,
trigger: `ix_jobs_*_id`), the position is a keyset (`id < last id`, or `(finished_at, id) <`
the last row's), never an OFFSET that reads every row before it, and `limit + 1` rows tell
whether another page follows. No total is counted: a count of a filter reads all it matches.

Search (`q`) looks where the text can be: a number is a job id or the start of a commit; a hex
string the start of a commit (or error text); anything else a repository's name or the error
text of the job (a trigram index on Postgres).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, and_, false, or_, select, tuple_
from sqlalchemy.orm import Session

from warmer.console.params import BadParameter, JobFilters, cursor_text
from warmer.ledger.models import Job, Repository
from warmer.ledger.queries import job_json
from warmer.ledger.repositories import UnknownRepository, find

_HEX = re.compile(r"^[0-9a-fA-F]{4,64}$")


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search(session: Session, q: str) -> Any:
    contains = f"%{_like(q)}%"
    error = Job.error.is_not(None) & Job.error.ilike(contains, escape="\\")
    if q.isdigit() and len(q) <= 18:
        return or_(Job.id == int(q), Job.commit.like(f"{_like(q.lower())}%", escape="\\"))
    if _HEX.match(q):
        return or_(Job.commit.like(f"{_like(q.lower())}%", escape="\\"), error)
    repos = list(session.execute(select(Repository.id).where(Repository.name.ilike(contains, escape="\\")))
                 .scalars())  # fmt: skip
    return or_(Job.repo_id.in_(repos), error) if repos else error


def conditions(session: Session, filters: JobFilters, now: Any) -> list[Any]:
    """The WHERE clauses of `filters` (raises BadParameter for an unknown repository)."""
    where: list[Any] = []
    if filters.statuses:
        where.append(Job.status.in_(filters.statuses))
    if filters.repo is not None:
        try:
            where.append(Job.repo_id == find(session, filters.repo).id)
        except UnknownRepository as exc:
            raise BadParameter(f"invalid repo: {exc}") from None
    if filters.artifact_type is not None:
        where.append(Job.artifact_type == filters.artifact_type)
    if filters.trigger is not None:
        where.append(Job.trigger == filters.trigger)
    if filters.finished_within_hours:
        where.append(Job.finished_at.is_not(None))
        where.append(Job.finished_at >= now - timedelta(hours=filters.finished_within_hours))
    if filters.q:
        where.append(_search(session, filters.q))
    if filters.sort == "finished":
        where.append(Job.finished_at.is_not(None))
    return where or [~false()]


def _ordered(query: Select[Any], sort: str, reverse: bool) -> Select[Any]:
    descending = (sort != "oldest") != reverse
    keys = [Job.finished_at, Job.id] if sort == "finished" else [Job.id]
    return query.order_by(*[key.desc() if descending else key.asc() for key in keys])


def _past(filters: JobFilters, position: tuple[Any, int], forward: bool) -> Any:
    """Rows beyond `position` in the list's order (forward) or before it (backward)."""
    at, job_id = position
    descending = filters.sort != "oldest"
    older = descending == forward
    if filters.sort == "finished":
        key, value = tuple_(Job.finished_at, Job.id), tuple_(at, job_id)
        return key < value if older else key > value
    return Job.id < job_id if older else Job.id > job_id


def page(session: Session, filters: JobFilters, now: Any) -> dict[str, Any]:
    """One page of jobs in list order, with the cursors of the pages after and before it."""
    where = conditions(session, filters, now)
    backward = filters.before is not None
    if filters.after is not None:
        where.append(_past(filters, filters.after, forward=True))
    if filters.before is not None:
        where.append(_past(filters, filters.before, forward=False))
    query = select(Job, Repository.name).join(Repository, Repository.id == Job.repo_id).where(and_(*where))
    rows = session.execute(_ordered(query, filters.sort, backward).limit(filters.limit + 1)).all()
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    if backward:
        rows.reverse()
    jobs = [job_json(job, name) for job, name in rows]
    cursors = [cursor_text(filters.sort, job.finished_at, job.id) for job, _ in rows]
    has_next = more if not backward else True
    has_prev = (filters.after is not None) if not backward else more
    return {
        "jobs": jobs,
        "count": len(jobs),
        "next": cursors[-1] if jobs and has_next else None,
        "prev": cursors[0] if jobs and has_prev else None,
    }


def matching_ids(session: Session, filters: JobFilters, now: Any, after_id: int, batch: int) -> list[int]:
    """Ids of jobs matching `filters` above `after_id`, oldest first: a bulk action's next batch."""
    where = [*conditions(session, filters, now), Job.id > after_id]
    return list(session.execute(select(Job.id).where(and_(*where)).order_by(Job.id).limit(batch)).scalars())

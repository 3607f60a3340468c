"""Each page reads its figures in one snapshot (warmer/console/snapshot.py): a job that fails
between a page's count and its rows is in neither, so the tile and the table under it agree."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import InternalError

from tests.console.support import fail_job
from tests.support.factories import add_job, add_repo
from warmer.console.snapshot import snapshot
from warmer.ledger import queries
from warmer.ledger.db import Database
from warmer.ledger.models import Job, JobStatus

pytestmark = pytest.mark.integration


def test_counts_and_rows_read_in_one_snapshot_agree_while_jobs_move(pg_url: str) -> None:
    db = Database(pg_url)
    repo = add_repo(db, name="alpha")
    first, second = add_job(db, repo, artifact_type="a"), add_job(db, repo, artifact_type="b")
    fail_job(db, first, "boom")
    try:
        with snapshot(db) as (session, now):
            counted = queries.overview(session, now, 20)["failed_24h"]
            fail_job(db, second, "boom too")  # another connection commits between the two reads
            listed = list(session.execute(select(Job.id).where(Job.status == JobStatus.FAILED)).scalars())
            queued = queries.overview(session, now, 20)["total_queued"]
        assert counted == 1 and listed == [first] and queued == 1  # as of the first read, throughout
        with snapshot(db) as (session, now):  # the next page load sees the new state
            assert queries.overview(session, now, 20)["failed_24h"] == 2
        with pytest.raises(InternalError, match="read-only transaction"), snapshot(db) as (session, _now):
            session.execute(update(Job).where(Job.id == first).values(status=JobStatus.QUEUED))
    finally:
        db.dispose()

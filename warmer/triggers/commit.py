"""The commit trigger: a push to a tracked branch refreshes what its changes affect.

`record` notes a push: it opens (or extends) the branch's debounce window in
the ledger, so several trigger processes (CLI, webhooks, hooks) agree on one
window, and pushes inside the window collapse to the latest commit. `plan_due`
runs when windows close (the worker leader's poll, or at once when there is
no debounce): it diffs the latest commit's tree against the tree the branch was
last planned from, chooses artifacts per the product page's table, enqueues
commit-priority jobs scoped to the changed paths, and moves the branch on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from dulwich.objects import Commit
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from warmer.cache import freshness
from warmer.git import mirror
from warmer.git.diff import tree_diff
from warmer.git.mirror import GitError
from warmer.ledger import transitions
from warmer.ledger.db import Database, utcnow
from warmer.ledger.models import BranchState, CommitTrigger, CommitTriggerStatus, Repository, Trigger
from warmer.ledger.repositories import find
from warmer.settings import Settings
from warmer.triggers.commit_plan import plan_commit

log = logging.getLogger("warmer.triggers")


@dataclass(frozen=True)
class Recorded:
    trigger_id: int
    status: CommitTriggerStatus
    commit: str | None
    commits_seen: int
    detail: str


@dataclass(frozen=True)
class PlannedCommit:
    trigger_id: int
    repo: str
    branch: str
    commit: str
    jobs: list[transitions.Enqueued]
    reasons: dict[str, str]


def record(
    db: Database, settings: Settings, repo_name: str, *, sha: str | None, branch: str | None, source: str
) -> Recorded:
    """Note a push; ignored (and kept, with the reason) unless the trigger is on and the branch tracked."""
    with db.session() as session:
        repo = find(session, repo_name)
        session.expunge(repo)
    branch = mirror.validate_branch(branch) if branch else repo.branch
    on_commit = settings.warmers.on_commit
    tracked = on_commit.branches or [repo.branch]
    reason = None
    if not on_commit.enabled:
        reason = "the commit trigger is disabled (on_commit.enabled: false)"
    elif not repo.connected:
        reason = f"repository {repo.name!r} is disconnected"
    elif branch not in tracked:
        reason = f"branch {branch!r} is not tracked (tracked: {', '.join(tracked)})"
    if reason is not None:
        log.info("commit trigger ignored for %s: %s", repo.name, reason)
        return _ignored(db, repo, branch, sha or "", source, reason)

    path = mirror.mirror_path(settings.data_dir, repo.name, repo.source)
    mirror.ensure_mirror(repo.source, path)
    if sha is None:
        mirror.fetch(path)
        commit = mirror.resolve_branch(path, branch)
    else:
        commit = mirror.resolve_commit(path, sha)  # fetches once if the push is new to the mirror

    # A named commit older than the head is a late webhook delivery unless the branch was
    # force-pushed back to it: fetch once (rare) and let the branch tip decide.
    forced = False
    if sha is not None:
        with db.session() as session:
            behind = freshness.behind_head(session, path, repo.id, branch, commit)
        if behind:
            mirror.fetch(path)
            forced = mirror.resolve_branch(path, branch) == commit
    window = timedelta(seconds=on_commit.debounce_seconds)
    builder = postgresql.insert if db.is_postgres else sqlite.insert
    table = CommitTrigger.__table__
    statement = builder(table).values(
        repo_id=repo.id,
        branch=branch,
        commit=commit,
        commits_seen=1,
        source=source,
        status=CommitTriggerStatus.PENDING,
        due_at=db.now() + window,
    )
    # A window is open: the newest commit replaces the one it holds; its close stays put, so a
    # stream of pushes cannot postpone warming forever.
    statement = statement.on_conflict_do_update(
        index_elements=["repo_id", "branch"],
        index_where=table.c.status == CommitTriggerStatus.PENDING,
        set_={"commit": commit, "commits_seen": table.c.commits_seen + 1, "source": source},
    ).returning(table.c.id, table.c.commits_seen, table.c.due_at)
    with db.session() as session:
        if not forced and freshness.behind_head(session, path, repo.id, branch, commit, lock=True):
            late = f"{commit[:12]} is older than the branch head (a late delivery): nothing to refresh"
            log.info("commit trigger ignored for %s: %s", repo.name, late)
            ignored = CommitTrigger(repo_id=repo.id, branch=branch, commit=commit, source=source,
                                    status=CommitTriggerStatus.IGNORED, detail=late)  # fmt: skip
            session.add(ignored)
            session.flush()
            return Recorded(ignored.id, CommitTriggerStatus.IGNORED, commit, 0, late)
        row = session.execute(statement).one()
        # The head moves now, not when the window closes: hits on what the push changed say stale,
        # and everything it did not touch follows the head at once.
        freshness.move_head(session, mirror.open_repository(path), repo.id, branch, commit)
    detail = f"window closes at {row.due_at.isoformat()}"
    return Recorded(row.id, CommitTriggerStatus.PENDING, commit, row.commits_seen, detail)


def close_window(db: Database, trigger_id: int) -> None:
    """Make a pending trigger due now (`warmer commit --now`)."""
    with db.session() as session:
        session.execute(
            update(CommitTrigger)
            .where(CommitTrigger.id == trigger_id, CommitTrigger.status == CommitTriggerStatus.PENDING)
            .values(due_at=utcnow())
        )


def _ignored(db: Database, repo: Repository, branch: str, commit: str, source: str, reason: str) -> Recorded:
    with db.session() as session:
        trigger = CommitTrigger(
            repo_id=repo.id, branch=branch, commit=commit, source=source,
            status=CommitTriggerStatus.IGNORED, detail=reason,
        )  # fmt: skip
        session.add(trigger)
        session.flush()
        trigger_id = trigger.id
    return Recorded(trigger_id, CommitTriggerStatus.IGNORED, commit or None, 0, reason)


def set_baseline(db: Database, repo_id: int, branch: str, commit: str, tree: str) -> None:
    """The branch's cache is being built at `commit` (connect, full warming): it is the head, and
    later commits are diffed against its tree."""
    with db.session() as session:
        _move_baseline(session, repo_id, branch, commit, tree)
        freshness.set_head(session, repo_id, branch, commit, tree)


def _move_baseline(session: Session, repo_id: int, branch: str, commit: str, tree: str) -> None:
    builder = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = builder(BranchState.__table__).values(
        repo_id=repo_id, branch=branch, commit=commit, tree=tree
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["repo_id", "branch"],
            set_={"commit": commit, "tree": tree, "planned_at": utcnow()},
        )
    )


def plan_due(db: Database, settings: Settings, *, actor: str, limit: int = 50) -> list[PlannedCommit]:
    """Plan every commit trigger whose window has closed. Safe to run in several processes:
    each row is taken with FOR UPDATE SKIP LOCKED and planned once."""
    planned = []
    _fetch_due_commits(db, settings)
    for _ in range(limit):
        with db.session() as session:
            query = (
                select(CommitTrigger)
                .where(CommitTrigger.status == CommitTriggerStatus.PENDING, CommitTrigger.due_at <= utcnow())
                .order_by(CommitTrigger.due_at)
                .limit(1)
            )
            trigger = session.execute(query.with_for_update(skip_locked=True)).scalar_one_or_none()
            if trigger is None:
                break
            try:
                planned.append(_plan_one(session, settings, trigger, actor))
            except GitError as exc:  # e.g. the commit vanished from the source: say so, plan the rest
                trigger.status, trigger.detail = CommitTriggerStatus.IGNORED, f"cannot plan: {exc}"
                log.warning("commit trigger %s for %s ignored: %s", trigger.id, trigger.commit[:12], exc)
    return planned


def _fetch_due_commits(db: Database, settings: Settings) -> None:
    """Bring this host's mirrors up to the due commits before any row is locked: a fetch can take
    minutes, and no transaction may sit idle that long (see IDLE_IN_TRANSACTION_MS)."""
    with db.session() as session:
        due = session.execute(
            select(Repository.name, Repository.source, CommitTrigger.commit)
            .join(Repository, Repository.id == CommitTrigger.repo_id)
            .where(CommitTrigger.status == CommitTriggerStatus.PENDING, CommitTrigger.due_at <= utcnow())
        ).all()
    for name, source, sha in due:
        path = mirror.mirror_path(settings.data_dir, name, source)
        try:
            mirror.ensure_mirror(source, path)
            mirror.resolve_commit(path, sha)
        except GitError as exc:  # planning reports it for that trigger; the others go on
            log.warning("cannot fetch %s for %s: %s", sha[:12], name, exc)


def _plan_one(session: Session, settings: Settings, trigger: CommitTrigger, actor: str) -> PlannedCommit:
    repo = session.get(Repository, trigger.repo_id)
    assert repo is not None
    path = mirror.mirror_path(settings.data_dir, repo.name, repo.source)
    mirror.ensure_mirror(repo.source, path)
    mirror.resolve_commit(path, trigger.commit)
    git_repo = mirror.open_repository(path)
    commit_obj = git_repo[trigger.commit.encode()]
    assert isinstance(commit_obj, Commit)
    new_tree = commit_obj.tree.decode()
    base = session.get(BranchState, (trigger.repo_id, trigger.branch))
    changes = tree_diff(git_repo, base.tree if base else None, new_tree)
    plan = plan_commit(
        changes,
        settings.refreshed_on_commit,
        lambda blob: git_repo.object_store[blob.encode()].as_raw_string(),
    )
    params = {"base_commit": base.commit} if base else {}
    jobs = [
        transitions.enqueue(
            session,
            transitions.JobSpec(
                repo_id=repo.id, branch=trigger.branch, commit=trigger.commit, artifact_type=artifact,
                trigger=Trigger.COMMIT, scope=scope, params=params,
            ),
            actor,
        )
        for artifact, scope in plan.scopes.items()
    ]  # fmt: skip
    session.execute(
        update(CommitTrigger)
        .where(CommitTrigger.id == trigger.id)
        .values(
            status=CommitTriggerStatus.PLANNED,
            planned_at=utcnow(),
            detail=f"{len(changes)} changed paths; "
            + "; ".join(f"{k}: {v}" for k, v in plan.reasons.items()),
        )
    )
    _move_baseline(session, repo.id, trigger.branch, trigger.commit, new_tree)
    log.info(
        "planned commit %s of %s/%s: %d jobs (%d pushes collapsed)",
        trigger.commit[:12], repo.name, trigger.branch, len(jobs), trigger.commits_seen,
    )  # fmt: skip
    return PlannedCommit(trigger.id, repo.name, trigger.branch, trigger.commit, jobs, plan.reasons)

"""Query parameters the pages and the API accept, validated once with one clear message each."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from warmer.console.analytics_queries import MAX_WINDOW_HOURS
from warmer.ledger.models import JobStatus, Trigger

MAX_LIMIT = 1000
_ARTIFACT = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class BadParameter(ValueError):
    """A request parameter is malformed: the API answers 400 with this message."""


def reject_unknown(args: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(args) - set(allowed) - {"_xsrf"})
    if unknown:
        raise BadParameter(f"unknown parameter(s) {', '.join(unknown)} (accepted: {', '.join(allowed)})")


def _choice(name: str, value: str, choices: list[str]) -> str:
    if value not in choices:
        raise BadParameter(f"invalid {name} {value!r}: expected one of {', '.join(choices)}")
    return value


def int_param(name: str, value: str | None, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadParameter(f"invalid {name} {value!r}: expected an integer from {low} to {high}") from None
    if not low <= number <= high:
        raise BadParameter(f"invalid {name} {number}: expected an integer from {low} to {high}")
    return number


def float_param(name: str, value: str | None, default: float, low: float, high: float) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise BadParameter(f"invalid {name} {value!r}: expected a number from {low:g} to {high:g}") from None
    if not (low < number <= high):  # also refuses NaN
        raise BadParameter(f"invalid {name} {value!r}: expected a number above {low:g}, at most {high:g}")
    return number


def job_id_param(value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise BadParameter(f"invalid job id {value!r}: expected a positive integer")
    return int(value)


SORTS = ("newest", "oldest", "finished")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PAGE_SIZES = (25, 50, 100, 250)
# The last row's id, after its finish time in microseconds since the epoch for the finished sort:
# digits only, so a cursor needs no escaping in a URL.
_CURSOR = re.compile(r"^(?:(\d{1,19})~)?(\d{1,18})$")


def cursor_param(name: str, value: str | None, sort: str) -> tuple[datetime | None, int] | None:
    """A keyset position: the last row's id (by id), or its finish time and id (by finish time)."""
    if not value:
        return None
    match = _CURSOR.match(value)
    if match is None or (sort == "finished") != (match.group(1) is not None):
        raise BadParameter(f"invalid {name} {value[:60]!r}: use the link the previous page gave")
    try:
        at = _EPOCH + timedelta(microseconds=int(match.group(1))) if match.group(1) else None
    except OverflowError:
        raise BadParameter(f"invalid {name} {value[:60]!r}: use the link the previous page gave") from None
    return at, int(match.group(2))


@dataclass(frozen=True)
class JobFilters:
    """What a job list shows: filters (each an index the query can use), a search, a sort, and a
    keyset position: `after` (the next, older page) or `before` (the previous, newer one)."""

    statuses: tuple[JobStatus, ...] = ()
    repo: str | None = None
    artifact_type: str | None = None
    trigger: Trigger | None = None
    q: str | None = None
    finished_within_hours: float | None = None
    sort: str = "newest"
    after: tuple[datetime | None, int] | None = None
    before: tuple[datetime | None, int] | None = None
    limit: int = 50

    FIELDS = ("status", "repo", "artifact_type", "trigger", "q", "finished_within_hours", "sort", "after",
              "before", "limit")  # fmt: skip
    FILTER_FIELDS = ("status", "repo", "artifact_type", "trigger", "q", "finished_within_hours")

    @property
    def status(self) -> JobStatus | None:
        return self.statuses[0] if len(self.statuses) == 1 else None

    @classmethod
    def parse(cls, args: Mapping[str, str], allowed: tuple[str, ...] | None = None) -> JobFilters:
        reject_unknown(args, allowed or cls.FIELDS)
        statuses = tuple(
            JobStatus(_choice("status", value.strip(), [s.value for s in JobStatus]))
            for value in (args.get("status") or "").split(",")
            if value.strip()
        )
        trigger = args.get("trigger") or None
        artifact = args.get("artifact_type") or None
        repo = args.get("repo") or None
        q = (args.get("q") or "").strip() or None
        if artifact is not None and not _ARTIFACT.match(artifact):
            raise BadParameter(f"invalid artifact_type {artifact[:100]!r}: letters, digits, '_', '.', '-'")
        if repo is not None and len(repo) > 200:
            raise BadParameter("invalid repo: at most 200 characters")
        if q is not None and (len(q) > 200 or not q.isprintable()):
            raise BadParameter("invalid q: at most 200 printable characters")
        sort = _choice("sort", args.get("sort") or "newest", list(SORTS))
        after = cursor_param("after", args.get("after"), sort)
        before = cursor_param("before", args.get("before"), sort)
        if after and before:
            raise BadParameter("give after or before, not both")
        within = args.get("finished_within_hours")
        return cls(
            statuses=tuple(dict.fromkeys(statuses)),
            repo=repo,
            artifact_type=artifact,
            trigger=Trigger(_choice("trigger", trigger, [t.value for t in Trigger])) if trigger else None,
            q=q,
            finished_within_hours=float_param("finished_within_hours", within, 0, 0, 24 * 90)
            if within
            else None,
            sort=sort,
            after=after,
            before=before,
            limit=int_param("limit", args.get("limit"), 50, 1, MAX_LIMIT),
        )

    def filter_query(self) -> dict[str, str]:
        """The filters and search alone, as query arguments (what a bulk action acts on)."""
        values = {
            "status": ",".join(s.value for s in self.statuses),
            "repo": self.repo or "",
            "artifact_type": self.artifact_type or "",
            "trigger": self.trigger.value if self.trigger else "",
            "q": self.q or "",
            "finished_within_hours": f"{self.finished_within_hours:g}" if self.finished_within_hours else "",
        }
        return {k: v for k, v in values.items() if v}

    def as_query(self) -> dict[str, str]:
        values = {**self.filter_query(), "sort": self.sort if self.sort != "newest" else ""}
        if self.limit != 50:
            values["limit"] = str(self.limit)
        return {k: v for k, v in values.items() if v}


def cursor_text(sort: str, finished_at: datetime | None, job_id: int) -> str:
    if sort == "finished":
        assert finished_at is not None
        delta = finished_at.astimezone(UTC) - _EPOCH
        return f"{(delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds}~{job_id}"
    return str(job_id)


@dataclass(frozen=True)
class AnalyticsParams:
    window_hours: float = 24.0
    top: int = 10

    FIELDS = ("window_hours", "top")

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> AnalyticsParams:
        reject_unknown(args, cls.FIELDS)
        return cls(
            window_hours=float_param("window_hours", args.get("window_hours"), 24.0, 0, MAX_WINDOW_HOURS),
            top=int_param("top", args.get("top"), 10, 1, 50),
        )

"""Query parameters the pages and the API accept, validated once with one clear message each."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

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


@dataclass(frozen=True)
class JobFilters:
    status: JobStatus | None = None
    repo: str | None = None
    artifact_type: str | None = None
    trigger: Trigger | None = None
    limit: int = 50

    FIELDS = ("status", "repo", "artifact_type", "trigger", "limit")

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> JobFilters:
        reject_unknown(args, cls.FIELDS)
        status = args.get("status") or None
        trigger = args.get("trigger") or None
        artifact = args.get("artifact_type") or None
        repo = args.get("repo") or None
        if artifact is not None and not _ARTIFACT.match(artifact):
            raise BadParameter(f"invalid artifact_type {artifact[:100]!r}: letters, digits, '_', '.', '-'")
        if repo is not None and len(repo) > 200:
            raise BadParameter("invalid repo: at most 200 characters")
        return cls(
            status=JobStatus(_choice("status", status, [s.value for s in JobStatus])) if status else None,
            repo=repo,
            artifact_type=artifact,
            trigger=Trigger(_choice("trigger", trigger, [t.value for t in Trigger])) if trigger else None,
            limit=int_param("limit", args.get("limit"), 50, 1, MAX_LIMIT),
        )

    def as_query(self) -> dict[str, str]:
        values = {
            "status": self.status.value if self.status else "",
            "repo": self.repo or "",
            "artifact_type": self.artifact_type or "",
            "trigger": self.trigger.value if self.trigger else "",
            "limit": str(self.limit),
        }
        return {k: v for k, v in values.items() if v}


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

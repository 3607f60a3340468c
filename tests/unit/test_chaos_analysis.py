"""The chaos test's judge (tests/support/chaos.py) can fail: overlapping runs of one job are found
from the generator's log, a run a kill cut short ends when its process was last seen alive, and
a kill counts as recovered only when every run it cut short started (or ended) again."""

from __future__ import annotations

from pathlib import Path

from tests.support.chaos import Fault, _in_flight, _overlaps, _recovery, _runs


def _log(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "runs.log"
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def test_overlapping_runs_of_one_job_are_found(tmp_path: Path) -> None:
    runs = _log(tmp_path, ["start 7 100 10.0", "start 7 200 10.5", "end 7 100 11.0", "end 7 200 11.5",
                           "start 8 100 12.0", "end 8 100 12.5", "start 8 200 12.6", "end 8 200 13.0"])  # fmt: skip
    assert [found.split(":")[0] for found in _overlaps(runs, {})] == ["7"]


def test_a_cut_short_run_lasts_until_its_process_was_last_seen(tmp_path: Path) -> None:
    runs = _log(tmp_path, ["start 3 100 10.0", "start 3 200 14.0", "end 3 200 15.0"])
    assert _overlaps(runs, {100: 13.0}) == []  # pid 100 died at 13 s: the retry at 14 s is alone
    assert len(_overlaps(runs, {100: 14.5})) == 1  # an orphan still alive at 14.5 s ran beside it
    assert _in_flight(runs, {100}) == ["3"] and _in_flight(runs, {200}) == []


def test_a_kill_recovers_when_every_run_it_cut_short_runs_again(tmp_path: Path) -> None:
    runs = _runs(_log(tmp_path, ["start 1 100 100.0", "start 2 100 100.0", "start 1 200 108.0"]))
    assert _recovery(Fault("kill main", 5.0, ["1"]), runs, 100.0) == 3.0
    assert _recovery(Fault("kill main", 5.0, ["1", "2"]), runs, 100.0) is None  # job 2 never ran again

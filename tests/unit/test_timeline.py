"""The timeline: per-interval figures from cumulative statistics snapshots."""

from __future__ import annotations

import pytest

from harness.errors import ErrorClass, Mode, Outcome
from harness.record import RequestRecord
from harness.report.timeline import Timeline, interval_for, interval_histogram
from harness.stats import LatencyHistogram, RunStats


def record(mode: Mode, e2e_s: float, *, failed: bool = False) -> RequestRecord:
    r = RequestRecord(mode=mode, model="m", endpoint="/v1/chat/completions", t0=0.0)
    if failed:
        r.fail(ErrorClass.HTTP_5XX, 0.1)
    else:
        r.t_end = e2e_s
        r.outcome = Outcome.OK
    return r


def test_interval_histogram_is_the_difference_of_two_snapshots() -> None:
    h = LatencyHistogram()
    for v in (0.1, 0.2, 0.3):
        h.record(v)
    before = h.to_wire()
    for v in (1.0, 2.0):
        h.record(v)
    interval = interval_histogram(before, h.to_wire())
    assert interval is not None
    assert interval.count == 2
    assert interval.percentile(50) == pytest.approx(1.0, rel=0.002)
    assert interval.percentile(100) == pytest.approx(2.0, rel=0.002)
    assert interval_histogram(h.to_wire(), h.to_wire()) is None
    first = interval_histogram(None, before)
    assert first is not None
    assert first.count == 3


def test_a_timeline_point_holds_what_finished_in_its_interval() -> None:
    stats = RunStats()
    timeline = Timeline(2.0)
    for _ in range(3):
        stats.observe(record(Mode.BATCH, 0.5))
    timeline.sample(2.0, 4, stats.to_wire())
    stats.observe(record(Mode.BATCH, 1.5))
    stats.observe(record(Mode.BATCH, 0.0, failed=True))
    timeline.sample(4.0, 4, stats.to_wire())
    timeline.sample(6.0, 4, stats.to_wire())
    points = timeline.to_dict()["points"]
    assert [(p["t_s"], p["dt_s"], p["users"]) for p in points] == [
        (2.0, 2.0, 4),
        (4.0, 2.0, 4),
        (6.0, 2.0, 4),
    ]
    first, second, third = (p["modes"] for p in points)
    assert first["batch"]["requests"] == 3
    assert first["batch"]["e2e_s"]["p50"] == pytest.approx(0.5, rel=0.002)
    assert second["batch"]["requests"] == 2
    assert second["batch"]["failures"] == 1
    assert second["batch"]["e2e_s"]["count"] == 1
    assert second["batch"]["e2e_s"]["p50"] == pytest.approx(1.5, rel=0.002)
    assert third == {}  # nothing finished


def test_long_runs_sample_less_often() -> None:
    assert interval_for(60, master=False) == 2.0
    assert interval_for(60, master=True) == 6.0
    assert interval_for(3600, master=False) == 12.0  # at most 300 points
    assert interval_for(None, master=False) == 2.0

"""The timeline: per-interval figures from cumulative statistics snapshots."""

from __future__ import annotations

from typing import Any

import pytest

from harness.errors import ErrorClass, Mode, Outcome
from harness.record import RequestRecord
from harness.report.timeline import Timeline, interval_for, interval_histogram, rate_points
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


def _point(t_s: float, dt_s: float, stream: int, batch: int) -> dict[str, Any]:
    return {
        "t_s": t_s,
        "dt_s": dt_s,
        "users": 32,
        "modes": {
            "stream": {"requests": stream, "failures": 1, "output_tokens": 64 * stream},
            "batch": {"requests": batch, "failures": 0, "output_tokens": 64 * batch},
        },
    }


def test_a_short_last_interval_is_folded_into_the_one_before_for_rates() -> None:
    """The stop cuts the last interval short: 16 requests in 0.46 s would read as 35/s in a
    run doing 8 to 16 a second; folded in, they count over the 2.46 s they took."""
    points = [_point(18.0, 2.0, 32, 30), _point(20.0, 2.0, 16, 14), _point(20.46, 0.46, 16, 2)]
    folded = rate_points(points, 2.0)
    assert folded[0] == points[0]
    assert len(folded) == 2
    last = folded[-1]
    assert last["t_s"] == 20.46
    assert last["dt_s"] == 2.46
    assert last["modes"]["stream"] == {"requests": 32, "failures": 2, "output_tokens": 2048}
    assert last["modes"]["batch"] == {"requests": 16, "failures": 0, "output_tokens": 1024}
    # what the charts count is unchanged: the same requests, the same total time
    for key in ("requests", "output_tokens"):
        for mode in ("stream", "batch"):
            assert sum(p["modes"][mode][key] for p in folded) == sum(
                p["modes"][mode][key] for p in points
            )
    assert sum(p["dt_s"] for p in folded) == pytest.approx(sum(p["dt_s"] for p in points))


def test_a_last_interval_of_half_the_sampling_interval_or_more_stands() -> None:
    points = [_point(18.0, 2.0, 32, 30), _point(19.0, 1.0, 16, 14)]
    assert rate_points(points, 2.0) == points


def test_a_mode_only_in_the_last_interval_is_kept() -> None:
    first = {"t_s": 2.0, "dt_s": 2.0, "users": 1, "modes": {"stream": {"requests": 3}}}
    last = {"t_s": 2.2, "dt_s": 0.2, "users": 0, "modes": {"batch": {"requests": 1}}}
    folded = rate_points([first, last], 2.0)
    assert folded[-1]["modes"]["stream"]["requests"] == 3
    assert folded[-1]["modes"]["batch"]["requests"] == 1


def test_rates_without_a_known_interval_or_with_one_point_are_unchanged() -> None:
    points = [_point(20.0, 0.3, 16, 14)]
    assert rate_points(points, 2.0) == points
    two = [_point(18.0, 2.0, 32, 30), _point(18.3, 0.3, 16, 14)]
    assert rate_points(two, None) == two

"""Sweeps (harness.load.sweep): the points, the knee, the bisection, sweep.json."""

from __future__ import annotations

from typing import Any

import pytest

from harness.errors import ConfigError
from harness.load.plan import Stage
from harness.load.sweep import (
    SweepSpec,
    auto_rates,
    initial_stages,
    knee,
    max_rate_within_slo,
    next_stages,
    parse_sweep,
    point_of,
    sweep_document,
)
from harness.report.sweep import render_sweep_markdown


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("auto", ("auto", ())),
        ("rates:1,2,4", ("rates", (1.0, 2.0, 4.0))),
        ("rates: 0.5/s, 60/m, 4", ("rates", (0.5, 1.0, 4.0))),
        ("concurrency:1,8,32", ("concurrency", (1.0, 8.0, 32.0))),
        ("", None),
    ],
)
def test_sweep_specs(text: str, parsed: object) -> None:
    assert parse_sweep(text, "--llm-sweep") == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "bisect",
            "--llm-sweep: expected auto, rates:R1,R2,… or concurrency:N1,N2,…, got 'bisect'",
        ),
        ("rates:", "--llm-sweep: rates needs at least one value, e.g. rates:1,2,4"),
        ("rates:4,2", "--llm-sweep: give the rates in increasing order, each once"),
        ("concurrency:1,2.5", "--llm-sweep: a concurrency is a whole number of users, got '2.5'"),
        ("rates:0,1", "--llm-sweep: a rate must be above 0, got '0'"),
        ("auto:3", "--llm-sweep: auto takes no values, got 'auto:3'"),
    ],
)
def test_a_bad_sweep_is_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_sweep(text, "--llm-sweep")
    assert str(caught.value) == message


def test_auto_starts_with_a_synchronous_and_a_saturating_point() -> None:
    spec = SweepSpec("auto", stage_time_s=30.0, warmup_s=5.0, max_in_flight=64, sync_users=2)
    assert initial_stages(spec) == (
        Stage(30.0, users=2, warmup_s=5.0),
        Stage(30.0, users=64, warmup_s=5.0),
    )
    rates = SweepSpec("rates", (1.0, 2.0), stage_time_s=10.0, warmup_s=2.0)
    assert [s.rate_per_s for s in initial_stages(rates)] == [1.0, 2.0]


def test_auto_rates_are_evenly_between_the_two_closed_points() -> None:
    assert auto_rates(2.0, 12.0, 4) == (4.0, 6.0, 8.0, 10.0)
    assert auto_rates(0.37, 1.0, 2) == (0.58, 0.79)  # three significant digits
    assert auto_rates(5.0, 5.0, 3) == (5.0,)
    assert auto_rates(0.0, 0.0, 3) == ()


def stage(index: int, rate: float | None, *, p50: float, sent: int, due: int, users: int = 0,
          met: int | None = None, requests: int = 100) -> dict[str, Any]:  # fmt: skip
    mode: dict[str, Any] = {
        "requests": requests,
        "outcomes": {"ok": requests},
        "first_visible_s": {"p50": p50 * 0.9, "p95": p50 * 2, "p99": p50 * 3},
        "from_schedule": {"first_visible_s": {"p50": p50, "p95": p50 * 2, "p99": p50 * 3}},
    }
    if met is not None:
        mode["goodput"] = {"met": met}
    block: dict[str, Any] = {
        "index": index, "label": f"{rate:g}/s" if rate else f"{users} users",
        "kind": "open" if rate else "closed", "start_s": 0.0, "measured_s": 10.0,
        "modes": {"stream": mode},
    }  # fmt: skip
    if rate:
        block.update(offered_rate_per_s=rate, scheduled=due, sent=sent)
    else:
        block["users"] = users
    return block


def test_the_knee_is_the_last_point_before_latency_or_sending_gives_way() -> None:
    points = [
        point_of(stage(1, 2.0, p50=0.2, sent=20, due=20)),
        point_of(stage(2, 4.0, p50=0.25, sent=40, due=40)),
        point_of(stage(3, 8.0, p50=0.9, sent=80, due=80)),  # 4.5× the lightest point
    ]
    found = knee(points)
    assert found is not None
    assert (found["index"], found["offered_rate_per_s"]) == (2, 4.0)
    assert found["reason"] == ("at 8/s first visible output p50 was 0.9s, over 3× the 0.2s at 2/s")
    short = [points[0], point_of(stage(2, 4.0, p50=0.2, sent=30, due=40))]
    assert knee(short) == {
        "index": 1,
        "offered_rate_per_s": 2.0,
        "reason": "at 4/s only 30 of the 40 requests due were sent",
    }


def test_no_point_past_saturation_puts_the_knee_at_or_above_the_highest() -> None:
    points = [point_of(stage(i, r, p50=0.2, sent=10, due=10)) for i, r in ((1, 1.0), (2, 2.0))]
    found = knee(points)
    assert found is not None
    assert found["open_above"] is True
    assert found["offered_rate_per_s"] == 2.0


def test_the_bisection_narrows_the_highest_rate_that_meets_the_goodput_limits() -> None:
    spec = SweepSpec("rates", (2.0, 4.0, 8.0), stage_time_s=10.0, warmup_s=2.0)
    stages = [
        stage(1, 2.0, p50=0.2, sent=20, due=20, met=100),
        stage(2, 4.0, p50=0.2, sent=40, due=40, met=97),  # 97 % met: within (95 %)
        stage(3, 8.0, p50=0.5, sent=80, due=80, met=60),
    ]
    added, done = next_stages(spec, stages, bisected=0)
    assert (added, done) == ((Stage(10.0, rate_per_s=6.0, warmup_s=2.0),), False)
    stages.append(stage(4, 6.0, p50=0.3, sent=60, due=60, met=90))  # 6/s misses
    added, done = next_stages(spec, stages, bisected=1)
    assert [s.rate_per_s for s in added] == [5.0]
    assert not done
    assert next_stages(spec, stages, bisected=3) == ((), True)  # the steps are spent
    best = max_rate_within_slo([point_of(s) for s in stages], 0.95)
    assert best == {
        "attainment": 0.95,
        "bracket_per_s": [4.0, 6.0],
        "rate_per_s": 4.0,
        "uncertainty_per_s": 1.0,
    }


def test_without_goodput_limits_nothing_is_bisected() -> None:
    spec = SweepSpec("rates", (2.0, 4.0), stage_time_s=10.0)
    stages = [stage(1, 2.0, p50=0.2, sent=20, due=20), stage(2, 4.0, p50=0.2, sent=40, due=40)]
    assert next_stages(spec, stages, bisected=0) == ((), True)


def test_auto_adds_its_rates_after_the_two_closed_points() -> None:
    spec = SweepSpec("auto", stage_time_s=10.0, warmup_s=2.0, auto_points=2)
    closed = [
        stage(1, None, p50=0.2, sent=0, due=0, users=1, requests=50),  # 5/s
        stage(2, None, p50=0.8, sent=0, due=0, users=64, requests=200),  # 20/s
    ]
    added, done = next_stages(spec, closed, bisected=0)
    assert [s.rate_per_s for s in added] == [10.0, 15.0]
    assert not done


def test_sweep_json_and_md() -> None:
    summary = {
        "run": {"host": "http://127.0.0.1:8000/v1"},
        "stages": [
            stage(1, 2.0, p50=0.2, sent=20, due=20),
            stage(2, 4.0, p50=0.21, sent=40, due=40),
            stage(3, 8.0, p50=1.0, sent=60, due=80),
        ],
    }
    doc = sweep_document(summary, SweepSpec("rates", (2.0, 4.0, 8.0), stage_time_s=10.0))
    assert doc["schema"] == "locust-llm/sweep/v1"
    assert [p["offered_rate_per_s"] for p in doc["points"]] == [2.0, 4.0, 8.0]
    assert doc["knee"]["offered_rate_per_s"] == 4.0
    assert "max_rate_within_slo" not in doc  # nothing judged it
    text = render_sweep_markdown(doc)
    assert "## locust-llm sweep: rates:2,4,8" in text
    assert "| 2 | 4/s (knee) |" in text
    assert "Knee: 4/s, the last point before saturation (at 8/s only 60 of the 80" in text

"""Edges of the load plan that the open-loop integration runs (tests/integration/
test_open_loop.py) brought up, pinned here on given numbers."""

from __future__ import annotations

from harness.load.plan import LoadPlan, Stage
from harness.load.schedule import arrival_times
from harness.load.summary import shortfall


def test_an_open_stage_then_a_users_stage_schedules_nothing_in_the_users_stage() -> None:
    plan = LoadPlan(stages=(Stage(4.0, rate_per_s=10.0), Stage(4.0, users=2)), arrival="constant")
    times = list(arrival_times(plan.rate_segments(), plan.arrival))
    assert [plan.stages[plan.stage_at(t)].label for t in times] == ["10/s"] * 40


def test_the_warm_up_is_the_warm_up_however_late_the_run_stopped() -> None:
    plan = LoadPlan(stages=(Stage(6.0, rate_per_s=20.0),), arrival="constant", warmup_s=2.0)
    assert plan.warmup_time_within(6.02) == 2.0


def test_a_schedule_that_drew_fewer_arrivals_is_not_blamed_on_waiting() -> None:
    block = {
        "offered_rate_per_s": 10.0,
        "achieved_rate_per_s": 8.0,
        "scheduled": 32,
        "sent": 32,
        "dropped": 0,
        "unsent_at_end": 0,
        "max_in_flight": 16,
        "schedule_lag_s": {"p99": 0.004},
    }
    line = shortfall(block, 0.2, client_saturated=False)
    assert "waited for a free user" not in line

"""Load plans (harness.load.plan), arrival accounting and the run.load block."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError, ErrorClass, Mode, Outcome
from harness.load.accounting import ArrivalTally
from harness.load.plan import LoadPlan, Stage, build_plan, parse_rate
from harness.load.schedule import RateSegment
from harness.load.summary import load_block, shortfall, stage_blocks
from harness.record import RequestRecord
from harness.stats import RunStats


def plan_of(*stages: Stage, **kw: object) -> LoadPlan:
    return LoadPlan(stages=stages, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "rate"),
    [("20", 20.0), ("20/s", 20.0), ("1200/m", 20.0), ("0.5/s", 0.5), ("36000/h", 10.0), (7, 7.0)],
)
def test_rates_are_read_per_second(text: object, rate: float) -> None:
    assert parse_rate(text, "--rate") == rate


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fast", "--rate: expected a rate such as 20 or 20/s (requests per second), got 'fast'"),
        ("-3", "--rate: expected a rate such as 20 or 20/s (requests per second), got '-3'"),
        ("5/d", "--rate: expected a rate such as 20 or 20/s (requests per second), got '5/d'"),
        ("2e7", "--rate: '2e7' is more than 1,000,000 requests per second"),
    ],
)
def test_a_bad_rate_is_one_line_naming_where_it_came_from(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rate(text, "--rate")
    assert str(caught.value) == message


def test_a_rate_alone_is_one_open_stage_of_the_run_time() -> None:
    plan = build_plan(
        rate_per_s=20.0, stages=(), run_time_s=60.0, users=64, arrival="poisson",
        burstiness=1.0, seed=0, max_in_flight=64, max_schedule_lag_s=0.0, warmup_s=0.0,
    )  # fmt: skip
    assert plan is not None
    assert plan.stages == (Stage(60.0, rate_per_s=20.0),)
    assert plan.is_open
    assert not plan.is_staged
    assert plan.max_schedule_lag_s is None  # 0: requests wait
    assert plan.describe() == "open loop: poisson arrivals, 20/s for 60s; at most 64 in flight"


def test_no_rate_no_stage_no_warmup_is_no_plan() -> None:
    plan = build_plan(
        rate_per_s=0.0, stages=(), run_time_s=60.0, users=8, arrival="poisson",
        burstiness=1.0, seed=0, max_in_flight=8, max_schedule_lag_s=0.0, warmup_s=0.0,
    )  # fmt: skip
    assert plan is None


def test_a_warmup_as_long_as_the_run_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        build_plan(
            rate_per_s=5.0, stages=(), run_time_s=10.0, users=8, arrival="poisson",
            burstiness=1.0, seed=0, max_in_flight=8, max_schedule_lag_s=0.0, warmup_s=10.0,
        )  # fmt: skip
    assert str(caught.value) == (
        "--llm-warmup: 10s is not shorter than the run (10s): nothing would be measured"
    )


def test_stages_follow_each_other_and_warmups_are_not_measured() -> None:
    plan = plan_of(
        Stage(10.0, rate_per_s=5.0, warmup_s=2.0),
        Stage(10.0, users=4),
        Stage(10.0, rate_per_s=10.0, ramp_s=4.0),
        warmup_s=1.0,
    )
    assert plan.is_staged
    assert plan.duration_s == 30.0
    assert [plan.stage_at(t) for t in (0.0, 9.99, 10.0, 25.0, 99.0)] == [0, 0, 1, 2, 2]
    assert [plan.in_warmup(t) for t in (0.5, 1.5, 2.5, 10.0)] == [True, True, False, False]
    assert plan.measured_intervals(30.0) == [(0, 2.0, 10.0), (1, 10.0, 20.0), (2, 20.0, 30.0)]
    assert plan.warmup_time_within(30.0) == 2.0
    assert plan.measured_intervals(15.0) == [(0, 2.0, 10.0), (1, 10.0, 15.0)]
    # the ramp goes from the previous *rate* (the users stage offers 0) to 10/s over 4 s
    assert plan.offered_rate_at(22.0) == pytest.approx(5.0)
    assert plan.offered_between(20.0, 30.0) == pytest.approx(4 * 5.0 + 6 * 10.0)
    assert plan.offered_between(10.0, 20.0) == 0.0


def test_a_plan_travels_to_workers_unchanged() -> None:
    plan = plan_of(
        Stage(10.0, rate_per_s=5.0, ramp_s=2.0, warmup_s=1.0),
        Stage(None, users=3),
        arrival="gamma",
        burstiness=0.5,
        seed=9,
        max_in_flight=32,
        max_schedule_lag_s=2.5,
        warmup_s=1.0,
        mode_weights=(("stream", 3), ("batch", 1)),
    )
    assert LoadPlan.from_wire(plan.to_wire()) == plan
    assert plan.duration_s is None


def test_arrival_counts_settle_and_merge_on_the_master() -> None:
    worker, master = ArrivalTally(), ArrivalTally()
    for _ in range(5):
        worker.scheduled("stream")
    for _ in range(3):
        worker.sent("stream")
    worker.dropped("stream")
    worker.unsent_at_end("stream", 1)
    worker.warmup("stream")
    master.merge_wire(worker.take_delta())
    assert not worker.has_delta()  # a delta is sent once
    counts = master.modes["stream"]
    assert (counts.scheduled, counts.sent, counts.dropped, counts.unsent_at_end) == (5, 3, 1, 1)
    assert counts.warmup == 1
    assert counts.settled


def open_record(t_sched: float, t0: float, e2e: float, mode: Mode = Mode.BATCH) -> RequestRecord:
    record = RequestRecord(mode, "m", "/v1/chat/completions", t0=t0, t_sched=t_sched)
    record.t_headers = record.t_end = t0 + e2e
    record.outcome = Outcome.OK
    return record


def test_figures_from_the_schedule_add_the_wait_for_a_free_user() -> None:
    stats = RunStats()
    stats.observe(open_record(t_sched=10.0, t0=10.5, e2e=1.0))
    stats.observe(open_record(t_sched=11.0, t0=11.0, e2e=1.0))
    batch = stats.summary(2.0)["batch"]
    assert batch["e2e_s"]["max"] == pytest.approx(1.0)
    assert batch["from_schedule"]["e2e_s"]["max"] == pytest.approx(1.5)
    assert batch["from_schedule"]["first_visible_s"]["min"] == pytest.approx(1.0)
    assert batch["schedule_lag_s"]["max"] == pytest.approx(0.5)
    assert "ttft_s" not in batch["from_schedule"]  # batch has no TTFT


def test_a_failed_open_loop_request_has_a_schedule_lag_but_no_latency() -> None:
    stats = RunStats()
    record = open_record(t_sched=1.0, t0=1.25, e2e=0.01)
    record.outcome, record.error_class = None, None
    record.fail(ErrorClass.HTTP_5XX, 1.26)
    stats.observe(record)
    batch = stats.summary(1.0)["batch"]
    assert batch["schedule_lag_s"]["count"] == 1
    assert "from_schedule" not in batch


def block_for(plan: LoadPlan, sent: int, scheduled: int, e2e_s: float) -> dict[str, object]:
    tally, stats = ArrivalTally(), RunStats()
    for _ in range(scheduled):
        tally.scheduled("batch")
    for i in range(sent):
        tally.sent("batch")
        stats.observe(open_record(t_sched=float(i), t0=float(i) + 0.001, e2e=e2e_s))
    tally.unsent_at_end("batch", scheduled - sent)
    return load_block(
        plan, tally, stats, elapsed_s=10.0, warmup_requests=0, pacer="timerfd", workers=1,
        client_saturated=False,
    )  # fmt: skip


def test_run_load_says_what_was_offered_and_achieved() -> None:
    plan = plan_of(Stage(10.0, rate_per_s=20.0), max_in_flight=64, arrival="constant")
    block = block_for(plan, sent=200, scheduled=200, e2e_s=0.2)
    assert (block["kind"], block["process"]) == ("open", "constant")
    assert block["offered_rate_per_s"] == 20.0
    assert block["achieved_rate_per_s"] == 20.0
    assert (block["scheduled"], block["sent"], block["unsent_at_end"]) == (200, 200, 0)
    assert "shortfall" not in block


def test_a_shortfall_from_the_in_flight_cap_is_named_with_littles_law() -> None:
    plan = plan_of(Stage(10.0, rate_per_s=20.0), max_in_flight=4)
    block = block_for(plan, sent=40, scheduled=200, e2e_s=1.0)
    assert block["shortfall"] == (
        "achieved 4/s of the 20/s offered (20%): the in-flight cap (4) was reached: at a mean "
        "E2E of 1s, 20/s needs about 20 in flight; the server answered slower than requests "
        "arrived (raise --max-in-flight to offer the rate anyway)"
    )


def test_a_saturated_load_generator_is_the_reason_it_gives_first() -> None:
    block = {"offered_rate_per_s": 100.0, "achieved_rate_per_s": 50.0, "max_in_flight": 512}
    assert shortfall(block, 0.1, client_saturated=True) == (
        "achieved 50/s of the 100/s offered (50%): the load generator was saturated "
        "(event-loop lag p99 above 10 ms)"
    )
    assert shortfall({**block, "achieved_rate_per_s": 96.0}, 0.1, client_saturated=True) == ""


def test_each_stage_that_began_has_its_own_figures() -> None:
    plan = plan_of(Stage(10.0, rate_per_s=2.0), Stage(10.0, users=3), Stage(10.0, rate_per_s=4.0))
    stats = [RunStats(), RunStats(), RunStats()]
    for i in range(20):
        stats[0].observe(open_record(t_sched=float(i), t0=float(i), e2e=0.1))
    blocks = stage_blocks(plan, stats, elapsed_s=15.0)
    assert [b["label"] for b in blocks] == ["2/s", "3 users"]  # the third never began
    assert blocks[0]["achieved_rate_per_s"] == 2.0
    assert blocks[0]["modes"]["batch"]["requests"] == 20
    assert (blocks[1]["measured_s"], blocks[1]["users"]) == (5.0, 3)


def pieces(plan: LoadPlan, chunk_s: float = 1.0) -> list[RateSegment]:
    out: list[RateSegment] = []
    t = 0.0
    while (piece := plan.piece_at(t, chunk_s)) is not None:
        out.append(piece)
        t = piece.end_s
    return out


def test_walking_a_plan_piece_by_piece_offers_what_its_segments_do() -> None:
    from harness.load.schedule import arrival_times

    plan = plan_of(
        Stage(2.5, rate_per_s=10.0), Stage(3.0, users=2), Stage(4.0, rate_per_s=20.0, ramp_s=2.0)
    )
    walked = pieces(plan)
    assert [round(p.start_s, 6) for p in walked] == [0, 1, 2, 2.5, 3, 4, 5, 5.5, 6, 7, 7.5, 8, 9]
    whole = list(arrival_times(plan.rate_segments(), "poisson", seed=4))
    by_piece = list(arrival_times(walked, "poisson", seed=4))
    assert by_piece == pytest.approx(whole, abs=1e-9)


def test_a_plan_extended_and_cut_while_it_runs() -> None:
    plan = plan_of(Stage(10.0, rate_per_s=5.0), dynamic=True)
    assert plan.is_staged
    assert plan.is_open
    longer = plan.extended(Stage(10.0, rate_per_s=8.0))
    assert longer.dynamic
    assert longer.stage_start_s(1) == 10.0
    done = longer.cut(1, 14.0).extended(final=True)
    assert not done.dynamic
    assert done.duration_s == 14.0
    assert done.stages[1].duration_s == 4.0
    assert plan.piece_at(10.0, 1.0) is None  # past the end: the feed waits for more

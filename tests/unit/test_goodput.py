"""Goodput: which requests meet every per-request limit, and how the limits are read.

Timestamps are sums of powers of two (0.5, 0.125, …) so every figure is exact in floating
point and a request can sit exactly at a limit: a limit holds when the figure is <= it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from math import nextafter
from pathlib import Path
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest

from harness.errors import ConfigError, ErrorClass, Mode, Outcome
from harness.load.goodput import GoodputLimits, limits_for_mode, meets
from harness.options import RunConfig
from harness.readers import read_goodput
from harness.record import RequestRecord
from harness.report.enrich import add_goodput_limits
from harness.scenario import load_scenario
from harness.stats import GroupStats, RunStats

HOST = "http://127.0.0.1:1/v1"


def stream(
    token_times: list[float],
    *,
    t_end: float | None = None,
    cumulative: list[int] | None = None,
    server_tokens: int | None = -1,
    outcome: Outcome = Outcome.OK,
) -> RequestRecord:
    """A stream sent at t0 = 0 whose token-bearing events arrive at `token_times`.

    server_tokens -1: the server reported one token per chunk; None: no usage.
    """
    r = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/chat/completions")
    r.t0 = 0.0
    for i, t in enumerate(token_times):
        r.on_token_event(t, visible=True, cumulative_tokens=cumulative[i] if cumulative else None)
    r.t_end = token_times[-1] if t_end is None else t_end
    if cumulative:
        r.server_output_tokens = cumulative[-1]
    else:
        r.server_output_tokens = len(token_times) if server_tokens == -1 else server_tokens
    r.outcome = outcome
    return r


def batch(e2e_s: float, *, outcome: Outcome = Outcome.OK) -> RequestRecord:
    r = RequestRecord(mode=Mode.BATCH, model="m", endpoint="/v1/chat/completions")
    r.t0 = 0.0
    r.t_headers = e2e_s
    r.t_end = e2e_s
    r.server_output_tokens = 8
    r.outcome = outcome
    return r


#: TTFT 0.5 s, then three tokens 0.125 s apart: TPOT 0.125 s, E2E 0.875 s
STEADY = [0.5, 0.625, 0.75, 0.875]


def limits(**values: float) -> GoodputLimits:
    return GoodputLimits.from_values(values)


# ---------------------------------------------------------------- the verdict on one request


def test_a_stream_exactly_at_every_limit_meets_them() -> None:
    assert meets(stream(STEADY), limits(ttft=0.5, tpot=0.125, e2e=0.875)) is True


@pytest.mark.parametrize(
    ("name", "limit"),
    [("ttft", 0.5), ("tpot", 0.125), ("e2e", 0.875), ("first_visible", 0.5), ("itl", 0.125)],
)
def test_a_stream_a_hair_over_one_limit_does_not_meet_it(name: str, limit: float) -> None:
    assert meets(stream(STEADY), limits(**{name: limit})) is True
    assert meets(stream(STEADY), limits(**{name: nextafter(limit, 0.0)})) is False


@pytest.mark.parametrize(
    "record",
    [
        stream(STEADY, outcome=Outcome.FAILED),
        stream(STEADY, outcome=Outcome.EMPTY),
        stream(STEADY, outcome=Outcome.CANCELLED),
        batch(0.25, outcome=Outcome.FAILED),
    ],
    ids=["failed", "empty", "cancelled", "failed-batch"],
)
def test_a_request_that_did_not_succeed_never_meets_the_limits(record: RequestRecord) -> None:
    assert meets(record, limits(e2e=60.0)) is False


def test_a_failed_request_with_fine_figures_does_not_meet_them() -> None:
    r = stream(STEADY)
    r.outcome = None
    r.fail(ErrorClass.STREAM_RESET, 0.875)
    assert meets(r, limits(ttft=10.0)) is False


@pytest.mark.parametrize("outcome", [Outcome.OK_LENGTH, Outcome.CONTENT_FILTERED])
def test_every_success_outcome_can_meet_them(outcome: Outcome) -> None:
    assert meets(stream(STEADY, outcome=outcome), limits(ttft=0.5)) is True


def test_the_itl_limit_takes_every_gap_not_the_mean() -> None:
    # gaps 0.0625, 0.0625, 0.25: mean (TPOT) 0.125, one gap over 0.125
    record = stream([0.5, 0.5625, 0.625, 0.875])
    assert record.tpot_s == 0.125
    assert meets(record, limits(tpot=0.125)) is True
    assert meets(record, limits(itl=0.125)) is False
    assert meets(record, limits(itl=0.25)) is True


def test_the_itl_limit_takes_per_token_samples_when_a_chunk_carries_several_tokens() -> None:
    # the second chunk carries 2 tokens after 0.25 s: two per-token samples of 0.125
    record = stream([0.5, 0.75], cumulative=[1, 3])
    assert list(record.itl_samples()) == [0.125, 0.125]
    assert meets(record, limits(itl=0.125)) is True
    assert meets(record, limits(itl=nextafter(0.125, 0.0))) is False


def test_the_itl_limit_takes_inter_chunk_gaps_when_tokens_per_chunk_are_unknown() -> None:
    # no usage and no per-chunk counts: ITL can only be measured per chunk (0.25)
    record = stream([0.5, 0.75], server_tokens=None)
    assert record.tokens_per_chunk is None
    assert meets(record, limits(itl=0.25)) is True
    assert meets(record, limits(itl=0.125)) is False


def test_a_one_token_answer_meets_tpot_and_itl_limits() -> None:
    # no token after the first: nothing could be late
    record = stream([0.5])
    assert record.tpot_s is None
    assert meets(record, limits(tpot=0.001)) is True
    assert meets(record, limits(itl=0.001)) is True


def test_a_stream_whose_first_visible_output_is_its_ttft() -> None:
    record = stream(STEADY)
    assert meets(record, limits(first_visible=0.5)) is True
    assert meets(record, limits(first_visible=0.25)) is False


def test_a_batch_request_is_judged_by_e2e_only() -> None:
    assert meets(batch(1.5), limits(ttft=0.5, e2e=1.5)) is True
    assert meets(batch(1.5), limits(ttft=0.5, e2e=1.25)) is False


def test_a_batch_requests_first_visible_output_is_its_e2e() -> None:
    assert meets(batch(1.5), limits(first_visible=1.5)) is True
    assert meets(batch(1.5), limits(first_visible=1.25)) is False


def test_a_successful_batch_request_meets_stream_only_limits() -> None:
    assert meets(batch(30.0), limits(ttft=0.001, tpot=0.001)) is True


def test_the_limits_that_apply_to_each_mode() -> None:
    chosen = limits(ttft=0.5, tpot=0.05, e2e=20.0, first_visible=0.5)
    assert limits_for_mode(chosen, "stream") == [
        ("ttft", 0.5),
        ("tpot", 0.05),
        ("e2e", 20.0),
        ("first_visible", 0.5),
    ]
    assert limits_for_mode(chosen, "batch") == [("e2e", 20.0), ("first_visible", 0.5)]
    assert chosen.to_dict("batch") == {"e2e_s": 20.0, "first_visible_s": 0.5}


# ---------------------------------------------------------------- reading the limits


def test_limits_read_from_text() -> None:
    assert read_goodput("ttft=500ms, tpot=50ms,e2e=20s", "--llm-goodput") == GoodputLimits(
        ttft_s=0.5, tpot_s=0.05, e2e_s=20.0
    )


def test_limits_describe_themselves_in_the_form_they_are_read() -> None:
    chosen = read_goodput("e2e=20s,ttft=500ms,itl=25ms", "--llm-goodput")
    assert chosen is not None
    assert chosen.describe() == "ttft=500ms,itl=25ms,e2e=20s"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "expected at least one limit: ttft, tpot or itl, e2e, first_visible"),
        (
            {"ttfb": 0.5},
            "unknown limit 'ttfb' (expected one of ttft, tpot, itl, e2e, first_visible)",
        ),
        ({"e2e": 0.0}, "e2e: expected a duration greater than 0, got 0s"),
    ],
)
def test_limits_built_in_code_are_checked_too(values: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=r"limit|duration") as info:
        GoodputLimits.from_values(values)
    assert str(info.value) == message


def test_empty_text_means_no_limits() -> None:
    assert read_goodput("  ", "--llm-goodput") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "ttfb=500ms",
            "--llm-goodput: unknown limit 'ttfb' (expected one of ttft, tpot, itl, e2e, "
            "first_visible) — did you mean 'ttft'?",
        ),
        (
            "ttft=fast",
            "--llm-goodput: ttft: expected a duration such as 500ms, 15s or 5m, got 'fast'",
        ),
        ("ttft=0s", "--llm-goodput: ttft: must be greater than 0"),
        (
            "tpot=50ms,itl=20ms",
            "--llm-goodput: set tpot or itl, not both (tpot limits a request's mean time per "
            "token, itl every gap between its tokens)",
        ),
        ("ttft=1s,ttft=2s", "--llm-goodput: ttft is given twice"),
        (
            "ttft",
            "--llm-goodput: expected limits such as ttft=500ms,tpot=50ms,e2e=20s, got 'ttft'",
        ),
        (
            ",",
            "--llm-goodput: expected limits such as ttft=500ms,tpot=50ms,e2e=20s, got ','",
        ),
    ],
)
def test_bad_limit_text_is_one_line_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        read_goodput(text, "--llm-goodput")
    assert str(info.value) == message


def scenario_error(text: str, tmp_path: Path) -> str:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    return str(info.value).removeprefix(f"{path}:")


def test_limits_read_from_the_scenario(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("goodput: {ttft: 500ms, tpot: 50ms, e2e: 20s}\n", encoding="utf-8")
    scenario = load_scenario(path, {})
    assert scenario.goodput == GoodputLimits(ttft_s=0.5, tpot_s=0.05, e2e_s=20.0)
    assert scenario.file_setting("goodput") == (scenario.goodput, f"{path}:1:10")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "goodput: {ttfb: 500ms}\n",
            "1:11: goodput: unknown key 'ttfb' — did you mean 'ttft'? "
            "(allowed: ttft, tpot, itl, e2e, first_visible)",
        ),
        (
            "goodput: {ttft: 500}\n",
            "1:17: goodput.ttft: expected a duration with a unit such as 500ms, 15s or 5m, "
            'got integer 500 (write "500s" for seconds)',
        ),
        (
            "goodput: {ttft: soon}\n",
            "1:17: goodput.ttft: expected a duration with a unit such as 500ms, 15s or 5m, "
            "got 'soon'",
        ),
        (
            "goodput: {tpot: 50ms, itl: 20ms}\n",
            "1:10: goodput: set tpot or itl, not both (tpot limits a request's mean time per "
            "token, itl every gap between its tokens)",
        ),
        (
            "goodput: {}\n",
            "1:10: goodput: expected at least one limit: ttft, tpot or itl, e2e, first_visible",
        ),
        (
            "goodput: 500ms\n",
            "1:10: goodput: expected a mapping of limits such as {ttft: 500ms}, got string '500ms'",
        ),
    ],
)
def test_bad_scenario_limits_are_one_line_naming_the_key(
    text: str, message: str, tmp_path: Path
) -> None:
    assert scenario_error(text, tmp_path) == message


def test_the_flag_gives_the_run_its_limits() -> None:
    options = argparse.Namespace(llm_goodput="ttft=50ms")
    config = RunConfig.from_options(options, HOST, {})
    assert config.goodput == GoodputLimits(ttft_s=0.05)


def test_a_run_without_limits_has_none() -> None:
    assert RunConfig.from_options(argparse.Namespace(), HOST, {}).goodput is None


def test_a_goodput_gate_without_limits_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("slos:\n  - {metric: goodput, min: 5/s}\n", encoding="utf-8")
    options = argparse.Namespace(llm_scenario=str(path))
    with pytest.raises(ConfigError) as info:
        RunConfig.from_options(options, HOST, {})
    assert str(info.value) == (
        f"{path}:2:5: goodput >= 5/s: a goodput gate needs goodput limits: set goodput: "
        "{ttft: 500ms, e2e: 20s} in the scenario or --llm-goodput ttft=500ms,e2e=20s"
    )


def test_a_goodput_gate_with_limits_from_the_flag_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("slos:\n  - {metric: slo_attainment, min: 0.95}\n", encoding="utf-8")
    options = argparse.Namespace(llm_scenario=str(path), llm_goodput="e2e=20s")
    config = RunConfig.from_options(options, HOST, {})
    assert config.goodput == GoodputLimits(e2e_s=20.0)
    assert config.slos[0].title == "slo_attainment >= 0.95"


# ---------------------------------------------------------------- counting and the summary


def judged(record: RequestRecord, chosen: GoodputLimits) -> RequestRecord:
    record.met_goodput = meets(record, chosen)  # as harness.events.publish does
    return record


def test_the_statistics_count_exactly_the_requests_that_met_every_limit() -> None:
    chosen = limits(ttft=0.5, e2e=1.0)
    group = GroupStats("stream", "m")
    for record in (
        stream(STEADY),  # met
        stream([0.5, 1.0]),  # met: exactly at both limits
        stream([0.75, 0.875]),  # TTFT over
        stream([0.5, 1.125]),  # E2E over
        stream(STEADY, outcome=Outcome.FAILED),
        stream(STEADY, outcome=Outcome.CANCELLED),
    ):
        group.observe(judged(record, chosen))
    assert (group.goodput_judged, group.goodput_met) == (6, 2)
    summary = group.summary(duration_s=4.0)
    # attainment: 2 of the 5 that finished (the cancelled one is not counted)
    assert summary["goodput"] == {"met": 2, "goodput_per_s": 0.5, "slo_attainment": 0.4}


def test_a_mode_has_no_goodput_block_when_the_run_has_no_limits() -> None:
    group = GroupStats("stream", "m")
    group.observe(stream(STEADY))
    assert "goodput" not in group.summary(duration_s=4.0)


def test_goodput_counters_cross_the_wire_and_merge() -> None:
    chosen = limits(e2e=1.0)
    worker_a, worker_b, master = RunStats(), RunStats(), RunStats()
    worker_a.observe(judged(batch(0.5), chosen))
    worker_a.observe(judged(batch(2.0), chosen))
    worker_b.observe(judged(batch(1.0), chosen))
    for worker in (worker_a, worker_b):
        wire = msgpack.unpackb(msgpack.packb(worker.take_delta(), use_bin_type=True), raw=False)
        master.merge_wire(wire)
    [group] = master.groups()
    assert (group.goodput_judged, group.goodput_met) == (3, 2)
    assert master.summary(2.0)["batch"]["goodput"] == {
        "met": 2,
        "goodput_per_s": 1.0,
        "slo_attainment": 2 / 3,
    }


def test_the_summary_shows_the_limits_that_apply_to_each_mode() -> None:
    chosen = limits(ttft=0.5, e2e=1.0)
    stats = RunStats()
    stats.observe(judged(stream(STEADY), chosen))
    stats.observe(judged(batch(2.0), chosen))
    summary: dict[str, Any] = {"modes": stats.summary(1.0)}
    add_goodput_limits(summary, chosen)
    assert summary["modes"]["stream"]["goodput"] == {
        "limits": {"ttft_s": 0.5, "e2e_s": 1.0},
        "met": 1,
        "goodput_per_s": 1.0,
        "slo_attainment": 1.0,
    }
    assert summary["modes"]["batch"]["goodput"] == {
        "limits": {"e2e_s": 1.0},
        "met": 0,
        "goodput_per_s": 0.0,
        "slo_attainment": 0.0,
    }


# ---------------------------------------------------------------- published: judged once, merged

PUBLISH_SCRIPT = """
import argparse, json
from locust.env import Environment
from harness.events import publish
from harness.run import llm_run
from tests.unit.test_goodput import STEADY, batch, stream

def env(goodput):
    return Environment(parsed_options=argparse.Namespace(llm_goodput=goodput))

master, worker = env("ttft=500ms"), env("ttft=500ms")
llm_run(master)
records = [stream(STEADY), stream([0.75, 0.875]), batch(2.0)]
for record in records:
    publish(worker, record)
data = {}
worker.events.report_to_master.fire(client_id="w", data=data)
master.events.worker_report.fire(client_id="w", data=data)
plain = Environment()
publish(plain, stream(STEADY))
print(json.dumps({
    "verdicts": [r.met_goodput for r in records],
    "master": llm_run(master).stats.summary(2.0),
    "plain": llm_run(plain).stats.summary(2.0),
}))
"""


def test_publish_judges_each_request_and_the_master_counts_the_verdicts() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PUBLISH_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["verdicts"] == [True, False, True]
    assert out["master"]["stream"]["goodput"] == {
        "met": 1,
        "goodput_per_s": 0.5,
        "slo_attainment": 0.5,
    }
    assert out["master"]["batch"]["goodput"]["met"] == 1
    assert "goodput" not in out["plain"]["stream"]  # no limits: no verdict, no block


def test_open_loop_requests_are_judged_from_their_due_time() -> None:
    from harness.load.goodput import GoodputLimits, meets
    from harness.record import RequestRecord

    record = RequestRecord(Mode.BATCH, "m", "/v1/chat/completions", t0=10.0, t_sched=9.75)
    record.t_headers = record.t_end = 10.5  # E2E 0.5 s from the send, 0.75 s from the due time
    record.outcome = Outcome.OK
    assert meets(record, GoodputLimits(e2e_s=0.75))
    assert not meets(record, GoodputLimits(e2e_s=0.74))
    record.t_sched = None  # closed loop: from the send
    assert meets(record, GoodputLimits(e2e_s=0.5))

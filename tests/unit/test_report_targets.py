"""Targets side by side (harness.report.targets, harness.report.enrich): the winner of each
figure, the gateway overhead, the cost per target, the SLOs of every target, the schema.

Summaries are built from hand-made records with `target=` set, through the real `RunStats`,
in the shape `LLMRun.targets_block` gives (harness/run.py); no Locust.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import jsonschema
import pytest

from harness.errors import ErrorClass, Mode, Outcome
from harness.exit_code import ExitCode, slo_exit_code
from harness.options import RunConfig
from harness.record import RequestRecord
from harness.report.cost import estimate_cost
from harness.report.enrich import complete_summary
from harness.report.overhead import difference, gateway_overhead, overhead_table
from harness.report.summary import RunInfo, build_summary, load_schema
from harness.report.targets import ComparedFigure, compare_targets, headline_lines, target_view
from harness.scenario import Price
from harness.slo import SLO, harness_failures, with_default_failure_gate
from harness.stats import RunStats
from harness.target import Target, Timeouts
from harness.targets import TargetSpec, resolve_targets

RUN = RunInfo(
    started_at="2025-11-24T21:50:00Z",
    duration_s=10.0,
    host="http://127.0.0.1:8001/v1",
    users=8,
    locust_version="2.47.0",
    harness_version="0.1.0",
    client_saturated=False,
)
DURATION_S = 10.0

# ---------------------------------------------------------------- records and summaries


def stream(
    target: str,
    ttft_s: float,
    *,
    tokens: int = 8,
    itl_s: float = 0.02,
    headers_s: float | None = None,
    tail_s: float = 0.001,
    burst: bool = False,
    model: str = "m",
    input_tokens: int = 20,
) -> RequestRecord:
    """A successful stream to `target`: `tokens` one-token events `itl_s` apart from TTFT,
    the end `tail_s` after the last; with `burst`, the second event arrives with the first."""
    r = RequestRecord(mode=Mode.STREAM, model=model, endpoint="/v1/chat/completions")
    r.target = target
    r.t0 = 0.0
    r.t_headers = headers_s if headers_s is not None else ttft_s - 0.005
    t = ttft_s
    for i in range(tokens):
        r.on_token_event(t, visible=True)
        if not (burst and i == 0):
            t += itl_s
    r.t_end = (r.t_last_token or ttft_s) + tail_s
    r.server_output_tokens = tokens
    r.input_tokens = input_tokens
    r.outcome = Outcome.OK
    r.finish_reason = "stop"
    return r


def batch(target: str, e2e_s: float, *, tokens: int = 8, model: str = "m") -> RequestRecord:
    r = RequestRecord(mode=Mode.BATCH, model=model, endpoint="/v1/chat/completions")
    r.target = target
    r.t0 = 0.0
    r.t_headers = e2e_s - 0.001
    r.t_end = e2e_s
    r.server_output_tokens = tokens
    r.input_tokens = 20
    r.outcome = Outcome.OK
    return r


def failed(target: str, error: ErrorClass = ErrorClass.HTTP_5XX) -> RequestRecord:
    r = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/chat/completions")
    r.target = target
    r.t0 = 0.0
    r.fail(error, 0.01)
    return r


def spread(low: float, high: float, n: int) -> list[float]:
    """`n` values evenly from `low` to `high`."""
    return [low + (high - low) * i / (n - 1) for i in range(n)]


def stats_of(records: Iterable[RequestRecord]) -> RunStats:
    stats = RunStats()
    for record in records:
        stats.observe(record)
    return stats


def targets_summary(stats: RunStats, targets: Mapping[str, str | None]) -> dict[str, Any]:
    """The summary `LLMRun.summary()` gives for a run with `targets` (name → via): `modes`
    of the first target, and `targets` as `LLMRun.targets_block` builds it."""
    first = next(iter(targets))
    summary = build_summary(stats.summary(DURATION_S, target=first), run=RUN)
    block: dict[str, Any] = {}
    groups = list(stats.groups())
    for port, (name, via) in enumerate(targets.items(), start=8001):
        entry: dict[str, Any] = {"host": f"http://127.0.0.1:{port}/v1", "protocol": "openai"}
        if via is not None:
            entry["via"] = via
        entry["models"] = sorted({g.model for g in groups if g.target == name and g.model})
        entry["modes"] = stats.summary(DURATION_S, target=name)
        block[name] = entry
    summary["targets"] = block
    return summary


def config_of(
    specs: Iterable[TargetSpec],
    *,
    slos: tuple[SLO, ...] = (),
    pricing: Mapping[str, Price] | None = None,
) -> RunConfig:
    """A run's configuration with these targets (resolved as `RunConfig.from_options` does)."""
    run_targets = resolve_targets(
        tuple(specs),
        api_key=None,
        api_key_env="OPENAI_API_KEY",
        models=("m",),
        chat=True,
        pricing=dict(pricing or {}),
    )
    return RunConfig(
        target=run_targets[0].target,
        model="m",
        max_tokens=None,
        temperature=None,
        chat=True,
        api_key=None,
        timeouts=Timeouts(),
        out_dir="",
        models=("m",),
        slos=with_default_failure_gate(slos),
        pricing=dict(pricing or {}),
        targets=run_targets,
    )


def fast_and_slow() -> tuple[RunStats, dict[str, Any]]:
    """fast: stream TTFT 100–102 ms, slow: 300–304 ms, 200 requests each, ITL 18–22 ms in
    both; batch E2E alike."""
    itls = spread(0.018, 0.022, 200)
    fast = zip(spread(0.100, 0.102, 200), itls, strict=True)
    slow = zip(spread(0.300, 0.304, 200), itls, strict=True)
    records = [stream("fast", v, itl_s=i) for v, i in fast]
    records += [stream("slow", v, itl_s=i) for v, i in slow]
    records += [batch("fast", v) for v in spread(0.50, 0.60, 50)]
    records += [batch("slow", v) for v in spread(0.50, 0.60, 50)]
    stats = stats_of(records)
    return stats, targets_summary(stats, {"fast": None, "slow": None})


def gateway_and_direct(shift_s: float = 0.030) -> tuple[RunStats, dict[str, Any]]:
    """direct: 400 streams, TTFT 100–300 ms; gw: the same requests `shift_s` later from the
    headers on (TTFB, TTFT, E2E), so its ITL and tail are direct's."""
    ttfts = spread(0.100, 0.300, 400)
    records = [stream("direct", v, headers_s=v - 0.005) for v in ttfts]
    records += [stream("gw", v + shift_s, headers_s=v - 0.005 + shift_s) for v in ttfts]
    stats = stats_of(records)
    return stats, targets_summary(stats, {"direct": None, "gw": "direct"})


def schema_errors(document: Mapping[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(load_schema())
    return sorted(f"{e.json_path}: {e.message}" for e in validator.iter_errors(document))


STREAM_TTFT_P50 = ComparedFigure("stream", "ttft_s", "p50")


# ---------------------------------------------------------------- the winner of each figure


def test_the_target_whose_interval_is_clear_of_the_others_is_named_the_winner() -> None:
    _, summary = fast_and_slow()
    comparison = compare_targets(summary, STREAM_TTFT_P50)
    assert comparison is not None
    assert (comparison.winner, comparison.significant) == ("fast", True)
    assert comparison.sentence() == "fast has the lower stream TTFT p50 (101 ms vs 302 ms)."


def test_overlapping_intervals_give_no_winner() -> None:
    records = [stream("a", v) for v in spread(0.100, 0.300, 201)]
    records += [stream("b", v + 0.004) for v in spread(0.100, 0.300, 201)]
    summary = targets_summary(stats_of(records), {"a": None, "b": None})
    comparison = compare_targets(summary, STREAM_TTFT_P50)
    assert comparison is not None
    assert (comparison.winner, comparison.significant) == (None, False)
    assert comparison.sentence() == (
        "No significant difference in stream TTFT p50 (a 200 ms, b 204 ms)."
    )


def test_a_lower_figure_is_no_winner_when_one_other_interval_overlaps_it() -> None:
    records = [stream("fast", v) for v in spread(0.100, 0.102, 200)]
    records += [stream("wide", v) for v in spread(0.010, 0.400, 12)]  # p50 in 81–329 ms
    records += [stream("slow", v) for v in spread(0.300, 0.304, 200)]
    summary = targets_summary(stats_of(records), {"fast": None, "wide": None, "slow": None})
    comparison = compare_targets(summary, STREAM_TTFT_P50)
    assert comparison is not None
    assert comparison.winner is None
    assert comparison.sentence() == (
        "No target has a significantly lower stream TTFT p50 than every other "
        "(fast 101 ms, wide 187 ms, slow 302 ms)."
    )


def test_with_three_targets_the_winner_is_the_lowest_clear_of_all() -> None:
    records = [stream("fast", v) for v in spread(0.100, 0.102, 200)]
    records += [stream("mid", v) for v in spread(0.200, 0.202, 200)]
    records += [stream("slow", v) for v in spread(0.300, 0.304, 200)]
    summary = targets_summary(stats_of(records), {"slow": None, "mid": None, "fast": None})
    comparison = compare_targets(summary, STREAM_TTFT_P50)
    assert comparison is not None
    assert comparison.sentence() == (
        "fast has the lowest stream TTFT p50 (101 ms; slow 302 ms, mid 201 ms)."
    )


def test_an_interval_too_few_requests_bound_says_so_rather_than_no_difference() -> None:
    # 12 requests each: p95's interval has no upper end, so 100 ms and 300 ms overlap
    records = [stream("fast", v) for v in spread(0.100, 0.101, 12)]
    records += [stream("slow", v) for v in spread(0.300, 0.301, 12)]
    summary = targets_summary(stats_of(records), {"fast": None, "slow": None})
    comparison = compare_targets(summary, ComparedFigure("stream", "ttft_s", "p95"))
    assert comparison is not None
    assert (comparison.winner, comparison.too_few) == (None, True)
    assert comparison.sentence().startswith(
        "Too few requests to tell which target has the lower stream TTFT p95 (fast 101 ms, "
    )
    # p50 of the same requests is bounded: a winner
    assert compare_targets(summary, STREAM_TTFT_P50).winner == "fast"  # type: ignore[union-attr]


def test_figures_without_intervals_cannot_name_a_winner() -> None:
    _, summary = fast_and_slow()
    for entry in summary["targets"].values():
        del entry["modes"]["stream"]["ttft_s"]["ci95"]
    comparison = compare_targets(summary, STREAM_TTFT_P50)
    assert comparison is not None
    assert (comparison.winner, comparison.significant) == (None, None)
    assert comparison.sentence() == (
        "Cannot tell which target has the lower stream TTFT p50: no 95 % interval "
        "(fast 101 ms, slow 302 ms)."
    )


def test_the_headline_has_a_sentence_per_figure_both_targets_have() -> None:
    _, summary = fast_and_slow()
    assert headline_lines(summary) == [
        "fast has the lower stream TTFT p50 (101 ms vs 302 ms).",
        "fast has the lower stream TTFT p95 (102 ms vs 304 ms).",
        "No significant difference in stream ITL p50 (fast 20.0 ms, slow 20.0 ms).",
        "No significant difference in stream ITL p99 (fast 21.9 ms, slow 21.9 ms).",
        "fast has the lower stream E2E p50 (242 ms vs 443 ms).",
        "No significant difference in batch E2E p50 (fast 549 ms, slow 549 ms).",
        "No significant difference in batch E2E p95 (fast 595 ms, slow 595 ms).",
    ]


def test_a_one_target_summary_has_no_headline_of_targets() -> None:
    stats = stats_of([stream("", 0.1), stream("", 0.2)])
    summary = build_summary(stats.summary(DURATION_S), run=RUN)
    assert headline_lines(summary) == []
    assert gateway_overhead(summary) == []


# ---------------------------------------------------------------- gateway overhead


def test_a_30_ms_shift_reads_30_ms_of_overhead_within_its_interval() -> None:
    _, summary = gateway_and_direct(0.030)
    (item,) = gateway_overhead(summary)
    assert (item["target"], item["via"], item["mode"]) == ("gw", "direct", "stream")
    for block in ("ttft_s", "ttfb_s", "e2e_s", "first_visible_s"):
        figure = item["figures"][block]
        lo, hi = figure["ci95"]
        assert figure["percentile"] == "p50"
        assert figure["value_s"] == pytest.approx(0.030, abs=0.0005), block
        assert lo < 0.030 < hi, block
        assert hi - lo < 0.045, block  # p50 of 400 requests: ±20 ranks, 0.5 ms apart
    for block, key in (("itl_s", "p99"), ("tail_s", "p50")):
        figure = item["figures"][block]
        assert figure["percentile"] == key
        assert figure["value_s"] == pytest.approx(0.0, abs=1e-4), block


def test_the_overhead_interval_combines_the_two_intervals_conservatively() -> None:
    gateway = {"p50": 0.130, "ci95": {"p50": [0.128, 0.133], "p95": [None, None]}}
    upstream = {"p50": 0.100, "ci95": {"p50": [0.099, 0.102], "p95": [None, None]}}
    found = difference(gateway, upstream, "p50")
    assert found is not None
    assert found["value_s"] == pytest.approx(0.030)
    assert found["ci95"] == [pytest.approx(0.026), pytest.approx(0.034)]
    assert (found["gateway_s"], found["upstream_s"]) == (0.130, 0.100)


def test_an_open_end_of_either_interval_leaves_that_end_of_the_overhead_open() -> None:
    gateway = {"p99": 0.2, "ci95": {"p99": [0.18, None]}}
    upstream = {"p99": 0.1, "ci95": {"p99": [0.09, 0.11]}}
    found = difference(gateway, upstream, "p99")
    assert found is not None
    assert found["ci95"] == [pytest.approx(0.07), None]
    assert difference(gateway, {"p50": 0.1}, "p99") is None


def test_burst_deliveries_are_counted_per_1000_token_events_on_each_side() -> None:
    records = [stream("direct", 0.1) for _ in range(50)]  # 8 events each, no burst
    records += [stream("gw", 0.13, burst=True) for _ in range(50)]  # 1 burst in 8 events
    records.append(failed("gw"))  # no token event: changes no count
    summary = targets_summary(stats_of(records), {"direct": None, "gw": "direct"})
    (item,) = gateway_overhead(summary)
    assert item["burst_delivery"] == {
        "gateway": {"bursts": 50, "token_events": 400, "per_1k": 125.0},
        "upstream": {"bursts": 0, "token_events": 400, "per_1k": 0.0},
        "difference_per_1k": 125.0,
    }


def test_batch_overhead_has_its_figures_and_no_burst_count() -> None:
    records = [batch("direct", v) for v in spread(0.5, 0.7, 100)]
    records += [batch("gw", v + 0.03) for v in spread(0.5, 0.7, 100)]
    summary = targets_summary(stats_of(records), {"direct": None, "gw": "direct"})
    (item,) = gateway_overhead(summary)
    assert item["mode"] == "batch"
    assert sorted(item["figures"]) == ["e2e_s", "first_visible_s", "ttfb_s"]
    assert "burst_delivery" not in item


def test_the_overhead_table_has_a_column_per_gateway_and_mode() -> None:
    _, summary = gateway_and_direct(0.030)
    summary["gateway_overhead"] = gateway_overhead(summary)
    header, rows = overhead_table(summary)
    assert header == ["", "gw − direct, streaming"]
    labels = [row[0] for row in rows]
    assert labels == [
        "TTFT p50",
        "TTFB p50",
        "ITL p99",
        "tail (last token → end) p50",
        "E2E p50",
        "first visible output p50",
        "bursts per 1,000 token events",
    ]
    assert rows[0][1].startswith("+30.0 ms (+")
    assert rows[-1][1] == "0.0 vs 0.0 (+0.0)"


# ---------------------------------------------------------------- enrich: cost, SLOs, schema


def test_each_target_is_priced_at_its_own_prices_and_per_1000_requests() -> None:
    records = [stream("fast", 0.1, input_tokens=100, tokens=10) for _ in range(4)]
    records += [stream("slow", 0.3, input_tokens=100, tokens=10) for _ in range(4)]
    records.append(failed("slow"))  # finished, unpriced output: counts per 1,000 requests
    stats = stats_of(records)
    summary = targets_summary(stats, {"fast": None, "slow": None})
    config = config_of(
        [
            TargetSpec("fast", "http://127.0.0.1:8001/v1", pricing={"*": Price(1.0, 2.0)}),
            TargetSpec("slow", "http://127.0.0.1:8002/v1"),  # the run's prices
        ],
        pricing={"m": Price(10.0, 20.0)},
    )
    done = complete_summary(summary, stats=stats, config=config, timeline=None)
    fast, slow = done["targets"]["fast"], done["targets"]["slow"]
    assert fast["cost"]["total"] == pytest.approx((400 * 1.0 + 40 * 2.0) / 1e6)
    assert fast["cost_per_1k_requests"] == pytest.approx(1000 * 480e-6 / 4)
    assert slow["cost"]["total"] == pytest.approx((400 * 10.0 + 40 * 20.0) / 1e6)
    assert slow["cost_per_1k_requests"] == pytest.approx(1000 * 4800e-6 / 5)
    assert done["cost"] == fast["cost"]  # the run's cost: the first target's, as its modes
    assert (fast["endpoint"], slow["endpoint"]) == ("/v1/chat/completions",) * 2


def test_a_price_for_any_model_applies_to_every_model_without_its_own() -> None:
    pricing = {"*": Price(1.0, 1.0), "big": Price(5.0, 5.0)}
    cost = estimate_cost({"big": (1_000_000, 0), "small": (1_000_000, 0)}, pricing)
    assert cost is not None
    assert cost["models"]["big"]["cost"] == 5.0
    assert cost["models"]["small"]["cost"] == 1.0
    assert cost["unpriced"] == []


def test_every_slo_is_judged_for_every_target_and_the_exit_code_follows_all() -> None:
    stats, summary = fast_and_slow()
    gate = SLO("ttft", 0.2, mode="stream", percentile=95)
    config = config_of(
        [TargetSpec("fast", "http://127.0.0.1:8001/v1"), TargetSpec("slow", "http://b:1/v1")],
        slos=(gate,),
    )
    done = complete_summary(summary, stats=stats, config=config, timeline=None)
    verdicts = [(s["name"], s["target"], s["passed"]) for s in done["slos"]]
    assert verdicts == [
        ("fast: stream ttft p95", "fast", True),
        ("fast: failure_ratio", "fast", True),
        ("slow: stream ttft p95", "slow", False),
        ("slow: failure_ratio", "slow", True),
    ]
    assert done["slos"][2]["value_s"] == pytest.approx(0.304, rel=0.002)
    assert slo_exit_code(done["slos"], done) == ExitCode.FAILED


def test_a_target_without_requests_fails_its_slos_with_the_reason() -> None:
    stats = stats_of([stream("fast", 0.1)])
    summary = targets_summary(stats, {"fast": None, "idle": None})
    config = config_of(
        [TargetSpec("fast", "http://127.0.0.1:8001/v1"), TargetSpec("idle", "http://b:1/v1")]
    )
    done = complete_summary(summary, stats=stats, config=config, timeline=None)
    idle = [s for s in done["slos"] if s["target"] == "idle"]
    assert idle == [
        {
            "name": "idle: failure_ratio",
            "metric": "failure_ratio",
            "limit": 0.0,
            "passed": False,
            "reason": "no data: no request finished",
            "target": "idle",
        }
    ]


def test_a_harness_failure_on_any_target_is_the_harness_s_own() -> None:
    stats = stats_of([stream("a", 0.1), failed("b", ErrorClass.HARNESS_INTERNAL)])
    summary = targets_summary(stats, {"a": None, "b": None})
    assert summary["modes"]["stream"]["errors"] == {}  # the first target's figures
    assert harness_failures(summary) == 1


def test_each_target_gets_its_own_quantiles_and_the_run_the_first_target_s() -> None:
    stats, summary = fast_and_slow()
    done = complete_summary(summary, stats=stats, config=None, timeline=None)
    fast = done["targets"]["fast"]["modes"]["stream"]["quantiles"]
    slow = done["targets"]["slow"]["modes"]["stream"]["quantiles"]
    p50 = fast["percentiles"].index(50)
    assert fast["ttft_s"][p50] == pytest.approx(0.101, rel=0.002)
    assert slow["ttft_s"][p50] == pytest.approx(0.302, rel=0.002)
    assert done["modes"]["stream"]["quantiles"] == fast


def test_a_run_with_a_gateway_gets_its_overhead() -> None:
    stats, summary = gateway_and_direct(0.030)
    done = complete_summary(summary, stats=stats, config=None, timeline=None)
    assert [(i["target"], i["mode"]) for i in done["gateway_overhead"]] == [("gw", "stream")]


def test_a_run_without_a_gateway_has_no_overhead_block() -> None:
    stats, summary = fast_and_slow()
    done = complete_summary(summary, stats=stats, config=None, timeline=None)
    assert "gateway_overhead" not in done


def test_a_completed_summary_with_targets_validates_against_the_schema() -> None:
    stats, summary = gateway_and_direct(0.030)
    config = config_of(
        [
            TargetSpec("direct", "http://127.0.0.1:8001/v1", pricing={"*": Price(1.0, 2.0)}),
            TargetSpec("gw", "http://127.0.0.1:8002/v1", via="direct"),
        ],
        slos=(SLO("ttft", 0.5, mode="stream", percentile=95),),
        pricing={"m": Price(3.0, 4.0)},
    )
    done = complete_summary(summary, stats=stats, config=config, timeline=None)
    assert set(done) >= {"targets", "gateway_overhead", "cost", "slos"}
    assert schema_errors(done) == []


def test_the_schema_refuses_a_target_without_its_modes_and_an_unknown_overhead_figure() -> None:
    stats, summary = gateway_and_direct(0.030)
    done = complete_summary(summary, stats=stats, config=None, timeline=None)
    broken = copy.deepcopy(done)
    del broken["targets"]["gw"]["modes"]
    broken["gateway_overhead"][0]["figures"]["tpot_s"] = broken["gateway_overhead"][0]["figures"][
        "ttft_s"
    ]
    assert schema_errors(broken) == [
        "$.gateway_overhead[0].figures: Additional properties are not allowed "
        "('tpot_s' was unexpected)",
        "$.targets.gw: 'modes' is a required property",
    ]


def test_a_one_target_run_is_completed_as_before() -> None:
    records = [stream("", v) for v in spread(0.1, 0.2, 20)]
    stats = stats_of(records)
    summary = build_summary(stats.summary(DURATION_S), run=RUN)
    config = RunConfig(
        target=Target.parse("http://127.0.0.1:8001/v1"),
        model="m",
        max_tokens=None,
        temperature=None,
        chat=True,
        api_key=None,
        timeouts=Timeouts(),
        out_dir="",
        slos=with_default_failure_gate(()),
        pricing={"m": Price(1.0, 1.0)},
    )
    done = complete_summary(summary, stats=stats, config=config, timeline=None)
    assert "targets" not in done
    assert "gateway_overhead" not in done
    assert [s["name"] for s in done["slos"]] == ["failure_ratio"]
    assert "target" not in done["slos"][0]
    assert done["cost"]["total"] == pytest.approx(20 * (20 + 8) / 1e6)


def test_a_target_view_is_the_summary_of_that_target_alone() -> None:
    stats, summary = fast_and_slow()
    config = config_of(
        [TargetSpec("fast", "http://127.0.0.1:8001/v1"), TargetSpec("slow", "http://b:1/v1")]
    )
    done = complete_summary(summary, stats=stats, config=config, timeline=None)
    view = target_view(done, "slow")
    assert "targets" not in view
    assert view["modes"]["stream"]["requests"] == 200
    assert view["modes"]["stream"]["ttft_s"]["p50"] == pytest.approx(0.302, rel=0.002)
    assert [s["name"] for s in view["slos"]] == ["slow: failure_ratio"]

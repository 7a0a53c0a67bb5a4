"""Unit tests of harness.stats: histograms, group accounting, deltas and the summary."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest

from harness.errors import ErrorClass, Mode, Outcome
from harness.record import RequestRecord
from harness.stats import (
    FROM_SCHEDULE,
    GAMMA,
    HISTOGRAM_NAMES,
    RELATIVE_ERROR,
    GroupStats,
    LagWindow,
    LatencyHistogram,
    RunStats,
    histogram_since,
)

# ---------------------------------------------------------------- helpers


def nearest_rank(values: list[float], p: float) -> float:
    """Reference percentile by sorting: rank = ceil(p/100 · n), at least 1."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p * len(ordered) / 100))
    return ordered[rank - 1]


def histogram_of(values: list[float]) -> LatencyHistogram:
    h = LatencyHistogram()
    for v in values:
        h.record(v)
    return h


def lognormal_values(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.lognormvariate(math.log(0.05), 1.2) for _ in range(n)]


def approx_tree(x: Any) -> Any:
    """`x` with every float replaced by pytest.approx (sums depend on addition order)."""
    if isinstance(x, float):
        return pytest.approx(x, rel=1e-12, abs=1e-15)
    if isinstance(x, dict):
        return {k: approx_tree(v) for k, v in x.items()}
    if isinstance(x, list):
        return [approx_tree(v) for v in x]
    return x


def sorted_groups(wire: dict[str, Any]) -> dict[str, Any]:
    groups = sorted(wire["groups"], key=lambda g: (g["mode"], g["model"]))
    return {"v": wire["v"], "groups": groups}


def stream_record(
    n_tokens: int = 64,
    *,
    model: str = "m",
    t0: float = 100.0,
    headers_s: float = 0.05,
    ttft_s: float = 0.2,
    itl_s: float = 0.02,
    server_tokens: int | None = -1,
    cumulative: bool = False,
    outcome: Outcome = Outcome.OK,
) -> RequestRecord:
    """A stream record with `n_tokens` one-token chunks `itl_s` apart.

    server_tokens -1 means "the server reported n_tokens"; None means no usage.
    """
    r = RequestRecord(mode=Mode.STREAM, model=model, endpoint="/v1/chat/completions")
    r.t0 = t0
    r.t_headers = t0 + headers_s
    t = t0 + ttft_s
    for i in range(n_tokens):
        r.on_token_event(t, visible=True, cumulative_tokens=i + 1 if cumulative else None)
        t += itl_s
    r.t_end = t - itl_s + 0.001 if n_tokens else t0 + ttft_s
    r.server_output_tokens = n_tokens if server_tokens == -1 else server_tokens
    r.input_tokens = 20
    r.outcome = outcome
    r.finish_reason = "stop"
    return r


def failed_stream_record(
    n_tokens: int, error: ErrorClass = ErrorClass.STREAM_RESET
) -> RequestRecord:
    r = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/chat/completions")
    r.t0 = 10.0
    r.t_headers = 10.05
    for i in range(n_tokens):
        r.on_token_event(10.2 + 0.02 * i, visible=True)
    r.fail(error, 10.2 + 0.02 * n_tokens)
    return r


def batch_record(
    e2e_s: float = 1.5, *, model: str = "m", outcome: Outcome = Outcome.OK
) -> RequestRecord:
    r = RequestRecord(mode=Mode.BATCH, model=model, endpoint="/v1/chat/completions")
    r.t0 = 50.0
    r.t_headers = 50.0 + e2e_s - 0.01
    r.t_end = 50.0 + e2e_s
    r.server_output_tokens = 64
    r.input_tokens = 20
    r.outcome = outcome
    return r


def cancelled_stream_record() -> RequestRecord:
    r = stream_record(10, outcome=Outcome.CANCELLED)
    r.note("usage_before_done")
    return r


# ---------------------------------------------------------------- LatencyHistogram


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentiles_are_within_a_tenth_of_a_percent_of_sorted_reference(
    seed: int,
) -> None:
    values = lognormal_values(5_000, seed)
    h = histogram_of(values)
    for p in (0, 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100):
        expected = nearest_rank(values, p)
        got = h.percentile(p)
        assert got is not None
        assert abs(got - expected) <= 0.001 * expected, (p, got, expected)


def test_relative_error_bound_is_below_a_tenth_of_a_percent() -> None:
    assert RELATIVE_ERROR < 0.001


def test_percentiles_across_many_decades() -> None:
    values = [10.0**e for e in range(-6, 4)] + [3e-6, 7.5e-4, 0.25, 42.0]
    h = histogram_of(values)
    for p in range(0, 101, 5):
        expected = nearest_rank(values, p)
        assert h.percentile(p) == pytest.approx(expected, rel=1e-3)


def test_min_and_max_percentiles_are_exact() -> None:
    values = lognormal_values(1_000, 4)
    h = histogram_of(values)
    assert h.percentile(0) == min(values)
    assert h.percentile(100) == max(values)


def test_percentile_is_clamped_into_min_max() -> None:
    # one bucket: its representative value lies between the two values, or outside them
    h = histogram_of([1.0, 1.0, 1.0])
    assert h.percentile(50) == 1.0


def test_count_sum_min_max_and_mean_are_exact() -> None:
    h = histogram_of([0.5, 0.25, 2.0, 0.125])
    assert h.count == 4
    assert h.sum == 2.875
    assert h.min == 0.125
    assert h.max == 2.0
    assert h.mean == 2.875 / 4


def test_empty_histogram_has_no_figures() -> None:
    h = LatencyHistogram()
    assert h.count == 0
    assert h.percentile(50) is None
    assert h.percentiles([50, 99]) == [None, None]
    assert h.mean is None
    assert h.min is None
    assert h.max is None
    assert h.summary() is None
    assert h.count_le(1.0) == 0


def test_zeros_have_their_own_bucket() -> None:
    h = histogram_of([0.0, 0.0, 0.0, 1.0])
    assert h.count == 4
    assert h.min == 0.0
    assert h.percentile(50) == 0.0
    assert h.percentile(75) == 0.0
    assert h.percentile(76) == 1.0
    assert h.count_le(0.0) == 3
    assert h.count_le(0.5) == 3
    assert h.count_le(1.0) == 4


@pytest.mark.parametrize("bad", [-1e-9, -1.0, math.nan])
def test_negative_or_nan_duration_is_refused(bad: float) -> None:
    h = LatencyHistogram()
    with pytest.raises(ValueError, match="duration must be >= 0"):
        h.record(bad)
    assert h.count == 0


@pytest.mark.parametrize("p", [-0.1, 100.1, math.nan])
def test_percentile_outside_0_to_100_is_refused(p: float) -> None:
    with pytest.raises(ValueError, match=r"percentile must be in 0\.\.100"):
        histogram_of([1.0]).percentile(p)


def test_summary_has_exactly_the_contract_keys() -> None:
    values = lognormal_values(1_000, 5)
    summary = histogram_of(values).summary()
    assert summary is not None
    assert list(summary) == ["count", "min", "mean", "p50", "p90", "p95", "p99", "max", "ci95"]
    assert summary["count"] == 1_000
    assert summary["mean"] == pytest.approx(sum(values) / len(values), rel=1e-12)
    for key, p in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99)):
        assert summary[key] == pytest.approx(nearest_rank(values, p), rel=1e-3)
    assert summary["max"] == max(values)


def test_merge_equals_one_histogram_fed_both() -> None:
    a_values = lognormal_values(2_000, 6)
    b_values = [*lognormal_values(1_500, 7), 0.0]
    merged = histogram_of(a_values)
    merged.merge(histogram_of(b_values))
    whole = histogram_of(a_values + b_values)
    assert merged.to_wire() == approx_tree(whole.to_wire())
    assert merged.summary() == approx_tree(whole.summary())


def test_merge_into_empty_and_of_empty() -> None:
    values = lognormal_values(100, 8)
    h = LatencyHistogram()
    h.merge(histogram_of(values))
    h.merge(LatencyHistogram())
    assert h.to_wire() == histogram_of(values).to_wire()


def test_copy_is_independent() -> None:
    h = histogram_of([0.1, 0.2])
    c = h.copy()
    c.record(5.0)
    assert h.count == 2
    assert h.max == 0.2
    assert c.count == 3


def test_record_many_equals_record_one_by_one() -> None:
    values = [*lognormal_values(500, 9), 0.0, 0.0]
    h = LatencyHistogram()
    assert h.record_many(values) == len(values)
    assert h.to_wire() == approx_tree(histogram_of(values).to_wire())


def test_record_many_keeps_counts_consistent_when_a_value_is_refused() -> None:
    h = LatencyHistogram()
    with pytest.raises(ValueError, match="duration must be >= 0"):
        h.record_many([0.1, 0.0, -1.0, 0.3])
    assert h.count == 2
    assert sum(h.to_wire()["n"]) + h.to_wire()["zeros"] == 2
    assert h.max == 0.1


def test_wire_round_trip() -> None:
    h = histogram_of([*lognormal_values(1_000, 10), 0.0])
    back = LatencyHistogram.from_wire(h.to_wire())
    assert back.to_wire() == h.to_wire()
    assert back.summary() == h.summary()


def test_empty_histogram_wire_round_trip() -> None:
    back = LatencyHistogram.from_wire(LatencyHistogram().to_wire())
    assert back.count == 0
    assert back.summary() is None
    back.record(0.5)
    assert back.min == back.max == 0.5


def test_histogram_wire_survives_msgpack() -> None:
    h = histogram_of([*lognormal_values(1_000, 11), 0.0])
    packed = msgpack.packb(h.to_wire(), use_bin_type=True)
    back = LatencyHistogram.from_wire(msgpack.unpackb(packed, raw=False))
    assert back.to_wire() == h.to_wire()


def test_histogram_wire_with_mismatched_lists_is_refused() -> None:
    wire = histogram_of([0.1, 0.2]).to_wire()
    wire["n"] = [*wire["n"], 1]
    with pytest.raises(ValueError, match="differ in length"):
        LatencyHistogram.from_wire(wire)


DESIGN_TTFT_BOUNDS = [
    *(ms / 1000 for ms in (10, 20, 30, 40, 50, 60, 80, 100, 150, 200, 250, 300)),
    *(ms / 1000 for ms in (400, 500, 750)),
    *(1, 1.5, 2, 2.5, 3, 5, 7.5, 10, 15, 20, 30, 40, 60, 80),
]


def test_count_le_never_undercounts_and_overcounts_only_just_above_the_bound() -> None:
    values = lognormal_values(20_000, 12)
    # values sitting exactly on the bounds, and just above them
    values += DESIGN_TTFT_BOUNDS + [b * 1.0005 for b in DESIGN_TTFT_BOUNDS]
    h = histogram_of(values)
    for bound in DESIGN_TTFT_BOUNDS:
        exact = sum(v <= bound for v in values)
        within_gamma = sum(v <= bound * GAMMA for v in values)
        assert exact <= h.count_le(bound) <= within_gamma, bound


def test_count_le_is_exact_at_bucket_upper_edges() -> None:
    values = lognormal_values(20_000, 13)
    h = histogram_of(values)
    for bound in DESIGN_TTFT_BOUNDS:
        edge = LatencyHistogram.upper_edge(bound)
        assert bound <= edge < bound * GAMMA
        assert h.count_le(edge) == sum(v <= edge for v in values), bound
        # the edge itself is counted, the next float up is not
        above = math.nextafter(edge, math.inf)
        assert histogram_of([edge, above, 1e9]).count_le(edge) == 1


def test_count_le_outside_the_data_range_is_exact() -> None:
    h = histogram_of([0.1, 0.2, 0.3])
    assert h.count_le(0.0999999) == 0
    assert h.count_le(-1.0) == 0
    assert h.count_le(0.3) == 3
    assert h.count_le(1e9) == 3


def test_cumulative_counts_accept_bounds_in_any_order() -> None:
    values = lognormal_values(2_000, 14)
    h = histogram_of(values)
    bounds = [0.5, 0.01, 0.1, 5.0, 0.05, 0.1]
    assert h.cumulative_counts(bounds) == [h.count_le(b) for b in bounds]


def test_upper_edge_needs_a_positive_value() -> None:
    with pytest.raises(ValueError, match="positive"):
        LatencyHistogram.upper_edge(0.0)


# ---------------------------------------------------------------- GroupStats


def test_timed_stream_record_fills_every_stream_histogram() -> None:
    g = GroupStats("stream", "m")
    g.observe(stream_record())
    assert g.ttft_s.min == pytest.approx(0.2)
    assert g.ttfc_s.min == pytest.approx(0.2)
    assert g.first_visible_s.min == pytest.approx(0.2)
    assert g.ttfb_s.min == pytest.approx(0.05)
    assert g.tpot_s.min == pytest.approx(0.02)
    assert g.e2e_s.min == pytest.approx(0.2 + 63 * 0.02 + 0.001)
    assert g.inter_chunk_s.count == 63
    assert g.itl_s.percentile(50) == pytest.approx(0.02, rel=1e-3)
    assert g.requests == 1
    assert g.outcomes == {"ok": 1}
    assert g.errors == {}
    assert g.output_tokens == 64
    assert g.output_tokens_by_source == {"server": 64, "client": 0}
    assert g.input_tokens == 20
    assert g.itl_basis_unknown == 0


def test_64_token_stream_record_gives_63_itl_samples() -> None:
    g = GroupStats("stream", "m")
    g.observe(stream_record(64))
    assert g.itl_s.count == 63


def test_continuous_usage_stream_record_gives_63_itl_samples() -> None:
    g = GroupStats("stream", "m")
    g.observe(stream_record(64, cumulative=True))
    assert g.itl_s.count == 63
    assert g.itl_basis_unknown == 0


def test_failed_record_counts_error_and_partial_tokens_but_no_latency() -> None:
    g = GroupStats("stream", "m")
    g.observe(failed_stream_record(10))
    assert all(h.count == 0 for h in g.histograms().values())
    assert g.requests == 1
    assert g.outcomes == {"failed": 1}
    assert g.errors == {"stream_reset": 1}
    assert g.partial_output_tokens == 10
    assert g.failed_after_first_token == 1
    assert g.output_tokens == 0
    assert g.output_tokens_by_source == {"server": 0, "client": 0}


def test_failure_before_first_token_has_no_partial_tokens() -> None:
    g = GroupStats("stream", "m")
    g.observe(failed_stream_record(0, ErrorClass.CONNECT_REFUSED))
    assert g.errors == {"connect_refused": 1}
    assert g.partial_output_tokens == 0
    assert g.failed_after_first_token == 0


def test_empty_outcome_stays_out_of_histograms() -> None:
    g = GroupStats("stream", "m")
    g.observe(stream_record(0, server_tokens=0, outcome=Outcome.EMPTY))
    assert all(h.count == 0 for h in g.histograms().values())
    assert g.outcomes == {"empty": 1}
    assert g.output_tokens == 0


def test_cancelled_record_counts_only_in_requests_and_outcomes() -> None:
    g = GroupStats("stream", "m")
    g.observe(cancelled_stream_record())
    assert g.requests == 1
    assert g.outcomes == {"cancelled": 1}
    assert all(h.count == 0 for h in g.histograms().values())
    assert g.errors == {}
    assert g.output_tokens == 0
    assert g.input_tokens == 0
    assert g.partial_output_tokens == 0
    assert g.anomalies == {}


def test_batch_record_has_no_stream_figures() -> None:
    g = GroupStats("batch", "m")
    g.observe(batch_record(1.5))
    assert g.e2e_s.min == pytest.approx(1.5)
    assert g.first_visible_s.min == pytest.approx(1.5)
    assert g.ttfb_s.count == 1
    for name in ("ttft_s", "ttfc_s", "itl_s", "inter_chunk_s", "tpot_s"):
        assert g.histograms()[name].count == 0, name
    assert g.output_tokens == 64
    assert g.itl_basis_unknown == 0


def test_unknown_tokens_per_chunk_counts_itl_basis_unknown() -> None:
    g = GroupStats("stream", "m")
    g.observe(stream_record(64, server_tokens=None))
    assert g.itl_s.count == 0
    assert g.inter_chunk_s.count == 63
    assert g.itl_basis_unknown == 1
    assert g.output_tokens_by_source == {"server": 0, "client": 64}


def test_one_chunk_stream_does_not_flag_itl_basis() -> None:
    g = GroupStats("stream", "m")
    g.observe(stream_record(1, server_tokens=None))
    assert g.inter_chunk_s.count == 0
    assert g.tpot_s.count == 0
    assert g.itl_basis_unknown == 0


def test_token_count_mismatch_is_counted() -> None:
    g = GroupStats("stream", "m")
    g.observe(stream_record(64, server_tokens=70))
    assert g.token_count_mismatch == 1
    assert g.output_tokens == 70
    assert g.itl_basis_unknown == 1


def test_anomalies_are_summed_by_kind() -> None:
    g = GroupStats("stream", "m")
    for _ in range(2):
        r = stream_record(4)
        r.note("usage_before_done")
        r.note("duplicate_done", 2)
        g.observe(r)
    assert g.anomalies == {"usage_before_done": 2, "duplicate_done": 4}


def test_record_without_outcome_counts_as_unknown_and_is_not_timed() -> None:
    g = GroupStats("stream", "m")
    r = stream_record(4)
    r.outcome = None
    g.observe(r)
    assert g.outcomes == {"unknown": 1}
    assert all(h.count == 0 for h in g.histograms().values())


def test_group_copy_is_independent() -> None:
    g = GroupStats("stream", "m")
    g.observe(stream_record())
    c = g.copy()
    c.observe(failed_stream_record(3))
    assert g.requests == 1
    assert g.errors == {}
    assert c.requests == 2
    assert c.ttft_s.count == 1


def test_group_wire_round_trip_through_msgpack() -> None:
    g = GroupStats("stream", "m")
    for r in (stream_record(), failed_stream_record(5), cancelled_stream_record()):
        g.observe(r)
    wire = msgpack.unpackb(msgpack.packb(g.to_wire(), use_bin_type=True), raw=False)
    assert GroupStats.from_wire(wire).to_wire() == g.to_wire()


def test_group_wire_leaves_out_empty_histograms() -> None:
    g = GroupStats("batch", "m")
    g.observe(batch_record())
    assert set(g.to_wire()["histograms"]) == {"e2e_s", "first_visible_s", "ttfb_s"}


# ---------------------------------------------------------------- RunStats


def mixed_records(n: int, seed: int) -> list[RequestRecord]:
    rng = random.Random(seed)
    out: list[RequestRecord] = []
    for _ in range(n):
        kind = rng.random()
        model = rng.choice(["a", "b"])
        if kind < 0.5:
            out.append(
                stream_record(
                    rng.randint(1, 80),
                    model=model,
                    ttft_s=rng.uniform(0.05, 0.5),
                    itl_s=rng.uniform(0.005, 0.05),
                    server_tokens=rng.choice([-1, None]),
                )
            )
        elif kind < 0.8:
            out.append(batch_record(rng.uniform(0.2, 5.0), model=model))
        elif kind < 0.95:
            out.append(failed_stream_record(rng.randint(0, 20)))
        else:
            out.append(cancelled_stream_record())
    return out


def assert_wire_equal(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert sorted_groups(actual) == approx_tree(sorted_groups(expected))


def test_take_delta_returns_only_new_data() -> None:
    stats = RunStats()
    stats.observe(stream_record())
    stats.observe(batch_record())
    first = stats.take_delta()
    stats.observe(batch_record(2.0))
    second = stats.take_delta()
    assert [(g["mode"], g["requests"]) for g in second["groups"]] == [("batch", 1)]
    (batch,) = second["groups"]
    assert batch["histograms"]["e2e_s"]["count"] == 1
    assert batch["histograms"]["e2e_s"]["min"] == pytest.approx(2.0)
    assert sum(g["requests"] for g in first["groups"]) == 2


def test_take_delta_with_nothing_new_is_empty() -> None:
    stats = RunStats()
    stats.observe(stream_record())
    stats.take_delta()
    assert stats.take_delta()["groups"] == []


def test_merged_deltas_equal_the_whole() -> None:
    records = mixed_records(400, 15)
    worker, reference, master = RunStats(), RunStats(), RunStats()
    for i, r in enumerate(records):
        worker.observe(r)
        reference.observe(r)
        if i % 37 == 0:
            wire = worker.take_delta()
            master.merge_wire(msgpack.unpackb(msgpack.packb(wire), raw=False))
    master.merge_wire(worker.take_delta())  # the final report at stop
    assert_wire_equal(master.to_wire(), reference.to_wire())
    assert_wire_equal(worker.to_wire(), reference.to_wire())
    assert master.summary(60.0) == approx_tree(reference.summary(60.0))


def test_deltas_from_two_workers_merge_into_their_union() -> None:
    records = mixed_records(200, 16)
    workers = [RunStats(), RunStats()]
    reference, master = RunStats(), RunStats()
    for i, r in enumerate(records):
        workers[i % 2].observe(r)
        reference.observe(r)
    for w in workers:
        master.merge_wire(w.take_delta())
    assert_wire_equal(master.to_wire(), reference.to_wire())


def test_groups_cover_taken_and_pending_data() -> None:
    stats = RunStats()
    stats.observe(stream_record())
    stats.take_delta()
    stats.observe(stream_record())
    stats.observe(batch_record())
    by_key = {(g.mode, g.model): g.requests for g in stats.groups()}
    assert by_key == {("stream", "m"): 2, ("batch", "m"): 1}
    # reading does not disturb the delta
    assert sum(g["requests"] for g in stats.take_delta()["groups"]) == 2


def test_merge_wire_refuses_another_version() -> None:
    with pytest.raises(ValueError, match="wire version"):
        RunStats().merge_wire({"v": 999, "groups": []})


def test_reset_forgets_everything() -> None:
    stats = RunStats()
    stats.observe(stream_record())
    stats.take_delta()
    stats.observe(stream_record())
    stats.reset()
    assert list(stats.groups()) == []
    assert stats.summary(10.0) == {}
    assert stats.take_delta()["groups"] == []


def wire_types_are_plain(x: Any) -> bool:
    if isinstance(x, dict):
        return all(isinstance(k, str) and wire_types_are_plain(v) for k, v in x.items())
    if isinstance(x, list):
        return all(wire_types_are_plain(v) for v in x)
    return x is None or type(x) in (int, float, str)


def test_run_wire_has_only_str_keys_lists_and_plain_numbers() -> None:
    stats = RunStats()
    for r in mixed_records(100, 17):
        stats.observe(r)
    assert wire_types_are_plain(stats.to_wire())


# ---------------------------------------------------------------- summary


def test_summary_stream_figures() -> None:
    stats = RunStats()
    stats.observe(stream_record())
    stream = stats.summary(10.0)["stream"]
    assert stream["requests"] == 1
    assert stream["outcomes"] == {"ok": 1}
    assert stream["ttft_s"]["p50"] == pytest.approx(0.2, rel=1e-3)
    assert stream["itl_s"]["count"] == 63
    assert stream["itl_basis"] == "per_token"
    assert stream["output_tokens"] == 64
    # a closed-loop request has no due time; this answer called no tool
    closed_loop = set(HISTOGRAM_NAMES) - {"schedule_lag_s", "tool_call_s", *FROM_SCHEDULE}
    assert closed_loop <= set(stream)
    assert "schedule_lag_s" not in stream  # a closed-loop request has no due time
    assert "from_schedule" not in stream


def test_summary_has_no_key_for_a_figure_with_no_data() -> None:
    stats = RunStats()
    stats.observe(batch_record())
    stats.observe(failed_stream_record(3))
    modes = stats.summary(10.0)
    batch, stream = modes["batch"], modes["stream"]
    for name in ("ttft_s", "ttfc_s", "itl_s", "inter_chunk_s", "tpot_s", "itl_basis"):
        assert name not in batch, name
    assert {"e2e_s", "first_visible_s", "ttfb_s"} <= set(batch)
    for name in (*HISTOGRAM_NAMES, "itl_basis"):
        assert name not in stream, name
    assert stream["partial_output_tokens"] == 3
    assert stream["failed_after_first_token"] == 1
    assert stream["errors"] == {"stream_reset": 1}


def test_summary_requests_per_s_arithmetic() -> None:
    stats = RunStats()
    for _ in range(30):
        stats.observe(batch_record())
    for _ in range(10):
        stats.observe(failed_stream_record(0))
    stats.observe(cancelled_stream_record())  # in flight at stop: not a completed request
    modes = stats.summary(20.0)
    assert modes["batch"]["requests_per_s"] == 1.5
    assert modes["batch"]["output_tokens_per_s"] == 30 * 64 / 20.0
    assert modes["stream"]["requests"] == 11
    assert modes["stream"]["requests_per_s"] == 0.5
    assert modes["stream"]["output_tokens_per_s"] == 0.0


@pytest.mark.parametrize("duration_s", [0.0, -1.0])
def test_summary_rates_absent_without_a_positive_duration(duration_s: float) -> None:
    stats = RunStats()
    stats.observe(batch_record())
    batch = stats.summary(duration_s)["batch"]
    assert "requests_per_s" not in batch
    assert "output_tokens_per_s" not in batch


def test_summary_itl_basis_is_inter_chunk_when_any_stream_lacked_token_counts() -> None:
    stats = RunStats()
    stats.observe(stream_record(64))
    stats.observe(stream_record(64, server_tokens=None))
    stream = stats.summary(10.0)["stream"]
    assert stream["itl_basis"] == "inter_chunk"
    assert stream["itl_s"]["count"] == 63  # the per-token subset
    assert stream["inter_chunk_s"]["count"] == 126


def test_summary_itl_basis_is_inter_chunk_when_no_token_counts_at_all() -> None:
    stats = RunStats()
    stats.observe(stream_record(64, server_tokens=None))
    stream = stats.summary(10.0)["stream"]
    assert stream["itl_basis"] == "inter_chunk"
    assert "itl_s" not in stream


def test_summary_models_subdict_only_when_a_mode_saw_several_models() -> None:
    stats = RunStats()
    stats.observe(stream_record(model="a"))
    stats.observe(stream_record(model="b", ttft_s=0.4))
    stats.observe(batch_record(model="a"))
    modes = stats.summary(10.0)
    assert "models" not in modes["batch"]
    models = modes["stream"]["models"]
    assert list(models) == ["a", "b"]
    assert models["b"]["ttft_s"]["max"] == pytest.approx(0.4)
    assert "models" not in models["a"]
    assert modes["stream"]["requests"] == 2
    assert modes["stream"]["ttft_s"]["count"] == 2


def test_summary_lists_stream_before_batch() -> None:
    stats = RunStats()
    stats.observe(batch_record())
    stats.observe(stream_record())
    assert list(stats.summary(1.0)) == ["stream", "batch"]


def test_summary_is_json_serialisable() -> None:
    stats = RunStats()
    for r in mixed_records(100, 18):
        stats.observe(r)
    text = json.dumps(stats.summary(30.0))
    assert json.loads(text)["stream"]["requests"] > 0


# ---------------------------------------------------------------- tail, reconnects, back-off


def test_tail_is_last_token_to_end_of_timed_streams_only() -> None:
    g = GroupStats("stream", "m")
    r = stream_record(8, t0=100.0, ttft_s=0.2, itl_s=0.02)  # last token at 100.34, end 100.341
    r.t_end = 100.34 + 0.170  # a gateway's 170 ms from the last token to [DONE]
    g.observe(r)
    assert g.tail_s.count == 1
    assert g.tail_s.min == pytest.approx(0.170, abs=1e-9)
    g.observe(failed_stream_record(3))  # failed: no latency at all
    g.observe(batch_record())  # batch: no tail
    answered = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/chat/completions")
    answered.t0, answered.t_headers, answered.t_end = 1.0, 1.1, 1.2
    answered.outcome = Outcome.OK
    answered.note("stream_not_honored")  # one JSON body: no token event, so no tail
    g.observe(answered)
    assert g.tail_s.count == 1
    assert g.e2e_s.count == 3  # the stream, the batch answer and the JSON answer


def test_reconnects_and_backoff_are_summed_over_every_request_cancelled_included() -> None:
    g = GroupStats("stream", "m")
    ok = stream_record(4)
    ok.reconnects, ok.backoff_s = 1, 0.25
    failed = failed_stream_record(0, ErrorClass.CONNECT_REFUSED)
    failed.backoff_s = 0.5
    cancelled = cancelled_stream_record()
    cancelled.reconnects, cancelled.backoff_s = 2, 0.125
    for r in (ok, failed, cancelled):
        g.observe(r)
    assert g.reconnects == 3
    assert g.backoff_s == 0.875
    summary = g.summary(10.0)
    assert (summary["reconnects"], summary["backoff_s"]) == (3, 0.875)


def test_token_count_excess_counts_usage_above_the_chunks_received() -> None:
    g = GroupStats("stream", "m")
    g.observe(stream_record(5, server_tokens=8))  # usage 8, 5 tokens arrived: excess
    g.observe(stream_record(5, server_tokens=4))  # usage 4, 5 chunks: mismatch, no excess
    g.observe(stream_record(5))  # agree
    assert (g.token_count_mismatch, g.token_count_excess) == (2, 1)
    summary = g.summary(1.0)
    assert (summary["token_count_mismatch"], summary["token_count_excess"]) == (2, 1)


def test_the_new_summary_keys_of_a_mode_have_exact_values() -> None:
    stats = RunStats()
    for reconnects, backoff in ((0, 0.0), (1, 0.0), (0, 1.5)):
        r = stream_record(8, t0=10.0, ttft_s=0.2, itl_s=0.02)
        r.t_end = r.t_last_token + 0.004 if r.t_last_token is not None else None
        r.reconnects, r.backoff_s = reconnects, backoff
        stats.observe(r)
    stream = stats.summary(10.0)["stream"]
    assert stream["reconnects"] == 1
    assert stream["backoff_s"] == 1.5
    assert stream["token_count_excess"] == 0
    assert stream["tail_s"]["count"] == 3
    assert stream["tail_s"]["p50"] == pytest.approx(0.004, rel=1e-3)
    assert stream["ttfb_s"]["p50"] == pytest.approx(0.05, rel=1e-3)
    batch = RunStats()
    batch.observe(batch_record())
    figures = batch.summary(10.0)["batch"]
    assert "tail_s" not in figures
    assert (figures["reconnects"], figures["backoff_s"]) == (0, 0.0)


def test_wire_v6_carries_the_target_tail_reconnects_backoff_excess_tools_and_reasoning() -> None:
    worker, master = RunStats(), RunStats()
    r = stream_record(5, server_tokens=8)
    r.reconnects, r.backoff_s = 2, 0.75
    r.target = "gateway"
    r.t_first_tool_call, r.tool_call_bytes = r.t0 + 0.3, 40
    r.reasoning_tokens = 6
    worker.observe(r)
    wire = msgpack.unpackb(msgpack.packb(worker.take_delta(), use_bin_type=True), raw=False)
    assert wire["v"] == 6
    master.merge_wire(wire)
    [group] = master.groups()
    assert group.target == "gateway"
    assert (group.reconnects, group.backoff_s, group.token_count_excess) == (2, 0.75, 1)
    assert group.tail_s.count == 1
    assert group.tool_call_s.count == 1
    assert (group.tool_call_requests, group.tool_call_bytes) == (1, 40)
    assert (group.reasoning_requests, group.reasoning_tokens) == (1, 6)
    assert group.reasoning_output_tokens == 8
    with pytest.raises(ValueError, match="wire version 5"):
        master.merge_wire({"v": 5, "groups": []})  # a worker of the previous version


# ---------------------------------------------------------------- tool calls and reasoning


def tool_call_record(tool_call_s: float, argument_bytes: int) -> RequestRecord:
    r = stream_record(4)
    r.on_tool_call(r.t0 + tool_call_s, argument_bytes)
    return r


def test_tool_calls_give_a_latency_block_and_their_argument_bytes() -> None:
    stats = RunStats()
    stats.observe(tool_call_record(0.3, 20))
    stats.observe(tool_call_record(0.5, 12))
    stats.observe(stream_record(4))  # no tool call: not in the figures
    stream = stats.summary(10.0)["stream"]
    assert stream["tool_call_s"]["count"] == 2
    assert stream["tool_call_s"]["max"] == pytest.approx(0.5, rel=1e-3)
    assert stream["tool_call_bytes"] == 32


def test_a_failed_request_s_tool_call_is_not_counted() -> None:
    stats = RunStats()
    r = failed_stream_record(3)
    r.on_tool_call(10.25, 9)
    stats.observe(r)
    stream = stats.summary(10.0)["stream"]
    assert "tool_call_s" not in stream
    assert "tool_call_bytes" not in stream


def test_reasoning_share_is_over_the_requests_that_reported_both() -> None:
    stats = RunStats()
    for reasoning, output in ((30, 40), (10, 60)):
        r = stream_record(4, server_tokens=output)
        r.reasoning_tokens = reasoning
        stats.observe(r)
    stats.observe(stream_record(4, server_tokens=100))  # no reasoning reported: left out
    no_usage = stream_record(4, server_tokens=None)
    no_usage.reasoning_tokens = 3  # no output count to divide by: left out
    stats.observe(no_usage)
    stream = stats.summary(10.0)["stream"]
    assert stream["reasoning_tokens"] == 40
    assert stream["reasoning_share"] == pytest.approx(40 / 100)


def test_without_tool_calls_or_reasoning_their_figures_are_absent_not_zero() -> None:
    stats = RunStats()
    stats.observe(stream_record(4))
    stats.observe(batch_record())
    for figures in stats.summary(10.0).values():
        for name in ("tool_call_s", "tool_call_bytes", "reasoning_tokens", "reasoning_share"):
            assert name not in figures, name


def test_each_target_has_its_own_figures_and_none_is_all_of_them() -> None:
    stats = RunStats()
    for target, tokens in (("fast", 3), ("fast", 3), ("slow", 7)):
        r = stream_record(tokens)
        r.target = target
        stats.observe(r)
    assert stats.target_names() == ["fast", "slow"]
    assert stats.summary(10.0, target="fast")["stream"]["requests"] == 2
    assert stats.summary(10.0, target="slow")["stream"]["output_tokens"] == 7
    assert stats.summary(10.0)["stream"]["requests"] == 3
    assert stats.summary(10.0, target="other") == {}


# ---------------------------------------------------------------- deltas of a cumulative histogram


def test_histogram_since_is_what_was_recorded_between_two_snapshots() -> None:
    cumulative = histogram_of([0.010, 0.020, 0.0])
    then = LatencyHistogram.from_wire(cumulative.to_wire())
    later = [0.005, 0.030, 0.030, 0.0]
    for v in later:
        cumulative.record(v)
    since = histogram_since(cumulative, then)
    alone = histogram_of(later)
    assert since.count == alone.count
    assert since.sum == pytest.approx(alone.sum)
    assert since.to_wire()["index"] == alone.to_wire()["index"]
    assert since.to_wire()["n"] == alone.to_wire()["n"]
    assert since.to_wire()["zeros"] == 1
    for p in (50, 90, 99):
        assert since.percentile(p) == alone.percentile(p)


def test_histogram_since_takes_min_and_max_from_bucket_edges_clamped_to_the_run() -> None:
    cumulative = histogram_of([0.001])
    then = cumulative.copy()
    cumulative.record_many([0.010, 0.050])
    since = histogram_since(cumulative, then)
    # the lowest bucket's lower edge and the highest bucket's upper edge, within 0.2 %
    assert since.min is not None
    assert since.min == pytest.approx(0.010, rel=2 * (GAMMA - 1))
    assert since.min <= 0.010
    assert since.max == 0.050  # the bucket's upper edge is above the run's exact max: clamped
    assert histogram_since(cumulative, cumulative.copy()).count == 0


def test_recent_loop_lag_forgets_what_is_older_than_its_window() -> None:
    run = LatencyHistogram()  # the run's cumulative loop lag, as harness.run keeps it
    window = LagWindow(window_s=10.0)
    window.recent(run, now=0.0)
    run.record_many([0.050] * 100)  # saturated for a while…
    # younger than the window: all of it
    assert window.recent(run, now=5.0).percentile(99) == pytest.approx(0.050, rel=0.002)
    window.recent(run, now=12.0)
    run.record_many([0.001] * 200)  # …then not any more
    # only what came since the snapshot at t=12
    assert window.recent(run, now=25.0).percentile(99) == pytest.approx(0.001, rel=0.002)
    assert run.percentile(99) == pytest.approx(0.050, rel=0.002)
    recent = window.recent(run, now=26.0).summary()
    alone = histogram_of([0.001] * 200).summary()
    assert recent is not None
    assert alone is not None
    assert recent["count"] == alone["count"] == 200
    for key in ("mean", "p50", "p90", "p99", "max"):
        assert recent[key] == pytest.approx(alone[key], rel=0.002), key


def test_the_lag_window_starts_again_when_a_new_run_starts() -> None:
    run = LatencyHistogram()
    window = LagWindow(window_s=10.0)
    run.record_many([0.050] * 10)
    window.recent(run, now=0.0)
    fresh = LatencyHistogram()  # a new run: a fresh, smaller cumulative histogram
    fresh.record_many([0.002] * 3)
    recent = window.recent(fresh, now=20.0)
    assert recent.count == 3
    assert recent.percentile(99) == pytest.approx(0.002, rel=0.002)

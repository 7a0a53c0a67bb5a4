"""The server's own view: counter and histogram deltas, gauges, saturation, the client's side.

Snapshots are made by hand with known values, so every figure is checked against arithmetic
done here; `histogram_quantile` is checked against what Prometheus's own function gives.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from harness.server.engines import LLAMA_CPP, VLLM, recognise
from harness.server.snapshot import Labels, Snapshot, labels_of
from harness.server.view import (
    AFTER,
    BEFORE,
    DURING,
    ServerView,
    client_minus_server,
    histogram_quantile,
    increase,
    saturation,
    with_client,
)

MODEL = {"engine": "0", "model_name": "m"}
TTFT = "vllm:time_to_first_token_seconds"
BOUNDS = (0.05, 0.1, 0.25, math.inf)


def series(value: float, **labels: str) -> dict[Labels, float]:
    return {labels_of({**MODEL, **labels}): value}


def vllm_snapshot(
    t: float,
    *,
    requests: int,
    tokens: int,
    ttft: tuple[int, ...] = (0, 0, 0, 0),
    ttft_sum: float = 0.0,
    waiting: float = 0,
    running: float = 0,
    kv: float = 0.0,
) -> Snapshot:
    """A vLLM scrape: `ttft` holds the cumulative count at each of BOUNDS."""
    buckets: dict[Labels, float] = {}
    for bound, count in zip(BOUNDS, ttft, strict=True):
        le = "+Inf" if math.isinf(bound) else repr(bound)
        buckets.update(series(count, le=le))
    return Snapshot(
        t,
        engine="vllm",
        samples={
            "vllm:generation_tokens_total": series(tokens),
            "vllm:prompt_tokens_total": series(2 * tokens),
            "vllm:request_success_total": {
                **series(requests, finished_reason="stop"),
                **series(1, finished_reason="abort"),
            },
            f"{TTFT}_bucket": buckets,
            f"{TTFT}_sum": series(ttft_sum),
            f"{TTFT}_count": series(ttft[-1]),
            "vllm:num_requests_waiting": series(waiting),
            "vllm:num_requests_running": series(running),
            "vllm:kv_cache_usage_perc": series(kv),
        },
    )


def test_a_counter_increase_reads_a_fall_as_a_restart() -> None:
    assert increase([10, 15, 15, 22]) == 12
    assert increase([10, 15, 3, 5]) == 5 + 3 + 2  # restarted at 0, rose to 3, then 5
    assert increase([7]) == 0


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.5, 0.05 + 0.05 * (5 - 4) / 4),  # rank 5 in (0.05, 0.1]: 4 below, 4 inside
        (0.25, 0.05 * 2.5 / 4),  # the first bucket interpolates from 0
        (0.85, 0.1 + 0.15 * (8.5 - 8) / 1),  # rank 8.5 in (0.1, 0.25]
        (0.999, 0.25),  # in the +Inf bucket: the highest finite bound
    ],
)
def test_histogram_quantile_interpolates_inside_a_bucket_as_prometheus_does(
    q: float, expected: float
) -> None:
    buckets = [(0.05, 4.0), (0.1, 8.0), (0.25, 9.0), (math.inf, 10.0)]
    assert histogram_quantile(q, buckets) == pytest.approx(expected)


def test_a_histogram_of_zeros_has_zero_percentiles_not_half_its_first_bucket() -> None:
    """vLLM's queue time with free slots: every observation 0, in the (0, 0.3] bucket.
    Interpolating would say p50 = 0.15 s; the sum says every one was 0."""
    queue = "vllm:request_queue_time_seconds"
    snaps = [
        Snapshot(
            t,
            engine="vllm",
            samples={
                f"{queue}_bucket": {**series(n, le="0.3"), **series(n, le="+Inf")},
                f"{queue}_sum": series(0.0),
                f"{queue}_count": series(n),
            },
        )
        for t, n in ((0.0, 0), (1.0, 12))
    ]
    block = _view((BEFORE, snaps[0]), (AFTER, snaps[1])).block()
    figures = block["histograms"]["queue"]
    assert figures["count"] == 12
    assert figures["mean_s"] == 0.0
    assert figures["p50_s"] == figures["p99_s"] == 0.0


def test_histogram_quantile_of_no_observation_is_none() -> None:
    assert histogram_quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]) is None


def _view(*snapshots: tuple[str, Snapshot]) -> ServerView:
    view = ServerView("http://127.0.0.1:8000/metrics", t_zero=100.0, interval_s=1.0)
    for phase, snapshot in snapshots:
        view.add(phase, snapshot)
    return view


def test_the_block_holds_the_window_s_deltas_not_the_servers_totals() -> None:
    before = vllm_snapshot(100.0, requests=50, tokens=5000, ttft=(10, 20, 30, 30), ttft_sum=2.0)
    during = vllm_snapshot(101.0, requests=52, tokens=5100, ttft=(10, 22, 32, 32), ttft_sum=2.2)
    after = vllm_snapshot(102.5, requests=54, tokens=5200, ttft=(10, 24, 34, 34), ttft_sum=2.4)
    block = _view((BEFORE, before), (DURING, during), (AFTER, after)).block()
    assert block["engine"] == "vllm"
    assert block["scrapes"] == {"ok": 3, "failed": 0, "interval_s": 1.0}
    assert block["window"] == {"start_s": 0.0, "end_s": 2.5, "covers_run": True}
    # abort is not a finished request: 4 stop, not 4 + 0 abort
    assert block["counters"] == {"output_tokens": 200, "input_tokens": 400, "requests": 4}
    ttft = block["histograms"]["ttft"]
    assert ttft["metric"] == TTFT
    assert ttft["count"] == 4
    assert ttft["mean_s"] == pytest.approx(0.4 / 4)
    # all four new observations fell in (0.05, 0.1]: p50 is the middle of that bucket
    assert ttft["p50_s"] == pytest.approx(0.075)


def test_a_gateway_s_requests_count_only_its_2xx_answers() -> None:
    def litellm(t: float, ok: int, failed: int) -> Snapshot:
        name = "litellm_proxy_total_requests_metric_total"
        return Snapshot(
            t,
            engine="litellm",
            samples={
                name: {
                    **series(ok, status_code="200", route="/v1/chat/completions"),
                    **series(failed, status_code="500", route="/v1/chat/completions"),
                },
                "litellm_output_tokens_metric_total": series(8 * ok),
            },
        )

    block = _view((BEFORE, litellm(100.0, 3, 1)), (AFTER, litellm(101.0, 10, 4))).block()
    assert block["engine"] == "litellm"
    assert block["counters"] == {"output_tokens": 56, "requests": 7}


def test_a_series_born_in_the_window_counts_from_zero() -> None:
    before = Snapshot(0.0, engine="vllm", samples={"vllm:generation_tokens_total": {}})
    after = Snapshot(1.0, engine="vllm", samples={"vllm:generation_tokens_total": series(42)})
    block = _view((BEFORE, before), (AFTER, after)).block()
    assert block["counters"]["output_tokens"] == 42


def test_gauges_are_kept_over_time_on_the_runs_axis() -> None:
    snaps = [
        (BEFORE, vllm_snapshot(100.0, requests=0, tokens=0)),
        (DURING, vllm_snapshot(101.0, requests=0, tokens=0, running=4, waiting=1, kv=0.5)),
        (DURING, vllm_snapshot(102.0, requests=0, tokens=0, running=6, waiting=3, kv=0.97)),
        (AFTER, vllm_snapshot(103.0, requests=0, tokens=0)),
    ]
    gauges = _view(*snaps).block()["gauges"]
    assert gauges["running"]["series"] == [[0.0, 0], [1.0, 4], [2.0, 6], [3.0, 0]]
    assert gauges["running"]["max"] == 6
    assert gauges["running"]["mean"] == pytest.approx(2.5)
    assert gauges["waiting"]["last"] == 0
    assert gauges["kv_cache_usage"]["max"] == pytest.approx(0.97)


def test_a_growing_queue_and_a_full_kv_cache_say_the_server_saturated() -> None:
    during = [
        vllm_snapshot(float(t), requests=0, tokens=0, waiting=w, kv=kv)
        for t, (w, kv) in enumerate([(0, 0.2), (0, 0.5), (4, 0.9), (9, 0.96)])
    ]
    judged = saturation(VLLM, during)
    assert judged is not None
    assert judged["waiting_max"] == 9
    assert judged["waiting_scrapes"] == [2, 4]
    assert judged["kv_cache_max"] == pytest.approx(0.96)
    assert judged["sentence"] == (
        "The server was saturated: requests waited in its queue in 2 of 4 scrapes (up to 9) "
        "and its KV cache reached 96%; the knee is the server's, not the load generator's."
    )


def test_an_idle_queue_is_no_saturation() -> None:
    during = [vllm_snapshot(float(t), requests=0, tokens=0, waiting=0) for t in range(4)]
    assert saturation(VLLM, during) is None
    # one blip of one waiting request in four scrapes is not saturation either
    blip = [
        vllm_snapshot(float(t), requests=0, tokens=0, waiting=w) for t, w in enumerate([0, 1, 0, 0])
    ]
    assert saturation(VLLM, blip) is None


def test_failed_scrapes_are_counted_and_the_window_says_it_misses_the_start() -> None:
    failed = Snapshot(100.0, error="cannot connect (connection refused)")
    during = vllm_snapshot(101.0, requests=1, tokens=10)
    after = vllm_snapshot(102.0, requests=3, tokens=30)
    block = _view((BEFORE, failed), (DURING, during), (AFTER, after)).block()
    assert block["scrapes"]["failed"] == 1
    assert block["window"]["covers_run"] is False
    assert block["counters"]["output_tokens"] == 20
    joined = with_client(block, {"stream": {"output_tokens": 30, "outcomes": {"ok": 3}}})
    # not compared: the window misses part of the run
    assert joined["warnings"] == [
        "the server's counters cover only part of the run (a scrape before or after the "
        "load failed): they are not compared with ours"
    ]


def test_no_scrape_that_worked_is_a_block_with_the_reason() -> None:
    block = _view(
        (BEFORE, Snapshot(1.0, error="answered HTML (text/html), not Prometheus metrics"))
    ).block()
    assert block == {
        "engine": "unknown",
        "url": "http://127.0.0.1:8000/metrics",
        "scrapes": {"ok": 0, "failed": 1, "interval_s": 1.0},
        "counters": {},
        "histograms": {},
        "gauges": {},
        "error": "answered HTML (text/html), not Prometheus metrics",
    }


def _modes() -> dict[str, dict[str, Any]]:
    return {
        "stream": {
            "output_tokens": 150,
            "partial_output_tokens": 10,
            "input_tokens": 200,
            "outcomes": {"ok": 2, "ok_length": 1, "failed": 1, "cancelled": 1},
            "ttft_s": {"mean": 0.105, "p50": 0.1},
            "e2e_s": {"mean": 0.5, "p50": 0.49},
        },
        "batch": {
            "output_tokens": 40,
            "input_tokens": 200,
            "outcomes": {"ok": 1},
            "e2e_s": {"mean": 0.52, "p50": 0.5},
        },
    }


def test_the_clients_counters_sit_next_to_the_servers_and_a_difference_is_a_warning() -> None:
    block: dict[str, Any] = {
        "counters": {"output_tokens": 200, "input_tokens": 400, "requests": 4},
        "window": {"covers_run": True},
        "histograms": {},
    }
    joined = with_client(block, _modes())
    # received tokens of failed requests count too; cancelled and failed requests do not
    assert joined["client"] == {"output_tokens": 200, "input_tokens": 400, "requests": 4}
    assert "warnings" not in joined
    block["counters"]["output_tokens"] = 212
    joined = with_client(block, _modes())
    assert joined["warnings"] == [
        "the server counted 212 output tokens, we counted 200 (requests cut at the stop, "
        "tokens generated and never sent, or other clients)"
    ]


def test_client_minus_server_is_per_mode_ttft_for_streaming_and_e2e_for_all() -> None:
    server = {"ttft": {"mean_s": 0.1, "p50_s": 0.098}, "e2e": {"mean_s": 0.49, "p50_s": 0.48}}
    split = client_minus_server(server, _modes())
    # means only: a difference of bucket-interpolated percentiles would be the buckets' width
    assert split["stream"] == pytest.approx({"ttft_mean_s": 0.005, "e2e_mean_s": 0.01})
    assert split["batch"] == pytest.approx({"e2e_mean_s": 0.03})


def test_llama_cpp_gives_seconds_per_token_from_its_counters() -> None:
    def snap(
        t: float, prompt: float, prompt_s: float, predicted: float, predicted_s: float
    ) -> Snapshot:
        return Snapshot(
            t,
            engine="llama.cpp",
            samples={
                "llamacpp:prompt_tokens_total": {(): prompt},
                "llamacpp:prompt_tokens_cached_total": {(): 5},
                "llamacpp:prompt_seconds_total": {(): prompt_s},
                "llamacpp:tokens_predicted_total": {(): predicted},
                "llamacpp:tokens_predicted_seconds_total": {(): predicted_s},
                "llamacpp:requests_processing": {(): 0},
            },
        )

    block = _view(
        (BEFORE, snap(100.0, 25, 0.06, 10, 0.11)), (AFTER, snap(101.0, 125, 0.46, 110, 2.51))
    ).block()
    assert block["engine"] == "llama.cpp"
    assert block["counters"] == {"output_tokens": 100, "input_tokens": 100}
    assert block["histograms"] == {}
    assert block["per_token"] == pytest.approx({"prefill_s": 0.004, "decode_s": 0.024})


def test_engines_are_recognised_by_their_names() -> None:
    assert recognise(["python_gc_objects_collected", "vllm:num_requests_running"]) is VLLM
    assert recognise(["llamacpp:prompt_tokens"]) is LLAMA_CPP
    assert recognise(["process_cpu_seconds", "http_requests"]) is None

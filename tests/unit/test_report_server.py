"""The server's own view as every report shows it (harness.report.server), on hand-made blocks:
a full vLLM block, one with no scrape that worked, a batch-only run, llama.cpp's per-token
figures, counters that differ, and a run with targets."""

from __future__ import annotations

import copy
from typing import Any

from harness.report.html import render_html
from harness.report.live import table_rows
from harness.report.markdown import render_markdown, render_terminal
from harness.report.server import gauge_series, server_entries, server_line, server_rows, tab_rows

MODES: dict[str, Any] = {
    "stream": {
        "requests": 10,
        "ttft_s": {"mean": 0.1052, "p95": 0.12},
        "e2e_s": {"mean": 0.26, "p95": 0.3},
        "tpot_s": {"mean": 0.0101},
        "itl_s": {"mean": 0.0100},
    },
    "batch": {"requests": 10, "e2e_s": {"mean": 0.2581, "p95": 0.29}},
}

SATURATED = (
    "The server was saturated: requests waited in its queue in 3 of 4 scrapes (up to 3); "
    "the knee is the server's, not the load generator's."
)

BLOCK: dict[str, Any] = {
    "engine": "vllm",
    "url": "http://user:secret@10.0.0.5:8000/metrics?token=abc",
    "scrapes": {"ok": 6, "failed": 1, "interval_s": 1.0},
    "window": {"start_s": 0.0, "end_s": 5.0, "covers_run": True},
    "counters": {"output_tokens": 320, "input_tokens": 200, "requests": 20},
    "client": {"output_tokens": 320, "input_tokens": 200, "requests": 20},
    "histograms": {
        "ttft": {
            "metric": "vllm:time_to_first_token_seconds",
            "count": 20,
            "mean_s": 0.1,
            "p50_s": 0.09,
            "p95_s": 0.2,
        },
        "queue": {
            "metric": "vllm:request_queue_time_seconds",
            "count": 20,
            "mean_s": 0.004,
            "p95_s": 0.01,
        },
        "e2e": {
            "metric": "vllm:e2e_request_latency_seconds",
            "count": 20,
            "mean_s": 0.25,
            "p95_s": 0.4,
        },
    },
    "gauges": {
        "running": {
            "min": 0,
            "max": 4,
            "mean": 2,
            "last": 1,
            "series": [[0.0, 0], [2.0, 4], [5.0, 1]],
        },
        "waiting": {
            "min": 0,
            "max": 3,
            "mean": 1,
            "last": 0,
            "series": [[0.0, 0], [2.0, 3], [5.0, 0]],
        },
        "kv_cache_usage": {
            "min": 0,
            "max": 0.5,
            "mean": 0.2,
            "last": 0.25,
            "series": [[0.0, 0], [2.0, 0.5], [5.0, 0.25]],
        },
    },
    "client_minus_server": {
        "stream": {"ttft_mean_s": 0.0052, "e2e_mean_s": 0.01},
        "batch": {"e2e_mean_s": 0.0081},
    },
    "saturation": {"waiting_max": 3, "waiting_scrapes": [3, 4], "sentence": SATURATED},
}


def summary(
    block: dict[str, Any] | None = None, modes: dict[str, Any] | None = None
) -> dict[str, Any]:
    doc: dict[str, Any] = {"schema": "locust-llm/summary/v1", "run": {}, "modes": modes or MODES}
    doc["server"] = block if block is not None else BLOCK
    doc["timeline"] = {
        "interval_s": 2.0,
        "points": [
            {
                "t_s": 2.0,
                "dt_s": 2.0,
                "users": 2,
                "modes": {"stream": {"requests": 5, "ttft_s": {"p50": 0.1, "p95": 0.12}}},
            },
            {
                "t_s": 4.0,
                "dt_s": 2.0,
                "users": 2,
                "modes": {"stream": {"requests": 5, "ttft_s": {"p50": 0.1, "p95": 0.12}}},
            },
        ],
    }
    return doc


def test_the_line_gives_the_split_the_queue_the_counters_and_the_gauges() -> None:
    line = server_line(BLOCK, MODES)
    assert line == (
        "Server (vLLM, http://***@10.0.0.5:8000/metrics, 6 scrapes, 1 failed): its TTFT mean "
        "100 ms, ours (streaming) 105 ms: client − server +5.20 ms (network, gateway and client "
        "queueing); its queue mean 4.00 ms, p95 10.0 ms; its counters match ours (320 output "
        "tokens, 200 input tokens, 20 finished requests); running requests up to 4, waiting "
        "requests up to 3, KV cache up to 50%."
    )
    assert "secret" not in line
    assert "abc" not in line


def test_the_table_subtracts_means_only() -> None:
    rows = {row.figure: row.cells()[1:] for row in server_rows(BLOCK, MODES)}
    assert rows["TTFT mean (streaming)"] == ["105.2 ms", "100.0 ms", "+5.20 ms"]
    assert rows["TTFT p95 (streaming)"] == ["120.0 ms", "200.0 ms", "—"]
    assert rows["E2E mean (batch)"] == ["258.1 ms", "250.0 ms", "+8.10 ms"]
    assert rows["queue mean"] == ["—", "4.00 ms", "—"]
    assert rows["output tokens"] == ["320", "320", "0"]
    assert rows["KV-cache use, max"] == ["—", "50%", "—"]
    assert "TTFT mean (batch)" not in rows  # a batch client sees no first token


def test_counters_that_differ_are_a_signed_difference_and_a_warning() -> None:
    block = copy.deepcopy(BLOCK)
    block["counters"]["output_tokens"] = 332
    block["warnings"] = [
        "the server counted 332 output tokens, we counted 320 (requests cut at the stop)"
    ]
    rows = {row.figure: row.cells()[1:] for row in server_rows(block, MODES)}
    assert rows["output tokens"] == ["320", "332", "−12"]
    assert "its counters differ from ours" in server_line(block, MODES)
    text = render_terminal(summary(block))
    assert "Warning: The server counted 332 output tokens, we counted 320" in text


def test_a_window_that_misses_the_run_does_not_compare_counters() -> None:
    block = copy.deepcopy(BLOCK)
    block["window"]["covers_run"] = False
    rows = {row.figure: row.cells()[1:] for row in server_rows(block, MODES)}
    assert rows["output tokens"] == ["320", "320", "—"]
    assert "its counters: 320 output tokens" in server_line(block, MODES)


def test_no_scrape_that_worked_is_one_line_and_no_table() -> None:
    block = {
        "engine": "unknown",
        "url": "http://127.0.0.1:9/metrics",
        "scrapes": {"ok": 0, "failed": 5, "interval_s": 1.0},
        "counters": {},
        "histograms": {},
        "gauges": {},
        "error": "cannot connect (connection refused)",
    }
    assert server_line(block, MODES) == (
        "Server (unknown engine, http://127.0.0.1:9/metrics, 0 scrapes, 5 failed): no scrape of "
        "its metrics worked: cannot connect (connection refused)."
    )
    assert server_rows(block, MODES) == []
    assert gauge_series(block) == {}
    md = render_markdown(summary(block))
    assert "### The server's own view" in md
    assert "no scrape of its metrics worked: cannot connect (connection refused)." in md
    assert "| TTFT mean" not in md
    html = render_html(summary(block))
    assert "no scrape of its metrics worked" in html
    assert "Server: KV-cache use" not in html
    rows = tab_rows(block, MODES)
    assert rows[0][0].startswith("⚠ Server (unknown engine")


def test_a_batch_only_run_shows_e2e_split() -> None:
    block = copy.deepcopy(BLOCK)
    block["client_minus_server"] = {"batch": {"e2e_mean_s": 0.0081}}
    modes = {"batch": MODES["batch"]}
    line = server_line(block, modes)
    assert "its E2E mean 250 ms, ours (batch) 258 ms: client − server +8.10 ms" in line
    figures = [row.figure for row in server_rows(block, modes)]
    assert not any(f.startswith("TTFT") for f in figures)
    assert "E2E mean (batch)" in figures


def test_llama_cpp_per_token_figures_next_to_our_tpot() -> None:
    block = {
        "engine": "llama.cpp",
        "url": "http://127.0.0.1:8080/metrics",
        "scrapes": {"ok": 4, "failed": 0, "interval_s": 1.0},
        "window": {"start_s": 0.0, "end_s": 4.0, "covers_run": True},
        "counters": {"output_tokens": 96, "input_tokens": 40},
        "client": {"output_tokens": 96, "input_tokens": 40},
        "histograms": {},
        "per_token": {"prefill_s": 0.0004, "decode_s": 0.0121},
        "gauges": {
            "running": {"min": 0, "max": 3, "mean": 1, "last": 0, "series": [[0.0, 0], [1.0, 3]]}
        },
    }
    line = server_line(block, MODES)
    assert "decode 12.1 ms per token (our TPOT mean 10.1 ms)" in line
    assert "prefill 0.40 ms per prompt token" in line
    rows = {row.figure: row.cells()[1:] for row in server_rows(block, MODES)}
    assert rows["decode per token (ours: TPOT mean)"] == ["10.1 ms", "12.1 ms", "—"]


def test_html_plots_the_gauges_on_the_run_s_time_axis() -> None:
    html = render_html(summary())
    assert "<h2>The server&#x27;s own view</h2>" in html
    # the server's last scrape (5 s) is after the timeline's last point (4 s): every plot over
    # time, ours and the server's, spans the same 0–5 s axis
    for title in (
        "Server: running and waiting requests",
        "Server: KV-cache use",
        "TTFT over time (streaming)",
        "Throughput over time",
    ):
        assert f'data-x-range="0 5" role="img" aria-label="{title}"' in html, title
    assert "saturated" in html
    assert "secret" not in html


def test_the_llm_tab_rows() -> None:
    rows = table_rows(summary(), {"stream": ["m"], "batch": ["m"]})
    by_figure = {r["figure"]: r for r in rows}
    split = by_figure["client − server TTFT mean (network, gateway and client queueing)"]
    assert (split["stream"], split["batch"]) == ("+5.20 ms", "")
    e2e = by_figure["client − server E2E mean (network, gateway and client queueing)"]
    assert (e2e["stream"], e2e["batch"]) == ("+10.0 ms", "+8.10 ms")
    assert "server: its queue mean 4.00 ms, p95 10.0 ms" in by_figure
    assert "server: waiting requests 0 at the last scrape (max 3)" in by_figure
    assert any(f.startswith("⚠ The server was saturated") for f in by_figure)


def test_a_partial_block_during_the_run_never_breaks_the_tab() -> None:
    for block in ({}, {"engine": "vllm", "scrapes": {"ok": 1}}, {"scrapes": "x", "gauges": []}):
        rows = table_rows(summary(block), {"stream": ["m"]})
        assert rows
        render_markdown(summary(block))
        render_html(summary(block))


def test_targets_each_have_their_own_server() -> None:
    doc = summary()
    del doc["server"]
    doc["targets"] = {
        "fast": {"modes": MODES, "server": BLOCK},
        "slow": {"modes": MODES},
    }
    entries = server_entries(doc)
    assert [name for name, _, _ in entries] == ["fast"]
    text = render_terminal(doc)
    assert "fast's server (vLLM" in text
    assert "fast: The server was saturated" in text

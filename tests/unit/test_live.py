"""The web UI tab as data (harness.report.live): its rows, the live document and the CSV.

Functions of a summary document built from hand-made records through the real `RunStats`;
no Locust, no subprocess (tests/integration/test_webui.py drives the real tab in a browser).
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.errors import ErrorClass, Mode, Outcome
from harness.record import RequestRecord
from harness.report.live import (
    LIVE_SCHEMA,
    TABLE_STRUCTURE,
    LoadGeneratorHealth,
    first_visible_speedup,
    live_document,
    model_sections,
    models_by_mode,
    stats_csv,
    table_rows,
)
from harness.stats import RunStats
from tests.unit.test_path import (
    BURST,
    GATEWAY_EXCESS,
    LITELLM,
    RECONNECT,
    batch,
    stream,
    summary_of,
)

MODELS = {"stream": ["m"], "batch": ["m"]}


def cells(rows: list[dict[str, str]]) -> dict[str, tuple[str, str, str]]:
    return {r["figure"]: (r["model"], r["stream"], r["batch"]) for r in rows}


def test_the_columns_are_figure_model_streaming_batch() -> None:
    assert [(c["key"], c["title"]) for c in TABLE_STRUCTURE] == [
        ("figure", "LLM figure"),
        ("model", "model"),
        ("stream", "streaming"),
        ("batch", "batch"),
    ]


def test_rows_are_named_in_order_for_locusts_sorting_table() -> None:
    rows = table_rows(summary_of([stream(4, 4), batch()]), MODELS)
    assert [r["name"] for r in rows] == [f"{i:03d}" for i in range(len(rows))]
    assert all(set(r) == {"name", "figure", "model", "stream", "batch"} for r in rows)


def test_the_tab_shows_ttfb_tail_reconnects_backoff_server_path_and_anomalies() -> None:
    records = [
        stream(5, 8, reconnects=1, headers=LITELLM),
        stream(4, 4, burst=True, headers=LITELLM),
        batch(headers=LITELLM, backoff_s=0.5),
    ]
    rows = table_rows(summary_of(records), MODELS)
    shown = cells(rows)
    assert shown["TTFB p50 / p95 / p99"] == (
        "m",
        "173.0 ms / 173.0 ms / 173.0 ms",
        "1.00 s / 1.00 s / 1.00 s",
    )
    assert shown["tail (last token → end) p50 / p95 / p99"] == (
        "m",
        "170.0 ms / 170.0 ms / 170.0 ms",
        "—",
    )
    assert shown["reconnects"] == ("m", "1", "0")
    assert shown["back-off waited"] == ("m", "0 s", "500.0 ms")
    path = "through a LiteLLM gateway (version 1.74.9); Server: uvicorn"
    assert shown["server path (response headers)"] == ("", path, path)
    anomalies = [(r["figure"], r["stream"], r["batch"]) for r in rows if "⚠" in r["figure"]]
    assert anomalies == [
        (f"⚠ token_count_mismatch: {GATEWAY_EXCESS}", "1", ""),
        (f"⚠ burst_delivery: {BURST}", "2", ""),
        (f"⚠ reconnect: {RECONNECT}", "1", ""),
    ]


def test_a_plain_run_has_no_occasional_rows() -> None:
    plain = {r["figure"] for r in table_rows(summary_of([stream(4, 4), batch()]), MODELS)}
    assert "TTFB p50 / p95 / p99" in plain
    assert not plain & {"reconnects", "back-off waited", "server path (response headers)"}
    assert not [f for f in plain if f.startswith("⚠")]


def test_failures_count_every_outcome_but_success_and_cancelled() -> None:
    failed = stream(0, None)
    failed.fail(ErrorClass.HTTP_5XX, 0.01)
    cancelled = stream(0, None)
    cancelled.outcome = Outcome.CANCELLED
    records = [stream(4, 4), stream(4, 4), stream(4, 4), failed, cancelled, batch()]
    shown = cells(table_rows(summary_of(records), MODELS))
    assert shown["failures"] == ("m", "1 (25.0 %)", "0 (0.0 %)")  # cancelled: not finished
    assert shown["errors by class"] == ("m", "http_5xx 1", "none")


def test_an_endpoint_that_does_not_stream_is_the_first_row() -> None:
    answered = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/chat/completions")
    answered.t0, answered.t_headers, answered.t_end = 0.0, 0.9, 1.0
    answered.server_output_tokens, answered.outcome = 8, Outcome.OK
    answered.note("stream_not_honored")
    rows = table_rows(summary_of([answered, batch()]), MODELS)
    assert rows[0]["figure"] == (
        "⚠ the endpoint does not stream: 1 stream request was answered with one JSON body "
        "(stream_not_honored); they count as successes with an E2E but no TTFT or ITL."
    )


def test_the_headline_says_one_token_answers_cannot_stream_sooner() -> None:
    one = stream(1, 1, tail_s=0.0)  # --max-tokens 1: first visible output 200 ms
    late = batch()
    late.t_end = late.t_headers = 0.198
    rows = table_rows(summary_of([one, late]), MODELS)
    headline = [(r["figure"], r["stream"], r["batch"]) for r in rows if r["figure"][0] == "▶"]
    assert headline == [
        (
            "▶ Streaming shows the first token no sooner than batch (one output token per "
            "answer) (first visible output p50)",
            "200 ms",
            "198 ms",
        )
    ]


def test_a_saturated_load_generator_is_warned_first_and_its_lag_shown_last() -> None:
    health = LoadGeneratorHealth(
        client_saturated=False, loop_lag_p99_s=0.004, recent_loop_lag_p99_s=0.035
    )
    assert health.saturated  # the recent window is over the limit, the run not yet
    rows = table_rows(summary_of([stream(4, 4), batch()]), MODELS, health)
    assert rows[0]["figure"] == (
        "⚠ The load generator is saturated (loop-lag p99 35.0 ms), over 20.0 ms: these latencies "
        "include its own delays and overstate the server's. Add workers or lower the load."
    )
    assert rows[-1]["figure"] == (
        "load generator loop-lag p99: 35.0 ms (last 10 s), 4.00 ms (run); limit 20.0 ms"
    )
    calm = LoadGeneratorHealth(False, 0.004, 0.003)
    assert not calm.saturated
    assert not table_rows(summary_of([stream(4, 4)]), MODELS, calm)[0]["figure"].startswith("⚠")


def test_no_request_yet() -> None:
    rows = table_rows({"modes": {}}, {})
    assert [r["figure"] for r in rows] == ["No LLM requests have finished yet."]


def test_several_models_are_shown_together_first_then_one_by_one() -> None:
    other = stream(4, 4)
    other.model = "n"
    stats = RunStats()
    for r in (stream(4, 4), other, batch()):
        stats.observe(r)
    models = models_by_mode(stats)
    assert models == {"stream": ["m", "n"], "batch": ["m"]}
    summary = summary_of([stream(4, 4), other, batch()])
    sections = model_sections(summary, models)
    assert [(label, sorted(figures)) for label, figures in sections] == [
        ("all models", ["batch", "stream"]),
        ("m", ["batch", "stream"]),
        ("n", ["stream"]),
    ]
    assert sections[2][1]["stream"]["requests"] == 1


def test_first_visible_speedup_needs_both_modes() -> None:
    summary = summary_of([stream(4, 4), batch()])
    speedup = first_visible_speedup(summary["modes"])
    assert speedup == pytest.approx(1.0 / 0.2, rel=0.002)  # batch 1 s, streaming 200 ms
    assert first_visible_speedup({"stream": summary["modes"]["stream"]}) is None


def test_the_live_document() -> None:
    summary = summary_of([stream(4, 4), batch()])
    health = LoadGeneratorHealth(False, None, None)
    doc: dict[str, Any] = live_document(
        summary, MODELS, health, state="running", user_count=4, worker_count=2
    )
    assert doc["schema"] == LIVE_SCHEMA
    assert (doc["state"], doc["user_count"], doc["worker_count"]) == ("running", 4, 2)
    assert doc["first_visible_speedup"] == pytest.approx(5.0, rel=0.002)
    assert doc["headline"].startswith("Streaming shows the first token")
    assert doc["summary"] is summary
    assert doc["table"] == table_rows(summary, MODELS, health)
    assert doc["load_generator"]["saturated"] is False
    assert "worker_count" not in live_document(summary, MODELS, health, state="x", user_count=0)


def test_the_csv_has_one_row_per_mode_and_model_in_seconds() -> None:
    records = [stream(5, 8, reconnects=1, headers=LITELLM), batch(backoff_s=0.5)]
    lines = stats_csv(summary_of(records), MODELS).splitlines()
    header = lines[0].split(",")
    assert header[:4] == ["mode", "model", "requests", "failed"]
    assert header[-4:] == ["output_tokens_per_s", "requests_per_s", "reconnects", "backoff_s"]
    assert {"tail_p95_s", "ttfb_p50_s"} <= set(header)
    rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    assert [(r["mode"], r["model"], r["requests"], r["failed"]) for r in rows] == [
        ("stream", "m", "1", "0"),
        ("batch", "m", "1", "0"),
    ]
    assert (rows[0]["reconnects"], rows[0]["backoff_s"]) == ("1", "0.0")
    assert float(rows[0]["tail_p50_s"]) == pytest.approx(0.17, rel=1e-3)
    assert rows[1]["ttft_p50_s"] == ""  # a batch request has no TTFT
    assert float(rows[1]["backoff_s"]) == 0.5


def test_an_open_loop_run_shows_its_load_line_shortfall_and_schedule_rows() -> None:
    record = batch()
    record.t_sched = record.t0 - 0.25  # waited a quarter second for a free user
    summary = summary_of([record])
    summary["run"]["load"] = {
        "kind": "open", "process": "poisson", "offered_rate_per_s": 20.0,
        "achieved_rate_per_s": 12.0, "scheduled": 240, "sent": 144, "max_in_flight": 4,
        "shortfall": "achieved 12/s of the 20/s offered (60%): the in-flight cap (4) was reached",
    }  # fmt: skip
    rows = table_rows(summary, MODELS)
    figures = [r["figure"] for r in rows]
    assert figures[0] == (
        "▶ open loop · poisson arrivals · offered 20/s · achieved 12/s · 144 sent of 240 due "
        "· at most 4 in flight"
    )
    assert figures[1] == (
        "⚠ the offered rate was not achieved: achieved 12/s of the 20/s offered (60%): the "
        "in-flight cap (4) was reached."
    )
    lag = cells(rows)["schedule lag p50 / p95 / p99"]
    assert lag[2].startswith("250.")  # the batch column: 250 ms at every percentile
    assert cells(rows)["E2E from schedule p50 / p95 / p99"][1] == "—"  # no stream request


def test_a_closed_loop_run_has_no_open_loop_rows() -> None:
    figures = {r["figure"] for r in table_rows(summary_of([stream(4, 4), batch()]), MODELS)}
    assert not [f for f in figures if "schedule" in f or f.startswith("▶ open loop")]


def test_reasoning_and_tool_calls_get_their_rows_only_when_answers_had_them() -> None:
    plain = {r["figure"] for r in table_rows(summary_of([stream(4, 4), batch()]), MODELS)}
    assert not {f for f in plain if f.startswith(("TTFC", "first tool call", "reasoning"))}
    # thinking first (not visible), then a tool call: TTFT at 200 ms, the call at 230 ms
    r = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/messages")
    r.t0 = 0.0
    r.on_token_event(0.2, visible=False)
    r.on_tool_call(0.23, 40)
    r.on_token_event(0.23, visible=False)
    r.on_token_event(0.25, visible=True)
    r.t_end, r.outcome, r.server_output_tokens, r.reasoning_tokens = 0.3, Outcome.OK, 3, 1
    got = cells(table_rows(summary_of([r, batch()]), MODELS))
    assert got["TTFC (first text) p50 / p95 / p99"][1].startswith("250")
    assert got["first tool call p50 / p95 / p99"][1].startswith("230")
    assert got["tool-call argument bytes"][1] == "40"
    assert got["reasoning tokens (share of output)"][1] == "1 (33%)"

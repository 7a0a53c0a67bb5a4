"""Goodput in the reports: summary.json's schema, the table, report.html and junit.xml."""

from __future__ import annotations

from typing import Any

import jsonschema

from harness.errors import Mode, Outcome
from harness.load.goodput import GoodputLimits, meets
from harness.record import RequestRecord
from harness.report.enrich import add_goodput_limits
from harness.report.html import render_html
from harness.report.junit import render_junit
from harness.report.live import table_rows
from harness.report.markdown import render_markdown, render_terminal
from harness.report.summary import RunInfo, build_summary, load_schema
from harness.slo import GOODPUT, SLO, SLO_ATTAINMENT, evaluate
from harness.stats import RunStats

RUN = RunInfo("2026-12-03T12:00:00Z", 4.0, "http://127.0.0.1:8000/v1", 4, "2.47.0", "0.1.0", False)
LIMITS = GoodputLimits(ttft_s=0.25, e2e_s=1.0)


def stream(ttft_s: float, *, outcome: Outcome = Outcome.OK) -> RequestRecord:
    r = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/chat/completions")
    r.on_token_event(ttft_s, visible=True)
    r.on_token_event(ttft_s + 0.125, visible=True)
    r.server_output_tokens = 2
    r.t_end = ttft_s + 0.125
    r.outcome = outcome
    return r


def batch(e2e_s: float) -> RequestRecord:
    r = RequestRecord(mode=Mode.BATCH, model="m", endpoint="/v1/chat/completions")
    r.t_headers = r.t_end = e2e_s
    r.server_output_tokens = 2
    r.outcome = Outcome.OK
    return r


def run_summary(slos: list[SLO], *, limits: GoodputLimits | None = LIMITS) -> dict[str, Any]:
    """A summary as the finish sink builds it: 4 streams (3 within limits), 2 batch (1)."""
    stats = RunStats()
    records = [stream(0.125), stream(0.25), stream(0.125), stream(0.5), batch(0.5), batch(2.0)]
    for record in records:
        if limits is not None:
            record.met_goodput = meets(record, limits)
        stats.observe(record)
    summary = build_summary(stats.summary(4.0), run=RUN)
    if limits is not None:
        add_goodput_limits(summary, limits)
    summary["slos"] = evaluate(slos, summary)
    return summary


GATES = [SLO(GOODPUT, 1.0), SLO(SLO_ATTAINMENT, 0.75, mode="batch")]


def test_a_summary_with_goodput_and_its_gates_matches_the_schema() -> None:
    summary = run_summary(GATES)
    jsonschema.validate(summary, load_schema())
    assert summary["modes"]["stream"]["goodput"] == {
        "limits": {"ttft_s": 0.25, "e2e_s": 1.0},
        "met": 3,
        "goodput_per_s": 0.75,
        "slo_attainment": 0.75,
    }
    assert [
        (r["name"], r.get("value_per_s", r.get("value")), r["passed"]) for r in summary["slos"]
    ] == [
        ("goodput >= 1/s", 1.0, True),
        ("batch slo_attainment >= 0.75", 0.5, False),
    ]


def test_the_table_shows_goodput_and_attainment_per_mode() -> None:
    text = render_terminal(run_summary(GATES))
    rows = {line[:39].rstrip(): line[39:].split() for line in text.splitlines()}
    assert rows["goodput (requests/s within limits)"] == ["0.75", "0.25"]
    assert rows["SLO attainment"] == ["75.0%", "50.0%"]
    assert (
        "Goodput limits (a request counts when its own figures are within every one) — "
        "streaming: TTFT ≤ 250.0 ms, E2E ≤ 1.00 s; batch: E2E ≤ 1.00 s."
    ) in text


def test_the_slo_lines_show_a_minimum() -> None:
    text = render_markdown(run_summary(GATES))
    assert "- PASS goodput >= 1/s: 1/s (min 1/s)" in text
    assert "- FAIL batch slo_attainment >= 0.75: 0.5 (min 0.75)" in text


def test_a_run_without_limits_shows_no_goodput() -> None:
    summary = run_summary([], limits=None)
    assert "goodput" not in summary["modes"]["stream"]
    text = render_markdown(summary) + render_html(summary)
    assert "oodput" not in text
    assert "SLO attainment" not in text


def test_report_html_shows_goodput_rows_and_minimum_gates() -> None:
    html = render_html(run_summary(GATES))
    assert "<tr><td>goodput (requests/s within limits)</td><td>0.75</td><td>0.25</td></tr>" in html
    assert "<tr><td>SLO attainment</td><td>75.0%</td><td>50.0%</td></tr>" in html
    assert "<td>batch slo_attainment &gt;= 0.75</td><td>50%</td><td>≥ 75%</td>" in html
    assert "<td>goodput &gt;= 1/s</td><td>1/s</td><td>≥ 1/s</td>" in html


def test_junit_says_a_missed_minimum_is_below_it() -> None:
    xml = render_junit(run_summary(GATES))
    assert 'message="batch slo_attainment &gt;= 0.75: 50% is below the minimum 75%"' in xml
    assert "goodput &gt;= 1/s: 1/s (limit ≥ 1/s)" in xml


def test_the_web_uis_llm_tab_shows_goodput_and_attainment() -> None:
    rows = table_rows(run_summary(GATES), {"stream": ["m"], "batch": ["m"]})
    shown = {row["figure"]: (row["stream"], row["batch"]) for row in rows}
    assert shown["goodput (requests/s within limits)"] == ("0.75", "0.25")
    assert shown["SLO attainment"] == ("75.0%", "50.0%")
    plain = table_rows(run_summary([], limits=None), {"stream": ["m"], "batch": ["m"]})
    assert not any("oodput" in row["figure"] for row in plain)

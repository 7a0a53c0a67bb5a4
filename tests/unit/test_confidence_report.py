"""The 95 % intervals in summary.json (shape, schema) and in the reports (summary.md, the
terminal table, report.html), and summaries written before intervals existed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness.errors import Mode, Outcome
from harness.record import RequestRecord
from harness.report.html import render_html
from harness.report.intervals import INTERVALS_NOTE, interval_text, with_interval
from harness.report.markdown import (
    format_duration,
    format_duration_short,
    render_markdown,
    render_terminal,
)
from harness.report.summary import build_summary, load_schema, load_summary
from harness.stats import RELATIVE_ERROR, LatencyHistogram, RunStats
from tests.unit.test_report import RUN, batch_mode, stream_mode, table_row


def block_of(values: list[float]) -> dict[str, Any]:
    h = LatencyHistogram()
    h.record_many(values)
    summary = h.summary()
    assert summary is not None
    return summary


#: 1..100 ms: p50 between the 40th and 61st, p95 between the 90th and the 100th, p99 open
ONE_TO_100_MS = [k / 1000 for k in range(1, 101)]
#: 1.001..1.400 s: every interval closed (400 ≥ 368)
BATCH_400 = [1 + k / 1000 for k in range(1, 401)]


def summary_with_intervals() -> dict[str, Any]:
    stream = stream_mode(ttft_s=block_of(ONE_TO_100_MS), first_visible_s=block_of(ONE_TO_100_MS))
    batch = batch_mode(first_visible_s=block_of(BATCH_400), e2e_s=block_of(BATCH_400))
    return build_summary({"stream": stream, "batch": batch}, run=RUN)


def old_summary() -> dict[str, Any]:
    """As written before intervals: latency blocks without "ci95"."""
    return build_summary({"stream": stream_mode(), "batch": batch_mode()}, run=RUN)


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(load_schema())
    return sorted(f"{e.json_path}: {e.message}" for e in validator.iter_errors(document))


# ---------------------------------------------------------------- summary.json


def test_every_latency_block_of_a_run_has_its_intervals() -> None:
    stats = RunStats()
    for k in range(1, 101):
        t0 = 10.0 * k
        stats.observe(
            RequestRecord(
                mode=Mode.BATCH,
                model="m",
                endpoint="chat",
                t0=t0,
                t_headers=t0 + 0.0005,
                t_end=t0 + k / 1000,
                server_output_tokens=4,
                status=200,
                outcome=Outcome.OK,
            )
        )
    batch = stats.summary(10.0)["batch"]
    assert batch["e2e_s"]["ci95"]["p50"] == [
        pytest.approx(0.040, rel=RELATIVE_ERROR),
        pytest.approx(0.061, rel=RELATIVE_ERROR),
    ]
    assert batch["e2e_s"]["ci95"]["p99"] == [pytest.approx(0.097, rel=RELATIVE_ERROR), None]
    blocks = [name for name, value in batch.items() if isinstance(value, dict) and "p50" in value]
    assert blocks == ["e2e_s", "first_visible_s", "ttfb_s"]
    assert all(list(batch[name]["ci95"]) == ["p50", "p95", "p99"] for name in blocks)
    assert schema_errors(build_summary(stats.summary(10.0), run=RUN)) == []


def test_schema_accepts_open_ends() -> None:
    summary = old_summary()
    summary["modes"]["stream"]["ttft_s"]["ci95"] = {
        "p50": [None, None],
        "p95": [None, 0.3],
        "p99": [0.25, None],
    }
    assert schema_errors(summary) == []


def test_schema_refuses_intervals_without_p99() -> None:
    summary = old_summary()
    summary["modes"]["stream"]["ttft_s"]["ci95"] = {"p50": [0.1, 0.2], "p95": [0.2, 0.3]}
    assert schema_errors(summary) == [
        "$.modes.stream.ttft_s.ci95: 'p99' is a required property",
    ]


def test_schema_refuses_an_interval_that_is_not_a_pair_of_seconds() -> None:
    summary = old_summary()
    summary["modes"]["stream"]["ttft_s"]["ci95"] = {
        "p50": [0.1, 0.2, 0.3],
        "p95": [-0.1, 0.3],
        "p99": [0.2, None],
    }
    assert schema_errors(summary) == [
        "$.modes.stream.ttft_s.ci95.p50: [0.1, 0.2, 0.3] is too long",
        "$.modes.stream.ttft_s.ci95.p95[0]: -0.1 is not valid under any of the given schemas",
    ]


def test_an_old_summary_without_intervals_is_still_valid() -> None:
    assert schema_errors(old_summary()) == []


# ---------------------------------------------------------------- the cell text


@pytest.mark.parametrize(
    ("interval", "value", "text"),
    [
        ([0.208, 0.219], "212.4 ms", "208–219"),
        ([0.0098, 0.0104], "10.1 ms", "9.80–10.4"),  # one unit, written once
        ([0.981, 1.02], "995.0 ms", "981 ms–1.02 s"),
        ([1.44, 1.49], "1.46 s", "1.44–1.49"),
        ([0.2001, 0.2003], "200.2 ms", "200.1–200.3"),  # equal at 3 digits: one decimal
        ([1.4601, 1.4639], "1.46 s", "1.460–1.464"),  # equal at both: one digit more
        ([0.02001, 0.02004], "20.0 ms", "20.01–20.04"),
        ([1.46, 1.46], "1.46 s", "1.46–1.46"),
        ([0.280, None], "300.0 ms", "≥ 280"),
        ([None, 0.015], "12.00 ms", "≤ 15.0"),
        ([None, None], "12.00 ms", None),
    ],
)
def test_interval_text(interval: list[float | None], value: str, text: str | None) -> None:
    assert interval_text(interval, value, format_duration_short, format_duration) == text


def test_a_block_without_intervals_shows_the_plain_value() -> None:
    block = {"count": 3, "p50": 0.2}
    assert with_interval(block, "p50", "200.0 ms", format_duration_short, format_duration) == (
        "200.0 ms"
    )


# ---------------------------------------------------------------- summary.md, terminal, html


def test_summary_md_shows_each_percentile_with_its_interval() -> None:
    text = render_markdown(summary_with_intervals())
    assert table_row(text, "TTFT p50 / p95 / p99") == (
        "| TTFT p50 / p95 / p99 | 50.0 ms (40.0–61.0) / 94.9 ms (89.9–100) / 99.0 ms (≥ 97.0) | — |"
    )
    assert table_row(text, "E2E p50 / p95 / p99").endswith(
        "| 1.20 s (1.18–1.22) / 1.38 s (1.37–1.39) / 1.39 s (1.39–1.40) |"
    )
    assert f"\n\n{INTERVALS_NOTE}\n\n" in text


def test_summary_md_of_an_old_summary_has_no_intervals_and_no_note() -> None:
    text = render_markdown(old_summary())
    assert table_row(text, "TTFT p50 / p95 / p99") == (
        "| TTFT p50 / p95 / p99 | 200.0 ms / 220.0 ms / 250.0 ms | — |"
    )
    assert INTERVALS_NOTE not in text


def test_terminal_keeps_plain_numbers_and_adds_one_line_for_the_headline() -> None:
    text = render_terminal(summary_with_intervals())
    assert "(40.0–61.0)" not in text.split("\n\n")[1]  # the table
    lines = [line for line in text.splitlines() if "95 % interval" in line]
    assert lines == [
        "First visible output p50 with its 95 % interval: streaming 50.0 ms (40.0–61.0); "
        "batch 1.20 s (1.18–1.22)."
    ]


def test_terminal_of_an_old_summary_has_no_interval_line() -> None:
    assert "95 % interval" not in render_terminal(old_summary())


def test_html_table_shows_the_intervals_and_the_note() -> None:
    page = render_html(summary_with_intervals())
    assert "<td>50.0 ms (40.0–61.0) / 94.9 ms (89.9–100) / 99.0 ms (≥ 97.0)</td>" in page
    assert f'<p class="run">{INTERVALS_NOTE}</p>' in page


def test_html_of_an_old_summary_has_no_note() -> None:
    assert INTERVALS_NOTE not in render_html(old_summary())


def test_an_old_summary_file_loads_and_renders(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(old_summary()))
    summary = load_summary(path)
    assert "200.0 ms / 220.0 ms / 250.0 ms" in render_terminal(summary)
    assert "200.0 ms / 220.0 ms / 250.0 ms" in render_markdown(summary)
    assert "200.0 ms / 220.0 ms / 250.0 ms" in render_html(summary)


def test_open_loop_rows_show_their_intervals_too() -> None:
    stream = stream_mode(
        schedule_lag_s=block_of(ONE_TO_100_MS),
        from_schedule={"e2e_s": block_of(BATCH_400)},
    )
    text = render_markdown(build_summary({"stream": stream}, run=RUN))
    assert table_row(text, "schedule lag p50 / p95 / p99") == (
        "| schedule lag p50 / p95 / p99 | 50.0 ms (40.0–61.0) / 94.9 ms (89.9–100) / "
        "99.0 ms (≥ 97.0) |"
    )
    assert table_row(text, "E2E from schedule p50 / p95 / p99") == (
        "| E2E from schedule p50 / p95 / p99 | 1.20 s (1.18–1.22) / 1.38 s (1.37–1.39) / "
        "1.39 s (1.39–1.40) |"
    )

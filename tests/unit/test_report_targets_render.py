"""Targets side by side in every report: the terminal, summary.md, report.html, the LLM tab.

Each summary is built from hand-made records through the real `RunStats` and completed by
`complete_summary` (tests/unit/test_report_targets.py's helpers); the renderers are plain
functions of it.
"""

from __future__ import annotations

import re
from typing import Any

from harness.report.enrich import complete_summary
from harness.report.html import TARGET_PALETTE, render_html, series_color
from harness.report.live import (
    LoadGeneratorHealth,
    live_document,
    models_by_mode,
    models_by_target,
    stats_csv,
    table_rows,
)
from harness.report.markdown import render_markdown, render_terminal
from harness.report.summary import build_summary
from harness.scenario import Price
from harness.slo import SLO
from harness.stats import RunStats
from harness.targets import TargetSpec
from tests.unit.test_live import MODELS
from tests.unit.test_report_targets import (
    DURATION_S,
    RUN,
    batch,
    config_of,
    failed,
    spread,
    stats_of,
    stream,
    targets_summary,
)


def gateway_run() -> tuple[RunStats, dict[str, Any]]:
    """direct and gw (a gateway in front of it, 30 ms slower, a burst in every fifth
    stream, one failure), both modes, priced, one SLO; completed as the finish sink does."""
    ttfts = spread(0.1, 0.3, 400)
    records = [stream("direct", v, headers_s=v - 0.005) for v in ttfts]
    records += [
        stream("gw", v + 0.03, headers_s=v + 0.025, burst=k % 5 == 0) for k, v in enumerate(ttfts)
    ]
    records += [batch("direct", v) for v in spread(0.5, 0.7, 100)]
    records += [batch("gw", v + 0.03) for v in spread(0.5, 0.7, 100)]
    records.append(failed("gw"))
    stats = stats_of(records)
    summary = targets_summary(stats, {"direct": None, "gw": "direct"})
    config = config_of(
        [
            TargetSpec("direct", "http://127.0.0.1:8001/v1", pricing={"*": Price(1.0, 2.0)}),
            TargetSpec("gw", "http://127.0.0.1:8002/v1", via="direct"),
        ],
        slos=(SLO("ttft", 0.25, mode="stream", percentile=95),),
        pricing={"m": Price(3.0, 4.0)},
    )
    return stats, complete_summary(summary, stats=stats, config=config, timeline=None)


def lines_between(text: str, start: str, end: str) -> list[str]:
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(start))
    last = next(i for i, line in enumerate(lines) if i > first and line.startswith(end))
    return lines[first:last]


# ---------------------------------------------------------------- the terminal


def test_the_terminal_names_the_targets_and_puts_the_comparison_first() -> None:
    _, summary = gateway_run()
    lines = render_terminal(summary).splitlines()
    assert lines[0] == "locust-llm: direct vs gw"
    assert lines[3:6] == [
        "direct has the lower stream TTFT p50 (200 ms vs 230 ms).",
        "direct has the lower stream TTFT p95 (290 ms vs 320 ms).",
        "No significant difference in stream ITL p50 (direct 20.0 ms, gw 20.0 ms).",
    ]


def test_the_terminal_has_a_row_per_target_under_each_figure() -> None:
    _, summary = gateway_run()
    table = lines_between(render_terminal(summary), "first visible output", "ITL p50")
    assert [line.split()[0] for line in table] == ["first", "direct", "gw", "TTFT", "direct", "gw"]
    assert table[1].split("  ")[-2:] == [
        "199.6 ms / 290.0 ms / 298.3 ms",
        "599.0 ms / 690.3 ms / 698.6 ms",
    ]
    assert table[2].endswith("229.6 ms / 319.9 ms / 328.3 ms  628.4 ms / 719.9 ms / 728.6 ms")


def test_the_terminal_tables_fit_in_100_columns() -> None:
    _, summary = gateway_run()
    text = render_terminal(summary)
    tables = lines_between(text, " ", "direct: Streaming")  # the header to the first note
    assert max(len(line) for line in tables) <= 100


def test_the_terminal_shows_the_gateway_overhead_with_its_intervals() -> None:
    _, summary = gateway_run()
    table = lines_between(render_terminal(summary), "Gateway overhead", "bursts")
    assert table[1].split() == ["gw", "−", "direct,", "streaming", "gw", "−", "direct,", "batch"]
    ttft = table[3]
    assert ttft.startswith("TTFT p50 ")
    assert "+30.0 ms (+9.45 to +50.5 ms)" in ttft
    assert ttft.endswith("—")


def test_the_terminal_notes_are_said_of_each_target() -> None:
    _, summary = gateway_run()
    text = render_terminal(summary)
    assert "\ndirect: Streaming shows the first token after 200 ms (p50);" in text
    assert "\ngw: Streaming shows the first token after 230 ms (p50);" in text
    assert "\nErrors — gw streaming: http_5xx 1.\n" in text
    assert "\n- gw streaming: burst_delivery 80 — several tokens arrived in one read" in text
    assert "\n- FAIL gw: stream ttft p95: 319.9 ms (limit 250.0 ms)\n" in text
    assert text.rstrip().endswith(
        "Estimated cost per target — direct: $0.018 ($0.036 per 1,000 requests); "
        "gw: $0.046 ($0.0918 per 1,000 requests); all targets: $0.064."
    )


# ---------------------------------------------------------------- summary.md


def test_markdown_lists_the_comparison_and_has_a_target_column() -> None:
    _, summary = gateway_run()
    text = render_markdown(summary)
    assert text.startswith("## locust-llm: direct vs gw\n")
    assert "\n- direct has the lower stream TTFT p50 (200 ms vs 230 ms).\n" in text
    assert "\n| | target | streaming | batch |\n|:---|:---|---:|---:|\n" in text
    assert "\n| requests | direct | 400 | 100 |\n|  | gw | 401 | 100 |\n" in text
    headline = [line for line in text.splitlines() if line.startswith("|") and "**" in line]
    assert [line.split(" | ")[1] for line in headline] == ["direct", "gw"]
    assert headline[1].startswith("|  | gw | **229.6 ms (220–240) / ")


def test_markdown_has_the_overhead_table_and_the_cost_per_target() -> None:
    _, summary = gateway_run()
    text = render_markdown(summary)
    assert "\n| TTFT p50 | +30.0 ms (+9.45 to +50.5 ms) | — |\n" in text
    assert "\n| bursts per 1,000 token events | 25.0 vs 0.0 (+25.0) | — |\n" in text
    assert "\nEstimated cost per target — direct: $0.018 (" in text


# ---------------------------------------------------------------- report.html


def series_of(html: str, caption: str) -> list[tuple[str, str]]:
    """(label, colour) of every line of the plot captioned `caption`."""
    figure = re.search(rf"<figcaption>{re.escape(caption)}</figcaption>.*?</figure>", html)
    assert figure is not None, caption
    return re.findall(
        r'<polyline class="series" data-label="([^"]*)" points="[^"]*" fill="none" '
        r'stroke="([^"]*)"',
        figure.group(0),
    )


def test_every_cdf_has_one_series_per_target_and_mode_each_its_own_colour() -> None:
    _, summary = gateway_run()
    html = render_html(summary)
    expected = [
        ("direct streaming", TARGET_PALETTE[0]),
        ("direct batch", TARGET_PALETTE[1]),
        ("gw streaming", TARGET_PALETTE[2]),
        ("gw batch", TARGET_PALETTE[3]),
    ]
    assert series_of(html, "First visible output, CDF") == expected
    assert series_of(html, "E2E, CDF") == expected
    assert series_of(html, "TTFT, CDF (streaming)") == [expected[0], expected[2]]
    assert series_of(html, "ITL, CDF (streaming)") == [expected[0], expected[2]]
    assert len({color for _, color in expected}) == 4


def test_the_first_visible_bars_have_a_series_per_target_and_mode() -> None:
    _, summary = gateway_run()
    html = render_html(summary)
    figure = re.search(r"<figcaption>First visible output: streaming vs batch.*?</figure>", html)
    assert figure is not None
    labels = re.findall(r"<title>p50, ([^:]*):", figure.group(0))
    assert labels == ["direct streaming", "direct batch", "gw streaming", "gw batch"]


def test_colours_go_round_the_palette_dashed_past_ten_targets() -> None:
    assert series_color(None, "stream") == ("#1b6ac9", False)
    assert series_color(1, "batch") == (TARGET_PALETTE[3], False)
    assert series_color(10, "stream") == (TARGET_PALETTE[0], True)


def test_the_html_has_the_side_by_side_overhead_and_cost_tables() -> None:
    _, summary = gateway_run()
    html = render_html(summary)
    assert (
        '<p class="headline">direct has the lower stream TTFT p50 (200 ms vs 230 ms).</p>' in html
    )
    assert '<th colspan="2">direct</th><th colspan="2">gw</th>' in html
    assert "<tr><td>requests</td><td>400</td><td>100</td><td>401</td><td>100</td></tr>" in html
    assert "<tr><td>TTFT p50</td><td>+30.0 ms (+9.45 to +50.5 ms)</td><td>—</td></tr>" in html
    assert "<td>gw</td><td>10,000</td><td>4,000</td><td>$0.046</td><td>$0.0918</td>" in html
    assert "<td>gw streaming</td><td>http_5xx</td><td>1</td>" in html
    assert "<td>gw: stream ttft p95</td><td>319.9 ms</td><td>250.0 ms</td>" in html


def test_a_one_target_html_keeps_its_series_by_mode() -> None:
    stats = stats_of([stream("", v) for v in spread(0.1, 0.2, 20)] + [batch("", 0.5)])
    summary = build_summary(stats.summary(DURATION_S), run=RUN)
    html = render_html(complete_summary(summary, stats=stats, config=None, timeline=None))
    assert series_of(html, "First visible output, CDF") == [
        ("streaming", "#1b6ac9"),
        ("batch", "#d9620b"),
    ]
    assert "Side by side" not in html


# ---------------------------------------------------------------- the LLM tab


def tab(summary: dict[str, Any], stats: RunStats) -> list[dict[str, str]]:
    return table_rows(summary, models_by_mode(stats), target_models=models_by_target(stats))


def test_the_tab_has_a_row_per_target_under_each_figure() -> None:
    stats, summary = gateway_run()
    rows = tab(summary, stats)
    ttft = [(r["model"], r["stream"], r["batch"]) for r in rows if r["figure"].startswith("TTFT")]
    assert ttft == [
        ("direct", "199.6 ms / 290.0 ms / 298.3 ms", "—"),
        ("gw", "229.6 ms / 319.9 ms / 328.3 ms", "—"),
    ]
    requests = [(r["model"], r["stream"]) for r in rows if r["figure"] == "requests"]
    assert requests == [("direct", "400"), ("gw", "401")]


def test_the_tab_starts_with_the_comparison_and_shows_the_overhead() -> None:
    stats, summary = gateway_run()
    rows = tab(summary, stats)
    assert rows[0]["figure"] == "▶ direct has the lower stream TTFT p50 (200 ms vs 230 ms)."
    overhead = [r for r in rows if r["figure"] == "gateway overhead TTFT p50"]
    assert [(r["model"], r["stream"], r["batch"]) for r in overhead] == [
        ("gw − direct", "+30.0 ms (+9.45 to +50.5 ms)", "—")
    ]
    bursts = [r for r in rows if r["figure"].startswith("⚠ burst_delivery")]
    assert [(r["model"], r["stream"]) for r in bursts] == [("gw", "80")]


def test_the_tab_computes_the_overhead_of_a_summary_not_yet_completed() -> None:
    stats = stats_of(
        [stream("direct", v) for v in spread(0.1, 0.3, 400)]
        + [stream("gw", v + 0.03) for v in spread(0.1, 0.3, 400)]
    )
    summary = targets_summary(stats, {"direct": None, "gw": "direct"})  # as the web UI has it
    rows = tab(summary, stats)
    (row,) = [r for r in rows if r["figure"] == "gateway overhead TTFT p50"]
    assert row["stream"].startswith("+30.0 ms (")


def test_a_target_with_several_models_names_target_and_model() -> None:
    records = [stream("a", 0.1, model="m1"), stream("a", 0.2, model="m2"), stream("b", 0.3)]
    stats = stats_of(records)
    summary = targets_summary(stats, {"a": None, "b": None})
    labels = [r["model"] for r in tab(summary, stats) if r["figure"] == "requests"]
    assert labels == ["a · all models", "a · m1", "a · m2", "b"]


def test_the_live_document_and_the_csv_name_the_targets() -> None:
    stats, summary = gateway_run()
    health = LoadGeneratorHealth(False, None, None)
    doc = live_document(
        summary,
        models_by_mode(stats),
        health,
        state="running",
        user_count=8,
        target_models=models_by_target(stats),
    )
    assert doc["targets_headline"][0] == "direct has the lower stream TTFT p50 (200 ms vs 230 ms)."
    assert [(i["target"], i["mode"]) for i in doc["gateway_overhead"]] == [
        ("gw", "stream"),
        ("gw", "batch"),
    ]
    csv_lines = stats_csv(summary, models_by_mode(stats), target_models=models_by_target(stats))
    lines = csv_lines.splitlines()
    assert lines[0].startswith("target,mode,model,requests,failed,")
    assert [line.split(",")[:5] for line in lines[1:]] == [
        ["direct", "stream", "m", "400", "0"],
        ["direct", "batch", "m", "100", "0"],
        ["gw", "stream", "m", "401", "1"],
        ["gw", "batch", "m", "100", "0"],
    ]


def test_a_one_target_tab_has_no_target_rows() -> None:
    stats = stats_of([stream("", 0.1), batch("", 0.5)])
    summary = build_summary(stats.summary(DURATION_S), run=RUN)
    rows = table_rows(summary, MODELS)
    assert [r["model"] for r in rows if r["figure"] == "requests"] == ["m"]
    assert not [r for r in rows if r["figure"].startswith("gateway overhead")]
    assert stats_csv(summary, MODELS).startswith("mode,model,requests,failed,")

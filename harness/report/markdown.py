"""The batch-vs-streaming comparison table, rendered from a summary.json document.

`render_markdown(summary)` gives Markdown for `summary.md` and CI job summaries;
`render_terminal(summary)` gives the same table as plain aligned text. Modes are columns
(streaming | batch) and the first latency row is the headline, "first visible output"
(TTFT for streaming, E2E for batch: what a person waits for before seeing anything; every
figure is defined in docs/design.md; the rows are harness.report.rows'). Below the latencies
come TTFB and the tail (last token → end of stream), where a gateway shows, and the notes
(harness.report.notes) say what the path to the server did (harness.report.path). Durations
arrive in seconds and are shown in ms below 1 s; a figure that does not apply (TTFT for
batch, a mode that was not run) shows `—`.

A summary with ``targets`` (endpoints compared side by side) is laid out by
harness.report.side_by_side: the headline first, a row per target under each figure, the
gateway overhead, the cost per target. Functions of the document only, tolerant of absent
figures; standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report.intervals import INTERVALS_NOTE
from harness.report.load import load_line

# re-exported: the other reports take them from here
from harness.report.notes import first_visible_verdict as first_visible_verdict
from harness.report.notes import goodput_line as goodput_line
from harness.report.notes import headline_interval_line, run_line
from harness.report.notes import headline_sentence as headline_sentence
from harness.report.notes import notes as notes
from harness.report.notes import one_token_answers as one_token_answers
from harness.report.notes import path_lines as path_lines
from harness.report.rows import TAIL_LABEL as TAIL_LABEL
from harness.report.rows import Row as Row
from harness.report.rows import aligned, bold_headline, shared_tables
from harness.report.rows import build_rows as build_rows
from harness.report.rows import goodput_rows as goodput_rows
from harness.report.rows import shows_intervals as shows_intervals
from harness.report.server import server_lines, server_markdown
from harness.report.side_by_side import render_targets_markdown, render_targets_terminal
from harness.report.targets import target_entries
from harness.report.units import DASH as DASH
from harness.report.units import MODE_TITLES as MODE_TITLES
from harness.report.units import format_duration as format_duration
from harness.report.units import format_duration_short as format_duration_short
from harness.report.units import number_at as number_at


def render_markdown(summary: Mapping[str, Any]) -> str:
    """The comparison as Markdown: a title, the run line, the table, then `notes()`."""
    if target_entries(summary):
        return render_targets_markdown(summary)
    columns, rows = build_rows(summary, intervals=True)
    out = ["## locust-llm: streaming vs batch", ""]
    line = run_line(summary)
    if line:
        out += [line, ""]
    offered = load_line(summary)
    if offered:
        out += [offered, ""]
    if columns:
        titles = [MODE_TITLES[m] for m in columns]
        out.append("| | " + " | ".join(titles) + " |")
        out.append("|:---|" + "---:|" * len(columns))
        for r in rows:
            label, cells = bold_headline(r.label, r.cells, r.headline)
            out.append(f"| {label} | " + " | ".join(cells) + " |")
    else:
        out.append("No requests were recorded.")
    if columns and shows_intervals(summary):
        out += ["", INTERVALS_NOTE]
    out += shared_tables(summary, markdown=True)
    for line in notes(summary):
        out += ["", line]
    server = server_markdown(summary)
    if server:
        out += ["", *server]
    return "\n".join(out) + "\n"


def render_terminal(summary: Mapping[str, Any]) -> str:
    """The comparison as plain text with aligned columns, for a terminal or a CI log."""
    if target_entries(summary):
        return render_targets_terminal(summary)
    columns, rows = build_rows(summary)
    out = ["locust-llm: streaming vs batch"]
    line = run_line(summary, code=False)
    if line:
        out.append(line)
    offered = load_line(summary)
    if offered:
        out.append(offered)
    out.append("")
    if columns:
        table = [["", *(MODE_TITLES[m] for m in columns)]]
        table += [[r.label, *r.cells] for r in rows]
        out += aligned(table)
    else:
        out.append("No requests were recorded.")
    out += shared_tables(summary, markdown=False)
    lines = notes(summary)
    headline_interval = headline_interval_line(summary)
    if headline_interval is not None:
        lines.insert(1 if headline_sentence(summary) is not None else 0, headline_interval)
    lines += server_lines(summary)
    if lines:
        out.append("")
        out += lines
    return "\n".join(out) + "\n"

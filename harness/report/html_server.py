"""report.html's "The server's own view": per server, its table, its gauges over time.

For each server a report shows (harness.report.server: the run's, or each target's), a
heading (engine, metrics URL, scrapes), the table of the server's figures next to ours with
ours − the server's (means only), what that difference means, the saturation sentence and the
warnings, and two plots over time: running and waiting requests, and KV-cache use. They are
drawn on **the run's own time axis**: seconds from the test's start, from 0 to
`time_axis_end(summary)`, the range every plot over time in the report shares, so a knee in
the server's queue lines up with one in our TTFT. Pure: standard library and the report only.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from harness.report.server import (
    GAUGE_TITLES,
    ROW_TITLES,
    SECTION_TITLE,
    TABLE_NOTE,
    gauge_series,
    server_entries,
    server_heading,
    server_line,
    server_notes,
    server_rows,
)
from harness.report.svg import Series, empty_chart, line_chart

GAUGE_COLORS = {"running": "#1e8e3e", "waiting": "#c5221f", "kv_cache_usage": "#7b3fb8"}
#: the x axis's label of every plot over the run's time
TIME_LABEL = "time since start (s)"


def time_axis_end(summary: Mapping[str, Any]) -> float | None:
    """Where the run's time axis ends: its last timeline point or a server's last scrape,
    whichever is later (None when neither exists)."""
    ends: list[float] = []
    timeline = summary.get("timeline")
    points = timeline.get("points") if isinstance(timeline, Mapping) else None
    if isinstance(points, list):
        ends += [
            float(p["t_s"]) for p in points if isinstance(p, Mapping) and _number(p.get("t_s"))
        ]
    for _, block, _ in server_entries(summary):
        for series in gauge_series(block).values():
            ends += [t for t, _ in series]
    return max(ends) if ends else None


def server_section(summary: Mapping[str, Any], x_max: float | None) -> list[str]:
    """The section's HTML, one block per server; empty without a server block."""
    entries = server_entries(summary)
    if not entries:
        return []
    out = [f"<h2>{escape(SECTION_TITLE)}</h2>"]
    for name, block, modes in entries:
        out.append(f'<h3 class="server">{escape(server_heading(block, name))}</h3>')
        rows = server_rows(block, modes)
        if rows:
            head = "".join(f"<th>{escape(title)}</th>" for title in ROW_TITLES)
            body = "".join(
                "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row.cells()) + "</tr>"
                for row in rows
            )
            out.append(
                f'<table class="server"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
            )
            out.append(f"<p>{escape(TABLE_NOTE)}</p>")
        else:
            out.append(f"<p>{escape(server_line(block, modes, name))}</p>")
        for note in server_notes(block):
            cls = "warning" if note.startswith("Warning: ") or "saturated" in note else ""
            out.append(f'<p class="{cls}">{escape(note)}</p>' if cls else f"<p>{escape(note)}</p>")
        series = gauge_series(block)
        if rows:
            out.append(
                '<div class="grid">'
                + _figure(
                    "Server: running and waiting requests",
                    "Its own gauges at each scrape, on the run's time axis.",
                    _requests_chart(series, x_max),
                )
                + _figure(
                    "Server: KV-cache use",
                    "The fullest engine's KV cache at each scrape, on the run's time axis.",
                    _kv_chart(series, x_max),
                )
                + "</div>"
            )
    return out


def _requests_chart(series: Mapping[str, list[tuple[float, float]]], x_max: float | None) -> str:
    title = "Server: running and waiting requests"
    drawn = [
        Series(GAUGE_TITLES[role], series[role], GAUGE_COLORS[role])
        for role in ("running", "waiting")
        if role in series
    ]
    if not drawn:
        return empty_chart(title, "the server publishes no request gauges")
    return line_chart(
        drawn,
        title=title,
        x_label=TIME_LABEL,
        y_label="requests",
        x_format=lambda v: f"{v:g}",
        y_format=lambda v: f"{v:g}",
        x_max=x_max,
    )


def _kv_chart(series: Mapping[str, list[tuple[float, float]]], x_max: float | None) -> str:
    title = "Server: KV-cache use"
    points = series.get("kv_cache_usage")
    if not points:
        return empty_chart(title, "the server publishes no KV-cache gauge")
    return line_chart(
        [Series(GAUGE_TITLES["kv_cache_usage"], points, GAUGE_COLORS["kv_cache_usage"])],
        title=title,
        x_label=TIME_LABEL,
        y_label="KV-cache use (%)",
        x_format=lambda v: f"{v:g}",
        y_format=lambda v: f"{v:g}%",
        x_max=x_max,
        y_max=100.0,
    )


def _figure(title: str, caption: str, chart: str) -> str:
    return (
        f'<figure class="server"><figcaption>{escape(title)}</figcaption>'
        f"<p>{escape(caption)}</p>{chart}</figure>"
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)

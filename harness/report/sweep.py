"""A sweep's reports: `sweep.md` (and its terminal twin) and `sweep.html`, from sweep.json.

One row per point: its load (an offered rate, or users for a closed-loop point), the rate
achieved, throughput and goodput, first visible output p50 / p95 per mode (from the schedule
for open-loop points) and failures; then the knee and the highest rate within SLO in words.
The HTML page plots latency, throughput and goodput against offered load, the knee marked.
Functions of the document only; standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from harness.report.svg import Series, line_chart
from harness.report.units import DASH, format_duration, number_at

SWEEP_JSON, SWEEP_MD, SWEEP_HTML = "sweep.json", "sweep.md", "sweep.html"
_COLORS = {"stream": "#1f77b4", "batch": "#ff7f0e"}
_HEADER = [
    "point",
    "load",
    "achieved",
    "throughput",
    "goodput",
    "stream first visible p50 / p95",
    "batch first visible p50 / p95",
    "failures",
    "SLOs",
]


def _rate(value: Any) -> str:
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    return DASH if number is None else f"{number:.3g}/s"


def _first_visible(point: Mapping[str, Any], mode: str) -> str:
    entry = (point.get("modes") or {}).get(mode) or {}
    block = entry.get("from_schedule_first_visible_s") or entry.get("first_visible_s")
    p50, p95 = number_at(block, "p50"), number_at(block, "p95")
    if p50 is None or p95 is None:
        return DASH
    return f"{format_duration(p50)} / {format_duration(p95)}"


def rows(doc: Mapping[str, Any]) -> list[list[str]]:
    """One row of cells per point."""
    knee = (doc.get("knee") or {}).get("index")
    out = []
    for point in doc.get("points", []):
        label = str(point.get("label", ""))
        if point.get("index") == knee and knee is not None:
            label += " (knee)"
        if point.get("stopped_early"):
            label += " (stopped early)"
        slo = point.get("slos_passed")
        attainment = point.get("slo_attainment")
        verdict = DASH
        if isinstance(attainment, int | float):
            verdict = f"{attainment:.0%} met"
        if isinstance(slo, bool):
            verdict = ("pass" if slo else "miss") + ("" if verdict == DASH else f", {verdict}")
        out.append(
            [
                str(point.get("index", "")),
                label,
                _rate(point.get("achieved_rate_per_s")),
                _rate(point.get("throughput_per_s")),
                _rate(point.get("goodput_per_s")),
                _first_visible(point, "stream"),
                _first_visible(point, "batch"),
                f"{int(point.get('failures', 0)):,}",
                verdict,
            ]
        )
    return out


def verdict_lines(doc: Mapping[str, Any]) -> list[str]:
    """The knee and the highest rate within SLO, in words."""
    lines = []
    knee = doc.get("knee")
    if isinstance(knee, Mapping):
        rate = knee.get("offered_rate_per_s")
        if rate is None:
            lines.append(f"Knee: none below the lightest point ({knee.get('reason')}).")
        elif knee.get("open_above"):
            lines.append(f"Knee: at or above {rate:g}/s ({knee.get('reason')}).")
        else:
            lines.append(
                f"Knee: {rate:g}/s, the last point before saturation ({knee.get('reason')})."
            )
    best = doc.get("max_rate_within_slo")
    if isinstance(best, Mapping):
        rate = best.get("rate_per_s")
        low, high = (best.get("bracket_per_s") or [None, None])[:2]
        share = best.get("attainment", 0.95)
        if rate is None:
            lines.append(f"Highest rate within SLO: none ({best.get('note')}).")
        elif high is None:
            lines.append(f"Highest rate within SLO: at least {rate:g}/s ({best.get('note')}).")
        else:
            lines.append(
                f"Highest rate within SLO ({share:.0%} of requests meeting every goodput "
                f"limit): {rate:g}/s, between {low:g}/s and {high:g}/s "
                f"(± {best.get('uncertainty_per_s', 0):.3g}/s)."
            )
    return lines


def render_sweep_markdown(doc: Mapping[str, Any]) -> str:
    table = rows(doc)
    spec = (doc.get("sweep") or {}).get("spec", "")
    out = [f"## locust-llm sweep: {spec}", ""]
    if table:
        out.append("| " + " | ".join(_HEADER) + " |")
        out.append("|" + "---|" * len(_HEADER))
        out += ["| " + " | ".join(r) + " |" for r in table]
    else:
        out.append("No point was measured.")
    out.append("")
    out.append(
        "First visible output is TTFT for streaming and E2E for batch, timed from each "
        "request's due time in open-loop points (the wait for a free user included)."
    )
    for line in verdict_lines(doc):
        out += ["", line]
    return "\n".join(out) + "\n"


def render_sweep_terminal(doc: Mapping[str, Any]) -> str:
    table = [_HEADER, *rows(doc)]
    widths = [max(len(line[i]) for line in table) for i in range(len(_HEADER))]
    spec = (doc.get("sweep") or {}).get("spec", "")
    out = [f"locust-llm sweep: {spec}", ""]
    for k, line in enumerate(table):
        out.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    out.append("")
    out += verdict_lines(doc)
    return "\n".join(out) + "\n"


def _series(doc: Mapping[str, Any]) -> tuple[list[Series], list[Series]]:
    """Latency (first visible p50, p95 per mode) and rates (achieved, goodput) by offered
    rate, for the open-loop points."""
    points = sorted(
        (p for p in doc.get("points", []) if p.get("kind") == "open"),
        key=lambda p: float(p.get("offered_rate_per_s") or 0.0),
    )
    latency: list[Series] = []
    for mode, color in _COLORS.items():
        for percentile, dashed in (("p50", False), ("p95", True)):
            xy = []
            for p in points:
                entry = (p.get("modes") or {}).get(mode) or {}
                block = entry.get("from_schedule_first_visible_s") or entry.get("first_visible_s")
                y = number_at(block, percentile)
                if y is not None:
                    xy.append((float(p["offered_rate_per_s"]), y))
            if xy:
                latency.append(Series(f"{mode} first visible {percentile}", xy, color, dashed))
    rates: list[Series] = []
    for key, label, color in (
        ("achieved_rate_per_s", "sent", "#2ca02c"),
        ("throughput_per_s", "completed", "#9467bd"),
        ("goodput_per_s", "goodput", "#d62728"),
    ):
        xy = [
            (float(p["offered_rate_per_s"]), float(p[key]))
            for p in points
            if isinstance(p.get(key), int | float)
        ]
        if xy:
            rates.append(Series(label, xy, color))
    knee = (doc.get("knee") or {}).get("offered_rate_per_s")
    if isinstance(knee, int | float):
        for group in (latency, rates):
            top = max((y for s in group for _, y in s.points), default=0.0)
            if top > 0:
                group.append(Series("knee", [(float(knee), 0.0), (float(knee), top)], "#555", True))
    return latency, rates


def render_sweep_html(doc: Mapping[str, Any]) -> str:
    latency, rates = _series(doc)
    spec = escape(str((doc.get("sweep") or {}).get("spec", "")))
    charts = []
    if latency:
        charts.append(
            line_chart(
                latency,
                title="First visible output against offered load",
                x_label="offered requests/s",
                y_label="seconds",
                x_format=lambda v: f"{v:g}",
                y_format=format_duration,
            )
        )
    if rates:
        charts.append(
            line_chart(
                rates,
                title="Sent, completed and goodput against offered load",
                x_label="offered requests/s",
                y_label="requests/s",
                x_format=lambda v: f"{v:g}",
                y_format=lambda v: f"{v:.3g}",
            )
        )
    head = "".join(f"<th>{escape(h)}</th>" for h in _HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows(doc)
    )
    verdicts = "".join(f"<p>{escape(line)}</p>" for line in verdict_lines(doc))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>locust-llm sweep: {spec}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>locust-llm sweep: {spec}</h1>{verdicts}"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f'<div class="grid">{"".join(charts)}</div>'
        "<footer>Generated by locust-llm from sweep.json.</footer></main></body></html>\n"
    )


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;background:#fafafa;color:#222}"
    "main{max-width:1200px;margin:0 auto;padding:1.5rem}"
    "table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}"
    "td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:right}"
    "th{background:#eee}td:nth-child(2){text-align:left}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:1rem}"
    "footer{color:#777;font-size:.8rem;margin-top:2rem}"
)


def write_sweep_reports(doc: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """sweep.json, sweep.md and sweep.html into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        (SWEEP_JSON, json.dumps(doc, indent=2, sort_keys=False) + "\n"),
        (SWEEP_MD, render_sweep_markdown(doc)),
        (SWEEP_HTML, render_sweep_html(doc)),
    ):
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written

"""report.html: the run as a page a person would rather look at than read.

`render_html(summary)` returns one self-contained HTML file: inline CSS and inline SVG plots
(harness.report.svg), no script, no font, no request to anywhere — a Content-Security-Policy
of ``default-src 'none'`` makes the browser refuse any that slipped in. It shows the SLO
verdict, the batch-vs-streaming comparison table (the same rows as summary.md), the path to
the server (its headers per mode, a recognised gateway, the anomalies that change the reading;
harness.report.path), and plots:
first visible output streaming vs batch, latency CDFs per mode (first visible output, TTFT,
E2E, ITL), TTFT/ITL and first visible output over time, throughput over time, errors by
class; then the estimated cost and the run's details. Figures absent from the summary show
"no data" instead of a zero.

With ``targets`` (endpoints compared side by side) the headline comes first (which target has
the lower figure, named only when significant: harness.report.targets), the table has a
column per target and mode, the gateway overhead and the cost per target and per 1,000
requests have their tables (harness.report.html_targets), and every plot of the run's figures
has one series per target and mode, each its own colour, named in the legend
(`series_color`); the plots over time are of all targets together (the timeline is not kept
per target). Pure: a function of the summary document, standard library only; every string
from the summary is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from harness.errors import MODES
from harness.exit_code import ExitCode, slo_exit_code
from harness.report.cost import format_dollars
from harness.report.html_server import TIME_LABEL, server_section, time_axis_end
from harness.report.html_targets import (
    overhead_section,
    target_cost_section,
    target_views,
    targets_section,
)
from harness.report.intervals import INTERVALS_NOTE
from harness.report.load import load_line, load_notes, stage_rows
from harness.report.markdown import (
    DASH,
    MODE_TITLES,
    build_rows,
    format_duration,
    goodput_line,
    headline_sentence,
    shows_intervals,
)
from harness.report.path import (
    describe_path,
    path_anomalies,
    server_paths,
    stream_not_honored_warning,
)
from harness.report.svg import Bar, Series, bar_chart, line_chart
from harness.report.targets import headline_lines, target_entries, target_modes
from harness.report.timeline import rate_points
from harness.report.workload import length_rows, turn_rows, workload_notes

COLORS = {"stream": "#1b6ac9", "batch": "#d9620b"}
#: the colours of a run with targets, one per (target, mode) in order: target 1 streaming,
#: target 1 batch, target 2 streaming, … (dashed once they run out)
TARGET_PALETTE = (
    "#1b6ac9", "#d9620b", "#1e8e3e", "#c5221f", "#7b3fb8", "#8c564b", "#d63384", "#5f6368",
    "#9e9d24", "#0097a7", "#3949ab", "#ef6c00", "#43a047", "#e53935", "#8e24aa", "#6d4c41",
    "#ad1457", "#455a64", "#827717", "#00838f",
)  # fmt: skip
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d1d1f;
background:#f5f6f8}
main{max-width:1360px;margin:0 auto;padding:24px}
h1{font-size:1.5rem;margin:0 0 4px}h2{font-size:1.15rem;margin:28px 0 10px}
h3{font-size:1rem;margin:18px 0 6px}
.run{color:#555;font-size:.9rem}.headline{font-size:1.05rem;margin:14px 0}
.badge{display:inline-block;padding:4px 12px;border-radius:14px;font-weight:600;color:#fff}
.badge.pass{background:#1e8e3e}.badge.fail{background:#c5221f}.badge.none{background:#777}
table{border-collapse:collapse;background:#fff;font-size:.9rem;margin:6px 0}
th,td{border:1px solid #ddd;padding:5px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#eef0f3}
th[colspan]{text-align:center}
tr.headline td{font-weight:700}td.fail{color:#c5221f;font-weight:600}
td.pass{color:#1e8e3e;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px}
figure{background:#fff;border:1px solid #ddd;border-radius:6px;margin:0;padding:10px}
figcaption{font-weight:600;margin:0 0 4px}figure p{margin:2px 0 6px;color:#555;
font-size:.85rem}svg.plot{width:100%;height:auto;display:block}
.warning{background:#fff4e5;border:1px solid #f0b36a;padding:8px 12px;border-radius:6px}
footer{color:#777;font-size:.8rem;margin-top:32px}
"""


def render_html(summary: Mapping[str, Any]) -> str:
    """The complete report.html for a summary.json document."""
    run = summary.get("run") if isinstance(summary.get("run"), Mapping) else {}
    assert isinstance(run, Mapping)
    title = "locust-llm report"
    scenario = run.get("scenario")
    if isinstance(scenario, str) and scenario:
        title += f": {scenario}"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<div class="run">{escape(_run_line(run))}</div>',
        _verdict(summary),
    ]
    targets = target_entries(summary)
    for line in headline_lines(summary):
        body.append(f'<p class="headline">{escape(line)}</p>')
    for name, view in target_views(summary):
        sentence = headline_sentence(view)
        if sentence:
            shown = f"{name}: {sentence}" if name else sentence
            body.append(f'<p class="headline">{escape(shown)}</p>')
    if run.get("client_saturated") is True:
        body.append(
            '<p class="warning">The load generator was saturated during this run '
            "(client_saturated): these latencies include its own delays and overstate the "
            "server's.</p>"
        )
    for name, view in target_views(summary):
        warning = stream_not_honored_warning(_modes(view).get("stream", {}))
        if warning is not None:
            shown = f"Warning: {name}: {warning.removeprefix('Warning: ')}" if name else warning
            body.append(f'<p class="warning">{escape(shown)}</p>')
    body += _slo_section(summary.get("slos"))
    if targets:
        body += targets_section(summary)
        body += overhead_section(summary)
    else:
        body += _comparison_section(summary)
    body += _load_section(summary)
    body += _workload_section(summary)
    body += _path_section(summary)
    body += server_section(summary, time_axis_end(summary))
    body.append("<h2>Plots</h2>")
    body.append(f'<div class="grid">{"".join(_figures(summary))}</div>')
    body += _errors_section(summary)
    body += target_cost_section(summary) if targets else _cost_section(summary.get("cost"))
    body += _details_section(run)
    body.append(
        "<footer>Durations are measured with the load generator's monotonic clock; "
        "latency figures count successful requests only. Every figure, error class and "
        "anomaly is defined in the project's docs/design.md. Generated by locust-llm from "
        "summary.json.</footer>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


# ------------------------------------------------------------------ sections


def _verdict(summary: Mapping[str, Any]) -> str:
    slos = summary.get("slos")
    if not isinstance(slos, list) or not slos:
        return '<p><span class="badge none">no SLOs</span></p>'
    code = slo_exit_code(slos, summary)
    passed = sum(1 for s in slos if isinstance(s, Mapping) and s.get("passed") is True)
    if code == ExitCode.OK:
        text, cls = f"PASSED: {passed} of {len(slos)} SLOs met (exit code 0)", "pass"
    elif code == ExitCode.INTERNAL:
        text, cls = "HARNESS FAILURE: requests failed inside the harness (exit code 3)", "fail"
    else:
        text, cls = f"FAILED: {passed} of {len(slos)} SLOs met (exit code 1)", "fail"
    return f'<p><span class="badge {cls}">{escape(text)}</span></p>'


def _slo_section(slos: Any) -> list[str]:
    if not isinstance(slos, list) or not slos:
        return []
    rows = []
    for slo in slos:
        if not isinstance(slo, Mapping):
            continue
        passed = slo.get("passed") is True
        value, limit = slo_value_text(slo)
        reason = slo.get("reason")
        rows.append(
            f"<tr><td>{escape(str(slo.get('name', '?')))}</td><td>{escape(value)}</td>"
            f"<td>{escape(limit)}</td>"
            f'<td class="{"pass" if passed else "fail"}">{"met" if passed else "missed"}</td>'
            f"<td>{escape(str(reason)) if reason else ''}</td></tr>"
        )
    return [
        "<h2>SLOs</h2>",
        "<table><thead><tr><th>SLO</th><th>value</th><th>limit</th><th>verdict</th>"
        f"<th>note</th></tr></thead><tbody>{''.join(rows)}</tbody></table>",
    ]


def slo_value_text(slo: Mapping[str, Any]) -> tuple[str, str]:
    """(value, limit) of an SLO result as text: durations, ratios in percent, goodput per
    second; a minimum gate's limit reads ``≥ …``."""
    if "min_per_s" in slo:
        value, least = _float(slo.get("value_per_s")), _float(slo.get("min_per_s"))
        return (
            "no data" if value is None else f"{value:.4g}/s",
            DASH if least is None else f"≥ {least:g}/s",
        )
    if "min" in slo:
        value, least = slo.get("value"), slo.get("min")
        return (
            _percent(value) if _number(value) else "no data",
            f"≥ {_percent(least)}" if _number(least) else DASH,
        )
    if "limit_s" in slo or "value_s" in slo:
        value, limit = _float(slo.get("value_s")), _float(slo.get("limit_s"))
        return (
            "no data" if value is None else format_duration(value),
            DASH if limit is None else format_duration(limit),
        )
    value, limit = slo.get("value"), slo.get("limit")
    return (
        _percent(value) if _number(value) else "no data",
        _percent(limit) if _number(limit) else DASH,
    )


def _comparison_section(summary: Mapping[str, Any]) -> list[str]:
    columns, rows = build_rows(summary, intervals=True)
    if not columns:
        return ["<h2>Streaming vs batch</h2>", "<p>No requests were recorded.</p>"]
    head = "".join(f"<th>{escape(MODE_TITLES[m])}</th>" for m in columns)
    lines = []
    for row in rows:
        cls = ' class="headline"' if row.headline else ""
        cells = "".join(f"<td>{escape(c)}</td>" for c in row.cells)
        lines.append(f"<tr{cls}><td>{escape(row.label)}</td>{cells}</tr>")
    section = [
        "<h2>Streaming vs batch</h2>",
        f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>",
        *([f'<p class="run">{escape(INTERVALS_NOTE)}</p>'] if shows_intervals(summary) else []),
    ]
    goodput = goodput_line(summary)
    if goodput is not None:
        section.append(f'<p class="goodput">{escape(goodput)}</p>')
    return section


def _load_section(summary: Mapping[str, Any]) -> list[str]:
    """How the load was offered (open loop, stages): the line, the notes, the stage table."""
    line = load_line(summary)
    header, rows = stage_rows(summary)
    notes = load_notes(summary)
    if not line and not rows and not notes:
        return []
    out = ["<h2>Load</h2>"]
    if line:
        out.append(f"<p>{escape(line)}</p>")
    for note in notes:
        cls = ' class="warning"' if note.startswith("Warning") else ""
        out.append(f"<p{cls}>{escape(note)}</p>")
    if rows:
        head = "".join(f"<th>{escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows
        )
        out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return out


def _workload_section(summary: Mapping[str, Any]) -> list[str]:
    """What was sent: the workload line, lengths asked for and served, turns, prefixes."""
    notes = workload_notes(summary)
    tables = [length_rows(summary), turn_rows(summary)]
    if not notes and not any(rows for _, rows in tables):
        return []
    out = ["<h2>Workload</h2>"]
    for note in notes:
        cls = ' class="warning"' if note.startswith("Warning") else ""
        out.append(f"<p{cls}>{escape(note)}</p>")
    for header, rows in tables:
        if not rows:
            continue
        head = "".join(f"<th>{escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows
        )
        out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return out


def _path_section(summary: Mapping[str, Any]) -> list[str]:
    """The server path per mode and the anomalies that occurred, one sentence each."""
    paths = server_paths(summary)
    rows = []
    for mode in MODES:
        described = describe_path(paths.get(mode))
        if described:
            rows.append(
                f"<tr><td>{escape(MODE_TITLES[mode])}</td><td>{escape(described)}</td></tr>"
            )
    items = [
        f'<li class="anomaly"><b>{escape(_series_label(name, mode))}: {escape(a.kind)} '
        f"{a.times:,}</b> — {escape(a.meaning)}.</li>"
        for name, view in target_views(summary)
        for mode, figures in _modes(view).items()
        for a in path_anomalies(figures, paths.get(mode))
    ]
    if not rows and not items:
        return []
    out = ["<h2>Path to the server</h2>"]
    if rows:
        out.append(
            '<table class="path"><thead><tr><th>mode</th><th>server path (response headers)'
            f"</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    if items:
        out.append(
            f'<p>Anomalies that change the reading:</p><ul class="anomalies">{"".join(items)}</ul>'
        )
    return out


def _errors_section(summary: Mapping[str, Any]) -> list[str]:
    rows = []
    for target, view in target_views(summary):
        for mode, figures in _modes(view).items():
            errors = figures.get("errors")
            if not isinstance(errors, Mapping):
                continue
            for name, n in sorted(errors.items(), key=lambda kv: (-kv[1], kv[0])):
                if isinstance(n, int) and n:
                    rows.append(
                        f"<tr><td>{escape(_series_label(target, mode))}</td>"
                        f"<td>{escape(name)}</td><td>{n:,}</td></tr>"
                    )
    if not rows:
        return []
    first = "target, mode" if target_entries(summary) else "mode"
    return [
        "<h2>Errors</h2>",
        f"<table><thead><tr><th>{first}</th><th>error class</th><th>requests</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>",
    ]


def _cost_section(cost: Any) -> list[str]:
    if not isinstance(cost, Mapping) or not _number(cost.get("total")):
        return []
    rows = []
    models = cost.get("models")
    if isinstance(models, Mapping):
        for model, entry in models.items():
            if not isinstance(entry, Mapping):
                continue
            rows.append(
                f"<tr><td>{escape(str(model))}</td>"
                f"<td>{entry.get('input_tokens', 0):,}</td>"
                f"<td>${entry.get('input_per_mtok', 0):g}</td>"
                f"<td>{entry.get('output_tokens', 0):,}</td>"
                f"<td>${entry.get('output_per_mtok', 0):g}</td>"
                f"<td>{escape(format_dollars(float(entry.get('cost', 0.0))))}</td></tr>"
            )
    rows.append(
        f'<tr class="headline"><td>total</td><td></td><td></td><td></td><td></td>'
        f"<td>{escape(format_dollars(float(cost['total'])))}</td></tr>"
    )
    note = ""
    unpriced = cost.get("unpriced")
    if isinstance(unpriced, list) and unpriced:
        note = f"<p>No price in the scenario for: {escape(', '.join(map(str, unpriced)))}.</p>"
    return [
        "<h2>Estimated cost</h2>",
        "<table><thead><tr><th>model</th><th>input tokens</th><th>per million</th>"
        "<th>output tokens</th><th>per million</th><th>cost</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>",
        "<p>Input tokens as the server reported them (usage); output tokens of finished "
        "requests. Prices from the scenario's pricing table.</p>" + note,
    ]


def _details_section(run: Mapping[str, Any]) -> list[str]:
    keys = (
        ("host", "target"),
        ("endpoint", "endpoint"),
        ("models", "models"),
        ("scenario", "scenario"),
        ("users", "users"),
        ("duration_s", "duration (s)"),
        ("started_at", "started"),
        ("locust_version", "Locust"),
        ("harness_version", "locust-llm"),
        ("client_saturated", "load generator saturated"),
        ("read_clock", "read timestamps (kernel or recv)"),
    )
    rows = []
    for key, label in keys:
        if key not in run:
            continue
        value = run[key]
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        rows.append(f"<tr><td>{escape(label)}</td><td>{escape(shown)}</td></tr>")
    lag = run.get("loop_lag_s")
    if isinstance(lag, Mapping) and _number(lag.get("p99")):
        rows.append(
            "<tr><td>load generator loop lag p99</td>"
            f"<td>{escape(format_duration(float(lag['p99'])))}</td></tr>"
        )
    return ["<h2>Run</h2>", f"<table><tbody>{''.join(rows)}</tbody></table>"]


# ------------------------------------------------------------------ plots


#: the figures of one series set: (target index or None for a one-target run, target
#: name or "", its figures by mode)
SeriesSet = tuple[int | None, str, Mapping[str, Mapping[str, Any]]]


def series_sets(summary: Mapping[str, Any]) -> list[SeriesSet]:
    """What the plots draw a series of per mode: the run's modes, or each target's."""
    targets = target_entries(summary)
    if not targets:
        return [(None, "", _modes(summary))]
    return [(i, name, target_modes(entry)) for i, (name, entry) in enumerate(targets.items())]


def series_color(target_index: int | None, mode: str) -> tuple[str, bool]:
    """(colour, dashed) of a series: by mode in a one-target run (`COLORS`); in a run with
    targets, `TARGET_PALETTE` by target and mode, dashed once the palette has gone round."""
    if target_index is None:
        return COLORS[mode], False
    k = 2 * target_index + MODES.index(mode)
    return TARGET_PALETTE[k % len(TARGET_PALETTE)], k >= len(TARGET_PALETTE)


def _figures(summary: Mapping[str, Any]) -> list[str]:
    sets = series_sets(summary)
    per = "per target and mode" if target_entries(summary) else "per mode"
    together = " All targets together." if target_entries(summary) else ""
    itl = (
        "inter_chunk_s"
        if any(_itl_name(modes.get("stream", {})) == "inter_chunk_s" for _, _, modes in sets)
        else "itl_s"
    )
    figures = [
        _figure(
            "First visible output: streaming vs batch",
            "What a person waits for before seeing anything: the first token when "
            "streaming, the whole answer in batch.",
            lambda t: _first_visible_bars(sets, t),
        ),
        _figure(
            "First visible output, CDF",
            f"Share of requests (y) that showed something within a time (x), {per}.",
            lambda t: _cdf_chart(sets, "first_visible_s", MODES, t),
        ),
        _figure(
            "TTFT, CDF (streaming)",
            "Time to the first token-bearing event.",
            lambda t: _cdf_chart(sets, "ttft_s", ("stream",), t),
        ),
        _figure(
            "E2E, CDF",
            f"Time until the whole answer arrived, {per}.",
            lambda t: _cdf_chart(sets, "e2e_s", MODES, t),
        ),
        _figure(
            "ITL, CDF (streaming)",
            "Gaps between tokens (inter-chunk gaps when tokens per chunk were unknown).",
            lambda t: _cdf_chart(sets, itl, ("stream",), t),
        ),
    ]
    points = _timeline_points(summary)
    timeline = summary.get("timeline")
    interval = timeline.get("interval_s") if isinstance(timeline, Mapping) else None
    interval_s = float(interval) if isinstance(interval, int | float) else None
    end = time_axis_end(summary)
    figures += [
        _figure(
            "TTFT over time (streaming)",
            "p50 and p95 of each interval." + together,
            lambda t: _over_time(points, "stream", "ttft_s", t, end),
        ),
        _figure(
            "ITL over time (streaming)",
            "p50 and p95 of each interval." + together,
            lambda t: _over_time(points, "stream", "itl_s", t, end),
        ),
        _figure(
            "First visible output over time",
            "p50 of each interval, per mode." + together,
            lambda t: _first_visible_over_time(points, t, end),
        ),
        _figure(
            "Throughput over time",
            "Finished requests per second, and failed ones, per mode (a last interval cut "
            "short by the stop counts with the one before it)." + together,
            lambda t: _throughput(rate_points(points, interval_s), "requests", t, end),
        ),
        _figure(
            "Output tokens per second over time",
            "Tokens of finished requests per second, per mode (a last interval cut short "
            "by the stop counts with the one before it)." + together,
            lambda t: _throughput(rate_points(points, interval_s), "output_tokens", t, end),
        ),
        _figure(
            "Errors by class",
            "Failed requests by error class (the closed list in docs/design.md).",
            lambda t: _errors_chart(sets, t),
        ),
    ]
    return figures


def _figure(title: str, caption: str, draw: Callable[[str], str]) -> str:
    chart = draw(title)
    return (
        f"<figure><figcaption>{escape(title)}</figcaption><p>{escape(caption)}</p>{chart}</figure>"
    )


def _first_visible_bars(sets: Sequence[SeriesSet], title: str) -> str:
    bars = []
    for index, name, modes in sets:
        for mode in MODES:
            block = modes.get(mode, {}).get("first_visible_s")
            if not isinstance(block, Mapping):
                continue
            color, _ = series_color(index, mode)
            for key in ("p50", "p95", "p99"):
                if _number(block.get(key)):
                    bars.append(Bar(key, _series_label(name, mode), float(block[key]), color))
    unit, scale = _unit([b.value for b in bars])
    scaled = [Bar(b.category, b.label, b.value * scale, b.color) for b in bars]
    return bar_chart(
        scaled,
        title=title,
        value_format=lambda v: f"{v:g} {unit}",
        empty="no data",
    )


def quantile_points(figures: Mapping[str, Any], name: str) -> list[tuple[float, float]]:
    """(seconds, percentile) points of a figure's CDF, up to p99.9.

    From the summary's ``quantiles`` when present, else from the percentile block.
    """
    quantiles = figures.get("quantiles")
    if isinstance(quantiles, Mapping) and isinstance(quantiles.get(name), list):
        ps, values = quantiles.get("percentiles"), quantiles[name]
        if isinstance(ps, list) and len(ps) == len(values):
            return [
                (float(v), float(p))
                for p, v in zip(ps, values, strict=True)
                if _number(v) and _number(p) and p <= 99.9
            ]
    block = figures.get(name)
    if not isinstance(block, Mapping):
        return []
    pairs = [("min", 0.0), ("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0)]
    return [(float(block[k]), p) for k, p in pairs if _number(block.get(k))]


def _cdf_chart(sets: Sequence[SeriesSet], name: str, order: Sequence[str], title: str) -> str:
    raw = [
        (index, target, m, quantile_points(modes.get(m, {}), name))
        for index, target, modes in sets
        for m in order
    ]
    unit, scale = _unit([x for *_, pts in raw for x, _ in pts])
    series = [
        Series(_series_label(target, m), [(x * scale, p) for x, p in pts], *series_color(index, m))
        for index, target, m, pts in raw
    ]
    return line_chart(
        series,
        title=title,
        x_label=f"latency ({unit})",
        y_label="percentile",
        x_format=lambda v: f"{v:g}",
        y_format=lambda v: f"{v:g}%",
        y_max=100.0,
    )


def _timeline_points(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    timeline = summary.get("timeline")
    if not isinstance(timeline, Mapping):
        return []
    points = timeline.get("points")
    return [p for p in points if isinstance(p, Mapping)] if isinstance(points, list) else []


def _over_time(
    points: Sequence[Mapping[str, Any]], mode: str, name: str, title: str, end: float | None
) -> str:
    raw: dict[str, list[tuple[float, float]]] = {"p50": [], "p95": []}
    for point in points:
        block = _mode_at(point, mode).get(name)
        if isinstance(block, Mapping):
            for key, values in raw.items():
                if _number(block.get(key)) and _number(point.get("t_s")):
                    values.append((float(point["t_s"]), float(block[key])))
    unit, scale = _unit([y for values in raw.values() for _, y in values])
    series = [
        Series(
            f"{MODE_TITLES[mode]} {key}",
            [(t, y * scale) for t, y in values],
            COLORS[mode],
            dashed=key == "p95",
        )
        for key, values in raw.items()
    ]
    return _over_time_chart(series, title, f"latency ({unit})", end)


def _first_visible_over_time(
    points: Sequence[Mapping[str, Any]], title: str, end: float | None
) -> str:
    raw: dict[str, list[tuple[float, float]]] = {m: [] for m in MODES}
    for point in points:
        for mode in MODES:
            block = _mode_at(point, mode).get("first_visible_s")
            if isinstance(block, Mapping) and _number(block.get("p50")):
                raw[mode].append((float(point["t_s"]), float(block["p50"])))
    unit, scale = _unit([y for values in raw.values() for _, y in values])
    series = [
        Series(f"{MODE_TITLES[m]} p50", [(t, y * scale) for t, y in values], COLORS[m])
        for m, values in raw.items()
    ]
    return _over_time_chart(series, title, f"latency ({unit})", end)


def _throughput(
    points: Sequence[Mapping[str, Any]], key: str, title: str, end: float | None
) -> str:
    series = []
    for mode in MODES:
        values, failures = [], []
        for point in points:
            dt, t = _float(point.get("dt_s")), _float(point.get("t_s"))
            if dt is None or t is None or dt <= 0:
                continue
            figures = _mode_at(point, mode)
            values.append((t, (_float(figures.get(key)) or 0.0) / dt))
            if key == "requests":
                failures.append((t, (_float(figures.get("failures")) or 0.0) / dt))
        if any(v for _, v in values):
            series.append(Series(MODE_TITLES[mode], values, COLORS[mode]))
        if any(v for _, v in failures):
            series.append(Series(f"{MODE_TITLES[mode]} failed", failures, COLORS[mode], True))
    return _over_time_chart(series, title, "per second", end)


def _over_time_chart(series: list[Series], title: str, y_label: str, end: float | None) -> str:
    """A line chart against seconds since the run started, its axis from 0 to `end` (the
    run's time axis, shared by every plot over time, the server's too)."""
    return line_chart(
        series,
        title=title,
        x_label=TIME_LABEL,
        x_max=end,
        y_label=y_label,
        x_format=lambda v: f"{v:g}",
        y_format=lambda v: f"{v:g}",
    )


def _errors_chart(sets: Sequence[SeriesSet], title: str) -> str:
    bars = []
    for index, target, modes in sets:
        for mode in MODES:
            errors = modes.get(mode, {}).get("errors")
            if not isinstance(errors, Mapping):
                continue
            color, _ = series_color(index, mode)
            for name, n in sorted(errors.items()):
                if isinstance(n, int) and n > 0:
                    bars.append(Bar(name, _series_label(target, mode), float(n), color))
    bars.sort(key=lambda b: -b.value)
    return bar_chart(
        bars,
        title=title,
        value_format=lambda v: f"{v:,.0f}",
        empty="No failed requests",
    )


# ------------------------------------------------------------------ helpers


def _modes(summary: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    modes = summary.get("modes")
    if not isinstance(modes, Mapping):
        return {}
    return {m: modes[m] for m in MODES if isinstance(modes.get(m), Mapping)}


def _series_label(target: str, mode: str) -> str:
    """``streaming``, or ``fast streaming`` in a run with targets."""
    return f"{target} {MODE_TITLES[mode]}" if target else MODE_TITLES[mode]


def _mode_at(point: Mapping[str, Any], mode: str) -> Mapping[str, Any]:
    modes = point.get("modes")
    figures = modes.get(mode) if isinstance(modes, Mapping) else None
    return figures if isinstance(figures, Mapping) else {}


def _itl_name(figures: Mapping[str, Any]) -> str:
    return "inter_chunk_s" if figures.get("itl_basis") == "inter_chunk" else "itl_s"


def _unit(seconds: Sequence[float]) -> tuple[str, float]:
    """ms for figures below 10 s, else s: (unit, factor from seconds)."""
    return ("s", 1.0) if seconds and max(seconds) >= 10 else ("ms", 1000.0)


def _float(value: Any) -> float | None:
    return float(value) if _number(value) else None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _percent(value: Any) -> str:
    return f"{float(value) * 100:.3g}%"


def _run_line(run: Mapping[str, Any]) -> str:
    parts = []
    for key in ("host", "endpoint"):
        if isinstance(run.get(key), str) and run[key]:
            parts.append(run[key])
    if isinstance(run.get("users"), int):
        parts.append(f"{run['users']:,} users")
    if _number(run.get("duration_s")):
        parts.append(f"{float(run['duration_s']):.1f} s")
    if isinstance(run.get("started_at"), str):
        parts.append(f"started {run['started_at']}")
    return " · ".join(parts)

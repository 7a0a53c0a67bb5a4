"""report.html's sections of a run with targets: the endpoints, side by side, and what they cost.

`targets_section` lists the targets (host, endpoint, protocol, the target a gateway fronts,
models) and the comparison table with a column per target and mode (harness.report.rows);
`overhead_section` the gateway overhead with its intervals (harness.report.overhead);
`target_cost_section` each target's estimated cost at its own prices and per 1,000 requests
(harness.report.cost). harness.report.html puts them in the page. Pure: functions of the
summary document, standard library only; every string from the summary is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from harness.report.cost import cost_per_target, format_dollars
from harness.report.intervals import INTERVALS_NOTE
from harness.report.notes import goodput_line
from harness.report.overhead import OVERHEAD_NOTE, overhead_table
from harness.report.rows import build_target_rows, shows_intervals
from harness.report.targets import target_entries, target_view
from harness.report.units import DASH, MODE_TITLES


def targets_section(summary: Mapping[str, Any]) -> list[str]:
    """A run with targets: where each target is, then the comparison table with a column
    per target and mode (the rows of the one-target table)."""
    details = []
    for name, entry in target_entries(summary).items():
        models = entry.get("models")
        cells = [
            name,
            str(entry.get("host", "")),
            str(entry.get("endpoint", "")),
            str(entry.get("protocol", "")),
            str(entry.get("via", "")),
            ", ".join(map(str, models)) if isinstance(models, list) else "",
        ]
        details.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    out = [
        "<h2>Targets</h2>",
        '<table class="targets"><thead><tr><th>target</th><th>host</th><th>endpoint</th>'
        "<th>protocol</th><th>gateway in front of (via)</th><th>models</th></tr></thead>"
        f"<tbody>{''.join(details)}</tbody></table>",
        "<h2>Side by side</h2>",
    ]
    columns, rows = build_target_rows(summary, intervals=True)
    if not columns:
        return [*out, "<p>No requests were recorded.</p>"]
    names = list(dict.fromkeys(name for name, _ in columns))
    spans = [sum(1 for n, _ in columns if n == name) for name in names]
    top = "".join(f'<th colspan="{k}">{escape(n)}</th>' for n, k in zip(names, spans, strict=True))
    below = "".join(f"<th>{escape(MODE_TITLES[m])}</th>" for _, m in columns)
    lines = []
    for row in rows:
        cls = ' class="headline"' if row.headline else ""
        shown = "".join(f"<td>{escape(c)}</td>" for c in row.cells)
        lines.append(f"<tr{cls}><td>{escape(row.label)}</td>{shown}</tr>")
    out.append(
        f'<table class="side-by-side"><thead><tr><th rowspan="2"></th>{top}</tr>'
        f"<tr>{below}</tr></thead><tbody>{''.join(lines)}</tbody></table>"
    )
    if any(shows_intervals(view) for _, view in target_views(summary)):
        out.append(f'<p class="run">{escape(INTERVALS_NOTE)}</p>')
    goodput = goodput_line(summary)
    if goodput is not None:
        out.append(f'<p class="goodput">{escape(goodput)}</p>')
    return out


def overhead_section(summary: Mapping[str, Any]) -> list[str]:
    """The gateway overhead table (harness.report.overhead.overhead_table) and its note."""
    header, rows = overhead_table(summary)
    if not rows:
        return []
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return [
        "<h2>Gateway overhead</h2>",
        f'<table class="overhead"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>',
        f'<p class="run">{escape(OVERHEAD_NOTE)}</p>',
    ]


def target_cost_section(summary: Mapping[str, Any]) -> list[str]:
    """The estimated cost of each target at its own prices, and per 1,000 requests."""
    rows = []
    entries = target_entries(summary)
    priced = 0.0
    for name, total, per_1k in cost_per_target(summary):
        cost = entries[name].get("cost")
        models = cost.get("models") if isinstance(cost, Mapping) else None
        tokens = [0, 0]
        for entry in models.values() if isinstance(models, Mapping) else ():
            if isinstance(entry, Mapping):
                tokens[0] += int(entry.get("input_tokens", 0) or 0)
                tokens[1] += int(entry.get("output_tokens", 0) or 0)
        unpriced = cost.get("unpriced") if isinstance(cost, Mapping) else None
        note = ", ".join(map(str, unpriced)) if isinstance(unpriced, list) else ""
        priced += total or 0.0
        rows.append(
            f"<tr><td>{escape(name)}</td><td>{tokens[0]:,}</td><td>{tokens[1]:,}</td>"
            f"<td>{escape(DASH if total is None else format_dollars(total))}</td>"
            f"<td>{escape(DASH if per_1k is None else format_dollars(per_1k))}</td>"
            f"<td>{escape(note)}</td></tr>"
        )
    if not any(total is not None for _, total, _ in cost_per_target(summary)):
        return []
    rows.append(
        '<tr class="headline"><td>all targets</td><td></td><td></td>'
        f"<td>{escape(format_dollars(priced))}</td><td></td><td></td></tr>"
    )
    return [
        "<h2>Estimated cost per target</h2>",
        "<table><thead><tr><th>target</th><th>input tokens</th><th>output tokens</th>"
        "<th>cost</th><th>per 1,000 requests</th><th>no price for</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>",
        "<p>Each target at its own prices (a target without prices takes the scenario's). "
        "Input tokens as the server reported them (usage); output tokens of finished "
        "requests; per 1,000 requests: the cost over the requests that finished, × 1,000.</p>",
    ]


def target_views(summary: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(target name, the summary as that target's alone) of each target; [("", summary)]
    for a one-target run."""
    targets = target_entries(summary)
    if not targets:
        return [("", summary)]
    return [(name, target_view(summary, name)) for name in targets]

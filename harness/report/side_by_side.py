"""A run with targets in summary.md and the terminal: the endpoints side by side.

`render_targets_markdown(summary)` and `render_targets_terminal(summary)` are what
harness.report.markdown's renderers give for a summary with ``targets``: the title names the
targets; the headline comes first, one sentence per figure compared, naming a winner only
when the difference is significant (harness.report.targets); the table has, under each
figure, one row per target (a row's label alone, then a line per target: at most as wide as
a one-target table); then the gateway overhead with its intervals, the tables every target
shares (stages, workload) and `target_notes`: each target's own sentences, errors and
anomalies by target and mode, the SLOs of every target, the cost per target and per 1,000
requests. Functions of the document only; standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report.cost import cost_per_target_line
from harness.report.intervals import INTERVALS_NOTE
from harness.report.load import load_line, load_notes
from harness.report.notes import (
    anomaly_items,
    error_parts,
    headline_sentence,
    inter_chunk_note,
    run_line,
    run_notes,
    server_path_line,
)
from harness.report.overhead import OVERHEAD_NOTE, overhead_table
from harness.report.path import server_paths, stream_not_honored_warning
from harness.report.rows import (
    aligned,
    bold_headline,
    build_target_rows,
    shared_tables,
    shows_intervals,
    summary_modes,
)
from harness.report.server import server_lines, server_markdown
from harness.report.targets import headline_lines, target_entries, target_view
from harness.report.units import MODE_TITLES
from harness.report.workload import workload_notes


def target_title(summary: Mapping[str, Any]) -> str:
    """``locust-llm: fast vs slow``."""
    return "locust-llm: " + " vs ".join(target_entries(summary))


def target_notes(summary: Mapping[str, Any]) -> list[str]:
    """The notes of a run with targets: per target, its streaming-vs-batch sentence, a
    stream that was not one and its ITL basis; errors and anomalies by target and mode; then
    what the targets share (server path, load, workload, saturation, goodput limits), the
    SLOs of every target and the cost per target."""
    lines: list[str] = []
    errors: list[str] = []
    anomalies: list[str] = []
    paths = server_paths(summary)
    for name in target_entries(summary):
        view = target_view(summary, name)
        modes = summary_modes(view)
        own = [
            headline_sentence(view),
            stream_not_honored_warning(modes.get("stream", {})),
            inter_chunk_note(modes),
        ]
        lines += [for_target(name, line) for line in own if line is not None]
        errors += [f"{name} {part}" for part in error_parts(modes)]
        anomalies += anomaly_items(modes, paths, prefix=f"{name} ")
    if errors:
        lines.append("Errors — " + "; ".join(errors) + ".")
    server = server_path_line(summary)
    if server is not None:
        lines.append(server)
    if anomalies:
        lines.append("\n".join(["Anomalies that change the reading:", *anomalies]))
    lines.extend(load_notes(summary))
    lines.extend(workload_notes(summary))
    lines.extend(run_notes(summary))
    cost = cost_per_target_line(summary)
    if cost is not None:
        lines.append(cost)
    return lines


def for_target(name: str, line: str) -> str:
    """`line` said of target `name`: ``fast: …``, or ``Warning: fast: …`` / ``Note: fast: …``."""
    for prefix in ("Warning: ", "Note: "):
        if line.startswith(prefix):
            return f"{prefix}{name}: {line.removeprefix(prefix)}"
    return f"{name}: {line}"


def render_targets_markdown(summary: Mapping[str, Any]) -> str:
    """A run with targets as Markdown: the title naming them, the run line, the headline
    (one sentence per figure compared), the table (a row per target under each figure), the
    gateway overhead, the shared tables and `target_notes`."""
    out = [f"## {target_title(summary)}", ""]
    line = run_line(summary)
    if line:
        out += [line, ""]
    offered = load_line(summary)
    if offered:
        out += [offered, ""]
    headline = headline_lines(summary)
    if headline:
        out += [*(f"- {line}" for line in headline), ""]
    columns, rows = build_target_rows(summary, intervals=True)
    if columns:
        modes = list(dict.fromkeys(mode for _, mode in columns))
        names = list(dict.fromkeys(name for name, _ in columns))
        out.append("| | target | " + " | ".join(MODE_TITLES[m] for m in modes) + " |")
        out.append("|:---|:---|" + "---:|" * len(modes))
        for r in rows:
            for k, name in enumerate(names):
                cells = [c for (n, _), c in zip(columns, r.cells, strict=True) if n == name]
                label, cells = bold_headline(r.label if k == 0 else "", cells, r.headline)
                out.append(f"| {label} | {name} | " + " | ".join(cells) + " |")
        if any(shows_intervals(target_view(summary, name)) for name in names):
            out += ["", INTERVALS_NOTE]
    else:
        out.append("No requests were recorded.")
    header, overhead = overhead_table(summary)
    if overhead:
        out += ["", "**Gateway overhead**", ""]
        out.append("| " + " | ".join(header) + " |")
        out.append("|:---|" + "---:|" * (len(header) - 1))
        out += ["| " + " | ".join(row) + " |" for row in overhead]
        out += ["", OVERHEAD_NOTE]
    out += shared_tables(summary, markdown=True)
    for line in target_notes(summary):
        out += ["", line]
    server = server_markdown(summary)
    if server:
        out += ["", *server]
    return "\n".join(out) + "\n"


def render_targets_terminal(summary: Mapping[str, Any]) -> str:
    """A run with targets as plain text: as `render_targets_markdown`, each figure's label
    on its own line with one indented line per target under it."""
    out = [target_title(summary)]
    line = run_line(summary, code=False)
    if line:
        out.append(line)
    offered = load_line(summary)
    if offered:
        out.append(offered)
    headline = headline_lines(summary)
    if headline:
        out += ["", *headline]
    out.append("")
    columns, rows = build_target_rows(summary)
    if columns:
        modes = list(dict.fromkeys(mode for _, mode in columns))
        names = list(dict.fromkeys(name for name, _ in columns))
        table = [["", *(MODE_TITLES[m] for m in modes)]]
        for r in rows:
            table.append([r.label, *([""] * len(modes))])
            for name in names:
                cells = [c for (n, _), c in zip(columns, r.cells, strict=True) if n == name]
                table.append([f"  {name}", *cells])
        out += aligned(table)
    else:
        out.append("No requests were recorded.")
    header, overhead = overhead_table(summary)
    if overhead:
        out += ["", "Gateway overhead (gateway − upstream, with a conservative interval):"]
        out += aligned([header, *overhead])
    out += shared_tables(summary, markdown=False)
    lines = target_notes(summary) + server_lines(summary)
    if lines:
        out.append("")
        out += lines
    return "\n".join(out) + "\n"

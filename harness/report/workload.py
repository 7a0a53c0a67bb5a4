"""What was sent, in words and tables: the lines about `run.workload` and `modes.X.workload`.

`workload_line` names the workload and its calibration; `length_rows` compares the lengths
asked for with those the server served, per mode; `turn_rows` shows how first-visible time
grows with a conversation's history; `prefix_line` compares first use and reuse of a shared
prefix; `workload_tables` lays them out as Markdown or aligned text. Functions of the summary
document only, tolerant of absent figures; standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.report.units import DASH, format_duration, number_at

MODE_TITLES = {"stream": "Streaming", "batch": "Batch"}
TURN_ORDER = ("1", "2", "3", "4-7", "8+")


def _run(summary: Mapping[str, Any]) -> Mapping[str, Any]:
    run = summary.get("run")
    return run if isinstance(run, Mapping) else {}


def _blocks(summary: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    modes = summary.get("modes")
    if not isinstance(modes, Mapping):
        return {}
    out = {}
    for mode in ("stream", "batch"):
        block = (
            modes.get(mode, {}).get("workload") if isinstance(modes.get(mode), Mapping) else None
        )
        if isinstance(block, Mapping):
            out[mode] = block
    return out


def workload_line(summary: Mapping[str, Any]) -> str | None:
    """``Workload: sharegpt conversations.json: 8 conversations …; lengths calibrated: …``."""
    run = _run(summary)
    described = run.get("workload")
    calibration = run.get("calibration")
    parts = []
    if isinstance(described, str) and described:
        parts.append(f"Workload: {described}.")
    if isinstance(calibration, Mapping) and isinstance(calibration.get("described"), str):
        parts.append(f"Lengths calibrated against the server: {calibration['described']}.")
    return " ".join(parts) or None


def _mean(block: Any) -> float | None:
    return number_at(block, "mean")


def _tokens(value: float | None) -> str:
    return DASH if value is None else f"{value:,.0f}"


def _delta(requested: float | None, served: float | None) -> str:
    if requested is None or served is None or requested <= 0:
        return DASH
    return f"{(served - requested) / requested * 100:+.0f} %"


def length_rows(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Per mode and direction: requested and served mean lengths (p50, p90 served)."""
    header = [
        "Lengths (tokens)",
        "requested mean",
        "served mean",
        "served p50",
        "served p90",
        "diff",
    ]
    rows = []
    for mode, block in _blocks(summary).items():
        lengths = block.get("lengths")
        if not isinstance(lengths, Mapping):
            continue
        for direction in ("input", "output"):
            pair = lengths.get(direction)
            if not isinstance(pair, Mapping):
                continue
            requested, served = pair.get("requested"), pair.get("served")
            if requested is None and served is None:
                continue
            rows.append(
                [
                    f"{MODE_TITLES.get(mode, mode)} {direction}",
                    _tokens(_mean(requested)),
                    _tokens(_mean(served)),
                    _tokens(number_at(served, "p50")),
                    _tokens(number_at(served, "p90")),
                    _delta(_mean(requested), _mean(served)),
                ]
            )
    return header, rows


def _p50(block: Any) -> str:
    value = number_at(block, "p50")
    return DASH if value is None else format_duration(value)


def turn_rows(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """One row per turn bucket: requests, input tokens and first visible p50 per mode."""
    blocks: dict[str, Mapping[str, Any]] = {}
    for mode, block in _blocks(summary).items():
        by_turn = block.get("by_turn")
        if isinstance(by_turn, Mapping) and by_turn:
            blocks[mode] = by_turn
    if not blocks:
        return [], []
    header = ["Turn"]
    for mode in blocks:
        title = MODE_TITLES.get(mode, mode)
        header += [f"{title} requests", f"{title} input tokens", f"{title} first visible p50"]
    rows = []
    for turn in TURN_ORDER:
        if not any(turn in b for b in blocks.values()):
            continue
        row = [turn]
        for block in blocks.values():
            figures = block.get(turn)
            if not isinstance(figures, Mapping):
                figures = {}
            requests = number_at(figures, "requests")
            row += [
                DASH if requests is None else f"{int(requests):,}",
                _tokens(_mean(figures.get("input_tokens"))),
                _p50(figures.get("first_visible_s")),
            ]
        rows.append(row)
    return header, rows


def prefix_line(summary: Mapping[str, Any]) -> str | None:
    """``Shared prefix — streaming TTFT p50: first use 212.4 ms (4), reuse 31.0 ms (396).``"""
    parts = []
    for mode, block in _blocks(summary).items():
        prefix = block.get("prefix")
        if not isinstance(prefix, Mapping):
            continue
        figure = "ttft_s" if mode == "stream" else "first_visible_s"
        name = "TTFT" if mode == "stream" else "first visible"
        uses = []
        for use, label in (("first_use", "first use"), ("reuse", "reuse")):
            figures = prefix.get(use)
            if isinstance(figures, Mapping):
                n = number_at(figures, "requests")
                count = f" ({int(n):,})" if n is not None else ""
                uses.append(f"{label} {_p50(figures.get(figure))}{count}")
        if uses:
            parts.append(f"{MODE_TITLES.get(mode, mode).lower()} {name} p50: {', '.join(uses)}")
    if not parts:
        return None
    return "Shared prefix — " + "; ".join(parts) + " (requests in brackets)."


def warning_lines(summary: Mapping[str, Any]) -> list[str]:
    notes = _run(summary).get("workload_warnings")
    if not isinstance(notes, Sequence) or isinstance(notes, str):
        return []
    return [f"Warning: {n}" for n in notes if isinstance(n, str)]


def _table(title: str, header: list[str], rows: list[list[str]], *, markdown: bool) -> list[str]:
    if not rows:
        return []
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|:---|" + "---:|" * (len(header) - 1)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return [f"### {title}", "", *out]
    table = [header, *rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    out = [f"{title}:"]
    for line in table:
        cells = [line[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)
        ]
        out.append("  ".join(cells).rstrip())
    return out


def workload_tables(summary: Mapping[str, Any], *, markdown: bool) -> list[str]:
    """The lengths table and the per-turn table, each with a title; [] when neither has
    rows. Blank lines separate them in Markdown."""
    out: list[str] = []
    for title, (header, rows) in (
        ("Lengths asked for and served", length_rows(summary)),
        ("By conversation turn", turn_rows(summary)),
    ):
        table = _table(title, header, rows, markdown=markdown)
        if table:
            if out:
                out.append("")
            out += table
    return out


def workload_notes(summary: Mapping[str, Any]) -> list[str]:
    """The sentences: what was sent, the shared prefix's reuse, length warnings."""
    lines = []
    line = workload_line(summary)
    if line is not None:
        lines.append(line)
    prefix = prefix_line(summary)
    if prefix is not None:
        lines.append(prefix)
    lines.extend(warning_lines(summary))
    return lines

"""The rows of the comparison table every report shows: one label and one cell per column.

`build_rows(summary)` gives the modes present (the columns: streaming | batch) and the rows
(requests, failures, first visible output — the headline row — TTFT, ITL, TPOT, E2E, the
open-loop figures, TTFB, the tail, rates, reconnects and back-off when they happened,
goodput); `build_target_rows(summary)` the same for a run with targets, with a column per
target and mode. summary.md, the terminal and report.html lay them out (harness.report.markdown,
harness.report.html). Durations arrive in seconds and are shown in ms below 1 s; a figure that
does not apply shows `—`. Functions of the document only; standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from harness.errors import MODES, Outcome, is_failure
from harness.report.intervals import any_interval, with_interval
from harness.report.load import stage_table
from harness.report.targets import target_entries, target_modes
from harness.report.units import DASH, format_duration, format_duration_short, number_at
from harness.report.workload import workload_tables

_TRIPLE = ("p50", "p95", "p99")


Figures = Mapping[str, Any]


class Row(NamedTuple):
    """One table row: its label and one cell per mode column."""

    label: str
    cells: list[str]
    headline: bool = False


def build_rows(
    summary: Mapping[str, Any], *, intervals: bool = False
) -> tuple[list[str], list[Row]]:
    """The column modes present in `summary` and the table rows, shared by both renderers.

    With `intervals`, each p50 / p95 / p99 shows its 95 % interval (harness.report.intervals).
    """
    modes = summary_modes(summary)
    columns = [m for m in MODES if m in modes]
    return columns, figure_rows([modes[m] for m in columns], intervals=intervals)


def figure_rows(figs: Sequence[Figures], *, intervals: bool = False) -> list[Row]:
    """The table's rows for columns of figures (a mode, or a target's mode): one cell each."""
    triple = _triple_with_intervals if intervals else _triple

    def row(label: str, cell: Callable[[Figures], str], headline: bool = False) -> Row:
        return Row(label, [cell(f) for f in figs], headline)

    itl_label = "inter-chunk latency" if _any_inter_chunk(figs) else "ITL"
    rows = [
        row("requests", _requests_cell),
        row("failures", _failures_cell),
        row(
            "first visible output p50 / p95 / p99",
            lambda f: triple(f.get("first_visible_s")),
            headline=True,
        ),
        row("TTFT p50 / p95 / p99", lambda f: triple(f.get("ttft_s"))),
    ]
    if any(ttfc_differs(f) for f in figs):
        # a reasoning model (or a tool call) starts before its visible text: both are shown
        rows.append(row("TTFC (first text) p50 / p95 / p99", lambda f: triple(f.get("ttfc_s"))))
    rows += [
        row(f"{itl_label} p50 / p95 / p99", lambda f: triple(_itl_block(f))),
        row("TPOT p50", lambda f: _single(f.get("tpot_s"), "p50")),
        row("E2E p50 / p95 / p99", lambda f: triple(f.get("e2e_s"))),
    ]
    if any(f.get("from_schedule") or f.get("schedule_lag_s") for f in figs):
        # open loop: the same figures timed from the schedule, and the wait for a user
        rows += [
            row(
                "first visible from schedule p50 / p95 / p99",
                lambda f: triple(_from_schedule(f, "first_visible_s")),
            ),
            row("E2E from schedule p50 / p95 / p99", lambda f: triple(_from_schedule(f, "e2e_s"))),
            row("schedule lag p50 / p95 / p99", lambda f: triple(f.get("schedule_lag_s"))),
        ]
    rows += [
        row("TTFB p50 / p95 / p99", lambda f: triple(f.get("ttfb_s"))),
        row(TAIL_LABEL, lambda f: triple(f.get("tail_s"))),
        row("output tokens/s", lambda f: _rate(f.get("output_tokens_per_s"), 1)),
        row("requests/s", lambda f: _rate(f.get("requests_per_s"), 2)),
    ]
    # tool calls and reasoning (any protocol): shown only when the answers had them
    if any(isinstance(f.get("tool_call_s"), Mapping) for f in figs):
        rows.append(row("first tool call p50 / p95 / p99", lambda f: triple(f.get("tool_call_s"))))
    if any(number_at(f, "tool_call_bytes") for f in figs):
        rows.append(row("tool-call argument bytes", tool_bytes_cell))
    if any(number_at(f, "reasoning_tokens") for f in figs):
        rows.append(row("reasoning tokens (share of output)", reasoning_cell))
    # shown only when they happened: most runs neither reconnect nor back off
    if any(number_at(f, "reconnects") for f in figs):
        rows.append(row("reconnects", _reconnects_cell))
    if any(number_at(f, "backoff_s") for f in figs):
        rows.append(row("back-off waited", _backoff_cell))
    rows += goodput_rows(figs)
    return rows


def tool_bytes_cell(f: Figures) -> str:
    n = number_at(f, "tool_call_bytes")
    return "—" if n is None else f"{int(n):,}"


def reasoning_cell(f: Figures) -> str:
    n, share = number_at(f, "reasoning_tokens"), number_at(f, "reasoning_share")
    if n is None:
        return "—"
    return f"{int(n):,}" if share is None else f"{int(n):,} ({share:.0%})"


def ttfc_differs(f: Figures) -> bool:
    """Whether a mode's first visible text came later than its first token (reasoning,
    thinking or a tool call first): then TTFC is worth its own row."""
    ttft, ttfc = f.get("ttft_s"), f.get("ttfc_s")
    if not isinstance(ttft, Mapping) or not isinstance(ttfc, Mapping):
        return False
    if ttft.get("count") != ttfc.get("count"):
        return True
    first, text = number_at(ttft, "p50"), number_at(ttfc, "p50")
    return first is not None and text is not None and text > first * 1.001 + 1e-4


def goodput_rows(figs: Sequence[Figures]) -> list[Row]:
    """Goodput per second and SLO attainment, only when the run had goodput limits."""
    if not any(isinstance(f.get("goodput"), Mapping) for f in figs):
        return []

    def cell(key: str, show: Callable[[float], str]) -> list[str]:
        values = [number_at(f.get("goodput"), key) for f in figs]
        return [DASH if v is None else show(v) for v in values]

    return [
        Row("goodput (requests/s within limits)", cell("goodput_per_s", lambda v: f"{v:,.2f}")),
        Row("SLO attainment", cell("slo_attainment", lambda v: f"{100.0 * v:.1f}%")),
    ]


#: the label of the tail row: last token-bearing event → end of the stream
TAIL_LABEL = "tail (last token → end) p50 / p95 / p99"


def summary_modes(summary: Mapping[str, Any]) -> dict[str, Figures]:
    modes = summary.get("modes")
    if not isinstance(modes, Mapping):
        return {}
    return {m: f for m, f in modes.items() if m in MODES and isinstance(f, Mapping)}


def _any_inter_chunk(figs: Sequence[Figures]) -> bool:
    return any(f.get("itl_basis") == "inter_chunk" for f in figs)


def _itl_block(f: Figures) -> Any:
    # With basis inter_chunk, itl_s covers only the requests whose tokens per chunk were
    # known; inter_chunk_s covers them all (harness.stats), so that is the figure shown.
    if f.get("itl_basis") == "inter_chunk":
        return f.get("inter_chunk_s")
    return f.get("itl_s")


def _from_schedule(f: Figures, name: str) -> Any:
    block = f.get("from_schedule")
    return block.get(name) if isinstance(block, Mapping) else None


def _single(block: Any, key: str) -> str:
    value = number_at(block, key)
    return DASH if value is None else format_duration(value)


def _triple(block: Any) -> str:
    if not isinstance(block, Mapping):
        return DASH
    return " / ".join(_single(block, key) for key in _TRIPLE)


def _triple_with_intervals(block: Any) -> str:
    if not isinstance(block, Mapping):
        return DASH
    return " / ".join(
        with_interval(block, key, _single(block, key), format_duration_short, format_duration)
        for key in _TRIPLE
    )


def shows_intervals(summary: Mapping[str, Any]) -> bool:
    """Whether a percentile of the table has a bounded 95 % interval (summaries written
    before intervals existed have none)."""
    modes = summary_modes(summary)
    names = ("first_visible_s", "ttft_s", "e2e_s", "ttfb_s", "tail_s", "schedule_lag_s")
    blocks = [f.get(name) for f in modes.values() for name in names]
    blocks += [_itl_block(f) for f in modes.values()]
    blocks += [_from_schedule(f, name) for f in modes.values() for name in names]
    return any_interval(blocks, _TRIPLE)


def _rate(value: Any, decimals: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DASH
    return f"{value:,.{decimals}f}"


def _reconnects_cell(f: Figures) -> str:
    n = f.get("reconnects")
    return f"{n:,}" if isinstance(n, int) and not isinstance(n, bool) else DASH


def _backoff_cell(f: Figures) -> str:
    seconds = number_at(f, "backoff_s")
    if seconds is None:
        return DASH
    return "0 s" if seconds <= 0.0 else format_duration(seconds)


def _requests_cell(f: Figures) -> str:
    n = f.get("requests")
    return f"{n:,}" if isinstance(n, int) else DASH


def _failures_cell(f: Figures) -> str:
    """Failed requests (every outcome but success and cancelled) and their share.

    The share's base is the requests that finished, i.e. not cancelled (a cancelled
    request is neither success nor failure).
    """
    outcomes = f.get("outcomes")
    requests = f.get("requests")
    if isinstance(outcomes, Mapping):
        failed = sum(n for k, n in outcomes.items() if is_failure(k))
        finished = sum(n for k, n in outcomes.items() if k != Outcome.CANCELLED)
    elif isinstance(f.get("errors"), Mapping) and isinstance(requests, int):
        failed, finished = sum(f["errors"].values()), requests
    else:
        return DASH
    if finished <= 0:
        return f"{failed:,}"
    return f"{failed:,} ({100.0 * failed / finished:.1f}%)"


def build_target_rows(
    summary: Mapping[str, Any], *, intervals: bool = False
) -> tuple[list[tuple[str, str]], list[Row]]:
    """A run with targets: the columns, (target, mode) for every target in the scenario's
    order and every mode any target has, and the rows with one cell per column (`—` where a
    target has no request of that mode); ([], []) without targets."""
    per_target = {name: target_modes(entry) for name, entry in target_entries(summary).items()}
    modes = [m for m in MODES if any(m in figures for figures in per_target.values())]
    columns = [(name, mode) for name in per_target for mode in modes]
    if not columns:
        return [], []
    figs = [per_target[name].get(mode, {}) for name, mode in columns]
    return columns, figure_rows(figs, intervals=intervals)


# ------------------------------------------------------------------ layout


def aligned(table: Sequence[Sequence[str]]) -> list[str]:
    """Plain-text lines of a table: the first column left-aligned, the others right-aligned,
    a rule of dashes under the header (the first line). A line whose cells are all empty is
    a group's title: it may run past the first column."""
    # a line with no cell (a group's title) may run past the first column: it is not counted
    counted = [line for k, line in enumerate(table) if k == 0 or any(line[1:])]
    widths = [max(len(line[i]) for line in counted) for i in range(len(table[0]))]
    out = []
    for k, line in enumerate(table):
        label = line[0].ljust(widths[0])
        cells = [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
        out.append("  ".join([label, *cells]).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def bold_headline(label: str, cells: Sequence[str], headline: bool) -> tuple[str, list[str]]:
    if not headline:
        return label, list(cells)
    return f"**{label}**" if label else "", [c if c == DASH else f"**{c}**" for c in cells]


def shared_tables(summary: Mapping[str, Any], *, markdown: bool) -> list[str]:
    """The stage and workload tables, each after a blank line (what every target shares)."""
    out: list[str] = []
    for table in (
        stage_table(summary, markdown=markdown),
        workload_tables(summary, markdown=markdown),
    ):
        if table:
            out += ["", *table]
    return out

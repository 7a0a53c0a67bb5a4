"""The web UI's LLM tab as data: its table, the live `/llm/stats` document and the CSV.

Functions of a summary document (the summary.json document so far) and of the load
generator's health; harness.webui serves them through Locust's web UI. The tab is one table
(Locust's React UI renders an extended tab as a table): columns figure | model | streaming |
batch, rows in a fixed order (the UI sorts rows by `name`). The first rows are a warning when
the load generator is saturated, one when the endpoint does not stream (it answered stream
requests with one JSON body), and the headline, "first visible output" streaming vs batch;
then, per model group, the percentiles (p50 / p95 / p99) of first visible output, TTFT, ITL,
TPOT, E2E, TTFB and the tail (last token → end of stream), tokens/s, errors by class, and
reconnects and back-off when there were any, goodput and SLO attainment when the run has
goodput limits; then the server path per mode (a recognised
gateway named) and the anomalies that change the reading, one sentence each
(harness.report.path; docs/design.md defines every figure); then, with a metrics URL, the
server's own view (harness.report.server.tab_rows: client − server per mode, its queue and
gauges, the saturation sentence), per target.

Pure: standard library and the pure core only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import MODES, Outcome, is_failure
from harness.report.load import load_line, load_notes
from harness.report.markdown import (
    DASH,
    MODE_TITLES,
    TAIL_LABEL,
    first_visible_verdict,
    format_duration,
    format_duration_short,
    headline_sentence,
    number_at,
    one_token_answers,
)
from harness.report.overhead import BURST_LABEL, burst_text, gateway_overhead, overhead_text
from harness.report.path import (
    describe_path,
    path_anomalies,
    server_paths,
    stream_not_honored_warning,
)
from harness.report.rows import reasoning_cell, tool_bytes_cell, ttfc_differs
from harness.report.server import server_entries, tab_rows
from harness.report.targets import (
    FIGURE_LABELS,
    headline_lines,
    target_entries,
    target_modes,
    target_view,
)
from harness.stats import LAG_WINDOW_S, SATURATION_LAG_P99_S, RunStats

#: `"schema"` of the `/llm/stats` document
LIVE_SCHEMA = "locust-llm/live/v1"
#: the table's columns, in order (`extended_tables`)
TABLE_STRUCTURE = (
    {"key": "figure", "title": "LLM figure"},
    {"key": "model", "title": "model"},
    *({"key": mode, "title": MODE_TITLES[mode]} for mode in MODES),
)

_PERCENTILES = ("p50", "p95", "p99")
_ALL_MODELS = "all models"

Figures = Mapping[str, Any]


# --- the load generator's health ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadGeneratorHealth:
    """Whether the load generator could timestamp faithfully.

    `client_saturated` is the run's verdict (loop-lag p99 over the whole run, as in
    summary.json); `recent_loop_lag_p99_s` covers about the last `LAG_WINDOW_S` seconds,
    so the tab warns as soon as saturation starts, not only once it dominates the run.
    """

    client_saturated: bool
    loop_lag_p99_s: float | None
    recent_loop_lag_p99_s: float | None
    limit_s: float = SATURATION_LAG_P99_S

    @property
    def saturated(self) -> bool:
        recent = self.recent_loop_lag_p99_s
        return self.client_saturated or (recent is not None and recent > self.limit_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "saturated": self.saturated,
            "client_saturated": self.client_saturated,
            "loop_lag_p99_s": self.loop_lag_p99_s,
            "recent_loop_lag_p99_s": self.recent_loop_lag_p99_s,
            "recent_window_s": LAG_WINDOW_S,
            "limit_s": self.limit_s,
        }


# --- the table, a function of the summary ---------------------------------------------------


def models_by_mode(stats: RunStats) -> dict[str, list[str]]:
    """The models each mode has sent requests to, sorted."""
    found: dict[str, set[str]] = {}
    for group in stats.groups():
        found.setdefault(group.mode, set()).add(group.model)
    return {mode: sorted(models) for mode, models in found.items()}


def models_by_target(stats: RunStats) -> dict[str, dict[str, list[str]]]:
    """Per target of a run with targets, the models each mode has sent requests to, sorted
    ({} for a one-target run)."""
    found: dict[str, dict[str, set[str]]] = {}
    for group in stats.groups():
        if group.target:
            found.setdefault(group.target, {}).setdefault(group.mode, set()).add(group.model)
    return {t: {m: sorted(names) for m, names in modes.items()} for t, modes in found.items()}


def model_sections(
    summary: Mapping[str, Any], models: Mapping[str, Sequence[str]]
) -> list[tuple[str, dict[str, Figures]]]:
    """The table's groups of rows: (model label, figures by mode).

    With one model overall: that model. With several: all models together first, then
    each model (a mode with several models lists them in its `"models"`).
    """
    modes = summary.get("modes")
    if not isinstance(modes, Mapping):
        return []
    by_mode = {m: f for m, f in modes.items() if m in MODES and isinstance(f, Mapping)}
    if not by_mode:
        return []
    names = sorted({model for mode in by_mode for model in models.get(mode, ())})
    if len(names) <= 1:
        return [(names[0] if names else "", by_mode)]
    sections: list[tuple[str, dict[str, Figures]]] = [(_ALL_MODELS, by_mode)]
    for name in names:
        per_model: dict[str, Figures] = {}
        for mode, figures in by_mode.items():
            split = figures.get("models")
            if isinstance(split, Mapping) and isinstance(split.get(name), Mapping):
                per_model[mode] = split[name]
            elif list(models.get(mode, ())) == [name]:
                per_model[mode] = figures
        sections.append((name, per_model))
    return sections


def first_visible_speedup(figures: Mapping[str, Figures]) -> float | None:
    """Batch first-visible-output p50 over streaming's: how many times sooner streaming shows
    something. None unless both modes have it."""
    stream = number_at(figures.get("stream", {}).get("first_visible_s"), "p50")
    batch = number_at(figures.get("batch", {}).get("first_visible_s"), "p50")
    if stream is None or batch is None or stream <= 0.0 or batch <= 0.0:
        return None
    return batch / stream


def table_rows(
    summary: Mapping[str, Any],
    models: Mapping[str, Sequence[str]],
    health: LoadGeneratorHealth | None = None,
    *,
    target_models: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
) -> list[dict[str, str]]:
    """The LLM tab's rows: dicts with the `TABLE_STRUCTURE` keys and an ordering `name`.

    With targets (summary.json's ``targets``), the model column names the target (``fast``,
    or ``fast · m`` with several models; `target_models`: each target's models by mode,
    `models_by_target`), the comparison of the targets comes first (`headline_lines`), each
    figure has one row per target, the gateway overhead follows the figures and the anomalies
    are each target's.
    """
    rows: list[dict[str, str]] = []

    def add(figure: str, model: str = "", stream: str = "", batch: str = "") -> None:
        name = f"{len(rows):03d}"  # Locust's table sorts rows by name
        rows.append(
            {"name": name, "figure": figure, "model": model, "stream": stream, "batch": batch}
        )

    targets = target_entries(summary)
    views: list[tuple[str, Mapping[str, Any]]] = [
        (name, target_view(summary, name)) for name in targets
    ] or [("", summary)]
    if health is not None and health.saturated:
        add(_saturation_warning(health))
    for target, view in views:
        stream_figures = _by_mode(view).get("stream")
        warning = (
            stream_not_honored_warning(stream_figures)
            if isinstance(stream_figures, Mapping)
            else None
        )
        if warning is not None:
            add("⚠ " + (f"{target}: " if target else "") + warning.removeprefix("Warning: "))
    offered = load_line(summary)
    if offered:
        add(f"▶ {offered}")
    for note in load_notes(summary):
        if note.startswith("Warning: "):
            add("⚠ " + note.removeprefix("Warning: "))
    for line in headline_lines(summary):
        add(f"▶ {line}")
    sections: list[tuple[str, dict[str, Figures]]] = []
    for target, view in views:
        if not target:
            sections += model_sections(view, models)
            continue
        own = (target_models or {}).get(target) or _models_of(targets[target])
        own_sections = model_sections(view, own)
        for label, figures in own_sections:
            several = len(own_sections) > 1  # all models, then each model
            sections.append((f"{target} · {label}" if several else target, figures))
    for label, figures in sections:
        ratio = first_visible_speedup(figures)
        if ratio is not None:
            stream_p50 = figures["stream"]["first_visible_s"]["p50"]
            batch_p50 = figures["batch"]["first_visible_s"]["p50"]
            one_token = one_token_answers(figures["stream"])
            verdict = first_visible_verdict(stream_p50, batch_p50, one_token=one_token)
            if one_token:
                verdict += " (one output token per answer)"
            add(
                f"▶ {verdict} (first visible output p50)",
                label,
                format_duration_short(stream_p50),
                format_duration_short(batch_p50),
            )
    if targets:  # figure by figure, a row per target: side by side
        shown = _Shown.of(figures for _, figures in sections)
        per_section = [(label, _rows_of(figures, shown)) for label, figures in sections]
        for i in range(len(per_section[0][1]) if per_section else 0):
            for label, section_rows in per_section:
                figure, cells = section_rows[i]
                add(figure, label, *cells)
    else:
        for label, figures in sections:
            for figure, cells in _rows_of(figures, _Shown.of([figures])):
                add(figure, label, *cells)
    if not sections:
        add("No LLM requests have finished yet.")
    _overhead_rows(summary, add)
    paths = server_paths(summary)
    described = [describe_path(paths.get(m)) or DASH for m in MODES]
    if any(d != DASH for d in described):
        add("server path (response headers)", "", *described)
    for target, view in views:
        by_mode = _by_mode(view)
        for mode in MODES:
            mode_figures = by_mode.get(mode)
            if not isinstance(mode_figures, Mapping):
                continue
            for anomaly in path_anomalies(mode_figures, paths.get(mode)):
                cells = [f"{anomaly.times:,}" if m == mode else "" for m in MODES]
                add(f"⚠ {anomaly.kind}: {anomaly.meaning}", target, *cells)
    for target, block, served in server_entries(summary):
        for figure, by_mode in tab_rows(block, served):
            add(figure, target, *(by_mode.get(mode, "") for mode in MODES))
    if health is not None and health.loop_lag_p99_s is not None:
        add(_lag_line(health))
    return rows


@dataclass(frozen=True, slots=True)
class _Shown:
    """Which of the conditional rows a table shows (for a section, or every target's)."""

    inter_chunk: bool
    open_loop: bool
    occasional: frozenset[str]
    goodput: bool
    #: the first text came after the first token (reasoning, a tool call first)
    ttfc: bool = False
    #: answers had tool calls / reported reasoning tokens
    tool_call: bool = False
    reasoning: bool = False

    @classmethod
    def of(cls, sections: Iterable[Mapping[str, Figures]]) -> _Shown:
        figures = [f for section in sections for f in section.values()]
        return cls(
            inter_chunk=any(f.get("itl_basis") == "inter_chunk" for f in figures),
            open_loop=any(f.get("schedule_lag_s") for f in figures),
            occasional=frozenset(
                key for _, key, _ in _OCCASIONAL_ROWS if any(number_at(f, key) for f in figures)
            ),
            goodput=any(isinstance(f.get("goodput"), Mapping) for f in figures),
            ttfc=any(ttfc_differs(f) for f in figures),
            tool_call=any(isinstance(f.get("tool_call_s"), Mapping) for f in figures),
            reasoning=any(number_at(f, "reasoning_tokens") for f in figures),
        )


def _rows_of(figures: Mapping[str, Figures], shown: _Shown) -> list[tuple[str, list[str]]]:
    """One section's figure rows: (figure, a cell per mode), the conditional ones as `shown`."""
    chosen: list[tuple[str, Callable[[Figures], str]]] = []
    for figure, cell in _FIGURE_ROWS:
        if figure == "ITL p50 / p95 / p99" and shown.inter_chunk:
            figure = "inter-chunk latency p50 / p95 / p99"
        chosen.append((figure, cell))
        if figure.startswith("TTFT") and shown.ttfc:
            chosen.append(("TTFC (first text) p50 / p95 / p99", _block("ttfc_s")))
    if shown.tool_call:
        chosen.append(("first tool call p50 / p95 / p99", _block("tool_call_s")))
        chosen.append(("tool-call argument bytes", tool_bytes_cell))
    if shown.reasoning:
        chosen.append(("reasoning tokens (share of output)", reasoning_cell))
    if shown.open_loop:
        chosen += _OPEN_LOOP_ROWS
    chosen += [(figure, cell) for figure, key, cell in _OCCASIONAL_ROWS if key in shown.occasional]
    if shown.goodput:
        chosen += _GOODPUT_ROWS
    return [
        (figure, [cell(figures[m]) if m in figures else DASH for m in MODES])
        for figure, cell in chosen
    ]


def _overhead_rows(summary: Mapping[str, Any], add: Callable[..., None]) -> None:
    """A row per gateway and figure of its overhead: ``gateway overhead TTFT p50`` | ``gw −
    direct`` | streaming | batch (harness.report.overhead.gateway_overhead)."""
    items = summary.get("gateway_overhead")
    if not isinstance(items, list):
        items = gateway_overhead(summary)
    pairs = list(dict.fromkeys((i.get("target"), i.get("via")) for i in items))
    for target, via in pairs:
        by_mode = {
            i.get("mode"): i for i in items if (i.get("target"), i.get("via")) == (target, via)
        }
        keys: list[tuple[str, str]] = []
        for item in by_mode.values():
            for block, entry in (item.get("figures") or {}).items():
                if (block, entry.get("percentile")) not in keys:
                    keys.append((block, entry.get("percentile")))
        for block, key in keys:
            cells = []
            for mode in MODES:
                entry = (by_mode.get(mode, {}).get("figures") or {}).get(block)
                cells.append(overhead_text(entry) if isinstance(entry, Mapping) else DASH)
            label = f"{FIGURE_LABELS.get(block, block)} {key}"
            add(f"gateway overhead {label}", f"{target} − {via}", *cells)
        if any(isinstance(i.get("burst_delivery"), Mapping) for i in by_mode.values()):
            cells = [burst_text(by_mode.get(mode, {}).get("burst_delivery")) for mode in MODES]
            add(f"gateway overhead {BURST_LABEL}", f"{target} − {via}", *cells)


def _by_mode(summary: Mapping[str, Any]) -> Mapping[str, Any]:
    modes = summary.get("modes")
    return modes if isinstance(modes, Mapping) else {}


def _models_of(entry: Mapping[str, Any]) -> dict[str, list[str]]:
    """A target's models by mode, from its entry alone: each mode's ``models`` split, else
    the target's one model."""
    listed = entry.get("models")
    names = [str(m) for m in listed] if isinstance(listed, list) else []
    out: dict[str, list[str]] = {}
    for mode, figures in target_modes(entry).items():
        split = figures.get("models")
        if isinstance(split, Mapping):
            out[mode] = sorted(str(m) for m in split)
        elif len(names) == 1:
            out[mode] = names
    return out


def _saturation_warning(health: LoadGeneratorHealth) -> str:
    recent = health.recent_loop_lag_p99_s
    lag = recent if recent is not None and recent > health.limit_s else health.loop_lag_p99_s
    shown = f" (loop-lag p99 {format_duration_short(lag)})" if lag is not None else ""
    return (
        f"⚠ The load generator is saturated{shown}, over {format_duration_short(health.limit_s)}:"
        " these latencies include its own delays and overstate the server's. Add workers or"
        " lower the load."
    )


def _lag_line(health: LoadGeneratorHealth) -> str:
    parts = []
    if health.recent_loop_lag_p99_s is not None:
        recent = format_duration(health.recent_loop_lag_p99_s)
        parts.append(f"{recent} (last {LAG_WINDOW_S:.0f} s)")
    if health.loop_lag_p99_s is not None:
        parts.append(f"{format_duration(health.loop_lag_p99_s)} (run)")
    limit = format_duration_short(health.limit_s)
    return f"load generator loop-lag p99: {', '.join(parts)}; limit {limit}"


def _triple(block: Any) -> str:
    values = [number_at(block, key) for key in _PERCENTILES]
    if all(v is None for v in values):
        return DASH
    return " / ".join(DASH if v is None else format_duration(v) for v in values)


def _itl(f: Figures) -> str:
    # with basis inter_chunk, itl_s covers only some requests; inter_chunk_s covers them all
    if f.get("itl_basis") == "inter_chunk":
        return _triple(f.get("inter_chunk_s"))
    return _triple(f.get("itl_s"))


def _count(f: Figures) -> str:
    n = f.get("requests")
    return f"{n:,}" if isinstance(n, int) else DASH


def _failed(outcomes: Mapping[str, int]) -> int:
    return sum(n for k, n in outcomes.items() if is_failure(k))


def _failures(f: Figures) -> str:
    """Failed requests and their share of the finished ones (cancelled is neither)."""
    outcomes = f.get("outcomes")
    if not isinstance(outcomes, Mapping):
        return DASH
    failed = _failed(outcomes)
    finished = sum(n for k, n in outcomes.items() if k != Outcome.CANCELLED)
    if finished <= 0:
        return f"{failed:,}"
    return f"{failed:,} ({100.0 * failed / finished:.1f} %)"


def _errors(f: Figures) -> str:
    tally = f.get("errors")
    if not isinstance(tally, Mapping):
        return DASH
    counted = sorted(((n, k) for k, n in tally.items() if n), key=lambda t: (-t[0], t[1]))
    return ", ".join(f"{k} {n:,}" for n, k in counted) if counted else "none"


def _rate(key: str, decimals: int) -> Callable[[Figures], str]:
    def cell(f: Figures) -> str:
        value = f.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return DASH
        return f"{value:,.{decimals}f}"

    return cell


def _block(key: str) -> Callable[[Figures], str]:
    return lambda f: _triple(f.get(key))


_FIGURE_ROWS: tuple[tuple[str, Callable[[Figures], str]], ...] = (
    ("requests", _count),
    ("failures", _failures),
    ("first visible output p50 / p95 / p99", _block("first_visible_s")),
    ("TTFT p50 / p95 / p99", _block("ttft_s")),
    ("ITL p50 / p95 / p99", _itl),
    ("TPOT p50 / p95 / p99", _block("tpot_s")),
    ("E2E p50 / p95 / p99", _block("e2e_s")),
    ("TTFB p50 / p95 / p99", _block("ttfb_s")),
    (TAIL_LABEL, _block("tail_s")),
    ("output tokens/s", _rate("output_tokens_per_s", 1)),
    ("requests/s", _rate("requests_per_s", 2)),
    ("errors by class", _errors),
)


def _from_schedule(key: str) -> Callable[[Figures], str]:
    def cell(f: Figures) -> str:
        block = f.get("from_schedule")
        return _triple(block.get(key) if isinstance(block, Mapping) else None)

    return cell


#: open loop: the figures timed from the schedule, and the wait for a free user
_OPEN_LOOP_ROWS: tuple[tuple[str, Callable[[Figures], str]], ...] = (
    ("first visible from schedule p50 / p95 / p99", _from_schedule("first_visible_s")),
    ("E2E from schedule p50 / p95 / p99", _from_schedule("e2e_s")),
    ("schedule lag p50 / p95 / p99", _block("schedule_lag_s")),
)


def _reconnects(f: Figures) -> str:
    n = f.get("reconnects")
    return f"{n:,}" if isinstance(n, int) and not isinstance(n, bool) else DASH


def _backoff(f: Figures) -> str:
    seconds = number_at(f, "backoff_s")
    if seconds is None:
        return DASH
    return "0 s" if seconds <= 0.0 else format_duration(seconds)


#: rows shown only when a mode of the section has a non-zero value: (figure, key, cell)
_OCCASIONAL_ROWS: tuple[tuple[str, str, Callable[[Figures], str]], ...] = (
    ("reconnects", "reconnects", _reconnects),
    ("back-off waited", "backoff_s", _backoff),
)


def _goodput(key: str, show: Callable[[float], str]) -> Callable[[Figures], str]:
    def cell(f: Figures) -> str:
        value = number_at(f.get("goodput"), key)
        return DASH if value is None else show(value)

    return cell


#: rows shown only when the run has goodput limits (harness.load.goodput)
_GOODPUT_ROWS: tuple[tuple[str, Callable[[Figures], str]], ...] = (
    ("goodput (requests/s within limits)", _goodput("goodput_per_s", lambda v: f"{v:,.2f}")),
    ("SLO attainment", _goodput("slo_attainment", lambda v: f"{100.0 * v:.1f}%")),
)


# --- the documents the routes serve ---------------------------------------------------------


def live_document(
    summary: Mapping[str, Any],
    models: Mapping[str, Sequence[str]],
    health: LoadGeneratorHealth,
    *,
    state: str,
    user_count: int,
    worker_count: int | None = None,
    target_models: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
) -> dict[str, Any]:
    """The `/llm/stats` document (schema `LIVE_SCHEMA`).

    `summary` is the summary.json document so far; `headline` its comparison in words
    (None unless both modes have data; the first target's with targets) and
    `first_visible_speedup` the ratio in it; `load_generator` the saturation verdict;
    `table` the tab's rows. With targets, `targets_headline` is the comparison of the
    targets, one sentence per figure (harness.report.targets.headline_lines), and
    `gateway_overhead` what each gateway adds to its upstream.
    """
    modes = summary.get("modes")
    doc: dict[str, Any] = {
        "schema": LIVE_SCHEMA,
        "state": state,
        "user_count": user_count,
        "headline": headline_sentence(summary),
        "first_visible_speedup": (
            first_visible_speedup(modes) if isinstance(modes, Mapping) else None
        ),
        "models": {mode: list(names) for mode, names in models.items()},
        "load_generator": health.to_dict(),
        "summary": summary,
        "table": table_rows(summary, models, health, target_models=target_models),
    }
    if target_entries(summary):
        doc["targets_headline"] = headline_lines(summary)
        doc["gateway_overhead"] = gateway_overhead(summary)
    if worker_count is not None:
        doc["worker_count"] = worker_count
    return doc


def stats_csv(
    summary: Mapping[str, Any],
    models: Mapping[str, Sequence[str]],
    *,
    target_models: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
) -> str:
    """One row per (mode, model group): counts, percentiles in seconds, rates; with targets,
    per (target, mode, model group), the target first."""
    targets = target_entries(summary)
    blocks = (
        "first_visible_s", "ttft_s", "itl_s", "inter_chunk_s", "tpot_s", "e2e_s", "ttfb_s",
        "tail_s",
    )  # fmt: skip
    header = ["target"] if targets else []
    header += ["mode", "model", "requests", "failed"]
    header += [f"{b.removesuffix('_s')}_{p}_s" for b in blocks for p in _PERCENTILES]
    header += ["output_tokens_per_s", "requests_per_s", "reconnects", "backoff_s"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    sections: list[tuple[list[str], str, Mapping[str, Figures]]] = []
    for name in targets:
        own = (target_models or {}).get(name) or _models_of(targets[name])
        view = target_view(summary, name)
        sections += [([name], label, figures) for label, figures in model_sections(view, own)]
    if not targets:
        sections = [([], label, figures) for label, figures in model_sections(summary, models)]
    for first, label, figures in sections:
        for mode in MODES:
            f = figures.get(mode)
            if f is None:
                continue
            row: list[Any] = [*first, mode, label, f.get("requests", "")]
            row += [_failed(f.get("outcomes") or {})]
            for b in blocks:
                row += [_csv_number(number_at(f.get(b), p)) for p in _PERCENTILES]
            row += [_csv_number(number_at(f, "output_tokens_per_s"))]
            row += [_csv_number(number_at(f, "requests_per_s"))]
            reconnects = f.get("reconnects")
            row += [reconnects if isinstance(reconnects, int) else ""]
            row += [_csv_number(number_at(f, "backoff_s"))]
            writer.writerow(row)
    return out.getvalue()


def _csv_number(value: float | None) -> str:
    return "" if value is None else repr(round(value, 6))

"""The batch-vs-streaming comparison table, rendered from a summary.json document.

`render_markdown(summary)` gives Markdown for `summary.md` and CI job summaries;
`render_terminal(summary)` gives the same table as plain aligned text. Modes are columns
(streaming | batch) and the first latency row is the headline, "first visible output"
(TTFT for streaming, E2E for batch: what a person waits for before seeing anything; every
figure is defined in docs/design.md). Below the latencies come TTFB and the tail (last token →
end of stream), where a gateway shows, and the notes say what the path to the server did
(harness.report.path). Durations arrive in seconds and are shown in ms below 1 s; a figure that
does not apply (TTFT for batch, a mode that was not run) shows `—`. Functions of the
document only, tolerant of absent figures; standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from harness.errors import MODES, SUCCESS_OUTCOMES, Outcome, is_failure
from harness.report.cost import cost_line
from harness.report.intervals import INTERVALS_NOTE, any_interval, with_interval
from harness.report.load import load_line, load_notes, stage_table
from harness.report.path import (
    describe_path,
    path_anomalies,
    server_paths,
    stream_not_honored_warning,
)

# re-exported: the other reports take them from here
from harness.report.units import DASH as DASH
from harness.report.units import format_duration as format_duration
from harness.report.units import number_at as number_at
from harness.report.workload import workload_notes, workload_tables

MODE_TITLES = {"stream": "streaming", "batch": "batch"}
_TRIPLE = ("p50", "p95", "p99")

Figures = Mapping[str, Any]


class Row(NamedTuple):
    """One table row: its label and one cell per mode column."""

    label: str
    cells: list[str]
    headline: bool = False


def format_duration_short(seconds: float) -> str:
    """A duration for a sentence, three significant digits: ``201 ms``, ``1.46 s``."""
    ms = seconds * 1000.0
    if round(ms) < 1000:
        if round(ms) >= 100:
            return f"{ms:.0f} ms"
        if round(ms, 1) >= 10.0:
            return f"{ms:.1f} ms"
        return f"{ms:.2f} ms"
    if round(seconds, 2) < 10.0:
        return f"{seconds:.2f} s"
    if round(seconds, 1) < 100.0:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s"


def build_rows(
    summary: Mapping[str, Any], *, intervals: bool = False
) -> tuple[list[str], list[Row]]:
    """The column modes present in `summary` and the table rows, shared by both renderers.

    With `intervals`, each p50 / p95 / p99 shows its 95 % interval (harness.report.intervals).
    """
    modes = _modes(summary)
    triple = _triple_with_intervals if intervals else _triple
    columns = [m for m in MODES if m in modes]
    figs = [modes[m] for m in columns]

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
    # shown only when they happened: most runs neither reconnect nor back off
    if any(number_at(f, "reconnects") for f in figs):
        rows.append(row("reconnects", _reconnects_cell))
    if any(number_at(f, "backoff_s") for f in figs):
        rows.append(row("back-off waited", _backoff_cell))
    rows += goodput_rows(figs)
    return columns, rows


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


#: how each goodput limit reads in a sentence
_LIMIT_NAMES = {
    "ttft_s": "TTFT",
    "tpot_s": "TPOT",
    "itl_s": "every ITL",
    "e2e_s": "E2E",
    "first_visible_s": "first visible output",
}


def goodput_line(summary: Mapping[str, Any]) -> str | None:
    """``Goodput limits — streaming: TTFT ≤ 500 ms, E2E ≤ 20.00 s; batch: E2E ≤ 20.00 s.``;
    None without goodput limits."""
    parts = []
    for mode, figures in _modes(summary).items():
        block = figures.get("goodput")
        limits = block.get("limits") if isinstance(block, Mapping) else None
        if not isinstance(limits, Mapping):
            continue
        named = [
            f"{_LIMIT_NAMES[key]} ≤ {format_duration(value)}"
            for key in _LIMIT_NAMES
            if (value := number_at(limits, key)) is not None
        ]
        parts.append(f"{MODE_TITLES[mode]}: {', '.join(named) if named else 'success only'}")
    if not parts:
        return None
    return (
        "Goodput limits (a request counts when its own figures are within every one) — "
        + "; ".join(parts)
        + "."
    )


#: the label of the tail row: last token-bearing event → end of the stream
TAIL_LABEL = "tail (last token → end) p50 / p95 / p99"


def one_token_answers(figures: Figures) -> bool:
    """Whether a mode's successful requests carried at most one output token each on
    average (`--max-tokens 1`): then streaming has nothing to show before the end."""
    outcomes = figures.get("outcomes")
    tokens = figures.get("output_tokens")
    if not isinstance(outcomes, Mapping) or not isinstance(tokens, int) or tokens <= 0:
        return False
    successes = sum(n for k, n in outcomes.items() if k in SUCCESS_OUTCOMES)
    return bool(successes > 0 and tokens <= successes)


def first_visible_verdict(stream: float, batch: float, *, one_token: bool = False) -> str:
    """Streaming against batch in a few words, from the first-visible-output p50s (seconds):
    ``Streaming shows the first token 7.3× sooner``, ``… 4.0× later``, or, when the ratio
    shows as 1.0 (or with one output token and streaming not sooner), ``… no sooner than
    batch``."""
    if stream > 0.0 and batch > 0.0:
        sooner, later = f"{batch / stream:.1f}", f"{stream / batch:.1f}"
        if one_token and batch <= stream:
            sooner = later = "1.0"
        if sooner != "1.0" and batch > stream:
            return f"Streaming shows the first token {sooner}× sooner"
        if later != "1.0" and stream > batch:
            return f"Streaming shows the first token {later}× later"
    return "Streaming shows the first token no sooner than batch"


def headline_sentence(summary: Mapping[str, Any]) -> str | None:
    """The comparison in words, with p50s and the ratio; None unless both modes have it.

    When the ratio would show as 1.0× the sentence says they are about the same; with one
    output token per answer (`--max-tokens 1`) it says streaming shows it no sooner than
    batch, unless streaming really was sooner.

    >>> s = {"modes": {"stream": {"first_visible_s": {"p50": 0.201}},
    ...                "batch": {"first_visible_s": {"p50": 1.46}}}}
    >>> print(headline_sentence(s))  # doctest: +NORMALIZE_WHITESPACE
    Streaming shows the first token after 201 ms (p50); batch shows nothing until
    the whole answer arrives after 1.46 s (p50): 7.3× sooner.
    """
    modes = _modes(summary)
    stream = number_at(modes.get("stream", {}).get("first_visible_s"), "p50")
    batch = number_at(modes.get("batch", {}).get("first_visible_s"), "p50")
    if stream is None or batch is None:
        return None
    s_text, b_text = format_duration_short(stream), format_duration_short(batch)
    verdict = first_visible_verdict(
        stream, batch, one_token=one_token_answers(modes.get("stream", {}))
    )
    if verdict.endswith("no sooner than batch"):
        if one_token_answers(modes.get("stream", {})):
            return (
                "With one output token per answer, streaming shows it no sooner than batch: "
                f"first visible output {s_text} (streaming) vs {b_text} (batch), p50."
            )
        return (
            f"Streaming shows the first token after {s_text} (p50) and batch the whole "
            f"answer after {b_text} (p50): about the same time, so streaming shows nothing "
            "sooner here."
        )
    text = (
        f"Streaming shows the first token after {format_duration_short(stream)} (p50); "
        "batch shows nothing until the whole answer arrives after "
        f"{format_duration_short(batch)} (p50)"
    )
    if stream <= 0.0 or batch <= 0.0:
        return text + "."
    if batch >= stream:
        return text + f": {batch / stream:.1f}× sooner."
    return text + f": streaming is {stream / batch:.1f}× later."


def notes(summary: Mapping[str, Any]) -> list[str]:
    """The lines below the table: headline, a stream that was not one, errors, the server
    path and what it did, ITL basis, saturation, SLOs, cost."""
    modes = _modes(summary)
    lines: list[str] = []
    sentence = headline_sentence(summary)
    if sentence is not None:
        lines.append(sentence)
    warning = stream_not_honored_warning(modes.get("stream", {}))
    if warning is not None:
        lines.append(warning)
    errors = []
    for mode in MODES:
        tally = modes.get(mode, {}).get("errors") or {}
        counted = sorted(((n, name) for name, n in tally.items() if n), key=lambda t: (-t[0], t[1]))
        if counted:
            listed = ", ".join(f"{name} {n:,}" for n, name in counted)
            errors.append(f"{MODE_TITLES[mode]}: {listed}")
    if errors:
        lines.append("Errors — " + "; ".join(errors) + ".")
    lines.extend(path_lines(summary))
    lines.extend(load_notes(summary))
    lines.extend(workload_notes(summary))
    inter_chunk = [
        MODE_TITLES[m] for m in MODES if modes.get(m, {}).get("itl_basis") == "inter_chunk"
    ]
    if inter_chunk:
        lines.append(
            f"Note: {' and '.join(inter_chunk)} ITL is inter-chunk latency (the gaps "
            "between token-bearing chunks): tokens per chunk were not known for every "
            "request, so a per-token ITL could not be derived."
        )
    run = summary.get("run")
    if isinstance(run, Mapping) and run.get("client_saturated") is True:
        lines.append(
            "Warning: the load generator was saturated during this run "
            "(client_saturated); these latencies include its own delays and "
            "overstate the server's."
        )
    goodput = goodput_line(summary)
    if goodput is not None:
        lines.append(goodput)
    lines.extend(_slo_lines(summary.get("slos")))
    cost = cost_line(summary.get("cost"))
    if cost is not None:
        lines.append(cost)
    return lines


def path_lines(summary: Mapping[str, Any]) -> list[str]:
    """The server path per mode and the anomalies that change the reading, one sentence
    each (only those that occurred); [] when there is nothing to say."""
    modes = _modes(summary)
    paths = server_paths(summary)
    lines: list[str] = []
    described = {m: describe_path(paths.get(m)) for m in MODES if m in paths}
    shown = {m: d for m, d in described.items() if d}
    if len(shown) == 2 and paths["stream"] == paths["batch"]:
        lines.append(f"Server path (both modes): {shown['stream']}.")
    elif shown:
        parts = [f"{MODE_TITLES[m]} — {d}" for m, d in shown.items()]
        lines.append("Server path: " + "; ".join(parts) + ".")
    items = [
        f"- {MODE_TITLES[mode]}: {a.kind} {a.times:,} — {a.meaning}."
        for mode in MODES
        if mode in modes
        for a in path_anomalies(modes[mode], paths.get(mode))
    ]
    if items:
        lines.append("\n".join(["Anomalies that change the reading:", *items]))
    return lines


def render_markdown(summary: Mapping[str, Any]) -> str:
    """The comparison as Markdown: a title, the run line, the table, then `notes()`."""
    columns, rows = build_rows(summary, intervals=True)
    out = ["## locust-llm: streaming vs batch", ""]
    run_line = _run_line(summary)
    if run_line:
        out += [run_line, ""]
    offered = load_line(summary)
    if offered:
        out += [offered, ""]
    if columns:
        titles = [MODE_TITLES[m] for m in columns]
        out.append("| | " + " | ".join(titles) + " |")
        out.append("|:---|" + "---:|" * len(columns))
        for r in rows:
            if r.headline:
                label = f"**{r.label}**"
                cells = [c if c == DASH else f"**{c}**" for c in r.cells]
            else:
                label, cells = r.label, r.cells
            out.append(f"| {label} | " + " | ".join(cells) + " |")
    else:
        out.append("No requests were recorded.")
    if columns and shows_intervals(summary):
        out += ["", INTERVALS_NOTE]
    stages = stage_table(summary, markdown=True)
    if stages:
        out += ["", *stages]
    workload = workload_tables(summary, markdown=True)
    if workload:
        out += ["", *workload]
    for line in notes(summary):
        out += ["", line]
    return "\n".join(out) + "\n"


def render_terminal(summary: Mapping[str, Any]) -> str:
    """The comparison as plain text with aligned columns, for a terminal or a CI log."""
    columns, rows = build_rows(summary)
    out = ["locust-llm: streaming vs batch"]
    run_line = _run_line(summary, code=False)
    if run_line:
        out.append(run_line)
    offered = load_line(summary)
    if offered:
        out.append(offered)
    out.append("")
    if columns:
        table = [["", *(MODE_TITLES[m] for m in columns)]]
        table += [[r.label, *r.cells] for r in rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
        for k, line in enumerate(table):
            label = line[0].ljust(widths[0])
            cells = [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
            out.append("  ".join([label, *cells]).rstrip())
            if k == 0:
                out.append("  ".join("-" * w for w in widths))
    else:
        out.append("No requests were recorded.")
    stages = stage_table(summary, markdown=False)
    if stages:
        out += ["", *stages]
    workload = workload_tables(summary, markdown=False)
    if workload:
        out += ["", *workload]
    lines = notes(summary)
    headline_interval = headline_interval_line(summary)
    if headline_interval is not None:
        lines.insert(1 if headline_sentence(summary) is not None else 0, headline_interval)
    if lines:
        out.append("")
        out += lines
    return "\n".join(out) + "\n"


def _modes(summary: Mapping[str, Any]) -> dict[str, Figures]:
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


# ------------------------------------------------------------------ 95 % intervals


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
    modes = _modes(summary)
    names = ("first_visible_s", "ttft_s", "e2e_s", "ttfb_s", "tail_s", "schedule_lag_s")
    blocks = [f.get(name) for f in modes.values() for name in names]
    blocks += [_itl_block(f) for f in modes.values()]
    blocks += [_from_schedule(f, name) for f in modes.values() for name in names]
    return any_interval(blocks, _TRIPLE)


def headline_interval_line(summary: Mapping[str, Any]) -> str | None:
    """The terminal's one line of intervals: first visible output p50 per mode, e.g.
    ``95 % interval of first visible output p50: streaming 199–203 ms; batch 1.44–1.49 s``;
    None when no mode has one."""
    parts = []
    for mode, figures in _modes(summary).items():
        block = figures.get("first_visible_s")
        value = number_at(block, "p50")
        if value is None:
            continue
        shown = with_interval(
            block, "p50", format_duration_short(value), format_duration_short, format_duration
        )
        if shown.endswith(")"):
            parts.append((MODES.index(mode), f"{MODE_TITLES[mode]} {shown}"))
    if not parts:
        return None
    listed = "; ".join(text for _, text in sorted(parts))
    return f"First visible output p50 with its 95 % interval: {listed}."


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


def _run_line(summary: Mapping[str, Any], *, code: bool = True) -> str:
    run = summary.get("run")
    if not isinstance(run, Mapping):
        return ""
    parts = []
    host = run.get("host")
    if isinstance(host, str) and host:
        parts.append(f"`{host}`" if code else host)
    users = run.get("users")
    load = run.get("load")
    if isinstance(users, int) and not (isinstance(load, Mapping) and load.get("kind") == "open"):
        parts.append(f"{users:,} user" + ("" if users == 1 else "s"))
    duration = run.get("duration_s")
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        parts.append(f"{duration:.1f} s")
    started = run.get("started_at")
    if isinstance(started, str) and started:
        parts.append(f"started {started}")
    versions = [
        f"{name} {run[key]}"
        for name, key in (("locust", "locust_version"), ("locust-llm", "harness_version"))
        if isinstance(run.get(key), str) and run[key]
    ]
    return " · ".join(parts + versions)


def _slo_lines(slos: Any) -> list[str]:
    if not isinstance(slos, list) or not slos:
        return []
    items = [s for s in slos if isinstance(s, Mapping)]
    passed = sum(1 for s in items if s.get("passed") is True)
    lines = [f"SLOs: {passed} of {len(items)} passed."]
    for slo in items:
        status = "PASS" if slo.get("passed") is True else "FAIL"
        reason = slo.get("reason")
        note = f" — {reason}" if isinstance(reason, str) and reason else ""
        lines.append(f"- {status} {slo.get('name', '?')}{_slo_detail(slo)}{note}")
    return ["\n".join(lines)]


def _slo_detail(slo: Mapping[str, Any]) -> str:
    if "min_per_s" in slo or "min" in slo:  # the goodput gates: more is better
        per_s = "min_per_s" in slo
        value = number_at(slo, "value_per_s" if per_s else "value")
        least = number_at(slo, "min_per_s" if per_s else "min")
        unit = "/s" if per_s else ""
        shown = "no data" if value is None else f"{value:.4g}{unit}"
        return f": {shown} (min {DASH if least is None else f'{least:g}{unit}'})"
    value, limit = number_at(slo, "value_s"), number_at(slo, "limit_s")
    fmt: Callable[[float], str] = format_duration
    if value is None and limit is None:
        value, limit = number_at(slo, "value"), number_at(slo, "limit")
        fmt = _number
    if limit is None:
        return "" if value is None else f": {fmt(value)}"
    shown = "no data" if value is None else fmt(value)
    return f": {shown} (limit {fmt(limit)})"


def _number(x: float) -> str:
    return f"{x:g}"

"""The sentences every report shows around its table, from a summary.json document.

The streaming-vs-batch headline (`headline_sentence`, from the first-visible-output p50s),
the warning when the endpoint does not stream, errors by class, the server path and the
anomalies that change the reading (harness.report.path), the ITL basis, saturation, the
goodput limits, the SLO results and the cost (`notes` gathers them for a one-target run), the
run line and the terminal's line of intervals. Functions of the document only, tolerant of
absent figures; standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from harness.errors import MODES, SUCCESS_OUTCOMES
from harness.report.cost import cost_line
from harness.report.intervals import with_interval
from harness.report.load import load_notes
from harness.report.path import (
    describe_path,
    path_anomalies,
    server_paths,
    stream_not_honored_warning,
)
from harness.report.rows import Figures, summary_modes
from harness.report.units import (
    DASH,
    MODE_TITLES,
    format_duration,
    format_duration_short,
    number_at,
)
from harness.report.workload import workload_notes

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
    for mode, figures in summary_modes(summary).items():
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
    modes = summary_modes(summary)
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
    path and what it did, ITL basis, saturation, SLOs, cost (of a one-target run;
    harness.report.side_by_side has a run with targets')."""
    modes = summary_modes(summary)
    lines: list[str] = []
    sentence = headline_sentence(summary)
    if sentence is not None:
        lines.append(sentence)
    warning = stream_not_honored_warning(modes.get("stream", {}))
    if warning is not None:
        lines.append(warning)
    errors = error_parts(modes)
    if errors:
        lines.append("Errors — " + "; ".join(errors) + ".")
    lines.extend(path_lines(summary))
    lines.extend(load_notes(summary))
    lines.extend(workload_notes(summary))
    inter_chunk = inter_chunk_note(modes)
    if inter_chunk is not None:
        lines.append(inter_chunk)
    lines.extend(run_notes(summary))
    cost = cost_line(summary.get("cost"))
    if cost is not None:
        lines.append(cost)
    return lines


def error_parts(modes: Mapping[str, Figures]) -> list[str]:
    """``streaming: stream_reset 2, http_5xx 1`` for every mode with errors, most first."""
    parts = []
    for mode in MODES:
        tally = modes.get(mode, {}).get("errors") or {}
        counted = sorted(((n, name) for name, n in tally.items() if n), key=lambda t: (-t[0], t[1]))
        if counted:
            listed = ", ".join(f"{name} {n:,}" for n, name in counted)
            parts.append(f"{MODE_TITLES[mode]}: {listed}")
    return parts


def inter_chunk_note(modes: Mapping[str, Figures]) -> str | None:
    """The note when a mode's ITL is inter-chunk latency; None when none is."""
    inter_chunk = [
        MODE_TITLES[m] for m in MODES if modes.get(m, {}).get("itl_basis") == "inter_chunk"
    ]
    if not inter_chunk:
        return None
    return (
        f"Note: {' and '.join(inter_chunk)} ITL is inter-chunk latency (the gaps "
        "between token-bearing chunks): tokens per chunk were not known for every "
        "request, so a per-token ITL could not be derived."
    )


def run_notes(summary: Mapping[str, Any]) -> list[str]:
    """Saturation, goodput limits and SLOs: what the whole run shares."""
    lines = []
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
    lines.extend(slo_lines(summary.get("slos")))
    return lines


def path_lines(summary: Mapping[str, Any]) -> list[str]:
    """The server path per mode and the anomalies that change the reading, one sentence
    each (only those that occurred); [] when there is nothing to say."""
    lines: list[str] = []
    server = server_path_line(summary)
    if server is not None:
        lines.append(server)
    items = anomaly_items(summary_modes(summary), server_paths(summary))
    if items:
        lines.append("\n".join(["Anomalies that change the reading:", *items]))
    return lines


def server_path_line(summary: Mapping[str, Any]) -> str | None:
    """``Server path (both modes): …`` or per mode; None when no response said anything."""
    paths = server_paths(summary)
    described = {m: describe_path(paths.get(m)) for m in MODES if m in paths}
    shown = {m: d for m, d in described.items() if d}
    if len(shown) == 2 and paths["stream"] == paths["batch"]:
        return f"Server path (both modes): {shown['stream']}."
    if shown:
        parts = [f"{MODE_TITLES[m]} — {d}" for m, d in shown.items()]
        return "Server path: " + "; ".join(parts) + "."
    return None


def anomaly_items(
    modes: Mapping[str, Figures], paths: Mapping[str, Any], *, prefix: str = ""
) -> list[str]:
    """One list item per anomaly that occurred in a mode: ``- {prefix}streaming: kind n — …``."""
    return [
        f"- {prefix}{MODE_TITLES[mode]}: {a.kind} {a.times:,} — {a.meaning}."
        for mode in MODES
        if mode in modes
        for a in path_anomalies(modes[mode], paths.get(mode))
    ]


def headline_interval_line(summary: Mapping[str, Any]) -> str | None:
    """The terminal's one line of intervals: first visible output p50 per mode, e.g.
    ``95 % interval of first visible output p50: streaming 199–203 ms; batch 1.44–1.49 s``;
    None when no mode has one."""
    parts = []
    for mode, figures in summary_modes(summary).items():
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


def run_line(summary: Mapping[str, Any], *, code: bool = True) -> str:
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


def slo_lines(slos: Any) -> list[str]:
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

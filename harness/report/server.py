"""The server's own view in the reports: summary.json's ``server`` blocks as lines and rows.

A run with a metrics URL has, per server, a ``server`` block (harness.server.view): the
engine's own counters, histograms and gauges over the run's window, the client's side next to
them and, when it was the bottleneck, a saturation sentence. Every report shows the same
figures, from here:

- `server_line(block, modes)`: one line for the terminal (engine, URL, scrapes; the server's
  TTFT mean next to ours and **client − server**: what the network, a gateway and queueing in
  the client add; its queue; the counters against ours; the gauges' maxima);
- `server_rows(block, modes)`: the table of summary.md, report.html and the LLM tab: figure,
  ours, the server's, ours − the server's (means only are subtracted: the server's percentiles
  are interpolated inside its buckets, and a difference of two would mostly be their width);
- `server_notes(block)`: the saturation sentence and the warnings (counters that differ, a
  window that does not cover the run);
- `gauge_series(block)`: running and waiting requests and KV-cache use over time, on the
  timeline's axis (seconds from the test's start);
- `server_entries(summary)`: which blocks a report shows: the one target's, or each target's.

Functions of the summary document only, tolerant of absent or partial blocks (the LLM tab
reads them while the run goes on); standard library and the pure core only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import MODES
from harness.redact import redact_url
from harness.report.targets import target_entries, target_modes
from harness.report.units import (
    DASH,
    MODE_TITLES,
    format_duration,
    format_duration_short,
    number_at,
)

#: what client − server is made of
SPLIT_MEANING = "network, gateway and client queueing"
#: the title of the section in summary.md and report.html
SECTION_TITLE = "The server's own view"
#: the gauges as the reports name them, in the order they are plotted
GAUGE_TITLES = {
    "running": "running requests",
    "waiting": "waiting requests",
    "kv_cache_usage": "KV-cache use",
}
#: the counters as the reports name them
COUNTER_TITLES = {
    "output_tokens": "output tokens",
    "input_tokens": "input tokens",
    "requests": "finished requests",
}
_ENGINE_TITLES = {
    "vllm": "vLLM",
    "sglang": "SGLang",
    "tgi": "TGI",
    "llama.cpp": "llama.cpp",
    "litellm": "LiteLLM",
}

Block = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ServerRow:
    """One row of the server's table: the figure, ours, the server's, ours − the server's
    (`DASH` where a cell does not apply)."""

    figure: str
    ours: str
    server: str
    difference: str

    def cells(self) -> list[str]:
        return [self.figure, self.ours, self.server, self.difference]


#: the table's column titles, in `ServerRow.cells` order
ROW_TITLES = ("", "ours", "the server's", "ours − server's")


def server_entries(summary: Mapping[str, Any]) -> list[tuple[str, Block, dict[str, Any]]]:
    """(target name or "", server block, that target's modes) for every server a report shows:
    each target's with targets (the top-level block repeats the first one's), else the run's."""
    targets = target_entries(summary)
    if targets:
        return [
            (name, entry["server"], dict(target_modes(entry)))
            for name, entry in targets.items()
            if isinstance(entry.get("server"), Mapping)
        ]
    block = summary.get("server")
    if not isinstance(block, Mapping):
        return []
    modes = summary.get("modes")
    shown = {
        m: modes[m]
        for m in MODES
        if isinstance(modes, Mapping) and isinstance(modes.get(m), Mapping)
    }
    return [("", block, shown)]


def engine_title(block: Block) -> str:
    """``vLLM``, ``llama.cpp``…, or ``unknown engine``."""
    engine = block.get("engine")
    if isinstance(engine, str) and engine in _ENGINE_TITLES:
        return _ENGINE_TITLES[engine]
    return "unknown engine"


def shown_url(block: Block) -> str:
    """The metrics URL as a report may show it: no credentials, query or fragment."""
    url = block.get("url")
    return redact_url(url) if isinstance(url, str) and url else "?"


def scrapes_text(block: Block) -> str:
    """``6 scrapes``, ``5 scrapes, 1 failed``."""
    scrapes = block.get("scrapes")
    scrapes = scrapes if isinstance(scrapes, Mapping) else {}
    ok = int(number_at(scrapes, "ok") or 0)
    failed = int(number_at(scrapes, "failed") or 0)
    text = f"{ok:,} scrape{'' if ok == 1 else 's'}"
    return f"{text}, {failed:,} failed" if failed else text


def worked(block: Block) -> bool:
    """Whether any scrape of this server worked."""
    scrapes = block.get("scrapes")
    return bool(number_at(scrapes, "ok"))


# ------------------------------------------------------------------ the terminal's line


def server_line(block: Block, modes: Mapping[str, Any], name: str = "") -> str:
    """The terminal's one line about one server (see the module's docstring)."""
    who = f"{name}'s server" if name else "Server"
    head = f"{who} ({engine_title(block)}, {shown_url(block)}, {scrapes_text(block)})"
    if not worked(block):
        error = block.get("error")
        reason = f": {error}" if isinstance(error, str) and error else ""
        return f"{head}: no scrape of its metrics worked{reason}."
    if block.get("engine") not in _ENGINE_TITLES:
        return f"{head}: no metrics of a known engine (vLLM, SGLang, TGI, llama.cpp, LiteLLM)."
    parts = [part for part in (_latency_part(block, modes), _queue_part(block)) if part]
    parts += _per_token_parts(block, modes)
    counters = _counters_part(block)
    if counters:
        parts.append(counters)
    gauges = _gauges_part(block)
    if gauges:
        parts.append(gauges)
    return f"{head}: " + "; ".join(parts) + "." if parts else f"{head}: no figures yet."


def _latency_part(block: Block, modes: Mapping[str, Any]) -> str | None:
    """The server's TTFT mean next to ours and client − server (its E2E when no mode of ours
    saw a first token); a gateway's upstream first chunk when that is all it times."""
    histograms = _mapping(block.get("histograms"))
    split = _mapping(block.get("client_minus_server"))
    alone: str | None = None
    for role, ours_key, title in (("ttft", "ttft_s", "TTFT"), ("e2e", "e2e_s", "E2E")):
        server = number_at(histograms.get(role), "mean_s")
        if server is None:
            continue
        text = f"its {title} mean {format_duration_short(server)}"
        alone = alone or text
        for mode in MODES:
            diff = number_at(split.get(mode), f"{role}_mean_s")
            ours = number_at(_mapping(modes.get(mode)).get(ours_key), "mean")
            if diff is not None and ours is not None:
                return (
                    f"{text}, ours ({MODE_TITLES[mode]}) {format_duration_short(ours)}: "
                    f"client − server {signed(diff)} ({SPLIT_MEANING})"
                )
    if alone is not None:
        return alone
    first_chunk = number_at(histograms.get("ttfc"), "mean_s")
    if first_chunk is not None:
        return f"its upstream's first chunk mean {format_duration_short(first_chunk)}"
    return None


def _queue_part(block: Block) -> str | None:
    queue = _mapping(_mapping(block.get("histograms")).get("queue"))
    mean, p95 = number_at(queue, "mean_s"), number_at(queue, "p95_s")
    if mean is None:
        return None
    text = f"its queue mean {format_duration_short(mean)}"
    if p95 is not None:
        text += f", p95 {format_duration_short(p95)}"
    lag = _mapping(block.get("client_schedule_lag_s"))
    ours = number_at(lag, "mean")
    if ours is not None:
        text += f" (our schedule lag mean {format_duration_short(ours)})"
    return text


def _per_token_parts(block: Block, modes: Mapping[str, Any]) -> list[str]:
    per_token = _mapping(block.get("per_token"))
    parts = []
    decode = number_at(per_token, "decode_s")
    if decode is not None:
        text = f"decode {format_duration_short(decode)} per token"
        tpot = number_at(_mapping(modes.get("stream")).get("tpot_s"), "mean")
        if tpot is not None:
            text += f" (our TPOT mean {format_duration_short(tpot)})"
        parts.append(text)
    prefill = number_at(per_token, "prefill_s")
    if prefill is not None:
        parts.append(f"prefill {format_duration_short(prefill)} per prompt token")
    return parts


def _counters_part(block: Block) -> str | None:
    counters = _mapping(block.get("counters"))
    client = _mapping(block.get("client"))
    shown = [role for role in COUNTER_TITLES if number_at(counters, role) is not None]
    if not shown:
        return None
    listed = ", ".join(f"{_count(counters[role])} {COUNTER_TITLES[role]}" for role in shown)
    compared = [role for role in shown if number_at(client, role) is not None]
    if not compared or not covers_run(block):
        return f"its counters: {listed}"
    if all(counters[role] == client[role] for role in compared):
        return f"its counters match ours ({listed})"
    return f"its counters differ from ours ({listed}; see the warning)"


def _gauges_part(block: Block) -> str | None:
    gauges = _mapping(block.get("gauges"))
    parts = []
    for role in ("running", "waiting"):
        top = number_at(gauges.get(role), "max")
        if top is not None:
            parts.append(f"{GAUGE_TITLES[role]} up to {top:g}")
    kv = number_at(gauges.get("kv_cache_usage"), "max")
    if kv is not None:
        parts.append(f"KV cache up to {kv:.0%}")
    return ", ".join(parts) or None


# ------------------------------------------------------------------ the table


def server_rows(block: Block, modes: Mapping[str, Any]) -> list[ServerRow]:
    """The server's figures next to ours, row by row; empty when no scrape worked."""
    if not worked(block):
        return []
    histograms = _mapping(block.get("histograms"))
    split = _mapping(block.get("client_minus_server"))
    rows: list[ServerRow] = []
    for role, ours_key, title, ran in (
        ("ttft", "ttft_s", "TTFT", ("stream",)),
        ("e2e", "e2e_s", "E2E", MODES),
        ("tpot", "tpot_s", "TPOT", ("stream",)),
    ):
        server = _mapping(histograms.get(role))
        if not server:
            continue
        for stat in ("mean",) if role == "tpot" else ("mean", "p95"):
            theirs = number_at(server, f"{stat}_s")
            if theirs is None:
                continue
            for mode in ran:
                if mode not in modes:
                    continue
                ours = number_at(_mapping(modes[mode]).get(ours_key), stat)
                diff = number_at(split.get(mode), f"{role}_mean_s") if stat == "mean" else None
                rows.append(
                    ServerRow(
                        f"{title} {stat} ({MODE_TITLES[mode]})",
                        _duration(ours),
                        format_duration(theirs),
                        signed(diff) if diff is not None else DASH,
                    )
                )
    lag = _mapping(block.get("client_schedule_lag_s"))
    queue = _mapping(histograms.get("queue"))
    for stat in ("mean", "p95"):
        theirs = number_at(queue, f"{stat}_s")
        if theirs is not None:
            ours = number_at(lag, stat)
            rows.append(
                ServerRow(
                    f"queue {stat} (ours: schedule lag)" if ours is not None else f"queue {stat}",
                    _duration(ours),
                    format_duration(theirs),
                    DASH,
                )
            )
    for role, title in (
        ("prefill", "prefill mean"),
        ("decode", "decode mean"),
        ("itl", "ITL mean"),
        ("ttfc", "its upstream's first chunk mean"),
    ):
        theirs = number_at(histograms.get(role), "mean_s")
        if theirs is not None:
            ours = (
                number_at(_mapping(modes.get("stream")).get("itl_s"), "mean")
                if role == "itl"
                else None
            )
            rows.append(ServerRow(title, _duration(ours), format_duration(theirs), DASH))
    per_token = _mapping(block.get("per_token"))
    decode = number_at(per_token, "decode_s")
    if decode is not None:
        tpot = number_at(_mapping(modes.get("stream")).get("tpot_s"), "mean")
        rows.append(
            ServerRow(
                "decode per token (ours: TPOT mean)", _duration(tpot), format_duration(decode), DASH
            )
        )
    prefill = number_at(per_token, "prefill_s")
    if prefill is not None:
        rows.append(ServerRow("prefill per prompt token", DASH, format_duration(prefill), DASH))
    counters = _mapping(block.get("counters"))
    client = _mapping(block.get("client"))
    for role, title in COUNTER_TITLES.items():
        theirs = number_at(counters, role)
        if theirs is None:
            continue
        ours = number_at(client, role)
        apart = DASH
        if ours is not None and covers_run(block):
            apart = "0" if ours == theirs else f"{ours - theirs:+,g}".replace("-", "−")
        rows.append(
            ServerRow(title, _count(ours) if ours is not None else DASH, _count(theirs), apart)
        )
    gauges = _mapping(block.get("gauges"))
    for role, title in GAUGE_TITLES.items():
        top = number_at(gauges.get(role), "max")
        if top is None:
            continue
        shown = f"{top:.0%}" if role == "kv_cache_usage" else f"{top:g}"
        rows.append(ServerRow(f"{title}, max", DASH, shown, DASH))
    return rows


def server_notes(block: Block) -> list[str]:
    """The saturation sentence and the block's warnings, each a sentence."""
    lines = []
    saturation = _mapping(block.get("saturation"))
    sentence = saturation.get("sentence")
    if isinstance(sentence, str) and sentence:
        lines.append(sentence)
    warnings = block.get("warnings")
    if isinstance(warnings, list):
        for warning in warnings:
            if isinstance(warning, str) and warning:
                lines.append(f"Warning: {warning[0].upper()}{warning[1:]}.")
    return lines


def server_lines(summary: Mapping[str, Any]) -> list[str]:
    """Every server's line for the terminal, each followed by its notes."""
    lines = []
    for name, block, modes in server_entries(summary):
        lines.append(server_line(block, modes, name))
        lines += [f"{name}: {line}" if name else line for line in server_notes(block)]
    return lines


#: below every server table: what the difference means and why only means are subtracted
TABLE_NOTE = (
    f"Ours − server's is what the {SPLIT_MEANING} add. Only means are subtracted: the "
    "server's percentiles are interpolated inside its histogram's buckets, so a difference "
    "of two would mostly be the buckets' width. The server's histograms hold every request "
    "it served in the window, of every mode (and of any other client)."
)


def server_heading(block: Block, name: str = "") -> str:
    """``vLLM at http://…/metrics, 6 scrapes`` (``fast: …`` with targets)."""
    text = f"{engine_title(block)} at {shown_url(block)}, {scrapes_text(block)}"
    return f"{name}: {text}" if name else text


def server_markdown(summary: Mapping[str, Any]) -> list[str]:
    """summary.md's section: per server its heading, table, note, sentence and warnings."""
    entries = server_entries(summary)
    if not entries:
        return []
    out = [f"### {SECTION_TITLE}"]
    for name, block, modes in entries:
        out += ["", f"**{server_heading(block, name)}**"]
        rows = server_rows(block, modes)
        if rows:
            out += ["", "| " + " | ".join(ROW_TITLES) + " |", "|:---|---:|---:|---:|"]
            out += ["| " + " | ".join(row.cells()) + " |" for row in rows]
            out += ["", TABLE_NOTE]
        else:
            out += ["", server_line(block, modes, name)]
        out += [line for note in server_notes(block) for line in ("", note)]
    return out


def tab_rows(block: Block, modes: Mapping[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """The LLM tab's rows about one server while the run goes on: (figure, a cell per mode).

    The heading (engine, URL, scrapes, or why no scrape worked), client − server per mode,
    the server's TTFT and queue, its gauges now and at their maximum, its counters, then the
    saturation sentence and the warnings (each marked ⚠)."""
    heading = f"server: {server_heading(block)}"
    if not worked(block):
        return [("⚠ " + server_line(block, modes), {})]
    rows: list[tuple[str, dict[str, str]]] = [(heading, {})]
    split = _mapping(block.get("client_minus_server"))
    for role, title in (("ttft", "TTFT"), ("e2e", "E2E")):
        cells = {
            mode: signed(diff)
            for mode in MODES
            if (diff := number_at(split.get(mode), f"{role}_mean_s")) is not None
        }
        if cells:
            rows.append((f"client − server {title} mean ({SPLIT_MEANING})", cells))
    latency = _latency_part(block, modes)
    if latency is not None:
        rows.append((f"server: {latency.split(', ours')[0]}", {}))
    queue = _queue_part(block)
    if queue is not None:
        rows.append((f"server: {queue}", {}))
    for part in _per_token_parts(block, modes):
        rows.append((f"server: {part}", {}))
    gauges = _mapping(block.get("gauges"))
    for role, title in GAUGE_TITLES.items():
        gauge = _mapping(gauges.get(role))
        now, top = number_at(gauge, "last"), number_at(gauge, "max")
        if now is None or top is None:
            continue
        fmt = "{:.0%}" if role == "kv_cache_usage" else "{:g}"
        rows.append(
            (f"server: {title} {fmt.format(now)} at the last scrape (max {fmt.format(top)})", {})
        )
    counters = _counters_part(block)
    if counters is not None:
        rows.append((f"server: {counters}", {}))
    rows += [(f"⚠ {note.removeprefix('Warning: ')}", {}) for note in server_notes(block)]
    return rows


def gauge_series(block: Block) -> dict[str, list[tuple[float, float]]]:
    """Each gauge over time, [(seconds from the test's start, value)]; KV-cache use in %."""
    out: dict[str, list[tuple[float, float]]] = {}
    gauges = _mapping(block.get("gauges"))
    for role in GAUGE_TITLES:
        series = _mapping(gauges.get(role)).get("series")
        if not isinstance(series, list):
            continue
        scale = 100.0 if role == "kv_cache_usage" else 1.0
        points = [
            (float(p[0]), float(p[1]) * scale)
            for p in series
            if isinstance(p, list | tuple) and len(p) == 2 and all(_is_number(v) for v in p)
        ]
        if points:
            out[role] = points
    return out


# ------------------------------------------------------------------ helpers


def covers_run(block: Block) -> bool:
    window = _mapping(block.get("window"))
    return window.get("covers_run") is True


def signed(seconds: float) -> str:
    """A difference: ``+9.85 ms``, ``−8.73 ms`` (a true minus sign)."""
    text = format_duration(abs(seconds))
    return ("−" if seconds < 0 else "+") + text


def _duration(seconds: float | None) -> str:
    return DASH if seconds is None else format_duration(seconds)


def _count(value: Any) -> str:
    number = float(value)
    return f"{int(number):,}" if number.is_integer() else f"{number:,.1f}"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)

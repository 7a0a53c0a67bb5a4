"""How the load was offered, in words and a table: the lines about `run.load` and `stages[]`.

`load_line` is the run's second line for an open-loop run (offered and achieved rates, what
became of the due requests, the in-flight cap); `load_notes` are the sentences below the table
(a shortfall, a warm-up, requests dropped or never sent); `stage_rows` is one row per stage
of a staged run for `stage_table`. Functions of the summary document only, tolerant of absent
figures; standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.load.paired import paired_sentence
from harness.report.units import DASH, format_duration, number_at


def _load(summary: Mapping[str, Any]) -> Mapping[str, Any] | None:
    run = summary.get("run")
    if not isinstance(run, Mapping):
        return None
    load = run.get("load")
    return load if isinstance(load, Mapping) else None


def load_line(summary: Mapping[str, Any]) -> str | None:
    """``open loop · poisson arrivals · offered 20/s · achieved 19.9/s · 1,194 sent of 1,194
    due · at most 512 in flight`` (None for a closed-loop run)."""
    load = _load(summary)
    if load is None or load.get("kind") != "open":
        return None
    parts = ["open loop"]
    process = load.get("process")
    if isinstance(process, str):
        text = f"{process} arrivals"
        burstiness = number_at(load, "burstiness")
        if burstiness is not None:
            text += f" (burstiness {burstiness:g})"
        parts.append(text)
    offered = number_at(load, "offered_rate_per_s")
    achieved = number_at(load, "achieved_rate_per_s")
    if offered is not None:
        parts.append(f"offered {offered:.3g}/s")
    if achieved is not None:
        parts.append(f"achieved {achieved:.3g}/s")
    sent, scheduled = number_at(load, "sent"), number_at(load, "scheduled")
    if sent is not None and scheduled is not None:
        parts.append(f"{int(sent):,} sent of {int(scheduled):,} due")
    cap = number_at(load, "max_in_flight")
    if cap is not None:
        parts.append(f"at most {int(cap):,} in flight")
    processes = number_at(load, "processes")
    if processes is not None and processes > 1:
        parts.append(f"{int(processes)} processes")
    return " · ".join(parts)


def load_notes(summary: Mapping[str, Any]) -> list[str]:
    """Sentences about the load: a shortfall, requests dropped or left unsent, a warm-up, and
    the paired comparison."""
    load = _load(summary)
    if load is None:
        return []
    lines = []
    paired = summary.get("paired")
    if isinstance(paired, Mapping):
        sentence = paired_sentence(dict(paired))
        if sentence:
            lines.append(sentence)
    shortfall = load.get("shortfall")
    if isinstance(shortfall, str) and shortfall:
        lines.append(f"Warning: the offered rate was not achieved: {shortfall}.")
    dropped = int(number_at(load, "dropped") or 0)
    unsent = int(number_at(load, "unsent_at_end") or 0)
    if dropped:
        lag = number_at(load, "max_schedule_lag_s")
        limit = f" {format_duration(lag)}" if lag is not None else ""
        lines.append(
            f"{dropped:,} due request(s) were dropped, never sent: they waited for a free user "
            f"longer than max_schedule_lag{limit}."
        )
    if unsent:
        lines.append(
            f"{unsent:,} due request(s) were still waiting for a free user when the run "
            "stopped, and were never sent."
        )
    if load.get("kind") == "open":
        lines.append(
            "Latencies are timed from the send; the rows 'from schedule' add the wait for a "
            "free user (client-side queueing), which the send-timed figures do not show."
        )
    warmup = number_at(load, "warmup_s")
    if warmup:
        n = int(number_at(load, "warmup_requests") or 0)
        lines.append(
            f"Warm-up: {warmup:.3g} s in all, {n:,} request(s) sent then are not in the figures."
        )
    return lines


def stage_rows(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The stage table's header and one row per stage that began; no rows without stages."""
    stages = summary.get("stages")
    if not isinstance(stages, Sequence) or not stages:
        return [], []
    header = [
        "stage",
        "load",
        "achieved",
        "requests",
        "stream TTFT p50 / p95",
        "batch E2E p50 / p95",
        "failures",
    ]
    rows = []
    for stage in stages:
        if not isinstance(stage, Mapping):
            continue
        modes = stage.get("modes") if isinstance(stage.get("modes"), Mapping) else {}
        assert isinstance(modes, Mapping)
        stream = modes.get("stream") if isinstance(modes.get("stream"), Mapping) else {}
        batch = modes.get("batch") if isinstance(modes.get("batch"), Mapping) else {}
        requests = sum(int(number_at(m, "requests") or 0) for m in (stream, batch))
        failed = sum(
            int(number_at(m.get("outcomes"), "failed") or 0)
            for m in (stream, batch)
            if isinstance(m, Mapping)
        )
        achieved = number_at(stage, "achieved_rate_per_s")
        rows.append(
            [
                str(stage.get("index", "")),
                str(stage.get("label", "")),
                DASH if achieved is None else f"{achieved:.3g}/s",
                f"{requests:,}",
                _pair(stream, "ttft_s"),
                _pair(batch, "e2e_s"),
                f"{failed:,}",
            ]
        )
    return header, rows


def _pair(figures: Any, name: str) -> str:
    block = figures.get(name) if isinstance(figures, Mapping) else None
    p50, p95 = number_at(block, "p50"), number_at(block, "p95")
    if p50 is None or p95 is None:
        return DASH
    return f"{format_duration(p50)} / {format_duration(p95)}"


def stage_table(summary: Mapping[str, Any], *, markdown: bool) -> list[str]:
    """The stages as a Markdown table or aligned text; [] without stages."""
    header, rows = stage_rows(summary)
    if not rows:
        return []
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return ["### Stages", "", *out]
    table = [header, *rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    out = ["Stages:"]
    for line in table:
        out.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return out

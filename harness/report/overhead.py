"""What a gateway adds: summary.json's ``gateway_overhead``, and its table in the reports.

A target with ``via: NAME`` is a gateway in front of target NAME (docs/targets.md): both get
the same prompts on the same schedule, so the difference of their figures is the gateway's
overhead. `gateway_overhead(summary)` gives, for every gateway and each mode both it and its
upstream have, the difference gateway − upstream of TTFT p50, TTFB p50, ITL p99, the tail to
the end of the stream p50, E2E p50 and first visible output p50, each with a conservative
interval (`difference`), and the burst deliveries per 1,000 token events of each side
(`burst_deliveries`). The histograms behind the percentiles are exact to 0.1 %, so a
difference is as exact as its two values. `overhead_table` is its table in every report.

Pure: standard library and the pure core only; functions of the summary document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.load.confidence import Interval, interval_of
from harness.report.targets import FIGURE_LABELS, inter_chunk, target_entries, target_modes
from harness.report.units import DASH, MODE_TITLES, format_duration_short, number_at

Figures = Mapping[str, Any]

#: the figures a gateway's overhead is measured on: (latency block, percentile)
OVERHEAD_FIGURES: tuple[tuple[str, str], ...] = (
    ("ttft_s", "p50"),
    ("ttfb_s", "p50"),
    ("itl_s", "p99"),
    ("tail_s", "p50"),
    ("e2e_s", "p50"),
    ("first_visible_s", "p50"),
)
#: the label of the burst row of the overhead table
BURST_LABEL = "bursts per 1,000 token events"


def difference(gateway: Any, upstream: Any, key: str) -> dict[str, Any] | None:
    """Percentile `key` of the gateway's latency block minus the upstream's, with an interval:
    ``{"value_s", "ci95": [lo, hi], "gateway_s", "upstream_s"}``; None unless both have it.

    The interval is conservative: [lo_G − hi_U, hi_G − lo_U] holds every difference of a
    point of the gateway's 95 % interval and a point of the upstream's, so it covers the
    true difference whenever both intervals cover their percentiles: with at least 90 %
    confidence in any case (each misses 5 % of the time), and it is wider than a 95 %
    interval of the difference itself would be. An end is None (open) when an end it is
    made of is open or either block has no interval.
    """
    g_value, u_value = number_at(gateway, key), number_at(upstream, key)
    if g_value is None or u_value is None:
        return None
    g_interval = interval_of(gateway, key) or [None, None]
    u_interval = interval_of(upstream, key) or [None, None]
    return {
        "value_s": g_value - u_value,
        "ci95": combined_interval(g_interval, u_interval),
        "gateway_s": g_value,
        "upstream_s": u_value,
    }


def combined_interval(gateway: Interval, upstream: Interval) -> Interval:
    """[lo_G − hi_U, hi_G − lo_U]; an end is None when either end it is made of is None."""
    (g_lo, g_hi), (u_lo, u_hi) = gateway, upstream
    lo = g_lo - u_hi if g_lo is not None and u_hi is not None else None
    hi = g_hi - u_lo if g_hi is not None and u_lo is not None else None
    return [lo, hi]


def token_events(figures: Figures) -> int:
    """Token-bearing events a mode received: the first of each successful stream (its TTFT),
    the gaps after it (inter-chunk latency) and those of failed requests (partial output)."""
    total = 0
    for name in ("ttft_s", "inter_chunk_s"):
        count = number_at(figures.get(name), "count")
        total += int(count) if count is not None else 0
    partial = number_at(figures, "partial_output_tokens")
    return total + (int(partial) if partial is not None else 0)


def burst_count(figures: Figures) -> int:
    """The mode's `burst_delivery` anomalies: token events read together with the one before."""
    n = number_at(figures.get("anomalies"), "burst_delivery")
    return int(n) if n is not None else 0


def burst_deliveries(gateway: Figures, upstream: Figures) -> dict[str, Any] | None:
    """Burst deliveries per 1,000 token events of each side and their difference (gateway −
    upstream); None unless both sides received token events (batch receives none)."""
    sides = {"gateway": gateway, "upstream": upstream}
    block: dict[str, Any] = {}
    for side, figures in sides.items():
        events = token_events(figures)
        if events == 0:
            return None
        bursts = burst_count(figures)
        block[side] = {"bursts": bursts, "token_events": events, "per_1k": 1000.0 * bursts / events}
    block["difference_per_1k"] = block["gateway"]["per_1k"] - block["upstream"]["per_1k"]
    return block


def gateway_overhead(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """summary.json's ``gateway_overhead``: one entry per gateway target (``via``) and mode
    that both it and its upstream have, in target then mode order.

    Each is ``{"target", "via", "mode", "figures": {block: {"percentile", "value_s",
    "ci95", "gateway_s", "upstream_s"}}, "burst_delivery": {…}}`` (`difference`,
    `burst_deliveries`); ITL is taken as inter-chunk latency (``inter_chunk_s``) when
    either side's is. [] when no target is a gateway.
    """
    targets = target_entries(summary)
    out: list[dict[str, Any]] = []
    for name, entry in targets.items():
        via = entry.get("via")
        if not isinstance(via, str) or via == name or via not in targets:
            continue
        upstream_modes = target_modes(targets[via])
        for mode, gateway in target_modes(entry).items():
            upstream = upstream_modes.get(mode)
            if upstream is None:
                continue
            figures: dict[str, Any] = {}
            for block, key in OVERHEAD_FIGURES:
                if block == "itl_s" and (inter_chunk(gateway) or inter_chunk(upstream)):
                    block = "inter_chunk_s"
                found = difference(gateway.get(block), upstream.get(block), key)
                if found is not None:
                    figures[block] = {"percentile": key, **found}
            item: dict[str, Any] = {"target": name, "via": via, "mode": mode, "figures": figures}
            bursts = burst_deliveries(gateway, upstream)
            if bursts is not None:
                item["burst_delivery"] = bursts
            out.append(item)
    return out


def signed_duration(seconds: float) -> str:
    """A difference for a report: ``+30.1 ms``, ``−1.20 ms``, ``+0.00 ms``."""
    sign = "−" if seconds < 0 else "+"
    return sign + format_duration_short(abs(seconds))


def overhead_text(entry: Mapping[str, Any]) -> str:
    """One figure of the overhead with its interval: ``+30.1 ms (+28.9 to +31.3 ms)`` (the
    unit written once when both ends share it); an open end reads ``≥ …`` or ``≤ …``; no
    interval, the value alone."""
    value = number_at(entry, "value_s")
    if value is None:
        return DASH
    text = signed_duration(value)
    pair = entry.get("ci95")
    lo, hi = (
        (pair[0], pair[1]) if isinstance(pair, list | tuple) and len(pair) == 2 else (None, None)
    )
    lo = float(lo) if isinstance(lo, int | float) and not isinstance(lo, bool) else None
    hi = float(hi) if isinstance(hi, int | float) and not isinstance(hi, bool) else None
    if lo is not None and hi is not None:
        lo_text, hi_text = signed_duration(lo), signed_duration(hi)
        unit = hi_text.rpartition(" ")[2]
        if lo_text.endswith(" " + unit):
            lo_text = lo_text.removesuffix(" " + unit)
        return f"{text} ({lo_text} to {hi_text})"
    if lo is not None:
        return f"{text} (≥ {signed_duration(lo)})"
    if hi is not None:
        return f"{text} (≤ {signed_duration(hi)})"
    return text


def burst_text(block: Any) -> str:
    """``12.0 vs 0.0 (+12.0)``: bursts per 1,000 token events, gateway vs upstream."""
    if not isinstance(block, Mapping):
        return DASH
    gateway = number_at(block.get("gateway"), "per_1k")
    upstream = number_at(block.get("upstream"), "per_1k")
    diff = number_at(block, "difference_per_1k")
    if gateway is None or upstream is None or diff is None:
        return DASH
    sign = "−" if diff < 0 else "+"
    return f"{gateway:,.1f} vs {upstream:,.1f} ({sign}{abs(diff):,.1f})"


def overhead_column(item: Mapping[str, Any]) -> str:
    """The title of one gateway and mode: ``gw − direct, streaming``."""
    mode = str(item.get("mode", ""))
    return f"{item.get('target', '?')} − {item.get('via', '?')}, {MODE_TITLES.get(mode, mode)}"


def overhead_table(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The gateway overhead as a table: a header (a blank, then one column per gateway and
    mode) and rows (figure label, then a cell per column); ([], []) without a gateway."""
    items = [i for i in summary.get("gateway_overhead") or [] if isinstance(i, Mapping)]
    if not items:
        return [], []
    header = ["", *(overhead_column(item) for item in items)]
    blocks: list[tuple[str, str]] = []
    for item in items:
        figures = item.get("figures")
        for block, entry in figures.items() if isinstance(figures, Mapping) else ():
            key = entry.get("percentile") if isinstance(entry, Mapping) else None
            if isinstance(key, str) and (block, key) not in blocks:
                blocks.append((block, key))
    order = [b for b, _ in OVERHEAD_FIGURES] + ["inter_chunk_s"]
    blocks.sort(key=lambda bk: order.index(bk[0]) if bk[0] in order else len(order))
    rows = []
    for block, key in blocks:
        cells = []
        for item in items:
            figures = item.get("figures")
            entry = figures.get(block) if isinstance(figures, Mapping) else None
            cells.append(overhead_text(entry) if isinstance(entry, Mapping) else DASH)
        rows.append([f"{FIGURE_LABELS.get(block, block)} {key}", *cells])
    if any(isinstance(item.get("burst_delivery"), Mapping) for item in items):
        rows.append([BURST_LABEL, *(burst_text(item.get("burst_delivery")) for item in items)])
    return header, rows


#: the sentence under the overhead table
OVERHEAD_NOTE = (
    "Gateway overhead: the gateway's figure minus its upstream's (the target it fronts, "
    "`via`), same prompts, same schedule. In parentheses: a conservative interval, the "
    "gateway's 95 % interval minus the upstream's (at least 90 % confidence); the overhead "
    "is significant when it excludes 0."
)

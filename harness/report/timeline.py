"""Figures over time: the run's merged statistics, sampled every few seconds.

The HTML report plots TTFT, ITL, E2E and throughput over time; summary.json's totals cannot
give that, so a small greenlet (harness.timeline_sampler), started on Locust's `test_start`,
snapshots the run's `RunStats` (the same merged statistics every sink reads: on a
master, the workers' deltas merged) every `SAMPLE_INTERVAL_S` and keeps the *difference*
from the previous snapshot: requests, failures and output tokens of the interval, and the
interval's own latency percentiles (bucket counts subtract exactly). Nothing is added to
the per-request hot path. On a distributed master the interval is `MASTER_INTERVAL_S`, a
multiple of the workers' 3 s report period, so each point holds whole reports.

Pure (it takes wire snapshots and times): standard library, harness.errors and
harness.stats only. summary.json carries the result as ``"timeline"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from harness.errors import Outcome, is_failure
from harness.stats import GAMMA, LatencyHistogram

SAMPLE_INTERVAL_S = 2.0
MASTER_INTERVAL_S = 6.0
#: a long run samples less often, so the timeline stays a few hundred points
MAX_POINTS = 300

_TIMED = ("ttft_s", "itl_s", "inter_chunk_s", "e2e_s", "first_visible_s")
_REP_FACTOR = 2 / (1 + GAMMA)


def interval_for(run_time_s: float | None, *, master: bool) -> float:
    """The sampling interval: 2 s (6 s on a master), longer for long runs."""
    base = MASTER_INTERVAL_S if master else SAMPLE_INTERVAL_S
    if run_time_s and run_time_s / base > MAX_POINTS:
        return base * math.ceil(run_time_s / base / MAX_POINTS)
    return base


class Timeline:
    """Points of (interval end, users, per-mode interval figures) from cumulative snapshots.

    Feed `sample(t_s, users, wire)` with `RunStats.to_wire()` at each interval's end;
    `to_dict()` is summary.json's ``"timeline"``.
    """

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.points: list[dict[str, Any]] = []
        self._previous: dict[tuple[str, str], dict[str, Any]] = {}
        self._t_previous = 0.0

    def sample(self, t_s: float, users: int, wire: Mapping[str, Any]) -> None:
        """Record the interval ending at `t_s` seconds since the start."""
        current = {(g["mode"], g["model"]): g for g in wire.get("groups", [])}
        dt = t_s - self._t_previous
        if dt <= 0:
            return
        modes: dict[str, dict[str, Any]] = {}
        per_mode: dict[str, list[tuple[dict[str, Any] | None, dict[str, Any]]]] = {}
        for key, group in current.items():
            previous = self._previous.get(key)
            if previous is not None and previous["requests"] > group["requests"]:
                previous = None  # the statistics were reset
            per_mode.setdefault(key[0], []).append((previous, group))
        for mode, pairs in per_mode.items():
            figures = _interval_figures(pairs)
            if figures is not None:
                modes[mode] = figures
        self.points.append(
            {"t_s": round(t_s, 3), "dt_s": round(dt, 3), "users": users, "modes": modes}
        )
        self._previous = current
        self._t_previous = t_s

    def to_dict(self) -> dict[str, Any]:
        return {"interval_s": self.interval_s, "points": list(self.points)}


#: counts that add up across intervals (the per-second charts divide them by the interval)
RATE_KEYS = ("requests", "failures", "output_tokens")


def rate_points(
    points: Sequence[Mapping[str, Any]], interval_s: float | None
) -> list[Mapping[str, Any]]:
    """The points for per-second charts: a last interval shorter than half the sampling
    interval is folded into the one before it.

    The last point ends when the test stopped, often a fraction of an interval after the
    previous one. Streams in flight finish in it (the stop timeout), and in a closed loop
    they finish in waves, so its count over its short duration reads as a spike or a dip
    that is only where the cut fell. Folded in, the figures count the same requests over
    the whole time they took; the latency charts keep every point.
    """
    if interval_s is None or len(points) < 2:
        return list(points)
    last, before = points[-1], points[-2]
    dt_last, dt_before = last.get("dt_s"), before.get("dt_s")
    if not isinstance(dt_last, int | float) or not isinstance(dt_before, int | float):
        return list(points)
    if dt_last >= interval_s / 2:
        return list(points)
    modes: dict[str, dict[str, Any]] = {}
    for source in (before, last):
        source_modes = source.get("modes")
        if not isinstance(source_modes, Mapping):
            continue
        for mode, figures in source_modes.items():
            if not isinstance(figures, Mapping):
                continue
            merged = modes.setdefault(mode, dict.fromkeys(RATE_KEYS, 0))
            for key in RATE_KEYS:
                value = figures.get(key)
                if isinstance(value, int | float):
                    merged[key] += value
    folded = {**last, "dt_s": round(dt_before + dt_last, 3), "modes": modes}
    return [*points[:-2], folded]


def _interval_figures(
    pairs: list[tuple[dict[str, Any] | None, dict[str, Any]]],
) -> dict[str, Any] | None:
    requests = failures = output_tokens = 0
    histograms: dict[str, LatencyHistogram] = {}
    for previous, group in pairs:
        before = previous or {}
        outcomes = _diff_tally(before.get("outcomes", {}), group["outcomes"])
        requests += sum(n for k, n in outcomes.items() if k != Outcome.CANCELLED)
        failures += sum(n for k, n in outcomes.items() if is_failure(k))
        output_tokens += group["output_tokens"] - before.get("output_tokens", 0)
        for name in _TIMED:
            h = interval_histogram(
                before.get("histograms", {}).get(name), group["histograms"].get(name)
            )
            if h is not None:
                histograms.setdefault(name, LatencyHistogram()).merge(h)
    if requests == 0 and not histograms:
        return None
    figures: dict[str, Any] = {
        "requests": requests,
        "failures": failures,
        "output_tokens": output_tokens,
    }
    itl = histograms.pop("itl_s", None)
    inter_chunk = histograms.pop("inter_chunk_s", None)
    if itl is not None or inter_chunk is not None:
        histograms["itl_s"] = itl if itl is not None else inter_chunk  # type: ignore[assignment]
    for name, h in histograms.items():
        p50, p95, p99 = h.percentiles((50, 95, 99))
        figures[name] = {"count": h.count, "p50": p50, "p95": p95, "p99": p99}
    return figures


def _diff_tally(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    return {k: n - before.get(k, 0) for k, n in after.items() if n - before.get(k, 0) > 0}


def interval_histogram(
    previous: Mapping[str, Any] | None, current: Mapping[str, Any] | None
) -> LatencyHistogram | None:
    """The histogram of what `current` (a cumulative wire form) added since `previous`.

    Bucket counts subtract exactly; the interval's min and max are not known, so they are
    the representative values of its lowest and highest buckets (within 0.1 %).
    """
    if current is None:
        return None
    before: dict[int, int] = {}
    zeros_before = count_before = 0
    sum_before = 0.0
    if previous is not None:
        before = dict(zip(previous["index"], previous["n"], strict=True))
        zeros_before, count_before, sum_before = (
            previous["zeros"],
            previous["count"],
            previous["sum"],
        )
    count = current["count"] - count_before
    if count <= 0:
        return None
    indices, counts = [], []
    for index, n in zip(current["index"], current["n"], strict=True):
        added = n - before.get(index, 0)
        if added > 0:
            indices.append(index)
            counts.append(added)
    zeros = current["zeros"] - zeros_before
    if sum(counts) + zeros != count:
        return None  # not a cumulative successor (reset between snapshots)
    low = 0.0 if zeros else GAMMA ** indices[0] * _REP_FACTOR
    high = GAMMA ** indices[-1] * _REP_FACTOR if indices else 0.0
    return LatencyHistogram.from_wire(
        {
            "count": count,
            "sum": max(current["sum"] - sum_before, 0.0),
            "min": low,
            "max": high,
            "zeros": zeros,
            "index": indices,
            "n": counts,
        }
    )

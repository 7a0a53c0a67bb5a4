"""A run's scrapes of one server → summary.json's ``server`` block: `ServerView`.

The scrapes come in time order: one before the load (``before``), every few seconds during
it (``during``) and one after (``after``). Over the window from the first scrape that
worked to the last:

- **counters** (output and input tokens, finished requests) are increases: the sum of each
  series' rises, a fall read as a restart from 0 (Prometheus's ``increase`` rule), a series
  first seen after the first scrape counted from 0 (a label set born in the window);
- **histograms** (TTFT, queue, prefill, decode, E2E, TPOT, ITL) are the increases of their
  buckets, ``_sum`` and ``_count``: the mean is exact (sum / count); the percentiles are
  interpolated linearly inside the server's buckets, as Prometheus's ``histogram_quantile``
  does, so they are only as fine as its bucket bounds;
- **gauges** (running and waiting requests, KV-cache use) are kept over time, on the same
  time axis as the run's timeline (seconds from the test's start), with their min, max,
  mean and last value;
- **per token** (llama.cpp, which has no histograms): the increase of a seconds counter over
  the increase of its tokens counter.

`with_client()` adds the client's side: its counters next to the server's (and a warning
when they differ over a window that covers the run), the client-minus-server TTFT and E2E per
mode (what the network, a gateway and client-side queueing add), the run's own schedule lag
next to the server's queue time; `saturation()` says when the server was the bottleneck.

Pure: standard library and harness.server only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.errors import SUCCESS_OUTCOMES
from harness.server.engines import (
    COUNTER_ROLES,
    ENGINE_BY_NAME,
    GAUGE_ROLES,
    HISTOGRAM_ROLES,
    PER_TOKEN_ROLES,
    UNKNOWN,
    Engine,
)
from harness.server.snapshot import Labels, Snapshot

#: the percentiles of a server histogram in the block
QUANTILES = (50, 90, 95, 99)
#: KV-cache use at or above this is "full"
KV_FULL = 0.95
#: the phases of a scrape
BEFORE, DURING, AFTER = "before", "during", "after"
#: finished-request series that are not successes (vLLM's ``finished_reason``)
_NOT_FINISHED = frozenset({"abort", "error"})
#: how gauges of several label sets (engines, data-parallel ranks) combine
_GAUGE_COMBINE: Mapping[str, Callable[[Iterable[float]], float]] = {
    "running": math.fsum,
    "waiting": math.fsum,
    "kv_cache_usage": max,
}


@dataclass(slots=True)
class ServerView:
    """The scrapes of one server's metrics during one run.

    `url` is the metrics URL as reports show it (no credentials); `t_zero` the
    `perf_counter()` time the run's timeline counts from; `interval_s` how often it is
    scraped during the run.
    """

    url: str
    t_zero: float
    interval_s: float
    scrapes: list[tuple[str, Snapshot]] = field(default_factory=list)

    def add(self, phase: str, snapshot: Snapshot) -> None:
        """One scrape, in time order (`phase`: BEFORE, DURING or AFTER)."""
        self.scrapes.append((phase, snapshot))

    @property
    def failures(self) -> int:
        return sum(1 for _, s in self.scrapes if not s.ok)

    @property
    def last_error(self) -> str | None:
        errors = [s.error for _, s in self.scrapes if s.error is not None]
        return errors[-1] if errors else None

    def block(self) -> dict[str, Any]:
        """summary.json's ``server`` block from the scrapes so far (without the client's
        side: `with_client`)."""
        ordered = sorted(self.scrapes, key=lambda item: item[1].t)
        ok = [s for _, s in ordered if s.ok]
        block: dict[str, Any] = {
            "engine": UNKNOWN,
            "url": self.url,
            "scrapes": {"ok": len(ok), "failed": self.failures, "interval_s": self.interval_s},
            "counters": {},
            "histograms": {},
            "gauges": {},
        }
        if not ok:
            if self.last_error is not None:
                block["error"] = self.last_error
            return block
        phases = {phase for phase, s in ordered if s.ok}
        block["window"] = {
            "start_s": round(ok[0].t - self.t_zero, 3),
            "end_s": round(ok[-1].t - self.t_zero, 3),
            # only a window from before the load to after it holds every request
            "covers_run": BEFORE in phases and AFTER in phases,
        }
        engine = ENGINE_BY_NAME.get(ok[-1].engine)
        if engine is None:
            return block
        block["engine"] = engine.name
        block["counters"] = counters(engine, ok)
        block["histograms"] = histograms(engine, ok)
        per_token = per_token_figures(engine, ok)
        if per_token:
            block["per_token"] = per_token
        block["gauges"] = gauges(engine, ordered, self.t_zero)
        judged = saturation(engine, [s for phase, s in ordered if s.ok and phase == DURING])
        if judged is not None:
            block["saturation"] = judged
        return block


# ------------------------------------------------------------------ increases


def increase(values: Sequence[float]) -> float:
    """How much a counter rose over `values` (in time order): a fall is a restart from 0."""
    total = 0.0
    for previous, current in itertools.pairwise(values):
        total += current - previous if current >= previous else current
    return total


def series_increase(
    snapshots: Sequence[Snapshot], name: str, keep: Callable[[Labels], bool] | None = None
) -> dict[Labels, float] | None:
    """Per label set, the increase of sample `name` over `snapshots`; None when the last
    snapshot has no `name`. A label set missing from the first snapshot starts at 0."""
    if not snapshots or not snapshots[-1].has(name):
        return None
    keys: dict[Labels, None] = {}
    for snapshot in snapshots:
        keys.update(dict.fromkeys(snapshot.samples.get(name, {})))
    out: dict[Labels, float] = {}
    for key in keys:
        if keep is not None and not keep(key):
            continue
        values = [] if key in snapshots[0].samples.get(name, {}) else [0.0]
        values += [s.samples[name][key] for s in snapshots if key in s.samples.get(name, {})]
        out[key] = increase(values)
    return out


def _finished(labels: Labels) -> bool:
    """A series of requests that finished normally: not vLLM's aborted or failed ones, and
    only the 2xx answers of a gateway that counts requests by ``status_code`` (LiteLLM)."""
    by_name = dict(labels)
    if by_name.get("finished_reason") in _NOT_FINISHED:
        return False
    status = by_name.get("status_code")
    return status is None or status.startswith("2")


def counters(engine: Engine, snapshots: Sequence[Snapshot]) -> dict[str, int | float]:
    """Each counter role's increase over the window (the first alternative present)."""
    out: dict[str, int | float] = {}
    for role in COUNTER_ROLES:
        for alternative in engine.counters.get(role, ()):
            keep = _finished if role == "requests" else None
            parts = [series_increase(snapshots, name, keep) for name in alternative]
            if any(part is None for part in parts):
                continue
            out[role] = _number(math.fsum(v for part in parts if part for v in part.values()))
            break
    return out


# ------------------------------------------------------------------ histograms


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The `q` quantile (0–1) of cumulative `buckets` [(upper bound, count)], interpolated
    linearly inside the bucket it falls in, as Prometheus's ``histogram_quantile``: None
    with no observations; the highest finite bound when it falls in the +Inf bucket."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = q * total
    previous_bound, previous_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank and count > previous_count:
            if math.isinf(bound):
                return previous_bound
            share = (rank - previous_count) / (count - previous_count)
            low = previous_bound if previous_bound < bound else 0.0
            return low + (bound - low) * share
        previous_bound, previous_count = bound, count
    return previous_bound


def histogram_figures(snapshots: Sequence[Snapshot], family: str) -> dict[str, Any] | None:
    """The window's count, mean and percentiles of histogram `family`; None if absent."""
    counts = series_increase(snapshots, f"{family}_count")
    sums = series_increase(snapshots, f"{family}_sum")
    buckets = series_increase(snapshots, f"{family}_bucket")
    if counts is None or sums is None or buckets is None:
        return None
    count = math.fsum(counts.values())
    figures: dict[str, Any] = {"count": _number(count)}
    if count <= 0:
        return figures
    by_bound: dict[float, float] = {}
    for labels, value in buckets.items():
        le = dict(labels).get("le")
        if le is None:
            continue
        bound = float(le)
        by_bound[bound] = by_bound.get(bound, 0.0) + value
    total = math.fsum(sums.values())
    figures["mean_s"] = total / count
    if total <= 0:  # every observation was 0 (durations are never negative)
        figures.update({f"p{q}_s": 0.0 for q in QUANTILES})
        return figures
    for q in QUANTILES:
        quantile = histogram_quantile(q / 100, list(by_bound.items()))
        if quantile is not None:
            figures[f"p{q}_s"] = quantile
    return figures


def histograms(engine: Engine, snapshots: Sequence[Snapshot]) -> dict[str, dict[str, Any]]:
    """Each histogram role's figures over the window (the first family present)."""
    out: dict[str, dict[str, Any]] = {}
    for role in HISTOGRAM_ROLES:
        for family in engine.histograms.get(role, ()):
            figures = histogram_figures(snapshots, family)
            if figures is not None:
                out[role] = {"metric": family, **figures}
                break
    return out


def per_token_figures(engine: Engine, snapshots: Sequence[Snapshot]) -> dict[str, float]:
    """Seconds per token from counter pairs (llama.cpp): Δseconds / Δtokens."""
    out: dict[str, float] = {}
    for role in PER_TOKEN_ROLES:
        pair = engine.per_token.get(role)
        if pair is None:
            continue
        seconds, tokens = (series_increase(snapshots, name) for name in pair)
        if seconds is None or tokens is None:
            continue
        n = math.fsum(tokens.values())
        if n > 0:
            out[role] = math.fsum(seconds.values()) / n
    return out


# ------------------------------------------------------------------ gauges


def gauges(
    engine: Engine, ordered: Sequence[tuple[str, Snapshot]], t_zero: float
) -> dict[str, dict[str, Any]]:
    """Each gauge role over time: ``series`` [[seconds from t_zero, value]] and its min,
    max, mean and last value."""
    out: dict[str, dict[str, Any]] = {}
    for role in GAUGE_ROLES:
        names = engine.gauges.get(role, ())
        combine = _GAUGE_COMBINE[role]
        series: list[list[float]] = []
        for _, snapshot in ordered:
            name = next((n for n in names if snapshot.has(n)), None)
            if name is None:
                continue
            value = combine(snapshot.samples[name].values())
            series.append([round(snapshot.t - t_zero, 3), _number(value)])
        if not series:
            continue
        values = [v for _, v in series]
        out[role] = {
            "min": _number(min(values)),
            "max": _number(max(values)),
            "mean": math.fsum(values) / len(values),
            "last": values[-1],
            "series": series,
        }
    return out


def saturation(engine: Engine, during: Sequence[Snapshot]) -> dict[str, Any] | None:
    """Whether the server was saturated while the load ran, and one sentence saying why:
    requests waited in its queue in at least half of the scrapes or their number grew
    (the second half's mean above the first's, and at least 1), or its KV cache was at
    least `KV_FULL` full. None when it was not (or nothing says)."""
    reasons: list[str] = []
    judged: dict[str, Any] = {}
    waiting = _values(engine, "waiting", during)
    if waiting:
        half = len(waiting) // 2
        first = math.fsum(waiting[:half]) / half if half else 0.0
        second = math.fsum(waiting[half:]) / (len(waiting) - half)
        queued = sum(1 for v in waiting if v > 0)
        grew = second >= 1 and second > first
        persistent = queued * 2 >= len(waiting) and max(waiting) >= 1
        if grew or persistent:
            judged["waiting_max"] = _number(max(waiting))
            judged["waiting_scrapes"] = [queued, len(waiting)]
            reasons.append(
                f"requests waited in its queue in {queued} of {len(waiting)} scrapes "
                f"(up to {max(waiting):g})"
            )
    kv = _values(engine, "kv_cache_usage", during)
    if kv and max(kv) >= KV_FULL:
        judged["kv_cache_max"] = max(kv)
        reasons.append(f"its KV cache reached {max(kv):.0%}")
    if not reasons:
        return None
    judged["sentence"] = (
        f"The server was saturated: {' and '.join(reasons)}; the knee is the server's, "
        "not the load generator's."
    )
    return judged


def _values(engine: Engine, role: str, snapshots: Sequence[Snapshot]) -> list[float]:
    names = engine.gauges.get(role, ())
    combine = _GAUGE_COMBINE[role]
    out = []
    for snapshot in snapshots:
        name = next((n for n in names if snapshot.has(n)), None)
        if name is not None:
            out.append(combine(snapshot.samples[name].values()))
    return out


# ------------------------------------------------------------------ the client's side


def client_counters(modes: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """The client's counters over `modes` (summary.json mode blocks): the output tokens
    it received (of failed requests too), the input tokens the server reported, and the
    requests that succeeded (finished normally: stop, length or content filter)."""
    output = inputs = ok = 0
    for mode in modes:
        output += int(mode.get("output_tokens") or 0) + int(mode.get("partial_output_tokens") or 0)
        inputs += int(mode.get("input_tokens") or 0)
        outcomes = mode.get("outcomes") or {}
        ok += sum(int(n) for outcome, n in outcomes.items() if outcome in SUCCESS_OUTCOMES)
    return {"output_tokens": output, "input_tokens": inputs, "requests": ok}


def with_client(
    block: Mapping[str, Any],
    modes: Mapping[str, Mapping[str, Any]],
    *,
    counted: Iterable[Mapping[str, Any]] | None = None,
    schedule_lag_s: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`block` with the client's side added.

    `modes` are the target's own summary.json modes (for the client-minus-server figures);
    `counted` the mode blocks whose requests this server served (the target's own, plus
    those of the gateways in front of it), default `modes`; `schedule_lag_s` the run's
    open-loop schedule lag figures, if any.
    """
    out = dict(block)
    server_counters: Mapping[str, Any] = block.get("counters") or {}
    mine = client_counters(list(counted) if counted is not None else modes.values())
    out["client"] = {k: v for k, v in mine.items() if k in server_counters}
    warnings = []
    window = block.get("window") or {}
    for role, ours in out["client"].items():
        theirs = server_counters[role]
        if theirs != ours and window.get("covers_run"):
            warnings.append(_mismatch(role, theirs, ours))
    if server_counters and window and not window.get("covers_run"):
        warnings.append(
            "the server's counters cover only part of the run (a scrape before or after "
            "the load failed): they are not compared with ours"
        )
    split = client_minus_server(block.get("histograms") or {}, modes)
    if split:
        out["client_minus_server"] = split
    if schedule_lag_s:
        out["client_schedule_lag_s"] = dict(schedule_lag_s)
    if warnings:
        out["warnings"] = warnings
    return out


_WHAT = {
    "output_tokens": "output tokens",
    "input_tokens": "input tokens",
    "requests": "finished requests",
}


def _mismatch(role: str, theirs: float, ours: int) -> str:
    what = _WHAT[role]
    if theirs > ours:
        why = (
            "requests cut at the stop, tokens generated and never sent, or other clients"
            if role != "input_tokens"
            else "other clients, or a template the server counts and does not report"
        )
        return f"the server counted {theirs:g} {what}, we counted {ours} ({why})"
    why = "requests it never saw: a gateway or cache answered, or its counters restarted"
    return f"we counted {ours} {what}, the server {theirs:g} ({why})"


def client_minus_server(
    server_histograms: Mapping[str, Mapping[str, Any]], modes: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, float]]:
    """Per mode, the client's mean TTFT and E2E minus the server's: what the network, a
    gateway and the client's own queueing add. TTFT only for the modes whose client sees it
    (streaming). Means only: the server's are exact (sum over count), its percentiles are
    interpolated in buckets tens of milliseconds wide, and a difference of two percentiles
    would be mostly the buckets' width. A gateway's first *chunk* (LiteLLM's ``ttfc``) is
    not subtracted: it times its upstream's empty role chunk, which it does not forward, so
    no figure of ours measures the same instant."""
    out: dict[str, dict[str, float]] = {}
    for mode, block in modes.items():
        figures: dict[str, float] = {}
        for ours, theirs in (("ttft_s", "ttft"), ("e2e_s", "e2e")):
            client = block.get(ours) or {}
            server = server_histograms.get(theirs) or {}
            c, s = client.get("mean"), server.get("mean_s")
            if isinstance(c, int | float) and isinstance(s, int | float):
                figures[f"{theirs}_mean_s"] = c - s
        if figures:
            out[mode] = figures
    return out


def _number(value: float) -> int | float:
    """An integral float as an int (token and request counts read as counts)."""
    return int(value) if float(value).is_integer() else value

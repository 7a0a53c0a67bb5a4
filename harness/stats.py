"""Mergeable statistics of LLM requests: histograms, counters, summaries.

Locust rounds response times coarsely (to 10 ms above 100 ms, and so on), so the harness
keeps its own figures here and every sink reads them: summary.json, SLO gates, the web
UI's LLM tab and the Prometheus collector. `LatencyHistogram` is a log-bucketed
histogram of durations in seconds with a relative error of at most 0.1 %; `GroupStats`
holds the counters and histograms of one (mode, model); `RunStats` holds all groups of a
run, ships deltas from workers to the master in a msgpack-safe wire form and builds the
`"modes"` part of summary.json (docs/design.md defines every figure). `histogram_since`
subtracts two snapshots of a cumulative histogram, and `LagWindow` uses it for the load
generator's recent loop lag (`SATURATION_LAG_P99_S` is its limit). Pure module: standard
library only; it never reads a clock and never imports locust, gevent, httpx or
prometheus_client.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from math import ceil, inf, log, nextafter
from typing import TYPE_CHECKING, Any

from harness.errors import MODES, Mode, Outcome
from harness.load.confidence import ci95

if TYPE_CHECKING:
    from harness.record import RequestRecord

#: Growth factor between bucket edges. Bucket i holds values in (GAMMA**(i-1), GAMMA**i]
#: and reports 2·GAMMA**i / (1 + GAMMA), so every reported value is within
#: (GAMMA-1)/(GAMMA+1) ≈ 0.0999 % of a value in its bucket. About 1,150 buckets per
#: decade, kept sparse.
GAMMA = 1.002
#: The relative error bound of every percentile.
RELATIVE_ERROR = (GAMMA - 1) / (GAMMA + 1)
_INV_LOG_GAMMA = 1 / log(GAMMA)
_REP_FACTOR = 2 / (1 + GAMMA)
#: Version of the wire form exchanged between workers and the master (2: the tail_s
#: histogram, the reconnects, backoff_s and token_count_excess counters; 3: the open-loop
#: schedule_lag_s and from_schedule_* histograms; 4: the goodput_judged and goodput_met
#: counters; 5: each group's target).
WIRE_VERSION = 6

_PERCENTILES = (50, 90, 95, 99)


class LatencyHistogram:
    """A log-bucketed histogram of non-negative durations in seconds.

    Count, sum, min and max are exact; percentiles are within 0.1 % (`RELATIVE_ERROR`)
    of the nearest-rank value, rank = ceil(p/100 · count). Exact zeros have their own
    bucket. Two histograms merge by adding bucket counts, so worker histograms merged on
    the master equal one histogram fed everything (the sum up to floating-point
    rounding).

        >>> h = LatencyHistogram()
        >>> for v in (0.010, 0.020, 0.030):
        ...     h.record(v)
        >>> h.count, round(h.percentile(50), 4)
        (3, 0.02)
    """

    __slots__ = ("_buckets", "_count", "_max", "_min", "_sum", "_zeros")

    def __init__(self) -> None:
        self._buckets: defaultdict[int, int] = defaultdict(int)
        self._zeros = 0
        self._count = 0
        self._sum = 0.0
        self._min = inf
        self._max = -inf

    def record(self, value_s: float) -> None:
        """Add one duration (seconds, finite, ≥ 0); ValueError if negative or NaN."""
        # the hot path (per chunk): one log, one ceil, one dict update
        if value_s > 0.0:
            self._buckets[ceil(log(value_s) * _INV_LOG_GAMMA)] += 1
        elif value_s == 0.0:
            self._zeros += 1
        else:
            raise ValueError(f"duration must be >= 0, got {value_s!r}")
        self._count += 1
        self._sum += value_s
        if value_s < self._min:
            self._min = value_s
        if value_s > self._max:
            self._max = value_s

    def record_many(self, values_s: Iterable[float]) -> int:
        """Add every duration in `values_s` (as `record`, faster); return how many."""
        buckets = self._buckets
        n = zeros = 0
        total = 0.0
        lo, hi = self._min, self._max
        try:
            for v in values_s:
                if v > 0.0:
                    buckets[ceil(log(v) * _INV_LOG_GAMMA)] += 1
                elif v == 0.0:
                    zeros += 1
                else:
                    raise ValueError(f"duration must be >= 0, got {v!r}")
                n += 1
                total += v
                if v < lo:
                    lo = v
                if v > hi:
                    hi = v
        finally:  # keep count, sum and buckets consistent even if a value was refused
            self._zeros += zeros
            self._count += n
            self._sum += total
            self._min, self._max = lo, hi
        return n

    def merge(self, other: LatencyHistogram) -> None:
        """Add `other`'s data to this histogram."""
        buckets = self._buckets
        for index, n in other._buckets.items():
            buckets[index] += n
        self._zeros += other._zeros
        self._count += other._count
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    def copy(self) -> LatencyHistogram:
        """An independent histogram with the same data."""
        new = LatencyHistogram()
        new.merge(self)
        return new

    @property
    def count(self) -> int:
        """Number of recorded durations."""
        return self._count

    @property
    def sum(self) -> float:
        """Sum of recorded durations, seconds."""
        return self._sum

    @property
    def min(self) -> float | None:
        """Smallest recorded duration (exact), or None when empty."""
        return self._min if self._count else None

    @property
    def max(self) -> float | None:
        """Largest recorded duration (exact), or None when empty."""
        return self._max if self._count else None

    @property
    def mean(self) -> float | None:
        """Arithmetic mean (exact up to rounding), or None when empty."""
        return self._sum / self._count if self._count else None

    def percentile(self, p: float) -> float | None:
        """Nearest-rank p-th percentile (p in 0..100) within 0.1 %; None if empty."""
        return self.percentiles((p,))[0]

    def percentiles(self, ps: Iterable[float]) -> list[float | None]:
        """`percentile` for several p at once (one pass over the buckets)."""
        ps = list(ps)
        for p in ps:
            if not 0 <= p <= 100:
                raise ValueError(f"percentile must be in 0..100, got {p!r}")
        if self._count == 0:
            return [None] * len(ps)
        return list(self._at_percentiles(ps))

    def _at_percentiles(self, ps: Iterable[float]) -> list[float]:
        # requires count > 0
        n = self._count
        return self.at_ranks([max(1, ceil(p * n / 100)) for p in ps])

    def at_ranks(self, ranks: Iterable[int]) -> list[float]:
        """The r-th smallest value (r in 1..count) for each rank, in one pass over the
        buckets: rank 1 and rank count are the exact min and max, the rest the bucket's
        representative value (within 0.1 %) clamped into [min, max]."""
        ranks = list(ranks)
        n = self._count
        for r in ranks:
            if not 1 <= r <= n:
                raise ValueError(f"rank must be in 1..{n}, got {r!r}")
        wanted = sorted({r for r in ranks if 1 < r < n})
        found: dict[int, float] = {1: self._min, n: self._max}
        cumulative = self._zeros
        i = 0
        while i < len(wanted) and wanted[i] <= cumulative:
            found[wanted[i]] = 0.0
            i += 1
        if i < len(wanted):
            for index in sorted(self._buckets):
                cumulative += self._buckets[index]
                while i < len(wanted) and wanted[i] <= cumulative:
                    value = GAMMA**index * _REP_FACTOR
                    found[wanted[i]] = min(max(value, self._min), self._max)
                    i += 1
                if i == len(wanted):
                    break
        return [found[r] for r in ranks]

    def summary(self) -> dict[str, Any] | None:
        """{"count", "min", "mean", "p50", "p90", "p95", "p99", "max", "ci95"}; None if empty.

        "count" is an int; the rest are seconds; "ci95" holds the 95 % intervals of p50,
        p95 and p99 (harness.load.confidence).
        """
        if self._count == 0:
            return None
        p50, p90, p95, p99 = self._at_percentiles(_PERCENTILES)
        return {
            "count": self._count,
            "min": self._min,
            "mean": self._sum / self._count,
            "p50": p50,
            "p90": p90,
            "p95": p95,
            "p99": p99,
            "max": self._max,
            "ci95": ci95(self),
        }

    def count_le(self, bound_s: float) -> int:
        """Cumulative count of values ≤ `bound_s`, for Prometheus `le` buckets.

        Never undercounts. It may also count values in (bound_s, bound_s · GAMMA] that
        share the bound's bucket, i.e. values at most 0.2 % above the bound. It is exact
        when the bound is at or above `max`, below `min`, or a bucket's upper edge as
        given by `upper_edge()` (a float edge GAMMA**i itself may round into the next
        bucket).
        """
        return self.cumulative_counts((bound_s,))[0]

    @staticmethod
    def upper_edge(value_s: float) -> float:
        """The largest float in `value_s`'s bucket: a bound where `count_le` is exact.

        A sink free to choose its bucket bounds can snap them with this (it moves a
        bound up by less than 0.2 %). `value_s` must be > 0.
        """
        if not value_s > 0.0:
            raise ValueError(f"upper_edge needs a positive value, got {value_s!r}")
        index = ceil(log(value_s) * _INV_LOG_GAMMA)
        edge = GAMMA**index
        # GAMMA**index is the edge in exact arithmetic; in floats it can land a few ulps
        # into the next bucket, or short of the last float of this one
        while ceil(log(edge) * _INV_LOG_GAMMA) > index:
            edge = nextafter(edge, 0.0)
        while ceil(log(nextafter(edge, inf)) * _INV_LOG_GAMMA) == index:
            edge = nextafter(edge, inf)
        return edge

    def cumulative_counts(self, bounds_s: Iterable[float]) -> list[int]:
        """`count_le` for each bound, in one pass over the buckets (any order)."""
        bounds = list(bounds_s)
        order = sorted(range(len(bounds)), key=bounds.__getitem__)
        out = [0] * len(bounds)
        items = sorted(self._buckets.items())
        j = 0
        cumulative = self._zeros
        for k in order:
            bound = bounds[k]
            if self._count == 0 or bound < self._min:
                out[k] = 0
            elif bound >= self._max:
                out[k] = self._count
            elif bound <= 0.0:  # bound == min == 0
                out[k] = self._zeros
            else:
                last = ceil(log(bound) * _INV_LOG_GAMMA)
                while j < len(items) and items[j][0] <= last:
                    cumulative += items[j][1]
                    j += 1
                out[k] = cumulative
        return out

    def to_wire(self) -> dict[str, Any]:
        """A msgpack/JSON-safe dict: str keys; buckets as two parallel lists of ints."""
        indices = sorted(self._buckets)
        return {
            "count": self._count,
            "sum": self._sum,
            "min": self._min if self._count else None,
            "max": self._max if self._count else None,
            "zeros": self._zeros,
            "index": indices,
            "n": [self._buckets[i] for i in indices],
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> LatencyHistogram:
        """Rebuild a histogram from `to_wire()`'s output."""
        indices, counts = wire["index"], wire["n"]
        if len(indices) != len(counts):
            raise ValueError("histogram wire form: index and n differ in length")
        h = cls()
        h._buckets.update(zip(indices, counts, strict=True))
        h._zeros = wire["zeros"]
        h._count = wire["count"]
        h._sum = wire["sum"]
        if h._count:
            h._min, h._max = wire["min"], wire["max"]
        return h


def histogram_since(now: LatencyHistogram, then: LatencyHistogram) -> LatencyHistogram:
    """What was recorded into a cumulative histogram between snapshots `then` and `now`.

    Bucket counts subtract exactly; the window's min and max are not known exactly, so they
    are taken as the edges of its lowest and highest buckets (within 0.2 %), clamped to the
    run's exact min and max.
    """
    a, b = now.to_wire(), then.to_wire()
    before = dict(zip(b["index"], b["n"], strict=True))
    pairs = [(i, n - before.get(i, 0)) for i, n in zip(a["index"], a["n"], strict=True)]
    pairs = [(i, n) for i, n in pairs if n > 0]
    zeros = a["zeros"] - b["zeros"]
    count = zeros + sum(n for _, n in pairs)
    if count <= 0:
        return LatencyHistogram()
    low = 0.0 if zeros else max(GAMMA ** (pairs[0][0] - 1), a["min"])
    high = min(GAMMA ** pairs[-1][0], a["max"]) if pairs else 0.0
    return LatencyHistogram.from_wire(
        {
            "count": count,
            "sum": max(a["sum"] - b["sum"], 0.0),
            "min": low,
            "max": high,
            "zeros": zeros,
            "index": [i for i, _ in pairs],
            "n": [n for _, n in pairs],
        }
    )


# ------------------------------------------------------------------ the load generator's loop lag

#: a run whose loop lag p99 passes this is marked `client_saturated`: its latencies include
#: time the load generator itself made requests wait
SATURATION_LAG_P99_S = 0.020
#: the window of the "current" loop-lag p99 the web UI's tab shows, seconds
LAG_WINDOW_S = 10.0


class LagWindow:
    """The loop-lag histogram of roughly the last `window_s` seconds.

    The run keeps one cumulative loop-lag histogram (merged from the workers on the
    master). This keeps timed copies of it, taken when `recent()` is called, and subtracts
    the newest copy at least `window_s` old: the difference of two snapshots of a
    cumulative histogram is the histogram of what happened between them. `now` is any
    monotonic clock in seconds, given by the caller.
    """

    def __init__(self, window_s: float = LAG_WINDOW_S) -> None:
        self.window_s = window_s
        self._snapshots: deque[tuple[float, LatencyHistogram]] = deque()

    def recent(self, cumulative: LatencyHistogram, now: float) -> LatencyHistogram:
        """The histogram of the last ~`window_s` seconds (all of it while younger)."""
        snapshots = self._snapshots
        if snapshots and cumulative.count < snapshots[-1][1].count:
            snapshots.clear()  # a new run started with a fresh histogram
        baseline: LatencyHistogram | None = None
        for t, snapshot in snapshots:
            if t <= now - self.window_s:
                baseline = snapshot
            else:
                break
        # keep one snapshot older than the window (the next baseline) and the newer ones
        while len(snapshots) > 1 and snapshots[1][0] <= now - self.window_s:
            snapshots.popleft()
        if not snapshots or now - snapshots[-1][0] >= 1.0:
            snapshots.append((now, cumulative.copy()))
        return cumulative if baseline is None else histogram_since(cumulative, baseline)


#: The histograms of a group, in summary order.
HISTOGRAM_NAMES = (
    "ttft_s",
    "ttfc_s",
    "itl_s",
    "inter_chunk_s",
    "tpot_s",
    "e2e_s",
    "first_visible_s",
    "ttfb_s",
    "tail_s",
    "tool_call_s",
    "schedule_lag_s",
    "from_schedule_ttft_s",
    "from_schedule_e2e_s",
    "from_schedule_first_visible_s",
)
#: open loop: the figures timed from the schedule, under `from_schedule` in summary.json
FROM_SCHEDULE = {
    "from_schedule_ttft_s": "ttft_s",
    "from_schedule_e2e_s": "e2e_s",
    "from_schedule_first_visible_s": "first_visible_s",
}
_COUNTERS = (
    "requests",
    "attempts",
    "output_tokens",
    "input_tokens",
    "partial_output_tokens",
    "failed_after_first_token",
    "token_count_mismatch",
    "token_count_excess",
    "itl_basis_unknown",
    "reconnects",
    "backoff_s",
    "goodput_judged",
    "goodput_met",
    "tool_call_bytes",
    "tool_call_requests",
    "reasoning_tokens",
    "reasoning_requests",
    "reasoning_output_tokens",
)
_TALLIES = ("outcomes", "errors", "output_tokens_by_source", "anomalies")


class GroupStats:
    """Counters and latency histograms of the requests of one (mode, model).

    Every observed request counts in `requests` and `outcomes`, and every attempt sent for
    it (more than one only with opt-in retries) in `attempts`. A cancelled request (in
    flight when the run stopped) counts there only. Otherwise: `errors` by error class;
    `input_tokens` when the server reported them; for a failed request, its
    token-bearing chunks go to `partial_output_tokens` (and `failed_after_first_token`
    counts it if it got ≥ 1); for any other request, `output_tokens` (and
    `output_tokens_by_source`, "server" or "client"). `anomalies` and
    `token_count_mismatch` count what records reported; `token_count_excess` counts the
    mismatches where the server's usage was *more* than the token-bearing chunks that
    arrived (several tokens per chunk, or a gateway reporting tokens it never delivered).
    `reconnects` sums the requests' writes again on a fresh connection and `backoff_s`
    the seconds users waited before them, cancelled requests included (both happened).
    `goodput_judged` counts the requests that carried a goodput verdict (`met_goodput`,
    set when the run has goodput limits; the statistics never see the limits) and
    `goodput_met` those that met every limit. Of the requests not failed: `tool_call_requests`
    counts those that called a tool and `tool_call_bytes` sums their argument bytes;
    `reasoning_requests` counts those whose usage reported reasoning tokens,
    `reasoning_tokens` sums them and `reasoning_output_tokens` sums those requests' server
    output tokens (the denominator of `reasoning_share`).

    Histograms (seconds) take only timed requests (ok, ok_length, content_filtered) and
    only the figures a request has (`None` is not recorded): `ttft_s`, `ttfc_s`, `itl_s`
    (per-token samples, when tokens per chunk are known), `inter_chunk_s` (gaps between
    token-bearing events), `tpot_s`, `e2e_s`, `first_visible_s`, `ttfb_s`, `tail_s`
    (streams: last token-bearing event → end of stream, where a gateway's buffering or a
    late usage chunk shows) and `tool_call_s` (streams: the first tool-call delta).
    `itl_basis_unknown` counts timed requests with inter-chunk gaps but no per-token
    samples: their ITL could only be measured per chunk.
    """

    __slots__ = (*_COUNTERS, *_TALLIES, *HISTOGRAM_NAMES, "mode", "model", "target")

    def __init__(self, mode: str, model: str, target: str = "") -> None:
        self.mode = mode
        self.model = model
        #: the target's name (`targets:`); "" when the run has one target
        self.target = target
        self.requests = 0
        self.attempts = 0
        self.output_tokens = 0
        self.input_tokens = 0
        self.partial_output_tokens = 0
        self.failed_after_first_token = 0
        self.token_count_mismatch = 0
        self.token_count_excess = 0
        self.itl_basis_unknown = 0
        self.reconnects = 0
        self.backoff_s = 0.0
        self.goodput_judged = 0
        self.goodput_met = 0
        self.tool_call_bytes = 0
        self.tool_call_requests = 0
        self.reasoning_tokens = 0
        self.reasoning_requests = 0
        self.reasoning_output_tokens = 0
        self.outcomes: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.output_tokens_by_source: dict[str, int] = {"server": 0, "client": 0}
        self.anomalies: dict[str, int] = {}
        self.ttft_s = LatencyHistogram()
        self.ttfc_s = LatencyHistogram()
        self.itl_s = LatencyHistogram()
        self.inter_chunk_s = LatencyHistogram()
        self.tpot_s = LatencyHistogram()
        self.e2e_s = LatencyHistogram()
        self.first_visible_s = LatencyHistogram()
        self.ttfb_s = LatencyHistogram()
        self.tail_s = LatencyHistogram()
        self.tool_call_s = LatencyHistogram()
        self.schedule_lag_s = LatencyHistogram()
        self.from_schedule_ttft_s = LatencyHistogram()
        self.from_schedule_e2e_s = LatencyHistogram()
        self.from_schedule_first_visible_s = LatencyHistogram()

    def histograms(self) -> dict[str, LatencyHistogram]:
        """The histograms by figure name (`HISTOGRAM_NAMES` order)."""
        return {
            "ttft_s": self.ttft_s,
            "ttfc_s": self.ttfc_s,
            "itl_s": self.itl_s,
            "inter_chunk_s": self.inter_chunk_s,
            "tpot_s": self.tpot_s,
            "e2e_s": self.e2e_s,
            "first_visible_s": self.first_visible_s,
            "ttfb_s": self.ttfb_s,
            "tail_s": self.tail_s,
            "tool_call_s": self.tool_call_s,
            "schedule_lag_s": self.schedule_lag_s,
            "from_schedule_ttft_s": self.from_schedule_ttft_s,
            "from_schedule_e2e_s": self.from_schedule_e2e_s,
            "from_schedule_first_visible_s": self.from_schedule_first_visible_s,
        }

    def observe(self, record: RequestRecord) -> None:
        """Count one finished request and, if it is timed, record its latencies."""
        self.requests += 1
        self.attempts += record.attempts
        outcome = record.outcome
        key = "unknown" if outcome is None else str(outcome)
        self.outcomes[key] = self.outcomes.get(key, 0) + 1
        self.reconnects += record.reconnects
        self.backoff_s += record.backoff_s
        met_goodput = record.met_goodput
        if met_goodput is not None:  # the run has goodput limits (harness.load.goodput)
            self.goodput_judged += 1
            self.goodput_met += met_goodput
        t_sched = record.t_sched
        if t_sched is not None:
            # open loop: sent late by this much (client-side queueing), cancelled ones too
            self.schedule_lag_s.record(max(record.t0 - t_sched, 0.0))
        if outcome is Outcome.CANCELLED:
            return
        if record.error_class is not None:
            error = str(record.error_class)
            self.errors[error] = self.errors.get(error, 0) + 1
        if outcome is Outcome.FAILED:
            partial = record.chunk_count
            if partial:
                self.partial_output_tokens += partial
                self.failed_after_first_token += 1
        else:
            tokens = record.output_tokens
            self.output_tokens += tokens
            by_source = self.output_tokens_by_source
            source = record.output_tokens_source
            by_source[source] = by_source.get(source, 0) + tokens
            if record.tool_call_bytes or record.t_first_tool_call is not None:
                self.tool_call_requests += 1
                self.tool_call_bytes += record.tool_call_bytes
            reasoning = record.reasoning_tokens
            server = record.server_output_tokens
            if reasoning is not None and server is not None and server > 0:
                self.reasoning_requests += 1
                self.reasoning_tokens += reasoning
                self.reasoning_output_tokens += server
        if record.input_tokens is not None:
            self.input_tokens += record.input_tokens
        if record.token_count_mismatch:
            self.token_count_mismatch += 1
            server = record.server_output_tokens
            if server is not None and server > record.chunk_count:
                self.token_count_excess += 1
        if record.anomalies:
            anomalies = self.anomalies
            for kind, n in record.anomalies.items():
                anomalies[kind] = anomalies.get(kind, 0) + n
        if not record.timed:
            return
        for histogram, value in (
            (self.ttft_s, record.ttft_s),
            (self.ttfc_s, record.ttfc_s),
            (self.tpot_s, record.tpot_s),
            (self.e2e_s, record.e2e_s),
            (self.first_visible_s, record.first_visible_s),
            (self.ttfb_s, record.ttfb_s),
            (self.tool_call_s, record.tool_call_s),
        ):
            if value is not None:
                histogram.record(value)
        if t_sched is not None:
            lag = max(record.t0 - t_sched, 0.0)
            for histogram, value in (
                (self.from_schedule_ttft_s, record.ttft_s),
                (self.from_schedule_e2e_s, record.e2e_s),
                (self.from_schedule_first_visible_s, record.first_visible_s),
            ):
                if value is not None:
                    histogram.record(value + lag)
        if record.mode is Mode.STREAM:
            t_last, t_end = record.t_last_token, record.t_end
            if t_last is not None and t_end is not None:
                self.tail_s.record(max(t_end - t_last, 0.0))
        gaps = self.inter_chunk_s.record_many(record.inter_chunk_gaps())
        # itl_samples() yields nothing exactly when tokens per chunk are unknown
        if self.itl_s.record_many(record.itl_samples()) == 0 and gaps:
            self.itl_basis_unknown += 1

    def merge(self, other: GroupStats) -> None:
        """Add `other`'s counts and histograms to this group's."""
        for name in _COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in _TALLIES:
            _add_tally(getattr(self, name), getattr(other, name))
        for mine, theirs in zip(
            self.histograms().values(), other.histograms().values(), strict=True
        ):
            mine.merge(theirs)

    def copy(self) -> GroupStats:
        """An independent group with the same data."""
        new = GroupStats(self.mode, self.model, self.target)
        new.merge(self)
        return new

    def to_wire(self) -> dict[str, Any]:
        """A msgpack/JSON-safe dict; empty histograms are left out."""
        wire: dict[str, Any] = {"mode": self.mode, "model": self.model, "target": self.target}
        for name in _COUNTERS:
            wire[name] = getattr(self, name)
        for name in _TALLIES:
            wire[name] = dict(getattr(self, name))
        wire["histograms"] = {name: h.to_wire() for name, h in self.histograms().items() if h.count}
        return wire

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> GroupStats:
        """Rebuild a group from `to_wire()`'s output."""
        group = cls(wire["mode"], wire["model"], str(wire.get("target", "")))
        for name in _COUNTERS:
            setattr(group, name, wire[name])
        for name in _TALLIES:
            _add_tally(getattr(group, name), wire[name])
        mine = group.histograms()
        for name, h in wire["histograms"].items():
            mine[name].merge(LatencyHistogram.from_wire(h))
        return group

    def summary(self, duration_s: float) -> dict[str, Any]:
        """This group's figures in summary.json form (see `RunStats.summary`)."""
        out: dict[str, Any] = {
            "requests": self.requests,
            "attempts": self.attempts,
            "outcomes": dict(self.outcomes),
            "errors": dict(self.errors),
        }
        from_schedule: dict[str, Any] = {}
        for name, histogram in self.histograms().items():
            figures = histogram.summary()
            if figures is None:
                continue
            if name in FROM_SCHEDULE:
                from_schedule[FROM_SCHEDULE[name]] = figures
            else:
                out[name] = figures
        if from_schedule:
            out["from_schedule"] = from_schedule
        out["output_tokens"] = self.output_tokens
        out["output_tokens_by_source"] = dict(self.output_tokens_by_source)
        out["input_tokens"] = self.input_tokens
        out["partial_output_tokens"] = self.partial_output_tokens
        out["failed_after_first_token"] = self.failed_after_first_token
        out["token_count_mismatch"] = self.token_count_mismatch
        out["token_count_excess"] = self.token_count_excess
        out["reconnects"] = self.reconnects
        out["backoff_s"] = self.backoff_s
        if self.tool_call_requests:
            out["tool_call_bytes"] = self.tool_call_bytes
        # a usage that reports 0 reasoning tokens (the Responses API always says) is no
        # reasoning: the figures are absent, never 0
        if self.reasoning_requests and self.reasoning_tokens:
            out["reasoning_tokens"] = self.reasoning_tokens
            out["reasoning_share"] = self.reasoning_tokens / self.reasoning_output_tokens
        if duration_s > 0:
            completed = self.requests - self.outcomes.get(Outcome.CANCELLED, 0)
            out["requests_per_s"] = completed / duration_s
            out["output_tokens_per_s"] = self.output_tokens / duration_s
        if self.itl_basis_unknown or (self.inter_chunk_s.count and not self.itl_s.count):
            out["itl_basis"] = "inter_chunk"
        elif self.itl_s.count:
            out["itl_basis"] = "per_token"
        out["anomalies"] = dict(self.anomalies)
        if self.goodput_judged:
            out["goodput"] = self._goodput(duration_s)
        return out

    def _goodput(self, duration_s: float) -> dict[str, Any]:
        """The `goodput` block: requests that met every limit, per second, and their share
        of the finished (not cancelled) requests; the limits are added by the reports."""
        block: dict[str, Any] = {"met": self.goodput_met}
        if duration_s > 0:
            block["goodput_per_s"] = self.goodput_met / duration_s
        finished = self.requests - self.outcomes.get(Outcome.CANCELLED, 0)
        if finished > 0:
            block["slo_attainment"] = self.goodput_met / finished
        return block


def _add_tally(into: dict[str, int], other: dict[str, int]) -> None:
    for key, n in other.items():
        into[key] = into.get(key, 0) + n


GroupKey = tuple[str, str, str]
"""(mode, model, target)"""


class RunStats:
    """All groups of a run, keyed by (mode, model, target), and the worker → master exchange.

    Locally, `observe()` every record and read `summary()` / `groups()`. On a worker,
    call `take_delta()` every report (Locust's `report_to_master`) and ship its result;
    on the master, `merge_wire()` each one (`worker_report`). Deltas are disjoint, so
    the master ends with exactly the union of everything observed on the workers. The
    wire form is ``{"v": WIRE_VERSION, "groups": [GroupStats.to_wire(), ...]}``.
    """

    __slots__ = ("_pending", "_totals")

    def __init__(self) -> None:
        # observations since the last take_delta, and everything before it
        self._pending: dict[GroupKey, GroupStats] = {}
        self._totals: dict[GroupKey, GroupStats] = {}

    def observe(self, record: RequestRecord) -> None:
        """Count one finished request in its (mode, model, target) group."""
        key = (str(record.mode), record.model, record.target)
        group = self._pending.get(key)
        if group is None:
            group = self._pending[key] = GroupStats(*key)
        group.observe(record)

    def take_delta(self) -> dict[str, Any]:
        """The wire form of everything observed since the last call, then reset."""
        pending, self._pending = self._pending, {}
        wire = _wire(pending)
        _merge_groups(self._totals, pending.values(), copy=False)
        return wire

    def merge_wire(self, wire: dict[str, Any]) -> None:
        """Add a `take_delta()` or `to_wire()` result (e.g. from a worker)."""
        if wire.get("v") != WIRE_VERSION:
            raise ValueError(f"stats wire version {wire.get('v')!r} != {WIRE_VERSION}")
        groups = (GroupStats.from_wire(g) for g in wire["groups"])
        _merge_groups(self._totals, groups, copy=False)

    def to_wire(self) -> dict[str, Any]:
        """The wire form of everything (does not reset the delta)."""
        return _wire(self._view())

    def reset(self) -> None:
        """Forget everything (Locust's "reset stats")."""
        self._pending = {}
        self._totals = {}

    def groups(self) -> Iterator[GroupStats]:
        """Every group with all data so far. Read-only: do not mutate them."""
        return iter(self._view().values())

    def _view(self) -> dict[GroupKey, GroupStats]:
        if not self._pending:
            return self._totals
        if not self._totals:
            return self._pending
        view = {key: group.copy() for key, group in self._totals.items()}
        _merge_groups(view, self._pending.values(), copy=True)
        return view

    def target_names(self) -> list[str]:
        """The targets that requests were counted for, sorted ("" for a one-target run)."""
        return sorted({group.target for group in self._view().values()})

    def summary(self, duration_s: float, *, target: str | None = None) -> dict[str, Any]:
        """The `"modes"` part of summary.json, over `duration_s` seconds: of the requests
        sent to `target` (a name of `targets:`), or of every request when None.

        Keyed by mode ("stream" first, then "batch"), each aggregated over models with:
        requests, outcomes, errors; the histograms' summaries (ttft_s, ttfc_s, itl_s,
        inter_chunk_s, tpot_s, e2e_s, first_visible_s, ttfb_s, tail_s, tool_call_s), each
        absent when it has no data; output_tokens, output_tokens_by_source, input_tokens,
        partial_output_tokens, failed_after_first_token, token_count_mismatch,
        token_count_excess, reconnects, backoff_s (seconds); tool_call_bytes (argument bytes
        of the requests that called a tool, absent when none did); reasoning_tokens and
        reasoning_share (= reasoning tokens / output tokens over the requests whose usage
        reported both; absent when none did); requests_per_s (requests
        that completed, i.e. not cancelled) and output_tokens_per_s, both absent unless
        duration_s > 0; itl_basis; anomalies; "goodput" (only when its requests were
        judged against goodput limits: "met", "goodput_per_s" = met / duration_s,
        "slo_attainment" = met / requests not cancelled); and, when the mode saw more than
        one model, "models": the same figures per model.

        itl_basis is "per_token" when every timed request with inter-chunk gaps also
        gave per-token samples; it is "inter_chunk" when any did not (then itl_s covers
        only the requests whose tokens per chunk were known, and inter_chunk_s covers
        them all); it is absent when there is no ITL at all (batch).
        """
        by_mode: dict[str, list[GroupStats]] = {}
        for group in self._view().values():
            if target is None or group.target == target:
                by_mode.setdefault(group.mode, []).append(group)
        order = [m for m in MODES if m in by_mode]
        order += sorted(m for m in by_mode if m not in order)
        modes: dict[str, Any] = {}
        for mode in order:
            groups = sorted(by_mode[mode], key=lambda g: g.model)
            if len(groups) == 1:
                modes[mode] = groups[0].summary(duration_s)
                continue
            total = groups[0].copy()
            for group in groups[1:]:
                total.merge(group)
            entry = total.summary(duration_s)
            entry["models"] = {g.model: g.summary(duration_s) for g in groups}
            modes[mode] = entry
        return modes


def _wire(groups: dict[GroupKey, GroupStats]) -> dict[str, Any]:
    return {"v": WIRE_VERSION, "groups": [g.to_wire() for g in groups.values()]}


def _merge_groups(
    into: dict[GroupKey, GroupStats], groups: Iterable[GroupStats], *, copy: bool
) -> None:
    for group in groups:
        key = (group.mode, group.model, group.target)
        mine = into.get(key)
        if mine is None:
            into[key] = group.copy() if copy else group
        else:
            mine.merge(group)

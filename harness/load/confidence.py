"""95 % confidence intervals of a histogram's p50, p95 and p99, so two runs can be compared.

A percentile of n requests is itself a measurement: run the same load again and p99 moves.
The interval here is the distribution-free one built from order statistics. With B the number
of the n samples at or below the true q-quantile, B ~ Binomial(n, q) whatever the latency
distribution, so the interval [X_(l), X_(u)] between the l-th and u-th smallest samples holds
the true quantile with probability P(l ≤ B < u) ≥ 95 %:

- l = 1 + the largest k with P(B ≤ k) ≤ 2.5 % (l = 0: no sample is low enough, open below);
- u = 1 + the smallest k with P(B ≤ k) ≥ 97.5 % (u = n + 1: open above).

This is what a percentile bootstrap of the sample percentile approximates (resampling puts
Binomial(n, j/n) samples at or below the j-th smallest), computed exactly, with no random
numbers, in one pass over the histogram's buckets. The binomial is summed exactly (in a window
of ±15 standard deviations around its mean, where all but < 1e-40 of its mass lies) while its
variance n·q·(1−q) is under `EXACT_MAX_VARIANCE` (400, a standard deviation of 20 ranks:
p50 up to n = 1,600, p99 up to n ≈ 40,400); above, by the normal approximation with continuity
correction, whose ranks there are within one of the exact ones.

An interval needs enough requests: p99 is open above until n ≥ 368 (p95: 72, p50: 6), and its
upper bound is then None ("unbounded above"), never a made-up number. p50 below n = 6 and p95
at n = 1 are open below the same way. Bounds are the histogram's values at those ranks, within
its 0.1 % (`harness.stats.RELATIVE_ERROR`).

Pure: standard library only, deterministic, never reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from math import ceil, exp, floor, lgamma, log, sqrt
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from harness.stats import LatencyHistogram

#: the two-sided confidence of every interval
CONFIDENCE = 0.95
#: the percentiles that get an interval, as summary.json names them
INTERVAL_PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}
#: exact binomial sums while n·q·(1−q) is below this; the normal approximation from it
EXACT_MAX_VARIANCE = 400.0
#: the half-width of the exact sum's window, in standard deviations (plus `_WINDOW_PAD`)
_WINDOW_SD = 15.0
_WINDOW_PAD = 10

_TAIL = (1.0 - CONFIDENCE) / 2.0
_Z = NormalDist().inv_cdf(1.0 - _TAIL)

Interval = list[float | None]
"""[lo, hi] in seconds; None is an open end (lo: unbounded below, hi: unbounded above)."""


class Ranks(NamedTuple):
    """The order statistics bounding a percentile: 1-based ranks among n samples.

    `lower` is 0 when the interval is open below and `upper` is n + 1 when it is open above.
    """

    lower: int
    upper: int


def order_statistic_ranks(n: int, p: float) -> Ranks:
    """The ranks (l, u) of the 95 % interval of the p-th percentile (0 < p < 100) of n ≥ 1
    samples: exact binomial sums for small n·q·(1−q), the normal approximation above."""
    if n < 1:
        raise ValueError(f"an interval needs at least one sample, got n={n!r}")
    if not 0.0 < p < 100.0:
        raise ValueError(f"percentile must be strictly between 0 and 100, got {p!r}")
    q = p / 100.0
    if n * q * (1.0 - q) < EXACT_MAX_VARIANCE:
        return exact_ranks(n, q)
    return normal_ranks(n, q)


def exact_ranks(n: int, q: float) -> Ranks:
    """`order_statistic_ranks` from the Binomial(n, q) CDF summed term by term.

    The terms are summed from the mean − 15 standard deviations (and 10 more ranks), below
    which the binomial has less than 1e-40 of its mass, so the result is the exact one.
    """
    mean, sd = n * q, sqrt(n * q * (1.0 - q))
    start = max(0, floor(mean - _WINDOW_SD * sd) - _WINDOW_PAD)
    log_ratio = log(q) - log(1.0 - q)
    term = exp(
        lgamma(n + 1)
        - lgamma(start + 1)
        - lgamma(n - start + 1)
        + start * log(q)
        + (n - start) * log(1.0 - q)
    )
    ratio = exp(log_ratio)
    lower = 0 if start == 0 else start  # P(B ≤ start − 1) is negligible: l ≥ start
    upper = n + 1
    cdf = 0.0
    for k in range(start, n + 1):
        cdf += term  # cdf = P(B ≤ k)
        if cdf <= _TAIL:
            lower = k + 1
        if cdf >= 1.0 - _TAIL:
            upper = k + 1
            break
        term *= (n - k) / (k + 1) * ratio
    return Ranks(lower, upper)


def normal_ranks(n: int, q: float) -> Ranks:
    """`order_statistic_ranks` from the normal approximation of Binomial(n, q), with
    continuity correction: P(B ≤ k) ≈ Φ((k + ½ − nq) / σ), σ = √(nq(1−q))."""
    mean, sd = n * q, sqrt(n * q * (1.0 - q))
    lower = 1 + floor(mean - 0.5 - _Z * sd)
    upper = 1 + ceil(mean - 0.5 + _Z * sd)
    return Ranks(min(max(lower, 0), n), min(max(upper, 1), n + 1))


def percentile_interval(histogram: LatencyHistogram, p: float) -> Interval | None:
    """The 95 % interval [lo, hi] of `histogram`'s p-th percentile; None when it is empty."""
    intervals = _intervals(histogram, (p,))
    return None if intervals is None else intervals[0]


def ci95(histogram: LatencyHistogram) -> dict[str, Interval] | None:
    """summary.json's ``"ci95"``: {"p50": [lo, hi], "p95": [lo, hi], "p99": [lo, hi]} in
    seconds, an open end None; None when the histogram is empty."""
    intervals = _intervals(histogram, INTERVAL_PERCENTILES.values())
    if intervals is None:
        return None
    return dict(zip(INTERVAL_PERCENTILES, intervals, strict=True))


def _intervals(histogram: LatencyHistogram, ps: Iterable[float]) -> list[Interval] | None:
    n = histogram.count
    if n == 0:
        return None
    all_ranks = [order_statistic_ranks(n, p) for p in ps]
    inside = sorted({r for ranks in all_ranks for r in ranks if 1 <= r <= n})
    values = dict(zip(inside, histogram.at_ranks(inside), strict=True))
    return [[values.get(ranks.lower), values.get(ranks.upper)] for ranks in all_ranks]


def intervals_overlap(a: Sequence[float | None], b: Sequence[float | None]) -> bool:
    """Whether two intervals [lo, hi] share a point; an open end (None) reaches for ever."""
    a_lo, a_hi = a
    b_lo, b_hi = b
    below = a_hi is not None and b_lo is not None and a_hi < b_lo
    above = b_hi is not None and a_lo is not None and b_hi < a_lo
    return not (below or above)


def percentiles_differ(a: Mapping[str, Any], b: Mapping[str, Any], key: str) -> bool | None:
    """Whether percentile `key` ("p50", "p95" or "p99") of two latency blocks of summary.json
    differs: True only when their 95 % intervals do not overlap. None when either block has no
    interval for it (a summary written before intervals existed)."""
    a_interval, b_interval = interval_of(a, key), interval_of(b, key)
    if a_interval is None or b_interval is None:
        return None
    return not intervals_overlap(a_interval, b_interval)


def interval_of(block: Any, key: str) -> Interval | None:
    """`block["ci95"][key]` as [lo, hi] when it is well formed (two numbers or None), else
    None: blocks of older summaries have no "ci95"."""
    if not isinstance(block, Mapping):
        return None
    intervals = block.get("ci95")
    if not isinstance(intervals, Mapping):
        return None
    pair = intervals.get(key)
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        return None
    out: Interval = []
    for end in pair:
        if end is None:
            out.append(None)
        elif isinstance(end, int | float) and not isinstance(end, bool):
            out.append(float(end))
        else:
            return None
    return out

"""Bootstrap intervals of a percentile's change between two runs, from their request records.

Each run is resampled on its own (its requests drawn with replacement, as many as it had),
the percentile taken in each resample, and the change's 95 % interval is the 2.5th to 97.5th
percentile of the `RESAMPLES` differences NEW − BASE (the percentile bootstrap). Percentiles
are nearest-rank, as everywhere in locust-llm (harness.stats): the r-th smallest value with
r = ⌈p·n/100⌉.

- **One value per request** (TTFT, TPOT, E2E, first visible output): the resample's percentile
  is drawn directly, without building the resample. The r-th smallest of n values drawn with
  replacement from sorted x₁ ≤ … ≤ xₙ is x_⌈n·U⌉, where U, the r-th smallest of n uniforms,
  is Beta(r, n − r + 1). One beta variate per resample gives exactly the bootstrap
  distribution, in microseconds for any n (`percentile_draws`).
- **Many values per request** (ITL: one per token, `ClusteredSample`): tokens of one request
  are not independent, so the unit resampled is the request and each resample pools the
  values of the requests it drew. A resample's percentile is found among candidate values,
  the pooled values at 64 ranks spread over ±4.5 standard errors of the pooled CDF around the
  percentile (Woodruff's cluster-robust standard error; a percentile beyond the window is
  counted at its edge, which moves no end of the interval): each request's counts at or
  below every candidate are packed into one integer, so a resample's counts are one sum of
  integers.

The random numbers come from `random.Random` seeded with a text naming the figure, so the same
two runs give the same intervals every time. A bootstrap can only see the requests it has:
`bounded()` says which ends of a percentile's interval too few requests leave open (the
distribution-free rule of harness.load.confidence), and those ends are reported open, never
as the bootstrap's guess. Pure: standard library and the core only.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import chain
from math import ceil, floor, sqrt
from random import Random

from harness.compare.intervals import CONFIDENCE
from harness.load.confidence import order_statistic_ranks

#: resamples per figure
RESAMPLES = 1000
#: the text every figure's seed starts with
SEED = "locust-llm compare v1"
#: candidate values per percentile in a clustered resample, and their window in standard
#: errors of the pooled CDF on each side of the percentile
CANDIDATES = 64
WINDOW_SE = 4.5


def seeded(key: str) -> Random:
    """The random numbers of the figure named `key` (e.g. ``fast/stream/ttft_s/base``)."""
    return Random(f"{SEED}:{key}")


def percentile_rank(n: int, p: float) -> int:
    """The nearest rank of the p-th percentile among n ≥ 1 values: max(1, ⌈p·n/100⌉)."""
    return max(1, ceil(p * n / 100))


def percentile_of_sorted(values: Sequence[float], p: float) -> float:
    """The nearest-rank p-th percentile of `values`, sorted ascending and not empty."""
    return values[percentile_rank(len(values), p) - 1]


def bounded(n: float, p: float) -> tuple[bool, bool]:
    """(lower end bounded, upper end bounded) of the p-th percentile's 95 % interval from n
    independent values (harness.load.confidence); (False, False) when n < 1."""
    count = round(n)
    if count < 1:
        return False, False
    ranks = order_statistic_ranks(count, p)
    return ranks.lower >= 1, ranks.upper <= count


def percentile_draws(
    values: Sequence[float], p: float, rng: Random, resamples: int = RESAMPLES
) -> list[float]:
    """The p-th percentile of each of `resamples` bootstrap resamples of `values` (sorted
    ascending, not empty), drawn exactly from its beta distribution (module docstring)."""
    n = len(values)
    if n == 0:
        raise ValueError("a bootstrap needs at least one value")
    r = percentile_rank(n, p)
    beta = rng.betavariate
    last = n - 1
    return [values[min(last, int(n * beta(r, n - r + 1)))] for _ in range(resamples)]


def difference_interval(
    base_draws: Sequence[float], new_draws: Sequence[float]
) -> tuple[float, float]:
    """The percentile-bootstrap 95 % interval of NEW − BASE from paired draws."""
    differences = sorted(new - base for base, new in zip(base_draws, new_draws, strict=True))
    if not differences:
        raise ValueError("no draws")
    k = int(len(differences) * (1.0 - CONFIDENCE) / 2.0)
    return differences[k], differences[len(differences) - 1 - k]


class ClusteredSample:
    """Values grouped by the request that gave them (ITL: one per token), for a bootstrap
    whose unit is the request. Requests without values are left out."""

    __slots__ = ("groups", "pooled")

    def __init__(self, groups: Iterable[Iterable[float]]) -> None:
        self.groups: list[list[float]] = [g for g in (sorted(group) for group in groups) if g]
        #: every value, sorted
        self.pooled: list[float] = sorted(chain.from_iterable(self.groups))

    @property
    def requests(self) -> int:
        """Requests that gave at least one value."""
        return len(self.groups)

    @property
    def samples(self) -> int:
        """Values pooled over the requests."""
        return len(self.pooled)

    def percentile(self, p: float) -> float:
        """The nearest-rank p-th percentile of the pooled values (not empty)."""
        return percentile_of_sorted(self.pooled, p)

    def cdf_standard_error(self, threshold: float) -> float:
        """The cluster-robust standard error of the pooled share of values ≤ `threshold`
        (the ratio Σcᵢ / Σmᵢ over requests, cᵢ of request i's mᵢ values at or below it);
        0 for fewer than two requests."""
        n, total = self.requests, self.samples
        if n < 2:
            return 0.0
        counts = [bisect_right(group, threshold) for group in self.groups]
        share = sum(counts) / total
        spread = sum((c - share * len(g)) ** 2 for c, g in zip(counts, self.groups, strict=True))
        return sqrt(n / (n - 1) * spread) / total

    def effective_size(self, p: float) -> float:
        """How many independent values the pooled p-th percentile is worth (Kish's effective
        sample size): q(1 − q) / SE², q = p/100 and SE the cluster-robust standard error of
        the CDF at the percentile; at most the pooled count, and it when SE is 0."""
        if self.samples == 0:
            return 0.0
        se = self.cdf_standard_error(self.percentile(p))
        q = p / 100.0
        if se <= 0.0:
            return float(self.samples)
        return min(float(self.samples), q * (1.0 - q) / (se * se))

    def candidates(self, p: float) -> list[float]:
        """The values a resample's p-th percentile is looked for among (module docstring)."""
        total = self.samples
        estimate = self.percentile(p)
        half = WINDOW_SE * self.cdf_standard_error(estimate) + 2.0 / total
        q = p / 100.0
        low = max(1, floor(max(q - half, 0.0) * total))
        high = min(total, ceil(min(q + half, 1.0) * total))
        step = (high - low) / (CANDIDATES - 1)
        ranks = {low + round(i * step) for i in range(CANDIDATES)}
        return sorted({self.pooled[r - 1] for r in ranks} | {estimate})

    def draws(
        self, ps: Sequence[float], rng: Random, resamples: int = RESAMPLES
    ) -> list[list[float]]:
        """For each of `ps`, the pooled percentile of `resamples` resamples of the requests."""
        n = self.requests
        if n == 0:
            raise ValueError("a bootstrap needs at least one request with values")
        if n == 1:  # every resample is the one request
            return [[self.percentile(p)] * resamples for p in ps]
        windows = [self.candidates(p) for p in ps]
        width = (n * max(len(g) for g in self.groups)).bit_length() + 1
        mask = (1 << width) - 1
        packed = []
        for group in self.groups:
            word, shift = len(group), width
            for candidates in windows:
                for value in candidates:
                    word |= bisect_right(group, value) << shift
                    shift += width
            packed.append(word)
        offsets, offset = [], 1
        for candidates in windows:
            offsets.append(offset)
            offset += len(candidates)
        out: list[list[float]] = [[] for _ in ps]
        choices = rng.choices
        for _ in range(resamples):
            total = sum(choices(packed, k=n))
            count = total & mask
            for p, candidates, first, into in zip(ps, windows, offsets, out, strict=True):
                rank = percentile_rank(count, p)
                lo, hi = 0, len(candidates) - 1
                while lo < hi:
                    mid = (lo + hi) // 2
                    if (total >> (width * (first + mid))) & mask >= rank:
                        hi = mid
                    else:
                        lo = mid + 1
                into.append(candidates[lo])
        return out

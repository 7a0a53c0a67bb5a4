"""Unit tests of harness.load.confidence: the 95 % intervals of p50, p95 and p99.

The ranks are checked against the binomial computed here independently, in exact integer
arithmetic; the values against a real percentile bootstrap and against the true quantiles of a
known distribution.
"""

from __future__ import annotations

import bisect
import math
import random
from functools import cache

import pytest

from harness.load.confidence import (
    EXACT_MAX_VARIANCE,
    Ranks,
    ci95,
    exact_ranks,
    intervals_overlap,
    normal_ranks,
    order_statistic_ranks,
    percentile_interval,
    percentiles_differ,
)
from harness.stats import RELATIVE_ERROR, LatencyHistogram

# ---------------------------------------------------------------- helpers


def histogram_of(values: list[float]) -> LatencyHistogram:
    h = LatencyHistogram()
    h.record_many(values)
    return h


@cache
def binomial_cdf(n: int, percent: int) -> tuple[tuple[int, ...], int]:
    """P(B ≤ k) · 100**n for k = 0..n, B ~ Binomial(n, percent/100), in exact integers;
    and the denominator 100**n."""
    acc, out = 0, []
    for k in range(n + 1):
        acc += math.comb(n, k) * percent**k * (100 - percent) ** (n - k)
        out.append(acc)
    return tuple(out), 100**n


def cdf_at(n: int, percent: int, k: int) -> int:
    """P(B ≤ k) · 100**n, for any integer k."""
    cdf, denominator = binomial_cdf(n, percent)
    return 0 if k < 0 else denominator if k >= n else cdf[k]


def coverage(n: int, percent: int, ranks: Ranks) -> float:
    """P(X_(l) ≤ true quantile ≤ X_(u)) = P(l ≤ B ≤ u − 1), exactly."""
    _, denominator = binomial_cdf(n, percent)
    covered = cdf_at(n, percent, ranks.upper - 1) - cdf_at(n, percent, ranks.lower - 1)
    return covered / denominator


def optimal_ranks(n: int, percent: int) -> Ranks:
    """The tightest equal-tailed ranks, by search over the exact CDF."""
    _, d = binomial_cdf(n, percent)
    lower = 1 + max(k for k in range(-1, n + 1) if 40 * cdf_at(n, percent, k) <= d)
    upper = 1 + min(k for k in range(-1, n + 1) if 40 * cdf_at(n, percent, k) >= 39 * d)
    return Ranks(lower, upper)


# ---------------------------------------------------------------- ranks


def test_median_of_100_is_between_the_40th_and_61st() -> None:
    assert order_statistic_ranks(100, 50) == Ranks(40, 61)


def test_p95_of_100_is_between_the_90th_and_the_largest() -> None:
    assert order_statistic_ranks(100, 95) == Ranks(90, 100)


def test_p99_of_100_is_open_above() -> None:
    assert order_statistic_ranks(100, 99) == Ranks(97, 101)


@pytest.mark.parametrize(
    ("percent", "open_until", "ranks_there"),
    [(50, 6, Ranks(1, 6)), (95, 72, Ranks(64, 72)), (99, 368, Ranks(360, 368))],
)
def test_upper_end_closes_once_percentile_to_the_nth_falls_under_2_5_percent(
    percent: int, open_until: int, ranks_there: Ranks
) -> None:
    # (p/100)**n ≤ 2.5 %: p99 needs 368 samples, p95 72, p50 6
    assert order_statistic_ranks(open_until - 1, percent).upper == open_until
    assert order_statistic_ranks(open_until, percent) == ranks_there


@pytest.mark.parametrize(("percent", "open_until"), [(50, 6), (95, 2)])
def test_lower_end_is_open_while_no_sample_is_low_enough(percent: int, open_until: int) -> None:
    assert order_statistic_ranks(open_until - 1, percent).lower == 0
    assert order_statistic_ranks(open_until, percent).lower == 1


@pytest.mark.parametrize("percent", [50, 95, 99])
@pytest.mark.parametrize("n", [1, 2, 5, 6, 50, 71, 72, 100, 367, 368, 1000])
def test_exact_ranks_are_the_tightest_with_both_tails_under_2_5_percent(
    n: int, percent: int
) -> None:
    assert exact_ranks(n, percent / 100) == optimal_ranks(n, percent)


@pytest.mark.parametrize(("n", "percent"), [(1650, 50), (2000, 50), (3000, 50)])
def test_normal_approximation_is_used_above_the_variance_limit_within_one_rank(
    n: int, percent: int
) -> None:
    q = percent / 100
    assert n * q * (1 - q) >= EXACT_MAX_VARIANCE
    exact = optimal_ranks(n, percent)
    approximate = order_statistic_ranks(n, percent)
    assert approximate == normal_ranks(n, q)
    assert abs(approximate.lower - exact.lower) <= 1
    assert abs(approximate.upper - exact.upper) <= 1
    assert coverage(n, percent, approximate) >= 0.95


def test_exact_and_normal_ranks_agree_within_one_where_the_method_switches() -> None:
    # p50 switches at n = 1,600 and p99 at n ≈ 40,404 (variance 400); compare both methods
    # on either side of it
    for n, q in [(1590, 0.5), (1600, 0.5), (1610, 0.5), (40_000, 0.99), (40_500, 0.99)]:
        exact, approximate = exact_ranks(n, q), normal_ranks(n, q)
        assert abs(exact.lower - approximate.lower) <= 1, (n, q)
        assert abs(exact.upper - approximate.upper) <= 1, (n, q)


@pytest.mark.parametrize("percent", [50, 95, 99])
@pytest.mark.parametrize("n", [1, 6, 50, 72, 100, 368, 1000, 2000])
def test_intervals_cover_the_quantile_at_least_95_percent_of_the_time(n: int, percent: int) -> None:
    # an open end (rank 0 or n + 1) reaches for ever, so it always holds the quantile
    assert coverage(n, percent, order_statistic_ranks(n, percent)) >= 0.95


@pytest.mark.parametrize("percent", [50.0, 95.0, 99.0])
def test_the_percentiles_own_rank_lies_inside_its_interval(percent: float) -> None:
    for n in range(1, 3000):
        ranks = order_statistic_ranks(n, percent)
        rank = max(1, math.ceil(percent * n / 100))
        assert ranks.lower <= rank <= ranks.upper, n


def test_no_interval_without_samples() -> None:
    with pytest.raises(ValueError, match=r"^an interval needs at least one sample, got n=0$"):
        order_statistic_ranks(0, 50)


@pytest.mark.parametrize("p", [0.0, 100.0])
def test_percentile_must_be_strictly_inside_0_to_100(p: float) -> None:
    with pytest.raises(ValueError, match=r"^percentile must be strictly between 0 and 100"):
        order_statistic_ranks(10, p)


# ---------------------------------------------------------------- values


def test_interval_of_1_to_100_ms() -> None:
    h = histogram_of([k / 1000 for k in range(1, 101)])
    intervals = ci95(h)
    assert intervals is not None
    assert list(intervals) == ["p50", "p95", "p99"]
    assert intervals["p50"] == [
        pytest.approx(0.040, rel=RELATIVE_ERROR),
        pytest.approx(0.061, rel=RELATIVE_ERROR),
    ]
    # the largest value is the exact max
    assert intervals["p95"] == [pytest.approx(0.090, rel=RELATIVE_ERROR), 0.100]
    assert intervals["p99"] == [pytest.approx(0.097, rel=RELATIVE_ERROR), None]


def test_one_sample_bounds_only_p99_from_below() -> None:
    assert ci95(histogram_of([0.25])) == {
        "p50": [None, None],
        "p95": [None, None],
        "p99": [0.25, None],
    }


def test_empty_histogram_has_no_interval() -> None:
    assert ci95(LatencyHistogram()) is None
    assert percentile_interval(LatencyHistogram(), 50) is None


def test_interval_contains_the_percentile_it_bounds() -> None:
    rng = random.Random(7)
    h = histogram_of([rng.expovariate(10.0) for _ in range(500)])
    for p in (50, 95, 99):
        lo, hi = percentile_interval(h, p) or [None, None]
        value = h.percentile(p)
        assert lo is not None
        assert hi is not None
        assert value is not None
        assert lo <= value <= hi


def test_zeros_count_as_the_smallest_values() -> None:
    h = histogram_of([0.0] * 60 + [0.010] * 40)
    assert percentile_interval(h, 50) == [0.0, pytest.approx(0.010, rel=RELATIVE_ERROR)]


def test_values_at_ranks_are_the_order_statistics_within_the_histograms_error() -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(math.log(0.2), 0.5) for _ in range(1000)]
    ordered = sorted(values)
    ranks = [1, 2, 17, 500, 999, 1000]
    got = histogram_of(values).at_ranks(ranks)
    assert got[0] == ordered[0]
    assert got[-1] == ordered[-1]
    for r, value in zip(ranks[1:-1], got[1:-1], strict=True):
        assert value == pytest.approx(ordered[r - 1], rel=RELATIVE_ERROR)


@pytest.mark.parametrize("rank", [0, 4])
def test_a_rank_outside_1_to_count_is_refused(rank: int) -> None:
    with pytest.raises(ValueError, match=rf"^rank must be in 1\.\.3, got {rank}$"):
        histogram_of([0.1, 0.2, 0.3]).at_ranks([rank])


# ---------------------------------------------------------------- against a real bootstrap

BOOT_N = 2_000
BOOT_RESAMPLES = 2_000


@cache
def bootstrap_case() -> tuple[list[float], dict[str, list[float]]]:
    """2,000 seeded lognormal latencies (median 200 ms) and, per percentile, the sorted
    percentiles of 2,000 bootstrap resamples (drawn with replacement, same size)."""
    rng = random.Random(20260112)
    values = sorted(rng.lognormvariate(math.log(0.2), 0.5) for _ in range(BOOT_N))
    ranks = {"p50": 1000, "p95": 1900, "p99": 1980}  # nearest rank ceil(q·n)
    boots: dict[str, list[float]] = {key: [] for key in ranks}
    for _ in range(BOOT_RESAMPLES):
        resample = sorted(rng.choices(values, k=BOOT_N))
        for key, rank in ranks.items():
            boots[key].append(resample[rank - 1])
    return values, {key: sorted(b) for key, b in boots.items()}


@pytest.mark.parametrize(("key", "percent"), [("p50", 50), ("p95", 95), ("p99", 99)])
def test_bounds_match_a_percentile_bootstrap_within_its_resampling_noise(
    key: str, percent: int
) -> None:
    """The percentile bootstrap's 2.5 % and 97.5 % quantiles are samples X_(j); their ranks j
    match ours within 2 plus three times the bootstrap's own Monte-Carlo error, in ranks
    √(0.025·0.975/B) / φ(1.96) · √(nq(1−q)): 6.0 ranks at p50, 3.7 at p95, 2.8 at p99.
    Compared in ranks, not buckets: in the tail one rank spans several buckets (near p99
    of 2,000, neighbouring samples are about 1 % apart, five buckets)."""
    values, boots = bootstrap_case()
    q = percent / 100
    mc_error = math.sqrt(0.025 * 0.975 / BOOT_RESAMPLES) / 0.05844 * math.sqrt(BOOT_N * q * (1 - q))
    tolerance = 2 + 3 * mc_error
    boot_lo = boots[key][math.ceil(0.025 * BOOT_RESAMPLES) - 1]
    boot_hi = boots[key][math.ceil(0.975 * BOOT_RESAMPLES) - 1]
    boot_ranks = (bisect.bisect_left(values, boot_lo) + 1, bisect.bisect_left(values, boot_hi) + 1)
    ours = order_statistic_ranks(BOOT_N, percent)
    assert abs(boot_ranks[0] - ours.lower) <= tolerance
    assert abs(boot_ranks[1] - ours.upper) <= tolerance
    lo, hi = percentile_interval(histogram_of(values), percent) or [None, None]
    assert lo == pytest.approx(values[ours.lower - 1], rel=RELATIVE_ERROR)
    assert hi == pytest.approx(values[ours.upper - 1], rel=RELATIVE_ERROR)


# ---------------------------------------------------------------- coverage, end to end

COVERAGE_N = 400
COVERAGE_TRIALS = 1_000


@pytest.mark.parametrize("percent", [50, 95, 99])
def test_true_quantile_falls_inside_as_often_as_the_binomial_says(percent: int) -> None:
    """1,000 seeded samples of 400 exponential latencies (mean 100 ms): the share of
    intervals holding the true quantile −ln(1 − q)/10 is the exact coverage (≥ 95 %) within
    3.5 standard errors of 1,000 trials (±2.1 points), and never under 93 %."""
    rng = random.Random(percent)
    q = percent / 100
    truth = -math.log(1 - q) / 10.0
    held = 0
    for _ in range(COVERAGE_TRIALS):
        lo, hi = percentile_interval(
            histogram_of([rng.expovariate(10.0) for _ in range(COVERAGE_N)]), percent
        ) or [None, None]
        assert lo is not None
        assert hi is not None
        held += lo <= truth <= hi
    expected = coverage(COVERAGE_N, percent, order_statistic_ranks(COVERAGE_N, percent))
    assert expected >= 0.95
    error = 3.5 * math.sqrt(expected * (1 - expected) / COVERAGE_TRIALS)
    assert abs(held / COVERAGE_TRIALS - expected) <= error


# ---------------------------------------------------------------- comparing two figures


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ([0.20, 0.22], [0.21, 0.25], True),
        ([0.20, 0.22], [0.22, 0.25], True),  # touching ends share a point
        ([0.20, 0.22], [0.23, 0.25], False),
        ([0.23, 0.25], [0.20, 0.22], False),
        ([0.20, None], [0.90, 1.00], True),  # open above reaches any higher interval
        ([0.20, None], [0.10, 0.15], False),
        ([None, 0.15], [0.10, 0.12], True),
        ([None, None], [5.0, 6.0], True),
    ],
)
def test_intervals_overlap(a: list[float | None], b: list[float | None], overlap: bool) -> None:
    assert intervals_overlap(a, b) is overlap
    assert intervals_overlap(b, a) is overlap


def test_percentiles_differ_only_when_their_intervals_do_not_overlap() -> None:
    fast = {"p95": 0.21, "ci95": {"p50": [0.19, 0.20], "p95": [0.20, 0.22], "p99": [0.3, None]}}
    slow = {"p95": 0.24, "ci95": {"p50": [0.21, 0.23], "p95": [0.22, 0.26], "p99": [0.4, None]}}
    assert percentiles_differ(fast, slow, "p50") is True
    assert percentiles_differ(fast, slow, "p95") is False
    assert percentiles_differ(fast, slow, "p99") is False


def test_percentiles_of_a_block_without_intervals_cannot_be_told_apart() -> None:
    old = {"count": 10, "p50": 0.2, "p95": 0.3, "p99": 0.4}
    new = {"count": 10, "p50": 0.9, "ci95": {"p50": [0.8, 1.0]}}
    assert percentiles_differ(old, new, "p50") is None
    assert percentiles_differ(new, new, "p95") is None


def test_two_runs_of_one_distribution_do_not_differ_and_a_slower_one_does() -> None:
    rng = random.Random(11)

    def run(scale: float) -> dict[str, object]:
        h = histogram_of([scale * rng.lognormvariate(math.log(0.2), 0.3) for _ in range(3000)])
        summary = h.summary()
        assert summary is not None
        return summary

    a, b, slower = run(1.0), run(1.0), run(1.2)
    assert [percentiles_differ(a, b, key) for key in ("p50", "p95", "p99")] == [False] * 3
    assert [percentiles_differ(a, slower, key) for key in ("p50", "p95", "p99")] == [True] * 3

"""The bootstrap of a percentile's change (harness.compare.bootstrap): the same intervals every
time, the exact resampling distribution, and 95 % coverage of a known shift, for one value per
request and for ITL's many values per request resampled by request."""

from __future__ import annotations

import random
from math import comb

import pytest

from harness.compare.bootstrap import (
    ClusteredSample,
    bounded,
    difference_interval,
    percentile_draws,
    percentile_of_sorted,
    seeded,
)

SHIFT_S = 0.020


def lognormal_sample(rng: random.Random, n: int, shift: float = 0.0) -> list[float]:
    return sorted(rng.lognormvariate(-1.6, 0.4) + shift for _ in range(n))


def requests_of_tokens(
    rng: random.Random, requests: int, tokens: int, shift: float = 0.0
) -> list[list[float]]:
    """ITL-like values: each request has its own level, its tokens vary around it."""
    out = []
    for _ in range(requests):
        level = rng.lognormvariate(-4.0, 0.3)
        out.append([level * rng.lognormvariate(0.0, 0.2) + shift for _ in range(tokens)])
    return out


def test_the_same_seed_gives_the_same_draws() -> None:
    values = lognormal_sample(random.Random(1), 300)
    first = percentile_draws(values, 95.0, seeded("stream/ttft_s/p95/base"))
    again = percentile_draws(values, 95.0, seeded("stream/ttft_s/p95/base"))
    other = percentile_draws(values, 95.0, seeded("stream/ttft_s/p95/new"))
    assert first == again
    assert first != other
    assert len(first) == 1000


def test_draws_follow_the_exact_bootstrap_distribution_of_the_percentile() -> None:
    # the r-th smallest of n draws with replacement is ≤ x_(j) iff Binomial(n, j/n) ≥ r
    n, p = 30, 90.0
    values = [float(i) for i in range(1, n + 1)]
    r = 27  # ⌈0.9 · 30⌉
    draws = percentile_draws(values, p, seeded("exact"), 20_000)
    worst = 0.0
    for j in range(1, n + 1):
        exact = sum(comb(n, k) * (j / n) ** k * (1 - j / n) ** (n - k) for k in range(r, n + 1))
        seen = sum(1 for d in draws if d <= values[j - 1]) / len(draws)
        worst = max(worst, abs(seen - exact))
    assert worst < 0.0115  # the Kolmogorov-Smirnov 1 % bound for 20,000 draws


def test_a_single_value_is_its_own_percentile_in_every_resample() -> None:
    assert percentile_draws([0.25], 99.0, seeded("one"), 10) == [0.25] * 10


def test_the_interval_is_the_central_95_percent_of_the_differences() -> None:
    base = [0.0] * 1000
    new = [float(i) for i in range(1000)]
    assert difference_interval(base, new) == (25.0, 974.0)


@pytest.mark.parametrize(("p", "n"), [(50.0, 200), (95.0, 400), (99.0, 400)])
def test_intervals_hold_a_known_shift_95_percent_of_the_time(p: float, n: int) -> None:
    rng = random.Random(11)
    runs, held = 100, 0
    for i in range(runs):
        base, new = lognormal_sample(rng, n), lognormal_sample(rng, n, SHIFT_S)
        low, high = difference_interval(
            percentile_draws(base, p, seeded(f"{i}/base"), 500),
            percentile_draws(new, p, seeded(f"{i}/new"), 500),
        )
        held += low <= SHIFT_S <= high
    assert 90 <= held <= 99


def test_a_larger_shift_than_the_noise_gives_an_interval_above_zero() -> None:
    rng = random.Random(5)
    base, new = lognormal_sample(rng, 2000), lognormal_sample(rng, 2000, 0.05)
    low, high = difference_interval(
        percentile_draws(base, 50.0, seeded("b")), percentile_draws(new, 50.0, seeded("n"))
    )
    assert 0.0 < low < 0.05 < high


@pytest.mark.parametrize(
    ("n", "p", "ends"),
    [
        (367, 99.0, (True, False)),
        (368, 99.0, (True, True)),
        (71, 95.0, (True, False)),
        (72, 95.0, (True, True)),
        (5, 50.0, (False, False)),
        (6, 50.0, (True, True)),
        (0, 50.0, (False, False)),
    ],
)
def test_too_few_requests_leave_a_percentiles_interval_open(
    n: int, p: float, ends: tuple[bool, bool]
) -> None:
    assert bounded(n, p) == ends


def test_nearest_rank_percentile_of_sorted_values() -> None:
    values = [float(i) for i in range(1, 101)]
    assert [percentile_of_sorted(values, p) for p in (50.0, 95.0, 99.0)] == [50.0, 95.0, 99.0]


# ------------------------------------------------------------------ many values per request


def test_requests_without_values_are_left_out() -> None:
    sample = ClusteredSample([[0.02, 0.01], [], [0.03]])
    assert (sample.requests, sample.samples, sample.pooled) == (2, 3, [0.01, 0.02, 0.03])


def test_one_request_gives_the_same_percentile_in_every_resample() -> None:
    sample = ClusteredSample([[0.01, 0.02, 0.03, 0.04]])
    assert sample.draws((50.0,), seeded("one"), 5) == [[0.02] * 5]


def test_clustered_draws_are_the_same_for_the_same_seed() -> None:
    sample = ClusteredSample(requests_of_tokens(random.Random(2), 50, 16))
    first = sample.draws((50.0, 95.0, 99.0), seeded("stream/itl_s/base"), 200)
    again = sample.draws((50.0, 95.0, 99.0), seeded("stream/itl_s/base"), 200)
    assert first == again
    assert [len(d) for d in first] == [200, 200, 200]


def test_clustered_draws_match_pooling_the_resampled_requests() -> None:
    rng = random.Random(3)
    groups = requests_of_tokens(rng, 40, 10)
    sample = ClusteredSample(groups)
    fast = sorted(sample.draws((95.0,), seeded("fast"), 2000)[0])
    brute_rng = seeded("brute")
    brute = []
    for _ in range(2000):
        pooled = sorted(v for g in brute_rng.choices(groups, k=len(groups)) for v in g)
        brute.append(percentile_of_sorted(pooled, 95.0))
    brute.sort()
    # two-sample Kolmogorov-Smirnov distance, against its 1 % bound for 2,000 + 2,000
    grid = sorted(set(fast) | set(brute))
    distance = max(
        abs(sum(1 for v in fast if v <= t) - sum(1 for v in brute if v <= t)) / 2000 for t in grid
    )
    assert distance < 0.0515


def test_tokens_of_one_request_are_worth_about_one_value() -> None:
    # every token of a request the same: 200 requests of 50 tokens are 200 values, not 10,000
    rng = random.Random(4)
    groups = [[rng.lognormvariate(-4.0, 0.3)] * 50 for _ in range(200)]
    assert ClusteredSample(groups).effective_size(50.0) == pytest.approx(200, rel=0.15)


def test_independent_tokens_are_worth_one_value_each() -> None:
    rng = random.Random(6)
    groups = [[rng.lognormvariate(-4.0, 0.3) for _ in range(20)] for _ in range(100)]
    assert ClusteredSample(groups).effective_size(50.0) == pytest.approx(2000, rel=0.25)


def test_clustered_intervals_hold_a_known_shift_95_percent_of_the_time() -> None:
    rng = random.Random(7)
    shift = 0.002
    runs = 80
    held = [0, 0, 0]
    for i in range(runs):
        base = ClusteredSample(requests_of_tokens(rng, 60, 12))
        new = ClusteredSample(requests_of_tokens(rng, 60, 12, shift))
        ps = (50.0, 95.0, 99.0)
        base_draws = base.draws(ps, seeded(f"{i}/base"), 300)
        new_draws = new.draws(ps, seeded(f"{i}/new"), 300)
        for k in range(3):
            low, high = difference_interval(base_draws[k], new_draws[k])
            held[k] += low <= shift <= high
    assert all(70 <= h <= 79 for h in held), held

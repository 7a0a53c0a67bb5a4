"""The global arrival schedule (harness.load.schedule): rates, processes, stages, shards."""

from __future__ import annotations

import math
import statistics
from itertools import pairwise

import pytest

from harness.load.schedule import (
    Arrival,
    RateSegment,
    Shard,
    arrival_times,
    arrivals,
    interleave,
    shard_arrivals,
)


def times_of(segments: list[RateSegment], process: str, **kw: float) -> list[float]:
    return list(arrival_times(segments, process, **kw))  # type: ignore[arg-type]


def ks_statistic_exponential(gaps: list[float], rate: float) -> float:
    """The Kolmogorov–Smirnov distance between `gaps` and the exponential of `rate`."""
    ordered = sorted(gaps)
    n = len(ordered)
    d = 0.0
    for i, x in enumerate(ordered):
        cdf = 1.0 - math.exp(-rate * x)
        d = max(d, (i + 1) / n - cdf, cdf - i / n)
    return d


def test_constant_rate_is_evenly_spaced_from_the_start() -> None:
    times = times_of([RateSegment(0.0, 10.0, 20.0, 20.0)], "constant")
    assert len(times) == 200  # 0, 0.05, …, 9.95: one at 10.0 would belong to what follows
    assert times[0] == 0.0
    assert all(b - a == pytest.approx(0.05) for a, b in pairwise(times))


def test_poisson_gaps_pass_a_kolmogorov_smirnov_test_against_the_exponential() -> None:
    times = times_of([RateSegment(0.0, 500.0, 20.0, 20.0)], "poisson", seed=7)
    gaps = [b - a for a, b in pairwise(times)]
    assert len(gaps) == pytest.approx(10_000, rel=0.03)
    # asymptotic critical value at alpha = 0.01: 1.628 / sqrt(n)
    assert ks_statistic_exponential(gaps, 20.0) < 1.628 / math.sqrt(len(gaps))
    # and the test can fail: constant gaps are far from exponential
    constant = [0.05] * len(gaps)
    assert ks_statistic_exponential(constant, 20.0) > 1.628 / math.sqrt(len(gaps))


@pytest.mark.parametrize("burstiness", [0.25, 1.0, 4.0])
def test_gamma_gaps_have_a_coefficient_of_variation_of_one_over_root_burstiness(
    burstiness: float,
) -> None:
    times = times_of([RateSegment(0.0, 400.0, 25.0, 25.0)], "gamma", burstiness=burstiness, seed=3)
    gaps = [b - a for a, b in pairwise(times)]
    cv = statistics.pstdev(gaps) / statistics.fmean(gaps)
    assert cv == pytest.approx(1 / math.sqrt(burstiness), rel=0.05)
    assert statistics.fmean(gaps) == pytest.approx(1 / 25.0, rel=0.05)


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    segments = [RateSegment(0.0, 20.0, 10.0, 10.0)]
    assert times_of(segments, "poisson", seed=1) == times_of(segments, "poisson", seed=1)
    assert times_of(segments, "poisson", seed=1) != times_of(segments, "poisson", seed=2)


def test_a_linear_ramp_offers_the_integral_of_its_rate() -> None:
    # 0 → 100/s over 10 s: 500 requests, denser at the end
    times = times_of([RateSegment(0.0, 10.0, 0.0, 100.0)], "constant")
    assert len(times) == 500
    first_half = sum(1 for t in times if t < 5.0)
    assert first_half == 125  # Λ(5) = 100/10 · 5² / 2
    # the k-th arrival at Λ⁻¹(k) = sqrt(2k / slope)
    assert times[200] == pytest.approx(math.sqrt(2 * 200 / 10.0))


def test_a_zero_rate_segment_gets_no_arrival_and_the_next_one_starts_on_time() -> None:
    segments = [
        RateSegment(0.0, 1.0, 10.0, 10.0),
        RateSegment(1.0, 5.0, 0.0, 0.0),  # a users stage
        RateSegment(6.0, 1.0, 10.0, 10.0),
    ]
    times = times_of(segments, "constant")
    assert not [t for t in times if 1.0 < t < 6.0]
    assert len([t for t in times if t >= 6.0]) == 10
    assert min(t for t in times if t >= 6.0) == pytest.approx(6.0 + 0.1 * 0, abs=0.1 + 1e-9)


def test_an_open_ended_segment_never_ends() -> None:
    times = arrival_times([RateSegment(0.0, None, 1000.0, 1000.0)], "constant")
    first = [next(times) for _ in range(5000)]
    assert first[-1] == pytest.approx(4.999)


def test_modes_are_drawn_by_weight_and_numbered_per_mode() -> None:
    times = arrival_times([RateSegment(0.0, 100.0, 30.0, 30.0)], "constant")
    drawn = list(arrivals(times, [("stream", 3), ("batch", 1)], seed=5))
    streams = [a for a in drawn if a.mode == "stream"]
    assert len(streams) / len(drawn) == pytest.approx(0.75, abs=0.03)
    assert [a.mode_index for a in streams] == list(range(len(streams)))
    assert [a.index for a in drawn] == list(range(len(drawn)))


def test_a_mode_of_weight_zero_gets_no_arrival() -> None:
    times = arrival_times([RateSegment(0.0, 10.0, 10.0, 10.0)], "constant")
    assert {a.mode for a in arrivals(times, [("stream", 0), ("batch", 2)])} == {"batch"}


def test_shards_split_the_schedule_exactly_in_proportion_to_their_users() -> None:
    every = [Arrival(i, i, "stream", i * 0.01) for i in range(3000)]
    cycle = interleave([2, 1])  # worker 0 runs twice the stream users of worker 1
    shards = [Shard(k, {"stream": cycle}) for k in range(2)]
    taken = [list(shard_arrivals(iter(every), shard)) for shard in shards]
    assert (len(taken[0]), len(taken[1])) == (2000, 1000)
    union = sorted(a.index for part in taken for a in part)
    assert union == list(range(3000))  # nothing lost, nothing twice


def test_interleave_spreads_each_index_evenly() -> None:
    assert interleave([1, 1]) == (0, 1)
    assert interleave([2, 1]) == (0, 1, 0)
    assert interleave([32, 0]) == (0,)
    assert interleave([0, 0]) == ()
    cycle = interleave([3, 5])
    assert sorted(cycle) == [0, 0, 0, 1, 1, 1, 1, 1]
    assert "1, 1, 1" not in str(cycle)  # no run longer than the weights require


def test_unknown_process_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown arrival process 'bursty'"):
        arrival_times([RateSegment(0.0, 1.0, 1.0, 1.0)], "bursty")

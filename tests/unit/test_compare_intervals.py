"""The intervals of one run's figure and of a change between two runs (harness.compare.intervals):
Wilson, Poisson score, and MOVER, checked against published values."""

from __future__ import annotations

import pytest

from harness.compare.intervals import (
    Z,
    effective_events,
    mover_difference,
    poisson_rate_interval,
    wilson_interval,
)


def test_the_interval_is_a_95_percent_one() -> None:
    assert pytest.approx(1.959964, abs=1e-6) == Z


def test_wilson_interval_of_no_failures_starts_at_zero() -> None:
    # z² / (n + z²) for 0 of 10
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.277533), abs=1e-6)


def test_wilson_interval_of_all_failures_ends_at_one() -> None:
    assert wilson_interval(10, 10) == pytest.approx((0.722467, 1.0), abs=1e-6)


def test_wilson_interval_of_a_half() -> None:
    assert wilson_interval(5, 10) == pytest.approx((0.236593, 0.763407), abs=1e-6)


def test_wilson_interval_refuses_no_trials() -> None:
    with pytest.raises(ValueError, match="trials >= 1"):
        wilson_interval(0, 0)


def test_mover_with_wilson_intervals_is_newcombes_method_10() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, table II example (a): 56/70 − 48/80
    interval = mover_difference(48 / 80, wilson_interval(48, 80), 56 / 70, wilson_interval(56, 70))
    assert interval == pytest.approx((0.0524, 0.3339), abs=5e-5)


def test_mover_keeps_each_sides_asymmetry() -> None:
    # BASE 100 in [95, 120], NEW 150 in [140, 200]: low uses NEW's lower and BASE's upper reach
    low, high = mover_difference(100.0, (95.0, 120.0), 150.0, (140.0, 200.0))
    assert low == pytest.approx(50.0 - (10.0**2 + 20.0**2) ** 0.5)
    assert high == pytest.approx(50.0 + (50.0**2 + 5.0**2) ** 0.5)


def test_an_open_end_on_either_side_opens_the_matching_end_of_the_change() -> None:
    assert mover_difference(1.0, (0.9, None), 2.0, (1.9, 2.1))[0] is None  # BASE open above
    assert mover_difference(1.0, (0.9, 1.1), 2.0, (None, 2.1))[0] is None  # NEW open below
    assert mover_difference(1.0, (None, 1.1), 2.0, (1.9, 2.1))[1] is None  # BASE open below
    assert mover_difference(1.0, (0.9, 1.1), 2.0, (1.9, None))[1] is None  # NEW open above
    assert mover_difference(1.0, (0.9, None), 2.0, (1.9, 2.1))[1] is not None


def test_a_point_outside_its_own_interval_adds_no_negative_reach() -> None:
    # a histogram percentile can sit a hair outside its rounded interval
    assert mover_difference(1.0, (1.01, 1.02), 2.0, (2.01, 2.02)) == pytest.approx((0.98, 1.02))


def test_poisson_score_interval_of_no_events() -> None:
    assert poisson_rate_interval(0, 1.0) == pytest.approx((0.0, Z * Z))


def test_poisson_score_interval_is_per_second() -> None:
    # 10 events in 2 s: (10 + z²/2 ± z·√(10 + z²/4)) / 2
    assert poisson_rate_interval(10, 2.0) == pytest.approx((2.7160, 9.2047), abs=5e-5)


def test_a_compound_count_of_equal_requests_is_one_event_per_request() -> None:
    # 10 requests of 64 tokens: 640 tokens, Σ tokens² = 10 · 64²
    assert effective_events(640, 10 * 64 * 64) == pytest.approx(10.0)


def test_a_compound_count_of_unequal_requests_is_fewer_events() -> None:
    # one request of 630 tokens and nine of 10 hold less information than 10 equal ones
    assert effective_events(720, 630**2 + 9 * 10**2) == pytest.approx(720**2 / 397800)
    assert effective_events(0, 0) == 0.0

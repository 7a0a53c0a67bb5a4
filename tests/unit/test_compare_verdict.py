"""`locust-llm compare`'s verdict on one figure: the threshold, which way is worse, and when a
worse change fails the comparison (harness.compare.verdict)."""

from __future__ import annotations

import math

import pytest

from harness.compare.figures import Direction
from harness.compare.verdict import (
    DEFAULT_THRESHOLD,
    Verdict,
    is_regression,
    parse_threshold,
    verdict_of,
    worsening,
)
from harness.errors import ConfigError

HIGHER = Direction.HIGHER_IS_WORSE
LOWER = Direction.LOWER_IS_WORSE


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10%", 0.10), ("0.1", 0.1), ("2.5 %", 0.025), ("0", 0.0), ("150%", 1.5), (" 5% ", 0.05)],
)
def test_a_threshold_is_a_percentage_or_a_share_below_one(text: str, expected: float) -> None:
    assert parse_threshold(text) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("text", ["abc", "-5%", "10", "1", "nan", "inf%", "", "%", "10%%"])
def test_a_bad_threshold_is_one_line_naming_the_flag(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_threshold(text)
    assert str(caught.value) == (
        f"--threshold: expected a relative change such as 10% or 0.1, got {text!r}"
    )


def test_the_default_threshold_is_ten_percent() -> None:
    assert DEFAULT_THRESHOLD == 0.10
    assert parse_threshold("10%") == DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    ("interval", "direction", "verdict"),
    [
        ((0.01, 0.02), HIGHER, Verdict.WORSE),
        ((0.01, 0.02), LOWER, Verdict.BETTER),
        ((-0.02, -0.01), HIGHER, Verdict.BETTER),
        ((-0.02, -0.01), LOWER, Verdict.WORSE),
        ((-0.01, 0.02), HIGHER, Verdict.SAME),
        ((0.0, 0.02), HIGHER, Verdict.SAME),  # touching zero does not exclude it
        ((-0.02, 0.0), LOWER, Verdict.SAME),
        ((0.0, 0.0), HIGHER, Verdict.SAME),
        ((0.01, None), HIGHER, Verdict.WORSE),  # open above, but bounded above zero
        ((None, 0.02), HIGHER, Verdict.SAME),
        ((None, -0.01), LOWER, Verdict.WORSE),
        ((None, None), HIGHER, Verdict.SAME),
    ],
)
def test_a_change_is_worse_or_better_only_when_its_interval_excludes_zero(
    interval: tuple[float | None, float | None], direction: Direction, verdict: Verdict
) -> None:
    assert verdict_of(interval, direction) is verdict


@pytest.mark.parametrize(
    ("base", "new", "direction", "expected"),
    [
        (0.200, 0.240, HIGHER, 0.2),  # latency up 20 %: worse by 20 %
        (0.200, 0.160, HIGHER, -0.2),
        (50.0, 40.0, LOWER, 0.2),  # throughput down 20 %: worse by 20 %
        (50.0, 60.0, LOWER, -0.2),
        (0.0, 0.05, HIGHER, math.inf),  # failure ratio from 0
        (0.0, 0.0, HIGHER, 0.0),
        (0.0, 3.0, LOWER, -math.inf),
    ],
)
def test_worsening_is_relative_to_base_and_positive_when_worse(
    base: float, new: float, direction: Direction, expected: float
) -> None:
    assert worsening(base, new, direction) == pytest.approx(expected, rel=1e-12)


def test_a_worse_change_beyond_the_threshold_is_a_regression() -> None:
    assert is_regression(Verdict.WORSE, 0.2, 0.1) is True


def test_a_worse_change_within_the_threshold_is_not_a_regression() -> None:
    assert is_regression(Verdict.WORSE, 0.05, 0.1) is False
    assert is_regression(Verdict.WORSE, 0.1, 0.1) is False  # "more than" the threshold


def test_a_large_change_whose_interval_holds_zero_is_not_a_regression() -> None:
    assert is_regression(Verdict.SAME, 0.5, 0.1) is False
    assert is_regression(Verdict.BETTER, 0.5, 0.1) is False


def test_any_significant_worsening_from_zero_is_a_regression() -> None:
    assert is_regression(Verdict.WORSE, worsening(0.0, 0.05, HIGHER), 10.0) is True


def test_a_zero_threshold_fails_any_significant_worsening() -> None:
    assert is_regression(Verdict.WORSE, 0.001, parse_threshold("0%")) is True

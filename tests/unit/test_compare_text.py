"""How a compared figure reads (harness.compare.text): values, signed changes, intervals with
open ends, and the one-line summary of a change."""

from __future__ import annotations

import pytest

from harness.compare.changes import Change
from harness.compare.figures import FAILURE_RATIO, LATENCY_FIGURES, OUTPUT_TOKENS_PER_S, Figure
from harness.compare.intervals import Interval
from harness.compare.text import (
    change_line,
    change_text,
    interval_text,
    relative_text,
    value_text,
    verdict_text,
)
from harness.compare.verdict import Verdict

TTFT = LATENCY_FIGURES[0]


def change(
    figure: Figure,
    base: float,
    new: float,
    interval: Interval,
    verdict: Verdict = Verdict.WORSE,
    *,
    regression: bool = True,
    target: str = "",
) -> Change:
    return Change(
        target, "stream", figure, "p50" if figure.kind == "latency" else "", base, new,
        interval, "ci95", verdict, regression, (100, 100),
    )  # fmt: skip


def test_the_line_naming_a_regression() -> None:
    ttft = change(TTFT, 0.2003, 0.2406, (0.0382, 0.0420))
    assert change_line(ttft) == (
        "worse: stream ttft p50 +20.1 % (200.3 ms → 240.6 ms, +38.2…+42.0 ms)"
    )


def test_a_named_targets_change_names_the_target() -> None:
    ttft = change(TTFT, 0.2, 0.3, (0.09, 0.11), target="fast")
    assert change_line(ttft).startswith("worse: fast/stream ttft p50 +50.0 % (")


@pytest.mark.parametrize(
    ("interval", "text"),
    [
        ((0.0382, 0.0420), "+38.2…+42.0 ms"),
        ((-0.0005, 0.002), "-0.50…+2.00 ms"),
        ((None, 0.0420), "-∞…+42.0 ms"),
        ((0.0382, None), "+38.2 ms…+∞"),
        ((None, None), "-∞…+∞"),
        ((-0.9, 1.2), "-900.0 ms…+1.20 s"),
        ((0.03971, 0.03974), "+39.710…+39.740 ms"),  # ends the usual format shows alike
    ],
)
def test_a_latency_interval(interval: Interval, text: str) -> None:
    assert interval_text(TTFT, interval) == text


def test_a_failure_ratio_reads_in_percent_and_its_change_in_points() -> None:
    ratio = change(FAILURE_RATIO, 0.0, 0.15, (0.1, 0.2))
    assert (value_text(FAILURE_RATIO, 0.15), change_text(ratio)) == (
        "15.00 %",
        "+15.00 pp (from 0)",
    )
    assert interval_text(FAILURE_RATIO, (0.1, 0.2)) == "+10.00…+20.00 pp"


def test_a_rate_reads_per_second() -> None:
    tokens = change(OUTPUT_TOKENS_PER_S, 875.4, 700.0, (-200.0, -150.0))
    assert value_text(OUTPUT_TOKENS_PER_S, 875.4) == "875 tok/s"
    assert change_text(tokens) == "-175 tok/s (-20.0 %)"
    assert relative_text(tokens) == "-20.0 %"


def test_the_verdict_cell_says_whether_the_threshold_was_passed() -> None:
    assert verdict_text(change(TTFT, 0.2, 0.3, (0.1, 0.1)), 0.1) == "worse (beyond 10 %)"
    within = change(TTFT, 0.2, 0.21, (0.005, 0.015), regression=False)
    assert verdict_text(within, 0.25) == "worse (within 25 %)"
    same = change(TTFT, 0.2, 0.21, (-0.1, 0.1), Verdict.SAME, regression=False)
    assert verdict_text(same, 0.1) == "no significant change"

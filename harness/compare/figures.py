"""The figures `locust-llm compare` compares, and each run's estimate of one, from summary.json.

Per target and mode: the latency figures `ttft_s`, `itl_s`, `tpot_s`, `e2e_s` and
`first_visible_s` at p50, p95 and p99 (higher is worse); the failure ratio, failed / finished
requests (a cancelled request did not finish; higher is worse); throughput, `requests_per_s`
and `output_tokens_per_s`, and goodput, `goodput.goodput_per_s` (lower is worse).

An `Estimate` is one run's value of a figure with that run's own 95 % interval: a latency's
`ci95` from the summary (harness.load.confidence), a Wilson interval for the failure ratio,
a Poisson score interval for a rate (harness.compare.intervals). `targets_of()` reads the
runs' targets: summary.json's `targets` when present, else its `modes` as one unnamed target
(""). Every reader returns None for a figure the summary does not have. Pure: standard
library and the core only.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.compare.intervals import (
    Interval,
    effective_events,
    poisson_rate_interval,
    wilson_interval,
)
from harness.errors import Outcome, is_failure
from harness.load.confidence import interval_of
from harness.report.units import number_at
from harness.stats import RELATIVE_ERROR


class Direction(enum.StrEnum):
    """Which way a figure gets worse."""

    HIGHER_IS_WORSE = "higher is worse"
    LOWER_IS_WORSE = "lower is worse"


class Kind(enum.StrEnum):
    """What a figure measures, which says how it is read and written."""

    LATENCY = "latency"  # seconds, at a percentile
    RATIO = "ratio"  # a share of requests, 0..1
    RATE = "rate"  # per second


@dataclass(frozen=True, slots=True)
class Figure:
    """One compared figure: its summary.json `key`, its `name` in labels (an SLO's metric
    name where there is one), its `title` in tables, what it measures, which way is worse
    and, for a rate, what it counts (`unit`: ``req`` or ``tok``)."""

    key: str
    name: str
    title: str
    kind: Kind
    direction: Direction
    unit: str = ""


LATENCY_FIGURES = (
    Figure("ttft_s", "ttft", "TTFT", Kind.LATENCY, Direction.HIGHER_IS_WORSE),
    Figure("itl_s", "itl", "ITL", Kind.LATENCY, Direction.HIGHER_IS_WORSE),
    Figure("tpot_s", "tpot", "TPOT", Kind.LATENCY, Direction.HIGHER_IS_WORSE),
    Figure("e2e_s", "e2e", "E2E", Kind.LATENCY, Direction.HIGHER_IS_WORSE),
    Figure(
        "first_visible_s",
        "first_visible",
        "first visible output",
        Kind.LATENCY,
        Direction.HIGHER_IS_WORSE,
    ),
)
FAILURE_RATIO = Figure(
    "failure_ratio", "failure_ratio", "failure ratio", Kind.RATIO, Direction.HIGHER_IS_WORSE
)
REQUESTS_PER_S = Figure(
    "requests_per_s", "requests_per_s", "requests/s", Kind.RATE, Direction.LOWER_IS_WORSE, "req"
)
OUTPUT_TOKENS_PER_S = Figure(
    "output_tokens_per_s",
    "output_tokens_per_s",
    "output tokens/s",
    Kind.RATE,
    Direction.LOWER_IS_WORSE,
    "tok",
)
GOODPUT_PER_S = Figure(
    "goodput_per_s", "goodput_per_s", "goodput/s", Kind.RATE, Direction.LOWER_IS_WORSE, "req"
)
#: every figure, in report order
FIGURES = (*LATENCY_FIGURES, FAILURE_RATIO, REQUESTS_PER_S, OUTPUT_TOKENS_PER_S, GOODPUT_PER_S)
#: the percentiles of each latency figure, as summary.json names them
PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}


@dataclass(frozen=True, slots=True)
class Estimate:
    """One run's value of a figure, its 95 % interval (an end None: open) and how many
    requests, values or events it rests on."""

    value: float
    interval: Interval
    count: float


def targets_of(summary: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The run's targets by name, each its `modes` block: summary.json's `targets` (in its
    order) when present, else {"": the summary's `modes`}."""
    targets = summary.get("targets")
    if isinstance(targets, Mapping) and targets:
        out: dict[str, Mapping[str, Any]] = {}
        for name, entry in targets.items():
            modes = entry.get("modes") if isinstance(entry, Mapping) else None
            out[str(name)] = modes if isinstance(modes, Mapping) else {}
        return out
    modes = summary.get("modes")
    return {"": modes if isinstance(modes, Mapping) else {}}


def latency_estimate(block: Mapping[str, Any], key: str, percentile: str) -> Estimate | None:
    """The percentile of latency figure `key` of a mode block, with its `ci95` interval
    widened by the histogram's resolution (each end by `RELATIVE_ERROR`, 0.1 %: the summary's
    values are the histogram's); open when the summary has no interval."""
    figure = block.get(key)
    value = number_at(figure, percentile)
    count = number_at(figure, "count")
    if value is None or count is None or count < 1:
        return None
    interval = interval_of(figure, percentile)
    low, high = (None, None) if interval is None else interval
    return Estimate(
        value,
        (
            None if low is None else low * (1.0 - RELATIVE_ERROR),
            None if high is None else high * (1.0 + RELATIVE_ERROR),
        ),
        count,
    )


def failure_counts(block: Mapping[str, Any]) -> tuple[int, int] | None:
    """(failed, finished) requests of a mode block, from its outcomes; None without any."""
    outcomes = block.get("outcomes")
    if not isinstance(outcomes, Mapping):
        return None
    counts = {str(k): n for k, n in outcomes.items() if isinstance(n, int) and n >= 0}
    finished = sum(n for k, n in counts.items() if k != Outcome.CANCELLED)
    if finished < 1:
        return None
    return sum(n for k, n in counts.items() if is_failure(k)), finished


def failure_estimate(block: Mapping[str, Any]) -> Estimate | None:
    """The failure ratio of a mode block with its Wilson interval."""
    counts = failure_counts(block)
    if counts is None:
        return None
    failed, finished = counts
    return Estimate(failed / finished, wilson_interval(failed, finished), finished)


def measured_seconds(block: Mapping[str, Any], run_duration_s: float | None) -> float | None:
    """The seconds a mode block's rates are over: its finished requests / `requests_per_s`
    (the run's measured window), else the run's duration."""
    counts = failure_counts(block)
    rate = number_at(block, "requests_per_s")
    if counts is not None and rate is not None and rate > 0:
        return counts[1] / rate
    if run_duration_s is not None and run_duration_s > 0:
        return run_duration_s
    return None


def rate_estimate(
    block: Mapping[str, Any],
    figure: Figure,
    seconds: float | None,
    *,
    tokens_sum_of_squares: float | None = None,
) -> Estimate | None:
    """A rate figure of a mode block with its Poisson score interval over `seconds`.

    Requests and goodput count one event per request. Output tokens are a compound count:
    its effective number of events is tokens² / Σ tokensᵢ² over requests, with Σ tokensᵢ²
    from the records when given, else as if every request that counted tokens had the same
    number (the summary cannot say more)."""
    if seconds is None or seconds <= 0:
        return None
    if figure.key == GOODPUT_PER_S.key:
        goodput = block.get("goodput")
        value, events = number_at(goodput, "goodput_per_s"), number_at(goodput, "met")
        if value is None or events is None:
            return None
        low, high = poisson_rate_interval(events, seconds)
        return Estimate(value, (low, high), events)
    value = number_at(block, figure.key)
    counts = failure_counts(block)
    if value is None or counts is None:
        return None
    failed, finished = counts
    if figure.key == REQUESTS_PER_S.key:
        low, high = poisson_rate_interval(finished, seconds)
        return Estimate(value, (low, high), finished)
    tokens = number_at(block, "output_tokens") or 0.0
    if tokens_sum_of_squares is None:  # as if every counted request had tokens / requests
        counted = finished - failed
        tokens_sum_of_squares = tokens * tokens / counted if counted > 0 else 0.0
    events = effective_events(tokens, tokens_sum_of_squares)
    scale = tokens / events if events > 0 else 1.0
    low, high = poisson_rate_interval(events, seconds)
    return Estimate(value, (low * scale, high * scale), events)

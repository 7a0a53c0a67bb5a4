"""How a compared figure reads in every output: values, changes, intervals and one-line verdicts.

A latency reads as a duration (``212.4 ms``, harness.report.units), a failure ratio as a
percentage and its change in percentage points (``+0.80 pp``), a rate per second
(``12.3 req/s``, ``875 tok/s``). A change is signed (``+40.3 ms (+20.1 %)``); its interval is
``+38.2…+42.0 ms``, the unit written once when both ends share it, an open end ``∞``
(``-∞…+42.0 ms``). `change_line()` is the line that names a change in the first lines of
compare.md, e.g. ``worse: stream ttft p50 +20.1 % (200.3 ms → 240.6 ms, +38.2…+42.0 ms)``.
Pure: standard library and the report layer only.
"""

from __future__ import annotations

import math

from harness.compare.changes import Change
from harness.compare.figures import Figure, Kind
from harness.compare.intervals import Interval
from harness.compare.verdict import Verdict
from harness.report.units import format_duration


def value_text(figure: Figure, value: float) -> str:
    """One run's value of `figure`."""
    if figure.kind is Kind.LATENCY:
        return format_duration(value)
    if figure.kind is Kind.RATIO:
        return f"{100.0 * value:.2f} %"
    return f"{_rate_number(value)} {figure.unit}/s"


def signed_text(figure: Figure, amount: float) -> str:
    """A change of `figure` by `amount`, with its sign (``+40.3 ms``, ``-0.50 pp``)."""
    if math.isinf(amount):
        return ("+" if amount > 0 else "-") + "∞"
    sign = "-" if amount < 0 else "+"
    size = abs(amount)
    if figure.kind is Kind.LATENCY:
        return sign + format_duration(size)
    if figure.kind is Kind.RATIO:
        return f"{sign}{100.0 * size:.2f} pp"
    return f"{sign}{_rate_number(size)} {figure.unit}/s"


def relative_text(change: Change) -> str:
    """The change relative to BASE (``+20.1 %``); ``from 0`` when BASE is 0."""
    relative = change.relative
    if relative is None:
        return "from 0" if change.change else "+0.0 %"
    return f"{'-' if relative < 0 else '+'}{abs(100.0 * relative):.1f} %"


def change_text(change: Change) -> str:
    """The signed change with its relative size: ``+40.3 ms (+20.1 %)``."""
    return f"{signed_text(change.figure, change.change)} ({relative_text(change)})"


def interval_text(figure: Figure, interval: Interval) -> str:
    """The change's 95 % interval: ``+38.2…+42.0 ms``; an open end reads ∞."""
    low, high = interval
    low_text = "-∞" if low is None else signed_text(figure, low)
    high_text = "+∞" if high is None else signed_text(figure, high)
    if low_text == high_text and low is not None and high is not None and low != high:
        low_text, high_text = _finer(figure, low), _finer(figure, high)
    low_unit, high_unit = _unit(low_text), _unit(high_text)
    if low_unit and low_unit == high_unit:
        low_text = low_text[: -len(low_unit) - 1]
    return f"{low_text}…{high_text}"


def verdict_text(change: Change, threshold: float) -> str:
    """The verdict as a table shows it: ``worse (beyond 10 %)``, ``worse (within 10 %)``,
    ``better`` or ``no significant change``."""
    if change.verdict is not Verdict.WORSE:
        return str(change.verdict)
    return f"worse ({'beyond' if change.regression else 'within'} {threshold_text(threshold)})"


def threshold_text(threshold: float) -> str:
    """The threshold as a percentage: ``10 %``, ``2.5 %``."""
    return f"{100.0 * threshold:g} %"


def change_line(change: Change) -> str:
    """``worse: stream ttft p50 +20.1 % (200.3 ms → 240.6 ms, +38.2…+42.0 ms)``."""
    figure = change.figure
    return (
        f"{change.verdict}: {change.label} {relative_text(change)} "
        f"({value_text(figure, change.base)} → {value_text(figure, change.new)}, "
        f"{interval_text(figure, change.interval)})"
    )


def _finer(figure: Figure, amount: float) -> str:
    # two more digits, for an interval narrower than the usual format shows
    sign = "-" if amount < 0 else "+"
    size = abs(amount)
    if figure.kind is Kind.LATENCY:
        return f"{sign}{size:.4f} s" if size >= 1.0 else f"{sign}{1000.0 * size:.3f} ms"
    if figure.kind is Kind.RATIO:
        return f"{sign}{100.0 * size:.4f} pp"
    return f"{sign}{size:.4g} {figure.unit}/s"


def _rate_number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _unit(text: str) -> str:
    head, space, unit = text.rpartition(" ")
    return unit if space and head and not unit[:1].isdigit() else ""

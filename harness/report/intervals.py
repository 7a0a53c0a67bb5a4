"""How a percentile's 95 % confidence interval reads in a report.

summary.json's latency blocks carry ``"ci95": {"p50": [lo, hi], …}`` (harness.load.confidence).
A cell shows the percentile and its interval: ``212.4 ms (208–219)``, the unit written once
when both ends share the value's; an end that too few samples bound reads ``≥ 280`` (unbounded
above) or ``≤ 15.0`` (unbounded below). A block without an interval, as in a summary written
before intervals existed, shows the plain value. Functions of the document only; the duration
formats are the caller's (harness.report.markdown), so this module imports no renderer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from harness.load.confidence import Interval, interval_of

Format = Callable[[float], str]

#: the line under a table whose cells carry intervals
INTERVALS_NOTE = (
    "In parentheses: the 95 % confidence interval of each percentile (≥: unbounded above, "
    "too few requests to bound it). Two figures differ only when their intervals do not "
    "overlap."
)


def interval_text(interval: Interval, value_text: str, short: Format, long: Format) -> str | None:
    """The text inside the parentheses, or None when neither end is bounded.

    Ends are written with `short` (three significant digits), else with `long` when `short`
    shows both ends the same, else with one digit more than `long`; a unit equal to
    `value_text`'s is written once, outside.
    """
    lo, hi = interval
    if lo is None and hi is None:
        return None
    unit = _unit(value_text)
    if hi is None:
        assert lo is not None
        return "≥ " + _drop_unit(short(lo), unit)
    if lo is None:
        return "≤ " + _drop_unit(short(hi), unit)
    lo_text, hi_text = short(lo), short(hi)
    if lo_text == hi_text:
        lo_text, hi_text = long(lo), long(hi)
    if lo_text == hi_text and lo != hi:
        lo_text, hi_text = _finer(lo, _unit(lo_text)), _finer(hi, _unit(hi_text))
    if _unit(lo_text) == _unit(hi_text) == unit:
        return f"{_drop_unit(lo_text, unit)}–{_drop_unit(hi_text, unit)}"
    return f"{lo_text}–{hi_text}"


def with_interval(block: Any, key: str, value_text: str, short: Format, long: Format) -> str:
    """`value_text` (the percentile `key` of `block`, already formatted) followed by its
    interval in parentheses when the block has one."""
    interval = interval_of(block, key)
    if interval is None:
        return value_text
    text = interval_text(interval, value_text, short, long)
    return value_text if text is None else f"{value_text} ({text})"


def any_interval(blocks: Iterable[Any], keys: Iterable[str]) -> bool:
    """Whether any of `blocks` has a bounded interval for any of `keys`."""
    wanted = list(keys)
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        for key in wanted:
            interval = interval_of(block, key)
            if interval is not None and interval != [None, None]:
                return True
    return False


def _finer(seconds: float, unit: str) -> str:
    # one more digit than the table's format, for an interval narrower than it shows
    if unit == "s":
        return f"{seconds:.3f} s"
    return f"{seconds * 1000.0:.3f} ms" if seconds < 0.01 else f"{seconds * 1000.0:.2f} ms"


def _unit(text: str) -> str:
    _, _, unit = text.rpartition(" ")
    return unit


def _drop_unit(text: str, unit: str) -> str:
    suffix = " " + unit
    return text[: -len(suffix)] if unit and text.endswith(suffix) else text

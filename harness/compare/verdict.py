"""The verdict on one figure's change, and the threshold that makes a change a regression.

A change NEW − BASE with its 95 % interval is `worse` when the interval lies entirely on the
figure's worse side of zero (above zero for a latency or the failure ratio, below for a
throughput), `better` when it lies entirely on the other side, and `no significant change`
when it holds zero or an end the runs could not bound (open). A change is a **regression**,
the kind that makes `locust-llm compare` exit 1, when it is `worse` and got worse by more
than the threshold relative to BASE (`worsening` > threshold). From a BASE of exactly 0 any
worse change is a regression (an infinite relative change), e.g. a failure ratio from 0 to a
significant one. Pure: standard library only.
"""

from __future__ import annotations

import enum
import math

from harness.compare.figures import Direction
from harness.compare.intervals import Interval
from harness.errors import ConfigError

#: the threshold when none is given: 10 % worse
DEFAULT_THRESHOLD = 0.10


class Verdict(enum.StrEnum):
    """What the interval of a change says."""

    WORSE = "worse"
    BETTER = "better"
    SAME = "no significant change"


def parse_threshold(text: str) -> float:
    """A relative threshold: ``10%`` or ``0.1`` (a share below 1); `ConfigError` naming the
    flag otherwise."""
    given = text.strip()
    percent = given.endswith("%")
    number = given[:-1].strip() if percent else given
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if percent:
        value /= 100.0
    if not math.isfinite(value) or value < 0 or (not percent and value >= 1):
        raise ConfigError(
            f"--threshold: expected a relative change such as 10% or 0.1, got {text!r}"
        )
    return value


def verdict_of(interval: Interval, direction: Direction) -> Verdict:
    """`worse`, `better` or `no significant change` for a change's 95 % interval."""
    low, high = interval
    if low is not None and low > 0:
        up = True
    elif high is not None and high < 0:
        up = False
    else:
        return Verdict.SAME
    return Verdict.WORSE if up == (direction is Direction.HIGHER_IS_WORSE) else Verdict.BETTER


def worsening(base: float, new: float, direction: Direction) -> float:
    """How much worse NEW is than BASE, relative to BASE: positive when worse, negative when
    better; ±inf from a BASE of 0 (0 when both are 0)."""
    sign = 1.0 if direction is Direction.HIGHER_IS_WORSE else -1.0
    change = sign * (new - base)
    if base == 0:
        return 0.0 if change == 0 else math.copysign(math.inf, change)
    return change / abs(base)


def is_regression(verdict: Verdict, worse_by: float, threshold: float) -> bool:
    """Whether a change fails the comparison: `worse` and worse by more than `threshold`."""
    return verdict is Verdict.WORSE and worse_by > threshold

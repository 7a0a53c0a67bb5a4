"""95 % intervals of one run's figure, and of the change of a figure between two runs.

A change is NEW − BASE. Its interval comes from the two runs' own intervals by MOVER, the
method of variance estimates recovery (Zou & Donner, 2008): with BASE's estimate b in
[l_b, u_b] and NEW's n in [l_n, u_n], the change d = n − b lies in

    [d − √((n − l_n)² + (u_b − b)²),  d + √((u_n − n)² + (b − l_b)²)]

Each side keeps its own asymmetry (a latency's upper end is farther than its lower), and an
open end of either side (None: too few requests to bound it) leaves the matching end of the
change open. With Wilson intervals on both sides this is Newcombe's hybrid score interval for
a difference of proportions (his method 10), used for the failure ratio.

- `wilson_interval`: a proportion (failed / finished requests).
- `poisson_rate_interval`: a rate (events / seconds) from the score interval of a Poisson count;
  the count may be an effective number of events (a compound count such as output tokens,
  `effective_events`).
- `mover_difference`: the change's interval from the two sides'.

Pure: standard library only, deterministic.
"""

from __future__ import annotations

from math import sqrt
from statistics import NormalDist

#: the two-sided confidence of every interval
CONFIDENCE = 0.95
#: the standard normal quantile of a two-sided 95 % interval (1.96)
Z = NormalDist().inv_cdf(1.0 - (1.0 - CONFIDENCE) / 2.0)

Interval = tuple[float | None, float | None]
"""(lo, hi); None is an open end (lo: unbounded below, hi: unbounded above)."""


def wilson_interval(events: int, trials: int) -> tuple[float, float]:
    """The Wilson score interval of the proportion `events` / `trials` (trials ≥ 1)."""
    if trials < 1 or not 0 <= events <= trials:
        raise ValueError(f"need 0 <= events <= trials and trials >= 1, got {events}/{trials}")
    p = events / trials
    z2 = Z * Z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = Z * sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    low = 0.0 if events == 0 else max(0.0, centre - half)
    high = 1.0 if events == trials else min(1.0, centre + half)
    return low, high


def poisson_rate_interval(events: float, seconds: float) -> tuple[float, float]:
    """The score interval of a Poisson rate `events` / `seconds` (seconds > 0, events ≥ 0):
    the rates λ with (events − λ·seconds)² ≤ z²·λ·seconds."""
    if not seconds > 0 or events < 0:
        raise ValueError(f"need events >= 0 and seconds > 0, got {events}/{seconds}")
    z2 = Z * Z
    half = Z * sqrt(events + z2 / 4)
    return max(0.0, events + z2 / 2 - half) / seconds, (events + z2 / 2 + half) / seconds


def effective_events(total: float, sum_of_squares: float) -> float:
    """The effective number of events of a compound count: `total` = Σ xᵢ over requests
    with Σ xᵢ² = `sum_of_squares` (its variance as a compound Poisson count). A rate of
    `total` per second is then `effective_events` Poisson events of total / effective
    each; 0 when nothing was counted."""
    if total <= 0 or sum_of_squares <= 0:
        return 0.0
    return total * total / sum_of_squares


def mover_difference(
    base: float, base_interval: Interval, new: float, new_interval: Interval
) -> Interval:
    """The 95 % interval of `new` − `base` from each side's interval (MOVER, see the module
    docstring); an open end on a side leaves the change's matching end open."""
    b_lo, b_hi = base_interval
    n_lo, n_hi = new_interval
    change = new - base
    lo = (
        None
        if n_lo is None or b_hi is None
        else change - sqrt(max(new - n_lo, 0.0) ** 2 + max(b_hi - base, 0.0) ** 2)
    )
    hi = (
        None
        if n_hi is None or b_lo is None
        else change + sqrt(max(n_hi - new, 0.0) ** 2 + max(base - b_lo, 0.0) ** 2)
    )
    return lo, hi

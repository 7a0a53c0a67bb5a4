"""The global arrival schedule of an open-loop run: when each request is due.

Arrivals are drawn once from a seed, independent of how fast answers come back, so every
process of a distributed run (and every rerun with the same seed) sees the same schedule.
A process takes its share by ordinal (`Shard`): the master interleaves each mode's arrivals
over the processes in proportion to that mode's users on each (`interleave`). The union of all
shards is exactly the global schedule, so two workers hold the total offered rate between
them, whichever users Locust gave each.

Processes (each a renewal process of mean gap 1/rate):

- ``constant``: evenly spaced, gap exactly 1/rate;
- ``poisson``: exponential gaps (coefficient of variation 1);
- ``gamma``: gamma gaps with shape `burstiness` (CV = 1/√burstiness: below 1 burstier than
  Poisson, above 1 more regular; 1 is Poisson). vLLM's `--burstiness` has the same meaning.

A rate that changes (stages, ramps) is applied by time rescaling: unit-rate gaps are drawn
first, then mapped through the inverse of the cumulative rate Λ(t) = ∫ rate. A constant rate
maps linearly, a linear ramp through a quadratic; a users (closed-loop) stage has rate 0 and
receives no arrival. The first arrival is due at the start of the first rate stage.

Pure: standard library only; times are seconds from the schedule's epoch, never a clock.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

PROCESSES = ("constant", "poisson", "gamma")


@dataclass(frozen=True, slots=True)
class RateSegment:
    """A piece of the rate over time: from `start_s` for `duration_s` (None: for ever), the
    rate goes linearly from `rate_from` to `rate_to` per second (equal: constant)."""

    start_s: float
    duration_s: float | None
    rate_from: float
    rate_to: float

    @property
    def end_s(self) -> float:
        return math.inf if self.duration_s is None else self.start_s + self.duration_s

    def mass(self) -> float:
        """Λ over the whole segment (inf for an open-ended non-zero one)."""
        if self.duration_s is None:
            return math.inf if self.rate_to > 0 else 0.0
        return (self.rate_from + self.rate_to) / 2 * self.duration_s

    def time_at(self, u: float) -> float:
        """The time inside this segment at which Λ (from the segment's start) reaches `u`."""
        a = self.rate_from
        if u <= 0.0:
            return self.start_s
        if self.duration_s is None or a == self.rate_to:
            return self.start_s + u / a
        b = (self.rate_to - a) / self.duration_s  # rate slope, per s²
        # a·τ + b·τ²/2 = u; the root in [0, duration], written to stay exact as b → 0
        tau = 2 * u / (a + math.sqrt(a * a + 2 * b * u))
        return self.start_s + min(tau, self.duration_s)


def unit_gaps(process: str, burstiness: float, rng: random.Random) -> Iterator[float]:
    """Gaps of a renewal process of rate 1 (mean gap 1)."""
    if process == "constant":
        while True:
            yield 1.0
    elif process == "poisson":
        while True:
            yield rng.expovariate(1.0)
    elif process == "gamma":
        scale = 1.0 / burstiness
        while True:
            yield rng.gammavariate(burstiness, scale)
    else:
        raise ValueError(f"unknown arrival process {process!r}; one of {', '.join(PROCESSES)}")


def arrival_times(
    segments: Iterable[RateSegment], process: str, *, burstiness: float = 1.0, seed: int = 0
) -> Iterator[float]:
    """Due times (seconds from the epoch), in order, of the process under `segments`' rate.

    Ends after the last segment (an open-ended last segment: never).
    """
    if process not in PROCESSES:
        raise ValueError(f"unknown arrival process {process!r}; one of {', '.join(PROCESSES)}")
    return _arrival_times(segments, unit_gaps(process, burstiness, random.Random(seed)))


def _arrival_times(segments: Iterable[RateSegment], gaps: Iterator[float]) -> Iterator[float]:
    u = 0.0  # cumulative unit time of the next arrival (the first is due at once)
    base = 0.0  # Λ at the start of the current segment
    for segment in segments:
        mass = segment.mass()
        if mass == 0.0:
            continue
        while u - base < mass:  # an arrival exactly at the end belongs to the next segment
            yield segment.time_at(u - base)
            u += next(gaps)
        base += mass
    return


@dataclass(frozen=True, slots=True)
class Arrival:
    """One due request: its global ordinal, its mode's ordinal, its mode and due time."""

    index: int
    mode_index: int
    mode: str
    t_s: float


def arrivals(
    times: Iterator[float],
    mode_weights: Sequence[tuple[str, int]],
    *,
    seed: int = 0,
    paired: bool = False,
) -> Iterator[Arrival]:
    """Each due time with the mode it is sent in, drawn by weight (seeded, its own stream so
    the times do not depend on the mix). `paired`: each due time is one arrival in *each*
    mode, both numbered by the time's ordinal (the pair)."""
    if paired:
        for index, t in enumerate(times):
            yield Arrival(index, index, "stream", t)
            yield Arrival(index, index, "batch", t)
        return
    modes = [m for m, w in mode_weights if w > 0]
    weights = [w for _, w in mode_weights if w > 0]
    if not modes:
        raise ValueError("no mode has a positive weight")
    rng = random.Random(seed ^ 0x5EED)
    counts = dict.fromkeys(modes, 0)
    for index, t in enumerate(times):
        mode = modes[0] if len(modes) == 1 else rng.choices(modes, weights)[0]
        yield Arrival(index, counts[mode], mode, t)
        counts[mode] += 1


def lane_of(mode: str, target: str) -> str:
    """The queue a request waits in: its mode, and with several targets its target
    (``stream@fast``): each target's users take their own copy of every arrival."""
    return f"{mode}@{target}" if target else mode


def fan_out(every: Iterator[Arrival], lanes: Mapping[str, Sequence[str]]) -> Iterator[Arrival]:
    """Each arrival once per lane of its mode (`lanes`: mode → lanes, harness.load.schedule
    `lane_of`), same ordinal and due time: with several targets, every target gets the same
    request at the same time. A mode without lanes keeps its arrivals as they are."""
    if all(tuple(names) == (mode,) for mode, names in lanes.items()):
        yield from every
        return
    for arrival in every:
        names = lanes.get(arrival.mode)
        if not names:
            yield arrival
            continue
        for lane in names:
            yield Arrival(arrival.index, arrival.mode_index, lane, arrival.t_s)


@dataclass(frozen=True, slots=True)
class Shard:
    """This process's share of the schedule. `slots[mode]` is a cycle of process indices:
    arrival i of that mode goes to process ``slots[mode][i % len]``. With no slots for a
    mode (a single process), every arrival of it is this process's."""

    index: int = 0
    slots: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def takes(self, arrival: Arrival) -> bool:
        cycle = self.slots.get(arrival.mode)
        if not cycle:
            return True
        return cycle[arrival.mode_index % len(cycle)] == self.index


def interleave(weights: Sequence[int]) -> tuple[int, ...]:
    """A cycle of indices in which index k appears weights[k] times (divided by their
    greatest common divisor), spread as evenly as smooth weighted round robin spreads them:
    weights (2, 1) give (0, 1, 0); (1, 1) give (0, 1); a weight of 0 never appears."""
    positive = [w for w in weights if w > 0]
    if not positive:
        return ()
    divisor = 0
    for w in positive:
        divisor = math.gcd(divisor, w)
    scaled = [w // divisor for w in weights]
    total = sum(scaled)
    current = [0] * len(scaled)
    cycle = []
    for _ in range(total):
        for k, w in enumerate(scaled):
            current[k] += w
        pick = max(range(len(scaled)), key=lambda k: current[k])
        current[pick] -= total
        cycle.append(pick)
    return tuple(cycle)


def shard_arrivals(every: Iterator[Arrival], shard: Shard) -> Iterator[Arrival]:
    """The arrivals of `shard`, in order."""
    if not shard.slots:
        yield from every
        return
    for arrival in every:
        if shard.takes(arrival):
            yield arrival

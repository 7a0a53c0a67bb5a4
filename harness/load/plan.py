"""A run's load plan: closed-loop users or an open-loop arrival rate, in stages.

`LoadPlan` is what `--llm-rate`, `--llm-arrival`, `--llm-burstiness`, `--llm-max-in-flight`,
`--llm-max-schedule-lag`, `--llm-seed`, `--llm-warmup` and the scenario's `load:` section
decide (harness.options builds it), and what the master sends every worker so they all pace
the one schedule (`to_wire`/`from_wire`). Times are seconds from the plan's epoch (the moment
the users are ready).

- A **rate stage** (`Stage.rate_per_s`) is open loop: requests are due on the global
  arrival schedule (harness.load.schedule) whatever the answers do; at most
  `max_in_flight` are in flight at once (Locust's users are that pool).
- A **users stage** (`Stage.users`) is closed loop: that many users, each one request at a
  time, as without a plan.
- `ramp_s`: the stage's first seconds go linearly from the previous stage's rate (0 for
  the first) or user count to its own.
- `warmup_s` of a stage, and the plan's `warmup_s` at the start of the run, are excluded
  from the figures (requests *scheduled* then, or sent then in a users stage).

Pure: standard library and the harness's pure modules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from harness.errors import ConfigError
from harness.load.schedule import PROCESSES, RateSegment

DEFAULT_ARRIVAL = "poisson"
DEFAULT_MAX_IN_FLIGHT = 512
#: a trace's run ends this long after its last request was due
TRACE_TAIL_S = 1.0
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(?:/\s*(s|m|min|h))?\s*$")
_PER = {None: 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_rate(value: Any, where: str) -> float:
    """Requests per second from ``20``, ``20/s``, ``1200/m`` or ``0.5/s``; ≥ 0."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        rate = float(value)
    else:
        match = _RATE.match(str(value))
        if match is None:
            raise ConfigError(
                f"{where}: expected a rate such as 20 or 20/s (requests per second), got {value!r}"
            )
        rate = float(match.group(1)) / _PER[match.group(2)]
    if not math.isfinite(rate) or rate < 0:
        raise ConfigError(f"{where}: expected a rate of 0 or more, got {value!r}")
    if rate > 1_000_000:
        raise ConfigError(f"{where}: {value!r} is more than 1,000,000 requests per second")
    return rate


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of a plan: a rate (open loop) or a user count (closed loop)."""

    #: None: until the run is stopped (only the last stage)
    duration_s: float | None
    rate_per_s: float | None = None
    users: int | None = None
    ramp_s: float = 0.0
    warmup_s: float = 0.0
    #: where it was given (``scenario.yaml:12:7``), for errors
    origin: str = ""

    @property
    def is_open(self) -> bool:
        return self.rate_per_s is not None

    @property
    def label(self) -> str:
        """``20/s`` or ``64 users``."""
        if self.rate_per_s is not None:
            return f"{self.rate_per_s:g}/s"
        return f"{self.users} user" + ("" if self.users == 1 else "s")

    def to_wire(self) -> dict[str, Any]:
        return {
            "duration_s": self.duration_s,
            "rate_per_s": self.rate_per_s,
            "users": self.users,
            "ramp_s": self.ramp_s,
            "warmup_s": self.warmup_s,
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Stage:
        return cls(
            duration_s=wire["duration_s"],
            rate_per_s=wire["rate_per_s"],
            users=wire["users"],
            ramp_s=wire["ramp_s"],
            warmup_s=wire["warmup_s"],
        )


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """The stages of a run and how open-loop arrivals are drawn and capped."""

    stages: tuple[Stage, ...]
    arrival: str = DEFAULT_ARRIVAL
    burstiness: float = 1.0
    seed: int = 0
    #: the most requests in flight at once over all processes (open loop)
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    #: a due request still waiting for a free slot this long after it was due is dropped
    #: (counted, never sent); None: it waits (its schedule lag shows the wait)
    max_schedule_lag_s: float | None = None
    #: the first seconds of the run, excluded from the figures
    warmup_s: float = 0.0
    #: stream/batch weights of open-loop arrivals
    mode_weights: tuple[tuple[str, int], ...] = (("stream", 1), ("batch", 1))
    #: the stages are decided while the run goes (a sweep): more may follow the last one
    dynamic: bool = False
    #: `mix: paired`: every arrival is a streaming and a batch request of one prompt
    paired: bool = False
    #: a trace's due times (seconds from the epoch, its speed applied): replayed as they
    #: are instead of drawn from the rate (`arrival` is then "trace")
    times: tuple[float, ...] | None = None
    _starts: tuple[float, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("a load plan has at least one stage")
        starts, t = [], 0.0
        for stage in self.stages:
            starts.append(t)
            t += math.inf if stage.duration_s is None else stage.duration_s
        object.__setattr__(self, "_starts", tuple(starts))

    @property
    def is_open(self) -> bool:
        """Whether any stage is open loop (the run then paces an arrival schedule); a plan
        decided as it goes may become open."""
        return self.dynamic or any(s.is_open for s in self.stages)

    @property
    def is_staged(self) -> bool:
        """More than one stage, a ramp, a stage warm-up or stages still to be decided: the
        plan drives the user count and the run's end itself."""
        return (
            self.dynamic or len(self.stages) > 1 or any(s.ramp_s or s.warmup_s for s in self.stages)
        )

    @property
    def ends_itself(self) -> bool:
        """Whether the plan's controller ends the run: a staged plan, or a trace (its run
        ends `TRACE_TAIL_S` after its last request was due)."""
        return self.is_staged or self.times is not None

    @property
    def duration_s(self) -> float | None:
        """Sum of the stages' durations; None when the last one is open-ended."""
        if self.stages[-1].duration_s is None:
            return None
        return sum(s.duration_s or 0.0 for s in self.stages)

    def stage_start_s(self, index: int) -> float:
        return self._starts[index]

    def stage_at(self, t_s: float) -> int:
        """The index of the stage running at `t_s` (the last one after the end)."""
        index = 0
        for i, start in enumerate(self._starts):
            if t_s >= start:
                index = i
        return index

    def in_warmup(self, t_s: float) -> bool:
        """Whether `t_s` (seconds from the epoch) falls in the plan's or its stage's warm-up."""
        if t_s < self.warmup_s:
            return True
        index = self.stage_at(t_s)
        return t_s < self._starts[index] + self.stages[index].warmup_s

    def measured_intervals(self, elapsed_s: float) -> list[tuple[int, float, float]]:
        """(stage index, from, to) of the measured time up to `elapsed_s`: each stage's
        span without its warm-up and without the plan's."""
        intervals = []
        for index, stage in enumerate(self.stages):
            start = self._starts[index]
            if start >= elapsed_s:
                break
            end = start + (stage.duration_s if stage.duration_s is not None else math.inf)
            begin = max(start + stage.warmup_s, self.warmup_s)
            end = min(end, elapsed_s)
            if end > begin:
                intervals.append((index, begin, end))
        return intervals

    def warmup_time_within(self, elapsed_s: float) -> float:
        """Seconds of warm-up in the first `elapsed_s` of the plan (time after its end is
        no warm-up)."""
        total = self.duration_s
        if total is not None:
            elapsed_s = min(elapsed_s, total)
        measured = sum(b - a for _, a, b in self.measured_intervals(elapsed_s))
        return max(elapsed_s - measured, 0.0)

    def offered_between(self, t_from: float, t_to: float) -> float:
        """Requests the plan offers between two times (Λ(t_to) − Λ(t_from))."""
        total = 0.0
        for segment in self.rate_segments():
            a, b = max(t_from, segment.start_s), min(t_to, segment.end_s)
            if b > a:
                total += (self.offered_rate_at(a) + self.offered_rate_at(b - 1e-12)) / 2 * (b - a)
        return total

    def users_at_start(self) -> int:
        """Locust's user count for the first stage: the pool of an open stage."""
        first = self.stages[0]
        if first.is_open:
            return self.max_in_flight
        return first.users or 1

    def rate_segments(self) -> list[RateSegment]:
        """The offered rate over time; users stages are rate 0."""
        segments: list[RateSegment] = []
        previous = 0.0
        for start, stage in zip(self._starts, self.stages, strict=True):
            rate = stage.rate_per_s or 0.0
            ramp = min(stage.ramp_s, stage.duration_s) if stage.duration_s else stage.ramp_s
            if ramp > 0 and stage.is_open:
                segments.append(RateSegment(start, ramp, previous, rate))
                rest = None if stage.duration_s is None else stage.duration_s - ramp
                if rest is None or rest > 0:
                    segments.append(RateSegment(start + ramp, rest, rate, rate))
            else:
                segments.append(RateSegment(start, stage.duration_s, rate, rate))
            previous = rate
        return segments

    def piece_at(self, t_s: float, chunk_s: float) -> RateSegment | None:
        """The rate from `t_s` to the next whole multiple of `chunk_s` (or the end of its
        segment, if sooner); None past the plan's end. Walking a plan piece by piece offers
        exactly what walking its segments does."""
        for segment in self.rate_segments():
            if segment.start_s <= t_s < segment.end_s:
                end = (math.floor(t_s / chunk_s + 1e-9) + 1) * chunk_s
                if end <= t_s:
                    end += chunk_s
                end = min(end, segment.end_s)
                return RateSegment(
                    t_s, end - t_s, self.offered_rate_at(t_s), _rate_at(segment, end)
                )
        return None

    def offered_rate_at(self, t_s: float) -> float:
        """The nominal offered rate at `t_s`."""
        for segment in self.rate_segments():
            if segment.start_s <= t_s < segment.end_s:
                return _rate_at(segment, t_s)
        return 0.0

    def extended(self, *stages: Stage, final: bool = False) -> LoadPlan:
        """The plan with `stages` after its last one; `final`: no more will follow."""
        return replace(self, stages=(*self.stages, *stages), dynamic=not final)

    def cut(self, index: int, at_s: float) -> LoadPlan:
        """The plan with stage `index` ending at `at_s` (seconds from the epoch)."""
        stage = self.stages[index]
        duration = max(at_s - self._starts[index], 0.0)
        if stage.duration_s is not None:
            duration = min(duration, stage.duration_s)
        cut = replace(stage, duration_s=duration, warmup_s=min(stage.warmup_s, duration))
        return replace(self, stages=(*self.stages[:index], cut, *self.stages[index + 1 :]))

    def with_mode_weights(self, weights: Mapping[str, int]) -> LoadPlan:
        return replace(self, mode_weights=tuple((m, int(w)) for m, w in weights.items()))

    def to_wire(self) -> dict[str, Any]:
        """A msgpack/JSON-safe dict (the master sends it to every worker)."""
        return {
            "stages": [s.to_wire() for s in self.stages],
            "arrival": self.arrival,
            "burstiness": self.burstiness,
            "seed": self.seed,
            "max_in_flight": self.max_in_flight,
            "max_schedule_lag_s": self.max_schedule_lag_s,
            "warmup_s": self.warmup_s,
            "mode_weights": [list(p) for p in self.mode_weights],
            "dynamic": self.dynamic,
            "paired": self.paired,
            "times": None if self.times is None else list(self.times),
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> LoadPlan:
        return cls(
            stages=tuple(Stage.from_wire(s) for s in wire["stages"]),
            arrival=wire["arrival"],
            burstiness=wire["burstiness"],
            seed=wire["seed"],
            max_in_flight=wire["max_in_flight"],
            max_schedule_lag_s=wire["max_schedule_lag_s"],
            warmup_s=wire["warmup_s"],
            mode_weights=tuple((str(m), int(w)) for m, w in wire["mode_weights"]),
            dynamic=bool(wire.get("dynamic", False)),
            paired=bool(wire.get("paired", False)),
            times=None if wire.get("times") is None else tuple(map(float, wire["times"])),
        )

    def describe(self) -> str:
        """One line for the run's start: ``open loop: poisson 20/s, ≤ 512 in flight``."""
        if not self.is_open:
            return "closed loop: " + ", then ".join(s.label for s in self.stages)
        process = self.arrival
        if self.times is not None:
            process = f"a trace's {len(self.times):,}"
        if self.arrival == "gamma":
            process += f" (burstiness {self.burstiness:g})"
        stages = ", then ".join(_stage_text(s) for s in self.stages)
        text = f"open loop: {process} arrivals, {stages}; at most {self.max_in_flight} in flight"
        if self.paired:
            text += "; paired (each prompt in both modes at once)"
        if self.warmup_s:
            text += f"; first {self.warmup_s:g}s warm-up (not counted)"
        return text


def _rate_at(segment: RateSegment, t_s: float) -> float:
    if segment.duration_s is None or segment.rate_from == segment.rate_to:
        return segment.rate_from
    frac = (t_s - segment.start_s) / segment.duration_s
    return segment.rate_from + (segment.rate_to - segment.rate_from) * frac


def _stage_text(stage: Stage) -> str:
    text = stage.label
    if stage.duration_s is not None:
        text += f" for {stage.duration_s:g}s"
    if stage.ramp_s:
        text += f" (ramp {stage.ramp_s:g}s)"
    return text


def build_plan(
    *,
    rate_per_s: float,
    stages: Sequence[Stage],
    run_time_s: float | None,
    users: int,
    arrival: str,
    burstiness: float,
    seed: int,
    max_in_flight: int,
    max_schedule_lag_s: float | None,
    warmup_s: float,
    paired: bool = False,
    times: Sequence[float] | None = None,
) -> LoadPlan | None:
    """The plan of a run, or None for a plain closed-loop run (Locust's users, no stages).

    `stages` (from the scenario) win over `rate_per_s`; a rate alone is one open stage of
    `run_time_s` (None: until stopped). `times`: a trace's due times, replayed as one open
    stage that ends `TRACE_TAIL_S` after the last. ConfigError for what cannot run.
    """
    if times is not None:
        if stages or rate_per_s > 0:
            raise ConfigError(
                "a trace brings its own arrival times: drop load.rate, load.stages and "
                "--llm-rate (use prompts.speed to replay it faster or slower)"
            )
        if not times:
            raise ConfigError("the trace holds no request")
        span = max(times[-1], 0.0) + TRACE_TAIL_S
        return LoadPlan(
            stages=(Stage(span, rate_per_s=len(times) / span),),
            arrival="trace",
            seed=seed,
            max_in_flight=max_in_flight,
            max_schedule_lag_s=max_schedule_lag_s if max_schedule_lag_s else None,
            warmup_s=warmup_s,
            paired=paired,
            times=tuple(times),
        )
    if arrival not in PROCESSES:
        raise ConfigError(f"--llm-arrival: expected one of {', '.join(PROCESSES)}, got {arrival!r}")
    if burstiness <= 0 or not math.isfinite(burstiness):
        raise ConfigError(f"--llm-burstiness: expected a number above 0, got {burstiness:g}")
    if stages:
        plan_stages = tuple(stages)
    elif rate_per_s > 0:
        plan_stages = (Stage(run_time_s, rate_per_s=rate_per_s),)
    elif warmup_s > 0 and not paired:
        plan_stages = (Stage(run_time_s, users=users),)
    elif not paired:
        return None
    else:
        plan_stages = ()
    if paired and not any(s.is_open for s in plan_stages):
        raise ConfigError(
            "mix: paired sends each prompt in both modes at the same due time: it needs an "
            "arrival rate (--rate or load.rate)"
        )
    for stage in plan_stages[:-1]:
        if stage.duration_s is None:
            raise ConfigError(
                f"{stage.origin or 'load.stages'}: only the last stage may omit duration"
            )
    plan = LoadPlan(
        stages=plan_stages,
        arrival=arrival,
        burstiness=burstiness,
        seed=seed,
        max_in_flight=max_in_flight,
        max_schedule_lag_s=max_schedule_lag_s if max_schedule_lag_s else None,
        warmup_s=warmup_s,
        paired=paired,
    )
    total = plan.duration_s
    if total is not None and warmup_s >= total:
        raise ConfigError(
            f"--llm-warmup: {warmup_s:g}s is not shorter than the run ({total:g}s): nothing "
            "would be measured"
        )
    return plan

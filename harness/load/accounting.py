"""What happened to each due request of an open-loop run: sent, dropped or left unsent.

Every arrival of the schedule that fell due while the run was measuring (not in a
warm-up) is counted once per mode in `scheduled`, and ends in exactly one of `sent`
(handed to a user, which sent it: its record carries `t_sched`), `dropped` (still waiting
for a free slot `max_schedule_lag` after it was due: never sent) or `unsent_at_end` (still
waiting when the run stopped). `warmup` counts the arrivals of the warm-up apart. Workers
ship deltas to the master (`take_delta`, `merge_wire`), as the statistics do.

Pure: standard library only; never reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

_FIELDS = ("scheduled", "sent", "dropped", "unsent_at_end", "warmup")


@dataclass(slots=True)
class ArrivalCounts:
    """One mode's tally."""

    scheduled: int = 0
    sent: int = 0
    dropped: int = 0
    unsent_at_end: int = 0
    warmup: int = 0

    def add(self, other: ArrivalCounts) -> None:
        for name in _FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_wire(self) -> list[int]:
        return [getattr(self, name) for name in _FIELDS]

    @classmethod
    def from_wire(cls, wire: list[int]) -> ArrivalCounts:
        return cls(*(int(n) for n in wire))

    @property
    def settled(self) -> bool:
        """Whether every scheduled arrival is accounted for (sent, dropped or unsent)."""
        return self.scheduled == self.sent + self.dropped + self.unsent_at_end


K = TypeVar("K", str, int)


def _counts(tally: dict[K, ArrivalCounts], key: K) -> ArrivalCounts:
    counts = tally.get(key)
    if counts is None:
        counts = tally[key] = ArrivalCounts()
    return counts


@dataclass(slots=True)
class ArrivalTally:
    """Every mode's `ArrivalCounts`, each stage's (all modes), and the delta since the last
    report to the master."""

    modes: dict[str, ArrivalCounts] = field(default_factory=dict)
    stages: dict[int, ArrivalCounts] = field(default_factory=dict)
    _delta: dict[str, ArrivalCounts] = field(default_factory=dict)
    _stage_delta: dict[int, ArrivalCounts] = field(default_factory=dict)

    def _bump(self, mode: str, stage: int, name: str, n: int = 1) -> None:
        for counts in (
            _counts(self.modes, mode),
            _counts(self._delta, mode),
            _counts(self.stages, stage),
            _counts(self._stage_delta, stage),
        ):
            setattr(counts, name, getattr(counts, name) + n)

    def scheduled(self, mode: str, stage: int = 0) -> None:
        self._bump(mode, stage, "scheduled")

    def sent(self, mode: str, stage: int = 0) -> None:
        self._bump(mode, stage, "sent")

    def dropped(self, mode: str, stage: int = 0) -> None:
        self._bump(mode, stage, "dropped")

    def unsent_at_end(self, mode: str, n: int, stage: int = 0) -> None:
        if n:
            self._bump(mode, stage, "unsent_at_end", n)

    def warmup(self, mode: str, stage: int = 0) -> None:
        self._bump(mode, stage, "warmup")

    def total(self) -> ArrivalCounts:
        total = ArrivalCounts()
        for counts in self.modes.values():
            total.add(counts)
        return total

    def take_delta(self) -> dict[str, Any]:
        delta, self._delta = self._delta, {}
        stages, self._stage_delta = self._stage_delta, {}
        return {
            "modes": {mode: counts.to_wire() for mode, counts in delta.items()},
            "stages": [[stage, counts.to_wire()] for stage, counts in stages.items()],
        }

    def merge_wire(self, wire: dict[str, Any]) -> None:
        for mode, counts in (wire.get("modes") or {}).items():
            mine = self.modes.get(str(mode))
            if mine is None:
                mine = self.modes[str(mode)] = ArrivalCounts()
            mine.add(ArrivalCounts.from_wire(counts))
        for stage, counts in wire.get("stages") or []:
            theirs = self.stages.get(int(stage))
            if theirs is None:
                theirs = self.stages[int(stage)] = ArrivalCounts()
            theirs.add(ArrivalCounts.from_wire(counts))

    def has_delta(self) -> bool:
        return bool(self._delta or self._stage_delta)

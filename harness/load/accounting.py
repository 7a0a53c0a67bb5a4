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
from typing import Any

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


@dataclass(slots=True)
class ArrivalTally:
    """Every mode's `ArrivalCounts`, and the delta since the last report to the master."""

    modes: dict[str, ArrivalCounts] = field(default_factory=dict)
    _delta: dict[str, ArrivalCounts] = field(default_factory=dict)

    def _bump(self, mode: str, name: str, n: int = 1) -> None:
        for tally in (self.modes, self._delta):
            counts = tally.get(mode)
            if counts is None:
                counts = tally[mode] = ArrivalCounts()
            setattr(counts, name, getattr(counts, name) + n)

    def scheduled(self, mode: str) -> None:
        self._bump(mode, "scheduled")

    def sent(self, mode: str) -> None:
        self._bump(mode, "sent")

    def dropped(self, mode: str) -> None:
        self._bump(mode, "dropped")

    def unsent_at_end(self, mode: str, n: int) -> None:
        if n:
            self._bump(mode, "unsent_at_end", n)

    def warmup(self, mode: str) -> None:
        self._bump(mode, "warmup")

    def total(self) -> ArrivalCounts:
        total = ArrivalCounts()
        for counts in self.modes.values():
            total.add(counts)
        return total

    def take_delta(self) -> dict[str, Any]:
        delta, self._delta = self._delta, {}
        return {mode: counts.to_wire() for mode, counts in delta.items()}

    def merge_wire(self, wire: dict[str, Any]) -> None:
        for mode, counts in wire.items():
            mine = self.modes.get(str(mode))
            if mine is None:
                mine = self.modes[str(mode)] = ArrivalCounts()
            mine.add(ArrivalCounts.from_wire(counts))

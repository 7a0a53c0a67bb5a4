"""When each generation request reached the mock, for ``/mock/stats`` ``arrivals``.

An open-loop load generator promises a rate and a spacing of requests; the mock is where that
promise is checked. `ArrivalLog` keeps the arrival time of every generation request (the
kernel's stamp of the bytes that completed it, in ``perf_counter`` time) and reports them as
seconds since the first one. It keeps at most ``cap`` times (a float each) and counts the rest:
a run at 1,000/s fills the default 200,000 in 200 s, and the report then says
``"truncated": true``. Standard library only; it must not import the harness core: the mock is
the yardstick.
"""

from __future__ import annotations

import threading
from array import array

__all__ = ["DEFAULT_CAP", "ArrivalLog"]

#: times kept at most (1.6 MB of doubles); later arrivals are counted, not kept
DEFAULT_CAP = 200_000


class ArrivalLog:
    """Arrival times of generation requests, in order of arrival; thread-safe, bounded."""

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        if cap < 1:
            raise ValueError(f"cap must be >= 1, got {cap}")
        self.cap = cap
        self._lock = threading.Lock()
        self._times = array("d")
        self._count = 0

    def record(self, t: float) -> None:
        """One arrival at `t` (`perf_counter` seconds)."""
        with self._lock:
            self._count += 1
            if len(self._times) < self.cap:
                self._times.append(t)

    def snapshot(self, *, reset: bool = False) -> dict[str, object]:
        """``{"count": N, "t_s": [0.0, …]}``: every arrival counted, the first ``cap`` of them
        as seconds since the first (to the microsecond), and ``"truncated": true`` when some
        were not kept. ``reset`` forgets them all after reading: the next arrival is 0."""
        with self._lock:
            times, count = self._times[:], self._count
            if reset:
                self._times, self._count = array("d"), 0
        first = times[0] if times else 0.0
        out: dict[str, object] = {"count": count, "t_s": [round(t - first, 6) for t in times]}
        if count > len(times):
            out["truncated"] = True
        return out

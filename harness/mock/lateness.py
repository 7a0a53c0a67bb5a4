"""Bounded, thread-safe histograms of write lateness for the mock's ``/mock/stats``.

`LatenessRecorder` keeps how late each scheduled write left (actual write time minus its
deadline) in fixed buckets, so that a mock running for hours answers p50/p99/max in
constant memory. Standard library only; it must not import anything from the harness
core (``harness.sse``, ``harness.protocols``, ``harness.record``, ``harness.stats``): the
mock is the yardstick.
"""

from __future__ import annotations

import math
import threading


class LatenessRecorder:
    """Histogram of write lateness (write time − deadline); thread-safe, bounded.

    Resolution is 1 µs below 10 ms and 100 µs above, so p50/p99 are exact to the
    microsecond in the range that matters and memory stays constant however long the
    mock runs.
    """

    _FINE_US = 10_000
    _COARSE_US = 100

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fine = [0] * self._FINE_US
        self._coarse: dict[int, int] = {}
        self._count = 0
        self._total_s = 0.0
        self._max_s = 0.0

    def record(self, lateness_s: float) -> None:
        lateness_s = max(lateness_s, 0.0)
        us = int(lateness_s * 1e6)
        with self._lock:
            if us < self._FINE_US:
                self._fine[us] += 1
            else:
                key = us // self._COARSE_US
                self._coarse[key] = self._coarse.get(key, 0) + 1
            self._count += 1
            self._total_s += lateness_s
            self._max_s = max(self._max_s, lateness_s)

    def reset(self) -> None:
        with self._lock:
            self._fine = [0] * self._FINE_US
            self._coarse.clear()
            self._count = 0
            self._total_s = 0.0
            self._max_s = 0.0

    def summary(self) -> dict[str, float | int]:
        """``{count, mean, p50, p90, p99, max}`` in seconds (quantiles: bucket tops)."""
        with self._lock:
            fine = list(self._fine)
            coarse = sorted(self._coarse.items())
            count, total_s, max_s = self._count, self._total_s, self._max_s
        if count == 0:
            return {"count": 0}
        out: dict[str, float | int] = {"count": count, "mean": total_s / count}
        for name, q in (("p50", 0.50), ("p90", 0.90), ("p99", 0.99)):
            rank = max(1, math.ceil(q * count))
            out[name] = min(_rank_value(rank, fine, coarse, self._COARSE_US), max_s)
        out["max"] = max_s
        return out


def _rank_value(rank: int, fine: list[int], coarse: list[tuple[int, int]], coarse_us: int) -> float:
    seen = 0
    for us, n in enumerate(fine):
        seen += n
        if seen >= rank:
            return (us + 1) * 1e-6
    for key, n in coarse:
        seen += n
        if seen >= rank:
            return (key + 1) * coarse_us * 1e-6
    return math.inf  # unreachable while count == sum of buckets

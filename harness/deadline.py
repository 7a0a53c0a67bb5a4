"""The deadlines of a stream, and the one timer per stream that enforces them.

TTFT until the first token, then stall (from the latest token) and total; keep-alive comments
and other non-token events never move them (catalogue NET-05/06). A socket timeout would cost a
gevent `Timeout` per read that waits (once per token); `Watchdog` is one libev timer per stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from time import perf_counter
from typing import Any

import gevent

from harness.errors import ErrorClass
from harness.record import RequestRecord
from harness.target import Timeouts


@dataclass(frozen=True, slots=True)
class StreamDeadlines:
    """The deadlines of a stream: TTFT until the first token, then stall (from the latest
    token) and total. Keep-alive comments and other non-token events never move them
    (catalogue NET-05/06)."""

    record: RequestRecord
    ttft: float
    total: float
    stall_s: float

    @classmethod
    def of(cls, record: RequestRecord, timeouts: Timeouts) -> StreamDeadlines:
        total = record.t0 + timeouts.total_s
        return cls(record, min(record.t0 + timeouts.ttft_s, total), total, timeouts.stall_s)

    def nearest(self) -> tuple[float, ErrorClass]:
        """The deadline that comes first now, and the error class of missing it."""
        t_last = self.record.t_last_token
        if t_last is None:
            if self.ttft < self.total:
                return self.ttft, ErrorClass.TTFT_TIMEOUT
            return self.total, ErrorClass.TOTAL_TIMEOUT
        if t_last + self.stall_s < self.total:
            return t_last + self.stall_s, ErrorClass.STALL_TIMEOUT
        return self.total, ErrorClass.TOTAL_TIMEOUT


class DeadlinePassed(Exception):
    """Thrown into the reading greenlet when a stream's nearest deadline has passed."""

    def __init__(self, error_class: ErrorClass) -> None:
        super().__init__(error_class.value)
        self.error_class = error_class


class Watchdog:
    """Interrupts the reading greenlet when a stream's nearest deadline passes.

    A socket timeout costs a gevent `Timeout` (a new timer, started and closed) on every
    read that waits: once per token. The watchdog is one libev timer per stream, set for
    the nearest deadline; when it fires it looks again (tokens move the stall deadline
    later without touching the timer) and either sets itself for the new deadline or throws
    `DeadlinePassed` into the greenlet, which is then waiting in `recv()` (the hub runs
    timers only while that greenlet waits). The reader calls `set()` when the nearest
    deadline comes earlier than the timer (the first token, when stall_s < ttft_s)."""

    __slots__ = ("_deadlines", "_greenlet", "_loop", "_timer", "deadline")

    def __init__(self, deadlines: StreamDeadlines, deadline: float) -> None:
        self._deadlines = deadlines
        self._greenlet = gevent.getcurrent()
        self._loop = gevent.get_hub().loop
        self._timer: Any = None
        self.deadline = deadline
        self.set(deadline)

    def set(self, deadline: float) -> None:
        """Fire at `deadline` (perf_counter time) instead of when set before."""
        if self._timer is not None:
            self._timer.close()
        self.deadline = deadline
        self._timer = self._loop.timer(max(deadline - perf_counter(), 0.0))
        self._timer.start(self._fire)

    def _fire(self) -> None:
        self._timer.close()
        self._timer = None
        deadline, error_class = self._deadlines.nearest()
        if perf_counter() < deadline:
            self.set(deadline)
        else:
            self._greenlet.throw(DeadlinePassed(error_class))

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.close()
            self._timer = None

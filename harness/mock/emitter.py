"""Timer-driven writer: exact bytes on sockets at exact `perf_counter()` deadlines.

One `Emitter` thread owns a heap of due writes across all connections. A caller (a
connection thread of the mock, or a scripted test server) hands it a schedule,
``[(offset_s, payload), ...]`` relative to a base time ``t_base``; the emitter writes
each payload in its own ``send()`` at ``t_base + offset_s``, in order, and records how
late every write was (`LatenessRecorder`). A payload is bytes, an `Action` (a clean
close or a TCP reset), or a callable that does something to the socket, so fault
injection can reuse the same machinery. A peer that reads too slowly to take a write
whole is finished by a helper thread, never by blocking the emitter. Standard library
only; it must not import anything from the harness core (``harness.sse``,
``harness.protocols``, ``harness.record``, ``harness.stats``): the mock is the
yardstick.

Example, a scripted reply ("@100 R, @300 T, then close")::

    emitter = Emitter()
    emitter.start()
    t_recv = time.perf_counter()  # just after the request was read
    done = emitter.schedule(sock, t_recv, [(0.1, R), (0.3, T), (0.3, Action.CLOSE)])
    done.wait()
    done.written  # perf_counter() just after each write: the truth to test against
"""

from __future__ import annotations

import ctypes
import enum
import heapq
import itertools
import math
import socket
import struct
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from time import perf_counter, sleep
from typing import TypeAlias

__all__ = [
    "Action",
    "Completion",
    "Emitter",
    "LatenessRecorder",
    "Payload",
]


class Action(enum.Enum):
    """An act on the connection instead of bytes; only a schedule's last item."""

    CLOSE = "close"
    """``shutdown(SHUT_WR)``: the peer reads a clean end of stream (FIN)."""
    RESET = "reset"
    """``SO_LINGER`` 0 then ``close()``: the peer gets a TCP RST (``ECONNRESET``)."""


Payload: TypeAlias = bytes | Action | Callable[[socket.socket], None]
"""Bytes for one ``send()``, an `Action`, or a callable applied to the socket."""


class Completion:
    """The outcome of one schedule: `wait` until it is written or has failed.

    ``written`` holds the ``perf_counter()`` time just after each item was performed
    (the mock's truth for when bytes left). ``error`` is the `OSError` that ended it
    early (the peer went away, or the emitter stopped). ``closed`` is true when the
    socket must not be used again: an `Action` closed it, or a write failed.
    """

    __slots__ = ("_event", "_on_done", "closed", "error", "written")

    def __init__(self, on_done: Callable[[Completion], None] | None = None) -> None:
        self._event = threading.Event()
        self._on_done = on_done
        self.written: list[float] = []
        self.error: OSError | None = None
        self.closed = False

    @property
    def ok(self) -> bool:
        """Every item was performed."""
        return self._event.is_set() and self.error is None

    def done(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the schedule finished; false if ``timeout`` expired first."""
        return self._event.wait(timeout)

    def _finish(self, error: OSError | None = None) -> None:
        self.error = error
        if error is not None:
            self.closed = True
        if self._on_done is not None:
            try:
                self._on_done(self)
            except Exception:  # noqa: BLE001 - a faulty callback must not kill the emitter
                traceback.print_exc(file=sys.stderr)
        self._event.set()


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


class _Job:
    """One schedule in flight: socket, absolute deadlines, next item to write."""

    __slots__ = ("completion", "index", "offsets", "payloads", "sock", "t_base")

    def __init__(
        self,
        sock: socket.socket,
        t_base: float,
        offsets: list[float],
        payloads: list[Payload],
        completion: Completion,
    ) -> None:
        self.sock = sock
        self.t_base = t_base
        self.offsets = offsets
        self.payloads = payloads
        self.index = 0
        self.completion = completion

    def deadline(self) -> float:
        return self.t_base + self.offsets[self.index]


_LINGER_RESET = struct.pack("ii", 1, 0)
_PR_SET_TIMERSLACK = 29  # <linux/prctl.h>

DEFAULT_SPIN_S = 100e-6
"""The emitter sleeps until this long before a deadline, then spins: timed waits wake
50-100 µs late (less with `_reduce_timer_slack`), and the spin turns that into ~1 µs at
the cost of some CPU on the mock's own core."""


def _reduce_timer_slack() -> None:
    """Set this thread's timer slack to 1 µs (Linux; the default 50 µs delays every wake).

    Best effort: elsewhere, or without prctl, the spin alone absorbs the slack.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_TIMERSLACK, 1000, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Emitter:
    """The single writer thread: every payload leaves at its absolute deadline.

    Timing: the thread sleeps on a `threading.Condition` until the earliest deadline,
    then writes everything due with non-blocking ``send()`` (one call per payload) and
    records its lateness. Run it in a process that set ``sys.setswitchinterval(0.0005)``
    so that the woken thread gets the GIL quickly. A caller must not touch the socket
    until the `Completion` is done.
    """

    def __init__(self, *, spin_s: float = DEFAULT_SPIN_S) -> None:
        self.lateness = LatenessRecorder()
        """Write time − deadline of items with an offset > 0: the emitter's own accuracy."""
        self.reaction = LatenessRecorder()
        """Write time − base of items at offset 0 ("at once"): how long the caller took
        from its base (for the mock, the request's arrival) to hand the schedule over,
        plus the write; the server's reaction time rather than the emitter's timing."""
        self.spin_s = spin_s
        """How long before a deadline the thread stops sleeping and spins instead."""
        self.handoffs = 0
        """Writes a slow peer could not take at once, finished by a helper thread."""
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Job]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("emitter already started")
        self._thread = threading.Thread(target=self._run, name="mock-emitter", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the thread; pending schedules end with `ConnectionAbortedError`."""
        with self._cond:
            self._stopping = True
            pending = [job for _, _, job in self._heap]
            self._heap.clear()
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        for job in pending:
            job.completion._finish(ConnectionAbortedError("emitter stopped"))

    def schedule(
        self,
        sock: socket.socket,
        t_base: float,
        items: Sequence[tuple[float, Payload]],
        on_done: Callable[[Completion], None] | None = None,
    ) -> Completion:
        """Write ``items`` to ``sock``: each payload at ``t_base + offset_s``, in order.

        Offsets are seconds, ``>= 0`` and non-decreasing; items sharing an offset are
        still separate ``send()`` calls, in list order. ``on_done`` runs on the emitter
        thread as soon as the schedule ends (keep it short, it delays other writes).
        """
        # Runs on the caller's thread for every response: C-speed checks, no Python loop.
        offsets = [offset_s for offset_s, _ in items]
        payloads = [payload for _, payload in items]
        if offsets and not (
            offsets[0] >= 0.0 and math.isfinite(offsets[-1]) and offsets == sorted(offsets)
        ):
            raise ValueError("offsets must be finite, >= 0 and non-decreasing")
        if Action.CLOSE in payloads[:-1] or Action.RESET in payloads[:-1]:
            raise ValueError("an Action can only be the last item")
        completion = Completion(on_done)
        if not payloads:
            completion._finish()
            return completion
        job = _Job(sock, t_base, offsets, payloads, completion)
        with self._cond:
            if self._thread is None or self._stopping:
                raise RuntimeError("emitter is not running")
            entry = (t_base + offsets[0], next(self._seq), job)
            heapq.heappush(self._heap, entry)
            if self._heap[0] is entry:
                self._cond.notify()
        return completion

    # -- the emitter thread -------------------------------------------------------------

    def _run(self) -> None:
        _reduce_timer_slack()
        heap, cond, spin_s = self._heap, self._cond, self.spin_s
        due: list[tuple[float, int, _Job]] = []
        again: list[_Job] = []
        while True:
            with cond:
                for job in again:
                    heapq.heappush(heap, (job.deadline(), next(self._seq), job))
                again.clear()
                while not self._stopping:
                    if not heap:
                        cond.wait()
                        continue
                    delay = heap[0][0] - perf_counter()
                    if delay <= spin_s:
                        break
                    cond.wait(delay - spin_s)
                if self._stopping:
                    return
                target = heap[0][0]
            # A timed wait wakes some tens of µs late; the last stretch is spun instead,
            # outside the lock so that callers can still schedule meanwhile.
            while perf_counter() < target:
                pass
            with cond:
                now = perf_counter()
                while heap and heap[0][0] <= now:
                    due.append(heapq.heappop(heap))
            for deadline, _, job in due:
                if self._perform(job, deadline):
                    again.append(job)
            due.clear()

    def _perform(self, job: _Job, deadline: float) -> bool:
        """Perform the job's next item without blocking; true if more items remain."""
        payload = job.payloads[job.index]
        completion = job.completion
        try:
            if isinstance(payload, bytes):
                try:
                    sent = job.sock.send(payload, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    sent = 0
                if sent < len(payload):
                    self.handoffs += 1
                    threading.Thread(
                        target=self._finish_blocking,
                        args=(job, payload[sent:]),
                        name="mock-slow-peer",
                        daemon=True,
                    ).start()
                    return False
            else:
                _act(job.sock, payload, completion)
        except OSError as exc:
            completion._finish(exc)
            return False
        self._record(job, deadline)
        job.index += 1
        if job.index < len(job.payloads):
            return True
        completion._finish()
        return False

    def _record(self, job: _Job, deadline: float) -> None:
        t_written = perf_counter()
        if job.offsets[job.index] == 0.0:  # "at once"
            self.reaction.record(t_written - deadline)
        else:
            self.lateness.record(t_written - deadline)
        job.completion.written.append(t_written)

    def _finish_blocking(self, job: _Job, rest: bytes) -> None:
        """Finish a slow peer's job with blocking writes, off the emitter thread."""
        completion = job.completion
        try:
            job.sock.sendall(rest)
            while True:
                self._record(job, job.deadline())
                job.index += 1
                if job.index == len(job.payloads):
                    break
                delay = job.deadline() - perf_counter()
                if delay > 0:
                    sleep(delay)
                payload = job.payloads[job.index]
                if isinstance(payload, bytes):
                    job.sock.sendall(payload)
                else:
                    _act(job.sock, payload, completion)
        except OSError as exc:
            completion._finish(exc)
            return
        completion._finish()


def _act(
    sock: socket.socket,
    payload: Action | Callable[[socket.socket], None],
    c: Completion,
) -> None:
    if payload is Action.CLOSE:
        c.closed = True
        sock.shutdown(socket.SHUT_WR)
    elif payload is Action.RESET:
        c.closed = True
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        sock.close()
    else:
        payload(sock)

"""Timer-driven writer: exact bytes on sockets at exact `perf_counter()` deadlines.

One `Emitter` thread owns a heap of due writes across all connections. A caller hands
it a schedule, ``[(offset_s, payload), ...]`` relative to a base time ``t_base``; the
emitter writes each payload in its own non-blocking ``send()`` at ``t_base + offset_s``,
in order, and records how late every write was. A payload is bytes, an `Action` (a clean
close or a TCP reset), or a callable applied to the socket, so fault injection and
scripted servers reuse the same machinery. The same thread also dispatches readiness
callbacks (`watch`), so a server can do all its reading and parsing on it, between
writes: in CPython a second busy thread would take the GIL from the emitter at every
``send()`` (each one releases it), and under a burst of requests the writes would queue
behind it by milliseconds. A peer too slow to take a write whole gets the rest when its
socket is writable; nothing ever blocks the thread. Standard library only; it must not
import anything from the harness core (``harness.sse``, ``harness.protocols``,
``harness.record``, ``harness.stats``): the mock is the yardstick.

Example, a scripted reply ("@100 R, @300 T, then close")::

    emitter = Emitter()
    emitter.start()
    t_recv = time.perf_counter()  # when the request had been read
    done = emitter.schedule(sock, t_recv, [(0.1, R), (0.3, T), (0.3, Action.CLOSE)])
    done.wait()
    done.written  # perf_counter() just after each write: the truth to test against
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import enum
import heapq
import itertools
import math
import select
import selectors
import socket
import struct
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import TypeAlias

from harness.mock.lateness import LatenessRecorder

__all__ = ["DEFAULT_SPIN_S", "Action", "Completion", "Emitter", "Later", "Payload", "Timer"]


class Action(enum.Enum):
    """An act on the connection instead of bytes; only a schedule's last item."""

    CLOSE = "close"
    """``shutdown(SHUT_WR)``: the peer reads a clean end of stream (FIN)."""
    RESET = "reset"
    """``SO_LINGER`` 0 then ``close()``: the peer gets a TCP RST (``ECONNRESET``)."""


class Later:
    """Bytes made when they are due, from what the schedule has done so far.

    ``render(t_base, written)`` gets the schedule's base time and the ``perf_counter()``
    times of the items already written (see `Completion.written`) and returns the bytes
    for one ``send()``, written like any bytes item. For a reply that reports its own
    timing (llama.cpp's ``timings``): the figures are the writes that really happened.
    It runs on the loop thread at the deadline: keep it short.
    """

    __slots__ = ("render",)

    def __init__(self, render: Callable[[float, list[float]], bytes]) -> None:
        self.render = render


Payload: TypeAlias = bytes | Action | Later | Callable[[socket.socket], None]
"""Bytes for one ``send()``, an `Action`, bytes made at the deadline (`Later`), or a
callable applied to the socket."""

DEFAULT_SPIN_S = 0.0
"""How long before a deadline the emitter stops sleeping and spins. Timed waits wake some
tens of µs late (timer slack is cut to 1 µs); a spin of 100 µs turns that into a few µs
when writes are sparse (32 streams: lateness p50 45 -> 15 µs), but measured on a 2-core
VM it made p99 far worse under load (256 streams: 0.09 -> 2.5 ms) and doubled the CPU,
so it is off unless asked for."""

_PR_SET_TIMERSLACK = 29  # <linux/prctl.h>
_LINGER_RESET = struct.pack("ii", 1, 0)
_MAX_SEND = 64 * 1024


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
        self._event.set()
        if self._on_done is not None:
            _call_safely(self._on_done, self)


class _Job:
    """One schedule in flight: socket, base, offsets, and the next item to perform."""

    __slots__ = (
        "completion",
        "index",
        "measure",
        "offsets",
        "payloads",
        "rest",
        "sock",
        "t_base",
    )

    def __init__(
        self,
        sock: socket.socket,
        t_base: float,
        offsets: list[float],
        payloads: list[Payload],
        completion: Completion,
        measure: bool,
    ) -> None:
        self.measure = measure
        self.sock = sock
        self.t_base = t_base
        self.offsets = offsets
        self.payloads = payloads
        self.completion = completion
        self.index = 0
        self.rest = memoryview(b"")  # what a slow peer has not taken yet of the item

    def deadline(self) -> float:
        return self.t_base + self.offsets[self.index]


class Timer:
    """A call at a deadline on the loop thread (`Emitter.call_at`)."""

    __slots__ = ("cancelled", "fn")

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class _Watch:
    """What the loop does when a socket is ready: read callback and/or a stalled job."""

    __slots__ = ("on_readable", "stalled")

    def __init__(self) -> None:
        self.on_readable: Callable[[], None] | None = None
        self.stalled: _Job | None = None

    def events(self) -> int:
        return (selectors.EVENT_READ if self.on_readable else 0) | (
            selectors.EVENT_WRITE if self.stalled else 0
        )


class Emitter:
    """The single loop thread: due writes first, readiness callbacks in between.

    Thread safety: `schedule` may be called from any thread; `watch` and `unwatch` are
    for the loop thread (its callbacks) or before `start`. Callbacks (``on_readable``,
    ``on_done``) run on the loop thread and must be short: they delay every write.
    """

    def __init__(self, *, spin_s: float = DEFAULT_SPIN_S) -> None:
        self.spin_s = spin_s
        """How long before a deadline the thread stops sleeping and spins instead."""
        self.lateness = LatenessRecorder()
        """Write time − deadline of items with an offset > 0: the emitter's accuracy."""
        self.reaction = LatenessRecorder()
        """Write time − base of items at offset 0 ("at once"): for the mock, the time
        from a request's arrival to the first byte of its answer."""
        self.stalled_writes = 0
        """Items not written by one ``send()``, finished when the socket was writable: a
        slow peer, or a payload over 64 KiB (sent in 64 KiB pieces between other
        writes)."""
        self._heap: list[tuple[float, int, _Job | Timer]] = []
        self._seq = itertools.count()
        self._selector = selectors.DefaultSelector()
        self._watches: dict[socket.socket, _Watch] = {}
        self._calls: collections.deque[Callable[[], None]] = collections.deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread: threading.Thread | None = None
        self._loop_ident: int | None = None
        self._stopping = False

    # -- public API ---------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("emitter already started")
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="mock-emitter", daemon=True
        )
        self._thread.start()
        started.wait()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the loop; schedules still pending end with `ConnectionAbortedError`."""
        self._stopping = True
        self._wake()
        if self._thread is not None and self._thread.ident != threading.get_ident():
            self._thread.join(timeout)
        pending = [job for _, _, job in self._heap if isinstance(job, _Job)]
        pending += [w.stalled for w in self._watches.values() if w.stalled is not None]
        self._heap.clear()
        for job in pending:
            job.completion._finish(ConnectionAbortedError("emitter stopped"))
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def schedule(
        self,
        sock: socket.socket,
        t_base: float,
        items: Sequence[tuple[float, Payload]],
        on_done: Callable[[Completion], None] | None = None,
        *,
        measure: bool = True,
    ) -> Completion:
        """Write ``items`` to ``sock``: each payload at ``t_base + offset_s``, in order.

        Offsets are seconds, ``>= 0`` and non-decreasing; items sharing an offset are
        still separate ``send()`` calls, in list order. Offset 0 means "at once". The
        caller must not write to ``sock`` until the `Completion` is done; ``on_done``
        runs on the loop thread when it is. ``measure=False`` keeps the writes out of
        `lateness` and `reaction` (for replies that are not part of what is measured).
        """
        # Runs for every response: C-speed checks, no Python loop over the items.
        offsets = [offset_s for offset_s, _ in items]
        payloads = [payload for _, payload in items]
        if offsets and not (
            offsets[0] >= 0.0 and math.isfinite(offsets[-1]) and offsets == sorted(offsets)
        ):
            raise ValueError("offsets must be finite, >= 0 and non-decreasing")
        if Action.CLOSE in payloads[:-1] or Action.RESET in payloads[:-1]:
            raise ValueError("an Action can only be the last item")
        if self._stopping:
            raise RuntimeError("emitter is stopped")
        completion = Completion(on_done)
        if not payloads:
            completion._finish()
            return completion
        job = _Job(sock, t_base, offsets, payloads, completion, measure)
        if self._off_loop():
            self._call_soon(lambda: self._push(job))
        else:
            self._push(job)
        return completion

    def watch(self, sock: socket.socket, on_readable: Callable[[], None]) -> None:
        """Call ``on_readable()`` on the loop thread whenever ``sock`` is readable."""
        if self._off_loop():
            self._call_soon(lambda: self.watch(sock, on_readable))
            return
        self._watch(sock).on_readable = on_readable
        self._update(sock)

    def unwatch(self, sock: socket.socket) -> None:
        """Stop read callbacks for ``sock`` (call it before closing a watched socket)."""
        if self._off_loop():
            self._call_soon(lambda: self.unwatch(sock))
            return
        watch = self._watches.get(sock)
        if watch is not None:
            watch.on_readable = None
            self._update(sock)

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on the loop thread (from any thread)."""
        self._call_soon(fn)

    def call_at(self, deadline: float, fn: Callable[[], None]) -> Timer:
        """Run ``fn()`` on the loop thread at ``deadline`` (`perf_counter` time), among the
        due writes; ``cancel()`` the returned timer to drop it. From the loop thread only
        (its callbacks), or before `start`."""
        timer = Timer(fn)
        heapq.heappush(self._heap, (deadline, next(self._seq), timer))
        return timer

    # -- the loop -----------------------------------------------------------------------

    def _run(self, started: threading.Event) -> None:
        self._loop_ident = threading.get_ident()
        started.set()
        _reduce_timer_slack()
        heap = self._heap
        while not self._stopping:
            while self._calls:
                _call_safely(self._calls.popleft())
            timeout = None if not heap else max(0.0, heap[0][0] - perf_counter() - self.spin_s)
            ready = self._poll(timeout)
            self._write_due(spin=True)
            for key, mask in ready:
                if key.fileobj is self._wake_r:
                    self._drain_wake()
                    continue
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                watch = self._watches.get(sock)
                if watch is None:
                    continue
                if mask & selectors.EVENT_WRITE and watch.stalled is not None:
                    self._resume(sock, watch)
                if mask & selectors.EVENT_READ and watch.on_readable is not None:
                    _call_safely(watch.on_readable)
                self._write_due(spin=False)

    def _poll(self, timeout: float | None) -> list[tuple[selectors.SelectorKey, int]]:
        # epoll's timeout is in whole milliseconds, rounded up; select() on the epoll fd
        # itself (readable when any socket is ready) waits to the microsecond instead.
        if timeout is None or timeout > 0.0:
            try:
                ready, _, _ = select.select([self._selector], [], [], timeout)
            except (OSError, ValueError):  # a selector without fileno(): ms precision
                return self._selector.select(timeout)
            if not ready:
                return []
        return self._selector.select(0)

    def _write_due(self, *, spin: bool) -> None:
        heap = self._heap
        if not heap:
            return
        if spin:
            target = heap[0][0]
            if target - perf_counter() <= self.spin_s:
                while perf_counter() < target:
                    pass
        now = perf_counter()
        while heap and heap[0][0] <= now:
            _, _, job = heapq.heappop(heap)
            if isinstance(job, Timer):
                if not job.cancelled:
                    _call_safely(job.fn)
            else:
                self._perform(job)
            now = perf_counter()

    def _perform(self, job: _Job) -> None:
        payload = job.payloads[job.index]
        try:
            if isinstance(payload, Later):
                try:
                    payload = payload.render(job.t_base, job.completion.written)
                except Exception as exc:  # a faulty render must not kill the loop
                    raise OSError(f"payload {payload!r} failed: {exc!r}") from exc
            if isinstance(payload, bytes):
                # One send() per item, but at most _MAX_SEND bytes per turn of the loop:
                # on loopback a send() does the receiver's work too, and megabytes
                # would hold every other write up for milliseconds.
                view = memoryview(payload)  # slices without copying
                try:
                    sent = job.sock.send(view[:_MAX_SEND], socket.MSG_DONTWAIT)
                except BlockingIOError:
                    sent = 0
                if sent < len(payload):  # the rest when the socket is writable
                    self.stalled_writes += 1
                    job.rest = view[sent:]
                    self._watch(job.sock).stalled = job
                    self._update(job.sock)
                    return
            else:
                self._act(job, payload)
        except OSError as exc:
            job.completion._finish(exc)
            return
        self._advance(job)

    def _resume(self, sock: socket.socket, watch: _Watch) -> None:
        job = watch.stalled
        assert job is not None
        try:
            sent = sock.send(job.rest[:_MAX_SEND], socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError as exc:
            watch.stalled = None
            self._update(sock)
            job.completion._finish(exc)
            return
        job.rest = job.rest[sent:]
        if job.rest:
            return
        watch.stalled = None
        self._update(sock)
        self._advance(job)

    def _advance(self, job: _Job) -> None:
        t_written = perf_counter()
        offset = job.offsets[job.index]
        if job.measure:
            if offset == 0.0:
                self.reaction.record(t_written - job.t_base)
            else:
                self.lateness.record(t_written - job.t_base - offset)
        job.completion.written.append(t_written)
        job.index += 1
        if job.index < len(job.payloads):
            heapq.heappush(self._heap, (job.deadline(), next(self._seq), job))
        else:
            job.completion._finish()

    def _act(self, job: _Job, payload: Action | Callable[[socket.socket], None]) -> None:
        if payload is Action.CLOSE:
            job.completion.closed = True
            job.sock.shutdown(socket.SHUT_WR)
        elif payload is Action.RESET:
            job.completion.closed = True
            self._forget(job.sock)
            job.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            job.sock.close()
        else:
            try:
                payload(job.sock)
            except OSError:
                raise
            except Exception as exc:  # a faulty payload must not kill the loop
                raise OSError(f"payload {payload!r} failed: {exc!r}") from exc

    # -- registrations ------------------------------------------------------------------

    def _watch(self, sock: socket.socket) -> _Watch:
        watch = self._watches.get(sock)
        if watch is None:
            watch = self._watches[sock] = _Watch()
        return watch

    def _update(self, sock: socket.socket) -> None:
        watch = self._watches[sock]
        events = watch.events()
        registered = sock in self._selector.get_map()
        if not events:
            del self._watches[sock]
            if registered:
                self._selector.unregister(sock)
        elif registered:
            self._selector.modify(sock, events)
        else:
            self._selector.register(sock, events)

    def _forget(self, sock: socket.socket) -> None:
        if self._watches.pop(sock, None) is not None and sock in self._selector.get_map():
            self._selector.unregister(sock)

    def _off_loop(self) -> bool:
        """True on a thread other than the running loop's (before start: false)."""
        return self._thread is not None and threading.get_ident() != self._loop_ident

    def _push(self, job: _Job) -> None:
        heapq.heappush(self._heap, (job.deadline(), next(self._seq), job))

    def _call_soon(self, fn: Callable[[], None]) -> None:
        self._calls.append(fn)
        self._wake()

    def _wake(self) -> None:
        # OSError: full (a wake-up is pending anyway) or closed (stopping).
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass


def _call_safely(fn: Callable[..., None], *args: object) -> None:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - a faulty callback must not kill the loop
        traceback.print_exc(file=sys.stderr)


def _reduce_timer_slack() -> None:
    """Set this thread's timer slack to 1 µs (Linux; the default 50 µs delays wakes).

    Best effort: elsewhere, or without prctl, the spin alone absorbs the slack.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_TIMERSLACK, 1000, 0, 0, 0)
    except (OSError, AttributeError):
        pass

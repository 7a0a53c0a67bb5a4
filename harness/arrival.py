"""When bytes reached the socket: the kernel's receive timestamps, in `perf_counter` time.

A load generator that takes `perf_counter()` after `recv()` returns measures when it got round
to reading, not when the bytes arrived. Under load those differ by however long the event loop
was busy with other streams: at 512 streams a burst of tokens that arrive together is read one
greenlet after another, and the last one read looks late (an inflated ITL, then a shortened one).
With `SO_TIMESTAMPNS` (Linux) the kernel stamps every arriving TCP segment, and `recvmsg()`
returns the stamp of the last segment it read. That is the closest to the wire a user-space
timestamp can get, and it does not depend on how busy the harness is.

The stamp is wall-clock time (`CLOCK_REALTIME`); every duration in the harness is
`perf_counter` time (docs/design.md). So each read is mapped by its age: `perf_counter()` taken
right after the read, minus how long ago (by the wall clock) the kernel stamped it. A stamp that
is in the future or implausibly old (the wall clock was stepped) is ignored, and the read keeps
the time `recv()` returned, which is also what every read gets without the socket option (TLS,
where OpenSSL reads the socket itself, or another OS).
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable
from time import perf_counter, time_ns

import gevent.socket

#: <asm-generic/socket.h>; the Python `socket` module does not export it
SO_TIMESTAMPNS = 35
_STAMP_SPACE = socket.CMSG_SPACE(16)
_TIMESPEC = struct.Struct("@qq")
#: a stamp older than this is taken for a stepped wall clock, not a busy reader
MAX_STAMP_AGE_S = 60.0


class ArrivalClock:
    """The arrival time of the latest read on a connection (one per client; one read at a
    time). `t` is 0.0 until a stamped read happened since the last `reset()`."""

    __slots__ = ("stamped_reads", "t")

    def __init__(self) -> None:
        self.t = 0.0
        #: reads that carried a kernel stamp, for tests and run metadata
        self.stamped_reads = 0

    def reset(self) -> None:
        self.t = 0.0


def arrival_time(ancdata: list[tuple[int, int, bytes]], now_ns: int, now: float) -> float | None:
    """The `perf_counter` time a kernel stamp in `ancdata` stands for; None without a usable
    one. `now_ns` (wall clock, ns) and `now` (`perf_counter`) are taken together just after
    the read."""
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
            sec, nsec = _TIMESPEC.unpack_from(payload)
            age_s: float = (now_ns - sec * 1_000_000_000 - nsec) * 1e-9
            if 0.0 <= age_s < MAX_STAMP_AGE_S:
                return now - age_s
    return None


class StampedSocket(gevent.socket.socket):  # type: ignore[misc]
    """A cooperative socket whose `recv` also records the bytes' arrival on its clock.

    Everything that reads this socket through `recv` (geventhttpclient's header reading as
    well as the harness's own body loop) leaves the arrival time of its latest read in
    `clock.t`.
    """

    __slots__ = ("clock",)

    clock: ArrivalClock

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        # gevent's cooperative read loop, on recvmsg (one Python frame less than calling
        # gevent's own recvmsg: this runs once per token)
        while True:
            try:
                data, ancdata, _, _ = self._sock.recvmsg(bufsize, _STAMP_SPACE, flags)
                break
            except BlockingIOError:
                if self.timeout == 0.0:
                    raise
            self._wait(self._read_event)
        now_ns = time_ns()
        now = perf_counter()
        clock = self.clock
        if ancdata:
            t = arrival_time(ancdata, now_ns, now)
            if t is not None:
                clock.t = t
                clock.stamped_reads += 1
                return data  # type: ignore[no-any-return]
        clock.t = now
        return data  # type: ignore[no-any-return]


def stamped_socket_factory(clock: ArrivalClock) -> Callable[[int, int, int], StampedSocket]:
    """A `ConnectionPool._create_tcp_socket` replacement: sockets that stamp onto `clock`."""

    def create(family: int, socktype: int, protocol: int) -> StampedSocket:
        sock = StampedSocket(family, socktype, protocol)
        sock.clock = clock
        with contextlib.suppress(OSError):  # not Linux: reads keep the time recv() returned
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        return sock

    return create

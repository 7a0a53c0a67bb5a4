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

Pure: standard library only. The socket that reads with `recvmsg()` and leaves each read's time
on an `ArrivalClock` is the transport's (`harness.transport.geventhttp.StampedSocket`).
"""

from __future__ import annotations

import socket
import struct

#: <asm-generic/socket.h>; the Python `socket` module does not export it
SO_TIMESTAMPNS = 35
STAMP_SPACE = socket.CMSG_SPACE(16)
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

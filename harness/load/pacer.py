"""Wake up at a due time with sub-millisecond precision, without spinning.

gevent's timers go through `epoll_wait`, whose timeout is whole milliseconds (libev rounds
up): a request due in 0.3 ms would be sent 1 ms later, and a pacer built on them falls
behind at high rates (AIPerf under-delivered above ~500 requests/s on 1 ms timers). A Linux
`timerfd` armed with an absolute `CLOCK_MONOTONIC` time becomes readable when it expires,
with the kernel's high-resolution timers; waiting for it to become readable wakes the event
loop within tens of microseconds. `time.perf_counter()` is `CLOCK_MONOTONIC` on Linux, so a
due time in perf_counter seconds arms the timer as it is.

Where there is no timerfd (another OS, or perf_counter on another clock), `Pacer` falls back
to gevent's sleep and says so (`kind`).

Transport layer: gevent and ctypes.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import time

import gevent
from gevent.hub import get_hub

_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = os.O_CLOEXEC
_TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _timerfd_usable() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    return "CLOCK_MONOTONIC" in time.get_clock_info("perf_counter").implementation


class Pacer:
    """`wait_until(t)`: return at perf_counter time `t` (at once if it is past). One
    greenlet uses a pacer at a time. `close()` releases the timer."""

    def __init__(self) -> None:
        self.kind = "sleep"
        self._fd = -1
        self._watcher: object | None = None
        if _timerfd_usable():
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                fd = libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
            except (OSError, AttributeError):
                fd = -1
            if fd >= 0:
                self._settime = libc.timerfd_settime
                self._fd = fd
                self._watcher = get_hub().loop.io(fd, 1)
                self.kind = "timerfd"

    @staticmethod
    def kind_here() -> str:
        """What a pacer on this machine would use, without making one."""
        return "timerfd" if _timerfd_usable() else "sleep"

    def wait_until(self, t: float) -> None:
        if self._fd < 0:
            delay = t - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            return
        sec = int(t)
        spec = _Itimerspec(_Timespec(0, 0), _Timespec(sec, int((t - sec) * 1e9)))
        if self._settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        get_hub().wait(self._watcher)
        with contextlib.suppress(BlockingIOError):  # already drained
            os.read(self._fd, 8)

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()  # type: ignore[attr-defined]
            self._watcher = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

"""Kernel arrival stamps mapped to perf_counter time (`harness.arrival.arrival_time`)."""

from __future__ import annotations

import socket
import struct

import pytest

from harness.arrival import MAX_STAMP_AGE_S, SO_TIMESTAMPNS, arrival_time

NOW_NS = 1_800_000_000_123_456_789  # wall clock just after the read
NOW = 5_000.0  # perf_counter just after the read


def stamp(age_s: float) -> list[tuple[int, int, bytes]]:
    """The control message of a segment stamped `age_s` before NOW_NS."""
    stamped_ns = NOW_NS - round(age_s * 1e9)
    payload = struct.pack("@qq", stamped_ns // 1_000_000_000, stamped_ns % 1_000_000_000)
    return [(socket.SOL_SOCKET, SO_TIMESTAMPNS, payload)]


@pytest.mark.parametrize("age_s", [0.0, 0.000_05, 0.0123, 2.5, MAX_STAMP_AGE_S - 1])
def test_a_stamp_is_its_age_before_now(age_s: float) -> None:
    t = arrival_time(stamp(age_s), NOW_NS, NOW)
    assert t is not None
    assert t == pytest.approx(NOW - age_s, abs=1e-9)


def test_a_stamp_from_the_future_is_ignored() -> None:
    # the wall clock was stepped back between the segment's arrival and the read
    assert arrival_time(stamp(-0.010), NOW_NS, NOW) is None


def test_an_implausibly_old_stamp_is_ignored() -> None:
    # the wall clock was stepped forward: the age is not the reader's delay
    assert arrival_time(stamp(MAX_STAMP_AGE_S + 1), NOW_NS, NOW) is None


def test_other_control_messages_are_ignored() -> None:
    payload = stamp(0.01)[0][2]
    assert arrival_time([(socket.SOL_SOCKET, SO_TIMESTAMPNS + 1, payload)], NOW_NS, NOW) is None
    assert arrival_time([(socket.IPPROTO_TCP, SO_TIMESTAMPNS, payload)], NOW_NS, NOW) is None
    assert arrival_time([(socket.SOL_SOCKET, SO_TIMESTAMPNS, payload[:8])], NOW_NS, NOW) is None
    assert arrival_time([], NOW_NS, NOW) is None


def test_the_stamp_among_other_messages_is_found() -> None:
    other = (socket.IPPROTO_IP, 1, b"\x00" * 4)
    t = arrival_time([other, *stamp(0.02)], NOW_NS, NOW)
    assert t == pytest.approx(NOW - 0.02, abs=1e-9)

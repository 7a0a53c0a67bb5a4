"""The mock's arrival log (`harness.mock.arrivals`): times since the first, the cap, the
reset — given times, without sockets."""

from __future__ import annotations

import pytest

from harness.mock.arrivals import DEFAULT_CAP, ArrivalLog


def test_times_are_seconds_since_the_first_to_the_microsecond() -> None:
    log = ArrivalLog()
    for t in (1000.25, 1000.3, 1000.3498764, 1001.25):
        log.record(t)
    assert log.snapshot() == {"count": 4, "t_s": [0.0, 0.05, 0.099876, 1.0]}


def test_an_empty_log_has_no_times() -> None:
    assert ArrivalLog().snapshot() == {"count": 0, "t_s": []}


def test_past_the_cap_arrivals_are_counted_not_kept() -> None:
    log = ArrivalLog(cap=3)
    for t in (5.0, 5.5, 6.0, 6.5, 7.0):
        log.record(t)
    assert log.snapshot() == {"count": 5, "t_s": [0.0, 0.5, 1.0], "truncated": True}


def test_exactly_at_the_cap_is_not_truncated() -> None:
    log = ArrivalLog(cap=2)
    log.record(1.0)
    log.record(2.0)
    assert log.snapshot() == {"count": 2, "t_s": [0.0, 1.0]}


def test_reset_reads_then_forgets_and_the_next_arrival_is_zero() -> None:
    log = ArrivalLog(cap=2)
    for t in (1.0, 2.0, 3.0):
        log.record(t)
    assert log.snapshot(reset=True) == {"count": 3, "t_s": [0.0, 1.0], "truncated": True}
    log.record(10.0)
    log.record(10.125)
    assert log.snapshot() == {"count": 2, "t_s": [0.0, 0.125]}


def test_reading_without_reset_keeps_everything() -> None:
    log = ArrivalLog()
    log.record(1.0)
    log.snapshot()
    log.record(1.5)
    assert log.snapshot() == {"count": 2, "t_s": [0.0, 0.5]}


def test_the_default_cap_is_200000() -> None:
    assert (DEFAULT_CAP, ArrivalLog().cap) == (200_000, 200_000)


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^cap must be >= 1, got 0$"):
        ArrivalLog(cap=0)

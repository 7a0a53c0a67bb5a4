"""The mock's slot queue (`harness.mock.slots`): the limit holds, waiters go FIFO, nothing
leaks — on a fake clock, without sockets."""

from __future__ import annotations

import functools

import pytest

from harness.mock.slots import Slots, Ticket, TicketState


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _start(started: list[tuple[int, float]], index: int, t_base: float) -> None:
    started.append((index, t_base))


def tickets(slots: Slots, arrivals: list[float]) -> tuple[list[Ticket], list[tuple[int, float]]]:
    """Enter one ticket per arrival time; return them and the (index, t_base) of each start."""
    started: list[tuple[int, float]] = []
    out = []
    for i, t in enumerate(arrivals):
        ticket = Ticket(t, functools.partial(_start, started, i))
        out.append(ticket)
        slots.enter(ticket)
    return out, started


def test_no_limit_starts_everything_at_its_arrival() -> None:
    slots = Slots(0)
    ts, started = tickets(slots, [1.0, 1.5, 2.0])
    assert started == [(0, 1.0), (1, 1.5), (2, 2.0)]
    assert slots.snapshot()["max_concurrent"] == 3
    assert slots.snapshot()["queue_wait_s"] == {"count": 0}
    for t in ts:
        slots.release(t)
    assert (slots.held, slots.queued) == (0, 0)


def test_limit_holds_and_waiters_go_first_come_first_served() -> None:
    clock = Clock()
    slots = Slots(2, clock=clock)
    ts, started = tickets(slots, [0.0, 0.0, 0.01, 0.02, 0.03])
    assert started == [(0, 0.0), (1, 0.0)]
    assert (slots.held, slots.queued) == (2, 3)
    clock.now = 0.14
    slots.release(ts[1])
    assert started[-1] == (2, 0.14)  # the oldest waiter, from the release
    clock.now = 0.15
    slots.release(ts[0])
    slots.release(ts[2])
    assert [i for i, _ in started] == [0, 1, 2, 3, 4]
    assert (slots.held, slots.queued) == (2, 0)
    doc = slots.snapshot()
    assert (doc["slots"], doc["max_concurrent"], doc["queued_now"]) == (2, 2, 0)
    waits = doc["queue_wait_s"]
    assert isinstance(waits, dict)
    assert waits["count"] == 5
    assert waits["max"] == pytest.approx(0.13)  # ticket 3: arrived 0.02, slot at 0.15


def test_a_ticket_that_arrives_while_others_wait_queues_behind_them() -> None:
    slots = Slots(1)
    first, started = tickets(slots, [0.0, 0.0])
    slots.release(first[0])
    late = Ticket(0.5, lambda t: started.append((9, t)))
    slots.enter(late)  # a slot is busy (ticket 1): it waits even so
    assert late.state is TicketState.QUEUED


def test_releasing_a_queued_ticket_takes_it_out_and_release_is_idempotent() -> None:
    slots = Slots(1)
    ts, started = tickets(slots, [0.0, 0.0, 0.0])
    slots.release(ts[1])  # its client went away while it waited
    slots.release(ts[1])
    assert slots.queued == 1
    slots.release(ts[0])
    slots.release(ts[0])  # a second release must not free a second slot
    assert [i for i, _ in started] == [0, 2]
    assert slots.held == 1
    slots.release(ts[2])
    assert (slots.held, slots.queued) == (0, 0)
    assert not any(t.active for t in ts)


def test_reset_forgets_waits_and_restarts_max_from_what_is_held() -> None:
    slots = Slots(3)
    ts, _ = tickets(slots, [0.0, 0.0, 0.0])
    slots.release(ts[0])
    assert slots.snapshot(reset=True)["max_concurrent"] == 3
    doc = slots.snapshot()
    assert doc["max_concurrent"] == 2
    assert doc["queue_wait_s"] == {"count": 0}


def test_a_ticket_enters_once_and_the_limit_is_not_negative() -> None:
    slots = Slots(1)
    ticket = Ticket(0.0, lambda t: None)
    slots.enter(ticket)
    with pytest.raises(ValueError, match="enters once"):
        slots.enter(ticket)
    with pytest.raises(ValueError, match="must be >= 0"):
        Slots(-1)

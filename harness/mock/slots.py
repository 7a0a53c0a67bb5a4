"""The mock's capacity limit (``--slots N``): at most N generations at once, the rest FIFO.

A real inference server has a fixed number of sequences it generates at once (vLLM's
``max_num_seqs``, llama-server's ``--parallel``); a request beyond that waits in a queue,
and its time to first token grows by the wait. `Slots` reproduces that for the mock: each
generation request asks for a `Ticket`; with a slot free it starts at once, from its own
arrival time, otherwise it waits, first come first served, and starts when a slot is
released, from that moment. ``limit`` 0 means no limit: every ticket starts at once, from
its arrival time, exactly as without slots. All calls happen on the mock's loop thread.
Standard library only; it must not import the harness core: the mock is the yardstick.
"""

from __future__ import annotations

import collections
import enum
from collections.abc import Callable
from time import perf_counter

from harness.mock.lateness import LatenessRecorder

__all__ = ["Slots", "Ticket"]


class TicketState(enum.Enum):
    NEW = "new"
    QUEUED = "queued"
    HELD = "held"
    DONE = "done"


class Ticket:
    """One generation's claim on a slot: ``start(t_base)`` runs when it gets one."""

    __slots__ = ("start", "state", "t_arrival")

    def __init__(self, t_arrival: float, start: Callable[[float], None]) -> None:
        self.t_arrival = t_arrival
        self.start = start
        self.state = TicketState.NEW

    @property
    def active(self) -> bool:
        """Queued or holding a slot: not yet released."""
        return self.state in (TicketState.QUEUED, TicketState.HELD)


class Slots:
    """At most ``limit`` tickets held at once (0: no limit); the others wait FIFO.

    `enter` a ticket when its request arrives; `release` it when its response ended or
    its client went away (releasing a queued ticket takes it out of the queue; a second
    release does nothing). With a limit, waits are recorded from arrival to the slot (0
    for a ticket that found one free).
    """

    def __init__(self, limit: int = 0, *, clock: Callable[[], float] = perf_counter) -> None:
        if limit < 0:
            raise ValueError(f"slots must be >= 0, got {limit}")
        self.limit = limit
        self._clock = clock
        self._queue: collections.deque[Ticket] = collections.deque()
        self.held = 0
        """Tickets holding a slot now."""
        self.max_held = 0
        """The most tickets held at once since start (or the last reset)."""
        self.waits = LatenessRecorder()
        """Arrival → slot of every ticket that got one (with a limit only)."""

    @property
    def queued(self) -> int:
        return len(self._queue)

    def enter(self, ticket: Ticket) -> None:
        """Start ``ticket`` now (from its arrival time) if a slot is free, else queue it."""
        if ticket.state is not TicketState.NEW:
            raise ValueError("a ticket enters once")
        if self.limit and (self.held >= self.limit or self._queue):
            ticket.state = TicketState.QUEUED
            self._queue.append(ticket)
            return
        self._grant(ticket, ticket.t_arrival)

    def release(self, ticket: Ticket) -> None:
        """Free the slot ``ticket`` holds (or its place in the queue); idempotent."""
        state = ticket.state
        ticket.state = TicketState.DONE
        if state is TicketState.QUEUED:
            self._queue.remove(ticket)
        elif state is TicketState.HELD:
            self.held -= 1
            while self._queue and self.held < self.limit:
                self._grant(self._queue.popleft(), self._clock())

    def snapshot(self, *, reset: bool = False) -> dict[str, object]:
        """``{slots, queued_now, in_use_now, max_concurrent, queue_wait_s}`` for /mock/stats;
        ``reset`` forgets the waits and restarts ``max_concurrent`` from the slots in use."""
        out: dict[str, object] = {
            "slots": self.limit,
            "queued_now": self.queued,
            "in_use_now": self.held,
            "max_concurrent": self.max_held,
            "queue_wait_s": self.waits.summary(),
        }
        if reset:
            self.waits.reset()
            self.max_held = self.held
        return out

    def _grant(self, ticket: Ticket, t_base: float) -> None:
        ticket.state = TicketState.HELD
        self.held += 1
        self.max_held = max(self.max_held, self.held)
        if self.limit:  # without a limit nothing waits: nothing to record
            self.waits.record(t_base - ticket.t_arrival)
        ticket.start(t_base)

"""Wire protocols: how a request body is built and how a server's events and bodies are read.

One module per protocol. A protocol knows JSON shapes, never sockets or clocks: the client hands
it each SSE event (with its arrival time) and the request's record, and it says what the event
meant. Pure: standard library only.
"""

from __future__ import annotations

import enum


class StreamStep(enum.Enum):
    """What the client should do after an event was read."""

    CONTINUE = "continue"  # keep reading
    DONE = "done"  # the terminal marker arrived: the request ended at this event's time
    FAILED = "failed"  # the record now carries a failure: stop reading

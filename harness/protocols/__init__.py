"""Wire protocols: how a request is built and how a server's events and bodies are read.

One module per protocol, each a `WireProtocol`; `harness.protocols.registry` names them. A
protocol knows headers and JSON shapes, never sockets or clocks: the client hands it each SSE
event (with its arrival time) and the request's record, and it says what the event meant.
Pure: standard library only.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from harness.errors import Mode
    from harness.record import RequestRecord
    from harness.sse import SSEEvent


class StreamStep(enum.Enum):
    """What the client should do after an event was read."""

    CONTINUE = "continue"  # keep reading
    DONE = "done"  # the terminal marker arrived: the request ended at this event's time
    FAILED = "failed"  # the record now carries a failure: stop reading


class WireProtocol(Protocol):
    """What `LLMClient` and `StreamReader` need of a protocol: a request, and the reading of
    its answer, streamed or whole, and of the target's model list."""

    @property
    def path(self) -> str:
        """The endpoint path, relative to a base URL that ends in `/v1`."""

    def request_headers(self, mode: Mode, api_key: str | None) -> dict[str, str]:
        """The headers of a completion request in `mode`, authentication included."""

    def build_body(
        self,
        *,
        model: str,
        prompt: str | Sequence[Mapping[str, Any]],
        stream: bool,
        params: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The request body."""

    def read_event(self, event: SSEEvent, record: RequestRecord) -> StreamStep:
        """Interpret one event of a stream, updating `record`."""

    def read_trailing_event(self, event: SSEEvent, record: RequestRecord) -> None:
        """An event after the terminal marker (a late usage chunk)."""

    def end_stream(self, record: RequestRecord, t: float, *, done: bool) -> None:
        """Settle the outcome once the stream ended at `t`: by its terminal marker (`done`)
        or a clean end of the body."""

    def read_body(self, body: bytes, record: RequestRecord, t: float) -> None:
        """Interpret a whole (non-streamed) response body received at `t`."""

    def is_error_body(self, body: bytes) -> bool:
        """Whether a whole body is an in-band error document."""

    def is_completion_body(self, body: bytes) -> bool:
        """Whether a whole body is a complete non-streamed answer."""

    @property
    def models_path(self) -> str:
        """The path, relative to the base URL, that lists the models a target serves."""

    def models_headers(self, api_key: str | None) -> dict[str, str]:
        """The headers of the models request, authentication included."""

    def read_models(self, body: bytes) -> list[str]:
        """The model names a models answer lists, in its order. Raises `ValueError`,
        `KeyError` or `TypeError` when the body is not a model list."""

"""The transport seam: what `LLMClient` needs from an HTTP/1.1 connection, as `typing.Protocol`s.

The client owns the measurement (t0 just before the write, read times, deadlines, the
reconnect rule); a transport owns the connection and the HTTP framing. The one transport today
is `harness.transport.geventhttp` (geventhttpclient's C parser on gevent sockets): every use of
those libraries' private attributes lives there, checked when it is built.

The hot path stays flat: a body is read with `Connection.recv()` and `Response.feed()` called
directly by the client's loops, on the socket and buffer `Transport.body_of()` hands out once
per response, so the seam adds no function call per read.

Pure: standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Protocol

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.arrival import ArrivalClock
    from harness.target import Target, Timeouts


class TransportUnsupported(HarnessError):
    """The installed HTTP libraries lack what the transport relies on: the run cannot start.

    The message is one line naming the library versions and the missing attribute."""


class Connection(Protocol):
    """One open connection (a socket, possibly TLS)."""

    def recv(self, bufsize: int, flags: int = ..., /) -> bytes: ...

    def settimeout(self, value: float | None, /) -> None: ...


class Response(Protocol):
    """A response whose head has been read; its body is fed to it as it arrives."""

    #: the whole message (head and body) has been parsed
    message_complete: bool

    @property
    def status_code(self) -> int: ...

    def get(self, key: str, default: str | None = None) -> str | list[str] | None:
        """A header's value (a list when it came more than once), case-insensitive."""

    def items(self) -> Iterator[tuple[str, str]]:
        """Every header, as received."""

    def should_close(self) -> bool:
        """Whether the connection cannot be reused after this response."""

    def feed(self, data: bytes, /) -> None:
        """Parse `data` read from the connection; its body bytes go to the body buffer."""


class Transport(Protocol):
    """Connections to one target, one request at a time (one per user)."""

    @property
    def arrival(self) -> ArrivalClock | None:
        """Where reads leave the kernel's arrival time of their bytes; None when reads are
        timed by `perf_counter()` after `recv()` (TLS)."""

    def connection(self) -> Connection:
        """A kept-alive connection if one is idle and alive, else a new one (this may yield
        to the event loop: the connect, the pool's liveness check)."""

    def discard(self, conn: Connection) -> None:
        """Close `conn`: it is never reused."""

    def peer_closed(self, conn: Connection, *, tls: bool) -> bool:
        """Whether the server has already closed the idle `conn`, without yielding."""

    def request_bytes(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> bytes:
        """The request's bytes: its head (Host and Content-Length added) and `body`."""

    def exchange(self, conn: Connection, request: bytes) -> Response:
        """Write `request` on `conn` and read the response head. From here the response
        owns the connection; if writing fails, `conn` is closed."""

    def body_of(self, response: Response) -> tuple[Connection | None, bytearray]:
        """The connection a body is read from (None once the response gave it back) and the
        buffer the response leaves body bytes in (consumed by the reader)."""

    def abandon(self, response: Response) -> None:
        """Close the connection of a response not read to its end."""

    def close(self) -> None:
        """Close every connection."""


#: builds the transport of a client
TransportFactory = Callable[["Target", "Timeouts"], Transport]

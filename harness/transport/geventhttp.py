"""The transport on geventhttpclient and gevent: the one module that touches their internals.

geventhttpclient (Locust's FastHttpUser transport) parses HTTP in C (llhttp); gevent gives
cooperative sockets. The client needs more than their public API offers, and every such use is
here, named in `REQUIRED`:

- the pool's `_create_tcp_socket`, replaced so plain-TCP sockets are `StampedSocket`s, whose
  `recv()` is gevent's own read loop on `recvmsg()` (gevent's `_sock`, `_wait`,
  `_read_event`) and leaves each read's kernel arrival time on an `ArrivalClock`;
- `HTTPClient._build_request` and a hand-built `HTTPSocketPoolResponse`, because
  `HTTPClient.request()` takes the socket from the pool itself and its liveness check yields
  to the event loop between t0 and the write;
- a response's `_sock`, `_body_buffer` and `_pool`, because the client reads the body one
  `recv()` at a time (the library's `read()` waits for a block) and must close a connection
  whose body it did not read to the end;
- gevent's raw `_sock`, for a non-blocking peek that never yields, which also replaces the
X

When a release renames one of them, `check_transport()` (run once, when the first transport or
preflight is built) fails the run at start with one line naming both versions and the missing
attribute, instead of every request failing as `harness_internal`.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from time import perf_counter, time_ns
from typing import Any, cast

import gevent
import gevent.socket
import geventhttpclient
from geventhttpclient import HTTPClient
from geventhttpclient.connectionpool import ConnectionPool
from geventhttpclient.response import (
    HTTPConnectionClosed,
    HTTPParseError,
    HTTPSocketPoolResponse,
)

from harness.arrival import SO_TIMESTAMPNS, STAMP_SPACE, ArrivalClock, arrival_time
from harness.target import Target, Timeouts
from harness.transport import Connection, Response, TransportUnsupported

#: the connection closed before the response's first byte (or mid-body, raised by the client)
ConnectionClosed = HTTPConnectionClosed
#: the bytes are not HTTP/1.1, or the body ended inside a chunk
ParseError = HTTPParseError

#: what this module uses of the libraries beyond their documented API, by owner: on the class
#: (`HTTPClient`, `ConnectionPool`) or on an instance (`…()`), as `check_transport()` looks
REQUIRED: dict[str, tuple[str, ...]] = {
    "HTTPClient": ("_build_request",),
    "HTTPClient()": ("_connection_pool", "block_size", "headers_type"),
    "ConnectionPool": ("_create_tcp_socket", "_is_socket_alive", "get_socket", "release_socket"),
    "HTTPSocketPoolResponse()": ("_sock", "_pool", "_body_buffer"),
    "gevent.socket.socket": ("_wait",),
    "gevent.socket.socket()": ("_sock", "_read_event"),
}


class StampedSocket(gevent.socket.socket):  # type: ignore[misc]
    """A cooperative socket whose `recv` also records the bytes' arrival on its clock.

    Everything that reads this socket through `recv` (geventhttpclient's header reading as
    well as the client's own body loop) leaves the arrival time of its latest read in
    `clock.t`.
    """

    __slots__ = ("clock",)

    clock: ArrivalClock

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        # gevent's cooperative read loop, on recvmsg (one Python frame less than calling
        # gevent's own recvmsg: this runs once per token)
        while True:
            try:
                data, ancdata, _, _ = self._sock.recvmsg(bufsize, STAMP_SPACE, flags)
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


class GeventTransport:
    """Connections to one target through one geventhttpclient `HTTPClient` (concurrency 1).

    Implements `harness.transport.Transport`. Over plain TCP its sockets are `StampedSocket`s
    sharing one `ArrivalClock`; over TLS, OpenSSL reads the socket past any `recv()` of ours,
    so there is no clock (reads keep `perf_counter()`).
    """

    __slots__ = ("_arrival", "_http", "_pool")

    def __init__(self, target: Target, timeouts: Timeouts) -> None:
        check_transport()
        self._http = HTTPClient(
            target.host,
            target.port,
            ssl=target.tls,
            connection_timeout=timeouts.connect_s,
            network_timeout=timeouts.header_s,
            concurrency=1,
        )
        self._pool: ConnectionPool = self._http._connection_pool
        self._arrival: ArrivalClock | None = None
        if not target.tls:
            # plain TCP: sockets whose reads carry the kernel's arrival stamps
            self._arrival = ArrivalClock()
            self._pool._create_tcp_socket = stamped_socket_factory(self._arrival)  # type: ignore[method-assign, assignment]
        # The pool checks a kept connection with select(), and gevent's select() yields to the
        # event loop even with a zero timeout: a whole loop cycle between an open-loop
        # request's due time and its t0. The same check (any byte, EOF or error: not reusable)
        # by a non-blocking peek, which never yields.
        self._pool._is_socket_alive = self._reusable  # type: ignore[method-assign]

    @property
    def arrival(self) -> ArrivalClock | None:
        return self._arrival

    def connection(self) -> Connection:
        return cast(Connection, self._pool.get_socket())

    def discard(self, conn: Connection) -> None:
        self._pool.release_socket(cast(gevent.socket.socket, conn))

    def _reusable(self, sock: gevent.socket.socket | None) -> bool:
        """`ConnectionPool._is_socket_alive` without its yield."""
        return sock is not None and sock.fileno() >= 0 and not self.peer_closed(sock, tls=False)

    def peer_closed(self, conn: Connection, *, tls: bool) -> bool:
        """By a non-blocking peek at the socket itself (it never yields to the event loop).
        An EOF or a reset is a close; over plain TCP so are unsolicited bytes (say a 408 sent
        before closing). Over TLS bytes can be a session ticket, so only EOF and errors
        count."""
        raw = getattr(conn, "_sock", None)
        if raw is None:
            return False
        try:
            data = raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return not data or not tls

    def request_bytes(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> bytes:
        head: str = self._http._build_request(
            method, path, body=body, headers=dict(headers), chunked=False
        )
        return head.encode("latin-1") + body

    def exchange(self, conn: Connection, request: bytes) -> Response:
        """Like `HTTPClient.request()`, a POST is never sent twice, and a reset while writing
        still reads the answer the server may have sent before closing (an early 401 or 413,
        catalogue NET-19)."""
        pool = self._pool
        sock = cast(gevent.socket.socket, conn)
        try:
            sock.sendall(request)
        except OSError as exc:
            if exc.errno not in (errno.ECONNRESET, errno.EPIPE):
                pool.release_socket(sock)
                raise
        except BaseException:
            pool.release_socket(sock)
            raise
        http = self._http
        return HTTPSocketPoolResponse(
            sock, pool, block_size=http.block_size, method="POST", headers_type=http.headers_type
        )

    def body_of(self, response: Response) -> tuple[Connection | None, bytearray]:
        raw = cast(HTTPSocketPoolResponse, response)
        return cast("Connection | None", raw._sock), raw._body_buffer

    def abandon(self, response: Response) -> None:
        raw = cast(HTTPSocketPoolResponse, response)
        pool, sock = raw._pool, raw._sock
        raw._pool = raw._sock = None
        if sock is not None:
            if pool is not None:
                pool.release_socket(sock)
            else:
                sock.close()

    def close(self) -> None:
        self._http.close()


# ------------------------------------------------------------------ one-off requests


@dataclass(frozen=True, slots=True)
class Fetched:
    """A whole response to a one-off request: status, single-valued headers (lower-case
    names), body."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def fetch(
    target: Target,
    path: str,
    headers: Mapping[str, str],
    *,
    connection_timeout_s: float,
    network_timeout_s: float,
) -> Fetched:
    """`GET path` on a connection of its own, read whole (public API only). Socket, ssl and
    geventhttpclient exceptions are raised as they come."""
    check_transport()
    http = HTTPClient(
        target.host,
        target.port,
        ssl=target.tls,
        connection_timeout=connection_timeout_s,
        network_timeout=network_timeout_s,
        concurrency=1,
    )
    try:
        response = http.get(path, headers=dict(headers))
        status = response.status_code
        found: dict[str, str] = {}
        for name, _ in response.items():
            value = response.get(name)
            if isinstance(value, str):  # a header sent twice is a list: not single-valued
                found[str(name).lower()] = value
        body = response.read()
    finally:
        http.close()
    return Fetched(status, body, found)


# ------------------------------------------------------------------ the check at start

_checked = False


def library_versions() -> str:
    """`geventhttpclient X and gevent Y`, as installed."""
    ghc = getattr(geventhttpclient, "__version__", "?")
    return f"geventhttpclient {ghc} and gevent {getattr(gevent, '__version__', '?')}"


def missing_attributes() -> list[str]:
    """What of `REQUIRED` the installed libraries lack, as `Owner.attribute`."""
    owners: dict[str, Any] = {
        "HTTPClient": HTTPClient,
        "ConnectionPool": ConnectionPool,
        "gevent.socket.socket": gevent.socket.socket,
    }
    missing: list[str] = []
    probes: dict[str, Callable[[], Any]] = {
        "HTTPClient()": lambda: HTTPClient("127.0.0.1", 9, concurrency=1),  # connects later
        "gevent.socket.socket()": lambda: gevent.socket.socket(socket.AF_INET, socket.SOCK_STREAM),
        "HTTPSocketPoolResponse()": lambda: HTTPSocketPoolResponse(
            _CannedSocket(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"),
            cast(ConnectionPool, _NoPool()),
            method="POST",
        ),
    }
    for owner, build in probes.items():
        try:
            owners[owner] = build()
        except (AttributeError, TypeError, ValueError) as exc:  # the constructor changed
            missing.append(f"{owner} ({type(exc).__name__}: {exc})")
    try:
        for owner, names in REQUIRED.items():
            if owner not in owners:
                continue
            for name in names:
                try:
                    getattr(owners[owner], name)
                except AttributeError:
                    missing.append(f"{owner.removesuffix('()')}.{name}")
        return missing
    finally:
        for owner in ("HTTPClient()", "gevent.socket.socket()"):
            if owner in owners:
                with contextlib.suppress(AttributeError, OSError):  # a probe lacking parts
                    owners[owner].close()


def check_transport() -> None:
    """Raise `TransportUnsupported` (one line: the versions, the missing attribute) when the
    installed libraries lack what this module relies on. Looks once per process."""
    global _checked
    if _checked:
        return
    missing = missing_attributes()
    if missing:
        raise TransportUnsupported(
            f"{library_versions()} lack {', '.join(missing)}, which locust-llm's transport "
            "(harness/transport/geventhttp.py) relies on; install the geventhttpclient "
            "version pyproject.toml names"
        )
    _checked = True


class _CannedSocket:
    """Answers the first `recv()` with canned bytes: a response head, parsed by the check."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def recv(self, bufsize: int) -> bytes:
        data, self._data = self._data[:bufsize], self._data[bufsize:]
        return data

    def close(self) -> None:
        pass


class _NoPool:
    """Takes back the canned socket."""

    def return_socket(self, sock: object) -> None:
        pass

    def release_socket(self, sock: object) -> None:
        pass

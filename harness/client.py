"""The client: send one completion request, feed the bytes to the parser as they arrive.

The hot path runs on a `Transport` (`harness.transport`; today geventhttpclient, Locust's
FastHttpUser transport, in `harness.transport.geventhttp`): llhttp parses the HTTP framing in C,
and we read the socket ourselves, one `recv()` at a time. Nothing waits for a
full read block, so an event is timestamped when its bytes arrive (geventhttpclient's
`iter_content(1024)` and Locust's `iter_lines` buffer and merge events; catalogue
SSE-11/SSE-13). Each read's time is the kernel's receive stamp of its bytes mapped to
`perf_counter` time (`harness.arrival`), so a busy event loop does not make tokens look late;
over TLS, and where the kernel gives no stamps, it is `perf_counter()` right after `recv()`.

The request's headers and body and the reading of what comes back belong to its
`WireProtocol` (`harness.protocols`); the client owns the measurement: t0, read times,
deadlines, the connection lifecycle, decompression.

Every failure becomes exactly one `ErrorClass` on the record. `classify_failure()` is the one
place where socket, ssl and transport exceptions are mapped. No request failure escapes
`send()`: the caller gets a filled `RequestRecord` either way.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Literal

from harness import __version__
from harness.arrival import ArrivalClock
from harness.deadline import DeadlinePassed, StreamDeadlines, Watchdog
from harness.encoding import BodyDecoder, UnsupportedEncoding, body_decoder
from harness.errors import ErrorClass, Mode, Outcome, error_class_for_status
from harness.protocols import WireProtocol
from harness.protocols.registry import make_protocol
from harness.record import RequestRecord
from harness.stream import StreamReader
from harness.target import Target, Timeouts, parse_retry_after
from harness.transport import Connection, Response, Transport, TransportFactory
from harness.transport.geventhttp import ConnectionClosed, GeventTransport, ParseError

__all__ = [
    "LLMClient",
    "Target",
    "Timeouts",
    "classify_failure",
    "parse_retry_after",
    "path_headers",
]

_RECV_SIZE = 65536
#: after `[DONE]`, trailing bytes (a late usage chunk, the chunked terminator) are drained up
#: to this much and this long before the connection is given up (catalogue OAI-18 e)
_DRAIN_BYTES = 65536
_DRAIN_S = 1.0
#: error bodies are read up to this size, for diagnostics only
_ERROR_BODY_BYTES = 65536
#: an idle connection is given up this long before the server's `Keep-Alive: timeout=N`
#: runs out (the server may close it any moment after)
_KEEP_ALIVE_MARGIN_S = 0.5


@dataclass(slots=True)
class LLMClient:
    """Sends completion requests to one target over one keep-alive connection.

    One client per Locust user (a user is one conversation at a time). Not thread-safe;
    gevent-cooperative once Locust has monkey-patched the process.
    """

    target: Target
    protocol: WireProtocol = field(default_factory=make_protocol)
    api_key: str | None = field(default=None, repr=False)
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_event_bytes: int = 16 * 1024 * 1024
    keep_text: bool = False
    #: builds the connection layer; the default is geventhttpclient's (harness.transport)
    transport_factory: TransportFactory = field(default=GeventTransport, repr=False)
    #: what the first response said about the path to the server (catalogue NET-15: a
    #: buffering proxy shows here); None until a response arrived
    server_headers: dict[str, str] | None = field(default=None, init=False)
    #: how reads are timed, known after the first response: `kernel` (arrival stamps) or
    #: `recv` (perf_counter when recv() returned: TLS, or no stamps from the kernel)
    read_clock: str | None = field(default=None, init=False)
    _transport: Transport = field(init=False)
    #: request headers by mode, built once: the client's own, then the protocol's
    _headers: dict[Mode, dict[str, str]] = field(init=False)
    #: arrival time of the latest read; None when reads are timed by perf_counter (TLS)
    _arrival: ArrivalClock | None = field(init=False, default=None)
    #: the connection the last response left open in the pool, and until when (the
    #: server's Keep-Alive timeout) it is worth reusing
    _pooled: Connection | None = field(init=False, default=None)
    _pooled_until: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._transport = self.transport_factory(self.target, self.timeouts)
        # plain TCP: reads carry the kernel's arrival stamps. (TLS sockets are read by
        # OpenSSL, past any recv() of ours: those reads keep perf_counter.)
        self._arrival = self._transport.arrival
        own = {
            "User-Agent": f"locust-llm/{__version__}",
            # compressed bytes are decoded (gzip, deflate) as they arrive, but the truth is
            # the server's own pacing: ask for none
            "Accept-Encoding": "identity",
        }
        self._headers = {
            mode: {**own, **self.protocol.request_headers(mode, self.api_key)}
            for mode in (Mode.STREAM, Mode.BATCH)
        }

    @property
    def endpoint(self) -> str:
        """The request path (a template: no host, no query), e.g. `/v1/chat/completions`."""
        return self.target.path_prefix + self.protocol.path

    def close(self) -> None:
        """Close the connection."""
        self._transport.close()

    def new_record(self, mode: Mode, model: str) -> RequestRecord:
        """A record for a request about to be sent."""
        record = RequestRecord(mode=mode, model=model, endpoint=self.endpoint)
        if self.keep_text:
            record.text = []
        return record

    def send(self, record: RequestRecord, body: bytes) -> None:
        """Send `body` and fill `record` until the response ends or fails. Never raises for a
        failed request; raises only `gevent.GreenletExit` (the run stopping), after marking the
        record `cancelled`.

        Connection lifecycle: a kept-alive connection the server has closed meanwhile (its
        idle timeout, or a server such as llama.cpp that closes after every stream) is never
        blamed on the server. Before writing on a reused connection, a non-blocking peek at
        the socket itself (no yield to the event loop) tells whether the close already
        arrived; if so a new connection is opened. If the close races the write (EOF or reset
        with no response byte on a reused connection), the server never read the request:
        it is written once more on a fresh connection, counted in `record.reconnects` (and
        noted `reconnect`), and t0 is taken again, so the reconnect is never inside TTFT. A
        failure on a fresh connection stays a failure.
        """
        stream = record.mode is Mode.STREAM
        headers = self._headers[record.mode]
        phase = "connect"
        transport = self._transport
        response: Response | None = None
        sock: Connection | None = None
        try:
            record.t0 = perf_counter()
            # Take the connection first (opening it if needed), so a connect timeout is told
            # apart from a header timeout by where it happened, and t0 excludes the connect
            # and the pool's liveness check, which yields to the event loop (t0 is just
            # before the request bytes are written).
            sock, reused = self._checkout()
            phase = "headers"
            request = self._request_bytes(headers, body, sock)
            if reused and transport.peer_closed(sock, tls=self._arrival is None):
                transport.discard(sock)
                phase = "connect"
                sock, reused = self._checkout()
                phase = "headers"
                self._prepare(sock)
            arrival = self._arrival
            if arrival is not None:
                arrival.reset()
            record.t0 = t0 = perf_counter()
            try:
                response = transport.exchange(sock, request)
            except ConnectionClosed:
                if not reused:
                    raise
                # EOF or reset before any response byte on a kept-alive connection: the
                # server closed it as we wrote, and never read the request
                record.reconnects += 1
                record.note("reconnect")
                phase = "connect"
                sock, reused = self._checkout()
                phase = "headers"
                self._prepare(sock)
                if arrival is not None:
                    arrival.reset()
                record.t0 = t0 = perf_counter()
                response = transport.exchange(sock, request)
            phase = "body"
            # the headers' read (and any body bytes that came with them) is timed like any
            # other read: by the kernel's stamp when there is one
            t_read = arrival.t if arrival is not None else 0.0
            record.t_headers = t_read if t_read > t0 else perf_counter()
            record.status = status = response.status_code
            record.path_headers = path = path_headers(response)
            if self.server_headers is None:
                self.server_headers = {k: v for k, v in path.items() if k in PATH_HEADERS}
                self.read_clock = (
                    "kernel" if arrival is not None and arrival.stamped_reads else "recv"
                )
            if not 200 <= status < 300:
                self._read_error(response, record)
            elif stream:
                self._read_stream(response, record)
            else:
                self._read_batch(response, record)
            if response.message_complete and not response.should_close():
                # the response gave the connection back to the pool: remember it, and how
                # long the server said it keeps idle connections
                self._pooled = sock
                self._pooled_until = perf_counter() + _keep_alive_s(response)
        except BaseException as exc:
            t = perf_counter()
            if response is not None:
                transport.abandon(response)
            if not isinstance(exc, Exception):  # GreenletExit, KeyboardInterrupt: run stops
                record.outcome = Outcome.CANCELLED
                record.t_end = t
                raise
            error_class = classify_failure(exc, phase)
            if error_class is None:
                raise
            record.fail(error_class, t)

    # ------------------------------------------------------------------ sending

    def _checkout(self) -> tuple[Connection, bool]:
        """A connection from the pool (opened if none is kept), and whether it is a
        kept-alive one from an earlier response. One past the server's Keep-Alive timeout is
        closed instead of reused."""
        transport = self._transport
        pooled, self._pooled = self._pooled, None
        if pooled is not None and perf_counter() >= self._pooled_until:
            sock = transport.connection()
            if sock is not pooled:  # the pool found it closed already and opened another
                return sock, False
            transport.discard(sock)
            pooled = None
        sock = transport.connection()
        return sock, pooled is not None and sock is pooled

    def _prepare(self, sock: Connection) -> None:
        """Set the socket's timeout for writing and waiting for the head. On failure the
        socket is closed."""
        try:
            # a reused socket keeps whatever timeout its last read set: restore header_s
            sock.settimeout(self.timeouts.header_s)
        except BaseException:
            self._transport.discard(sock)
            raise

    def _request_bytes(self, headers: dict[str, str], body: bytes, sock: Connection) -> bytes:
        """The request's bytes (head and body). On failure the socket is closed.

        Built before t0 and written by `Transport.exchange()`, not by a request() call that
        takes the socket from the pool again: the pool's liveness check yields to the event
        loop, and nothing may yield between t0 and the write."""
        self._prepare(sock)
        try:
            return self._transport.request_bytes("POST", self.endpoint, headers, body)
        except BaseException:
            self._transport.discard(sock)
            raise

    # ------------------------------------------------------------------ reading

    def _read_time(self, t_previous: float) -> float:
        """The time of the read that just returned: its kernel arrival stamp, or now. Never
        before the previous read's time (stamps are per segment; reads are in order)."""
        arrival = self._arrival
        t = arrival.t if arrival is not None else perf_counter()
        return t if t > t_previous else t_previous

    def _read_stream(self, response: Response, record: RequestRecord) -> None:
        decoder = self._body_decoder(response, record)
        if decoder is False:
            return
        content_type = _content_type(response)
        if content_type != "text/event-stream":
            if content_type is None:
                record.note("missing_content_type")  # catalogue NET-09: parse as SSE
            else:
                self._read_wrong_body(response, record, content_type, decoder)
                return
        reader = StreamReader(self.protocol, record, self.max_event_bytes)
        feed = reader.feed if decoder is None else _decoding_feed(reader, decoder)
        deadlines = StreamDeadlines.of(record, self.timeouts)
        sock, body = self._transport.body_of(response)
        t = record.t_headers or perf_counter()
        settled = False
        watchdog: Watchdog | None = None
        try:
            while True:
                if body:
                    data = bytes(body)
                    del body[:]
                    if feed(data, t):
                        settled = True
                        break
                if response.message_complete:
                    break
                if sock is None:
                    raise ConnectionClosed("connection closed.")
                # checked before every read too: a stream that never makes us wait never
                # lets the watchdog run
                deadline, error_class = deadlines.nearest()
                if perf_counter() >= deadline:
                    reader.fail(error_class, perf_counter())
                    settled = True
                    break
                if watchdog is None:
                    # one timer for the stream instead of a gevent Timeout per read
                    sock.settimeout(None)
                    watchdog = Watchdog(deadlines, deadline)
                elif deadline < watchdog.deadline:  # the first token: TTFT gives way to stall
                    watchdog.set(deadline)
                data = sock.recv(_RECV_SIZE)
                t = self._read_time(t)
                response.feed(data)  # an EOF (b"") inside a chunked body: ParseError
                if not data and not response.message_complete:
                    raise ConnectionClosed("connection closed.")
        except DeadlinePassed as passed:
            reader.fail(passed.error_class, perf_counter())
            settled = True
        except _BadCompressedData:
            record.note("bad_compressed_data")
            reader.fail(ErrorClass.MALFORMED_EVENT, t)
            settled = True
        finally:
            if watchdog is not None:
                watchdog.stop()
        if not settled and decoder is not None:
            settled = _flush_decoder(reader, decoder, t)
        if not settled:
            reader.end(t)
        if reader.done and not response.message_complete:
            _drain(response, self._transport, reader)
        if not response.message_complete:
            self._transport.abandon(response)

    def _read_batch(self, response: Response, record: RequestRecord) -> None:
        decoder = self._body_decoder(response, record)
        if decoder is False:
            return
        content_type = _content_type(response)
        data = self._read_all(response, record, limit=None)
        if data is None:
            return
        t = record.t_end if record.t_end is not None else perf_counter()
        record.t_end = None
        if decoder is not None:
            try:
                data = decoder.decode(data) + decoder.flush()
            except ValueError:
                record.note("bad_compressed_data")
                record.fail(ErrorClass.MALFORMED_EVENT, t)
                return
        if content_type not in (None, "application/json"):
            record.fail(ErrorClass.BAD_CONTENT_TYPE, t)
            return
        self.protocol.read_body(data, record, t)

    def _body_decoder(
        self, response: Response, record: RequestRecord
    ) -> BodyDecoder | Literal[False] | None:
        """The decoder of the body's Content-Encoding (None: identity). False when the
        encoding cannot be decoded: the record has failed (`unsupported_encoding`) and the
        connection is closed; its bytes never reach a parser."""
        try:
            return body_decoder(_header(response, "content-encoding"))
        except UnsupportedEncoding:
            record.fail(ErrorClass.UNSUPPORTED_ENCODING, perf_counter())
            self._transport.abandon(response)
            return False

    def _read_error(self, response: Response, record: RequestRecord) -> None:
        status = response.status_code
        retry_after = response.get("retry-after")
        if retry_after:
            record.retry_after_s = parse_retry_after(str(retry_after))
            if record.retry_after_s is None:
                record.note("bad_retry_after")  # catalogue NET-07: garbage is ignored
        self._read_all(response, record, limit=_ERROR_BODY_BYTES)
        record.outcome = None
        record.fail(error_class_for_status(status), perf_counter())

    def _read_wrong_body(
        self,
        response: Response,
        record: RequestRecord,
        content_type: str,
        decoder: BodyDecoder | None,
    ) -> None:
        """A stream request answered with another type. A whole JSON completion means the
        server ignored `stream: true`: a success (E2E set, no TTFT), noted
        `stream_not_honored`."""
        json_body = content_type == "application/json"
        data = self._read_all(response, record, limit=None if json_body else _ERROR_BODY_BYTES)
        t = record.t_end if record.t_end is not None else perf_counter()
        if data is not None and json_body:
            record.t_end = None
            if decoder is not None:
                try:
                    data = decoder.decode(data) + decoder.flush()
                except ValueError:
                    record.note("bad_compressed_data")
                    record.fail(ErrorClass.MALFORMED_EVENT, t)
                    return
            if self.protocol.is_error_body(data):
                record.fail(ErrorClass.ERROR_IN_BODY, t)  # catalogue NET-09
                return
            if self.protocol.is_completion_body(data):
                record.note("stream_not_honored")
                self.protocol.read_body(data, record, t)
                return
        if record.outcome is None:
            record.fail(ErrorClass.BAD_CONTENT_TYPE, t)

    def _read_all(
        self, response: Response, record: RequestRecord, limit: int | None
    ) -> bytes | None:
        """Read a whole body within the total deadline. Sets `record.t_end` at its last byte;
        returns None after marking the record failed."""
        deadline = record.t0 + self.timeouts.total_s
        transport = self._transport
        sock, body = transport.body_of(response)
        t = record.t_headers or perf_counter()
        while not response.message_complete:
            if limit is not None and len(body) > limit:
                transport.abandon(response)
                break
            if sock is None:
                raise ConnectionClosed("connection closed.")
            remaining = deadline - perf_counter()
            if remaining <= 0:
                record.fail(ErrorClass.TOTAL_TIMEOUT, perf_counter())
                transport.abandon(response)
                return None
            sock.settimeout(remaining)
            try:
                data = sock.recv(_RECV_SIZE)
            except TimeoutError:
                record.fail(ErrorClass.TOTAL_TIMEOUT, perf_counter())
                transport.abandon(response)
                return None
            t = self._read_time(t)
            response.feed(data)
            if not data and not response.message_complete:
                raise ConnectionClosed("connection closed.")
        record.t_end = t
        data = bytes(body)
        del body[:]
        return data


def _drain(response: Response, transport: Transport, reader: StreamReader) -> None:
    """After `[DONE]`: read what trails it (a late usage chunk, the chunked terminator) within
    a small budget, without moving the request's end (catalogue OAI-18 e)."""
    sock, body = transport.body_of(response)
    deadline = perf_counter() + _DRAIN_S
    received = 0
    try:
        while not response.message_complete and sock is not None and received < _DRAIN_BYTES:
            if body:
                reader.feed_trailing(bytes(body))
                del body[:]
            remaining = deadline - perf_counter()
            if remaining <= 0:
                return
            sock.settimeout(remaining)
            data = sock.recv(_RECV_SIZE)
            received += len(data)
            response.feed(data)
            if not data:
                return
    except (OSError, ParseError):
        return
    finally:
        if body:
            reader.feed_trailing(bytes(body))
            del body[:]


#: response headers that tell whether a proxy sits in front of the server, and whether it
#: buffers streams (nginx `X-Accel-Buffering`)
PATH_HEADERS = ("server", "via", "x-accel-buffering")
#: what else a response says about the path: compression, a gateway's version
_MORE_PATH_HEADERS = ("content-encoding", "x-litellm-version")
#: header-name prefixes by which a gateway is recognised
GATEWAY_HEADER_PREFIXES = (("x-litellm-", "litellm"),)


def path_headers(response: Response) -> dict[str, str]:
    """What this response says about the path to the server: Server, Via,
    X-Accel-Buffering, Content-Encoding, and `gateway` when a known gateway's own headers
    are present (LiteLLM adds `x-litellm-*`). Values are cut to 100 characters."""
    found: dict[str, str] = {}
    for name in (*PATH_HEADERS, *_MORE_PATH_HEADERS):
        value = _header(response, name)
        if value:
            found[name] = value[:100]
    for name, _ in response.items():
        lowered = str(name).lower()
        for prefix, gateway in GATEWAY_HEADER_PREFIXES:
            if lowered.startswith(prefix):
                found["gateway"] = gateway
                return found
    return found


def _header(response: Response, name: str) -> str | None:
    value: Any = response.get(name)
    if not value:
        return None
    return str(value[0] if isinstance(value, list) else value)


def _keep_alive_s(response: Response) -> float:
    """How long the server keeps an idle connection, from `Keep-Alive: timeout=N`, less a
    margin; infinity when it does not say."""
    value = _header(response, "keep-alive")
    if value:
        for param in value.split(","):
            key, _, number = param.partition("=")
            if key.strip().lower() == "timeout":
                try:
                    return max(float(number.strip()) - _KEEP_ALIVE_MARGIN_S, 0.0)
                except ValueError:
                    break
    return float("inf")


class _BadCompressedData(Exception):
    pass


def _decoding_feed(reader: StreamReader, decoder: BodyDecoder) -> Any:
    """`reader.feed`, behind a decompressor: each read's decoded bytes keep its time."""
    feed = reader.feed

    def decoding_feed(data: bytes, t: float) -> bool:
        try:
            plain = decoder.decode(data)
        except ValueError as exc:
            raise _BadCompressedData from exc
        return feed(plain, t) if plain else False

    return decoding_feed


def _flush_decoder(reader: StreamReader, decoder: BodyDecoder, t: float) -> bool:
    """Feed what the decompressor still holds at the body's end; True when settled."""
    try:
        rest = decoder.flush()
    except ValueError:
        reader.record.note("bad_compressed_data")
        reader.fail(ErrorClass.MALFORMED_EVENT, t)
        return True
    return reader.feed(rest, t) if rest else False


def _content_type(response: Response) -> str | None:
    value = _header(response, "content-type")
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower()


def classify_failure(exc: BaseException, phase: str) -> ErrorClass | None:
    """Map a foreign exception to its error class, most specific first; None if it is not a
    request failure (a harness bug). `phase` is `connect` (opening the connection), `headers`
    (writing the request, waiting for the response head) or `body`."""
    if isinstance(exc, socket.gaierror):
        return ErrorClass.DNS
    if isinstance(exc, ConnectionRefusedError):
        return ErrorClass.CONNECT_REFUSED
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return ErrorClass.TLS
    if isinstance(exc, TimeoutError):
        if phase == "connect":
            return ErrorClass.CONNECT_TIMEOUT
        return ErrorClass.HEADER_TIMEOUT if phase == "headers" else ErrorClass.STALL_TIMEOUT
    if isinstance(exc, ParseError) and phase == "body":
        return ErrorClass.STREAM_TRUNCATED  # catalogue NET-11: incomplete chunked body
    if isinstance(exc, ConnectionClosed | ConnectionError | ParseError):
        return ErrorClass.STREAM_RESET
    if isinstance(exc, OSError):
        return ErrorClass.STREAM_RESET
    return None

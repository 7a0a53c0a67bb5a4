"""HTTP/1.1 for the mock: stamping arrivals, splitting requests, framing replies.

Just enough of RFC 9112 for a load-test target: keep-alive, pipelining,
``Content-Length`` request bodies, ``Expect: 100-continue``; chunked request bodies are
refused with 411. `recv_stamped` gives each read the kernel's arrival time,
`RequestParser` turns bytes into requests without doing I/O, and responses are built as
bytes (status line, headers, chunks) for the `Emitter` to write. Standard library
only; it must not import anything from the harness core (``harness.sse``,
``harness.protocols``, ``harness.record``, ``harness.stats``): the mock is the
yardstick.
"""

from __future__ import annotations

import json
import socket
import struct
from dataclasses import dataclass
from http import HTTPStatus
from time import perf_counter, time_ns

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
_RECV_BYTES = 64 * 1024


class HttpError(Exception):
    """An unreadable request: answered with ``status``, then the connection closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Request:
    """One parsed request; ``t_recv`` is when its last byte arrived (`perf_counter`)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool
    t_recv: float


# <asm-generic/socket.h>: the kernel stamps each received segment (struct timespec, wall
# clock); the stamp of the last segment read comes with recvmsg() as a control message.
SO_TIMESTAMPNS = 35
_TIMESTAMP_CMSG_SPACE = socket.CMSG_SPACE(16)


def enable_arrival_timestamps(sock: socket.socket) -> bool:
    """Ask the kernel to stamp arriving data (Linux); accepted sockets inherit it."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def recv_stamped(sock: socket.socket, size: int = _RECV_BYTES) -> tuple[bytes, float]:
    """Bytes and when the last of them reached the socket, in `perf_counter` time.

    With ``SO_TIMESTAMPNS`` (see `enable_arrival_timestamps`) that is the kernel's
    arrival stamp, immune to however late the server got round to reading; without it,
    the time ``recv`` returned. Raises what ``recvmsg`` raises (`BlockingIOError` on a
    non-blocking socket with nothing to read).
    """
    data, ancdata, _, _ = sock.recvmsg(size, _TIMESTAMP_CMSG_SPACE)
    now_ns = time_ns()
    t = perf_counter()
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
            sec, nsec = struct.unpack_from("@qq", payload)
            age_s = (now_ns - sec * 1_000_000_000 - nsec) * 1e-9
            if 0.0 <= age_s < 1.0:  # a stepped wall clock must not move the stamp
                t -= age_s
    return data, t


class RequestParser:
    """Splits the bytes of one connection into requests, incrementally (no I/O).

    `feed` bytes with their arrival time, then take requests with `next_request` until
    it returns None. A request's ``t_recv`` is the arrival time of the bytes that
    completed it. ``interim`` is set to a ``100 Continue`` response to send when a
    client waits for one (``Expect: 100-continue``) before sending its body.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._t_last = 0.0
        self._continued = False
        self.interim: bytes | None = None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes, t_arrival: float) -> None:
        self._buf += data
        self._t_last = t_arrival

    def next_request(self) -> Request | None:
        """The next complete request, or None; raises `HttpError` for a bad one."""
        buf = self._buf
        head_end = buf.find(b"\r\n\r\n")
        if head_end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                raise HttpError(431, "request head too large")
            return None
        if head_end > MAX_HEAD_BYTES:
            raise HttpError(431, "request head too large")
        method, path, version, headers = _parse_head(bytes(buf[:head_end]))
        if "transfer-encoding" in headers:
            raise HttpError(411, "chunked request bodies are not supported; send Content-Length")
        body_start = head_end + 4
        body_end = body_start + _content_length(headers)
        if len(buf) < body_end:
            expect = headers.get("expect", "").lower() == "100-continue"
            if expect and not self._continued:
                self._continued = True
                self.interim = b"HTTP/1.1 100 Continue\r\n\r\n"
            return None
        body = bytes(buf[body_start:body_end])
        del buf[:body_end]
        self._continued = False
        tokens = {t.strip() for t in headers.get("connection", "").lower().split(",")}
        # RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only on "keep-alive".
        keep_alive = "close" not in tokens if version == "HTTP/1.1" else "keep-alive" in tokens
        return Request(method, path, headers, body, keep_alive, self._t_last)


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    # RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
    while lines and not lines[0]:
        lines.pop(0)
    parts = lines[0].split(" ") if lines else []
    if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, "malformed header line")
        key = name.lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return method, target.split("?", 1)[0], version, headers


def _content_length(headers: dict[str, str]) -> int:
    raw = headers.get("content-length")
    if raw is None:
        return 0
    values = {v.strip() for v in raw.split(",")}
    if len(values) != 1 or not (value := values.pop()).isdigit():
        raise HttpError(400, "invalid Content-Length")
    length = int(value)
    if length > MAX_BODY_BYTES:
        raise HttpError(413, "request body too large")
    return length


def response_head(status: int, headers: list[tuple[str, str]], *, keep_alive: bool) -> bytes:
    """Status line and headers up to the blank line, with ``Connection: close``."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def insert_headers(response: bytes, fields: list[tuple[str, str]]) -> bytes:
    """``response`` (bytes starting with a response head) with ``fields`` added at the end of
    its head; unchanged when it holds no complete head."""
    end = response.find(b"\r\n\r\n")
    if end < 0 or not fields:
        return response
    extra = "".join(f"\r\n{name}: {value}" for name, value in fields).encode("latin-1")
    return response[:end] + extra + response[end:]


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk (RFC 9112 §7.1); never empty: that is the terminator."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


def json_bytes(obj: object) -> bytes:
    """Compact JSON, as OpenAI-compatible servers send it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(status: int, obj: object, *, keep_alive: bool) -> bytes:
    """A whole JSON response with ``Content-Length``."""
    body = json_bytes(obj)
    head = response_head(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        keep_alive=keep_alive,
    )
    return head + body


def error_body(message: str, *, error_type: str, param: str | None = None) -> dict[str, object]:
    """OpenAI's error shape: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": None}}

"""HTTP/1.1 for the mock: reading requests off a blocking socket, framing replies.

Just enough of RFC 9112 for a load-test target: keep-alive, pipelining,
``Content-Length`` request bodies, ``Expect: 100-continue``; chunked request bodies are
refused with 411. Responses are built as bytes (status line, headers, chunks) for the
`Emitter` to write. Standard library only; it must not import anything from the harness
core (``harness.sse``, ``harness.protocols``, ``harness.record``, ``harness.stats``):
the mock is the yardstick.
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
    """One parsed request; ``t_recv`` is `perf_counter()` once all of it was read."""

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


class RequestReader:
    """Reads successive requests from one connection, keeping bytes that arrive early.

    ``t_recv`` is taken right after the ``recv()`` that completed the request; a
    pipelined request that was already buffered is stamped when the reader gets to it,
    the moment the server starts on it.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = bytearray()

    def _recv(self, size: int) -> tuple[bytes, float]:
        """Bytes and when the last of them reached the socket, in `perf_counter` time.

        With ``SO_TIMESTAMPNS`` (see `enable_arrival_timestamps`) that is the kernel's
        arrival stamp, immune to however late this thread woke up or got the GIL; without
        it, the time ``recv`` returned.
        """
        data, ancdata, _, _ = self._sock.recvmsg(size, _TIMESTAMP_CMSG_SPACE)
        now_ns = time_ns()
        t = perf_counter()
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
                sec, nsec = struct.unpack_from("@qq", payload)
                age_s = (now_ns - sec * 1_000_000_000 - nsec) * 1e-9
                if 0.0 <= age_s < 1.0:  # a stepped wall clock must not move t_recv
                    t -= age_s
        return data, t

    def read(self) -> Request | None:
        """The next request, or None when the peer closed cleanly between requests."""
        t_last: float | None = None
        buf = self._buf
        head_end = buf.find(b"\r\n\r\n")
        while head_end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                raise HttpError(431, "request head too large")
            data, t_last = self._recv(_RECV_BYTES)
            if not data:
                if buf.strip():
                    raise HttpError(400, "connection closed inside a request head")
                return None
            buf += data
            head_end = buf.find(b"\r\n\r\n", max(0, len(buf) - len(data) - 3))
        if head_end > MAX_HEAD_BYTES:
            raise HttpError(431, "request head too large")
        method, path, version, headers = _parse_head(bytes(buf[:head_end]))
        if "transfer-encoding" in headers:
            raise HttpError(411, "chunked request bodies are not supported; send Content-Length")
        length = _content_length(headers)
        body_start = head_end + 4
        body_end = body_start + length
        if len(buf) < body_end and headers.get("expect", "").lower() == "100-continue":
            self._sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        while len(buf) < body_end:
            data, t_last = self._recv(max(_RECV_BYTES, body_end - len(buf)))
            if not data:
                raise HttpError(400, "connection closed inside a request body")
            buf += data
        t_recv = t_last if t_last is not None else perf_counter()
        body = bytes(buf[body_start:body_end])
        del buf[:body_end]
        tokens = {t.strip() for t in headers.get("connection", "").lower().split(",")}
        # RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only on "keep-alive".
        keep_alive = "close" not in tokens if version == "HTTP/1.1" else "keep-alive" in tokens
        return Request(method, path, headers, body, keep_alive, t_recv)


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

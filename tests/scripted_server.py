"""A scripted raw-socket HTTP/1.1 server: exact bytes at exact times (catalogue §0).

``python -m tests.scripted_server`` prints ``scripted listening on http://127.0.0.1:PORT`` and
serves until killed. It always runs as its own process: the pytest process may be
gevent-monkey-patched by modules that import Locust, so no threaded server lives there.

``POST /case/<name>/v1/chat/completions`` plays the script `SCRIPTS[name]`: the status line and
headers at ``head_ms``, then each ``(offset_ms, bytes | CLOSE | RESET)`` step in its own
``send()`` (TCP_NODELAY), offsets counted from the moment the whole request was read. The base URL
of a case is therefore ``http://127.0.0.1:PORT/case/<name>/v1``. ``GET /counts`` answers
``{"requests": {case: n}, "connections": {case: [serial, ...]}, "ended": [serial, ...]}`` so a test
can check that exactly one request was sent, which connection carried it, and that a connection is
gone (a script that does not close leaves it open, so only the client can have ended it).

Writes go through the mock's `Emitter` (one timer thread, absolute deadlines) and requests are read
with the mock's `RequestParser`; neither shares code with the harness parser under test.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import re
import socket
import struct
import sys
import threading
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass

from harness.mock.emitter import Action, Emitter, Payload
from harness.mock.wire import HttpError, Request, RequestParser

CLOSE = Action.CLOSE  # FIN: a clean end of stream
RESET = Action.RESET  # RST (SO_LINGER 0)
Step = bytes | Action

# -- the catalogue's byte shorthands (§0) ---------------------------------------------------

_CHUNK = '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":'


def R() -> bytes:
    return (
        f'data: {_CHUNK}[{{"index":0,"delta":{{"role":"assistant","content":""}},'
        '"finish_reason":null}]}\n\n'
    ).encode()


def T(x: str) -> bytes:
    content = json.dumps(x)
    return (
        f'data: {_CHUNK}[{{"index":0,"delta":{{"content":{content}}},"finish_reason":null}}]}}\n\n'
    ).encode()


def F(reason: str) -> bytes:
    return f'data: {_CHUNK}[{{"index":0,"delta":{{}},"finish_reason":"{reason}"}}]}}\n\n'.encode()


def U(p: int, c: int) -> bytes:
    usage = f'"usage":{{"prompt_tokens":{p},"completion_tokens":{c},"total_tokens":{p + c}}}'
    return f"data: {_CHUNK}[],{usage}}}\n\n".encode()


D = b"data: [DONE]\n\n"


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"

# -- scripts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Script:
    """One scripted response: `status` (e.g. ``"200 OK"``), `headers`, timed `steps`."""

    status: str
    headers: tuple[tuple[str, str], ...]
    steps: tuple[tuple[int, Step], ...]
    head_ms: int = 0
    #: write every byte (head included) in its own send() (catalogue P5 a)
    bytewise: bool = False

    def schedule(self) -> list[tuple[float, Payload]]:
        lines = [f"HTTP/1.1 {self.status}", *(f"{k}: {v}" for k, v in self.headers)]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        items: list[tuple[float, Payload]] = [(self.head_ms / 1000, head)]
        items += [(ms / 1000, step) for ms, step in self.steps]
        if not self.bytewise:
            return items
        return [
            (t, bytes([b]))
            for t, payload in items
            for b in (payload if isinstance(payload, bytes) else b"")
        ] + [(t, p) for t, p in items if isinstance(p, Action)]

    @property
    def closes(self) -> bool:
        """The connection ends with this response."""
        last = self.steps[-1][1] if self.steps else None
        return CONN_CLOSE in self.headers or isinstance(last, Action)


SSE = ("Content-Type", "text/event-stream")
CHUNKED = ("Transfer-Encoding", "chunked")
CONN_CLOSE = ("Connection", "close")

#: S0 = @100 R, @300 T(Hello), @350 T( world), @400 F(stop) U(10,2) D (chunked, then 0-chunk)
S0_STEPS: tuple[tuple[int, Step], ...] = (
    (100, chunk(R())),
    (300, chunk(T("Hello"))),
    (350, chunk(T(" world"))),
    (400, chunk(F("stop") + U(10, 2) + D) + LAST_CHUNK),
)


def fixed(
    status: str,
    content_type: str | None,
    body: bytes,
    *,
    at_ms: int = 0,
    extra: tuple[tuple[str, str], ...] = (),
) -> Script:
    """A whole response with Content-Length, head and body sent at `at_ms`."""
    typed = (("Content-Type", content_type),) if content_type else ()
    headers = (*typed, *extra, ("Content-Length", str(len(body))))
    return Script(status, headers, ((at_ms, body),) if body else (), head_ms=at_ms)


def _err(message: str, code: int | None = None) -> bytes:
    """An OpenAI-shaped error document."""
    error = {"message": message, "type": "x", "param": None, "code": code}
    return json.dumps({"error": error}).encode()


_BATCH_OK = json.dumps(
    {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello world"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
    }
).encode()
_HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
_JSON = "application/json"


def _gzip_steps(per_event_flush: bool) -> tuple[tuple[int, Step], ...]:
    """S0 through a compressing proxy: gzip with a flush after every event (each event
    still arrives on time), or without (everything comes out at the end, in one block)."""
    gz = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    events = [(100, R()), (300, T("Hello")), (350, T(" world")), (400, F("stop") + U(10, 2) + D)]
    if not per_event_flush:
        body = b"".join(gz.compress(e) for _, e in events) + gz.flush()
        return ((400, chunk(body) + LAST_CHUNK),)
    steps: list[tuple[int, Step]] = []
    for i, (ms, event) in enumerate(events):
        last = i == len(events) - 1
        data = gz.compress(event) + gz.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
        steps.append((ms, chunk(data) + (LAST_CHUNK if last else b"")))
    return tuple(steps)


SCRIPTS: dict[str, Script] = {
    "s0": Script("200 OK", (SSE, CHUNKED), S0_STEPS),
    "s0_bytewise": Script("200 OK", (SSE, CHUNKED), S0_STEPS, bytewise=True),
    # NET-15: a buffering reverse proxy announces itself in the response headers
    "proxied": Script(
        "200 OK",
        (
            SSE,
            CHUNKED,
            ("Server", "nginx/1.24.0"),
            ("Via", "1.1 edge"),
            ("X-Accel-Buffering", "yes"),
        ),
        S0_STEPS,
    ),
    "quick": Script(
        "200 OK",
        (SSE, CHUNKED),
        ((20, chunk(R() + T("Hi") + F("stop") + U(1, 1) + D) + LAST_CHUNK),),
    ),
    # NET-10: R, T(a), then RST
    "reset": Script(
        "200 OK", (SSE, CHUNKED), ((100, chunk(R())), (200, chunk(T("a"))), (300, RESET))
    ),
    # NET-11: chunked, FIN without the 0-chunk
    "chunked_fin": Script(
        "200 OK", (SSE, CHUNKED), ((100, chunk(R())), (200, chunk(T("a"))), (300, CLOSE))
    ),
    # NET-12: close-delimited (no length, no chunking)
    "close_truncated": Script(
        "200 OK", (SSE, CONN_CLOSE), ((100, R()), (200, T("a")), (300, CLOSE))
    ),
    "close_ok": Script(
        "200 OK",
        (SSE, CONN_CLOSE),
        ((100, R()), (200, T("a")), (300, F("stop") + D), (350, CLOSE)),
    ),
    # NET-05: tokens, then silence; the late tail must never be read by anyone
    "stall": Script(
        "200 OK",
        (SSE, CHUNKED),
        (
            (100, chunk(R())),
            (150, chunk(T("a"))),
            (200, chunk(T("b"))),
            (700, chunk(T("c") + F("stop") + D) + LAST_CHUNK),
        ),
    ),
    # NET-06: keep-alive comments every 100 ms, never a token
    "trickle": Script(
        "200 OK",
        (SSE, CHUNKED),
        tuple((ms, chunk(b": keep-alive\n\n")) for ms in range(0, 1001, 100)),
    ),
    # NET-06 variant: a token every 100 ms for a second
    "drip": Script(
        "200 OK", (SSE, CHUNKED), tuple((ms, chunk(T("a"))) for ms in range(100, 1001, 100))
    ),
    # NET-04 (b): the request is read, the answer comes late
    "late_head": Script(
        "200 OK", (SSE, CHUNKED), ((1000, chunk(T("a") + F("stop") + D) + LAST_CHUNK),), 1000
    ),
    # a keep-alive response, then the server closes the idle connection (its idle timeout)
    "idle_close": Script(
        "200 OK",
        (SSE, CHUNKED),
        ((20, chunk(R() + T("Hi") + F("stop") + U(1, 1) + D) + LAST_CHUNK), (50, CLOSE)),
    ),
    # llama.cpp: closes the connection right after every streamed response, while its head
    # says keep-alive (the FIN comes ~1 ms after the 0-chunk)
    "close_after_stream": Script(
        "200 OK",
        (SSE, CHUNKED, ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5")),
        ((20, chunk(R() + T("Hi") + F("stop") + U(1, 1) + D) + LAST_CHUNK), (21, CLOSE)),
    ),
    # a server that keeps the idle connection but says it will close it after 1 s
    "keep_alive_1s": Script(
        "200 OK",
        (SSE, CHUNKED, ("Keep-Alive", "timeout=1")),
        ((20, chunk(R() + T("Hi") + F("stop") + U(1, 1) + D) + LAST_CHUNK),),
    ),
    # a response that says Connection: close (the server keeps the socket open: only the
    # client can end it)
    "says_close": Script(
        "200 OK",
        (SSE, CHUNKED, CONN_CLOSE),
        ((20, chunk(R() + T("Hi") + F("stop") + U(1, 1) + D) + LAST_CHUNK),),
    ),
    # the close racing the next write: the first request on a connection is answered with
    # keep-alive; a second one on the same connection is met by a close (FIN, or RST) with no
    # response byte, as when the server's idle close crosses the client's write. See
    # _DROPS_SECOND.
    "close_on_next": Script(
        "200 OK",
        (SSE, CHUNKED),
        ((20, chunk(R() + T("Hi") + F("stop") + U(1, 1) + D) + LAST_CHUNK),),
    ),
    "reset_on_next": Script(
        "200 OK",
        (SSE, CHUNKED),
        ((20, chunk(R() + T("Hi") + F("stop") + U(1, 1) + D) + LAST_CHUNK),),
    ),
    # a proxy that compresses whatever it is asked: gzip flushed per event, or not at all
    # until the end; and an encoding the client cannot decode
    "gzip_flushed": Script(
        "200 OK", (SSE, CHUNKED, ("Content-Encoding", "gzip")), _gzip_steps(True)
    ),
    "gzip_unflushed": Script(
        "200 OK", (SSE, CHUNKED, ("Content-Encoding", "gzip")), _gzip_steps(False)
    ),
    "brotli": Script("200 OK", (SSE, CHUNKED, ("Content-Encoding", "br")), S0_STEPS),
    # NET-07, NET-08, NET-16, NET-19: statuses (and "early_413": see _answered_early)
    "s429": fixed(
        "429 Too Many Requests", _JSON, _err("slow down", 429), extra=(("Retry-After", "7"),)
    ),
    "s500": fixed("500 Internal Server Error", _JSON, _err("boom", 500)),
    "s502": fixed("502 Bad Gateway", "text/html", _HTML),
    "s503": fixed("503 Service Unavailable", None, b""),
    "s401": fixed("401 Unauthorized", _JSON, _err("Incorrect API key provided: sk-abc***xyz")),
    "s403": fixed("403 Forbidden", _JSON, _err("forbidden")),
    "s400": fixed("400 Bad Request", _JSON, _err("context length exceeded")),
    "s404": fixed("404 Not Found", _JSON, _err("model not found")),
    "s413": fixed("413 Content Too Large", "text/plain", b"too large"),
    "s422": fixed("422 Unprocessable Content", _JSON, _err("bad field")),
    "s301": fixed(
        "301 Moved Permanently",
        None,
        b"",
        extra=(("Location", "/case/redirect_target/v1/chat/completions"),),
    ),
    "s307": fixed(
        "307 Temporary Redirect",
        None,
        b"",
        extra=(("Location", "/case/redirect_target/v1/chat/completions"),),
    ),
    "redirect_target": Script(
        "200 OK", (SSE, CHUNKED), ((0, chunk(T("x") + F("stop") + D) + LAST_CHUNK),)
    ),
    # NET-09: 200 with the wrong body or type
    "html_200": fixed("200 OK", "text/html", b"<html><body>Please log in</body></html>"),
    "json_error_200": fixed("200 OK", _JSON, _err("insufficient credits", 402)),
    "upper_content_type": Script(
        "200 OK", (("Content-Type", "TEXT/EVENT-STREAM; charset=UTF-8"), CHUNKED), S0_STEPS
    ),
    "no_content_type": Script("200 OK", (CHUNKED,), S0_STEPS),
    # OAI-10: raw JSON in a text/event-stream 200, then FIN
    "sse_raw_json": Script(
        "200 OK",
        (SSE, CONN_CLOSE),
        (
            (50, _err("request (19185 tokens) exceeds the available context size", 400)),
            (100, CLOSE),
        ),
    ),
    # OAI-14: batch
    "batch_ok": fixed("200 OK", _JSON, _BATCH_OK, at_ms=300),
    "batch_slow": fixed("200 OK", _JSON, _BATCH_OK, at_ms=600),
    "batch_empty": fixed("200 OK", _JSON, b'{"choices":[]}', at_ms=50),
    # a server that ignores stream: true and answers with one JSON completion
    "json_completion": fixed("200 OK", _JSON, _BATCH_OK, at_ms=300),
    "batch_gzip": fixed(
        "200 OK", _JSON, gzip.compress(_BATCH_OK), at_ms=300, extra=(("Content-Encoding", "gzip"),)
    ),
    "batch_error": fixed("200 OK", _JSON, _err("upstream failed", 500), at_ms=50),
    "batch_truncated": Script(
        "200 OK",
        (("Content-Type", _JSON), ("Content-Length", str(len(_BATCH_OK)))),
        ((50, _BATCH_OK[:40]), (100, CLOSE)),
    ),
}

#: cases whose second request on one connection is met by a close with no response byte
#: (FIN, or RST), counted in /counts "dropped"
_DROPS_SECOND = {"close_on_next": CLOSE, "reset_on_next": RESET}

# -- the server ------------------------------------------------------------------------------

_CASE_PATH = re.compile(r"/case/([\w-]+)/v1/(?:chat/)?completions")


class ScriptedServer:
    """Accepts connections; one thread per connection reads requests and plays scripts."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.emitter = Emitter()
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._connections: defaultdict[str, list[int]] = defaultdict(list)
        self._ended: list[int] = []
        self._dropped: Counter[str] = Counter()
        self._serial = itertools.count(1)

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def serve_forever(self) -> None:
        self.emitter.start()
        while True:
            conn, _ = self.listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            serial = next(self._serial)
            threading.Thread(target=self._serve, args=(conn, serial), daemon=True).start()

    def counts(self) -> bytes:
        with self._lock:
            doc = {
                "requests": dict(self._requests),
                "connections": dict(self._connections),
                "ended": list(self._ended),
                "dropped": dict(self._dropped),
            }
        return json.dumps(doc).encode()

    def _serve(self, conn: socket.socket, serial: int) -> None:
        parser = RequestParser()
        served: Counter[str] = Counter()
        try:
            if self._answered_early(conn, serial):
                return
            while (request := _read_request(conn, parser)) is not None:
                if request.method == "GET" and request.path == "/counts":
                    body = self.counts()
                    conn.sendall(_head("200 OK", len(body)) + body)
                    continue
                match = _CASE_PATH.fullmatch(request.path)
                script = SCRIPTS.get(match[1]) if match else None
                if match is None or script is None or request.method != "POST":
                    conn.sendall(_head("404 Not Found", 0, close=True))
                    return
                drop = _DROPS_SECOND.get(match[1])
                if drop is not None and served[match[1]]:
                    with self._lock:
                        self._dropped[match[1]] += 1
                    if drop is RESET:
                        conn.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                    return
                served[match[1]] += 1
                with self._lock:
                    self._requests[match[1]] += 1
                    self._connections[match[1]].append(serial)
                done = self.emitter.schedule(conn, request.t_recv, script.schedule())
                done.wait()
                if done.closed or script.closes:
                    _linger_until_peer_closes(conn)
                    return
        except (OSError, HttpError):
            return
        finally:
            conn.close()
            with self._lock:
                self._ended.append(serial)

    def _answered_early(self, conn: socket.socket, serial: int) -> bool:
        """Catalogue NET-19: a request to `/case/early_413/` gets its 413 as soon as its head
        is in, and the connection is closed while the body is still uploading (unread input:
        the kernel sends a RST)."""
        prefix = b"POST /case/early_413/"
        while True:
            head = conn.recv(65536, socket.MSG_PEEK)  # leaves the bytes for _read_request
            if not (head.startswith(prefix) or prefix.startswith(head)) or not head:
                return False
            if b"\r\n\r\n" in head:
                break
            time.sleep(0.001)
        with self._lock:
            self._requests["early_413"] += 1
            self._connections["early_413"].append(serial)
        body = b"request body too large"
        conn.sendall(
            b"HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        time.sleep(0.05)  # the client is still writing its body
        return True


def _read_request(conn: socket.socket, parser: RequestParser) -> Request | None:
    """The next request on `conn`, timed by the arrival of its last byte; None at EOF."""
    while (request := parser.next_request()) is None:
        data = conn.recv(65536)
        if not data:
            return None
        parser.feed(data, time.perf_counter())
    return request


def _head(status: str, length: int, *, close: bool = False) -> bytes:
    extra = "Connection: close\r\n" if close else ""
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


def _linger_until_peer_closes(conn: socket.socket) -> None:
    """After our FIN, wait for the peer's: closing with unread input would send a RST."""
    if conn.fileno() < 0:  # a RESET already closed it
        return
    with contextlib.suppress(OSError):  # a CLOSE step already shut it
        conn.shutdown(socket.SHUT_WR)
    conn.settimeout(5.0)
    while conn.recv(65536):
        pass


def main() -> None:
    sys.setswitchinterval(0.0005)  # the emitter thread must get the GIL on time
    server = ScriptedServer()
    print(f"scripted listening on http://127.0.0.1:{server.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

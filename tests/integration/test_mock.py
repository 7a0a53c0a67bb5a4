"""The mock server keeps its timing promises, seen from a plain-socket client.

The mock is the yardstick of every latency test, so it is checked here with nothing from the
harness core: raw sockets, a minimal HTTP/1.1 reader in this file, and `time.perf_counter()`
taken right after each ``recv()``. The mock runs as a subprocess (``python -m harness.mock``);
only its `Emitter`, which scripted test servers will reuse, is also tested in-process.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.mock import Action, Emitter
from tests.conftest import ROOT, on_time_in_one_of

TTFT, ITL, TOKENS = 0.100, 0.010, 20
CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
PROMPT = "say hello to the mock"  # 6 tokens by the mock's rule ("hello" is 2)
#: prompt tokens of `gen_body`: as one chat message, the template adds 3 + 4 (tokens.py)
PROMPT_TOKENS = {CHAT: 13, COMPLETIONS: 6}
# Bound for tests about what happens rather than exactly when; the timing tests use the
# tight bounds, with `on_time_in_one_of`.
COARSE = 0.010


# -- the mock as a subprocess -------------------------------------------------------------


@dataclass
class Mock:
    proc: subprocess.Popen[str]
    port: int

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=5)
        return self.proc.returncode, err


def start_mock(*args: str) -> Mock:
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.mock", "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.fullmatch(r"mock listening on http://127\.0\.0\.1:(\d+)/v1\n", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"unexpected first line {line!r}: {proc.communicate()[1]}")
    return Mock(proc, int(match.group(1)))


def profile_args(ttft: float = TTFT, itl: float = ITL, tokens: int = TOKENS) -> list[str]:
    return ["--ttft", f"{ttft * 1000:g}ms", "--itl", f"{itl * 1000:g}ms", "--tokens", str(tokens)]


@pytest.fixture(scope="module")
def mock() -> Iterator[Mock]:
    server = start_mock(*profile_args())
    yield server
    assert server.stop() == (0, "")  # a clean exit: status 0, not a line on stderr


# -- a minimal HTTP/1.1 client with per-recv timestamps -----------------------------------


def request_bytes(
    method: str, path: str, body: object = None, *, raw: bytes | None = None
) -> bytes:
    payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    head = f"{method} {path} HTTP/1.1\r\nHost: mock\r\nContent-Length: {len(payload)}\r\n"
    if payload:
        head += "Content-Type: application/json\r\n"
    return (head + "\r\n").encode() + payload


def gen_body(endpoint: str, *, stream: bool, usage: bool = True, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "mock-llm", "stream": stream, **extra}
    if endpoint == CHAT:
        body["messages"] = [{"role": "user", "content": PROMPT}]
    else:
        body["prompt"] = PROMPT
    if stream and usage:
        body["stream_options"] = {"include_usage": True}
    return body


@dataclass
class Chunk:
    """One HTTP chunk (or a whole Content-Length body) and when its last byte arrived."""

    t: float  # seconds after t0
    data: bytes
    segment: int  # index of the recv() that completed it


@dataclass
class Response:
    t0: float
    segments: list[tuple[float, bytes]] = field(default_factory=list)
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[Chunk] = field(default_factory=list)
    ended: bool = False  # every byte of the body arrived
    complete: bool = False  # ... and `finish` parsed it into ``chunks``
    _buf: bytearray = field(default_factory=bytearray)
    _body_start: int = -1

    def feed(self, t: float, data: bytes) -> None:
        """Keep one ``recv()``'s bytes and time; set ``ended`` once the body is whole.

        Only cheap checks here: the caller reads other streams between two calls, and
        whatever this costs delays their timestamps. Parsing waits for `finish`.
        """
        self.segments.append((t, data))
        self._buf += data
        buf = self._buf
        if self._body_start < 0:
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            self._body_start = head_end + 4
            lines = buf[:head_end].decode("latin-1").split("\r\n")
            self.status = int(lines[0].split(" ")[1])
            self.headers = {
                k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
            }
        if self.headers.get("transfer-encoding") == "chunked":
            # The mock's chunks all end in "\n\n\r\n", so this can only be the terminator.
            self.ended = buf.endswith(b"\r\n0\r\n\r\n") or len(buf) == self._body_start + 5
        else:
            self.ended = len(buf) >= self._body_start + int(self.headers["content-length"])

    def finish(self) -> Response:
        """Split the whole body into chunks (after reading, never between reads)."""
        assert self.ended, "the response is not whole yet"
        self._parse()
        assert self.complete, "the body does not parse"
        return self

    def _parse(self) -> None:
        buf = bytes(self._buf)
        ends = []
        total = 0
        for _, d in self.segments:
            total += len(d)
            ends.append(total)

        def when(end_offset: int) -> tuple[float, int]:
            i = bisect_left(ends, end_offset)
            return self.segments[i][0] - self.t0, i

        pos = self._body_start
        chunks: list[Chunk] = []
        if self.headers.get("transfer-encoding") == "chunked":
            while True:
                line_end = buf.find(b"\r\n", pos)
                if line_end < 0:
                    return
                size = int(buf[pos:line_end], 16)
                if size == 0:
                    if len(buf) < line_end + 4:
                        return
                    assert buf[line_end : line_end + 4] == b"\r\n\r\n"
                    assert len(buf) == line_end + 4, "bytes after the chunked terminator"
                    t, seg = when(line_end + 4)
                    chunks.append(Chunk(t, b"", seg))  # the terminator
                    break
                data_end = line_end + 2 + size
                if len(buf) < data_end + 2:
                    return
                assert buf[data_end : data_end + 2] == b"\r\n"
                t, seg = when(data_end)
                chunks.append(Chunk(t, buf[line_end + 2 : data_end], seg))
                pos = data_end + 2
        else:
            end = pos + int(self.headers["content-length"])
            if len(buf) < end:
                return
            t, seg = when(end)
            chunks.append(Chunk(t, buf[pos:end], seg))
        self.chunks = chunks
        self.complete = True

    @property
    def t_headers(self) -> float:
        return self.segments[0][0] - self.t0

    def events(self) -> list[tuple[Chunk, bytes]]:
        """SSE events as (chunk, payload after ``data: ``); every event must be data-only."""
        out = []
        for c in self.chunks[:-1]:
            assert c.data.endswith(b"\n\n"), c.data
            for event in c.data[:-2].split(b"\n\n"):
                assert event.startswith(b"data: "), event
                out.append((c, event[len(b"data: ") :]))
        return out

    def json(self) -> Any:
        return json.loads(self.chunks[0].data)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def exchange(sock: socket.socket, request: bytes, timeout: float = 5.0) -> Response:
    sock.settimeout(timeout)
    t0 = time.perf_counter()
    sock.sendall(request)
    return read_response(sock, t0)


def read_response(sock: socket.socket, t0: float) -> Response:
    response = Response(t0)
    while not response.ended:
        data = sock.recv(65536)
        t = time.perf_counter()
        assert data, "connection closed before the response was complete"
        response.feed(t, data)
    return response.finish()


def call(port: int, method: str, path: str, body: object = None, **kw: Any) -> Response:
    with connect(port) as sock:
        return exchange(sock, request_bytes(method, path, body, **kw))


def stats(port: int) -> dict[str, Any]:
    response = call(port, "GET", "/mock/stats")
    assert response.status == 200
    return dict(response.json())


def token_chunks(response: Response, endpoint: str = CHAT) -> list[tuple[Chunk, dict[str, Any]]]:
    out = []
    for c, payload in response.events():
        if payload == b"[DONE]":
            continue
        obj = json.loads(payload)
        choices = obj["choices"]
        if not choices:
            continue
        text = choices[0]["delta"].get("content") if endpoint == CHAT else choices[0]["text"]
        if text:
            out.append((c, obj))
    return out


def token_texts(response: Response, endpoint: str = CHAT) -> list[str]:
    key = "delta" if endpoint == CHAT else None
    return [
        obj["choices"][0][key]["content"] if key else obj["choices"][0]["text"]
        for _, obj in token_chunks(response, endpoint)
    ]


def timing_violations(response: Response, n: int, *, ttft_tol: float, gap_tol: float) -> list[str]:
    """How one stream is off schedule: first token at TTFT, then one every ITL."""
    times = [c.t for c, _ in token_chunks(response)]
    if len(times) != n:
        return [f"{len(times)} tokens, expected {n}"]
    out = []
    if abs(times[0] - TTFT) > ttft_tol:
        out.append(f"first token at {times[0] * 1e3:.2f} ms")
    for i, (a, b) in enumerate(itertools.pairwise(times), 1):
        if abs(b - a - ITL) > gap_tol:
            out.append(f"token {i} {(b - a) * 1e3:.2f} ms after the previous")
    return out


# -- streaming ----------------------------------------------------------------------------


def test_stream_shape(mock: Mock) -> None:
    response = call(mock.port, "POST", CHAT, gen_body(CHAT, stream=True))
    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    events = response.events()
    # Headers and the role chunk arrive together, at once.
    role_chunk, role = events[0]
    assert role_chunk.segment == 0  # written with the headers
    assert json.loads(role)["choices"] == [
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
    ]
    # One token per HTTP chunk and per event.
    tokens = token_chunks(response)
    assert len({id(c) for c, _ in tokens}) == TOKENS
    assert token_texts(response) == [f" tok{i}" for i in range(TOKENS)]
    first = tokens[0][1]
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"] == [{"index": 0, "delta": {"content": " tok0"}, "finish_reason": None}]
    # The final write: finish, usage, [DONE] and the terminator, together.
    finish, usage, done, terminator = response.chunks[-4:]
    assert len({finish.segment, usage.segment, done.segment, terminator.segment}) == 1
    assert json.loads(finish.data[6:])["choices"] == [
        {"index": 0, "delta": {}, "finish_reason": "stop"}
    ]
    usage_obj = json.loads(usage.data[6:])
    assert usage_obj["choices"] == []
    assert usage_obj["usage"] == {"prompt_tokens": 13, "completion_tokens": 20, "total_tokens": 33}
    assert done.data == b"data: [DONE]\n\n"
    assert terminator.data == b""


def test_stream_is_on_schedule(mock: Mock) -> None:
    def run() -> tuple[None, list[str]]:
        response = call(mock.port, "POST", CHAT, gen_body(CHAT, stream=True))
        problems = timing_violations(response, TOKENS, ttft_tol=0.002, gap_tol=0.001)
        if response.chunks[0].t > 0.003:
            problems.append(f"headers and role chunk at {response.chunks[0].t * 1e3:.2f} ms")
        last_token, final = token_chunks(response)[-1][0], response.chunks[-1]
        if final.t - last_token.t > 0.001:
            problems.append(f"final write {(final.t - last_token.t) * 1e3:.2f} ms late")
        return None, problems

    on_time_in_one_of(5, run)


def test_stream_without_include_usage_has_no_usage_chunk(mock: Mock) -> None:
    response = call(mock.port, "POST", CHAT, gen_body(CHAT, stream=True, usage=False))
    payloads = [p for _, p in response.events()]
    assert payloads[-1] == b"[DONE]"
    objs = [json.loads(p) for p in payloads[:-1]]
    assert all("usage" not in o and o["choices"] for o in objs)
    assert objs[-1]["choices"][0]["finish_reason"] == "stop"
    assert len(objs) == 1 + TOKENS + 1  # role, tokens, finish


def test_completions_stream_has_text_chunks(mock: Mock) -> None:
    response = call(mock.port, "POST", COMPLETIONS, gen_body(COMPLETIONS, stream=True))
    tokens = token_chunks(response, COMPLETIONS)
    assert [o["choices"][0]["text"] for _, o in tokens] == [f" tok{i}" for i in range(TOKENS)]
    assert {o["object"] for _, o in tokens} == {"text_completion"}
    assert tokens[0][0].t == pytest.approx(TTFT, abs=COARSE)


# -- batch --------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", [CHAT, COMPLETIONS])
def test_batch_body_arrives_when_last_token_is_due(mock: Mock, endpoint: str) -> None:
    due = TTFT + (TOKENS - 1) * ITL

    def run() -> tuple[Response, list[str]]:
        response = call(mock.port, "POST", endpoint, gen_body(endpoint, stream=False))
        assert response.status == 200
        assert len(response.segments) == 1  # one write: head and body together
        t = response.chunks[0].t
        return response, [] if abs(t - due) <= 0.003 else [f"body at {t * 1e3:.2f} ms"]

    response = on_time_in_one_of(5, run)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    text = "".join(f" tok{i}" for i in range(TOKENS))
    choice = body["choices"][0]
    if endpoint == CHAT:
        assert body["object"] == "chat.completion"
        assert choice["message"] == {"role": "assistant", "content": text}
    else:
        assert body["object"] == "text_completion"
        assert choice["text"] == text
    assert choice["finish_reason"] == "stop"
    prompt = PROMPT_TOKENS[endpoint]
    assert body["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": 20,
        "total_tokens": prompt + 20,
    }


# -- max_tokens ---------------------------------------------------------------------------


def test_max_tokens_caps_stream_with_finish_reason_length(mock: Mock) -> None:
    response = call(mock.port, "POST", CHAT, gen_body(CHAT, stream=True, max_tokens=5))
    assert token_texts(response) == [f" tok{i}" for i in range(5)]
    objs = [json.loads(p) for _, p in response.events() if p != b"[DONE]"]
    assert objs[-2]["choices"][0]["finish_reason"] == "length"
    assert objs[-1]["usage"]["completion_tokens"] == 5


def test_max_tokens_caps_batch(mock: Mock) -> None:
    body = gen_body(COMPLETIONS, stream=False, max_tokens=3)
    response = call(mock.port, "POST", COMPLETIONS, body)
    assert response.chunks[0].t == pytest.approx(TTFT + 2 * ITL, abs=COARSE)
    choice = response.json()["choices"][0]
    assert (choice["text"], choice["finish_reason"]) == (" tok0 tok1 tok2", "length")


def test_max_tokens_above_profile_is_a_normal_stop(mock: Mock) -> None:
    response = call(mock.port, "POST", CHAT, gen_body(CHAT, stream=False, max_tokens=1000))
    body = response.json()
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == TOKENS


# -- connections --------------------------------------------------------------------------


def test_keep_alive_serves_two_requests_on_one_connection(mock: Mock) -> None:
    with connect(mock.port) as sock:
        first = exchange(sock, request_bytes("POST", CHAT, gen_body(CHAT, stream=True)))
        second = exchange(sock, request_bytes("POST", CHAT, gen_body(CHAT, stream=False)))
        third = exchange(sock, request_bytes("GET", "/health"))
    assert [r.status for r in (first, second, third)] == [200, 200, 200]
    assert token_texts(first) == [f" tok{i}" for i in range(TOKENS)]
    assert second.chunks[0].t == pytest.approx(TTFT + (TOKENS - 1) * ITL, abs=COARSE)
    assert "connection" not in first.headers


def test_connection_close_is_honoured() -> None:
    # Own server: the module one is shared, and this one's counts must be exact.
    server = start_mock(*profile_args(ttft=0.0, itl=0.0, tokens=2))
    try:
        with connect(server.port) as sock:
            request = request_bytes("POST", CHAT, gen_body(CHAT, stream=False))
            request = request.replace(b"Host: mock\r\n", b"Host: mock\r\nConnection: close\r\n")
            response = exchange(sock, request)
            assert response.headers["connection"] == "close"
            assert sock.recv(1) == b""  # the server closed its side
    finally:
        assert server.stop() == (0, "")


# -- concurrency and accounting -----------------------------------------------------------


def stream_concurrently(port: int, n: int) -> list[Response]:
    """Open ``n`` connections, send one streaming request on each back to back (a
    synchronized burst, as a load test's start is), and read all of them."""
    request = request_bytes("POST", CHAT, gen_body(CHAT, stream=True))
    with contextlib.ExitStack() as stack:
        sel = stack.enter_context(selectors.DefaultSelector())
        socks = [stack.enter_context(connect(port)) for _ in range(n)]
        responses: dict[socket.socket, Response] = {}
        for sock in socks:
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ)
        for sock in socks:
            responses[sock] = Response(time.perf_counter())
            sock.sendall(request)
        pending = n
        give_up = time.perf_counter() + 10
        while pending and time.perf_counter() < give_up:
            for key, _ in sel.select(timeout=1):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                data = ready.recv(65536)
                t = time.perf_counter()
                assert data, "connection closed before the response was complete"
                responses[ready].feed(t, data)
                if responses[ready].ended:
                    sel.unregister(ready)
                    pending -= 1
        assert pending == 0
        # Parsed only now: a parse inside the loop (~30-80 µs each) would delay the reads
        # of the streams whose last token arrives in the same burst (see test_32_...).
        return [response.finish() for response in responses.values()]


def test_32_concurrent_streams_on_schedule_and_accounted_for() -> None:
    n = 32
    # Own server: its counts and lateness must cover exactly these requests.
    server = start_mock(*profile_args())

    def run() -> tuple[None, list[str]]:
        call(server.port, "DELETE", "/mock/stats")  # each run is counted on its own
        responses = stream_concurrently(server.port, n)
        for response in responses:
            assert token_texts(response) == [f" tok{i}" for i in range(TOKENS)]
        doc = stats(server.port)
        assert doc["requests"] == {CHAT: {"stream": n}}
        assert doc["completed"] == {CHAT: {"stream": n}}
        assert (doc["aborted"], doc["in_flight"], doc["rejected"]) == ({}, 0, {})
        assert doc["lateness_s"]["count"] == n * (TOKENS + 1)  # tokens, the final write
        assert doc["reaction_s"]["count"] == n  # headers and role chunk, "at once"
        # The mock writes the 32 streams' tokens one send() after another (~10-40 µs
        # each, depending on the day's machine) and this client reads them one recv()
        # after another: a token's place in the burst shifts what the client sees by up to
        # ~1 ms, and the last writes of a burst are up to ~1.3 ms late on a slow day (the
        # p99 of 672 writes is the 7th latest). The mock's own lateness is the precise
        # figure; the burst's, not its timer's, is what this bound allows for.
        problems = [
            p
            for r in responses
            for p in timing_violations(r, TOKENS, ttft_tol=0.003, gap_tol=0.002)
        ]
        if doc["lateness_s"]["p99"] >= 0.002:
            problems.append(f"mock lateness p99 {doc['lateness_s']['p99'] * 1e3:.2f} ms")
        return None, problems

    try:
        on_time_in_one_of(5, run)
    finally:
        assert server.stop() == (0, "")


# -- other endpoints and errors -----------------------------------------------------------


def test_models_health_and_stats_shape(mock: Mock) -> None:
    models = call(mock.port, "GET", "/v1/models")
    assert models.status == 200
    assert models.json()["object"] == "list"
    assert [m["id"] for m in models.json()["data"]] == ["mock-llm"]
    assert call(mock.port, "GET", "/health").status == 200
    doc = stats(mock.port)
    assert {"count", "p50", "p99", "max"} <= set(doc["lateness_s"])


def test_other_model_name_still_succeeds(mock: Mock) -> None:
    body = gen_body(CHAT, stream=False, max_tokens=1) | {"model": "someone-else"}
    response = call(mock.port, "POST", CHAT, body)
    assert response.status == 200
    assert response.json()["model"] == "someone-else"


@pytest.mark.parametrize(
    ("method", "path", "raw", "status"),
    [
        ("GET", "/v2/nothing", b"", 404),
        ("POST", CHAT, b'{"model": "m", "messages": [', 400),
        ("POST", CHAT, b'["not", "an", "object"]', 400),
        ("POST", COMPLETIONS, b'{"prompt": "x", "max_tokens": 0}', 400),
        ("GET", CHAT, b"", 405),
    ],
)
def test_errors_are_openai_shaped_json(
    mock: Mock, method: str, path: str, raw: bytes, status: int
) -> None:
    with connect(mock.port) as sock:
        response = exchange(sock, request_bytes(method, path, raw=raw))
        assert response.status == status
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
        # An error in the request body does not cost the connection.
        assert exchange(sock, request_bytes("GET", "/health")).status == 200


def test_chunked_request_body_is_refused(mock: Mock) -> None:
    request = (
        f"POST {CHAT} HTTP/1.1\r\nHost: mock\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\n{}\r\n0\r\n\r\n"
    ).encode()
    with connect(mock.port) as sock:
        assert exchange(sock, request).status == 411


def test_pipelined_requests_are_answered_in_order() -> None:
    body = gen_body(CHAT, stream=False, max_tokens=1)
    with connect_fresh() as (server, sock):
        first = exchange(sock, request_bytes("POST", CHAT, body) * 2)  # both at once
        second = read_response(sock, first.t0)
    # The second starts when the first has been written: one TTFT later.
    assert first.chunks[0].t == pytest.approx(TTFT, abs=COARSE)
    assert second.chunks[-1].t == pytest.approx(2 * TTFT, abs=COARSE)
    assert server.stop() == (0, "")


@contextlib.contextmanager
def connect_fresh() -> Iterator[tuple[Mock, socket.socket]]:
    server = start_mock(*profile_args())
    try:
        with connect(server.port) as sock:
            yield server, sock
    finally:
        if server.proc.poll() is None:
            server.stop()


def test_expect_100_continue(mock: Mock) -> None:
    payload = json.dumps(gen_body(CHAT, stream=False, max_tokens=1)).encode()
    head = (
        f"POST {CHAT} HTTP/1.1\r\nHost: mock\r\nContent-Length: {len(payload)}\r\n"
        "Expect: 100-continue\r\n\r\n"
    ).encode()
    with connect(mock.port) as sock:
        sock.settimeout(5)
        sock.sendall(head)
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        assert exchange(sock, payload).status == 200


# -- the emitter, as fault injection and scripted servers will use it ---------------------


@pytest.fixture
def emitter() -> Iterator[Emitter]:
    emitter = Emitter()
    emitter.start()
    yield emitter
    emitter.stop()


@pytest.fixture
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(server side, client side) of a loopback TCP connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    with server, client:
        server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.settimeout(5)
        yield server, client


def read_until_eof(sock: socket.socket, t_base: float) -> list[tuple[float, bytes]]:
    out = []
    while data := sock.recv(65536):
        out.append((time.perf_counter() - t_base, data))
    return out


def test_emitter_script_writes_at_offsets_then_closes(
    emitter: Emitter, tcp_pair: tuple[socket.socket, socket.socket]
) -> None:
    server, client = tcp_pair
    t_base = time.perf_counter()
    done = emitter.schedule(
        server, t_base, [(0.02, b"R"), (0.05, b"T"), (0.05, b"U"), (0.05, Action.CLOSE)]
    )
    received = read_until_eof(client, t_base)  # EOF: the close is a clean FIN
    assert done.wait(1)
    assert done.ok
    assert done.closed
    assert b"".join(d for _, d in received) == b"RTU"
    assert received[0][1] == b"R"
    assert received[0][0] == pytest.approx(0.02, abs=COARSE)
    offsets = [0.02, 0.05, 0.05, 0.05]
    written = [w - t_base for w in done.written]
    assert all(w >= offset for w, offset in zip(written, offsets, strict=True))  # never early
    assert written == pytest.approx(offsets, abs=COARSE)
    assert emitter.lateness.summary()["count"] == 4


def test_emitter_reset_gives_the_peer_econnreset(
    emitter: Emitter, tcp_pair: tuple[socket.socket, socket.socket]
) -> None:
    server, client = tcp_pair
    done = emitter.schedule(server, time.perf_counter(), [(0.0, b"R"), (0.01, Action.RESET)])
    assert client.recv(1) == b"R"
    with pytest.raises(ConnectionResetError):
        client.recv(1)
    assert done.wait(1)
    assert done.ok
    assert done.closed


def test_emitter_finishes_a_slow_reader_without_delaying_others(
    emitter: Emitter, tcp_pair: tuple[socket.socket, socket.socket]
) -> None:
    server, client = tcp_pair
    big = b"x" * (16 * 1024 * 1024)  # far beyond the socket buffers
    t_base = time.perf_counter()
    slow = emitter.schedule(server, t_base, [(0.0, big), (0.0, b"!")])
    a, b = socket.socketpair()
    with a, b:
        fast = emitter.schedule(a, t_base, [(0.01 * i, b"t") for i in range(1, 6)])
        assert fast.wait(1)
        assert fast.ok
        assert emitter.lateness.summary()["max"] < COARSE  # one 16 MiB send() takes longer
    received = 0
    while received < len(big) + 1:
        received += len(client.recv(1 << 20))
    assert slow.wait(1)
    assert slow.ok
    assert emitter.stalled_writes >= 1


def test_emitter_reports_a_peer_that_went_away(
    emitter: Emitter, tcp_pair: tuple[socket.socket, socket.socket]
) -> None:
    server, client = tcp_pair
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # RST: the next send fails
    done = emitter.schedule(server, time.perf_counter(), [(0.01, b"a"), (0.02, b"b")])
    assert done.wait(1)
    assert isinstance(done.error, OSError)
    assert done.closed


@pytest.mark.parametrize(
    "items",
    [[(0.2, b"a"), (0.1, b"b")], [(-0.1, b"a")], [(0.1, Action.CLOSE), (0.2, b"a")]],
)
def test_emitter_rejects_bad_schedules(emitter: Emitter, items: list[tuple[float, Any]]) -> None:
    a, b = socket.socketpair()
    with a, b, pytest.raises(ValueError, match=r"offsets|Action"):
        emitter.schedule(a, time.perf_counter(), items)


# -- the command line ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--ttft", "200"],
        ["--itl", "fast"],
        ["--tokens", "0"],
        ["--port", "70000"],
        ["--cpu", "9999"],
        ["--spin", "-1us"],
        ["--nope"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.mock", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert "error" in result.stderr


def test_sigint_exits_cleanly() -> None:
    server = start_mock()
    server.proc.send_signal(signal.SIGINT)
    _, err = server.proc.communicate(timeout=5)
    assert (server.proc.returncode, err) == (0, "")


def test_port_in_use_exits_1_with_one_line() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "harness.mock", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    assert (result.returncode, result.stdout) == (1, "")
    assert len(result.stderr.splitlines()) == 1
    assert "cannot listen" in result.stderr

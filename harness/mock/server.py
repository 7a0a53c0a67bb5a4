"""The embedded OpenAI-compatible mock server: a load-test target whose timing is known.

`MockServer` accepts connections on a listening socket and gives each one a thread that
reads requests (blocking, keep-alive) and answers them; every generation response is a
schedule handed to the single `Emitter` thread, which writes each part at its absolute
deadline measured from the moment the request was fully read. Endpoints: ``POST
/v1/chat/completions``, ``POST /v1/completions``, ``GET /v1/models``, ``GET /health``,
``GET /mock/stats`` (counts and emitter lateness; ``DELETE`` resets them). It runs as
its own process (``python -m harness.mock``), never inside the gevent-patched load
generator. Standard library only; it must not import anything from the harness core
(``harness.sse``, ``harness.protocols``, ``harness.record``, ``harness.stats``): the
mock is the yardstick, and a bug shared with the parser would cancel out in the tests.
"""

from __future__ import annotations

import _thread
import contextlib
import itertools
import socket
import threading
import time
from collections import Counter

from harness.mock.completions import BadRequest, Endpoint, build_reply, parse_generation
from harness.mock.emitter import DEFAULT_SPIN_S, Completion, Emitter
from harness.mock.profiles import LatencyProfile
from harness.mock.wire import (
    HttpError,
    Request,
    RequestReader,
    enable_arrival_timestamps,
    error_body,
    json_response,
)

_ROUTES: dict[str, tuple[str, ...]] = {
    Endpoint.CHAT.value: ("POST",),
    Endpoint.COMPLETIONS.value: ("POST",),
    "/v1/models": ("GET",),
    "/health": ("GET",),
    "/mock/stats": ("GET", "DELETE"),
}


class MockStats:
    """What the mock received and finished: every request must be accounted for.

    ``requests`` counts accepted generation requests per (endpoint, mode); ``completed``
    those whose last byte was written; ``aborted`` those that ended early (the peer went
    away); ``rejected`` every error response per status.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str]] = Counter()
        self.completed: Counter[tuple[str, str]] = Counter()
        self.aborted: Counter[tuple[str, str]] = Counter()
        self.rejected: Counter[int] = Counter()
        self.connections_opened = 0
        self.connections_open = 0

    def count(self, counter: Counter[tuple[str, str]], endpoint: str, mode: str) -> None:
        with self._lock:
            counter[endpoint, mode] += 1

    def count_rejected(self, status: int) -> None:
        with self._lock:
            self.rejected[status] += 1

    def connection(self, delta: int) -> None:
        with self._lock:
            self.connections_open += delta
            if delta > 0:
                self.connections_opened += delta

    def snapshot(self, *, reset: bool = False) -> dict[str, object]:
        with self._lock:
            out: dict[str, object] = {
                "requests": _nest(self.requests),
                "completed": _nest(self.completed),
                "aborted": _nest(self.aborted),
                "in_flight": self.requests.total() - self.completed.total() - self.aborted.total(),
                "rejected": {str(k): v for k, v in sorted(self.rejected.items())},
                "connections": {
                    "opened": self.connections_opened,
                    "open": self.connections_open,
                },
            }
            if reset:
                for counter in (self.requests, self.completed, self.aborted):
                    counter.clear()
                self.rejected.clear()
                self.connections_opened = self.connections_open
        return out


def _nest(counter: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (endpoint, mode), n in sorted(counter.items()):
        out.setdefault(endpoint, {})[mode] = n
    return out


class MockServer:
    """An OpenAI-compatible server with a latency profile on ``host:port``.

    ``start()`` binds, listens and returns at once; ``close()`` stops everything.
    Requests for a model other than ``model`` still succeed and echo the requested name.
    """

    def __init__(
        self,
        profile: LatencyProfile | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model: str = "mock-llm",
        backlog: int = 1024,
        spin_s: float = DEFAULT_SPIN_S,
    ) -> None:
        self.profile = profile if profile is not None else LatencyProfile()
        self.model = model
        self.stats = MockStats()
        self.emitter = Emitter(spin_s=spin_s)
        self._host, self._port, self._backlog = host, port, backlog
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._request_index = itertools.count()
        self._closing = False
        self._started_wall = int(time.time())
        self._started = time.perf_counter()

    @property
    def address(self) -> tuple[str, int]:
        if self._listener is None:
            raise RuntimeError("server not started")
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """The base URL clients use, up to and including ``/v1``."""
        host, port = self.address
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}/v1"

    def start(self) -> None:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            enable_arrival_timestamps(listener)
            listener.bind((self._host, self._port))
            listener.listen(self._backlog)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self.emitter.start()
        threading.Thread(target=self._accept_loop, name="mock-accept", daemon=True).start()

    def close(self) -> None:
        self._closing = True
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept()
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        self.emitter.stop()
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> MockServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- connections -----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._closing:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                if self._closing:
                    return
                time.sleep(0.01)  # e.g. EMFILE: let connections drain instead of spinning
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._conns_lock:
                self._conns.add(conn)
            self.stats.connection(+1)
            # Not threading.Thread.start(): it waits for the new thread to run, and each
            # wait is a GIL round trip; in a burst of new connections those add up to
            # milliseconds before the later requests are even read.
            _thread.start_new_thread(self._serve_connection, (conn,))

    def _serve_connection(self, conn: socket.socket) -> None:
        reader = RequestReader(conn)
        try:
            while not self._closing:
                try:
                    request = reader.read()
                except HttpError as exc:
                    self._reply(conn, exc.status, exc.message, keep_alive=False)
                    return
                if request is None or not self._handle(conn, request):
                    return
        except OSError:
            return  # the peer went away; nothing to answer
        finally:
            with self._conns_lock:
                self._conns.discard(conn)
            conn.close()
            self.stats.connection(-1)

    def _handle(self, conn: socket.socket, request: Request) -> bool:
        """Answer one request; true if the connection stays open for another."""
        methods = _ROUTES.get(request.path)
        if methods is None:
            return self._reply(conn, 404, f"no route for {request.path}", request.keep_alive)
        if request.method not in methods:
            return self._reply(
                conn,
                405,
                f"{request.method} not allowed on {request.path}",
                request.keep_alive,
            )
        if request.path in (Endpoint.CHAT, Endpoint.COMPLETIONS):
            return self._generate(conn, request, Endpoint(request.path))
        body: object
        if request.path == "/v1/models":
            body = {
                "object": "list",
                "data": [
                    {
                        "id": self.model,
                        "object": "model",
                        "created": self._started_wall,
                        "owned_by": "locust-llm-mock",
                    }
                ],
            }
        elif request.path == "/health":
            body = {"status": "ok"}
        else:
            body = self.stats_snapshot(reset=request.method == "DELETE")
        conn.sendall(json_response(200, body, keep_alive=request.keep_alive))
        return request.keep_alive

    def _generate(self, conn: socket.socket, request: Request, endpoint: Endpoint) -> bool:
        try:
            gen = parse_generation(endpoint, request.body, self.model)
        except BadRequest as exc:
            return self._reply(conn, 400, exc.message, request.keep_alive, param=exc.param)
        mode = gen.mode
        self.stats.count(self.stats.requests, endpoint, mode)
        schedule = build_reply(
            gen,
            self.profile,
            request_index=next(self._request_index),
            keep_alive=request.keep_alive,
        )

        def on_done(completion: Completion) -> None:
            counter = self.stats.completed if completion.error is None else self.stats.aborted
            self.stats.count(counter, endpoint, mode)

        completion = self.emitter.schedule(conn, request.t_recv, schedule, on_done)
        completion.wait()
        return request.keep_alive and not completion.closed

    def _reply(
        self,
        conn: socket.socket,
        status: int,
        message: str,
        keep_alive: bool,
        *,
        param: str | None = None,
    ) -> bool:
        self.stats.count_rejected(status)
        error_type = "invalid_request_error" if status < 500 else "server_error"
        body = error_body(message, error_type=error_type, param=param)
        conn.sendall(json_response(status, body, keep_alive=keep_alive))
        return keep_alive

    def stats_snapshot(self, *, reset: bool = False) -> dict[str, object]:
        """The ``/mock/stats`` document; ``reset`` zeroes everything after reading."""
        out = self.stats.snapshot(reset=reset)
        out["lateness_s"] = self.emitter.lateness.summary()
        out["reaction_s"] = self.emitter.reaction.summary()
        out["slow_peer_handoffs"] = self.emitter.handoffs
        if reset:
            self.emitter.lateness.reset()
            self.emitter.reaction.reset()
            self.emitter.handoffs = 0
        p = self.profile
        out["profile"] = {
            "ttft_s": p.ttft_s,
            "itl_s": p.itl_s,
            "output_tokens": p.output_tokens,
            "jitter_s": p.jitter_s,
            "seed": p.seed,
        }
        out["model"] = self.model
        out["uptime_s"] = time.perf_counter() - self._started
        return out

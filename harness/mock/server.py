"""The embedded OpenAI-compatible mock server: a load-test target whose timing is known.

`MockServer` serves every connection on the single `Emitter` thread: it reads and parses
requests (keep-alive, pipelining) between timed writes, turns each answer into a
schedule, and the emitter writes each part at its absolute deadline, measured from the
kernel's arrival time of the request's last byte (with ``slots``, a capacity limit: from
the moment a queued generation got its slot, see `harness.mock.slots`). Endpoints: ``POST
/v1/chat/completions``, ``POST /v1/completions``, ``GET /v1/models``, ``GET /health``,
``GET /mock/stats`` (counts, emitter lateness, arrival times, what was received; ``DELETE``
resets them), ``GET /metrics`` (vLLM's engine metrics with the mock's true timings, see
`harness.mock.engine_metrics`; ``DELETE /mock/stats`` resets them too). Every reply to a
generation request says what the mock counted of it in ``X-Mock-Prompt-Tokens`` and
``X-Mock-Messages``. It runs as its own process (``python -m
harness.mock``), never inside the gevent-patched load generator. Standard library only; it
must not import anything from the harness core (``harness.sse``, ``harness.protocols``,
``harness.record``, ``harness.stats``): the mock is the yardstick, and a bug shared with the
parser would cancel out in the tests.
"""

from __future__ import annotations

import functools
import itertools
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from time import perf_counter

from harness.mock.answer import answer_length
from harness.mock.arrivals import ArrivalLog
from harness.mock.completions import (
    Endpoint,
    Generation,
    build_reply,
    parse_generation,
    reply_length,
)
from harness.mock.emitter import DEFAULT_SPIN_S, Completion, Emitter, Payload, Timer
from harness.mock.engine_metrics import EngineMetrics
from harness.mock.exposition import CONTENT_TYPE
from harness.mock.faults import FaultInjector
from harness.mock.personalities import (
    LLAMACPP_LOADING_BODY,
    PERSONALITIES,
    Personality,
    litellm_reply,
    llamacpp_reply,
)
from harness.mock.profiles import LatencyProfile
from harness.mock.prompt import BadRequest
from harness.mock.protocols import CHAT_EXTRAS, SHAPES
from harness.mock.received import DEFAULT_RECEIVED_CAP, ReceivedLog
from harness.mock.slots import Slots, Ticket, TicketState
from harness.mock.token_writes import TokenWrites, batch_writes, fault_writes, stream_writes
from harness.mock.wire import (
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    HttpError,
    Request,
    RequestParser,
    enable_arrival_timestamps,
    error_body,
    insert_headers,
    json_response,
    recv_stamped,
    response_head,
)
from harness.mock.wire_shape import WireShape, json_reply, reply_schedule

_ROUTES: dict[str, tuple[str, ...]] = {
    Endpoint.CHAT.value: ("POST",),
    Endpoint.COMPLETIONS.value: ("POST",),
    Endpoint.MESSAGES.value: ("POST",),
    Endpoint.RESPONSES.value: ("POST",),
    "/v1/models": ("GET",),
    "/health": ("GET",),
    "/mock/stats": ("GET", "DELETE"),
    "/metrics": ("GET",),
}


_GENERATION_PATHS = frozenset(e.value for e in Endpoint)


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


def _with_echo(
    schedule: Sequence[tuple[float, Payload]], gen: Generation
) -> list[tuple[float, Payload]]:
    """``schedule`` with ``X-Mock-Prompt-Tokens`` and ``X-Mock-Messages`` in its response head:
    what the mock counted of the request, on every reply to a generation request."""
    fields = [
        ("X-Mock-Prompt-Tokens", str(gen.prompt_tokens)),
        ("X-Mock-Messages", str(gen.messages)),
    ]
    items = list(schedule)
    for i, (offset, payload) in enumerate(items):
        if isinstance(payload, bytes) and payload.startswith(b"HTTP/1."):
            items[i] = (offset, insert_headers(payload, fields))
            break
    return items


class _Connection:
    """One client connection, served on the loop thread one request at a time."""

    __slots__ = (
        "abandon",
        "busy",
        "parser",
        "paused",
        "peer_closed",
        "served",
        "sock",
        "t_free",
        "ticket",
        "timer",
    )

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.served = 0  # requests taken: an idle timer armed before one is stale
        self.timer: Timer | None = None  # the pending idle timer, if any
        self.parser = RequestParser()
        self.busy = False  # a response is being written
        self.paused = False  # not reading: too much arrived while busy
        self.peer_closed = False
        self.t_free = 0.0  # when the last response ended: pipelined requests start here
        self.ticket: Ticket | None = None  # the generation's slot (--slots), if any
        self.abandon: Callable[[], None] | None = None


class MockServer:
    """An OpenAI-compatible server with a latency profile on ``host:port``.

    ``start()`` binds, listens and returns at once; ``close()`` stops everything.
    Requests for a model other than ``model`` still succeed and echo the requested name.
    All connections are served on the emitter's one thread: reads and parsing happen
    between timed writes, never competing with them for the GIL.
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
        faults: FaultInjector | None = None,
        personality: str = "openai",
        idle_timeout_s: float | None = None,
        loading_s: float = 0.0,
        slots: int = 0,
        received_cap: int = DEFAULT_RECEIVED_CAP,
    ) -> None:
        if personality not in PERSONALITIES:
            known = ", ".join(PERSONALITIES)
            raise ValueError(f"unknown personality {personality!r} (known: {known})")
        self.profile = profile if profile is not None else LatencyProfile()
        self.faults = faults
        """Injects faults into generation replies (see `harness.mock.faults`); None: none."""
        self.personality: Personality = PERSONALITIES[personality]
        """Whose wire habits the answers have (see `harness.mock.personalities`)."""
        if faults is not None:
            faults.personality = personality
        self.idle_timeout_s = (
            self.personality.idle_timeout_s if idle_timeout_s is None else idle_timeout_s
        )
        """Close a keep-alive connection idle this long (0 or None: never)."""
        self.loading_s = loading_s
        """Answer 503 ``Loading model`` on every route this long after `start`."""
        self.model = model
        self.stats = MockStats()
        self.arrivals = ArrivalLog()
        """When each generation request arrived (``/mock/stats`` ``arrivals``)."""
        self.received = ReceivedLog(received_cap)
        """What each accepted generation request sent (``/mock/stats`` ``received``)."""
        self.slots = Slots(slots)
        """At most this many generations at once, the rest FIFO (0: no limit)."""
        self.engine_metrics = EngineMetrics(model, slot_limit=slots)
        """vLLM's engine metrics of what the mock really did (``GET /metrics``)."""
        self.emitter = Emitter(spin_s=spin_s)
        self._host, self._port, self._backlog = host, port, backlog
        self._listener: socket.socket | None = None
        self._conns: dict[socket.socket, _Connection] = {}
        self._accept_paused = False
        self._request_index = itertools.count()
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
            enable_arrival_timestamps(listener)  # accepted sockets inherit it
            listener.bind((self._host, self._port))
            listener.listen(self._backlog)
            listener.setblocking(False)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self._started = time.perf_counter()  # the loading window starts now
        self.emitter.watch(listener, self._on_acceptable)
        self.emitter.start()

    def close(self) -> None:
        self.emitter.stop()  # joins the loop thread: the state below is ours now
        if self.faults is not None:
            self.faults.close()
        if self._listener is not None:
            self._listener.close()
        for sock in list(self._conns):
            sock.close()
        self._conns.clear()

    def __enter__(self) -> MockServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- connections (all on the loop thread) --------------------------------------------

    def _on_acceptable(self) -> None:
        assert self._listener is not None
        for _ in range(64):  # a batch, then let due writes go
            try:
                sock, _ = self._listener.accept()
            except BlockingIOError:
                return
            except OSError:  # e.g. EMFILE: wait for a connection to close
                self.emitter.unwatch(self._listener)
                self._accept_paused = True
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(sock)
            self._conns[sock] = conn
            self.stats.connection(+1)
            self.emitter.watch(sock, functools.partial(self._on_readable, conn))
            self._arm_idle(conn)

    def _arm_idle(self, conn: _Connection) -> None:
        """Close ``conn`` if it is still idle after the idle timeout (uvicorn's 5 s)."""
        if not self.idle_timeout_s:
            return
        served = conn.served
        if conn.timer is not None:
            conn.timer.cancel()

        def expire() -> None:
            idle = not conn.busy and conn.served == served and conn.parser.buffered == 0
            if idle and self._conns.get(conn.sock) is conn:
                self._close(conn)

        conn.timer = self.emitter.call_at(perf_counter() + self.idle_timeout_s, expire)

    def _on_readable(self, conn: _Connection) -> None:
        try:
            data, t_arrival = recv_stamped(conn.sock)
        except BlockingIOError:
            return
        except OSError:
            self._close(conn)
            return
        if not data:
            conn.peer_closed = True
            self.emitter.unwatch(conn.sock)
            if self.slots.limit and conn.ticket is not None and conn.ticket.active:
                self._close(conn)  # the client went away: its slot or place is free
                return
        else:
            conn.parser.feed(data, t_arrival)
        if conn.busy:
            if conn.parser.buffered > MAX_HEAD_BYTES + MAX_BODY_BYTES:
                conn.paused = True
                self.emitter.unwatch(conn.sock)
            return
        self._serve_next(conn)

    def _serve_next(self, conn: _Connection) -> None:
        try:
            request = conn.parser.next_request()
        except HttpError as exc:  # answer, then close: the stream cannot be resynced
            conn.busy = True
            self.emitter.unwatch(conn.sock)
            self._reply(conn, exc.status, exc.message, False, perf_counter())
            return
        if request is None:
            if conn.parser.interim is not None:
                interim = [(0.0, conn.parser.interim)]
                self.emitter.schedule(conn.sock, perf_counter(), interim, measure=False)
                conn.parser.interim = None
            if conn.peer_closed:
                self._close(conn)
            return
        conn.busy = True
        conn.served += 1
        # A pipelined request that was already waiting starts when the previous ends.
        self._handle(conn, request, max(request.t_recv, conn.t_free))

    def _finished(self, conn: _Connection, keep_alive: bool, completion: Completion) -> None:
        conn.busy = False
        conn.t_free = perf_counter()
        if completion.closed or not keep_alive:
            self._close(conn)
            return
        if conn.paused:
            conn.paused = False
            self.emitter.watch(conn.sock, functools.partial(self._on_readable, conn))
        self._serve_next(conn)
        if not conn.busy and self._conns.get(conn.sock) is conn:
            self._arm_idle(conn)

    def _close(self, conn: _Connection) -> None:
        if self._conns.pop(conn.sock, None) is None:
            return
        if conn.abandon is not None:
            conn.abandon()
        self.emitter.unwatch(conn.sock)
        conn.sock.close()
        self.stats.connection(-1)
        if self._accept_paused and self._listener is not None:
            self._accept_paused = False
            self.emitter.watch(self._listener, self._on_acceptable)

    # -- requests ------------------------------------------------------------------------

    def _handle(self, conn: _Connection, request: Request, t_base: float) -> None:
        methods = _ROUTES.get(request.path)
        keep_alive = request.keep_alive
        generation = request.path in _GENERATION_PATHS
        if request.method == "POST" and generation:
            self.arrivals.record(request.t_recv)  # when it arrived, whatever the answer
        loading = self.loading_s > 0 and t_base - self._started < self.loading_s
        if loading and request.path != "/mock/stats":  # llama-server loading its model
            self.stats.count_rejected(503)
            head = response_head(
                503,
                [
                    ("Content-Type", "application/json; charset=utf-8"),
                    ("Content-Length", str(len(LLAMACPP_LOADING_BODY))),
                ],
                keep_alive=keep_alive,
            )
            self._send(conn, head + LLAMACPP_LOADING_BODY, keep_alive, t_base)
            return
        if methods is None:
            self._reply(conn, 404, f"no route for {request.path}", keep_alive, t_base)
            return
        if request.method not in methods:
            message = f"{request.method} not allowed on {request.path}"
            self._reply(conn, 405, message, keep_alive, t_base)
            return
        if generation:
            self._generate(conn, request, Endpoint(request.path), t_base)
            return
        body: object
        if request.path == "/v1/models":
            model: dict[str, object] = {
                "id": self.model,
                "object": "model",
                "created": self._started_wall,
                "owned_by": "locust-llm-mock",
            }
            if self.personality.name == "llama.cpp":
                model["owned_by"] = "llamacpp"
                model["meta"] = {"n_ctx_train": 32768, "n_params": 268098176}
            elif self.personality.name == "vllm":
                model["owned_by"] = "vllm"
                model["root"] = self.model
            # Anthropic's ModelInfo beside OpenAI's fields, and its page of a list
            created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._started_wall))
            model |= {"type": "model", "display_name": self.model, "created_at": created_at}
            body = {
                "object": "list",
                "data": [model],
                "has_more": False,
                "first_id": self.model,
                "last_id": self.model,
            }
        elif request.path == "/health":
            body = {"status": "ok"}
        elif request.path == "/metrics":
            text = self.engine_metrics.render()
            fields = [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(text)))]
            head = response_head(200, fields, keep_alive=keep_alive)
            self._send(conn, head + text, keep_alive, t_base)
            return
        else:
            body = self.stats_snapshot(reset=request.method == "DELETE")
        self._send(conn, json_response(200, body, keep_alive=keep_alive), keep_alive, t_base)

    def _generate(
        self, conn: _Connection, request: Request, endpoint: Endpoint, t_base: float
    ) -> None:
        keep_alive = request.keep_alive
        shape = SHAPES.get(endpoint)
        try:
            if shape is None:
                gen = parse_generation(endpoint, request.body, self.model)
            else:
                gen = shape.parse(request.body, self.model)
        except BadRequest as exc:
            if shape is not None:
                self._reply_shaped(conn, shape, exc.message, keep_alive, t_base)
                return
            self._reply(conn, 400, exc.message, keep_alive, t_base, param=exc.param)
            return
        self.received.record(gen)  # a reference; the entry is built when /mock/stats asks
        mode = gen.mode
        self.stats.count(self.stats.requests, endpoint, mode)
        index = next(self._request_index)
        schedule, writes = self.plan_reply(gen, index, keep_alive=keep_alive)
        metrics = self.engine_metrics
        trace = metrics.begin(gen.model, t_base, gen.prompt_tokens)

        def on_done(completion: Completion) -> None:
            conn.ticket = conn.abandon = None
            # before the release: the next generation starts running once this one stopped
            metrics.finished(trace, writes, completion.written, whole=completion.error is None)
            self.slots.release(ticket)
            counter = self.stats.completed if completion.error is None else self.stats.aborted
            self.stats.count(counter, endpoint, mode)
            self._finished(conn, keep_alive, completion)

        def start(t_slot: float) -> None:  # at arrival, or when a slot is released
            metrics.started(trace, t_slot)
            self.emitter.schedule(conn.sock, t_slot, schedule, on_done)

        def abandon() -> None:  # the connection closed before the response ended
            conn.ticket = conn.abandon = None
            if ticket.state is TicketState.QUEUED:  # no schedule will count it
                self.stats.count(self.stats.aborted, endpoint, mode)
                metrics.left(trace)
            self.slots.release(ticket)

        ticket = Ticket(t_base, start)
        conn.ticket, conn.abandon = ticket, abandon
        self.slots.enter(ticket)
        if ticket.state is TicketState.QUEUED:
            metrics.queued(trace)

    def plan_reply(
        self, gen: Generation, index: int, *, keep_alive: bool
    ) -> tuple[list[tuple[float, Payload]], TokenWrites]:
        """The reply to accepted request ``gen`` (the ``index``-th), as the emitter schedule
        it is written by, and its shape token-wise: a fault's when the injector decides one
        (in arrival order: call it once per request), else the normal reply; the
        personality's habits and the echo headers applied."""
        schedule: Sequence[tuple[float, Payload]] | None = None
        if self.faults is not None:  # decided per request, in arrival order
            fault, schedule = self.faults.reply_with_fault(
                gen, self.profile, request_index=index, keep_alive=keep_alive
            )
            if schedule is not None:
                writes = self._fault_writes(fault, gen, index)
        if schedule is None:
            schedule, writes = self._normal_reply(gen, index, keep_alive)
        return self.personality.decorate(_with_echo(schedule, gen)), writes

    def _normal_reply(
        self, gen: Generation, index: int, keep_alive: bool
    ) -> tuple[Sequence[tuple[float, Payload]], TokenWrites]:
        """The normal reply and its shape: every protocol's and personality's stream is the
        head, then one write per token event; a batch is one body when the last is due."""
        profile = self.profile
        shape = SHAPES.get(gen.endpoint)
        extras = profile.reasoning_tokens or profile.tool_call
        if shape is None and gen.endpoint is Endpoint.CHAT and extras:
            shape = CHAT_EXTRAS
        schedule: Sequence[tuple[float, Payload]]
        if shape is not None:
            n, finish = answer_length(gen, profile)  # its reasoning tokens included
            schedule = reply_schedule(
                shape, gen, profile, request_index=index, keep_alive=keep_alive
            )
        else:
            n, finish = reply_length(gen, profile)
            name = self.personality.name
            if name == "llama.cpp":
                schedule = llamacpp_reply(gen, profile, request_index=index, keep_alive=keep_alive)
            elif name == "litellm" and gen.stream:
                schedule = litellm_reply(gen, profile, request_index=index, keep_alive=keep_alive)
            else:
                schedule = build_reply(gen, profile, request_index=index, keep_alive=keep_alive)
        if gen.stream:
            return schedule, stream_writes(n, finish)
        return schedule, batch_writes(profile.token_offsets(n, index), finish)

    def _fault_writes(self, fault: str, gen: Generation, index: int) -> TokenWrites:
        """The shape of fault ``fault``'s reply to ``gen`` (see `fault_writes`)."""
        assert self.faults is not None
        shaped = gen.endpoint in SHAPES
        profile = self.profile
        n, finish = answer_length(gen, profile) if shaped else reply_length(gen, profile)
        return fault_writes(
            fault,
            stream=gen.stream,
            shaped=shaped,
            litellm=self.personality.name == "litellm",
            offsets=profile.token_offsets(n, index),
            finish=finish,
            after_tokens=self.faults.plan.after_tokens,
        )

    def _send(self, conn: _Connection, data: bytes, keep_alive: bool, t_base: float) -> None:
        done = functools.partial(self._finished, conn, keep_alive)
        # Not measured: the figures in /mock/stats are about generation replies only.
        schedule = self.personality.decorate([(0.0, data)])
        self.emitter.schedule(conn.sock, t_base, schedule, done, measure=False)

    def _reply(
        self,
        conn: _Connection,
        status: int,
        message: str,
        keep_alive: bool,
        t_base: float,
        *,
        param: str | None = None,
    ) -> None:
        self.stats.count_rejected(status)
        error_type = "invalid_request_error" if status < 500 else "server_error"
        body = error_body(message, error_type=error_type, param=param)
        self._send(conn, json_response(status, body, keep_alive=keep_alive), keep_alive, t_base)

    def _reply_shaped(
        self, conn: _Connection, shape: WireShape, message: str, keep_alive: bool, t_base: float
    ) -> None:
        """A 400 in ``shape``'s protocol's error JSON."""
        self.stats.count_rejected(400)
        data = json_reply(400, shape.error_body(400, message), keep_alive=keep_alive)
        self._send(conn, data, keep_alive, t_base)

    def stats_snapshot(self, *, reset: bool = False) -> dict[str, object]:
        """The ``/mock/stats`` document; ``reset`` zeroes everything after reading.

        ``requests``/``completed``/``aborted``: ``{endpoint: {mode: count}}`` (see
        `MockStats`); ``in_flight``; ``rejected``: ``{status: count}``; ``connections``:
        ``{opened, open}``; ``lateness_s``: ``{count, mean, p50, p90, p99, max}`` of the
        timed writes of generation replies (write time − deadline: the mock's own
        error); ``reaction_s``: the same for their first write (headers, role chunk),
        measured from the kernel's arrival time of the request (with slots: from the
        slot); ``stalled_writes``; ``profile``; ``model``; ``slots``, ``queued_now``,
        ``in_use_now``, ``max_concurrent``, ``queue_wait_s`` (see `Slots.snapshot`);
        ``arrivals``: ``{count, t_s}``, when each generation request (a POST to either
        completions route, whatever its answer) arrived, in seconds since the first, kept
        for the first 200,000 (then ``truncated: true``; see `ArrivalLog`); ``received``:
        what each accepted generation request sent, in arrival order, for the first
        ``received_cap`` (10,000; then ``received_truncated: true``; see `ReceivedLog`);
        ``engine_metrics``: the truth behind ``GET /metrics`` (see `EngineMetrics.summary`);
        ``uptime_s``.
        """
        out = self.stats.snapshot(reset=reset)
        out["lateness_s"] = self.emitter.lateness.summary()
        out["reaction_s"] = self.emitter.reaction.summary()
        out["stalled_writes"] = self.emitter.stalled_writes
        if reset:
            self.emitter.lateness.reset()
            self.emitter.reaction.reset()
            self.emitter.stalled_writes = 0
        p = self.profile
        out["profile"] = {
            "ttft_s": p.ttft_s,
            "itl_s": p.itl_s,
            "output_tokens": p.output_tokens,
            "jitter_s": p.jitter_s,
            "seed": p.seed,
            "reasoning_tokens": p.reasoning_tokens,
            "tool_call": p.tool_call,
        }
        out["model"] = self.model
        out["personality"] = self.personality.name
        out["idle_timeout_s"] = self.idle_timeout_s or 0.0
        out["loading_s"] = self.loading_s
        out.update(self.slots.snapshot(reset=reset))
        if self.faults is not None:
            out.update(self.faults.snapshot(reset=reset))
        else:
            out["injected"] = {}
        out["arrivals"] = self.arrivals.snapshot(reset=reset)
        out.update(self.received.snapshot(reset=reset))
        out["engine_metrics"] = self.engine_metrics.summary(reset=reset)
        out["uptime_s"] = time.perf_counter() - self._started
        return out

"""One protocol's wire shapes, and the schedules (normal and faulty) built from them.

A `WireShape` is what a protocol module (`harness.mock.anthropic`, `harness.mock.responses`)
knows: how a request is read (`WireShape.parse`), how a streamed answer is cut into writes
(`StreamParts`: the head and opening events at 0, one write per token piece at its offset,
the closing events with the last piece), the batch body, the protocol's error bodies and its
in-band error event. `reply_schedule` makes the normal reply, and `fault_schedule` the faults
that make sense for every protocol (`SHAPED_FAULTS`): HTTP errors in the protocol's JSON
shape, a reset, a stall, a truncation (the stream ends without its terminal event), the
in-band error event, late headers. Standard library only; like the rest of the mock it must
not import the harness: the mock is the yardstick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeAlias

from harness.mock.answer import Answer, plan_answer
from harness.mock.completions import Generation
from harness.mock.emitter import Action, Payload
from harness.mock.profiles import LatencyProfile
from harness.mock.wire import LAST_CHUNK, chunk, response_head

if TYPE_CHECKING:
    from harness.mock.faults import FaultPlan

__all__ = [
    "SHAPED_FAULTS",
    "StreamParts",
    "WireShape",
    "fault_schedule",
    "json_reply",
    "reply_schedule",
    "sse_head",
]

Schedule: TypeAlias = list[tuple[float, Payload]]

#: the faults every protocol of `WireShape` has (the rest leave its requests alone)
SHAPED_FAULTS = (
    "rate_limited",
    "http_500",
    "http_502",
    "http_503",
    "reset_mid_stream",
    "stall",
    "truncated",
    "inband_error",
    "slow_headers",
)

_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@dataclass(frozen=True, slots=True)
class StreamParts:
    """A streamed answer cut into its writes: ``head`` (the response head and the opening
    events, framed as chunks) at 0, ``tokens`` (one framed write per answer piece, with the
    events that open or close a block around it) at their offsets, and ``closing`` (the
    terminal events, framed, without the chunked terminator) with the last piece.
    ``sequence_after[k]``: the sequence number an event sent after the first ``k`` token
    writes would have (for protocols that number their events; empty otherwise)."""

    head: bytes
    tokens: list[tuple[float, bytes]]
    closing: bytes
    sequence_after: tuple[int, ...] = ()

    @property
    def t_last(self) -> float:
        return self.tokens[-1][0] if self.tokens else 0.0


class WireShape(Protocol):
    """What a protocol module provides to the server and to fault injection."""

    name: str
    """The protocol's name in ``/mock/stats`` ``received`` (``anthropic``, ``responses``)."""

    def parse(self, body: bytes, default_model: str) -> Generation:
        """A validated request; raises `harness.mock.prompt.BadRequest`."""
        ...

    def stream(
        self, gen: Generation, answer: Answer, offsets: list[float], request_index: int
    ) -> StreamParts:
        """The streamed answer, head included (keep-alive is applied by the caller)."""
        ...

    def batch_body(self, gen: Generation, answer: Answer, request_index: int) -> bytes:
        """The whole JSON body of a batch answer."""
        ...

    def error_body(self, status: int, message: str) -> bytes:
        """The protocol's JSON error body for an HTTP error ``status``."""
        ...

    def inband_error(self, gen: Generation, request_index: int, sequence_number: int) -> bytes:
        """The protocol's in-band error event (unframed SSE), sent mid-stream."""
        ...


def sse_head(*, keep_alive: bool) -> bytes:
    """The head of a 200 ``text/event-stream`` reply with a chunked body."""
    headers = [
        ("Content-Type", "text/event-stream"),
        ("Cache-Control", "no-cache"),
        ("Transfer-Encoding", "chunked"),
    ]
    return response_head(200, headers, keep_alive=keep_alive)


def json_reply(status: int, body: bytes, *, keep_alive: bool, **headers: str) -> bytes:
    """A whole JSON reply with ``Content-Length`` (and ``headers``, ``_`` read as ``-``)."""
    fields = [("Content-Type", "application/json")]
    fields += [(name.replace("_", "-"), value) for name, value in headers.items()]
    fields.append(("Content-Length", str(len(body))))
    return response_head(status, fields, keep_alive=keep_alive) + body


@dataclass(frozen=True, slots=True)
class _Plan:
    gen: Generation
    answer: Answer
    offsets: list[float]
    request_index: int
    keep_alive: bool


def _plan(gen: Generation, profile: LatencyProfile, request_index: int, keep_alive: bool) -> _Plan:
    answer = plan_answer(gen, profile)
    offsets = profile.token_offsets(answer.output_tokens, request_index)
    return _Plan(gen, answer, offsets, request_index, keep_alive)


def _stream_parts(shape: WireShape, p: _Plan) -> StreamParts:
    parts = shape.stream(p.gen, p.answer, p.offsets, p.request_index)
    if p.keep_alive:
        return parts
    head = sse_head(keep_alive=False) + parts.head[len(sse_head(keep_alive=True)) :]
    return StreamParts(head, parts.tokens, parts.closing, parts.sequence_after)


def _normal(shape: WireShape, p: _Plan) -> Schedule:
    if p.gen.stream:
        parts = _stream_parts(shape, p)
        items: Schedule = [(0.0, parts.head), *parts.tokens]
        items.append((parts.t_last, parts.closing + LAST_CHUNK))
        return items
    body = shape.batch_body(p.gen, p.answer, p.request_index)
    return [(p.offsets[-1], json_reply(200, body, keep_alive=p.keep_alive))]


def reply_schedule(
    shape: WireShape,
    gen: Generation,
    profile: LatencyProfile,
    *,
    request_index: int,
    keep_alive: bool,
) -> Schedule:
    """The normal reply to ``gen`` in ``shape``'s protocol, as an emitter schedule."""
    return _normal(shape, _plan(gen, profile, request_index, keep_alive))


def _cut(p: _Plan, parts: StreamParts, k: int, tail: Sequence[Payload]) -> Schedule:
    """Head and the first ``k`` token writes, then ``tail`` when write ``k`` would be due."""
    t_k = parts.tokens[k][0] if k < len(parts.tokens) else parts.t_last
    items: Schedule = [(0.0, parts.head), *parts.tokens[:k]]
    items += [(t_k, payload) for payload in tail]
    return items


def fault_schedule(
    name: str,
    shape: WireShape,
    gen: Generation,
    profile: LatencyProfile,
    plan: FaultPlan,
    *,
    request_index: int,
    keep_alive: bool,
) -> Schedule | None:
    """Fault ``name``'s reply to ``gen`` in ``shape``'s protocol; None when the fault has no
    form for this protocol and mode (the request is then answered normally, not counted)."""
    if name not in SHAPED_FAULTS:
        return None
    p = _plan(gen, profile, request_index, keep_alive)
    if name == "rate_limited":
        body = shape.error_body(429, "Rate limit reached for requests")
        retry = str(plan.retry_after_s)
        return [(0.0, json_reply(429, body, keep_alive=keep_alive, Retry_After=retry))]
    if name == "http_500":
        body = shape.error_body(500, "Internal server error")
        return [(0.0, json_reply(500, body, keep_alive=keep_alive))]
    if name == "http_502":
        fields = [("Content-Type", "text/html"), ("Content-Length", str(len(_HTML_502)))]
        return [(0.0, response_head(502, fields, keep_alive=keep_alive) + _HTML_502)]
    if name == "http_503":
        return [(0.0, response_head(503, [("Content-Length", "0")], keep_alive=keep_alive))]
    if name == "slow_headers":
        return [(t + plan.header_delay_s, payload) for t, payload in _normal(shape, p)]
    k = min(plan.after_tokens, p.answer.output_tokens)
    if not gen.stream:
        if name not in ("reset_mid_stream", "truncated"):
            return None
        whole = json_reply(200, shape.batch_body(gen, p.answer, request_index), keep_alive=True)
        body_at = whole.index(b"\r\n\r\n") + 4
        cut = whole[: body_at + (len(whole) - body_at) // 2]
        action = Action.RESET if name == "reset_mid_stream" else Action.CLOSE
        return [(p.offsets[-1], cut), (p.offsets[-1], action)]
    parts = _stream_parts(shape, p)
    if name == "reset_mid_stream":
        return _cut(p, parts, k, [Action.RESET])
    if name == "truncated":  # a clean end of the body, without the terminal event
        return _cut(p, parts, k, [LAST_CHUNK])
    if name == "inband_error":
        seq = parts.sequence_after[k] if parts.sequence_after else 0
        event = shape.inband_error(gen, request_index, seq)
        return _cut(p, parts, k, [chunk(event) + LAST_CHUNK])
    # stall: silence of stall_length after k token writes, then the rest
    pause = plan.stall_length_s
    tokens = [(t + (pause if i >= k else 0.0), data) for i, (t, data) in enumerate(parts.tokens)]
    t_end = parts.t_last + pause
    return [(0.0, parts.head), *tokens, (t_end, parts.closing + LAST_CHUNK)]

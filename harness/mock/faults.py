"""Fault injection for the mock: rehearse every failure the harness must name correctly.

A `FaultPlan` says which faults to inject: per-request probabilities (``rate_limited:0.05``)
or a fixed repeating schedule (``ok,ok,rate_limited``), plus a few knobs (how many tokens
before a mid-stream fault, how long a stall lasts, the ``Retry-After`` value, the header
delay). `parse_fault_spec` reads one from text, for the mock's command line and for scenario
files. A `FaultInjector` applies a plan to a running `MockServer`: it decides per accepted
generation request, in arrival order, from an RNG seeded by the plan (the same request order
gives the same injections), builds the faulty reply as an emitter schedule, counts what it
injected (``/mock/stats`` ``"injected"``) and can log each injection (``--fault-log``, JSON
lines; and the ``harness.mock.faults`` logger at DEBUG).

`FAULTS` is the catalogue of faults *as data*: for each, what the harness must report for a
stream request and for a batch request (`Fault.expected`, `Fault.batch_expected`): an error
class of the harness's closed list (docs/design.md), ``"empty"`` (a 200 without a token), or
``"ok"`` (benign: the request must succeed with every token and the exact text). A fault
with no batch form (``batch_expected`` None) leaves batch requests untouched and uncounted.

Standard library only; like the rest of the mock it must not import the harness core
(``harness.sse``, ``harness.protocols``, ``harness.record``, ``harness.stream``,
``harness.errors``): the mock is the yardstick, so the mapping's class names are plain
strings here and the tests check them against ``harness.errors.ErrorClass``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, TypeAlias

from harness.mock.completions import Endpoint, Generation, reply_length, token_text
from harness.mock.emitter import Action, Payload
from harness.mock.personalities import LITELLM_EXPECTED, litellm_fault
from harness.mock.profiles import LatencyProfile, parse_duration
from harness.mock.protocols import SHAPES
from harness.mock.wire import LAST_CHUNK, chunk, json_bytes, response_head
from harness.mock.wire_shape import fault_schedule

__all__ = [
    "FAULTS",
    "OK",
    "Fault",
    "FaultInjector",
    "FaultPlan",
    "add_fault_options",
    "fault_plan_from_args",
    "parse_fault_spec",
    "utf8_token_text",
]

logger = logging.getLogger("harness.mock.faults")

Schedule: TypeAlias = list[tuple[float, Payload]]
_Builder: TypeAlias = "Callable[[_Reply], Schedule]"

OK = "ok"
"""A schedule entry (and an expectation) meaning: no fault, a normal reply."""

#: Tokens per SSE event in the ``multi_token`` fault.
MULTI_TOKEN_CHUNK = 4
#: Keep-alive comments sent before the first token in the ``keepalive`` fault.
KEEPALIVE_COMMENTS = 3
#: The gap between the two halves of a split write (``utf8_split``): long enough for the
#: client to read them separately, capped by half the inter-token latency.
SPLIT_GAP_S = 0.002


def utf8_token_text(i: int) -> str:
    """Token ``i``'s text in the ``utf8_split`` fault: 2- and 4-byte UTF-8 characters."""
    return f" tök{i}🙂"


_EMOJI = "🙂".encode()


# -- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Which faults the mock injects, and their knobs.

    Either ``probabilities`` (fault name, probability per request; the rest is served
    normally) or ``schedule`` (fault names or ``"ok"``, applied to requests in arrival order
    and repeated), never both. ``seed`` seeds the per-request draw. ``after_tokens``: tokens
    sent before a mid-stream fault (reset, stall, truncation, in-band error, malformed JSON);
    ``stall_length_s``: the silence of ``stall``; ``retry_after_s``: ``Retry-After`` of
    ``rate_limited``; ``header_delay_s``: how late ``slow_headers`` answers.
    """

    probabilities: tuple[tuple[str, float], ...] = ()
    schedule: tuple[str, ...] = ()
    seed: int = 0
    after_tokens: int = 2
    stall_length_s: float = 5.0
    retry_after_s: int = 1
    header_delay_s: float = 1.0

    def __post_init__(self) -> None:
        names = [name for name, _ in self.probabilities]
        for name in (*names, *(n for n in self.schedule if n != OK)):
            if name not in FAULTS:
                raise ValueError(f"unknown fault {name!r} (known: {', '.join(FAULTS)})")
        if len(set(names)) != len(names):
            raise ValueError("a fault is given more than once")
        if self.probabilities and self.schedule:
            raise ValueError("give fault probabilities or a fault schedule, not both")
        for name, p in self.probabilities:
            if not (math.isfinite(p) and 0.0 <= p <= 1.0):
                raise ValueError(f"probability of {name} must be in [0, 1], got {p!r}")
        total = math.fsum(p for _, p in self.probabilities)
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities add up to {total:g}, more than 1")
        if self.after_tokens < 1:
            raise ValueError(f"after_tokens must be >= 1, got {self.after_tokens}")
        for name in ("stall_length_s", "header_delay_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite duration >= 0, got {value!r}")
        if self.retry_after_s < 0:
            raise ValueError(f"retry_after must be >= 0 seconds, got {self.retry_after_s}")
        # canonical order (FAULTS'): the same plan makes the same decisions however written
        order = list(FAULTS)
        canonical = tuple(sorted(self.probabilities, key=lambda item: order.index(item[0])))
        object.__setattr__(self, "probabilities", canonical)

    @property
    def active(self) -> bool:
        """Whether any request can get a fault."""
        return any(p > 0 for _, p in self.probabilities) or any(n != OK for n in self.schedule)

    def to_spec(self) -> str:
        """The plan as `parse_fault_spec` text (round-trips)."""
        items = [f"{name}:{p:g}" for name, p in self.probabilities] + list(self.schedule)
        items += [
            f"seed={self.seed}",
            f"after_tokens={self.after_tokens}",
            f"stall_length={_duration_text(self.stall_length_s)}",
            f"retry_after={self.retry_after_s}",
            f"header_delay={_duration_text(self.header_delay_s)}",
        ]
        return ",".join(items)


def _duration_text(seconds: float) -> str:
    return f"{seconds:g}s" if seconds == int(seconds) else f"{seconds * 1000:g}ms"


def _parse_int(text: str, key: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{key}: expected an integer, got {text!r}") from None


def _parse_seconds(text: str, key: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


# knob name in spec text -> (FaultPlan field, parser)
_PARAMS: dict[str, tuple[str, Callable[[str, str], object]]] = {
    "seed": ("seed", _parse_int),
    "after_tokens": ("after_tokens", _parse_int),
    "stall_length": ("stall_length_s", _parse_seconds),
    "retry_after": ("retry_after_s", _parse_int),
    "header_delay": ("header_delay_s", _parse_seconds),
}


def parse_fault_spec(text: str, base: FaultPlan | None = None) -> FaultPlan:
    """Read a fault plan from comma-separated items (pure; raises `ValueError`, one line).

    - ``NAME:P`` or ``NAME=P``: inject fault NAME into a request with probability P;
    - a bare ``NAME`` or ``ok``: the next entry of a fixed schedule, repeated in order;
    - ``seed=N``, ``after_tokens=K``, ``stall_length=3s``, ``retry_after=S``,
      ``header_delay=500ms``: the knobs.

    Probabilities and a schedule cannot be mixed. ``base`` supplies what the text leaves
    unset. Examples: ``"rate_limited:0.05,http_500:0.02,seed=7"``,
    ``"ok,ok,rate_limited,retry_after=1"``.
    """
    probabilities: list[tuple[str, float]] = []
    schedule: list[str] = []
    knobs: dict[str, object] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        sep = ":" if ":" in item else "=" if "=" in item else ""
        if not sep:
            name = item.replace("-", "_")
            if name != OK and name not in FAULTS:
                raise ValueError(f"unknown fault {item!r} (known: ok, {', '.join(FAULTS)})")
            schedule.append(name)
            continue
        key, _, value = item.partition(sep)
        key, value = key.strip().replace("-", "_"), value.strip()
        if key in _PARAMS:
            field, parse = _PARAMS[key]
            if field in knobs:
                raise ValueError(f"{key} is given more than once")
            knobs[field] = parse(value, key)
        elif key in FAULTS:
            try:
                p = float(value)
            except ValueError:
                raise ValueError(
                    f"{key}: expected a probability in [0, 1], got {value!r}"
                ) from None
            if any(name == key for name, _ in probabilities):
                raise ValueError(f"fault {key} is given more than once")
            probabilities.append((key, p))
        else:
            known = ", ".join([*FAULTS, *_PARAMS])
            raise ValueError(f"unknown fault or setting {key!r} (known: {known})")
    plan = base if base is not None else FaultPlan()
    changes: dict[str, object] = dict(knobs)
    if probabilities:
        changes["probabilities"] = (*plan.probabilities, *probabilities)
    if schedule:
        changes["schedule"] = (*plan.schedule, *schedule)
    return dataclasses.replace(plan, **changes)  # type: ignore[arg-type]


# -- building replies -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reply:
    """What one reply is made of: the request, the plan, token count and times."""

    gen: Generation
    plan: FaultPlan
    keep_alive: bool
    n: int
    offsets: list[float]
    finish_reason: str
    head: dict[str, object]

    @property
    def chat(self) -> bool:
        return self.gen.endpoint is Endpoint.CHAT

    @property
    def k(self) -> int:
        """Tokens sent before a mid-stream fault."""
        return min(self.plan.after_tokens, self.n)

    @property
    def t_k(self) -> float:
        """When a mid-stream fault strikes: when token k would have been due."""
        return self.offsets[self.k] if self.k < self.n else self.offsets[-1]

    @property
    def t_last(self) -> float:
        return self.offsets[-1]

    def usage(self, completion_tokens: int) -> dict[str, int]:
        prompt = self.gen.prompt_tokens
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
        }

    # -- stream pieces (unframed SSE events, b"data: …\n\n") --

    def event(self, choices: list[dict[str, object]], **extra: object) -> bytes:
        return b"data: " + json_bytes({**self.head, "choices": choices, **extra}) + b"\n\n"

    def stream_head(self) -> bytes:
        headers = [
            ("Content-Type", "text/event-stream"),
            ("Cache-Control", "no-cache"),
            ("Transfer-Encoding", "chunked"),
        ]
        return response_head(200, headers, keep_alive=self.keep_alive)

    def role(self) -> bytes:
        if not self.chat:
            return b""
        delta = {"role": "assistant", "content": ""}
        return self.event([{"index": 0, "delta": delta, "finish_reason": None}])

    def token(self, text: str) -> bytes:
        if self.chat:
            return self.event([{"index": 0, "delta": {"content": text}, "finish_reason": None}])
        return self.event([{"index": 0, "text": text, "logprobs": None, "finish_reason": None}])

    def finish(self, reason: str) -> bytes:
        if self.chat:
            return self.event([{"index": 0, "delta": {}, "finish_reason": reason}])
        return self.event([{"index": 0, "text": "", "logprobs": None, "finish_reason": reason}])

    def closing(self, reason: str, completion_tokens: int) -> bytes:
        """Finish chunk, usage chunk (when asked for), ``[DONE]``: unframed events."""
        out = self.finish(reason)
        if self.gen.include_usage:
            out += self.event([], usage=self.usage(completion_tokens))
        return out + _DONE

    # -- batch pieces --

    def batch_body(self, texts: Sequence[str], *, completion_tokens: int | None = None) -> bytes:
        text = "".join(texts)
        choice: dict[str, object] = {"index": 0}
        if self.chat:
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
        choice["logprobs"] = None
        choice["finish_reason"] = self.finish_reason
        n = len(texts) if completion_tokens is None else completion_tokens
        return json_bytes({**self.head, "choices": [choice], "usage": self.usage(n)})

    def json_head(self, length: int, status: int = 200) -> bytes:
        headers = [("Content-Type", "application/json"), ("Content-Length", str(length))]
        return response_head(status, headers, keep_alive=self.keep_alive)


_DONE = b"data: [DONE]\n\n"


def _texts(r: _Reply) -> list[str]:
    return [token_text(i) for i in range(r.n)]


def _monotonic(items: Schedule) -> Schedule:
    """Clamp offsets so they never decrease (the emitter's rule), keeping the order."""
    out: Schedule = []
    floor = 0.0
    for offset, payload in items:
        floor = max(floor, offset)
        out.append((floor, payload))
    return out


def _stream(
    r: _Reply,
    *,
    texts: Sequence[str] | None = None,
    events: Sequence[bytes] | None = None,
    times: Sequence[float] | None = None,
    closing: bytes | None = None,
    t_closing: float | None = None,
    crlf: bool = False,
) -> Schedule:
    """A normal stream, with what a fault changes: the token events and their times, the
    closing events and their time, line endings."""
    if events is None:
        events = [r.token(t) for t in (texts if texts is not None else _texts(r))]
    times = r.offsets if times is None else times
    if closing is None:
        closing = r.closing(r.finish_reason, r.n)
    first = r.role()
    if crlf:
        first, closing = first.replace(b"\n", b"\r\n"), closing.replace(b"\n", b"\r\n")
        events = [e.replace(b"\n", b"\r\n") for e in events]
    items: Schedule = [(0.0, r.stream_head() + (chunk(first) if first else b""))]
    items += [(t, chunk(e)) for t, e in zip(times, events, strict=True)]
    t_end = (times[-1] if times else r.t_last) if t_closing is None else t_closing
    items.append((t_end, chunk(closing) + LAST_CHUNK))
    return _monotonic(items)


def _cut_stream(r: _Reply, tail: Payload) -> Schedule:
    """Head, role and the first k tokens, then ``tail`` when token k would be due."""
    texts = _texts(r)[: r.k]
    items: Schedule = [(0.0, r.stream_head() + (chunk(r.role()) if r.chat else b""))]
    items += [(r.offsets[i], chunk(r.token(t))) for i, t in enumerate(texts)]
    items.append((r.t_k, tail))
    return _monotonic(items)


def _first_event(r: _Reply, events: bytes) -> Schedule:
    """Head and role at once, then ``events`` (and the chunked end) when TTFT is due."""
    return _monotonic(
        [
            (0.0, r.stream_head() + (chunk(r.role()) if r.chat else b"")),
            (r.offsets[0], chunk(events) + LAST_CHUNK),
        ]
    )


def _status(status: int, content_type: str | None, body: bytes, **headers: str) -> _Builder:
    def build(r: _Reply) -> Schedule:
        fields = [("Content-Type", content_type)] if content_type else []
        fields += [(name.replace("_", "-"), value) for name, value in headers.items()]
        fields.append(("Content-Length", str(len(body))))
        return [(0.0, response_head(status, fields, keep_alive=r.keep_alive) + body)]

    return build


def _openai_error(message: str, error_type: str, code: object = None) -> bytes:
    error = {"message": message, "type": error_type, "param": None, "code": code}
    return json_bytes({"error": error})


_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_HTML_LOGIN = (
    b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
    b"<body><form action=/login method=post>Please sign in to continue.</form></body></html>"
)
_500_BODY = _openai_error(
    "The server had an error while processing your request. Sorry about that!", "server_error"
)
_402_BODY = json_bytes({"error": {"code": 402, "message": "Insufficient credits"}})
_CONTEXT_ERROR = _openai_error(
    "request (19185 tokens) exceeds the available context size (16384 tokens)",
    "invalid_request_error",
    400,
)
_INBAND_OPENAI = b"data: " + _500_BODY + b"\n\n"
_INBAND_VLLM = (
    b"data: "
    + json_bytes(
        {
            "error": {
                "object": "error",
                "message": "This model's maximum context length is 4096 tokens.",
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            }
        }
    )
    + b"\n\n"
    + _DONE
)
_INBAND_TGI = (
    b"data: "
    + json_bytes(
        {
            "error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096",
            "error_type": "validation",
        }
    )
    + b"\n\n"
)
_INBAND_LLAMACPP = (
    b"error: "
    + json_bytes(
        {
            "code": 400,
            "message": "the request exceeds the available context size, try increasing it",
            "type": "exceed_context_size_error",
        }
    )
    + b"\n\n"
    + _DONE
)
_MALFORMED_EVENT = b'data: {"choices":[{"delta":{"content":"a"}\n\n'


def _rate_limited(r: _Reply) -> Schedule:
    body = _openai_error("Rate limit reached for requests", "requests", "rate_limit_exceeded")
    return _status(429, "application/json", body, Retry_After=str(r.plan.retry_after_s))(r)


def _stream_reset(r: _Reply) -> Schedule:
    return _cut_stream(r, Action.RESET)


def _batch_cut(r: _Reply, tail: Action) -> Schedule:
    body = r.batch_body(_texts(r))
    return [(r.t_last, r.json_head(len(body)) + body[: len(body) // 2]), (r.t_last, tail)]


def _stream_stall(r: _Reply) -> Schedule:
    k, pause = r.k, r.plan.stall_length_s
    times = [t + (pause if i >= k else 0.0) for i, t in enumerate(r.offsets)]
    return _stream(r, times=times, t_closing=r.t_last + pause)


def _stream_truncated(r: _Reply) -> Schedule:
    return _cut_stream(r, LAST_CHUNK)  # a clean end of the body: no finish_reason, no [DONE]


def _stream_inband(r: _Reply) -> Schedule:
    return _cut_stream(r, chunk(_INBAND_OPENAI) + LAST_CHUNK)


def _stream_malformed(r: _Reply) -> Schedule:
    return _cut_stream(r, chunk(_MALFORMED_EVENT) + LAST_CHUNK)


def _batch_malformed(r: _Reply) -> Schedule:
    body = r.batch_body(_texts(r))
    bad = body[: len(body) // 2]  # cut JSON, but a complete HTTP body
    return [(r.t_last, r.json_head(len(bad)) + bad)]


def _json_in_sse(r: _Reply) -> Schedule:
    return [(r.offsets[0], r.stream_head() + chunk(_CONTEXT_ERROR) + LAST_CHUNK)]


def _stream_keepalive(r: _Reply) -> Schedule:
    items = _stream(r)
    ttft = r.offsets[0]
    comments = [
        (ttft * (i + 1) / (KEEPALIVE_COMMENTS + 1), chunk(b": keep-alive\n\n"))
        for i in range(KEEPALIVE_COMMENTS)
    ]
    return _monotonic([items[0], *comments, *items[1:]])


def _batch_keepalive(r: _Reply) -> Schedule:
    """DeepSeek while queued: blank lines before the JSON (a chunked body)."""
    headers = [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]
    items: Schedule = [(0.0, response_head(200, headers, keep_alive=r.keep_alive))]
    items += [
        (r.t_last * (i + 1) / (KEEPALIVE_COMMENTS + 1), chunk(b"\n"))
        for i in range(KEEPALIVE_COMMENTS)
    ]
    items.append((r.t_last, chunk(r.batch_body(_texts(r))) + LAST_CHUNK))
    return _monotonic(items)


def _stream_crlf(r: _Reply) -> Schedule:
    return _stream(r, crlf=True)


def _stream_multi_token(r: _Reply) -> Schedule:
    texts = _texts(r)
    groups = range(0, r.n, MULTI_TOKEN_CHUNK)
    events = [r.token("".join(texts[i : i + MULTI_TOKEN_CHUNK])) for i in groups]
    times = [r.offsets[min(i + MULTI_TOKEN_CHUNK, r.n) - 1] for i in groups]
    return _stream(r, events=events, times=times)


def _split_gap(r: _Reply) -> float:
    itl = r.offsets[1] - r.offsets[0] if r.n > 1 else SPLIT_GAP_S * 2
    return min(SPLIT_GAP_S, max(itl, 0.0) / 2)


def _split(data: bytes) -> tuple[bytes, bytes]:
    """Split inside the first 4-byte character, so neither half is valid UTF-8 at the cut."""
    at = data.index(_EMOJI) + 2
    return data[:at], data[at:]


def _stream_utf8_split(r: _Reply) -> Schedule:
    gap = _split_gap(r)
    items: Schedule = []
    for offset, payload in _stream(r, texts=[utf8_token_text(i) for i in range(r.n)]):
        if isinstance(payload, bytes) and _EMOJI in payload:
            first, rest = _split(payload)
            items += [(offset, first), (offset + gap, rest)]
        else:
            items.append((offset, payload))
    return _monotonic(items)


def _batch_utf8_split(r: _Reply) -> Schedule:
    body = r.batch_body([utf8_token_text(i) for i in range(r.n)])
    first, rest = _split(r.json_head(len(body)) + body)
    return [(r.t_last, first), (r.t_last + _split_gap(r), rest)]


def _shifted(build: _Builder) -> _Builder:
    def shifted(r: _Reply) -> Schedule:
        delay = r.plan.header_delay_s
        return [(t + delay, payload) for t, payload in build(r)]

    return shifted


def _normal_stream(r: _Reply) -> Schedule:
    return _stream(r)


def _normal_batch(r: _Reply) -> Schedule:
    body = r.batch_body(_texts(r))
    return [(r.t_last, r.json_head(len(body)) + body)]


def _stream_empty(r: _Reply) -> Schedule:
    return _first_event(r, r.closing("stop", 0))


def _batch_empty(r: _Reply) -> Schedule:
    body = dataclasses.replace(r, finish_reason="stop").batch_body([], completion_tokens=0)
    return [(r.offsets[0], r.json_head(len(body)) + body)]


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault kind, and what the harness must report for it.

    ``expected`` is for stream requests, ``batch_expected`` for batch requests (None: the
    fault has no batch form and batch requests are left alone): an error class of the
    harness's closed list, ``"empty"``, or ``"ok"``. ``status`` is the HTTP status sent.
    ``mid_stream``: a stream carries ``after_tokens`` tokens before the fault strikes (the
    harness counts them as partial output). ``cases`` names the reliability-catalogue cases
    it rehearses.
    """

    name: str
    expected: str
    batch_expected: str | None
    status: int
    mid_stream: bool
    cases: str
    summary: str
    stream: _Builder
    batch: _Builder | None

    def expected_for(self, mode: str, personality: str = "openai") -> str | None:
        """The expectation for ``mode`` (``stream`` or ``batch``); None: not injected.

        Behind ``personality`` ``litellm`` some faults arrive transformed (see
        `harness.mock.personalities.LITELLM_EXPECTED`)."""
        if personality == "litellm" and self.name in LITELLM_EXPECTED:
            stream, batch = LITELLM_EXPECTED[self.name]
            return stream if mode == "stream" else batch
        return self.expected if mode == "stream" else self.batch_expected


def _fault(
    name: str,
    expected: str,
    batch_expected: str | None,
    status: int,
    cases: str,
    summary: str,
    stream: _Builder,
    batch: _Builder | None = None,
    *,
    mid_stream: bool = False,
) -> tuple[str, Fault]:
    if (batch is None) != (batch_expected is None):
        raise AssertionError(f"fault {name}: a batch form needs a batch expectation")
    fault = Fault(name, expected, batch_expected, status, mid_stream, cases, summary, stream, batch)
    return name, fault


_HTML_200 = _status(200, "text/html; charset=utf-8", _HTML_LOGIN)
_ERROR_200 = _status(200, "application/json", _402_BODY)
_HTTP_500 = _status(500, "application/json", _500_BODY)
_HTTP_502 = _status(502, "text/html", _HTML_502)
_HTTP_503 = _status(503, None, b"")

FAULTS: dict[str, Fault] = dict(
    [
        _fault("rate_limited", "rate_limited", "rate_limited", 429, "NET-07",
               "429 with Retry-After (retry_after) and an OpenAI error body",
               _rate_limited, _rate_limited),
        _fault("http_500", "http_5xx", "http_5xx", 500, "NET-08",
               "500 with an OpenAI JSON error body", _HTTP_500, _HTTP_500),
        _fault("http_502", "http_5xx", "http_5xx", 502, "NET-08",
               "502 with an nginx HTML page", _HTTP_502, _HTTP_502),
        _fault("http_503", "http_5xx", "http_5xx", 503, "NET-08",
               "503 with an empty body", _HTTP_503, _HTTP_503),
        _fault("reset_mid_stream", "stream_reset", "stream_reset", 200, "NET-10",
               "TCP reset after after_tokens tokens (batch: halfway through the body)",
               _stream_reset, lambda r: _batch_cut(r, Action.RESET), mid_stream=True),
        _fault("stall", "stall_timeout", None, 200, "NET-05",
               "silence of stall_length after after_tokens tokens, then the rest",
               _stream_stall, mid_stream=True),
        _fault("truncated", "stream_truncated", "stream_truncated", 200,
               "OAI-18 d, NET-11, OAI-14 e",
               "after_tokens tokens, then a clean end of body without finish_reason or "
               "[DONE] (batch: FIN halfway through a Content-Length body)",
               _stream_truncated, lambda r: _batch_cut(r, Action.CLOSE), mid_stream=True),
        _fault("inband_error", "stream_error_event", None, 200, "OAI-08",
               'OpenAI\'s in-band {"error":{...}} event after after_tokens tokens',
               _stream_inband, mid_stream=True),
        _fault("inband_error_vllm", "stream_error_event", None, 200, "OAI-09 a",
               "vLLM's in-band error object, then [DONE], no token",
               lambda r: _first_event(r, _INBAND_VLLM)),
        _fault("inband_error_tgi", "stream_error_event", None, 200, "OAI-09 b",
               'TGI\'s {"error":"…","error_type":"validation"} event, no token',
               lambda r: _first_event(r, _INBAND_TGI)),
        _fault("inband_error_llamacpp", "stream_error_event", None, 200, "OAI-09 c",
               "llama.cpp's non-SSE `error:` field line, then [DONE], no token",
               lambda r: _first_event(r, _INBAND_LLAMACPP)),
        _fault("error_body_200", "error_in_body", "error_in_body", 200, "NET-09, OAI-14 d",
               "200 application/json with an error document instead of a completion",
               _ERROR_200, _ERROR_200),
        _fault("error_json_in_sse", "error_in_body", None, 200, "OAI-10",
               "200 text/event-stream whose body is a raw JSON error document",
               _json_in_sse),
        _fault("malformed_json", "malformed_event", "malformed_event", 200, "OAI-19",
               "a cut JSON event after after_tokens tokens (batch: a cut JSON body)",
               _stream_malformed, _batch_malformed, mid_stream=True),
        _fault("html_200", "bad_content_type", "bad_content_type", 200, "NET-09",
               "200 text/html sign-in page (a captive portal)", _HTML_200, _HTML_200),
        _fault("keepalive", "ok", "ok", 200, "SSE-05, NET-06, OAI-14 b",
               "`: keep-alive` comments before the first token (batch: blank lines before "
               "the JSON)", _stream_keepalive, _batch_keepalive),
        _fault("crlf", "ok", None, 200, "SSE-02",
               "CRLF line endings in every event", _stream_crlf),
        _fault("multi_token", "ok", None, 200, "OAI-13",
               f"{MULTI_TOKEN_CHUNK} tokens per event", _stream_multi_token),
        _fault("utf8_split", "ok", "ok", 200, "SSE-13",
               "multi-byte UTF-8 tokens, each write split inside a character",
               _stream_utf8_split, _batch_utf8_split),
        _fault("slow_headers", "ok", "ok", 200, "NET-04 b",
               "the whole reply header_delay late (header_timeout if that is shorter)",
               _shifted(_normal_stream), _shifted(_normal_batch)),
        _fault("empty", "empty", "empty", 200, "OAI-16, OAI-14 c",
               "no token: finish_reason stop, completion_tokens 0",
               _stream_empty, _batch_empty),
    ]
)  # fmt: skip


# -- injection ------------------------------------------------------------------------------


class FaultInjector:
    """Applies a `FaultPlan` to the requests of one server, in arrival order.

    `reply` is called once per accepted generation request (on the server's loop thread): it
    makes the decision (one seeded draw per request, or the schedule's next entry), counts
    and logs an injection, and returns the faulty schedule, or None for a normal reply. A
    fault with no form for the request's mode leaves it alone and is not counted.
    ``log`` receives one JSON line per injection.
    """

    def __init__(
        self, plan: FaultPlan, log: IO[str] | None = None, *, personality: str = "openai"
    ) -> None:
        self.plan = plan
        self.personality = personality
        """The server's personality: behind ``litellm`` some faults are transformed."""
        self._rng = random.Random(plan.seed)
        self._arrivals = 0
        self._log = log
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()
        self.injected_by_mode: dict[str, Counter[str]] = {"stream": Counter(), "batch": Counter()}

    def choose(self) -> str:
        """The decision for the next request: a fault name or ``"ok"``."""
        plan = self.plan
        arrival = self._arrivals
        self._arrivals += 1
        if plan.schedule:
            return plan.schedule[arrival % len(plan.schedule)]
        if not plan.probabilities:
            return OK
        u = self._rng.random()
        for name, p in plan.probabilities:
            if u < p:
                return name
            u -= p
        return OK

    def reply(
        self, gen: Generation, profile: LatencyProfile, *, request_index: int, keep_alive: bool
    ) -> Schedule | None:
        """The schedule of a faulty reply to ``gen``, or None to answer normally."""
        return self.reply_with_fault(
            gen, profile, request_index=request_index, keep_alive=keep_alive
        )[1]

    def reply_with_fault(
        self, gen: Generation, profile: LatencyProfile, *, request_index: int, keep_alive: bool
    ) -> tuple[str, Schedule | None]:
        """The decision for ``gen`` (a fault name or ``"ok"``) and, as `reply`, the schedule
        of the faulty reply or None (``"ok"``, or a fault without a form for the request)."""
        name = self.choose()
        return name, self._build(name, gen, profile, request_index, keep_alive)

    def _build(
        self,
        name: str,
        gen: Generation,
        profile: LatencyProfile,
        request_index: int,
        keep_alive: bool,
    ) -> Schedule | None:
        if name == OK:
            return None
        fault = FAULTS[name]
        shape = SHAPES.get(gen.endpoint)
        if shape is not None:  # Anthropic Messages, OpenAI Responses
            shaped = fault_schedule(
                name,
                shape,
                gen,
                profile,
                self.plan,
                request_index=request_index,
                keep_alive=keep_alive,
            )
            if shaped is not None:
                self._count(request_index, gen, fault)
            return shaped
        build = fault.stream if gen.stream else fault.batch
        if build is None:
            return None
        transformed = None
        if self.personality == "litellm":
            transformed = litellm_fault(
                name,
                gen,
                profile,
                request_index=request_index,
                keep_alive=keep_alive,
                after_tokens=self.plan.after_tokens,
            )
        n, finish_reason = reply_length(gen, profile)
        chat = gen.endpoint is Endpoint.CHAT
        head: dict[str, object] = {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-mock-{request_index}",
            "object": ("chat.completion.chunk" if gen.stream else "chat.completion")
            if chat
            else "text_completion",
            "created": int(time.time()),
            "model": gen.model,
        }
        reply = _Reply(
            gen=gen,
            plan=self.plan,
            keep_alive=keep_alive,
            n=n,
            offsets=profile.token_offsets(n, request_index),
            finish_reason=finish_reason,
            head=head,
        )
        schedule = build(reply) if transformed is None else transformed
        self._count(request_index, gen, fault)
        return schedule

    def _count(self, request_index: int, gen: Generation, fault: Fault) -> None:
        with self._lock:
            self.injected[fault.name] += 1
            self.injected_by_mode[gen.mode][fault.name] += 1
        self._record(request_index, gen, fault)

    def _record(self, request_index: int, gen: Generation, fault: Fault) -> None:
        if self._log is None and not logger.isEnabledFor(logging.DEBUG):
            return
        entry = {
            "t": round(time.time(), 6),
            "request": request_index,
            "endpoint": str(gen.endpoint),
            "mode": gen.mode,
            "fault": fault.name,
            "expected": fault.expected_for(gen.mode, self.personality),
        }
        line = json.dumps(entry, separators=(",", ":"))
        logger.debug("injected %s", line)
        if self._log is not None:
            self._log.write(line + "\n")
            self._log.flush()

    def snapshot(self, *, reset: bool = False) -> dict[str, object]:
        """``/mock/stats`` entries: counts per fault (and per mode), and the plan."""
        with self._lock:
            out: dict[str, object] = {
                "injected": dict(sorted(self.injected.items())),
                "injected_by_mode": {
                    mode: dict(sorted(c.items())) for mode, c in self.injected_by_mode.items()
                },
                "fault_plan": self.plan.to_spec(),
            }
            if reset:
                self.injected.clear()
                for counter in self.injected_by_mode.values():
                    counter.clear()
        return out

    def close(self) -> None:
        if self._log is not None and self._log not in (sys.stdout, sys.stderr):
            self._log.close()
        self._log = None


# -- command line ---------------------------------------------------------------------------


def add_fault_options(parser: argparse.ArgumentParser) -> None:
    """The mock's ``--fault…`` options (see docs/faults.md)."""
    group = parser.add_argument_group(
        "fault injection", f"faults: {', '.join(FAULTS)} (see docs/faults.md)"
    )
    group.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME=P",
        help="inject fault NAME into a request with probability P (repeatable)",
    )
    group.add_argument(
        "--faults",
        action="append",
        default=[],
        metavar="SPEC",
        help='a whole plan, e.g. "rate_limited:0.05,http_500:0.02,seed=7" (repeatable)',
    )
    group.add_argument(
        "--fault-schedule",
        default=None,
        metavar="LIST",
        help="a fixed schedule repeated over requests in arrival order, e.g. ok,ok,rate_limited",
    )
    group.add_argument("--fault-seed", default=None, metavar="N", help="seed of the draws (0)")
    group.add_argument(
        "--fault-after-tokens",
        default=None,
        metavar="K",
        help="tokens sent before a mid-stream fault (default 2)",
    )
    group.add_argument(
        "--fault-stall-length",
        default=None,
        metavar="DURATION",
        help="silence of the stall fault (default 5s)",
    )
    group.add_argument(
        "--fault-retry-after",
        default=None,
        metavar="SECONDS",
        help="Retry-After of rate_limited (default 1)",
    )
    group.add_argument(
        "--fault-header-delay",
        default=None,
        metavar="DURATION",
        help="how late slow_headers answers (default 1s)",
    )
    group.add_argument(
        "--fault-log",
        default=None,
        metavar="FILE",
        help="append one JSON line per injected fault to FILE (- for stderr)",
    )


def fault_plan_from_args(args: argparse.Namespace) -> FaultPlan | None:
    """The plan the ``--fault…`` options describe; None without faults. Raises `ValueError`."""
    texts: list[str] = list(args.faults)
    for item in args.fault:
        if "=" not in item and ":" not in item:
            raise ValueError(f"--fault: expected NAME=P, got {item!r}")
        texts.append(item)
    if args.fault_schedule is not None:
        entries = [e.strip() for e in args.fault_schedule.split(",") if e.strip()]
        if not entries or any("=" in e or ":" in e for e in entries):
            raise ValueError(
                f"--fault-schedule: expected names like ok,ok,rate_limited, got "
                f"{args.fault_schedule!r}"
            )
        texts.append(",".join(entries))
    knobs = [
        ("seed", args.fault_seed),
        ("after_tokens", args.fault_after_tokens),
        ("stall_length", args.fault_stall_length),
        ("retry_after", args.fault_retry_after),
        ("header_delay", args.fault_header_delay),
    ]
    if not texts:
        if any(value is not None for _, value in knobs):
            raise ValueError("--fault-… settings need faults: add --fault or --fault-schedule")
        return None
    plan = parse_fault_spec(",".join(texts))
    # the dedicated options win over the same knob inside a --faults spec
    options = ",".join(f"{key}={value}" for key, value in knobs if value is not None)
    return parse_fault_spec(options, base=plan) if options else plan


def open_fault_log(path: str | None) -> IO[str] | None:
    """The ``--fault-log`` destination: None, stderr (``-``), or FILE opened for appending."""
    if path is None:
        return None
    if path == "-":
        return sys.stderr
    return open(path, "a", encoding="utf-8")

"""Personalities of the mock: the wire habits of real servers, reproduced exactly.

``--personality`` picks one (default ``openai``, the mock's own OpenAI-shaped replies):

- ``vllm``: uvicorn's HTTP layer (``server: uvicorn``, ``date``), idle keep-alive
  connections closed after 5 s; the chunks are the mock's OpenAI-style ones (vLLM sends
  ``"finish_reason": null`` too).
- ``llama.cpp``: ``llama-server``: ``Server: llama.cpp`` and ``Keep-Alive: timeout=5,
  max=100`` on every answer, the connection closed right after every *streamed* response
  (a batch answer keeps it), the role chunk and the first token in one HTTP chunk, a
  top-level ``timings`` object on the last chunk (and in a batch body) whose figures are
  the mock's own writes, a model id that is a file path, and, with ``--loading``, 503
  ``Loading model`` on every route for a while after start.
- ``litellm``: a LiteLLM proxy: ``x-litellm-*`` headers and no ``Server``; chunks without
  ``"finish_reason": null``; a usage chunk with ``choices: [{"index": 0, "delta": {}}]``;
  and the faults a gateway hides: an upstream reset or malformed chunk becomes an in-band
  ``{"error": …}`` on the 200, an upstream truncation is covered with an invented
  ``finish_reason: "stop"``, a usage chunk counting the tokens planned and ``[DONE]``.

`Personality` holds what applies to every answer (headers, the close after a stream, the
idle timeout); `llamacpp_reply` and `litellm_reply` build the normal replies in those
servers' shapes. Standard library only; it must not import the harness core
(``harness.sse``, ``harness.protocols``, ``harness.record``): the mock is the yardstick.
"""

from __future__ import annotations

import email.utils
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from harness.mock.completions import Endpoint, Generation, reply_length, token_text
from harness.mock.emitter import Action, Later, Payload
from harness.mock.profiles import LatencyProfile
from harness.mock.wire import LAST_CHUNK, chunk, insert_headers, json_bytes, response_head

__all__ = [
    "LITELLM_EXPECTED",
    "LITELLM_VERSION",
    "LLAMACPP_LOADING_BODY",
    "LLAMACPP_MODEL",
    "PERSONALITIES",
    "Personality",
    "litellm_error_event",
    "litellm_fault",
    "litellm_reply",
    "llamacpp_reply",
    "llamacpp_timings",
]

Schedule = list[tuple[float, Payload]]

LLAMACPP_MODEL = "/models/gemma-3-270m-it-Q4_K_M.gguf"
"""The model id llama-server lists: the path of the model file it loaded."""
LLAMACPP_FINGERPRINT = "b6000-mock"
LLAMACPP_LOADING_BODY = json_bytes(
    {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
)
LITELLM_VERSION = "1.108.7"
_DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True, slots=True)
class Personality:
    """What one real server does to every answer, whatever the answer is.

    ``headers`` are added to every response head (faults and errors too);
    ``close_after_stream`` ends the connection after every streamed response;
    ``idle_timeout_s`` is the default of ``--idle-timeout`` (None: never);
    ``model`` the default of ``--model``; ``date`` adds uvicorn's ``date`` header.
    """

    name: str
    headers: tuple[tuple[str, str], ...] = ()
    close_after_stream: bool = False
    idle_timeout_s: float | None = None
    model: str = "mock-llm"
    date: bool = False
    call_id: bool = False
    """A fresh ``x-litellm-call-id`` on every answer."""
    keep_alive_header: bool = False
    """``Connection: keep-alive`` and ``Keep-Alive: timeout=5, max=100`` (cpp-httplib)
    on every answer that does not close the connection."""

    def decorate(self, schedule: Sequence[tuple[float, Payload]]) -> Schedule:
        """``schedule`` with this server's headers in its response head and, for a stream
        when the server closes after one, a close after the last item."""
        items = list(schedule)
        if self.name == "openai":
            return items
        for i, (offset, payload) in enumerate(items):
            if isinstance(payload, bytes) and payload.startswith(b"HTTP/1."):
                items[i] = (offset, self._with_headers(payload))
                break
        if self.close_after_stream and items and _is_stream(items):
            last_offset, last = items[-1]
            if not isinstance(last, Action):
                items.append((last_offset, Action.CLOSE))
        return items

    def _with_headers(self, data: bytes) -> bytes:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return data
        head = data[:end]
        fields = list(self.headers)
        if self.call_id:
            fields.insert(0, ("x-litellm-call-id", str(uuid.uuid4())))
        if self.date:
            fields.append(("date", _http_date()))
        closes = b"\r\nconnection: close" in head.lower()
        if self.keep_alive_header and not closes:
            fields += [("Connection", "keep-alive"), ("Keep-Alive", "timeout=5, max=100")]
        return insert_headers(data, fields)


def _is_stream(items: Sequence[tuple[float, Payload]]) -> bool:
    first = next((p for _, p in items if isinstance(p, bytes)), b"")
    head = first[: first.find(b"\r\n\r\n")].lower()
    return b"text/event-stream" in head and b"transfer-encoding: chunked" in head


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]


def _litellm_headers() -> tuple[tuple[str, str], ...]:
    return (
        ("x-litellm-model-id", "9d0c0b5e0c3a4d1e8f7a6b5c4d3e2f1a"),
        ("x-litellm-version", LITELLM_VERSION),
        ("x-litellm-key-tpm-limit", "None"),
        ("x-litellm-key-rpm-limit", "None"),
        ("x-litellm-key-spend", "0.0"),
        ("x-litellm-response-cost", "0.0"),
        ("x-litellm-attempted-retries", "0"),
        ("x-litellm-attempted-fallbacks", "0"),
    )


PERSONALITIES: dict[str, Personality] = {
    "openai": Personality("openai"),
    "vllm": Personality("vllm", headers=(("server", "uvicorn"),), idle_timeout_s=5.0, date=True),
    "llama.cpp": Personality(
        "llama.cpp",
        headers=(("Server", "llama.cpp"),),
        close_after_stream=True,
        idle_timeout_s=5.0,
        model=LLAMACPP_MODEL,
        keep_alive_header=True,
    ),
    "litellm": Personality("litellm", headers=_litellm_headers(), date=True, call_id=True),
}


def _usage(gen: Generation, n: int) -> dict[str, int]:
    return {
        "completion_tokens": n,
        "prompt_tokens": gen.prompt_tokens,
        "total_tokens": gen.prompt_tokens + n,
    }


# -- llama.cpp ------------------------------------------------------------------------------


def llamacpp_timings(
    prompt_n: int, t_base: float, token_times: Sequence[float]
) -> dict[str, float]:
    """llama-server's ``timings`` from when the mock really wrote the tokens.

    ``prompt_ms``: request received -> first token written; ``predicted_per_token_ms``:
    (last token - first token) / (n - 1), the client's TPOT by the mock's clock;
    ``predicted_ms`` = that x ``predicted_n`` (one interval per generated token, so that
    ``predicted_ms / predicted_n`` is the per-token figure, as in llama.cpp).
    """
    n = len(token_times)
    prompt_ms = (token_times[0] - t_base) * 1e3 if n else 0.0
    per_token = (token_times[-1] - token_times[0]) * 1e3 / (n - 1) if n > 1 else 0.0
    predicted_ms = per_token * n
    return {
        "prompt_n": prompt_n,
        "prompt_ms": prompt_ms,
        "prompt_per_token_ms": prompt_ms / prompt_n if prompt_n else 0.0,
        "prompt_per_second": prompt_n * 1e3 / prompt_ms if prompt_ms > 0 else 0.0,
        "predicted_n": n,
        "predicted_ms": predicted_ms,
        "predicted_per_token_ms": per_token,
        "predicted_per_second": 1e3 / per_token if per_token > 0 else 0.0,
    }


def llamacpp_reply(
    gen: Generation, profile: LatencyProfile, *, request_index: int, keep_alive: bool
) -> Schedule:
    """A normal reply as llama-server sends it (without `Personality.decorate`'s headers)."""
    n, finish_reason = reply_length(gen, profile)
    offsets = profile.token_offsets(n, request_index)
    chat = gen.endpoint is Endpoint.CHAT
    created = int(time.time())
    cmpl_id = f"chatcmpl-{uuid.UUID(int=request_index + 1).hex[:32]}"
    obj = (
        ("chat.completion.chunk" if gen.stream else "chat.completion")
        if chat
        else ("text_completion")
    )

    def doc(choices: list[dict[str, object]], **extra: object) -> dict[str, object]:
        # llama-server's key order (nlohmann::ordered_json): choices first, id after model
        return {
            "choices": choices,
            "created": created,
            "id": cmpl_id,
            "model": gen.model,
            "system_fingerprint": LLAMACPP_FINGERPRINT,
            "object": obj,
            **extra,
        }

    if not gen.stream:
        text = "".join(token_text(i) for i in range(n))
        choice: dict[str, object] = {"finish_reason": finish_reason, "index": 0}
        if chat:
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
        timings = llamacpp_timings(gen.prompt_tokens, 0.0, offsets)  # as planned
        body = json_bytes(doc([choice], usage=_usage(gen, n), timings=timings))
        headers = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ]
        return [(offsets[-1], response_head(200, headers, keep_alive=keep_alive) + body)]

    def event(d: dict[str, object]) -> bytes:
        return b"data: " + json_bytes(d) + b"\n\n"

    def token(i: int) -> bytes:
        if chat:
            c: dict[str, object] = {
                "finish_reason": None,
                "index": 0,
                "delta": {"content": token_text(i)},
            }
        else:
            c = {"text": token_text(i), "index": 0, "logprobs": None, "finish_reason": None}
        return event(doc([c]))

    headers = [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")]
    schedule: Schedule = [(0.0, response_head(200, headers, keep_alive=keep_alive))]
    first = token(0)
    if chat:  # the role chunk goes out with the first token, in one HTTP chunk
        role: dict[str, object] = {
            "finish_reason": None,
            "index": 0,
            "delta": {"role": "assistant", "content": None},
        }
        first = event(doc([role])) + first
    schedule.append((offsets[0], chunk(first)))
    schedule += [(offsets[i], chunk(token(i))) for i in range(1, n)]
    if chat:
        finish: dict[str, object] = {"finish_reason": finish_reason, "index": 0, "delta": {}}
    else:
        finish = {"text": "", "index": 0, "logprobs": None, "finish_reason": finish_reason}
    prompt_n, include_usage = gen.prompt_tokens, gen.include_usage

    def final(t_base: float, written: list[float]) -> bytes:
        # written[0]: the head; written[1..n]: the n token chunks, as really written
        timings = llamacpp_timings(prompt_n, t_base, written[1 : n + 1])
        if include_usage:
            events = event(doc([finish])) + event(doc([], usage=_usage(gen, n), timings=timings))
        else:
            events = event(doc([finish], timings=timings))
        return chunk(events) + chunk(_DONE) + LAST_CHUNK

    schedule.append((offsets[-1], Later(final)))
    return schedule


# -- LiteLLM --------------------------------------------------------------------------------


def _litellm_doc(gen: Generation, request_index: int, created: int) -> dict[str, object]:
    chat = gen.endpoint is Endpoint.CHAT
    return {
        "id": f"{'chatcmpl' if chat else 'cmpl'}-mock-{request_index}",
        "created": created,
        "model": gen.model,
        "object": "chat.completion.chunk" if chat else "text_completion",
    }


def litellm_reply(
    gen: Generation,
    profile: LatencyProfile,
    *,
    request_index: int,
    keep_alive: bool,
    delivered: int | None = None,
) -> Schedule:
    """A stream as a LiteLLM proxy forwards it (batch: None, the mock's own body is used).

    ``delivered`` < the planned tokens: an upstream truncation after that many tokens,
    covered the way LiteLLM covers it: ``finish_reason: "stop"``, a usage chunk counting
    the tokens planned, ``[DONE]``, at the moment the next token would have been due.
    """
    n, finish_reason = reply_length(gen, profile)
    offsets = profile.token_offsets(n, request_index)
    sent = n if delivered is None else min(delivered, n)
    t_end = offsets[-1] if sent >= n else offsets[sent]
    if sent < n:
        finish_reason = "stop"  # invented: the upstream never said
    chat = gen.endpoint is Endpoint.CHAT
    head = _litellm_doc(gen, request_index, int(time.time()))

    def event(choices: list[dict[str, object]], **extra: object) -> bytes:
        return b"data: " + json_bytes({**head, "choices": choices, **extra}) + b"\n\n"

    def token(i: int) -> bytes:
        if chat:
            return event([{"index": 0, "delta": {"content": token_text(i)}}])
        return event([{"index": 0, "text": token_text(i)}])

    headers = [
        ("content-type", "text/event-stream; charset=utf-8"),
        ("transfer-encoding", "chunked"),
    ]
    first = response_head(200, headers, keep_alive=keep_alive)
    if chat:
        first += chunk(event([{"index": 0, "delta": {"content": "", "role": "assistant"}}]))
    schedule: Schedule = [(0.0, first)]
    schedule += [(offsets[i], chunk(token(i))) for i in range(sent)]
    if chat:
        last = event([{"finish_reason": finish_reason, "index": 0, "delta": {}}])
    else:
        last = event([{"finish_reason": finish_reason, "index": 0, "text": ""}])
    if gen.include_usage:
        last += event([{"index": 0, "delta": {}}], usage=_usage(gen, n))
    schedule.append((t_end, chunk(last) + chunk(_DONE) + LAST_CHUNK))
    return schedule


def litellm_error_event(message: str) -> bytes:
    """LiteLLM's in-band error event (Python's ``json.dumps`` spacing, as it sends it)."""
    error = {"message": message, "type": None, "param": None, "code": "500"}
    return b"data: " + json.dumps({"error": error}).encode() + b"\n\n"


LITELLM_EXPECTED: dict[str, tuple[str, str]] = {
    "reset_mid_stream": ("stream_error_event", "http_5xx"),
    "malformed_json": ("stream_error_event", "http_5xx"),
    "truncated": ("ok", "http_5xx"),
}
"""Faults LiteLLM turns into something else: (stream, batch) expectation behind it.
``truncated`` is a success whose usage counts more tokens than were delivered (the
harness's ``token_count_mismatch``)."""

_LITELLM_UPSTREAM_ERROR = (
    "litellm.APIConnectionError: APIConnectionError: OpenAIException - "
    "peer closed connection without sending complete message body"
)


def litellm_fault(
    name: str,
    gen: Generation,
    profile: LatencyProfile,
    *,
    request_index: int,
    keep_alive: bool,
    after_tokens: int,
) -> Schedule | None:
    """What a LiteLLM proxy makes of upstream fault ``name``; None: it passes it on."""
    if name not in LITELLM_EXPECTED:
        return None
    if not gen.stream:  # the upstream body is unusable: LiteLLM answers 500
        error = {"message": _LITELLM_UPSTREAM_ERROR, "type": None, "param": None, "code": "500"}
        body = json.dumps({"error": error}).encode()
        headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
        return [(0.0, response_head(500, headers, keep_alive=keep_alive) + body)]
    k = min(after_tokens, reply_length(gen, profile)[0])
    schedule = litellm_reply(
        gen, profile, request_index=request_index, keep_alive=keep_alive, delivered=k
    )
    if name == "truncated":
        return schedule  # covered: invented finish, usage of the planned tokens, [DONE]
    t_fault, _ = schedule[-1]
    schedule[-1] = (t_fault, chunk(litellm_error_event(_LITELLM_UPSTREAM_ERROR)) + LAST_CHUNK)
    return schedule

"""What the mock answers on ``/v1/chat/completions`` and ``/v1/completions``.

`parse_generation` validates an OpenAI-style request body (its prompt is read by
`harness.mock.prompt`, whose tokens follow `harness.mock.tokens`); `reply_length` says how
many tokens the answer has (``max_tokens``, ``min_tokens``, ``ignore_eos``) and `build_reply`
turns it into a schedule, ``[(offset_s, bytes), ...]`` relative to the moment the request was fully
received, for the `Emitter`. Streaming: headers (and, for chat, the role chunk) at 0,
token ``i`` at its profile offset as its own HTTP chunk and SSE event, then one write at
the last token's offset with the finish chunk, the usage chunk (only with
``stream_options.include_usage``), ``data: [DONE]`` and the chunked terminator. Batch:
the whole JSON body at the last token's offset. Chunks have exactly the shapes of
OpenAI's API (the R, T, F, U, D events of tests/catalogue/cases.yaml). Other servers'
shapes are in `harness.mock.personalities`. Standard library only; it must not import
anything from the harness core (``harness.sse``, ``harness.protocols``,
``harness.record``, ``harness.stats``): the mock is the yardstick.
"""

from __future__ import annotations

import enum
import json
import time
from dataclasses import dataclass

from harness.mock.profiles import LatencyProfile
from harness.mock.prompt import BadRequest, Prompt, read_chat, read_completion
from harness.mock.wire import LAST_CHUNK, chunk, json_bytes, response_head


class Endpoint(enum.StrEnum):
    """The generation routes (Anthropic Messages and OpenAI Responses: see
    `harness.mock.anthropic`, `harness.mock.responses`)."""

    CHAT = "/v1/chat/completions"
    COMPLETIONS = "/v1/completions"
    MESSAGES = "/v1/messages"
    RESPONSES = "/v1/responses"


@dataclass(frozen=True, slots=True)
class Generation:
    """A validated generation request: what to answer, not yet when.

    ``max_tokens`` (``max_completion_tokens`` or ``max_tokens``), ``ignore_eos`` and
    ``min_tokens`` decide the reply's length (`reply_length`); ``prompt`` is what the mock read
    of the prompt (`harness.mock.prompt`).
    """

    endpoint: Endpoint
    model: str
    stream: bool
    include_usage: bool
    max_tokens: int | None
    prompt: Prompt
    ignore_eos: bool = False
    min_tokens: int | None = None

    @property
    def mode(self) -> str:
        return "stream" if self.stream else "batch"

    @property
    def prompt_tokens(self) -> int:
        """``usage.prompt_tokens``: the rule of `harness.mock.tokens`."""
        return self.prompt.tokens

    @property
    def messages(self) -> int:
        """Chat messages received (0 for ``/v1/completions``)."""
        return self.prompt.messages


def token_text(i: int) -> str:
    """The text of token ``i``: deterministic, one token per chunk."""
    return f" tok{i}"


def parse_generation(endpoint: Endpoint, body: bytes, default_model: str) -> Generation:
    """Validate a request body; raise `BadRequest` with an OpenAI-style message."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    model = data.get("model", default_model)
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' must be a non-empty string", "model")
    stream = data.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean", "stream")
    options = data.get("stream_options") or {}
    if not isinstance(options, dict):
        raise BadRequest("'stream_options' must be an object", "stream_options")
    include_usage = options.get("include_usage", False)
    if not isinstance(include_usage, bool):
        raise BadRequest("'include_usage' must be a boolean", "stream_options")
    max_tokens = _max_tokens(data)
    ignore_eos = data.get("ignore_eos")
    if ignore_eos is None:
        ignore_eos = False
    if not isinstance(ignore_eos, bool):
        raise BadRequest("'ignore_eos' must be a boolean", "ignore_eos")
    min_tokens = data.get("min_tokens")
    if min_tokens is not None and (
        isinstance(min_tokens, bool) or not isinstance(min_tokens, int) or min_tokens < 0
    ):
        raise BadRequest("'min_tokens' must be an integer >= 0", "min_tokens")
    if endpoint is Endpoint.CHAT:
        prompt = read_chat(data.get("messages"))
    else:
        prompt = read_completion(data.get("prompt"))
    return Generation(
        endpoint, model, stream, include_usage, max_tokens, prompt, ignore_eos, min_tokens
    )


def _max_tokens(data: dict[str, object]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadRequest(f"'{key}' must be an integer >= 1", key)
        return value
    return None


def reply_length(gen: Generation, profile: LatencyProfile) -> tuple[int, str]:
    """How many tokens the reply to ``gen`` has, and its ``finish_reason``.

    ``profile.output_tokens`` is the answer's natural length (where the model emits EOS),
    raised to ``min_tokens`` when that asks for more: it ends there with ``"stop"``, or
    ``max_tokens`` cuts it first with ``"length"``. With ``ignore_eos`` the model never ends
    on its own: exactly ``max_tokens`` tokens (``profile.output_tokens`` without it, as a
    server stops at its own limit), always ``"length"``.

    >>> gen = Generation(Endpoint.CHAT, "m", False, False, 30, Prompt(1), min_tokens=25)
    >>> reply_length(gen, LatencyProfile(output_tokens=20))
    (25, 'stop')
    """
    if gen.ignore_eos:
        n = profile.output_tokens if gen.max_tokens is None else gen.max_tokens
        return n, "length"
    natural = max(profile.output_tokens, gen.min_tokens or 0)
    if gen.max_tokens is not None and gen.max_tokens < natural:
        return gen.max_tokens, "length"
    return natural, "stop"


def build_reply(
    gen: Generation, profile: LatencyProfile, *, request_index: int, keep_alive: bool
) -> list[tuple[float, bytes]]:
    """The whole response as a schedule of ``(offset_s, bytes)`` for the emitter."""
    n, finish_reason = reply_length(gen, profile)
    offsets = profile.token_offsets(n, request_index)
    chat = gen.endpoint is Endpoint.CHAT
    prefix = "chatcmpl-mock-" if chat else "cmpl-mock-"
    head: dict[str, object] = {
        "id": f"{prefix}{request_index}",
        "object": ("chat.completion.chunk" if gen.stream else "chat.completion")
        if chat
        else "text_completion",
        "created": int(time.time()),
        "model": gen.model,
    }
    usage = {
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": n,
        "total_tokens": gen.prompt_tokens + n,
    }
    if not gen.stream:
        return [(offsets[-1], _batch(gen, head, usage, n, finish_reason, keep_alive))]
    return _stream(gen, head, usage, offsets, finish_reason, keep_alive)


def _batch(
    gen: Generation,
    head: dict[str, object],
    usage: dict[str, int],
    n: int,
    finish_reason: str,
    keep_alive: bool,
) -> bytes:
    text = "".join(token_text(i) for i in range(n))
    choice: dict[str, object] = {"index": 0}
    if gen.endpoint is Endpoint.CHAT:
        choice["message"] = {"role": "assistant", "content": text}
    else:
        choice["text"] = text
    choice["logprobs"] = None
    choice["finish_reason"] = finish_reason
    body = json_bytes({**head, "choices": [choice], "usage": usage})
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    return response_head(200, headers, keep_alive=keep_alive) + body


_TOKEN_JSON: list[bytes] = []


def _token_json(n: int) -> list[bytes]:
    """JSON string literals of the first ``n`` token texts (cached, grows on demand)."""
    while len(_TOKEN_JSON) < n:
        _TOKEN_JSON.append(json_bytes(token_text(len(_TOKEN_JSON))))
    return _TOKEN_JSON[:n]


def _stream(
    gen: Generation,
    head: dict[str, object],
    usage: dict[str, int],
    offsets: list[float],
    finish_reason: str,
    keep_alive: bool,
) -> list[tuple[float, bytes]]:
    # Every chunk shares the head; build it once and splice the choice in as text.
    start = b"data: " + json_bytes(head)[:-1] + b',"choices":['

    def event(choices: bytes, tail: bytes = b"") -> bytes:
        return chunk(start + choices + b"]" + tail + b"}\n\n")

    headers = [
        ("Content-Type", "text/event-stream"),
        ("Cache-Control", "no-cache"),
        ("Transfer-Encoding", "chunked"),
    ]
    first = response_head(200, headers, keep_alive=keep_alive)
    if gen.endpoint is Endpoint.CHAT:
        first += event(
            b'{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}'
        )
        token = b'{"index":0,"delta":{"content":%s},"finish_reason":null}'
        finish = b'{"index":0,"delta":{},"finish_reason":%s}'
    else:
        token = b'{"index":0,"text":%s,"logprobs":null,"finish_reason":null}'
        finish = b'{"index":0,"text":"","logprobs":null,"finish_reason":%s}'
    # This runs for every request on the emitter's thread, between timed writes: one
    # formatting operation per token, the escaped token texts cached.
    before, after = token.split(b"%s")
    event_head = start + before
    event_tail = after + b"]}\n\n\r\n"
    fixed = len(event_head) + len(after) + len(b"]}\n\n")
    texts = _token_json(len(offsets))
    schedule = [(0.0, first)]
    schedule += [
        (offset, b"%x\r\n%s%s%s" % (fixed + len(text), event_head, text, event_tail))
        for offset, text in zip(offsets, texts, strict=False)
    ]
    last = event(finish % json_bytes(finish_reason))
    if gen.include_usage:
        last += event(b"", b',"usage":' + json_bytes(usage))
    last += chunk(b"data: [DONE]\n\n") + LAST_CHUNK
    schedule.append((offsets[-1], last))
    return schedule

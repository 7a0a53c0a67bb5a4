"""What the mock answers on ``/v1/chat/completions`` and ``/v1/completions``.

`parse_generation` validates an OpenAI-style request body; `build_reply` turns it into a
schedule, ``[(offset_s, bytes), ...]`` relative to the moment the request was fully
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
from harness.mock.wire import LAST_CHUNK, chunk, json_bytes, response_head


class Endpoint(enum.StrEnum):
    CHAT = "/v1/chat/completions"
    COMPLETIONS = "/v1/completions"


class BadRequest(Exception):
    """A body the mock does not accept; answered with a 400 naming ``param``."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True, slots=True)
class Generation:
    """A validated generation request: what to answer, not yet when."""

    endpoint: Endpoint
    model: str
    stream: bool
    include_usage: bool
    max_tokens: int | None
    prompt_tokens: int

    @property
    def mode(self) -> str:
        return "stream" if self.stream else "batch"


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
    if endpoint is Endpoint.CHAT:
        prompt_tokens = _chat_prompt_words(data.get("messages"))
    else:
        prompt_tokens = _completion_prompt_words(data.get("prompt"))
    return Generation(endpoint, model, stream, include_usage, max_tokens, prompt_tokens)


def _max_tokens(data: dict[str, object]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadRequest(f"'{key}' must be an integer >= 1", key)
        return value
    return None


def _words(text: object, param: str) -> int:
    if not isinstance(text, str):
        raise BadRequest(f"'{param}' must hold strings", param)
    return len(text.split())


def _chat_prompt_words(messages: object) -> int:
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array", "messages")
    words = 0
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest("each message must be an object with a 'role'", "messages")
        content = message.get("content")
        if content is None:
            continue
        if isinstance(content, list):  # content parts: count the text ones
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    words += _words(part.get("text"), "messages")
        else:
            words += _words(content, "messages")
    return words


def _completion_prompt_words(prompt: object) -> int:
    if isinstance(prompt, str):
        return len(prompt.split())
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, str) for p in prompt):
            return sum(len(p.split()) for p in prompt)
        if all(isinstance(p, int) and not isinstance(p, bool) for p in prompt):
            return len(prompt)  # already token ids
    raise BadRequest("'prompt' must be a string, an array of strings or of token ids", "prompt")


def build_reply(
    gen: Generation, profile: LatencyProfile, *, request_index: int, keep_alive: bool
) -> list[tuple[float, bytes]]:
    """The whole response as a schedule of ``(offset_s, bytes)`` for the emitter."""
    n = (
        profile.output_tokens
        if gen.max_tokens is None
        else min(profile.output_tokens, gen.max_tokens)
    )
    finish_reason = "length" if n < profile.output_tokens else "stop"
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

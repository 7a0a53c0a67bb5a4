"""Anthropic Messages on the mock: ``POST /v1/messages``, streamed and batch.

`ANTHROPIC` is the protocol's `harness.mock.wire_shape.WireShape`. A request needs
``messages`` and ``max_tokens`` (as Anthropic's API does); ``system`` (a string or text
blocks) counts as a leading system message; ``x-api-key``, ``anthropic-version`` and
``thinking`` are accepted and change nothing. The stream is the documented sequence, each event
an ``event:`` line, a ``data:`` line (compact JSON) and a blank line, each in its own HTTP
chunk: ``message_start``, the first block's ``content_block_start``, ``ping`` (all at once);
then one ``content_block_delta`` per token (``thinking_delta``, ``text_delta`` or
``input_json_delta``), a block change (``signature_delta`` of the thinking block,
``content_block_stop``, ``content_block_start``) written with the next block's first delta;
with the last token ``content_block_stop``, ``message_delta`` (``stop_reason``, cumulative
``usage.output_tokens``) and ``message_stop``. A ``tool_use`` block starts with its first
delta, at TTFT, not at once. Standard library only; like the rest of the mock it must not
import the harness: the mock is the yardstick.
"""

from __future__ import annotations

import json

from harness.mock.answer import TOOL_NAME, Answer, Piece
from harness.mock.completions import Endpoint, Generation, _max_tokens
from harness.mock.prompt import BadRequest, read_chat
from harness.mock.wire import chunk, json_bytes
from harness.mock.wire_shape import StreamParts, sse_head

__all__ = ["ANTHROPIC", "AnthropicShape", "error_type"]

_STOP_REASON = {("text", "stop"): "end_turn", ("tool", "stop"): "tool_use"}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    """Anthropic's ``error.type`` for an HTTP status (``api_error`` for the rest)."""
    return _ERROR_TYPES.get(status, "api_error")


def _event(name: str, data: dict[str, object]) -> bytes:
    return chunk(b"event: " + name.encode() + b"\ndata: " + json_bytes(data) + b"\n\n")


def _block_start(index: int, kind: str, request_index: int) -> bytes:
    block: dict[str, object]
    if kind == "reasoning":
        block = {"type": "thinking", "thinking": "", "signature": ""}
    elif kind == "tool":
        block = {"type": "tool_use", "id": f"toolu_mock_{request_index}", "name": TOOL_NAME}
        block["input"] = {}
    else:
        block = {"type": "text", "text": ""}
    return _event(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )


def _delta(index: int, piece: Piece) -> bytes:
    delta: dict[str, object]
    if piece.kind == "reasoning":
        delta = {"type": "thinking_delta", "thinking": piece.text}
    elif piece.kind == "tool":
        delta = {"type": "input_json_delta", "partial_json": piece.text}
    else:
        delta = {"type": "text_delta", "text": piece.text}
    return _event(
        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    )


def _signature(request_index: int) -> str:
    return f"mock-signature-{request_index}"


def _block_stop(index: int, kind: str, request_index: int) -> bytes:
    out = b""
    if kind == "reasoning":
        delta = {"type": "signature_delta", "signature": _signature(request_index)}
        out = _event(
            "content_block_delta",
            {"type": "content_block_delta", "index": index, "delta": delta},
        )
    return out + _event("content_block_stop", {"type": "content_block_stop", "index": index})


def _stop_reason(answer: Answer) -> str:
    kind = "tool" if answer.tool_call else "text"
    return _STOP_REASON.get((kind, answer.finish), "max_tokens")


def _usage_out(answer: Answer) -> dict[str, object]:
    usage: dict[str, object] = {"output_tokens": answer.output_tokens}
    if answer.reasoning_tokens:
        usage["output_tokens_details"] = {"thinking_tokens": answer.reasoning_tokens}
    return usage


class AnthropicShape:
    """Anthropic Messages' wire shapes (see the module's docstring)."""

    name = "anthropic"

    def parse(self, body: bytes, default_model: str) -> Generation:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequest(f"request body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise BadRequest("request body must be a JSON object")
        model = data.get("model", default_model)
        if not isinstance(model, str) or not model:
            raise BadRequest("model: must be a non-empty string", "model")
        stream = data.get("stream", False)
        if not isinstance(stream, bool):
            raise BadRequest("stream: must be a boolean", "stream")
        if data.get("max_tokens") is None:
            raise BadRequest("max_tokens: Field required", "max_tokens")
        max_tokens = _max_tokens({"max_tokens": data["max_tokens"]})
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("messages: must be a non-empty array", "messages")
        system = data.get("system")
        if system is not None and not isinstance(system, (str, list)):
            raise BadRequest("system: must be a string or an array of text blocks", "system")
        leading = [{"role": "system", "content": system}] if system else []
        prompt = read_chat([*leading, *messages])
        return Generation(Endpoint.MESSAGES, model, stream, True, max_tokens, prompt)

    def stream(
        self, gen: Generation, answer: Answer, offsets: list[float], request_index: int
    ) -> StreamParts:
        message: dict[str, object] = {
            "id": f"msg_mock_{request_index}",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": gen.model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": gen.prompt_tokens, "output_tokens": 1},
        }
        head = sse_head(keep_alive=True)
        head += _event("message_start", {"type": "message_start", "message": message})
        pieces = answer.pieces
        first = pieces[0].kind
        if first != "tool":
            head += _block_start(0, first, request_index)
        head += _event("ping", {"type": "ping"})
        tokens: list[tuple[float, bytes]] = []
        index, kind = 0, first
        for i, (offset, piece) in enumerate(zip(offsets, pieces, strict=True)):
            data = b""
            if piece.kind != kind:  # a new block: close the previous one
                data += _block_stop(index, kind, request_index)
                index, kind = index + 1, piece.kind
                data += _block_start(index, kind, request_index)
            elif i == 0 and kind == "tool":
                data += _block_start(index, kind, request_index)
            tokens.append((offset, data + _delta(index, piece)))
        closing = _block_stop(index, kind, request_index)
        closing += _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": _stop_reason(answer), "stop_sequence": None},
                "usage": _usage_out(answer),
            },
        )
        closing += _event("message_stop", {"type": "message_stop"})
        return StreamParts(head, tokens, closing)

    def batch_body(self, gen: Generation, answer: Answer, request_index: int) -> bytes:
        content: list[dict[str, object]] = []
        if answer.reasoning_tokens:
            thinking = answer.joined("reasoning")
            content.append(
                {"type": "thinking", "thinking": thinking, "signature": _signature(request_index)}
            )
        if answer.tool_call:
            content.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_mock_{request_index}",
                    "name": TOOL_NAME,
                    "input": answer.tool_input,
                }
            )
        else:
            content.append({"type": "text", "text": answer.joined("text")})
        usage: dict[str, object] = {"input_tokens": gen.prompt_tokens, **_usage_out(answer)}
        return json_bytes(
            {
                "id": f"msg_mock_{request_index}",
                "type": "message",
                "role": "assistant",
                "content": content,
                "model": gen.model,
                "stop_reason": _stop_reason(answer),
                "stop_sequence": None,
                "usage": usage,
            }
        )

    def error_body(self, status: int, message: str) -> bytes:
        return json_bytes(
            {"type": "error", "error": {"type": error_type(status), "message": message}}
        )

    def inband_error(self, gen: Generation, request_index: int, sequence_number: int) -> bytes:
        error = {"type": "overloaded_error", "message": "Overloaded"}
        data = json_bytes({"type": "error", "error": error})
        return b"event: error\ndata: " + data + b"\n\n"


ANTHROPIC = AnthropicShape()

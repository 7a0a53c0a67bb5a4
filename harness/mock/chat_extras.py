"""Chat completions with reasoning and tool calls (``--reasoning-tokens``, ``--tool-call``).

`CHAT_EXTRAS` is a `harness.mock.wire_shape.WireShape` for ``/v1/chat/completions`` used
when the profile asks for reasoning or a tool call (otherwise `harness.mock.completions`
answers, on its fast path). The role chunk (``content`` ``""``, ``null`` with a tool call)
at once; reasoning tokens as ``delta.reasoning_content``; text as ``delta.content``; a tool
call as ``delta.tool_calls`` (the first carries ``id``, ``type`` and ``function.name`` with
the first piece of ``function.arguments``, at TTFT; then one argument piece per token); the
finish chunk (``tool_calls`` for a whole tool call), the usage chunk (with
``stream_options.include_usage``; ``completion_tokens`` counts the reasoning tokens, and
``completion_tokens_details.reasoning_tokens`` says how many) and ``[DONE]`` with the last
token. Standard library only; like the rest of the mock it must not import the harness.
"""

from __future__ import annotations

import time

from harness.mock.answer import TOOL_NAME, Answer, Piece
from harness.mock.completions import Endpoint, Generation, parse_generation
from harness.mock.wire import chunk, error_body, json_bytes
from harness.mock.wire_shape import StreamParts, sse_head

__all__ = ["CHAT_EXTRAS", "ChatExtrasShape"]


def _finish_reason(answer: Answer) -> str:
    if answer.finish != "stop":
        return "length"
    return "tool_calls" if answer.tool_call else "stop"


def _usage(gen: Generation, answer: Answer) -> dict[str, object]:
    usage: dict[str, object] = {
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": gen.prompt_tokens + answer.output_tokens,
    }
    if answer.reasoning_tokens:
        usage["completion_tokens_details"] = {"reasoning_tokens": answer.reasoning_tokens}
    return usage


def _call_id(request_index: int) -> str:
    return f"call_mock_{request_index}"


class ChatExtrasShape:
    """Chat completions' shapes for reasoning and tool calls (see the module's docstring)."""

    name = "openai"

    def parse(self, body: bytes, default_model: str) -> Generation:
        return parse_generation(Endpoint.CHAT, body, default_model)

    def stream(
        self, gen: Generation, answer: Answer, offsets: list[float], request_index: int
    ) -> StreamParts:
        head_doc = {
            "id": f"chatcmpl-mock-{request_index}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": gen.model,
        }

        def event(choices: list[dict[str, object]], **extra: object) -> bytes:
            return chunk(
                b"data: " + json_bytes({**head_doc, "choices": choices, **extra}) + b"\n\n"
            )

        def delta(d: dict[str, object], finish: str | None = None) -> bytes:
            return event([{"index": 0, "delta": d, "finish_reason": finish}])

        role: dict[str, object] = {"role": "assistant", "content": None if answer.tool_call else ""}
        head = sse_head(keep_alive=True) + delta(role)
        tokens: list[tuple[float, bytes]] = []
        first_tool = True
        for offset, piece in zip(offsets, answer.pieces, strict=True):
            tokens.append((offset, delta(self._delta(piece, request_index, first_tool))))
            first_tool = first_tool and piece.kind != "tool"
        closing = delta({}, _finish_reason(answer))
        if gen.include_usage:
            closing += event([], usage=_usage(gen, answer))
        closing += chunk(b"data: [DONE]\n\n")
        return StreamParts(head, tokens, closing)

    @staticmethod
    def _delta(piece: Piece, request_index: int, first_tool: bool) -> dict[str, object]:
        if piece.kind == "reasoning":
            return {"reasoning_content": piece.text}
        if piece.kind == "text":
            return {"content": piece.text}
        call: dict[str, object] = {"index": 0}
        if first_tool:
            call |= {"id": _call_id(request_index), "type": "function"}
            call["function"] = {"name": TOOL_NAME, "arguments": piece.text}
        else:
            call["function"] = {"arguments": piece.text}
        return {"tool_calls": [call]}

    def batch_body(self, gen: Generation, answer: Answer, request_index: int) -> bytes:
        message: dict[str, object] = {"role": "assistant"}
        message["content"] = None if answer.tool_call else answer.joined("text")
        if answer.reasoning_tokens:
            message["reasoning_content"] = answer.joined("reasoning")
        if answer.tool_call:
            function = {"name": TOOL_NAME, "arguments": answer.joined("tool")}
            call = {"id": _call_id(request_index), "type": "function", "function": function}
            message["tool_calls"] = [call]
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": _finish_reason(answer),
        }
        return json_bytes(
            {
                "id": f"chatcmpl-mock-{request_index}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": gen.model,
                "choices": [choice],
                "usage": _usage(gen, answer),
            }
        )

    def error_body(self, status: int, message: str) -> bytes:
        kind = "invalid_request_error" if status < 500 else "server_error"
        return json_bytes(error_body(message, error_type=kind))

    def inband_error(self, gen: Generation, request_index: int, sequence_number: int) -> bytes:
        body = error_body("The server had an error.", error_type="server_error")
        return b"data: " + json_bytes(body) + b"\n\n"


CHAT_EXTRAS = ChatExtrasShape()

"""OpenAI Responses on the mock: ``POST /v1/responses``, streamed and batch.

`RESPONSES` is the protocol's `harness.mock.wire_shape.WireShape`. A request has ``input`` (a
string, or a list of messages whose content is a string or ``input_text``/``output_text``
parts), optional ``instructions`` (a leading system message), ``max_output_tokens`` and
``stream``. The stream: ``response.created``, ``response.in_progress``,
``response.output_item.added``, ``response.content_part.added`` (at once); one delta event
per token (``response.reasoning_text.delta``, ``response.output_text.delta`` or
``response.function_call_arguments.delta``), an item change (the previous item's ``….done``
events, the next one's ``….added``) written with the next item's first delta; with the last
token the last item's ``….done`` events and ``response.completed`` (or
``response.incomplete``, reason ``max_output_tokens``, when ``max_output_tokens`` cut the
answer) carrying ``usage``. Every event is ``event:`` + ``data:`` (compact JSON with ``type``
and ``sequence_number``, numbered from 0). A ``function_call`` item is added with its first
delta, at TTFT. Standard library only; like the rest of the mock it must not import the
harness: the mock is the yardstick.
"""

from __future__ import annotations

import json
import time

from harness.mock.answer import TOOL_NAME, Answer, PieceKind
from harness.mock.completions import Endpoint, Generation
from harness.mock.prompt import BadRequest, read_chat
from harness.mock.wire import chunk, error_body, json_bytes
from harness.mock.wire_shape import StreamParts, sse_head

__all__ = ["RESPONSES", "ResponsesShape"]

_PART_TYPES = {"input_text", "output_text", "text"}


def _item_id(kind: PieceKind, request_index: int) -> str:
    prefix = {"reasoning": "rs", "text": "msg", "tool": "fc"}[kind]
    return f"{prefix}_mock_{request_index}"


def _item(kind: PieceKind, request_index: int, text: str, status: str) -> dict[str, object]:
    """An output item: in progress (empty) when added, whole when done."""
    item_id = _item_id(kind, request_index)
    if kind == "reasoning":
        content = [{"type": "reasoning_text", "text": text}] if status != "in_progress" else []
        return {"id": item_id, "type": "reasoning", "summary": [], "content": content}
    if kind == "tool":
        return {
            "id": item_id,
            "type": "function_call",
            "status": status,
            "arguments": text,
            "call_id": f"call_mock_{request_index}",
            "name": TOOL_NAME,
        }
    parts = [_part(kind, text)] if status != "in_progress" else []
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "content": parts,
        "role": "assistant",
    }


def _part(kind: PieceKind, text: str) -> dict[str, object]:
    if kind == "reasoning":
        return {"type": "reasoning_text", "text": text}
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _usage(gen: Generation, answer: Answer) -> dict[str, object]:
    return {
        "input_tokens": gen.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": answer.output_tokens,
        "output_tokens_details": {"reasoning_tokens": answer.reasoning_tokens},
        "total_tokens": gen.prompt_tokens + answer.output_tokens,
    }


def _blocks(answer: Answer) -> list[tuple[PieceKind, str]]:
    """The answer's items in order: (kind, whole text)."""
    out: list[tuple[PieceKind, str]] = []
    for piece in answer.pieces:
        if out and out[-1][0] == piece.kind:
            out[-1] = (piece.kind, out[-1][1] + piece.text)
        else:
            out.append((piece.kind, piece.text))
    return out


class _Events:
    """Numbers events as they are made (``sequence_number`` from 0)."""

    def __init__(self) -> None:
        self.next = 0

    def __call__(self, kind: str, **fields: object) -> bytes:
        data = {"type": kind, "sequence_number": self.next, **fields}
        self.next += 1
        return chunk(b"event: " + kind.encode() + b"\ndata: " + json_bytes(data) + b"\n\n")


class ResponsesShape:
    """OpenAI Responses' wire shapes (see the module's docstring)."""

    name = "responses"

    def parse(self, body: bytes, default_model: str) -> Generation:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequest(f"request body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise BadRequest("request body must be a JSON object")
        model = data.get("model", default_model)
        if not isinstance(model, str) or not model:
            raise BadRequest("'model' must be a non-empty string", "model")
        stream = data.get("stream", False) or False
        if not isinstance(stream, bool):
            raise BadRequest("'stream' must be a boolean", "stream")
        limit = data.get("max_output_tokens")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise BadRequest("'max_output_tokens' must be an integer >= 1", "max_output_tokens")
        instructions = data.get("instructions")
        if instructions is not None and not isinstance(instructions, str):
            raise BadRequest("'instructions' must be a string", "instructions")
        messages = _messages(data.get("input"))
        leading = [{"role": "system", "content": instructions}] if instructions else []
        prompt = read_chat([*leading, *messages])
        return Generation(Endpoint.RESPONSES, model, stream, True, limit, prompt)

    def _response(
        self,
        gen: Generation,
        request_index: int,
        status: str,
        output: list[dict[str, object]],
        usage: dict[str, object] | None,
        **extra: object,
    ) -> dict[str, object]:
        reason = {"reason": "max_output_tokens"} if status == "incomplete" else None
        return {
            "id": f"resp_mock_{request_index}",
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "error": None,
            "incomplete_details": reason,
            "max_output_tokens": gen.max_tokens,
            "model": gen.model,
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": usage,
            **extra,
        }

    def stream(
        self, gen: Generation, answer: Answer, offsets: list[float], request_index: int
    ) -> StreamParts:
        event = _Events()
        done_status = "completed" if answer.finish == "stop" else "incomplete"

        def opened(index: int, kind: PieceKind) -> bytes:
            item = _item(kind, request_index, "", "in_progress")
            out = event("response.output_item.added", output_index=index, item=item)
            if kind != "tool":
                out += event(
                    "response.content_part.added",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    part=_part(kind, ""),
                )
            return out

        def closed(index: int, kind: PieceKind, text: str) -> bytes:
            item = _item(kind, request_index, text, done_status)
            where = {"item_id": item["id"], "output_index": index}
            if kind == "tool":
                out = event("response.function_call_arguments.done", **where, arguments=text)
            else:
                name = "reasoning_text" if kind == "reasoning" else "output_text"
                extra: dict[str, object] = {} if kind == "reasoning" else {"logprobs": []}
                out = event(f"response.{name}.done", **where, content_index=0, text=text, **extra)
                part = _part(kind, text)
                out += event("response.content_part.done", **where, content_index=0, part=part)
            out += event("response.output_item.done", output_index=index, item=item)
            return out

        head = sse_head(keep_alive=True)
        snapshot = self._response(gen, request_index, "in_progress", [], None)
        head += event("response.created", response=snapshot)
        head += event("response.in_progress", response=snapshot)
        pieces = answer.pieces
        if pieces[0].kind != "tool":
            head += opened(0, pieces[0].kind)
        blocks = _blocks(answer)
        tokens: list[tuple[float, bytes]] = []
        sequence_after = [event.next]
        index, kind = 0, pieces[0].kind
        for i, (offset, piece) in enumerate(zip(offsets, pieces, strict=True)):
            data = b""
            if piece.kind != kind:
                data += closed(index, kind, blocks[index][1])
                index, kind = index + 1, piece.kind
                data += opened(index, kind)
            elif i == 0 and kind == "tool":
                data += opened(index, kind)
            where = {"item_id": _item_id(kind, request_index), "output_index": index}
            if kind == "tool":
                data += event("response.function_call_arguments.delta", **where, delta=piece.text)
            elif kind == "reasoning":
                data += event(
                    "response.reasoning_text.delta", **where, content_index=0, delta=piece.text
                )
            else:
                data += event(
                    "response.output_text.delta",
                    **where,
                    content_index=0,
                    delta=piece.text,
                    logprobs=[],
                )
            tokens.append((offset, data))
            sequence_after.append(event.next)
        closing = closed(index, kind, blocks[index][1])
        output = [_item(k, request_index, text, done_status) for k, text in blocks]
        final = self._response(gen, request_index, done_status, output, _usage(gen, answer))
        terminal = "response.completed" if done_status == "completed" else "response.incomplete"
        closing += event(terminal, response=final)
        return StreamParts(head, tokens, closing, tuple(sequence_after))

    def batch_body(self, gen: Generation, answer: Answer, request_index: int) -> bytes:
        status = "completed" if answer.finish == "stop" else "incomplete"
        output = [_item(k, request_index, text, status) for k, text in _blocks(answer)]
        return json_bytes(self._response(gen, request_index, status, output, _usage(gen, answer)))

    def error_body(self, status: int, message: str) -> bytes:
        if status == 429:
            body = error_body(message, error_type="requests")
            body["error"] = {**body["error"], "code": "rate_limit_exceeded"}  # type: ignore[dict-item]
            return json_bytes(body)
        kind = "invalid_request_error" if status < 500 else "server_error"
        return json_bytes(error_body(message, error_type=kind))

    def inband_error(self, gen: Generation, request_index: int, sequence_number: int) -> bytes:
        error = {"code": "server_error", "message": "The server had an error."}
        failed = self._response(gen, request_index, "failed", [], None) | {"error": error}
        data = {"type": "response.failed", "sequence_number": sequence_number, "response": failed}
        return b"event: response.failed\ndata: " + json_bytes(data) + b"\n\n"


def _messages(value: object) -> list[dict[str, object]]:
    """``input`` as chat messages: a string is one user message; a list holds messages
    (``role`` and ``content``: a string or parts, of which the text ones count) and other
    items (a tool call's output, …), read as a message of their ``type`` without text."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise BadRequest("'input' must be a string or a non-empty array", "input")
    messages: list[dict[str, object]] = []
    for item in value:
        if not isinstance(item, dict):
            raise BadRequest("each input item must be an object", "input")
        role = item.get("role", item.get("type"))
        if not isinstance(role, str):
            raise BadRequest("each input item must have a 'role' or a 'type'", "input")
        content = item.get("content") if "role" in item else None
        if isinstance(content, list):
            content = [
                {"type": "text", "text": part.get("text")}
                for part in content
                if isinstance(part, dict) and part.get("type") in _PART_TYPES
            ]
        messages.append({"role": role, "content": content})
    return messages


RESPONSES = ResponsesShape()

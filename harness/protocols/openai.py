"""The OpenAI-compatible protocol: `/chat/completions` and `/completions`, stream and batch.

Builds requests (headers with a Bearer key, JSON bodies) and interprets what comes back,
following docs/design.md:

- A *token-bearing* chunk has, in any choice, non-empty `delta.content`,
  `delta.reasoning_content`, `delta.reasoning`, `delta.refusal`, or `delta.tool_calls` carrying a
  function name or non-empty arguments (for `/completions`: non-empty `text`). Role-only chunks,
  empty-content chunks, usage chunks and keep-alives are never tokens (catalogue OAI-01..03).
  Visible content (TTFC) is text or a refusal; reasoning and tool calls are tokens, not visible.
- Tool calls: the first tool-call delta is `t_first_tool_call`, argument bytes add up in
  `tool_call_bytes`; a chunk whose tokens are reasoning counts in `reasoning_events`, and
  `usage.completion_tokens_details.reasoning_tokens` is `reasoning_tokens`.
- Usage is cumulative: the last `usage.completion_tokens` seen wins, never a sum (OAI-04).
- An in-band error (`{"error": …}` in a data line, an `event: error`, or llama.cpp's `error:`
  field) fails the request with `stream_error_event`, even after tokens (OAI-08, OAI-09).

Pure: standard library only; it updates the `RequestRecord` it is given and reads no clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import ErrorClass, Mode, Outcome
from harness.protocols import StreamStep
from harness.protocols.json_wire import bearer_auth, read_model_ids, stop_outcome
from harness.record import RequestRecord
from harness.sse import SSEEvent

CHAT_PATH = "/chat/completions"
COMPLETIONS_PATH = "/completions"
MODELS_PATH = "/models"

#: what a request accepts back, by mode
_ACCEPT: dict[Mode, str] = {Mode.STREAM: "text/event-stream", Mode.BATCH: "application/json"}

#: finish_reason -> outcome (catalogue OAI-07). "error" is OpenRouter's in-band failure.
_FINISH_OUTCOMES: dict[str, Outcome] = {
    "stop": Outcome.OK,
    "tool_calls": Outcome.OK,
    "function_call": Outcome.OK,
    "length": Outcome.OK_LENGTH,
    "content_filter": Outcome.CONTENT_FILTERED,
}

_decode_json: Callable[[str], Any]
try:  # the per-chunk JSON parse is most of the parsing cost: orjson takes 0.6 µs, json 1.9 µs
    from orjson import loads as _orjson_loads

    _decode_json = _orjson_loads
except ImportError:  # pragma: no cover - orjson is a dependency; the stdlib still works
    _decode_json = json.JSONDecoder().decode


@dataclass(frozen=True, slots=True)
class OpenAIProtocol:
    """Chat completions (`chat=True`) or legacy completions, OpenAI wire format."""

    chat: bool = True

    @property
    def path(self) -> str:
        """The endpoint path, relative to a base URL that ends in `/v1`."""
        return CHAT_PATH if self.chat else COMPLETIONS_PATH

    def request_headers(self, mode: Mode, api_key: str | None) -> dict[str, str]:
        """A JSON body, the key as a Bearer token (none without a key), and SSE or JSON
        accepted back."""
        return {"Content-Type": "application/json", **_auth(api_key), "Accept": _ACCEPT[mode]}

    def build_body(
        self,
        *,
        model: str,
        prompt: str | Sequence[Mapping[str, Any]],
        stream: bool,
        params: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The JSON request body. Streams ask for a final usage chunk (`include_usage`).

        `prompt` is a user message text, or (chat only) a list of chat messages.
        `params` (max_tokens, temperature, extra body keys) are merged in last.
        """
        body: dict[str, Any] = {"model": model}
        if self.chat:
            if isinstance(prompt, str):
                body["messages"] = [{"role": "user", "content": prompt}]
            else:
                body["messages"] = list(prompt)
        else:
            body["prompt"] = prompt if isinstance(prompt, str) else _flatten(prompt)
        body["stream"] = stream
        if stream:
            body["stream_options"] = {"include_usage": True}
        if params:
            body.update(params)
        return json.dumps(body, separators=(",", ":")).encode()

    # ------------------------------------------------------------------ streams

    def read_event(self, event: SSEEvent, record: RequestRecord) -> StreamStep:
        """Interpret one SSE event of a streamed completion, updating `record`."""
        if event.error is not None or event.event == "error":
            # catalogue OAI-09 (c) llama.cpp `error:` field, (d) `event: error`
            return _fail(record, ErrorClass.STREAM_ERROR_EVENT, event.t)
        if event.event != "message":
            record.note("unexpected_event_name")  # catalogue SSE-08: processed normally
        data = event.data
        if data[:1] == "[" or data[:1] == " ":
            stripped = data.strip()
            if stripped == "[DONE]":
                if data != "[DONE]":
                    record.note("done_whitespace")  # catalogue SSE-04
                return StreamStep.DONE
        try:
            chunk = _decode_json(data)
        except ValueError:
            record.note("malformed_json")
            return _fail(record, ErrorClass.MALFORMED_EVENT, event.t)
        if type(chunk) is not dict:
            record.note("schema_mismatch")
            return _fail(record, ErrorClass.MALFORMED_EVENT, event.t)
        if chunk.get("error") is not None:
            return _fail(record, ErrorClass.STREAM_ERROR_EVENT, event.t)

        cumulative: int | None = None
        usage = chunk.get("usage")
        if usage is not None:
            cumulative = _read_usage(usage, record)
        timings = chunk.get("timings")
        if timings is not None:
            _read_timings(timings, record)  # llama.cpp: on the final (usage) chunk

        choices = chunk.get("choices")
        if not choices:  # [], None or absent: a usage or keep-alive chunk (OAI-03)
            return StreamStep.CONTINUE
        if type(choices) is not list:
            record.note("schema_mismatch")
            return _fail(record, ErrorClass.MALFORMED_EVENT, event.t)

        token = visible = reasoning = False
        tool_bytes: int | None = None
        text_parts = record.text
        for choice in choices:
            if type(choice) is not dict:
                record.note("schema_mismatch")
                return _fail(record, ErrorClass.MALFORMED_EVENT, event.t)
            if self.chat:
                delta = choice.get("delta")
                if type(delta) is dict and delta:
                    t_bearing, v_bearing, r_bearing, tools = _read_delta(delta, text_parts)
                    token = token or t_bearing
                    visible = visible or v_bearing
                    reasoning = reasoning or r_bearing
                    if tools is not None:
                        tool_bytes = (tool_bytes or 0) + tools
            else:
                text = choice.get("text")
                if type(text) is str and text:
                    token = visible = True
                    if text_parts is not None:
                        text_parts.append(text)
            reason = choice.get("finish_reason")
            if reason is not None:
                _read_finish_reason(reason, record)
        if token:
            record.on_token_event(event.t, visible=visible, cumulative_tokens=cumulative)
            if reasoning and not visible:
                record.reasoning_events += 1
            if tool_bytes is not None:
                record.on_tool_call(event.t, tool_bytes)
        if record.finish_reason == "error":
            return _fail(record, ErrorClass.STREAM_ERROR_EVENT, event.t)
        return StreamStep.CONTINUE

    def read_trailing_event(self, event: SSEEvent, record: RequestRecord) -> None:
        """An event after `[DONE]`: only a late usage chunk counts (catalogue OAI-18 e)."""
        if event.data[:1] != "{":
            return
        try:
            chunk = _decode_json(event.data)
        except ValueError:
            return
        if type(chunk) is dict and chunk.get("usage") is not None:
            _read_usage(chunk["usage"], record)

    def end_stream(self, record: RequestRecord, t: float, *, done: bool) -> None:
        """Settle the outcome once the stream ended: `[DONE]` at `t`, or a clean EOF at `t`.

        The termination matrix (catalogue OAI-18): `[DONE]` ends the request even without a
        finish_reason; a clean EOF after a finish_reason is a success missing its `[DONE]`; a
        clean EOF with neither is `stream_truncated`. A success with no token is `empty`.
        """
        if record.outcome is not None:  # already failed
            return
        if record.server_output_tokens is None:
            record.note("usage_missing")  # catalogue OAI-04 (a): tokens counted by chunk
        if done:
            if record.finish_reason is None:
                record.note("missing_finish_reason")
        elif record.finish_reason is not None:
            record.note("missing_done")
        else:
            record.fail(ErrorClass.STREAM_TRUNCATED, t)
            return
        record.t_end = t
        if not record.chunk_times:
            record.outcome = Outcome.EMPTY  # catalogue OAI-16
            return
        record.outcome = finish_outcome(record)

    # ------------------------------------------------------------------ batch

    def read_body(self, body: bytes, record: RequestRecord, t: float) -> None:
        """Interpret a whole `stream: false` response body received at `t`."""
        try:
            doc = _decode_json(body.decode("utf-8", errors="replace"))
        except ValueError:
            record.note("malformed_json")
            _fail(record, ErrorClass.MALFORMED_EVENT, t)
            return
        if type(doc) is not dict:
            record.note("schema_mismatch")
            _fail(record, ErrorClass.MALFORMED_EVENT, t)
            return
        if doc.get("error") is not None:
            _fail(record, ErrorClass.ERROR_IN_BODY, t)  # catalogue OAI-14 (d)
            return
        usage = doc.get("usage")
        if usage is not None:
            _read_usage(usage, record)
        else:
            record.note("usage_missing")
        timings = doc.get("timings")
        if timings is not None:
            _read_timings(timings, record)
        choices = doc.get("choices")
        has_output = False
        if type(choices) is list:
            for choice in choices:
                if type(choice) is not dict:
                    continue
                if self.chat:
                    message = choice.get("message")
                    if type(message) is dict:
                        bearing, _, _, tools = _read_delta(message, record.text)
                        has_output = bearing or has_output
                        if tools is not None:
                            record.on_tool_call(None, tools)
                else:
                    text = choice.get("text")
                    if type(text) is str and text:
                        has_output = True
                        if record.text is not None:
                            record.text.append(text)
                reason = choice.get("finish_reason")
                if reason is not None:
                    _read_finish_reason(reason, record)
        elif choices is not None:
            record.note("schema_mismatch")
            _fail(record, ErrorClass.MALFORMED_EVENT, t)
            return
        record.t_end = t
        if record.finish_reason == "error":
            _fail(record, ErrorClass.ERROR_IN_BODY, t)
            return
        if not has_output:
            record.outcome = Outcome.EMPTY  # catalogue OAI-14 (c)
            return
        record.outcome = finish_outcome(record)

    def is_error_body(self, body: bytes) -> bool:
        """Whether `body` is a JSON document carrying an `error` (an in-band failure)."""
        try:
            doc = _decode_json(body.decode("utf-8", errors="replace"))
        except ValueError:
            return False
        return type(doc) is dict and doc.get("error") is not None

    def is_completion_body(self, body: bytes) -> bool:
        """Whether `body` is a whole (`stream: false`) completion document: a JSON object
        with a `choices` list. A server that ignores `stream: true` answers with one."""
        try:
            doc = _decode_json(body.decode("utf-8", errors="replace"))
        except ValueError:
            return False
        return type(doc) is dict and type(doc.get("choices")) is list

    # ------------------------------------------------------------------ models

    @property
    def models_path(self) -> str:
        """`GET {base}/models` lists the served models."""
        return MODELS_PATH

    def models_headers(self, api_key: str | None) -> dict[str, str]:
        return {"Accept": "application/json", **_auth(api_key)}

    def read_models(self, body: bytes) -> list[str]:
        """The `id` of each entry of `data` (`{"object": "list", "data": [{"id": …}]}`)."""
        return read_model_ids(body)


_auth = bearer_auth


def finish_outcome(record: RequestRecord) -> Outcome:
    """The outcome a finished request earns from its finish_reason (catalogue OAI-07)."""
    return stop_outcome(record, _FINISH_OUTCOMES)


def _read_delta(
    delta: dict[str, Any], text_parts: list[str] | None
) -> tuple[bool, bool, bool, int | None]:
    """(token-bearing, visible, reasoning, tool-call argument bytes or None when no tool-call
    delta) for a chat delta or message (docs/design.md). Visible is text or a refusal; a tool
    call is a token but not visible text."""
    token = visible = reasoning = False
    tool_bytes: int | None = None
    content = delta.get("content")
    if type(content) is str and content:
        token = visible = True
        if text_parts is not None:
            text_parts.append(content)
    refusal = delta.get("refusal")
    if type(refusal) is str and refusal:
        token = visible = True
    for key in ("reasoning_content", "reasoning"):
        value = delta.get(key)
        if type(value) is str and value:
            token = reasoning = True
            break
    tool_calls = delta.get("tool_calls")
    if tool_calls and type(tool_calls) is list:
        for call in tool_calls:
            function = call.get("function") if type(call) is dict else None
            if type(function) is not dict:
                continue
            arguments = function.get("arguments")
            size = len(arguments.encode()) if type(arguments) is str else 0
            if function.get("name") or size:
                token = True
                tool_bytes = (tool_bytes or 0) + size
    return token, visible, reasoning, tool_bytes


def _read_usage(usage: Any, record: RequestRecord) -> int | None:
    """Take cumulative usage (last value wins, OAI-04). Returns completion_tokens if given."""
    if type(usage) is not dict:
        return None
    completion = usage.get("completion_tokens")
    prompt = usage.get("prompt_tokens")
    if type(prompt) is int:
        record.input_tokens = prompt
    details = usage.get("completion_tokens_details")
    if type(details) is dict:
        reasoning = details.get("reasoning_tokens")
        if type(reasoning) is int and reasoning >= 0:
            record.reasoning_tokens = reasoning
    if type(completion) is int and completion >= 0:
        record.server_output_tokens = completion
        return completion
    return None


def _read_timings(timings: Any, record: RequestRecord) -> None:
    """Keep a server's own per-request timings (llama.cpp), numbers only."""
    if type(timings) is dict:
        record.server_timings = {
            str(k): float(v) for k, v in timings.items() if type(v) in (int, float)
        }


def _read_finish_reason(reason: Any, record: RequestRecord) -> None:
    if type(reason) is str:
        record.finish_reason = reason
    else:
        record.note("bad_finish_reason")  # catalogue OAI-07: a non-string value


def _fail(record: RequestRecord, error_class: ErrorClass, t: float) -> StreamStep:
    record.fail(error_class, t)
    return StreamStep.FAILED


def _flatten(messages: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(str(m.get("content", "")) for m in messages)

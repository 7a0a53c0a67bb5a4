"""Anthropic Messages: `POST /v1/messages`, stream and batch (catalogue ANT-01…05).

Requests carry the key as `x-api-key` (never logged: harness.redact scrubs it) and
`anthropic-version: 2023-06-01`; a leading system message moves to `system`, and `max_tokens`,
which Anthropic requires, defaults to the protocol's own when the run sets none. Thinking
(`thinking: {type: enabled, budget_tokens: N}`) passes through the params (`extra_body`).

Reading a stream (the `type` of each event's data; unknown types are ignored and counted
`unknown_event_type`, unknown delta types `unknown_delta_type`):

- token-bearing: a `content_block_delta` with a non-empty `text_delta` (visible),
  `thinking_delta` (reasoning) or `input_json_delta` (tool arguments). `signature_delta`,
  `ping`, `message_start` and the block starts and stops are never tokens.
- `message_start` gives `usage.input_tokens`; `message_delta` gives `stop_reason` and
  `usage.output_tokens`, cumulative (the last value wins, never a sum).
- a `tool_use` block start (its name) is the first tool-call delta.
- `message_stop` is the terminal marker. EOF after a stop reason is ok, noted
  `missing_message_stop`; EOF before one is `stream_truncated`.
- an `error` event fails the request with `stream_error_event`, its error type noted
  (`overloaded_error` is Anthropic's 529 in-band).

Pure: standard library only; it updates the `RequestRecord` it is given and reads no clock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import ErrorClass, Mode, Outcome
from harness.protocols import StreamStep
from harness.protocols.json_wire import (
    body_object,
    decode_body,
    dump_body,
    fail,
    read_model_ids,
    settle_end,
    split_system,
    stop_outcome,
    typed_event,
)
from harness.record import RequestRecord
from harness.sse import SSEEvent

MESSAGES_PATH = "/messages"
MODELS_PATH = "/models"
ANTHROPIC_VERSION = "2023-06-01"
#: `max_tokens` when the run sets none (Anthropic requires one)
DEFAULT_MAX_TOKENS = 4096

_ACCEPT: dict[Mode, str] = {Mode.STREAM: "text/event-stream", Mode.BATCH: "application/json"}

#: stop_reason -> outcome
STOP_OUTCOMES: Mapping[str, Outcome] = {
    "end_turn": Outcome.OK,
    "stop_sequence": Outcome.OK,
    "tool_use": Outcome.OK,
    "pause_turn": Outcome.OK,
    "max_tokens": Outcome.OK_LENGTH,
    "model_context_window_exceeded": Outcome.OK_LENGTH,
    "refusal": Outcome.CONTENT_FILTERED,
}

#: Anthropic's documented error types, noted by name on the record (others: unknown_error_type)
ERROR_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "overloaded_error",
    }
)

#: event types that carry nothing to measure
_QUIET_EVENTS = frozenset({"ping", "content_block_stop"})


@dataclass(frozen=True, slots=True)
class AnthropicProtocol:
    """Anthropic Messages. `chat` is accepted for the registry's sake and changes nothing."""

    chat: bool = True
    max_tokens: int = DEFAULT_MAX_TOKENS

    @property
    def path(self) -> str:
        """The endpoint path, relative to a base URL that ends in `/v1`."""
        return MESSAGES_PATH

    def request_headers(self, mode: Mode, api_key: str | None) -> dict[str, str]:
        """A JSON body, `x-api-key` (none without a key), the API version, SSE or JSON back."""
        return {
            "Content-Type": "application/json",
            **_auth(api_key),
            "anthropic-version": ANTHROPIC_VERSION,
            "Accept": _ACCEPT[mode],
        }

    def build_body(
        self,
        *,
        model: str,
        prompt: str | Sequence[Mapping[str, Any]],
        stream: bool,
        params: Mapping[str, Any] | None = None,
    ) -> bytes:
        """`model`, `system` (the leading system messages), `messages`, `max_tokens` (the
        params', else the protocol's), `stream`; then the other params (temperature,
        thinking, extra body keys)."""
        system, messages = split_system(prompt)
        body: dict[str, Any] = {"model": model}
        if system is not None:
            body["system"] = system
        body["messages"] = messages
        body["max_tokens"] = self.max_tokens
        body["stream"] = stream
        if params:
            body.update(params)
        return dump_body(body)

    # ------------------------------------------------------------------ streams

    def read_event(self, event: SSEEvent, record: RequestRecord) -> StreamStep:
        """Interpret one event of a Messages stream, updating `record`."""
        read = typed_event(event, record)
        if isinstance(read, StreamStep):
            return read
        doc, kind = read
        if kind == "content_block_delta":
            _read_delta(doc.get("delta"), record, event.t)
            return StreamStep.CONTINUE
        if kind in _QUIET_EVENTS:
            return StreamStep.CONTINUE
        if kind == "content_block_start":
            block = doc.get("content_block")
            if type(block) is dict and block.get("type") in ("tool_use", "server_tool_use"):
                record.on_tool_call(event.t, 0)
            return StreamStep.CONTINUE
        if kind == "message_start":
            message = doc.get("message")
            if type(message) is dict:
                _read_usage(message.get("usage"), record, output=False)
            return StreamStep.CONTINUE
        if kind == "message_delta":
            delta = doc.get("delta")
            if type(delta) is dict:
                _read_stop_reason(delta.get("stop_reason"), record)
            _read_usage(doc.get("usage"), record, output=True)
            return StreamStep.CONTINUE
        if kind == "message_stop":
            return StreamStep.DONE
        if kind == "error" or event.event == "error":
            _note_error_type(doc.get("error"), record)
            return fail(record, ErrorClass.STREAM_ERROR_EVENT, event.t)
        record.note("unknown_event_type")  # forward compatibility: ignored
        return StreamStep.CONTINUE

    def read_trailing_event(self, event: SSEEvent, record: RequestRecord) -> None:
        """Events after `message_stop` change nothing (a gateway's `[DONE]`)."""

    def end_stream(self, record: RequestRecord, t: float, *, done: bool) -> None:
        """Settle the outcome: `message_stop` at `t`, or a clean EOF at `t` (ok after a
        stop_reason, noted `missing_message_stop`; `stream_truncated` before one)."""
        settle_end(
            record, t, done=done, outcomes=STOP_OUTCOMES, missing_terminal="missing_message_stop"
        )

    # ------------------------------------------------------------------ batch

    def read_body(self, body: bytes, record: RequestRecord, t: float) -> None:
        """Interpret a whole `stream: false` Message received at `t`."""
        doc = body_object(body, record, t)
        if doc is None:
            return
        if doc.get("type") == "error" or doc.get("error") is not None:
            _note_error_type(doc.get("error"), record)
            record.fail(ErrorClass.ERROR_IN_BODY, t)
            return
        usage = doc.get("usage")
        if usage is None:
            record.note("usage_missing")
        _read_usage(usage, record, output=True)
        content = doc.get("content")
        has_output = False
        if type(content) is list:
            for block in content:
                if type(block) is dict:
                    has_output = _read_block(block, record) or has_output
        elif content is not None:
            record.note("schema_mismatch")
            record.fail(ErrorClass.MALFORMED_EVENT, t)
            return
        _read_stop_reason(doc.get("stop_reason"), record)
        record.t_end = t
        if not has_output:
            record.outcome = Outcome.EMPTY
            return
        record.outcome = stop_outcome(record, STOP_OUTCOMES)

    def is_error_body(self, body: bytes) -> bool:
        """Whether `body` is an error document (`{"type": "error", "error": {…}}`)."""
        doc = decode_body(body)
        return type(doc) is dict and (doc.get("type") == "error" or doc.get("error") is not None)

    def is_completion_body(self, body: bytes) -> bool:
        """Whether `body` is a whole Message: a JSON object with a `content` list."""
        doc = decode_body(body)
        return type(doc) is dict and type(doc.get("content")) is list

    # ------------------------------------------------------------------ models

    @property
    def models_path(self) -> str:
        """`GET {base}/models` lists the served models."""
        return MODELS_PATH

    def models_headers(self, api_key: str | None) -> dict[str, str]:
        return {
            "Accept": "application/json",
            **_auth(api_key),
            "anthropic-version": ANTHROPIC_VERSION,
        }

    def read_models(self, body: bytes) -> list[str]:
        """The `id` of each entry of `data` (`{"data": [{"id": …}], …}`)."""
        return read_model_ids(body)


def _auth(api_key: str | None) -> dict[str, str]:
    return {"x-api-key": api_key} if api_key else {}


def _read_delta(delta: Any, record: RequestRecord, t: float) -> None:
    """One `content_block_delta`'s delta: a token when it carries text, thinking or tool
    arguments."""
    if type(delta) is not dict:
        record.note("schema_mismatch")
        return
    kind = delta.get("type")
    if kind == "text_delta":
        text = delta.get("text")
        if type(text) is str and text:
            record.on_token_event(t, visible=True)
            if record.text is not None:
                record.text.append(text)
    elif kind == "thinking_delta":
        thinking = delta.get("thinking")
        if type(thinking) is str and thinking:
            record.on_token_event(t, visible=False)
            record.reasoning_events += 1
    elif kind == "input_json_delta":
        partial = delta.get("partial_json")
        if type(partial) is str and partial:
            record.on_token_event(t, visible=False)
            record.on_tool_call(t, len(partial.encode()))
    elif kind != "signature_delta":
        record.note("unknown_delta_type")


def _read_block(block: dict[str, Any], record: RequestRecord) -> bool:
    """One content block of a whole Message; whether it carried output."""
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        if type(text) is str and text:
            if record.text is not None:
                record.text.append(text)
            return True
    elif kind == "thinking":
        thinking = block.get("thinking")
        return type(thinking) is str and bool(thinking)
    elif kind in ("tool_use", "server_tool_use"):
        arguments = block.get("input")
        size = len(json.dumps(arguments, separators=(",", ":")).encode()) if arguments else 0
        record.on_tool_call(None, size)
        return True
    return False


def _read_usage(usage: Any, record: RequestRecord, *, output: bool) -> None:
    """`input_tokens` whenever given; `output_tokens` (cumulative) when `output`."""
    if type(usage) is not dict:
        return
    prompt = usage.get("input_tokens")
    if type(prompt) is int:
        record.input_tokens = prompt
    if output:
        completion = usage.get("output_tokens")
        if type(completion) is int and completion >= 0:
            record.server_output_tokens = completion


def _read_stop_reason(reason: Any, record: RequestRecord) -> None:
    if reason is None:
        return
    if type(reason) is str:
        record.finish_reason = reason
    else:
        record.note("bad_finish_reason")


def _note_error_type(error: Any, record: RequestRecord) -> None:
    kind = error.get("type") if type(error) is dict else None
    record.note(kind if kind in ERROR_TYPES else "unknown_error_type")

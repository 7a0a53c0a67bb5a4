"""OpenAI Responses: `POST /v1/responses`, stream and batch (catalogue RESP-01…05).

Requests carry a Bearer key; the body has `model`, `input` (the user text, or the messages),
`instructions` (the leading system messages), `max_output_tokens` (the run's `max_tokens`) and
`stream`, then the other params.

Reading a stream (each event's data has a `type`; unknown types are ignored and counted
`unknown_event_type`):

- token-bearing: a non-empty `response.output_text.delta` or `response.refusal.delta`
  (visible), `response.reasoning_text.delta` or `response.reasoning_summary_text.delta`
  (reasoning), `response.function_call_arguments.delta` (tool arguments).
- a `function_call` item added (`response.output_item.added`) is the first tool-call delta.
- `response.completed` and `response.incomplete` are terminal: their `response.usage` gives
  `output_tokens`, `input_tokens` and `output_tokens_details.reasoning_tokens`; the finish
  reason is `completed`, or the incomplete reason (`max_output_tokens` → ok_length,
  `content_filter` → content_filtered). EOF before a terminal event is `stream_truncated`.
- `response.failed` and `error` fail the request with `stream_error_event`.

Pure: standard library only; it updates the `RequestRecord` it is given and reads no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import ErrorClass, Mode, Outcome
from harness.protocols import StreamStep
from harness.protocols.json_wire import (
    bearer_auth,
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

RESPONSES_PATH = "/responses"
MODELS_PATH = "/models"

_ACCEPT: dict[Mode, str] = {Mode.STREAM: "text/event-stream", Mode.BATCH: "application/json"}

#: the finish reason (`completed`, or `incomplete_details.reason`) -> outcome
FINISH_OUTCOMES: Mapping[str, Outcome] = {
    "completed": Outcome.OK,
    "max_output_tokens": Outcome.OK_LENGTH,
    "content_filter": Outcome.CONTENT_FILTERED,
}

#: delta event types -> (visible, reasoning, tool arguments)
_DELTAS: Mapping[str, tuple[bool, bool, bool]] = {
    "response.output_text.delta": (True, False, False),
    "response.refusal.delta": (True, False, False),
    "response.reasoning_text.delta": (False, True, False),
    "response.reasoning_summary_text.delta": (False, True, False),
    "response.function_call_arguments.delta": (False, False, True),
}

#: event types that carry nothing to measure
_QUIET_EVENTS = frozenset(
    {
        "response.created",
        "response.in_progress",
        "response.queued",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_text.done",
        "response.output_text.annotation.added",
        "response.refusal.done",
        "response.reasoning_text.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done",
        "response.reasoning_summary_text.done",
        "response.function_call_arguments.done",
    }
)


@dataclass(frozen=True, slots=True)
class ResponsesProtocol:
    """OpenAI Responses. `chat` is accepted for the registry's sake and changes nothing."""

    chat: bool = True

    @property
    def path(self) -> str:
        """The endpoint path, relative to a base URL that ends in `/v1`."""
        return RESPONSES_PATH

    def request_headers(self, mode: Mode, api_key: str | None) -> dict[str, str]:
        """A JSON body, the key as a Bearer token (none without a key), SSE or JSON back."""
        return {"Content-Type": "application/json", **_auth(api_key), "Accept": _ACCEPT[mode]}

    def build_body(
        self,
        *,
        model: str,
        prompt: str | Sequence[Mapping[str, Any]],
        stream: bool,
        params: Mapping[str, Any] | None = None,
    ) -> bytes:
        """`model`, `instructions` (the leading system messages), `input` (the user text,
        or the other messages), `stream`; then the params, `max_tokens` renamed
        `max_output_tokens`."""
        body: dict[str, Any] = {"model": model}
        if isinstance(prompt, str):
            body["input"] = prompt
        else:
            instructions, messages = split_system(prompt)
            if instructions is not None:
                body["instructions"] = instructions
            body["input"] = messages
        body["stream"] = stream
        if params:
            for key, value in params.items():
                body["max_output_tokens" if key == "max_tokens" else key] = value
        return dump_body(body)

    # ------------------------------------------------------------------ streams

    def read_event(self, event: SSEEvent, record: RequestRecord) -> StreamStep:
        """Interpret one event of a Responses stream, updating `record`."""
        read = typed_event(event, record)
        if isinstance(read, StreamStep):
            return read
        doc, kind = read
        channels = _DELTAS.get(kind)
        if channels is not None:
            delta = doc.get("delta")
            if type(delta) is str and delta:
                visible, reasoning, tool = channels
                record.on_token_event(event.t, visible=visible)
                if reasoning:
                    record.reasoning_events += 1
                elif tool:
                    record.on_tool_call(event.t, len(delta.encode()))
                elif kind == "response.output_text.delta" and record.text is not None:
                    record.text.append(delta)
            return StreamStep.CONTINUE
        if kind in _QUIET_EVENTS:
            return StreamStep.CONTINUE
        if kind == "response.output_item.added":
            item = doc.get("item")
            if type(item) is dict and item.get("type") == "function_call":
                record.on_tool_call(event.t, 0)
            return StreamStep.CONTINUE
        if kind in ("response.completed", "response.incomplete"):
            response = doc.get("response")
            if type(response) is dict:
                _read_response(response, record)
            elif kind == "response.completed":
                record.finish_reason = "completed"
            return StreamStep.DONE
        if kind in ("response.failed", "error") or event.event == "error":
            return fail(record, ErrorClass.STREAM_ERROR_EVENT, event.t)
        record.note("unknown_event_type")  # forward compatibility: ignored
        return StreamStep.CONTINUE

    def read_trailing_event(self, event: SSEEvent, record: RequestRecord) -> None:
        """Events after the terminal one change nothing."""

    def end_stream(self, record: RequestRecord, t: float, *, done: bool) -> None:
        """Settle the outcome: a terminal event at `t`, or a clean EOF at `t` (truncated:
        the finish reason only comes with the terminal event)."""
        settle_end(
            record, t, done=done, outcomes=FINISH_OUTCOMES, missing_terminal="missing_completed"
        )

    # ------------------------------------------------------------------ batch

    def read_body(self, body: bytes, record: RequestRecord, t: float) -> None:
        """Interpret a whole `stream: false` response object received at `t`."""
        doc = body_object(body, record, t)
        if doc is None:
            return
        if doc.get("error") is not None or doc.get("status") == "failed":
            record.fail(ErrorClass.ERROR_IN_BODY, t)
            return
        output = doc.get("output")
        if output is not None and type(output) is not list:
            record.note("schema_mismatch")
            record.fail(ErrorClass.MALFORMED_EVENT, t)
            return
        if doc.get("usage") is None:
            record.note("usage_missing")
        _read_response(doc, record)
        has_output = False
        for item in output or ():
            if type(item) is dict:
                has_output = _read_item(item, record) or has_output
        record.t_end = t
        if not has_output:
            record.outcome = Outcome.EMPTY
            return
        record.outcome = stop_outcome(record, FINISH_OUTCOMES)

    def is_error_body(self, body: bytes) -> bool:
        """Whether `body` is a JSON document with a non-null `error` (a Responses object
        always has the key, null when it succeeded)."""
        doc = decode_body(body)
        return type(doc) is dict and doc.get("error") is not None

    def is_completion_body(self, body: bytes) -> bool:
        """Whether `body` is a whole response object: a JSON object with an `output` list."""
        doc = decode_body(body)
        return type(doc) is dict and type(doc.get("output")) is list

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


def _read_response(response: dict[str, Any], record: RequestRecord) -> None:
    """A response object's usage and finish reason (its status, or why it is incomplete)."""
    usage = response.get("usage")
    if type(usage) is dict:
        output = usage.get("output_tokens")
        if type(output) is int and output >= 0:
            record.server_output_tokens = output
        prompt = usage.get("input_tokens")
        if type(prompt) is int:
            record.input_tokens = prompt
        details = usage.get("output_tokens_details")
        if type(details) is dict:
            reasoning = details.get("reasoning_tokens")
            if type(reasoning) is int and reasoning >= 0:
                record.reasoning_tokens = reasoning
    status = response.get("status")
    if status == "incomplete":
        details = response.get("incomplete_details")
        reason = details.get("reason") if type(details) is dict else None
        record.finish_reason = reason if type(reason) is str else "incomplete"
    elif type(status) is str:
        record.finish_reason = status


def _read_item(item: dict[str, Any], record: RequestRecord) -> bool:
    """One `output` item of a whole response; whether it carried output."""
    kind = item.get("type")
    if kind == "message":
        found = False
        for part in item.get("content") or ():
            if type(part) is not dict:
                continue
            text = part.get("text") if part.get("type") == "output_text" else part.get("refusal")
            if type(text) is str and text:
                found = True
                if part.get("type") == "output_text" and record.text is not None:
                    record.text.append(text)
        return found
    if kind == "reasoning":
        for key in ("content", "summary"):
            for part in item.get(key) or ():
                if type(part) is dict and part.get("text"):
                    return True
        return False
    if kind == "function_call":
        arguments = item.get("arguments")
        record.on_tool_call(None, len(arguments.encode()) if type(arguments) is str else 0)
        return True
    return False

"""What the event-typed JSON protocols (Anthropic Messages, OpenAI Responses) share: the fast
JSON decoder, failing a record, the end-of-stream matrix and a stop reason's outcome.

Pure: standard library (and orjson when present); it updates the record it is given and reads no
clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.errors import ErrorClass, Outcome
from harness.protocols import StreamStep
from harness.record import RequestRecord
from harness.sse import SSEEvent

decode_json: Callable[[str], Any]
try:  # orjson parses a chunk 3x faster than json; the stdlib still works
    from orjson import loads as _orjson_loads

    decode_json = _orjson_loads
except ImportError:  # pragma: no cover - orjson is a dependency
    decode_json = json.JSONDecoder().decode


def decode_body(body: bytes) -> Any:
    """A whole body as JSON, or None when it is not JSON."""
    try:
        return decode_json(body.decode("utf-8", errors="replace"))
    except ValueError:
        return None


def dump_body(body: Mapping[str, Any]) -> bytes:
    """A request body as compact JSON bytes."""
    return json.dumps(body, separators=(",", ":")).encode()


def fail(record: RequestRecord, error_class: ErrorClass, t: float) -> StreamStep:
    """Fail `record` with `error_class` at `t`; the client stops reading."""
    record.fail(error_class, t)
    return StreamStep.FAILED


def stop_outcome(record: RequestRecord, outcomes: Mapping[str, Outcome]) -> Outcome:
    """The outcome a finished request earns from its stop reason: `ok` without one, and `ok`
    (noted `unknown_finish_reason`) for one the protocol does not list."""
    reason = record.finish_reason
    if reason is None:
        return Outcome.OK
    outcome = outcomes.get(reason)
    if outcome is None:
        record.note("unknown_finish_reason")
        return Outcome.OK
    return outcome


def settle_end(
    record: RequestRecord,
    t: float,
    *,
    done: bool,
    outcomes: Mapping[str, Outcome],
    missing_terminal: str,
) -> None:
    """Settle a stream that ended at `t`, by its terminal event (`done`) or a clean EOF.

    EOF after a stop reason is a success noted `missing_terminal`; EOF with none is
    `stream_truncated`. A success with no token (and no tool call) is `empty`.
    """
    if record.outcome is not None:  # already failed
        return
    if record.server_output_tokens is None:
        record.note("usage_missing")
    if done:
        if record.finish_reason is None:
            record.note("missing_finish_reason")
    elif record.finish_reason is not None:
        record.note(missing_terminal)
    else:
        record.fail(ErrorClass.STREAM_TRUNCATED, t)
        return
    record.t_end = t
    if not record.chunk_times and record.t_first_tool_call is None:
        record.outcome = Outcome.EMPTY
        return
    record.outcome = stop_outcome(record, outcomes)


def split_system(
    prompt: str | Sequence[Mapping[str, Any]],
) -> tuple[str | None, list[dict[str, Any]]]:
    """(the leading system messages' text joined by blank lines, or None; the other messages)
    of a prompt given as a user text or a list of chat messages."""
    if isinstance(prompt, str):
        return None, [{"role": "user", "content": prompt}]
    messages = [dict(m) for m in prompt]
    system: list[str] = []
    while messages and messages[0].get("role") in ("system", "developer"):
        system.append(str(messages.pop(0).get("content", "")))
    return ("\n\n".join(system) if system else None), messages


def read_model_ids(body: bytes) -> list[str]:
    """The `id` of each entry of a models list's `data` (`{"data": [{"id": …}], …}`: the
    OpenAI and Anthropic shapes alike), in order; entries without one are skipped. Raises
    `ValueError`, `KeyError` or `TypeError` when the body is no such list."""
    doc = json.loads(body)
    return [str(item["id"]) for item in doc["data"] if isinstance(item, dict) and "id" in item]


def bearer_auth(api_key: str | None) -> dict[str, str]:
    """`Authorization: Bearer KEY`, or nothing without a key."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def typed_event(event: SSEEvent, record: RequestRecord) -> tuple[dict[str, Any], Any] | StreamStep:
    """A typed event's JSON object (Anthropic Messages, Responses) and its type — the
    object's `type`, else the SSE `event:` name — or what to do when the event is no such
    object: a gateway's `[DONE]` is noted `foreign_done` and read past; JSON that is not an
    object fails the request as `malformed_event`."""
    data = event.data
    if data.strip() == "[DONE]":  # a gateway's (OpenRouter's) marker: not this protocol's end
        record.note("foreign_done")
        return StreamStep.CONTINUE
    try:
        doc = decode_json(data)
    except ValueError:
        record.note("malformed_json")
        return fail(record, ErrorClass.MALFORMED_EVENT, event.t)
    if type(doc) is not dict:
        record.note("schema_mismatch")
        return fail(record, ErrorClass.MALFORMED_EVENT, event.t)
    kind = doc.get("type")
    if type(kind) is not str:
        kind = event.event
    return doc, kind


def body_object(body: bytes, record: RequestRecord, t: float) -> dict[str, Any] | None:
    """A whole body's JSON object; None when it is not one (not JSON, or JSON that is no
    object), and the request then failed at `t` as `malformed_event`."""
    doc = decode_body(body)
    if type(doc) is not dict:
        record.note("malformed_json" if doc is None else "schema_mismatch")
        record.fail(ErrorClass.MALFORMED_EVENT, t)
        return None
    return doc

"""Anthropic Messages requests (headers, bodies), whole Message bodies, in-band errors and the
models request; streams are covered by the catalogue's ANT cases."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.errors import ErrorClass, Mode, Outcome
from harness.protocols.anthropic import ANTHROPIC_VERSION, AnthropicProtocol
from harness.protocols.registry import make_protocol
from harness.record import RequestRecord
from harness.sse import SSEEvent


def _body(**kwargs: object) -> dict[str, Any]:
    args: dict[str, object] = {"model": "claude", "prompt": "hi", "stream": True, **kwargs}
    body: dict[str, Any] = json.loads(AnthropicProtocol().build_body(**args))  # type: ignore[arg-type]
    return body


# -- requests --------------------------------------------------------------------------------


def test_the_registry_builds_it_and_it_posts_to_messages() -> None:
    protocol = make_protocol("anthropic")
    assert isinstance(protocol, AnthropicProtocol)
    assert protocol.path == "/messages"
    assert protocol.models_path == "/models"


def test_the_key_is_an_x_api_key_header_with_the_api_version_never_a_bearer() -> None:
    headers = AnthropicProtocol().request_headers(Mode.STREAM, "sk-ant-1")
    assert headers == {
        "Content-Type": "application/json",
        "x-api-key": "sk-ant-1",
        "anthropic-version": "2023-06-01",
        "Accept": "text/event-stream",
    }
    assert "Authorization" not in headers
    assert AnthropicProtocol().request_headers(Mode.BATCH, None)["Accept"] == "application/json"
    assert "x-api-key" not in AnthropicProtocol().request_headers(Mode.BATCH, None)


def test_the_models_request_carries_the_same_key_and_version() -> None:
    headers = AnthropicProtocol().models_headers("sk-ant-1")
    assert headers["x-api-key"] == "sk-ant-1"
    assert headers["anthropic-version"] == ANTHROPIC_VERSION


def test_a_text_prompt_is_one_user_message_with_the_default_max_tokens() -> None:
    assert _body() == {
        "model": "claude",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 4096,
        "stream": True,
    }


def test_a_leading_system_message_moves_to_system_and_params_pass_through() -> None:
    thinking = {"type": "enabled", "budget_tokens": 2048}
    body = _body(
        prompt=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "again"},
        ],
        stream=False,
        params={"max_tokens": 64, "temperature": 0.5, "thinking": thinking},
    )
    assert body["system"] == "be brief"
    assert body["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    ]
    assert body["max_tokens"] == 64
    assert body["stream"] is False
    assert body["thinking"] == thinking
    assert body["temperature"] == 0.5


# -- whole bodies ----------------------------------------------------------------------------


def _batch(doc: dict[str, Any] | str) -> RequestRecord:
    record = RequestRecord(mode=Mode.BATCH, model="m", endpoint="/v1/messages", t0=0.0)
    record.text = []
    raw = doc if isinstance(doc, str) else json.dumps(doc)
    AnthropicProtocol().read_body(raw.encode(), record, 2.0)
    return record


def _message(content: list[dict[str, Any]], stop_reason: str = "end_turn") -> dict[str, object]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": stop_reason,
        "usage": {"input_tokens": 12, "output_tokens": 5},
    }


def test_a_whole_message_is_ok_with_its_usage_text_and_e2e() -> None:
    record = _batch(
        _message([{"type": "thinking", "thinking": "hmm"}, {"type": "text", "text": "Hi"}])
    )
    assert record.outcome is Outcome.OK
    assert record.finish_reason == "end_turn"
    assert record.output_tokens == 5
    assert record.input_tokens == 12
    assert record.text == ["Hi"]
    assert record.e2e_s == pytest.approx(2.0)
    assert record.ttft_s is None


def test_a_whole_tool_use_counts_its_input_bytes() -> None:
    block: dict[str, Any] = {
        "type": "tool_use",
        "id": "t",
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    record = _batch(_message([block], "tool_use"))
    assert record.outcome is Outcome.OK
    assert record.tool_call_bytes == len('{"city":"Paris"}')
    assert record.tool_call_s is None


@pytest.mark.parametrize(
    ("stop_reason", "outcome"),
    [("max_tokens", Outcome.OK_LENGTH), ("refusal", Outcome.CONTENT_FILTERED)],
)
def test_a_whole_message_stop_reason_sets_the_outcome(stop_reason: str, outcome: Outcome) -> None:
    assert _batch(_message([{"type": "text", "text": "a"}], stop_reason)).outcome is outcome


def test_a_message_with_no_content_is_empty() -> None:
    assert _batch(_message([])).outcome is Outcome.EMPTY


def test_an_error_document_is_error_in_body_with_its_type_noted() -> None:
    doc: dict[str, Any] = {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    record = _batch(doc)
    assert record.error_class is ErrorClass.ERROR_IN_BODY
    assert record.anomalies == {"overloaded_error": 1}
    protocol = AnthropicProtocol()
    assert protocol.is_error_body(json.dumps(doc).encode())
    assert not protocol.is_completion_body(json.dumps(doc).encode())
    assert protocol.is_completion_body(json.dumps(_message([])).encode())


def test_a_malformed_body_is_malformed_event() -> None:
    assert _batch("{nope").error_class is ErrorClass.MALFORMED_EVENT


# -- stream details the catalogue does not cover ---------------------------------------------


def _event(kind: str, fields: dict[str, object]) -> SSEEvent:
    return SSEEvent(data=json.dumps({"type": kind, **fields}), event=kind, id=None, t=0.5)


def test_an_unlisted_error_type_is_noted_as_unknown() -> None:
    record = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/messages")
    AnthropicProtocol().read_event(_event("error", {"error": {"type": "brand_new"}}), record)
    assert record.error_class is ErrorClass.STREAM_ERROR_EVENT
    assert record.anomalies == {"unknown_error_type": 1}


def test_message_start_usage_output_tokens_is_not_taken_as_the_count() -> None:
    record = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/messages")
    usage = {"input_tokens": 12, "output_tokens": 1}
    AnthropicProtocol().read_event(_event("message_start", {"message": {"usage": usage}}), record)
    assert record.input_tokens == 12
    assert record.server_output_tokens is None


def test_models_are_the_ids_of_data() -> None:
    body = b'{"data":[{"id":"claude-a","type":"model"},{"id":"claude-b"}],"has_more":false}'
    assert AnthropicProtocol().read_models(body) == ["claude-a", "claude-b"]

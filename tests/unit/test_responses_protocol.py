"""OpenAI Responses requests (headers, bodies), whole response objects and the models request;
streams are covered by the catalogue's RESP cases."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.errors import ErrorClass, Mode, Outcome
from harness.protocols.registry import make_protocol
from harness.protocols.responses import ResponsesProtocol
from harness.record import RequestRecord


def _body(**kwargs: object) -> dict[str, Any]:
    args: dict[str, object] = {"model": "gpt", "prompt": "hi", "stream": True, **kwargs}
    body: dict[str, Any] = json.loads(ResponsesProtocol().build_body(**args))  # type: ignore[arg-type]
    return body


# -- requests --------------------------------------------------------------------------------


def test_the_registry_builds_it_and_it_posts_to_responses_with_a_bearer_key() -> None:
    protocol = make_protocol("responses")
    assert isinstance(protocol, ResponsesProtocol)
    assert protocol.path == "/responses"
    assert protocol.request_headers(Mode.STREAM, "sk-1") == {
        "Content-Type": "application/json",
        "Authorization": "Bearer sk-1",
        "Accept": "text/event-stream",
    }
    assert "Authorization" not in protocol.request_headers(Mode.BATCH, None)
    assert protocol.models_headers("sk-1")["Authorization"] == "Bearer sk-1"


def test_a_text_prompt_is_the_input_string_and_max_tokens_is_max_output_tokens() -> None:
    assert _body(params={"max_tokens": 64, "temperature": 0.5}) == {
        "model": "gpt",
        "input": "hi",
        "stream": True,
        "max_output_tokens": 64,
        "temperature": 0.5,
    }


def test_a_leading_system_message_becomes_instructions() -> None:
    body = _body(
        prompt=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        stream=False,
    )
    assert body["instructions"] == "be brief"
    assert body["input"] == [{"role": "user", "content": "hi"}]
    assert body["stream"] is False


# -- whole bodies ----------------------------------------------------------------------------


def _batch(doc: dict[str, Any] | str) -> RequestRecord:
    record = RequestRecord(mode=Mode.BATCH, model="m", endpoint="/v1/responses", t0=0.0)
    record.text = []
    raw = doc if isinstance(doc, str) else json.dumps(doc)
    ResponsesProtocol().read_body(raw.encode(), record, 2.0)
    return record


def _response(output: list[dict[str, Any]], **extra: object) -> dict[str, object]:
    return {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "error": None,
        "output": output,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 8,
            "output_tokens_details": {"reasoning_tokens": 6},
        },
        **extra,
    }


_MESSAGE: dict[str, Any] = {
    "type": "message",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "Hi", "annotations": []}],
}
_REASONING: dict[str, Any] = {
    "type": "reasoning",
    "summary": [{"type": "summary_text", "text": "thought"}],
}


def test_a_whole_response_is_ok_with_usage_reasoning_tokens_and_text() -> None:
    record = _batch(_response([_REASONING, _MESSAGE]))
    assert record.outcome is Outcome.OK
    assert record.finish_reason == "completed"
    assert record.output_tokens == 8
    assert record.input_tokens == 10
    assert record.reasoning_tokens == 6
    assert record.reasoning_share == pytest.approx(0.75)
    assert record.text == ["Hi"]
    assert record.e2e_s == pytest.approx(2.0)


def test_a_whole_function_call_counts_its_argument_bytes() -> None:
    call: dict[str, Any] = {
        "type": "function_call",
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    record = _batch(_response([call]))
    assert record.outcome is Outcome.OK
    assert record.tool_call_bytes == 16
    assert record.tool_call_s is None


@pytest.mark.parametrize(
    ("reason", "outcome"),
    [("max_output_tokens", Outcome.OK_LENGTH), ("content_filter", Outcome.CONTENT_FILTERED)],
)
def test_an_incomplete_response_takes_its_outcome_from_the_reason(
    reason: str, outcome: Outcome
) -> None:
    doc = _response([_MESSAGE], status="incomplete", incomplete_details={"reason": reason})
    record = _batch(doc)
    assert record.outcome is outcome
    assert record.finish_reason == reason


def test_a_response_with_no_output_is_empty() -> None:
    assert _batch(_response([])).outcome is Outcome.EMPTY


def test_an_error_is_error_in_body_though_every_response_has_an_error_key() -> None:
    failed = _response([], status="failed", error={"code": "server_error", "message": "x"})
    assert _batch(failed).error_class is ErrorClass.ERROR_IN_BODY
    protocol = ResponsesProtocol()
    assert protocol.is_error_body(json.dumps(failed).encode())
    assert not protocol.is_error_body(json.dumps(_response([_MESSAGE])).encode())
    assert protocol.is_completion_body(json.dumps(_response([_MESSAGE])).encode())
    assert not protocol.is_completion_body(b'{"error":{"message":"x"}}')


def test_a_malformed_body_is_malformed_event() -> None:
    assert _batch("[1, 2]").error_class is ErrorClass.MALFORMED_EVENT


def test_models_are_the_ids_of_data() -> None:
    body = b'{"object":"list","data":[{"id":"gpt-a"},{"id":"gpt-b"}]}'
    assert ResponsesProtocol().read_models(body) == ["gpt-a", "gpt-b"]

"""OpenAI requests (headers, bodies), batch bodies and the models request (streams are covered
by the catalogue cases); tool calls and reasoning, streamed and whole; the protocol registry."""

from __future__ import annotations

import json

import pytest

from harness.errors import ConfigError, ErrorClass, Mode, Outcome
from harness.protocols.openai import OpenAIProtocol
from harness.protocols.registry import PROTOCOLS, make_protocol, protocol_names
from harness.record import RequestRecord
from harness.scenario import PROTOCOLS as SCENARIO_PROTOCOLS
from harness.stream import StreamReader


def test_stream_body_asks_for_usage_and_carries_params() -> None:
    body = json.loads(
        OpenAIProtocol().build_body(
            model="m", prompt="hi", stream=True, params={"max_tokens": 64, "temperature": 0.5}
        )
    )
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 64,
        "temperature": 0.5,
    }


def test_batch_completions_body_has_a_prompt_and_no_stream_options() -> None:
    body = json.loads(OpenAIProtocol(chat=False).build_body(model="m", prompt="hi", stream=False))
    assert body == {"model": "m", "prompt": "hi", "stream": False}


def _batch(body: dict[str, object] | str, chat: bool = True) -> RequestRecord:
    record = RequestRecord(mode=Mode.BATCH, model="m", endpoint="/v1/chat/completions", t0=0.0)
    record.text = []
    raw = body if isinstance(body, str) else json.dumps(body)
    OpenAIProtocol(chat=chat).read_body(raw.encode(), record, 2.0)
    return record


def test_batch_answer_is_ok_with_server_usage_and_e2e() -> None:
    record = _batch(
        {
            "choices": [
                {"message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2},
        }
    )
    assert record.outcome is Outcome.OK
    assert record.output_tokens == 2
    assert record.input_tokens == 5
    assert record.e2e_s == pytest.approx(2.0)
    assert record.ttft_s is None
    assert record.text == ["Hi"]


def test_batch_with_no_choices_is_empty() -> None:  # catalogue OAI-14 (c)
    assert _batch({"choices": []}).outcome is Outcome.EMPTY


def test_batch_error_object_at_200_is_error_in_body() -> None:  # catalogue OAI-14 (d)
    record = _batch({"error": {"message": "nope"}})
    assert record.outcome is Outcome.FAILED
    assert record.error_class is ErrorClass.ERROR_IN_BODY


def test_batch_length_finish_is_ok_length() -> None:
    record = _batch({"choices": [{"message": {"content": "a"}, "finish_reason": "length"}]})
    assert record.outcome is Outcome.OK_LENGTH


def test_batch_completions_text_is_read() -> None:
    record = _batch({"choices": [{"text": "a b", "finish_reason": "stop"}]}, chat=False)
    assert record.outcome is Outcome.OK
    assert record.text == ["a b"]


def test_batch_malformed_json_is_malformed_event() -> None:
    record = _batch("{not json")
    assert record.error_class is ErrorClass.MALFORMED_EVENT


# -- headers ---------------------------------------------------------------------------------


def test_a_key_is_sent_as_a_bearer_token_and_the_mode_picks_accept() -> None:
    protocol = OpenAIProtocol()
    assert protocol.request_headers(Mode.STREAM, "sk-1") == {
        "Content-Type": "application/json",
        "Authorization": "Bearer sk-1",
        "Accept": "text/event-stream",
    }
    assert protocol.request_headers(Mode.BATCH, "sk-1")["Accept"] == "application/json"


@pytest.mark.parametrize("key", [None, ""])
def test_without_a_key_no_authorization_header_is_sent(key: str | None) -> None:
    headers = OpenAIProtocol().request_headers(Mode.STREAM, key)
    assert "Authorization" not in headers
    assert "Authorization" not in OpenAIProtocol().models_headers(key)


# -- the models request ----------------------------------------------------------------------


def test_the_models_request_is_a_json_get_of_models_with_the_key() -> None:
    protocol = OpenAIProtocol(chat=False)
    assert protocol.models_path == "/models"
    assert protocol.models_headers("sk-1") == {
        "Accept": "application/json",
        "Authorization": "Bearer sk-1",
    }


def test_models_are_the_ids_of_the_list_in_order_skipping_entries_without_one() -> None:
    body = b'{"object":"list","data":[{"id":"b"},{"object":"model"},"x",{"id":"a"}]}'
    assert OpenAIProtocol().read_models(body) == ["b", "a"]


@pytest.mark.parametrize(
    ("body", "error"),
    [(b"<html>", ValueError), (b'{"detail":"Not Found"}', KeyError), (b"[1]", TypeError)],
)
def test_a_body_that_is_no_model_list_raises(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        OpenAIProtocol().read_models(body)


# -- the registry ----------------------------------------------------------------------------


def test_the_registry_builds_openai_by_default_and_the_scenario_offers_its_names() -> None:
    assert protocol_names()[0] == "openai"
    assert SCENARIO_PROTOCOLS == protocol_names() == tuple(PROTOCOLS)
    assert make_protocol() == OpenAIProtocol(chat=True)
    assert make_protocol("openai", chat=False) == OpenAIProtocol(chat=False)


def test_an_unknown_protocol_is_a_config_error_naming_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown protocol 'grpc': expected one of openai, anthropic, responses"
    ):
        make_protocol("grpc")


# -- tool calls and reasoning ----------------------------------------------------------------


def _stream(events: list[tuple[float, dict[str, object]]]) -> RequestRecord:
    """Each (time, chunk) as one SSE event, then `[DONE]` at the last time."""
    record = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/chat/completions", t0=0.0)
    record.text = []
    reader = StreamReader(OpenAIProtocol(), record)
    for t, chunk in events:
        reader.feed(f"data: {json.dumps(chunk)}\n\n".encode(), t)
    reader.feed(b"data: [DONE]\n\n", events[-1][0])
    return record


def _tool_delta(name: str | None, arguments: str) -> dict[str, object]:
    function: dict[str, object] = {"arguments": arguments}
    if name is not None:
        function["name"] = name
    call = {"index": 0, "id": "call_1", "type": "function", "function": function}
    return {"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}


def test_a_streamed_tool_call_times_its_name_and_counts_its_argument_bytes() -> None:
    record = _stream(
        [
            (0.2, _tool_delta("get_weather", "")),
            (0.3, _tool_delta(None, '{"location": "San')),
            (0.35, _tool_delta(None, ' Francisco"}')),
            (0.4, {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        ]
    )
    assert record.outcome is Outcome.OK
    assert record.tool_call_s == pytest.approx(0.2)
    assert record.ttft_s == pytest.approx(0.2)  # the name is a token-bearing delta
    assert record.tool_call_bytes == len('{"location": "San Francisco"}')
    assert record.ttfc_s is None  # a tool call is no visible text
    assert record.reasoning_events == 0


def test_an_answer_without_tool_calls_has_no_tool_call_time() -> None:
    record = _stream([(0.3, {"choices": [{"index": 0, "delta": {"content": "a"}}]})])
    assert record.tool_call_s is None
    assert record.tool_call_bytes == 0


def test_reasoning_chunks_are_counted_and_usage_gives_reasoning_tokens() -> None:
    usage = {
        "prompt_tokens": 5,
        "completion_tokens": 4,
        "completion_tokens_details": {"reasoning_tokens": 3},
    }
    record = _stream(
        [
            (0.2, {"choices": [{"index": 0, "delta": {"reasoning_content": "r"}}]}),
            (0.3, {"choices": [{"index": 0, "delta": {"reasoning": "r"}}]}),
            (0.4, {"choices": [{"index": 0, "delta": {"content": "a"}}]}),
            (0.5, {"choices": [], "usage": usage}),
        ]
    )
    assert record.reasoning_events == 2
    assert record.reasoning_tokens == 3
    assert record.reasoning_share == pytest.approx(0.75)
    assert record.ttft_s == pytest.approx(0.2)
    assert record.ttfc_s == pytest.approx(0.4)


def test_usage_without_reasoning_details_leaves_reasoning_tokens_absent() -> None:
    record = _batch(
        {
            "choices": [{"message": {"content": "Hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2},
        }
    )
    assert record.reasoning_tokens is None
    assert record.reasoning_share is None


def test_a_batch_tool_call_counts_its_argument_bytes_untimed() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    record = _batch(
        {
            "choices": [
                {"message": {"content": None, "tool_calls": [call]}, "finish_reason": "tool_calls"}
            ]
        }
    )
    assert record.outcome is Outcome.OK
    assert record.tool_call_bytes == 7
    assert record.tool_call_s is None

"""OpenAI request bodies and batch bodies (streams are covered by the catalogue cases)."""

from __future__ import annotations

import json

import pytest

from harness.errors import ErrorClass, Mode, Outcome
from harness.protocols.openai import OpenAIProtocol
from harness.record import RequestRecord


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

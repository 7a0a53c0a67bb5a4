"""The mock speaks Anthropic Messages and OpenAI Responses: the real SDKs, exact bytes, timing.

The real ``anthropic`` and ``openai`` SDKs stream from the mock on 127.0.0.1 and get the text
and usage the profile says; one short stream of each protocol is checked byte for byte; the
new routes keep the mock's timing promises (the tolerances of tests/integration/test_mock.py),
and with ``--reasoning-tokens N`` the first visible text comes exactly N ITLs after the first
token; faults answer in each protocol's own shapes.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.conftest import on_time_in_one_of
from tests.integration.test_mock import Mock, Response, call, profile_args, start_mock, stats

MESSAGES = "/v1/messages"
RESPONSES = "/v1/responses"
TTFT, ITL, TOKENS = 0.100, 0.010, 8
REASONING = 3
PROMPT = "say hello to the mock"  # 6 tokens; one chat message: + 3 + 4 (tokens.py)
TEXT = "".join(f" tok{i}" for i in range(TOKENS))


def _start(*extra: str) -> Iterator[Mock]:
    server = start_mock(*profile_args(TTFT, ITL, TOKENS), *extra)
    yield server
    assert server.stop() == (0, "")


@pytest.fixture(scope="module")
def mock() -> Iterator[Mock]:
    yield from _start()


@pytest.fixture(scope="module")
def thinking_mock() -> Iterator[Mock]:
    yield from _start("--reasoning-tokens", str(REASONING))


@pytest.fixture(scope="module")
def tool_mock() -> Iterator[Mock]:
    yield from _start("--tool-call")


def anthropic_client(port: int) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=f"http://127.0.0.1:{port}")


def openai_client(port: int) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=f"http://127.0.0.1:{port}/v1")


def messages_body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "mock-llm",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": PROMPT}],
        **extra,
    }


def responses_body(**extra: Any) -> dict[str, Any]:
    return {"model": "mock-llm", "input": PROMPT, **extra}


def sse(response: Response) -> list[tuple[float, str, dict[str, Any]]]:
    """(time, event name, data) of every event: one per HTTP chunk, ``event:`` + ``data:``."""
    out = []
    for c in response.chunks[:-1]:
        match = re.fullmatch(rb"event: ([\w.]+)\ndata: (.*)\n\n", c.data, re.DOTALL)
        assert match is not None, c.data
        data = json.loads(match.group(2))
        assert data["type"] == match.group(1).decode()
        out.append((c.t, match.group(1).decode(), data))
    return out


# -- the real SDKs -----------------------------------------------------------------------------


def test_anthropic_sdk_streams_events_text_and_usage(mock: Mock) -> None:
    client = anthropic_client(mock.port)
    kinds, texts, usage = [], [], None
    with client.messages.create(**messages_body(), stream=True) as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                texts.append(event.delta.text)
            if event.type == "message_delta":
                usage = event.usage.output_tokens
                assert event.delta.stop_reason == "end_turn"
    assert kinds[:2] == ["message_start", "content_block_start"]  # the SDK hides ping
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert texts == [f" tok{i}" for i in range(TOKENS)]
    assert usage == TOKENS


def test_anthropic_sdk_text_stream_and_final_message(mock: Mock) -> None:
    client = anthropic_client(mock.port)
    with client.messages.stream(**messages_body(system="be brief")) as stream:
        assert "".join(stream.text_stream) == TEXT
        final = stream.get_final_message()
    assert final.usage.input_tokens == 6 + 3 + 3 + 4 * 2  # "be brief" (3) as a system message
    assert (final.usage.output_tokens, final.stop_reason) == (TOKENS, "end_turn")


def test_anthropic_sdk_batch_and_models(mock: Mock) -> None:
    client = anthropic_client(mock.port)
    message = client.messages.create(**messages_body(max_tokens=3))
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == " tok0 tok1 tok2"
    assert (message.stop_reason, message.usage.output_tokens) == ("max_tokens", 3)
    assert message.usage.input_tokens == 13
    assert [m.id for m in client.models.list()] == ["mock-llm"]


def test_anthropic_sdk_thinking_then_text(thinking_mock: Mock) -> None:
    client = anthropic_client(thinking_mock.port)
    with client.messages.stream(**messages_body()) as stream:
        assert "".join(stream.text_stream) == TEXT
        final = stream.get_final_message()
    thinking, text = final.content
    assert thinking.type == "thinking"
    assert text.type == "text"
    assert thinking.thinking == "".join(f" think{i}" for i in range(REASONING))
    assert final.usage.output_tokens == REASONING + TOKENS


def test_anthropic_sdk_tool_use(tool_mock: Mock) -> None:
    client = anthropic_client(tool_mock.port)
    with client.messages.stream(**messages_body()) as stream:
        final = stream.get_final_message()
    (block,) = final.content
    assert block.type == "tool_use"
    assert (block.name, block.input) == ("get_weather", {"location": TEXT})
    assert final.stop_reason == "tool_use"


def test_openai_sdk_responses_stream_and_batch(mock: Mock) -> None:
    client = openai_client(mock.port)
    events = list(client.responses.create(**responses_body(), stream=True))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == TEXT
    assert len(deltas) == TOKENS
    assert [e.sequence_number for e in events] == list(range(len(events)))
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.usage is not None
    assert completed.response.usage.output_tokens == TOKENS
    assert completed.response.output_text == TEXT
    batch = client.responses.create(**responses_body(instructions="be brief"))
    assert (batch.status, batch.output_text) == ("completed", TEXT)
    assert batch.usage is not None
    assert batch.usage.input_tokens == 6 + 3 + 3 + 4 * 2


def test_openai_sdk_responses_reasoning_and_function_call(
    thinking_mock: Mock, tool_mock: Mock
) -> None:
    thought = openai_client(thinking_mock.port).responses.create(**responses_body())
    assert [item.type for item in thought.output] == ["reasoning", "message"]
    assert thought.usage is not None
    assert thought.usage.output_tokens_details.reasoning_tokens == REASONING
    assert thought.usage.output_tokens == REASONING + TOKENS
    events = list(openai_client(tool_mock.port).responses.create(**responses_body(), stream=True))
    pieces = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert len(pieces) == TOKENS
    assert json.loads("".join(pieces)) == {"location": TEXT}


def test_openai_sdk_chat_with_reasoning_and_tool_call(thinking_mock: Mock, tool_mock: Mock) -> None:
    chat = openai_client(thinking_mock.port).chat.completions
    messages = [{"role": "user", "content": PROMPT}]
    chunks = list(
        chat.create(
            model="m", messages=messages, stream=True, stream_options={"include_usage": True}
        )  # type: ignore[call-overload]
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = [getattr(d, "reasoning_content", None) for d in deltas]
    assert "".join(r for r in reasoning if r) == "".join(f" think{i}" for i in range(REASONING))
    assert "".join(d.content or "" for d in deltas) == TEXT
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens == REASONING + TOKENS
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == REASONING
    tool = openai_client(tool_mock.port).chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    (call_,) = tool.choices[0].message.tool_calls or []
    assert call_.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call_.function.arguments) == {"location": TEXT}  # type: ignore[union-attr]
    assert tool.choices[0].finish_reason == "tool_calls"


# -- exact bytes -------------------------------------------------------------------------------

ANTHROPIC_GOLDEN = (
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_mock_N","type":"message",'
    b'"role":"assistant","content":[],"model":"mock-llm","stop_reason":null,'
    b'"stop_sequence":null,"usage":{"input_tokens":13,"output_tokens":1}}}\n\n'
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'
    b"\n\n"
    b'event: ping\ndata: {"type":"ping"}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" tok0"}}'
    b"\n\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" tok1"}}'
    b"\n\n"
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b"event: message_delta\n"
    b'data: {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},'
    b'"usage":{"output_tokens":2}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)

_ITEM = b'"id":"msg_mock_N","type":"message","status":"%s","content":[%s],"role":"assistant"'
_PART = b'{"type":"output_text","annotations":[],"logprobs":[],"text":"%s"}'
_RESPONSE = (
    b'{"id":"resp_mock_N","object":"response","created_at":T,"status":"%s","error":null,'
    b'"incomplete_details":%s,"max_output_tokens":2,"model":"mock-llm","output":[%s],'
    b'"parallel_tool_calls":true,"tool_choice":"auto","tools":[],"usage":%s}'
)
_USAGE = (
    b'{"input_tokens":13,"input_tokens_details":{"cached_tokens":0},"output_tokens":2,'
    b'"output_tokens_details":{"reasoning_tokens":0},"total_tokens":15}'
)
_WHERE = b'"item_id":"msg_mock_N","output_index":0,"content_index":0'
RESPONSES_GOLDEN = b"".join(
    [
        b"event: response.created\n"
        b'data: {"type":"response.created","sequence_number":0,"response":'
        + _RESPONSE % (b"in_progress", b"null", b"", b"null")
        + b"}\n\n",
        b"event: response.in_progress\n"
        b'data: {"type":"response.in_progress","sequence_number":1,"response":'
        + _RESPONSE % (b"in_progress", b"null", b"", b"null")
        + b"}\n\n",
        b"event: response.output_item.added\n"
        b'data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,'
        b'"item":{' + _ITEM % (b"in_progress", b"") + b"}}\n\n",
        b"event: response.content_part.added\n"
        b'data: {"type":"response.content_part.added","sequence_number":3,'
        + _WHERE
        + b',"part":'
        + _PART % b""
        + b"}\n\n",
        b"event: response.output_text.delta\n"
        b'data: {"type":"response.output_text.delta","sequence_number":4,'
        + _WHERE
        + b',"delta":" tok0","logprobs":[]}\n\n',
        b"event: response.output_text.delta\n"
        b'data: {"type":"response.output_text.delta","sequence_number":5,'
        + _WHERE
        + b',"delta":" tok1","logprobs":[]}\n\n',
        b"event: response.output_text.done\n"
        b'data: {"type":"response.output_text.done","sequence_number":6,'
        + _WHERE
        + b',"text":" tok0 tok1","logprobs":[]}\n\n',
        b"event: response.content_part.done\n"
        b'data: {"type":"response.content_part.done","sequence_number":7,'
        + _WHERE
        + b',"part":'
        + _PART % b" tok0 tok1"
        + b"}\n\n",
        b"event: response.output_item.done\n"
        b'data: {"type":"response.output_item.done","sequence_number":8,"output_index":0,'
        b'"item":{' + _ITEM % (b"incomplete", _PART % b" tok0 tok1") + b"}}\n\n",
        b"event: response.incomplete\n"
        b'data: {"type":"response.incomplete","sequence_number":9,"response":'
        + _RESPONSE
        % (
            b"incomplete",
            b'{"reason":"max_output_tokens"}',
            b"{" + _ITEM % (b"incomplete", _PART % b" tok0 tok1") + b"}",
            _USAGE,
        )
        + b"}\n\n",
    ]
)


def _body(response: Response) -> bytes:
    """The stream's events, request numbers and times replaced by N and T."""
    data = b"".join(c.data for c in response.chunks)
    data = re.sub(rb"_mock_\d+", b"_mock_N", data)
    return re.sub(rb'"created_at":\d+', b'"created_at":T', data)


def test_an_anthropic_stream_byte_for_byte(mock: Mock) -> None:
    response = call(mock.port, "POST", MESSAGES, messages_body(max_tokens=2, stream=True))
    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert _body(response) == ANTHROPIC_GOLDEN
    # message_start, content_block_start and ping at once; one event per HTTP chunk
    assert [c.segment for c in response.chunks[:3]] == [0, 0, 0]
    assert len(response.chunks) == 9  # 8 events and the terminator


def test_a_responses_stream_byte_for_byte(mock: Mock) -> None:
    body = responses_body(max_output_tokens=2, stream=True)
    response = call(mock.port, "POST", RESPONSES, body)
    assert response.status == 200
    assert _body(response) == RESPONSES_GOLDEN


# -- timing ------------------------------------------------------------------------------------


def _token_times(events: list[tuple[float, str, dict[str, Any]]]) -> list[float]:
    tokens = ("content_block_delta", "response.output_text.delta")
    return [
        t for t, name, data in events if name in tokens and "signature" not in data.get("delta", {})
    ]


def _violations(times: list[float], n: int) -> list[str]:
    if len(times) != n:
        return [f"{len(times)} tokens, expected {n}"]
    out = []
    if abs(times[0] - TTFT) > 0.002:
        out.append(f"first token at {times[0] * 1e3:.2f} ms")
    for i, (a, b) in enumerate(itertools.pairwise(times), 1):
        if abs(b - a - ITL) > 0.001:
            out.append(f"token {i} {(b - a) * 1e3:.2f} ms after the previous")
    return out


@pytest.mark.parametrize(
    ("path", "body"),
    [(MESSAGES, messages_body(stream=True)), (RESPONSES, responses_body(stream=True))],
)
def test_new_routes_stream_on_schedule(mock: Mock, path: str, body: dict[str, Any]) -> None:
    def run() -> tuple[None, list[str]]:
        response = call(mock.port, "POST", path, body)
        problems = _violations(_token_times(sse(response)), TOKENS)
        if response.chunks[0].t > 0.003:
            problems.append(f"opening events at {response.chunks[0].t * 1e3:.2f} ms")
        return None, problems

    on_time_in_one_of(5, run)


@pytest.mark.parametrize(
    ("path", "body", "thinking", "text"),
    [
        (MESSAGES, messages_body(stream=True), "thinking_delta", "text_delta"),
        (
            RESPONSES,
            responses_body(stream=True),
            "response.reasoning_text.delta",
            "response.output_text.delta",
        ),
    ],
)
def test_reasoning_puts_the_first_text_n_itls_after_the_first_token(
    thinking_mock: Mock, path: str, body: dict[str, Any], thinking: str, text: str
) -> None:
    def kind(name: str, data: dict[str, Any]) -> str:
        return str(data["delta"]["type"]) if name == "content_block_delta" else name

    def run() -> tuple[None, list[str]]:
        call(thinking_mock.port, "DELETE", "/mock/stats")
        events = sse(call(thinking_mock.port, "POST", path, body))
        first_thinking = next(t for t, n, d in events if kind(n, d) == thinking)
        first_text = next(t for t, n, d in events if kind(n, d) == text)
        gap = first_text - first_thinking
        problems = []
        if abs(first_thinking - TTFT) > 0.002:
            problems.append(f"first thinking token at {first_thinking * 1e3:.2f} ms")
        if abs(gap - REASONING * ITL) > 0.001:
            problems.append(f"first text {gap * 1e3:.2f} ms after the first thinking token")
        lateness = stats(thinking_mock.port)["lateness_s"]  # the mock's own clock
        if lateness["max"] >= 0.001:
            problems.append(f"mock lateness max {lateness['max'] * 1e3:.2f} ms")
        return None, problems

    on_time_in_one_of(5, run)


# -- stats, errors and faults ------------------------------------------------------------------


def test_stats_count_the_new_routes_and_received_names_the_protocol(mock: Mock) -> None:
    call(mock.port, "DELETE", "/mock/stats")
    call(mock.port, "POST", MESSAGES, messages_body(stream=True))
    call(mock.port, "POST", RESPONSES, responses_body())
    doc = stats(mock.port)
    assert doc["requests"] == {MESSAGES: {"stream": 1}, RESPONSES: {"batch": 1}}
    assert doc["completed"] == doc["requests"]
    assert [(e["protocol"], e["mode"], e["prompt_tokens"]) for e in doc["received"]] == [
        ("anthropic", "stream", 13),
        ("responses", "batch", 13),
    ]
    assert doc["arrivals"]["count"] == 2


def test_a_bad_anthropic_request_is_a_400_in_anthropic_shape(mock: Mock) -> None:
    body = messages_body()
    del body["max_tokens"]
    response = call(mock.port, "POST", MESSAGES, body)
    assert response.status == 400
    assert response.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
    }


@pytest.fixture(scope="module")
def faulty_mock() -> Iterator[Mock]:
    yield from _start("--fault-schedule", "http_500,truncated,inband_error,rate_limited")


def test_faults_in_each_protocols_shape(faulty_mock: Mock) -> None:
    port = faulty_mock.port
    call(port, "DELETE", "/mock/stats")
    a500, a_cut, a_inband, a429 = (
        call(port, "POST", MESSAGES, messages_body(stream=True)) for _ in range(4)
    )
    assert (a500.status, a500.json()["error"]["type"]) == (500, "api_error")
    assert (a429.status, a429.json()["error"]["type"]) == (429, "rate_limit_error")
    assert a429.headers["retry-after"] == "1"
    names = [n for _, n, _ in sse(a_cut)]
    assert names[-1] == "content_block_delta"
    assert "message_stop" not in names
    assert len([n for n in names if n == "content_block_delta"]) == 2  # after_tokens
    last = sse(a_inband)[-1]
    assert last[1:] == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    r500, r_cut, r_inband, r429 = (
        call(port, "POST", RESPONSES, responses_body(stream=True)) for _ in range(4)
    )
    assert (r500.status, r500.json()["error"]["type"]) == (500, "server_error")
    assert (r429.status, r429.json()["error"]["code"]) == (429, "rate_limit_exceeded")
    names = [n for _, n, _ in sse(r_cut)]
    assert names[-1] == "response.output_text.delta"
    assert "response.completed" not in names
    events = sse(r_inband)
    assert events[-1][1] == "response.failed"
    assert events[-1][2]["response"]["status"] == "failed"
    assert [d["sequence_number"] for _, _, d in events] == list(range(len(events)))
    doc = stats(port)
    assert doc["injected"] == {"http_500": 2, "inband_error": 2, "rate_limited": 2, "truncated": 2}

"""The mock counts what it is sent and answers at the length asked, seen from a plain socket.

Real ``python -m harness.mock`` processes on 127.0.0.1 and the raw HTTP/1.1 reader of
`test_mock` (nothing from the harness core): ``usage.prompt_tokens`` follows the rule of
`harness.mock.tokens` (exact figures for known texts), ``ignore_eos`` and ``min_tokens`` set the
reply's length in batch and stream, bad values are a 400 naming the param, every reply to a
generation request carries ``X-Mock-Prompt-Tokens`` and ``X-Mock-Messages`` (every personality,
faults too), and ``/mock/stats`` ``received`` lists what each request sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_mock import (
    CHAT,
    COMPLETIONS,
    Mock,
    Response,
    call,
    connect,
    exchange,
    request_bytes,
    start_mock,
    stats,
    token_texts,
)

TOKENS = 8
PROFILE = ("--ttft", "5ms", "--itl", "1ms", "--tokens", str(TOKENS))

#: a conversation whose tokens are known: text 8 + 6 + 2 + 3 = 19, template 3 + 4 × 4 = 19
CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a helpful assistant."},  # 1 + 1 + 1 + 2 + 3
    {"role": "user", "content": "understanding people"},  # 4 + 2
    {"role": "assistant", "content": " tok0 tok1"},  # 1 + 1
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "look at this"},  # 1 + 1 + 1
            {"type": "image_url", "image_url": {"url": "http://127.0.0.1/x.png"}},
        ],
    },
]
CONVERSATION_TOKENS = 38


@pytest.fixture(scope="module")
def mock() -> Iterator[Mock]:
    server = start_mock(*PROFILE)
    yield server
    assert server.stop() == (0, "")


def post(port: int, path: str, body: dict[str, Any]) -> Response:
    return call(port, "POST", path, body)


def chat_body(*, stream: bool = False, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m", "messages": CONVERSATION, "stream": stream, **extra}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def objects(response: Response) -> list[dict[str, Any]]:
    return [json.loads(p) for _, p in response.events() if p != b"[DONE]"]


def stream_length(response: Response) -> tuple[int, str, int]:
    """A chat stream's token chunks, its finish_reason and its usage's completion_tokens."""
    objs = objects(response)
    finish, usage = objs[-2]["choices"][0]["finish_reason"], objs[-1]["usage"]
    return len(token_texts(response)), finish, usage["completion_tokens"]


def batch_length(response: Response) -> tuple[int, str, int]:
    """A chat batch answer's tokens (" tokN" each), its finish_reason and completion_tokens."""
    body = response.json()
    choice = body["choices"][0]
    return (
        choice["message"]["content"].count(" tok"),
        choice["finish_reason"],
        body["usage"]["completion_tokens"],
    )


def received(port: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = stats(port)["received"]
    return entries


def reset(port: int) -> None:
    assert call(port, "DELETE", "/mock/stats").status == 200


# -- prompt tokens ------------------------------------------------------------------------


def test_chat_prompt_tokens_are_text_tokens_plus_the_template(mock: Mock) -> None:
    batch = post(mock.port, CHAT, chat_body())
    stream = post(mock.port, CHAT, chat_body(stream=True))
    assert batch.json()["usage"] == {
        "prompt_tokens": CONVERSATION_TOKENS,
        "completion_tokens": TOKENS,
        "total_tokens": CONVERSATION_TOKENS + TOKENS,
    }
    assert objects(stream)[-1]["usage"]["prompt_tokens"] == CONVERSATION_TOKENS


@pytest.mark.parametrize(
    ("prompt", "tokens"),
    [
        ("understanding people", 6),
        (["say hello", "to the mock"], 6),
        ([101, 2023, 2003, 102, 0], 5),
    ],
)
def test_completion_prompt_tokens_have_no_template(mock: Mock, prompt: object, tokens: int) -> None:
    response = post(mock.port, COMPLETIONS, {"model": "m", "prompt": prompt})
    assert response.json()["usage"]["prompt_tokens"] == tokens


# -- output length ------------------------------------------------------------------------


@pytest.mark.parametrize("max_tokens", [30, 3])
def test_ignore_eos_gives_exactly_max_tokens(mock: Mock, max_tokens: int) -> None:
    extra: dict[str, Any] = {"ignore_eos": True, "max_tokens": max_tokens}
    batch = post(mock.port, CHAT, chat_body(**extra))
    stream = post(mock.port, CHAT, chat_body(stream=True, **extra))
    assert batch_length(batch) == (max_tokens, "length", max_tokens)
    assert stream_length(stream) == (max_tokens, "length", max_tokens)


def test_ignore_eos_without_max_tokens_stops_at_the_profile_length(mock: Mock) -> None:
    stream = post(mock.port, CHAT, chat_body(stream=True, ignore_eos=True))
    assert stream_length(stream) == (TOKENS, "length", TOKENS)


def test_ignore_eos_on_completions_streams_max_tokens_texts(mock: Mock) -> None:
    body = {"model": "m", "prompt": "hi", "stream": True, "ignore_eos": True, "max_tokens": 12}
    response = post(mock.port, COMPLETIONS, body)
    assert token_texts(response, COMPLETIONS) == [f" tok{i}" for i in range(12)]


@pytest.mark.parametrize(
    ("extra", "length"),
    [
        ({"min_tokens": 12}, (12, "stop", 12)),  # ends on its own, after 12
        ({"min_tokens": 12, "max_tokens": 10}, (10, "length", 10)),  # cut by max_tokens
        ({"min_tokens": 3}, (TOKENS, "stop", TOKENS)),  # the natural length is longer
    ],
)
def test_min_tokens_lengthens_the_answer(
    mock: Mock, extra: dict[str, Any], length: tuple[int, str, int]
) -> None:
    assert batch_length(post(mock.port, CHAT, chat_body(**extra))) == length
    assert stream_length(post(mock.port, CHAT, chat_body(stream=True, **extra))) == length


@pytest.mark.parametrize(
    ("extra", "param", "message"),
    [
        ({"ignore_eos": "true"}, "ignore_eos", "'ignore_eos' must be a boolean"),
        ({"ignore_eos": 1}, "ignore_eos", "'ignore_eos' must be a boolean"),
        ({"min_tokens": -1}, "min_tokens", "'min_tokens' must be an integer >= 0"),
        ({"min_tokens": False}, "min_tokens", "'min_tokens' must be an integer >= 0"),
        ({"min_tokens": 2.5}, "min_tokens", "'min_tokens' must be an integer >= 0"),
    ],
)
def test_bad_length_params_are_a_400_naming_the_param(
    mock: Mock, extra: dict[str, Any], param: str, message: str
) -> None:
    response = post(mock.port, CHAT, chat_body(**extra))
    assert response.status == 400
    assert response.json() == {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}
    }


# -- the echo headers ---------------------------------------------------------------------


@pytest.mark.parametrize("personality", ["openai", "vllm", "llama.cpp", "litellm"])
def test_every_generation_reply_echoes_prompt_tokens_and_messages(personality: str) -> None:
    server = start_mock(*PROFILE, "--personality", personality)
    try:
        answers = [
            (post(server.port, CHAT, chat_body()), CONVERSATION_TOKENS, 4),
            (post(server.port, CHAT, chat_body(stream=True)), CONVERSATION_TOKENS, 4),
            (post(server.port, COMPLETIONS, {"prompt": "understanding people"}), 6, 0),
            (post(server.port, COMPLETIONS, {"prompt": "a b", "stream": True}), 2, 0),
        ]
    finally:
        assert server.stop() == (0, "")
    for response, tokens, messages in answers:
        assert response.status == 200
        assert response.headers["x-mock-prompt-tokens"] == str(tokens)
        assert response.headers["x-mock-messages"] == str(messages)


def test_a_faulty_reply_echoes_them_too() -> None:
    server = start_mock(*PROFILE, "--fault-schedule", "rate_limited,reset_mid_stream")
    try:
        limited = post(server.port, CHAT, chat_body())
        with connect(server.port) as sock:
            sock.sendall(request_bytes("POST", CHAT, chat_body(stream=True)))
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(65536)
    finally:
        assert server.stop() == (0, "")
    assert limited.status == 429
    assert limited.headers["x-mock-prompt-tokens"] == str(CONVERSATION_TOKENS)
    assert limited.headers["x-mock-messages"] == "4"
    assert b"\r\nX-Mock-Prompt-Tokens: 38\r\nX-Mock-Messages: 4\r\n" in head


def test_errors_of_the_mock_itself_carry_no_echo(mock: Mock) -> None:
    response = post(mock.port, CHAT, chat_body(min_tokens=-1))
    assert response.status == 400
    assert "x-mock-prompt-tokens" not in response.headers


# -- /mock/stats received -----------------------------------------------------------------


def test_received_lists_what_each_request_sent_in_arrival_order(mock: Mock) -> None:
    reset(mock.port)
    post(mock.port, CHAT, chat_body(max_tokens=5, ignore_eos=True))
    post(mock.port, CHAT, chat_body(min_tokens=2))  # ... a 400 is not received:
    post(mock.port, CHAT, chat_body(ignore_eos="no"))
    post(mock.port, COMPLETIONS, {"prompt": ["first prompt", "last one"], "stream": True})
    contents = "You are a helpful assistant.understanding people tok0 tok1look at this"
    conversation = {
        "prompt_tokens": CONVERSATION_TOKENS,
        "messages": 4,
        "roles": ["system", "user", "assistant", "user"],
        "assistant": [" tok0 tok1"],
        "first_user": "understanding people",
        "last_user": "look at this",
        "prefix_sha1": hashlib.sha1(contents.encode()).hexdigest(),
    }
    assert received(mock.port) == [
        {**conversation, "mode": "batch", "max_tokens": 5, "ignore_eos": True, "min_tokens": None},
        {**conversation, "mode": "batch", "max_tokens": None, "ignore_eos": False, "min_tokens": 2},
        {
            "mode": "stream",
            "prompt_tokens": 2 + 2 + 1 + 1,  # "first" and "prompt" are 2 each
            "messages": 0,
            "max_tokens": None,
            "ignore_eos": False,
            "min_tokens": None,
            "roles": [],
            "assistant": [],
            "first_user": "first prompt",
            "last_user": "last one",
            "prefix_sha1": hashlib.sha1(b"first promptlast one").hexdigest(),
        },
    ]


def test_received_shows_a_conversation_growing_turn_by_turn(mock: Mock) -> None:
    reset(mock.port)
    messages: list[dict[str, str]] = [{"role": "system", "content": "S" * 2_500}]
    for turn in range(3):
        messages.append({"role": "user", "content": f"question {turn}"})
        reply = post(mock.port, CHAT, {"messages": messages, "max_tokens": turn + 1})
        messages.append(reply.json()["choices"][0]["message"])
    entries = received(mock.port)
    assert [e["messages"] for e in entries] == [2, 4, 6]
    assert [e["assistant"] for e in entries] == [[], [" tok0"], [" tok0", " tok0 tok1"]]
    assert [e["last_user"] for e in entries] == ["question 0", "question 1", "question 2"]
    assert {e["first_user"] for e in entries} == {"question 0"}
    # the shared system prompt is longer than the hashed prefix: one hash for all turns
    assert {e["prefix_sha1"] for e in entries} == {hashlib.sha1(b"S" * 2_000).hexdigest()}


def test_received_cuts_user_text_at_200_characters(mock: Mock) -> None:
    reset(mock.port)
    long = "y" * 300
    post(mock.port, CHAT, {"messages": [{"role": "user", "content": long}]})
    (entry,) = received(mock.port)
    assert (entry["first_user"], entry["last_user"]) == ("y" * 200, "y" * 200)


def test_delete_resets_received(mock: Mock) -> None:
    reset(mock.port)
    post(mock.port, CHAT, chat_body())
    response = call(mock.port, "DELETE", "/mock/stats")
    assert len(response.json()["received"]) == 1
    doc = stats(mock.port)
    assert (doc["received"], doc["received_truncated"]) == ([], False)


def test_a_faulty_reply_is_received_too() -> None:
    server = start_mock(*PROFILE, "--fault-schedule", "http_500")
    try:
        assert post(server.port, CHAT, chat_body()).status == 500
        entries = received(server.port)
    finally:
        assert server.stop() == (0, "")
    assert [e["prompt_tokens"] for e in entries] == [CONVERSATION_TOKENS]


def test_a_request_on_a_kept_connection_is_received_once(mock: Mock) -> None:
    reset(mock.port)
    with connect(mock.port) as sock:
        for _ in range(3):
            assert exchange(sock, request_bytes("POST", CHAT, chat_body())).status == 200
    assert len(received(mock.port)) == 3

"""What the mock reads of a request (`harness.mock.tokens`, `harness.mock.prompt`,
`harness.mock.completions.reply_length`, `harness.mock.received`): the token rule, the
summary of a prompt, the length of the reply, the bounded log — on bodies, without sockets."""

from __future__ import annotations

import hashlib
import json

import pytest

from harness.mock.completions import Endpoint, parse_generation, reply_length
from harness.mock.profiles import LatencyProfile
from harness.mock.prompt import BadRequest, read_chat, read_completion
from harness.mock.received import ReceivedLog
from harness.mock.tokens import text_tokens

PROFILE = LatencyProfile(output_tokens=8)


def chat(**body: object) -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": "hi"}], **body}).encode()


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("a", 1),
        ("word", 1),
        ("people", 2),
        ("understanding", 4),
        ("  say\thello\nto  the mock ", 6),
        ("écoute", 2),  # characters, not bytes
    ],
)
def test_a_word_is_one_token_per_four_characters_rounded_up(text: str, tokens: int) -> None:
    assert text_tokens(text) == tokens


def test_a_chat_counts_3_for_the_reply_and_4_per_message_on_top_of_the_text() -> None:
    prompt = read_chat(
        [
            {"role": "system", "content": "be brief"},  # 1 + 2
            {"role": "user", "content": [{"type": "text", "text": "understanding"}]},  # 4
            {"role": "assistant", "content": None},  # 0
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
        ]
    )
    assert prompt.tokens == 3 + 4 * 4 + 3 + 4


def test_a_completion_prompt_has_no_template_and_token_ids_count_themselves() -> None:
    assert read_completion("understanding people").tokens == 6
    assert read_completion(["say hello", "to the mock"]).tokens == 6
    assert read_completion([101, 7, 7, 102]).tokens == 4


def test_the_summary_keeps_roles_assistant_turns_and_user_excerpts() -> None:
    long_user = "x" * 250
    prompt = read_chat(
        [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": long_user},
            {"role": "assistant", "content": " tok0 tok1"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
        ]
    )
    assert prompt.roles == ("system", "user", "assistant", "user")
    assert prompt.assistant == (" tok0 tok1",)
    assert prompt.first_user == "x" * 200
    assert prompt.last_user == "a\nb"  # text parts joined by a newline
    contents = "sys" + long_user + " tok0 tok1" + "a\nb"
    assert prompt.prefix_sha1 == hashlib.sha1(contents.encode()).hexdigest()


def test_the_prefix_hash_covers_the_first_2000_characters_only() -> None:
    system = "é" * 1_990
    one = read_chat(
        [{"role": "system", "content": system}, {"role": "user", "content": "0123456789 one"}]
    )
    two = read_chat(
        [{"role": "system", "content": system}, {"role": "user", "content": "0123456789 two"}]
    )
    other = read_chat(
        [{"role": "system", "content": system}, {"role": "user", "content": "012345678X"}]
    )
    expected = hashlib.sha1((system + "0123456789").encode("utf-8")).hexdigest()
    assert one.prefix_sha1 == two.prefix_sha1 == expected
    assert other.prefix_sha1 != expected


def test_a_completion_summary_has_no_messages_and_the_prompts_as_user_text() -> None:
    prompt = read_completion(["first prompt", "second"])
    assert (prompt.messages, prompt.roles, prompt.assistant) == (0, (), ())
    assert (prompt.first_user, prompt.last_user) == ("first prompt", "second")
    assert read_completion([1, 22, 333]).first_user == "1 22 333"


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "'messages' must be a non-empty array"),
        ([{"content": "x"}], "each message must be an object with a 'role'"),
        ([{"role": "user", "content": 3}], "'messages' must hold strings"),
        (
            [{"role": "user", "content": [{"type": "text", "text": None}]}],
            "'messages' must hold strings",
        ),
    ],
)
def test_a_bad_message_list_is_refused_naming_messages(messages: object, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        read_chat(messages)
    assert (caught.value.message, caught.value.param) == (message, "messages")


@pytest.mark.parametrize(
    ("body", "length"),
    [
        ({}, (8, "stop")),
        ({"max_tokens": 5}, (5, "length")),
        ({"max_tokens": 30}, (8, "stop")),
        ({"ignore_eos": True, "max_tokens": 30}, (30, "length")),
        ({"ignore_eos": True, "max_completion_tokens": 3}, (3, "length")),
        ({"ignore_eos": True}, (8, "length")),
        ({"ignore_eos": False, "max_tokens": 30}, (8, "stop")),
        ({"min_tokens": 12}, (12, "stop")),
        ({"min_tokens": 3}, (8, "stop")),
        ({"min_tokens": 12, "max_tokens": 20}, (12, "stop")),
        ({"min_tokens": 12, "max_tokens": 10}, (10, "length")),
        ({"min_tokens": 0, "max_tokens": 4}, (4, "length")),
    ],
)
def test_reply_length_honours_max_tokens_ignore_eos_and_min_tokens(
    body: dict[str, object], length: tuple[int, str]
) -> None:
    gen = parse_generation(Endpoint.CHAT, chat(**body), "m")
    assert reply_length(gen, PROFILE) == length


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({"ignore_eos": "yes"}, "ignore_eos", "'ignore_eos' must be a boolean"),
        ({"ignore_eos": 1}, "ignore_eos", "'ignore_eos' must be a boolean"),
        ({"min_tokens": -1}, "min_tokens", "'min_tokens' must be an integer >= 0"),
        ({"min_tokens": True}, "min_tokens", "'min_tokens' must be an integer >= 0"),
        ({"min_tokens": 1.5}, "min_tokens", "'min_tokens' must be an integer >= 0"),
        ({"min_tokens": "3"}, "min_tokens", "'min_tokens' must be an integer >= 0"),
    ],
)
def test_bad_length_params_are_refused_naming_them(
    body: dict[str, object], param: str, message: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_generation(Endpoint.CHAT, chat(**body), "m")
    assert (caught.value.message, caught.value.param) == (message, param)


def test_the_received_log_keeps_the_first_entries_then_says_truncated() -> None:
    log = ReceivedLog(cap=2)
    for n in (1, 2, 3):
        log.record(
            parse_generation(Endpoint.COMPLETIONS, json.dumps({"prompt": [0] * n}).encode(), "m")
        )
    doc = log.snapshot()
    entries = doc["received"]
    assert isinstance(entries, list)
    assert [e["prompt_tokens"] for e in entries] == [1, 2]
    assert doc["received_truncated"] is True


def test_exactly_at_the_cap_the_received_log_is_not_truncated() -> None:
    log = ReceivedLog(cap=1)
    log.record(parse_generation(Endpoint.CHAT, chat(), "m"))
    assert log.snapshot()["received_truncated"] is False


def test_a_reset_reads_the_received_log_then_empties_it() -> None:
    log = ReceivedLog(cap=1)
    gen = parse_generation(Endpoint.CHAT, chat(max_tokens=4, min_tokens=2), "m")
    log.record(gen)
    log.record(gen)
    entry = {
        "mode": "batch",
        "prompt_tokens": 3 + 4 + 1,
        "messages": 1,
        "max_tokens": 4,
        "ignore_eos": False,
        "min_tokens": 2,
        "roles": ["user"],
        "assistant": [],
        "first_user": "hi",
        "last_user": "hi",
        "prefix_sha1": hashlib.sha1(b"hi").hexdigest(),
    }
    assert log.snapshot(reset=True) == {"received": [entry], "received_truncated": True}
    assert log.snapshot() == {"received": [], "received_truncated": False}

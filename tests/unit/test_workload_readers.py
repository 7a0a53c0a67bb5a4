"""The readers of the user's workload files: ShareGPT conversations, JSONL prompts and traces.

Each malformed record gives its whole one-line error; filters and sampling are counted and
reproducible; the example files in examples/data read with the counts they were written with.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError
from harness.workload.jsonl import prompt_text, read_jsonl_dataset
from harness.workload.records import MAX_RECORD_FILE_BYTES
from harness.workload.sharegpt import (
    Conversation,
    LengthFilter,
    estimate_tokens,
    read_sharegpt,
)
from harness.workload.trace import TraceEntry, read_trace
from tests.conftest import ROOT

EXAMPLES = ROOT / "examples" / "data"


def error_of(call: Callable[[], object]) -> str:
    """The message of the ConfigError `call` raises; it must be one line."""
    with pytest.raises(ConfigError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def lines(tmp_path: Path, name: str, *items: Any) -> Path:
    """A JSONL file of `items`, one JSON value per line."""
    return write(tmp_path, name, "".join(json.dumps(item) + "\n" for item in items))


def chat(*turns: tuple[str, str]) -> dict[str, Any]:
    """A ShareGPT record of (from, value) turns."""
    return {"conversations": [{"from": who, "value": text} for who, text in turns]}


def sharegpt(tmp_path: Path, *records: Any) -> Path:
    return write(tmp_path, "data.json", json.dumps(list(records)))


def numbered(count: int) -> list[dict[str, Any]]:
    """`count` one-turn records whose human text is their number."""
    return [chat(("human", str(i)), ("gpt", "ok")) for i in range(count)]


# --- the token estimate and the length filter ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"), [("", 0), ("a", 1), ("abcd", 1), ("abcde", 2), ("x" * 400, 100)]
)
def test_estimate_is_four_characters_a_token_rounded_up(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


def test_length_filter_bounds_are_inclusive() -> None:
    between = LengthFilter(min=10, max=20)
    assert [between.admits(n) for n in (9, 10, 20, 21)] == [False, True, True, False]
    assert LengthFilter(max=5).admits(0)
    assert not LengthFilter(min=1).admits(0)


def test_length_filter_min_above_max_is_an_error() -> None:
    assert error_of(lambda: LengthFilter(min=30, max=20)) == (
        "length filter: min 30 is above max 20 (expected min ≤ max)"
    )


def test_length_filter_negative_bound_is_an_error() -> None:
    assert error_of(lambda: LengthFilter(max=-1)) == (
        "length filter: max: got -1 (expected an integer of 0 or more)"
    )


# --- ShareGPT: what a record becomes --------------------------------------------------------


def test_sharegpt_record_becomes_its_system_human_turns_and_references(tmp_path: Path) -> None:
    path = sharegpt(
        tmp_path,
        chat(("system", "Be brief."), ("human", "Hi"), ("gpt", "Hello"), ("human", "Bye")),
    )
    read = read_sharegpt(path)
    assert read.conversations == (Conversation(0, "Be brief.", ("Hi", "Bye"), ("Hello", None)),)
    assert read.conversations[0].turns == 2
    assert (read.total, read.filtered, read.skipped_empty, read.merged) == (1, 0, 0, 0)


def test_sharegpt_user_and_assistant_are_human_and_gpt(tmp_path: Path) -> None:
    path = sharegpt(tmp_path, chat(("user", "Hi"), ("assistant", "Hello"), ("user", "More")))
    assert read_sharegpt(path).conversations[0].human == ("Hi", "More")
    assert read_sharegpt(path).conversations[0].reference == ("Hello", None)


def test_sharegpt_jsonl_variant_is_one_record_per_line(tmp_path: Path) -> None:
    path = lines(tmp_path, "data.jsonl", chat(("human", "A"), ("gpt", "a")), chat(("human", "B")))
    read = read_sharegpt(path)
    assert [c.human for c in read.conversations] == [("A",), ("B",)]
    assert [c.index for c in read.conversations] == [0, 1]


def test_sharegpt_consecutive_same_speaker_turns_are_merged_and_counted(tmp_path: Path) -> None:
    path = sharegpt(
        tmp_path,
        chat(("human", "one"), ("human", "two"), ("gpt", "a"), ("gpt", "b"), ("human", "three")),
        chat(("human", "plain"), ("gpt", "answer")),
    )
    read = read_sharegpt(path)
    assert read.conversations[0].human == ("one\n\ntwo", "three")
    assert read.conversations[0].reference == ("a\n\nb", None)
    assert read.merged == 1


def test_sharegpt_gpt_turns_before_the_first_human_turn_are_dropped_and_counted(
    tmp_path: Path,
) -> None:
    path = sharegpt(tmp_path, chat(("gpt", "How can I help?"), ("human", "Hi"), ("gpt", "Hello")))
    read = read_sharegpt(path)
    assert read.conversations == (Conversation(0, None, ("Hi",), ("Hello",)),)
    assert read.leading_gpt == 1


def test_sharegpt_record_without_a_human_turn_is_skipped_and_counted(tmp_path: Path) -> None:
    path = sharegpt(
        tmp_path, {"conversations": []}, chat(("gpt", "only an answer")), chat(("human", "Hi"))
    )
    read = read_sharegpt(path)
    assert [c.index for c in read.conversations] == [2]
    assert (read.total, read.skipped_empty, read.leading_gpt) == (3, 2, 0)
    assert read.describe() == (
        f"sharegpt {path}: 1 conversation (1.0 turns on average) of 3 records, "
        "2 without a human turn"
    )


def test_sharegpt_first_turn_only(tmp_path: Path) -> None:
    path = sharegpt(
        tmp_path, chat(("system", "S"), ("human", "Q1"), ("gpt", "A1"), ("human", "Q2"))
    )
    assert read_sharegpt(path, turns="first").conversations == (
        Conversation(0, "S", ("Q1",), ("A1",)),
    )


# --- ShareGPT: length filters ---------------------------------------------------------------

#: human turns of 40 and 8 characters (10 and 2 tokens), answers of 80 and 4 (20 and 1)
TWO_TURNS = chat(("human", "q" * 40), ("gpt", "a" * 80), ("human", "q" * 8), ("gpt", "a" * 4))


def test_sharegpt_input_length_of_all_turns_is_the_last_prompt_with_its_history() -> None:
    conversation = Conversation(0, "system text", ("q" * 40, "q" * 8), ("a" * 80, "a" * 4))
    assert conversation.input_tokens() == 10 + 20 + 2  # both human turns and the answer between
    assert conversation.output_tokens() == 20  # the longest reference


def test_sharegpt_input_filter_with_all_turns_counts_the_history(tmp_path: Path) -> None:
    path = sharegpt(tmp_path, TWO_TURNS, chat(("human", "q" * 40)))
    read = read_sharegpt(path, input_tokens=LengthFilter(max=12))
    assert [c.index for c in read.conversations] == [1]
    assert read.filtered == 1


def test_sharegpt_input_filter_with_first_turn_counts_the_first_turn(tmp_path: Path) -> None:
    path = sharegpt(tmp_path, TWO_TURNS, chat(("human", "q" * 80)))
    read = read_sharegpt(path, turns="first", input_tokens=LengthFilter(max=12))
    assert [c.index for c in read.conversations] == [0]
    assert read.filtered == 1


def test_sharegpt_output_filter_on_the_longest_reference(tmp_path: Path) -> None:
    path = sharegpt(tmp_path, TWO_TURNS, chat(("human", "Hi"), ("gpt", "a" * 8)))
    all_turns = read_sharegpt(path, output_tokens=LengthFilter(min=5))
    first = read_sharegpt(path, turns="first", output_tokens=LengthFilter(max=5))
    assert [c.index for c in all_turns.conversations] == [0]
    assert [c.index for c in first.conversations] == [1]


def test_sharegpt_missing_reference_counts_as_no_output(tmp_path: Path) -> None:
    path = sharegpt(tmp_path, chat(("human", "Hi")), chat(("human", "Hi"), ("gpt", "Hello")))
    read = read_sharegpt(path, output_tokens=LengthFilter(min=1))
    assert [c.index for c in read.conversations] == [1]


def test_sharegpt_describe_names_every_count(tmp_path: Path) -> None:
    path = sharegpt(
        tmp_path,
        TWO_TURNS,
        chat(("human", "x" * 400)),
        chat(("gpt", "hello"), ("human", "a"), ("human", "b")),
        {"conversations": []},
    )
    read = read_sharegpt(path, input_tokens=LengthFilter(max=50))
    assert read.describe() == (
        f"sharegpt {path}: 2 conversations (1.5 turns on average) of 4 records, "
        "1 filtered by length, 1 without a human turn, "
        "1 with consecutive same-speaker turns merged, 1 with leading gpt turns dropped"
    )


def test_sharegpt_nothing_left_after_the_filters_is_an_error(tmp_path: Path) -> None:
    path = sharegpt(tmp_path, chat(("human", "x" * 400)), {"conversations": []})
    assert error_of(lambda: read_sharegpt(path, input_tokens=LengthFilter(max=10))) == (
        f"{path}: no conversation left of 2 records (1 filtered by length, 1 without a human turn)"
    )


# --- ShareGPT: sampling ---------------------------------------------------------------------


def test_sharegpt_sample_is_the_same_for_the_same_seed(tmp_path: Path) -> None:
    path = sharegpt(tmp_path, *numbered(50))
    first = read_sharegpt(path, sample=10, seed=7)
    again = read_sharegpt(path, sample=10, seed=7)
    assert first.conversations == again.conversations
    assert len(first.conversations) == 10
    assert first.describe().endswith("of 50 records, sampled from 50 with seed 7")


def test_sharegpt_sample_differs_across_seeds(tmp_path: Path) -> None:
    path = sharegpt(tmp_path, *numbered(50))
    one = [c.index for c in read_sharegpt(path, sample=10, seed=1).conversations]
    two = [c.index for c in read_sharegpt(path, sample=10, seed=2).conversations]
    assert one != two


def test_sharegpt_sample_keeps_file_order(tmp_path: Path) -> None:
    path = sharegpt(tmp_path, *numbered(50))
    indices = [c.index for c in read_sharegpt(path, sample=20, seed=3).conversations]
    assert indices == sorted(indices)
    assert len(set(indices)) == 20


def test_sharegpt_sample_draws_from_what_the_filters_left(tmp_path: Path) -> None:
    path = sharegpt(tmp_path, *numbered(10), chat(("human", "x" * 400)))
    read = read_sharegpt(path, sample=10, input_tokens=LengthFilter(max=10))
    assert [c.index for c in read.conversations] == list(range(10))
    assert read.sampled_from == 10


def test_sharegpt_sample_larger_than_the_dataset_is_an_error(tmp_path: Path) -> None:
    path = sharegpt(tmp_path, *numbered(5))
    assert error_of(lambda: read_sharegpt(path, sample=6)) == (
        "sample: asked for 6 conversations, there are 5 (after the length filters)"
    )


def test_sharegpt_sample_of_zero_is_an_error(tmp_path: Path) -> None:
    path = sharegpt(tmp_path, *numbered(5))
    assert error_of(lambda: read_sharegpt(path, sample=0)) == (
        "sample: got 0 (expected an integer of 1 or more)"
    )


# --- ShareGPT: malformed records ------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "message"),
    [
        pytest.param(
            ["human", "hi"],
            'record 2: got a list (expected an object {"conversations": [...]})',
            id="record-not-object",
        ),
        pytest.param(
            {"id": "x"},
            'record 2: conversations: missing (expected a list of turns {"from": …, "value": "…"})',
            id="conversations-missing",
        ),
        pytest.param(
            {"conversations": "hello"},
            'record 2: conversations: got "hello" (expected a list of turns {"from": …, '
            '"value": "…"})',
            id="conversations-not-list",
        ),
        pytest.param(
            {"conversations": [{"from": "human", "value": "hi"}, "gpt: hello"]},
            'record 2: conversations[1]: got "gpt: hello" (expected an object {"from": …, '
            '"value": "…"})',
            id="turn-not-object",
        ),
        pytest.param(
            {"conversations": [{"value": "hi"}]},
            'record 2: conversations[0].from: missing (expected one of "human", "user", '
            '"gpt", "assistant", "chatgpt", "bing", "bard", "system")',
            id="from-missing",
        ),
        pytest.param(
            chat(("human", "a"), ("gpt", "b"), ("bot", "c")),
            'record 2: conversations[2].from: got "bot" (expected one of "human", "user", '
            '"gpt", "assistant", "chatgpt", "bing", "bard", "system")',
            id="from-unknown",
        ),
        pytest.param(
            {"conversations": [{"from": "human"}]},
            "record 2: conversations[0].value: missing (expected a string)",
            id="value-missing",
        ),
        pytest.param(
            {"conversations": [{"from": "human", "value": 42}]},
            "record 2: conversations[0].value: got 42 (expected a string)",
            id="value-not-string",
        ),
        pytest.param(
            chat(("human", "a"), ("system", "late")),
            'record 2: conversations[1].from: got "system" after a human or gpt turn '
            "(expected system turns only at the start)",
            id="system-after-human",
        ),
    ],
)
def test_sharegpt_malformed_record_names_file_record_and_field(
    tmp_path: Path, record: Any, message: str
) -> None:
    path = sharegpt(tmp_path, chat(("human", "fine")), record)
    assert error_of(lambda: read_sharegpt(path)) == f"{path}: {message}"


def test_sharegpt_jsonl_malformed_record_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "data.jsonl", json.dumps(chat(("human", "a"))) + "\n\n" + "[1]\n")
    assert error_of(lambda: read_sharegpt(path)) == (
        f'{path}:3: got a list (expected an object {{"conversations": [...]}})'
    )


def test_sharegpt_array_that_is_not_json_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "data.json", '[\n  {"conversations": []},\n  {"conversations" []}\n]')
    assert error_of(lambda: read_sharegpt(path)) == (
        f"{path}:3:20: not JSON (Expecting ':' delimiter)"
    )


def test_sharegpt_jsonl_line_that_is_not_json_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "data.jsonl", '{"conversations": []}\n{"conversations": [}\n')
    assert error_of(lambda: read_sharegpt(path)) == (
        f"{path}:2:20: not JSON (Expecting value; expected a JSON array, or one record per line)"
    )


def test_sharegpt_empty_array_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "data.json", "[]")
    assert error_of(lambda: read_sharegpt(path)) == (
        f'{path}: holds no records (expected a JSON array of {{"conversations": [...]}}, '
        "or one per line)"
    )


def test_sharegpt_unknown_turns_mode_is_an_error(tmp_path: Path) -> None:
    path = sharegpt(tmp_path, chat(("human", "a")))
    assert error_of(lambda: read_sharegpt(path, turns="last")) == (
        'turns: got "last" (expected "all" or "first")'
    )


# --- the file itself ------------------------------------------------------------------------


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    assert error_of(lambda: read_sharegpt(path)) == f"{path}: no such file"


def test_directory_is_an_error(tmp_path: Path) -> None:
    assert error_of(lambda: read_trace(tmp_path)) == f"{tmp_path}: is a directory (expected a file)"


def test_bytes_that_are_not_utf8_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(b'"fine"\n"caf\xe9"\n')
    assert error_of(lambda: read_jsonl_dataset(path)) == (
        f"{path}:2: not UTF-8 (save the file as UTF-8)"
    )


def test_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(b'\xef\xbb\xbf"hello"\n')
    assert read_jsonl_dataset(path).prompts == ("hello",)


def test_file_limit_is_256_mib() -> None:
    assert MAX_RECORD_FILE_BYTES == 256 * 1024 * 1024


# --- JSONL prompts --------------------------------------------------------------------------


def test_jsonl_reads_every_prompt_form_with_its_requested_output(tmp_path: Path) -> None:
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    path = lines(
        tmp_path,
        "p.jsonl",
        "plain text",
        {"prompt": "a prompt", "max_tokens": 50},
        {"messages": messages, "output_tokens": 7},
        messages,
    )
    read = read_jsonl_dataset(path)
    assert read.prompts == ("plain text", "a prompt", tuple(messages), tuple(messages))
    assert read.output_tokens == (None, 50, 7, None)
    assert (read.total, read.filtered) == (4, 0)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param(
            {"prompt": "p", "max_tokens": 0},
            "max_tokens: got 0 (expected an integer of 1 or more)",
            id="zero",
        ),
        pytest.param(
            {"prompt": "p", "output_tokens": "64"},
            'output_tokens: got "64" (expected an integer of 1 or more)',
            id="string",
        ),
        pytest.param(
            {"prompt": "p", "max_tokens": 12.5},
            "max_tokens: got 12.5 (expected an integer of 1 or more)",
            id="fraction",
        ),
        pytest.param(
            {"prompt": "p", "max_tokens": 5, "output_tokens": 5},
            "output_tokens: given with max_tokens (expected one of them, not both)",
            id="both",
        ),
    ],
)
def test_jsonl_bad_requested_output_names_line_and_field(
    tmp_path: Path, line: Any, message: str
) -> None:
    path = lines(tmp_path, "p.jsonl", "fine", line)
    assert error_of(lambda: read_jsonl_dataset(path)) == f"{path}:2: {message}"


def test_jsonl_malformed_prompt_gives_the_prompt_files_error(tmp_path: Path) -> None:
    path = lines(tmp_path, "p.jsonl", {"text": "no prompt key"})
    assert error_of(lambda: read_jsonl_dataset(path)) == (
        f'{path}:1: expected {{"messages": [{{"role": …, "content": …}}, …]}}, '
        '{"prompt": "…"}, a string, or a list of messages'
    )


def test_jsonl_line_that_is_not_json_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "p.jsonl", '"fine"\n{"prompt": }\n')
    assert error_of(lambda: read_jsonl_dataset(path)) == (
        f"{path}:2:12: not JSON (Expecting value)"
    )


def test_jsonl_prompt_text_joins_message_contents() -> None:
    conversation = (
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Look:"}, {"type": "image_url"}]},
    )
    assert prompt_text(conversation) == "Be brief.\nLook:"
    assert prompt_text("plain") == "plain"


def test_jsonl_input_filter_counts_what_it_drops(tmp_path: Path) -> None:
    path = lines(
        tmp_path,
        "p.jsonl",
        "x" * 40,
        [{"role": "user", "content": "x" * 20}, {"role": "assistant", "content": "y" * 20}],
        "short",
    )
    read = read_jsonl_dataset(path, input_tokens=LengthFilter(max=10))
    assert read.prompts == ("x" * 40, "short")  # 10 tokens is within; 20 + newline is 11
    assert (read.total, read.filtered) == (3, 1)
    assert read.describe() == (
        f"jsonl {path}: 2 prompts of 3 lines, 0 with a requested output length, "
        "1 filtered by length"
    )


def test_jsonl_output_filter_is_on_the_requested_length(tmp_path: Path) -> None:
    path = lines(
        tmp_path,
        "p.jsonl",
        {"prompt": "a", "max_tokens": 10},
        {"prompt": "b", "output_tokens": 100},
    )
    read = read_jsonl_dataset(path, output_tokens=LengthFilter(min=50))
    assert (read.prompts, read.output_tokens, read.filtered) == (("b",), (100,), 1)


def test_jsonl_output_filter_needs_every_line_to_request_a_length(tmp_path: Path) -> None:
    path = lines(tmp_path, "p.jsonl", {"prompt": "a", "max_tokens": 10}, "no length")
    assert error_of(lambda: read_jsonl_dataset(path, output_tokens=LengthFilter(min=5))) == (
        f'{path}:2: max_tokens: missing (expected "max_tokens" or "output_tokens" on every '
        "line when filtering by output length)"
    )


def test_jsonl_sample_is_reproducible_and_keeps_outputs_parallel(tmp_path: Path) -> None:
    path = lines(tmp_path, "p.jsonl", *({"prompt": str(i), "max_tokens": i + 1} for i in range(30)))
    one = read_jsonl_dataset(path, sample=5, seed=11)
    assert one == read_jsonl_dataset(path, sample=5, seed=11)
    assert one.prompts != read_jsonl_dataset(path, sample=5, seed=12).prompts
    assert one.output_tokens == tuple(int(str(p)) + 1 for p in one.prompts)


def test_jsonl_nothing_left_after_the_filters_is_an_error(tmp_path: Path) -> None:
    path = lines(tmp_path, "p.jsonl", "x" * 100, "y" * 100)
    assert error_of(lambda: read_jsonl_dataset(path, input_tokens=LengthFilter(max=5))) == (
        f"{path}: no prompt left of 2 lines (2 filtered by length)"
    )


def test_jsonl_blank_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "p.jsonl", "\n  \n")
    assert error_of(lambda: read_jsonl_dataset(path)) == (
        f"{path}: holds no prompts (expected one JSON object per line)"
    )


# --- traces ---------------------------------------------------------------------------------


def test_mooncake_trace_times_are_milliseconds_from_the_first_request(tmp_path: Path) -> None:
    path = lines(
        tmp_path,
        "t.jsonl",
        {"timestamp": 1000, "input_length": 600, "output_length": 10, "hash_ids": [0, 1]},
        {"timestamp": 3500, "input_length": 100, "output_length": 20},
    )
    trace = read_trace(path)
    assert trace.entries == (
        TraceEntry(0.0, 600, 10, (0, 1)),
        TraceEntry(2.5, 100, 20, ()),
    )
    assert (trace.block_tokens, trace.unsorted) == (512, 0)


def test_timestamp_s_is_seconds(tmp_path: Path) -> None:
    path = lines(
        tmp_path,
        "t.jsonl",
        {"timestamp_s": 10, "input_length": 5, "output_length": 5},
        {"timestamp_s": 10.25, "input_length": 5, "output_length": 5},
    )
    assert read_trace(path).times() == (0.0, 0.25)


def test_azure_trace_reads_iso_times_and_its_token_fields(tmp_path: Path) -> None:
    path = lines(
        tmp_path,
        "azure.jsonl",
        {"TIMESTAMP": "2023-11-16 18:15:46.6805900", "ContextTokens": 4808, "GeneratedTokens": 10},
        {"TIMESTAMP": "2023-11-16 18:15:47.1805900", "ContextTokens": 3180, "GeneratedTokens": 8},
        {"TIMESTAMP": "2023-11-16 18:16:46.6805900", "ContextTokens": 110, "GeneratedTokens": 27},
    )
    trace = read_trace(path)
    assert trace.entries == (
        TraceEntry(0.0, 4808, 10),
        TraceEntry(0.5, 3180, 8),
        TraceEntry(60.0, 110, 27),
    )


def test_azure_time_zones_are_converted_to_utc(tmp_path: Path) -> None:
    path = lines(
        tmp_path,
        "azure.jsonl",
        {"TIMESTAMP": "2024-05-10 01:00:00+01:00", "ContextTokens": 9, "GeneratedTokens": 9},
        {"TIMESTAMP": "2024-05-10 00:00:03", "ContextTokens": 9, "GeneratedTokens": 9},
    )
    assert read_trace(path).times() == (0.0, 3.0)


def test_unsorted_trace_is_sorted_stably_and_counted(tmp_path: Path) -> None:
    path = lines(
        tmp_path,
        "t.jsonl",
        *(
            {"timestamp": t, "input_length": n, "output_length": 1}
            for t, n in ((2000, 1), (1000, 2), (2000, 3), (0, 4))
        ),
    )
    trace = read_trace(path)
    assert [e.input_length for e in trace.entries] == [4, 2, 1, 3]
    assert trace.times() == (0.0, 1.0, 2.0, 2.0)
    assert trace.unsorted == 2


def test_limit_keeps_the_earliest_requests(tmp_path: Path) -> None:
    path = lines(
        tmp_path,
        "t.jsonl",
        *({"timestamp": t, "input_length": 1, "output_length": 1} for t in (3000, 1000, 2000)),
    )
    assert read_trace(path, limit=2).times() == (0.0, 1.0)


def test_speed_divides_times_and_duration(tmp_path: Path) -> None:
    path = lines(
        tmp_path,
        "t.jsonl",
        *({"timestamp": t, "input_length": 1, "output_length": 1} for t in (0, 100_000, 200_000)),
    )
    trace = read_trace(path)
    assert trace.times(speed=2.0) == (0.0, 50.0, 100.0)
    assert (trace.duration_s(), trace.duration_s(speed=4.0)) == (200.0, 50.0)
    assert trace.describe() == f"trace {path}: 3 requests over 3m20s (0.015/s)"
    assert trace.describe(speed=2.0) == f"trace {path}: 3 requests over 1m40s (0.03/s), ×2 speed"


def test_describe_gives_rate_hash_blocks_and_disorder(tmp_path: Path) -> None:
    path = lines(
        tmp_path,
        "t.jsonl",
        {"timestamp": 10_000, "input_length": 9, "output_length": 9, "hash_ids": [1]},
        *({"timestamp": t, "input_length": 9, "output_length": 9} for t in range(0, 10_000, 250)),
    )
    assert read_trace(path, block_tokens=16).describe() == (
        f"trace {path}: 41 requests over 10.0s (4.1/s), hash_ids in 16-token blocks, "
        "1 line out of time order (sorted)"
    )


def test_speed_of_zero_is_an_error(tmp_path: Path) -> None:
    path = lines(tmp_path, "t.jsonl", {"timestamp": 0, "input_length": 1, "output_length": 1})
    assert error_of(lambda: read_trace(path).times(speed=0)) == (
        "speed: got 0 (expected a number above 0)"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param(
            {"input_length": 5, "output_length": 5},
            'timestamp: missing (expected "timestamp" in milliseconds, "timestamp_s" in '
            'seconds, or "TIMESTAMP" as an ISO date-time)',
            id="timestamp-missing",
        ),
        pytest.param(
            {"timestamp": -1, "input_length": 5, "output_length": 5},
            "timestamp: got -1 (expected a number of milliseconds, 0 or more)",
            id="timestamp-negative",
        ),
        pytest.param(
            {"timestamp": "12:00", "input_length": 5, "output_length": 5},
            'timestamp: got "12:00" (expected a number of milliseconds)',
            id="timestamp-not-number",
        ),
        pytest.param(
            {"timestamp": True, "input_length": 5, "output_length": 5},
            "timestamp: got true (expected a number of milliseconds)",
            id="timestamp-bool",
        ),
        pytest.param(
            {"timestamp": float("nan"), "input_length": 5, "output_length": 5},
            "timestamp: got NaN (expected a number of milliseconds, 0 or more)",
            id="timestamp-nan",
        ),
        pytest.param(
            {"timestamp": 5, "timestamp_s": 5, "input_length": 5, "output_length": 5},
            "timestamp_s: given with timestamp (expected one time key per line)",
            id="two-time-keys",
        ),
        pytest.param(
            {"timestamp_s": 5, "input_length": 5, "output_length": 5},
            'timestamp_s: the first request gives "timestamp" (expected one time key in the '
            "whole file)",
            id="time-key-changes",
        ),
        pytest.param(
            {"timestamp": 5, "output_length": 5},
            "input_length: missing (expected an integer of 1 or more)",
            id="input-missing",
        ),
        pytest.param(
            {"timestamp": 5, "input_length": 0, "output_length": 5},
            "input_length: got 0 (expected an integer of 1 or more)",
            id="input-zero",
        ),
        pytest.param(
            {"timestamp": 5, "input_length": 5, "output_length": 0},
            "output_length: got 0 (expected an integer of 1 or more)",
            id="output-zero",
        ),
        pytest.param(
            {"timestamp": 5, "input_length": 5, "output_length": "9"},
            'output_length: got "9" (expected an integer of 1 or more)',
            id="output-string",
        ),
        pytest.param(
            {"timestamp": 5, "input_length": 5, "output_length": 5, "hash_ids": 7},
            "hash_ids: got 7 (expected a list of integers)",
            id="hash-ids-not-list",
        ),
        pytest.param(
            {"timestamp": 5, "input_length": 5, "output_length": 5, "hash_ids": [1, "b"]},
            'hash_ids[1]: got "b" (expected an integer)',
            id="hash-id-not-integer",
        ),
        pytest.param(
            [5, 5, 5],
            'got a list (expected an object {"timestamp": …, "input_length": …, '
            '"output_length": …})',
            id="not-object",
        ),
    ],
)
def test_malformed_trace_line_names_file_line_and_field(
    tmp_path: Path, line: Any, message: str
) -> None:
    path = lines(tmp_path, "t.jsonl", {"timestamp": 0, "input_length": 1, "output_length": 1}, line)
    assert error_of(lambda: read_trace(path)) == f"{path}:2: {message}"


def test_azure_time_that_is_not_a_date_names_its_line(tmp_path: Path) -> None:
    path = lines(
        tmp_path, "t.jsonl", {"TIMESTAMP": "yesterday", "ContextTokens": 1, "GeneratedTokens": 1}
    )
    assert error_of(lambda: read_trace(path)) == (
        f'{path}:1: TIMESTAMP: got "yesterday" (expected an ISO date-time such as '
        '"2023-11-16 18:15:46.6805900")'
    )


def test_azure_line_names_its_own_length_fields(tmp_path: Path) -> None:
    path = lines(tmp_path, "t.jsonl", {"TIMESTAMP": "2023-11-16 18:15:46", "ContextTokens": 1})
    assert error_of(lambda: read_trace(path)) == (
        f"{path}:1: GeneratedTokens: missing (expected an integer of 1 or more)"
    )


def test_trace_line_that_is_not_json_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", '{"timestamp": 0, "input_length": 1, "output_length": 1}\n{')
    assert error_of(lambda: read_trace(path)) == (
        f"{path}:2:2: not JSON (Expecting property name enclosed in double quotes)"
    )


def test_empty_trace_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", "")
    assert error_of(lambda: read_trace(path)) == (
        f'{path}: holds no requests (expected one JSON object per line, {{"timestamp": …, '
        '"input_length": …, "output_length": …})'
    )


def test_block_tokens_below_one_is_an_error(tmp_path: Path) -> None:
    path = lines(tmp_path, "t.jsonl", {"timestamp": 0, "input_length": 1, "output_length": 1})
    assert error_of(lambda: read_trace(path, block_tokens=0)) == (
        "block_tokens: got 0 (expected an integer of 1 or more)"
    )


def test_limit_below_one_is_an_error(tmp_path: Path) -> None:
    path = lines(tmp_path, "t.jsonl", {"timestamp": 0, "input_length": 1, "output_length": 1})
    assert error_of(lambda: read_trace(path, limit=0)) == (
        "limit: got 0 (expected an integer of 1 or more)"
    )


# --- the example files ----------------------------------------------------------------------


def test_example_conversations_read_with_their_turns_and_systems() -> None:
    read = read_sharegpt(EXAMPLES / "conversations.sharegpt.json")
    assert [c.turns for c in read.conversations] == [2, 3, 4, 5, 2, 3, 4, 3]
    assert [c.system is not None for c in read.conversations] == [
        True, False, False, True, False, False, True, False,
    ]  # fmt: skip
    assert all(None not in c.reference for c in read.conversations)
    assert (read.total, read.filtered, read.skipped_empty, read.merged) == (8, 0, 0, 0)


def test_example_prompts_read_with_their_requested_outputs() -> None:
    read = read_jsonl_dataset(EXAMPLES / "prompts.jsonl")
    assert len(read.prompts) == 12
    assert read.output_tokens == (96, None, None, 128, 160, 32, None, None, 64, 80, None, 200)
    assert sum(isinstance(p, tuple) for p in read.prompts) == 6


def test_example_trace_is_sixty_requests_over_thirty_seconds_sharing_blocks() -> None:
    trace = read_trace(EXAMPLES / "trace.jsonl")
    assert len(trace.entries) == 60
    assert trace.duration_s() == 29.5
    assert trace.unsorted == 0
    assert all(100 <= e.input_length <= 1500 for e in trace.entries)
    assert all(16 <= e.output_length <= 128 for e in trace.entries)
    assert all(len(e.hash_ids) == -(-e.input_length // 512) for e in trace.entries)
    first_blocks = [e.hash_ids[0] for e in trace.entries]
    assert {block for block in first_blocks if first_blocks.count(block) > 1} == {0, 1, 3}


def test_sample_trace_script_writes_the_committed_file(tmp_path: Path) -> None:
    out = tmp_path / "trace.jsonl"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make-sample-trace"), str(out)],
        check=True,
        timeout=60,
    )
    assert out.read_bytes() == (EXAMPLES / "trace.jsonl").read_bytes()

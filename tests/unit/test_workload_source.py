"""What a `Workload` sends (harness.workload.source): items are a pure function of their key,
shared prefixes repeat within a group only, trace entries that share a block share its text,
a replayed conversation carries the answers it was given, and `force_output` sets the body.
"""

from __future__ import annotations

import pytest

from harness.workload.calibration import Calibration
from harness.workload.lengths import LengthDist
from harness.workload.sharegpt import Conversation
from harness.workload.source import Session, SharedPrefix, WorkItem, Workload
from harness.workload.text import SYNTHETIC_WORDS
from harness.workload.trace import Trace, TraceEntry

SYNTHETIC = Workload(
    input_tokens=LengthDist(dist="normal", mean=300, stddev=60, min=120, max=480),
    output_tokens=LengthDist(dist="uniform", min=8, max=24),
    seed=5,
)


# --- keys --------------------------------------------------------------------------------


def test_the_same_key_gives_the_same_item_in_any_workload_built_alike() -> None:
    twin = Workload(
        input_tokens=LengthDist(dist="normal", mean=300, stddev=60, min=120, max=480),
        output_tokens=LengthDist(dist="uniform", min=8, max=24),
        seed=5,
    )
    for key in (0, 1, 17, 2**47 + 3):
        assert SYNTHETIC.item_at(key) == SYNTHETIC.item_at(key) == twin.item_at(key)


def test_different_keys_and_seeds_give_different_items() -> None:
    items = [SYNTHETIC.item_at(key) for key in range(20)]
    assert len({item.prompt for item in items}) == 20
    assert len({item.max_tokens for item in items}) > 1
    other_seed = Workload(input_tokens=SYNTHETIC.input_tokens, seed=6)
    assert other_seed.item_at(0).prompt != SYNTHETIC.item_at(0).prompt


def test_a_synthetic_item_is_words_of_the_vocabulary_sized_by_the_calibration() -> None:
    calibration = Calibration(tokens_per_word=1.25, overhead_tokens=10.0, source="server")
    workload = Workload(input_tokens=LengthDist.fixed(260), seed=1).calibrated(calibration)
    item = workload.item_at(3)
    assert isinstance(item.prompt, str)
    words = item.prompt.split(" ")
    assert len(words) == 200  # (260 − 10) / 1.25
    assert set(words) <= set(SYNTHETIC_WORDS)
    assert (item.requested_input_tokens, item.max_tokens, item.prefix_group) == (260, None, None)


def test_a_pool_repeats_its_prompts() -> None:
    workload = Workload(input_tokens=LengthDist.fixed(50), pool=3, seed=2)
    assert workload.item_at(1) == workload.item_at(4) == workload.item_at(7)
    assert len({workload.item_at(key).prompt for key in range(30)}) == 3


# --- shared prefix -----------------------------------------------------------------------


def test_a_shared_prefix_repeats_exactly_within_its_group_and_differs_across_groups() -> None:
    workload = Workload(
        input_tokens=LengthDist.fixed(900), shared_prefix=SharedPrefix(tokens=600, groups=3)
    ).ready()
    prefixes: dict[int, set[str]] = {}
    rests = set()
    for key in range(60):
        item = workload.item_at(key)
        assert isinstance(item.prompt, str)
        assert item.prefix_group is not None
        prefix, rest = item.prompt.split("\n\n")
        prefixes.setdefault(item.prefix_group, set()).add(prefix)
        rests.add(rest)
        assert len(rest.split(" ")) == 300  # 900 − 600 at one token per word
    assert sorted(prefixes) == [0, 1, 2]
    assert all(len(texts) == 1 for texts in prefixes.values())
    texts = [next(iter(prefixes[g])) for g in range(3)]
    assert len(set(texts)) == 3
    for g, text in enumerate(texts):
        assert text.startswith(f"Reference document {g + 1}: ")
        assert len(text.split(" ")) == 600
    assert len(rests) == 60  # only the prefix is shared


def test_a_shared_prefix_goes_into_a_conversations_system_message() -> None:
    conversation = Conversation(index=0, system="Be brief.", human=("hi",), reference=(None,))
    workload = Workload(
        conversations=(conversation,), shared_prefix=SharedPrefix(tokens=20, groups=2)
    ).ready()
    session = workload.session_at(4)
    first = session.next_item().prompt
    assert isinstance(first, tuple)
    assert first[0]["role"] == "system"
    assert session.prefix_group in (0, 1)
    content = first[0]["content"]
    assert content.startswith(f"Reference document {session.prefix_group + 1}: ")
    assert content.endswith("\n\nBe brief.")
    assert content == f"{session.prefix}\n\nBe brief."


# --- trace -------------------------------------------------------------------------------


def test_trace_entries_that_share_their_first_block_share_its_words() -> None:
    block = 16
    trace = Trace(
        file="t.jsonl",
        entries=(
            TraceEntry(0.0, 40, 5, (7, 8, 9)),
            TraceEntry(0.5, 30, 6, (7, 10)),
            TraceEntry(1.0, 40, 7, (11, 12, 13)),
        ),
        block_tokens=block,
        unsorted=0,
    )
    workload = Workload(trace=trace)
    words = [str(workload.item_at(i).prompt).split(" ") for i in range(3)]
    assert [len(w) for w in words] == [40, 30, 40]
    assert words[0][:block] == words[1][:block]  # block 7
    assert words[0][block : 2 * block] != words[1][block : 2 * block]  # blocks 8 and 10
    assert words[2][:block] != words[0][:block]
    item = workload.item_at(1)
    assert (item.max_tokens, item.requested_input_tokens) == (6, 30)
    assert workload.item_at(4) == workload.item_at(1)  # the key wraps around the entries


# --- conversations -----------------------------------------------------------------------


def test_a_sessions_history_holds_the_answers_it_was_given() -> None:
    conversation = Conversation(
        index=0,
        system=None,
        human=("first question", "second question", "third question"),
        reference=("dataset answer one", "dataset answer two!", None),
    )
    session = Workload(conversations=(conversation,)).session_at(0)
    assert session.output_tokens == (5, 5, None)  # ceil(characters / 4); None: no reference
    prompts = []
    for answer in ("SERVER ONE", "SERVER TWO", "SERVER THREE"):
        assert not session.done
        item = session.next_item()
        prompts.append(item.prompt)
        session.answered(answer)
    assert session.done
    assert prompts[2] == (
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "SERVER ONE"},
        {"role": "user", "content": "second question"},
        {"role": "assistant", "content": "SERVER TWO"},
        {"role": "user", "content": "third question"},
    )
    assert prompts[0] == ({"role": "user", "content": "first question"},)
    assert session.history[-1] == {"role": "assistant", "content": "SERVER THREE"}
    assert not any("dataset" in str(m["content"]) for m in session.history)


def test_a_sessions_earlier_prompts_are_not_changed_by_later_turns() -> None:
    conversation = Conversation(index=0, system="sys", human=("a", "b"), reference=(None, None))
    session = Session(conversation, (None, None))
    first = session.next_item()
    session.answered("x")
    session.next_item()
    assert first.prompt == ({"role": "system", "content": "sys"}, {"role": "user", "content": "a"})


def test_the_workloads_output_tokens_override_the_datasets() -> None:
    conversation = Conversation(index=0, system=None, human=("a", "b"), reference=("xy", None))
    workload = Workload(conversations=(conversation,), output_tokens=LengthDist.fixed(9))
    assert workload.session_at(0).output_tokens == (9, 9)


# --- request body ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("force_output", "params"),
    [
        ("none", {"max_tokens": 12}),
        ("ignore_eos", {"max_tokens": 12, "ignore_eos": True}),
        ("min_tokens", {"max_tokens": 12, "min_tokens": 12}),
    ],
)
def test_body_params_ask_for_the_output_length_as_force_output_says(
    force_output: str, params: dict[str, object]
) -> None:
    workload = Workload(input_tokens=LengthDist.fixed(10), force_output=force_output)
    assert workload.body_params(WorkItem("hello", max_tokens=12)) == params
    assert workload.body_params(WorkItem("hello")) == {}  # the run's own max_tokens

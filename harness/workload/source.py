"""What a user sends next: a `Workload` turns the scenario's sources into `WorkItem`s.

Sources (docs/workloads.md):

- **prompts**: inline prompts or a JSONL file (today's forms), each optionally with its own
  requested output length;
- **synthetic**: text of an input length drawn from a `LengthDist`, asking for an output
  length drawn from another;
- **sharegpt**: conversations in the ShareGPT format; `turns: first` sends each first human
  turn, `turns: all` replays each conversation turn by turn (`Session`), every human turn
  carrying the history so far with *the server's own answers* in it;
- **trace**: one request per trace entry, of its input and output lengths, at its time.

Any source but a trace may add a **shared prefix**: one of G fixed texts of N tokens before
each prompt (a system prompt, a document), to measure prefix-cache reuse.

Token lengths are made without a tokenizer: a `Calibration` (words → tokens, measured against
the server's own `usage.prompt_tokens` in preflight) sizes the text. Items are a pure function
of a key (`item_at`), so paired requests and reruns with one seed send the same text.

Pure: standard library and harness modules only.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from harness.prompts import Prompt
from harness.workload.calibration import Calibration
from harness.workload.lengths import LengthDist
from harness.workload.sharegpt import Conversation, estimate_tokens
from harness.workload.text import prefix_texts, synthetic_text, words_for_tokens
from harness.workload.trace import Trace

#: how a run asks the server to produce the requested output length (docs/workloads.md)
FORCE_OUTPUT = ("none", "ignore_eos", "min_tokens")
#: trace blocks kept as text (a trace shares its blocks among nearby requests)
BLOCK_CACHE = 4096


@dataclass(frozen=True, slots=True)
class SharedPrefix:
    """`shared_prefix: {tokens, groups}`: one of `groups` fixed texts of `tokens` tokens
    before every prompt."""

    tokens: int
    groups: int
    seed: int = 0


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One request's content and the lengths it asks for."""

    prompt: Prompt
    #: the output length asked for (`max_tokens`); None: the run's own `max_tokens`
    max_tokens: int | None = None
    #: the input length asked for, in tokens as the server counts them; None: not asked
    requested_input_tokens: int | None = None
    #: the shared prefix's group, None without a shared prefix
    prefix_group: int | None = None


@dataclass(slots=True)
class Session:
    """A multi-turn conversation being replayed: its history holds the server's answers."""

    conversation: Conversation
    #: requested output lengths per turn (None: the run's max_tokens)
    output_tokens: tuple[int | None, ...]
    prefix_group: int | None = None
    prefix: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    turn: int = 0

    @property
    def done(self) -> bool:
        return self.turn >= self.conversation.turns

    def next_item(self) -> WorkItem:
        """The next human turn, with the history so far (call `answered` after it)."""
        conversation = self.conversation
        if not self.history:
            system = conversation.system
            if self.prefix:
                system = self.prefix if system is None else f"{self.prefix}\n\n{system}"
            if system is not None:
                self.history.append({"role": "system", "content": system})
        self.history.append({"role": "user", "content": conversation.human[self.turn]})
        self.turn += 1
        return WorkItem(
            prompt=tuple(dict(m) for m in self.history),
            max_tokens=self.output_tokens[self.turn - 1],
            prefix_group=self.prefix_group,
        )

    def answered(self, text: str) -> None:
        """The server's answer to the last turn: it goes into the history as is."""
        self.history.append({"role": "assistant", "content": text})


@dataclass(frozen=True, slots=True)
class Workload:
    """The run's sources of requests; see the module docstring. Build with one source."""

    #: `prompts`/`sharegpt turns: first`: the prompts and their own output lengths
    prompts: tuple[Prompt, ...] = ()
    prompt_output_tokens: tuple[int | None, ...] = ()
    #: `sharegpt turns: all`
    conversations: tuple[Conversation, ...] = ()
    #: synthetic prompts: the input length (None: not synthetic)
    input_tokens: LengthDist | None = None
    #: synthetic prompts: this many distinct ones, drawn in turn (None: a new one each time)
    pool: int | None = None
    #: the requested output length of every request (overrides the sources' own)
    output_tokens: LengthDist | None = None
    trace: Trace | None = None
    trace_speed: float = 1.0
    shared_prefix: SharedPrefix | None = None
    #: seconds a person takes between a conversation's turns (after the answer)
    think_time_s: float = 0.0
    force_output: str = "none"
    seed: int = 0
    calibration: Calibration = field(default_factory=Calibration)
    #: one line saying what is sent (the effective settings and the reports show it)
    description: str = ""
    _prefixes: tuple[str, ...] = ()
    _blocks: OrderedDict[int, str] = field(default_factory=OrderedDict, compare=False)

    # ------------------------------------------------------------------ what it is

    @property
    def multi_turn(self) -> bool:
        return bool(self.conversations)

    @property
    def needs_calibration(self) -> bool:
        """Whether lengths in tokens are made from text here (synthetic, trace, prefix)."""
        return (
            self.input_tokens is not None
            or self.trace is not None
            or self.shared_prefix is not None
        )

    def calibrated(self, calibration: Calibration) -> Workload:
        """This workload with its texts sized by `calibration`."""
        prefixes: tuple[str, ...] = ()
        if self.shared_prefix is not None:
            p = self.shared_prefix
            prefixes = prefix_texts(p.tokens, p.groups, calibration, p.seed)
        return replace(self, calibration=calibration, _prefixes=prefixes, _blocks=OrderedDict())

    def ready(self) -> Workload:
        """Itself, with prefixes sized by the assumed calibration if it was never calibrated."""
        if self.shared_prefix is not None and not self._prefixes:
            return self.calibrated(self.calibration)
        return self

    # ------------------------------------------------------------------ single requests

    def item_at(self, key: int) -> WorkItem:
        """The request for `key` (a random draw, a pair, a trace entry's index): the same
        key gives the same request."""
        if self.trace is not None:
            return self._trace_item(key % len(self.trace.entries))
        if self.pool is not None:
            key %= self.pool
        rng = random.Random(self.seed * 1_000_003 + key)
        requested_input: int | None = None
        max_tokens: int | None = None
        if self.input_tokens is not None:
            requested_input = self.input_tokens.sample(rng)
            prefix_tokens = self.shared_prefix.tokens if self.shared_prefix else 0
            words = words_for_tokens(max(requested_input - prefix_tokens, 1), self.calibration)
            prompt: Prompt = synthetic_text(words, rng)
        elif self.prompts:
            index = rng.randrange(len(self.prompts))
            prompt = self.prompts[index]
            if self.prompt_output_tokens:
                max_tokens = self.prompt_output_tokens[index]
        else:
            raise ValueError("this workload replays conversations: use session_at()")
        if self.output_tokens is not None:
            max_tokens = self.output_tokens.sample(rng)
        group: int | None = None
        if self.shared_prefix is not None:
            group = rng.randrange(self.shared_prefix.groups)
            prompt = _with_prefix(self._prefixes[group], prompt)
        return WorkItem(prompt, max_tokens, requested_input, group)

    def _trace_item(self, index: int) -> WorkItem:
        trace = self.trace
        assert trace is not None
        entry = trace.entries[index]
        words = words_for_tokens(entry.input_length, self.calibration)
        rng = random.Random(self.seed * 1_000_003 + index)
        if not entry.hash_ids:
            text = synthetic_text(words, rng)
        else:
            per_block = max(round(trace.block_tokens / self.calibration.tokens_per_word), 1)
            parts: list[str] = []
            left = words
            for hash_id in entry.hash_ids:
                if left <= 0:
                    break
                block = self._block(hash_id, per_block).split(" ")
                parts.extend(block[:left])
                left -= len(block[:left])
            if left > 0:  # the trace's blocks cover fewer tokens than its input length
                parts.extend(synthetic_text(left, rng).split(" "))
            text = " ".join(parts)
        max_tokens = entry.output_length
        if self.output_tokens is not None:
            max_tokens = self.output_tokens.sample(rng)
        return WorkItem(text, max_tokens, entry.input_length)

    def _block(self, hash_id: int, words: int) -> str:
        """The text of a trace's shared block: the same id, the same words."""
        blocks = self._blocks
        text = blocks.get(hash_id)
        if text is None:
            text = synthetic_text(words, random.Random(f"block {hash_id}"))
            blocks[hash_id] = text
            if len(blocks) > BLOCK_CACHE:
                blocks.popitem(last=False)
        else:
            blocks.move_to_end(hash_id)
        return text

    # ------------------------------------------------------------------ conversations

    def session_at(self, key: int) -> Session:
        """A conversation to replay turn by turn, picked by `key`."""
        rng = random.Random(self.seed * 1_000_003 + key)
        conversation = self.conversations[rng.randrange(len(self.conversations))]
        outputs: list[int | None] = []
        for reference in conversation.reference:
            if self.output_tokens is not None:
                outputs.append(self.output_tokens.sample(rng))
            elif reference:
                outputs.append(estimate_tokens(reference))
            else:
                outputs.append(None)
        group: int | None = None
        prefix = ""
        if self.shared_prefix is not None:
            group = rng.randrange(self.shared_prefix.groups)
            prefix = self._prefixes[group]
        return Session(conversation, tuple(outputs), group, prefix)

    # ------------------------------------------------------------------ request body

    def body_params(self, item: WorkItem) -> dict[str, Any]:
        """The request keys this item sets: its `max_tokens`, and what asks the server to
        produce exactly that many (`force_output`)."""
        if item.max_tokens is None:
            return {}
        params: dict[str, Any] = {"max_tokens": item.max_tokens}
        if self.force_output == "ignore_eos":
            params["ignore_eos"] = True
        elif self.force_output == "min_tokens":
            params["min_tokens"] = item.max_tokens
        return params


def _with_prefix(prefix: str, prompt: Prompt) -> Prompt:
    """`prompt` after the shared prefix: a text's start, or the start of the system message
    (one is added when there is none: chat templates want one system message, first)."""
    if isinstance(prompt, str):
        return f"{prefix}\n\n{prompt}"
    messages: Sequence[Mapping[str, Any]] = prompt
    if messages and messages[0].get("role") == "system":
        first = dict(messages[0])
        first["content"] = f"{prefix}\n\n{first.get('content', '')}"
        return (first, *messages[1:])
    return ({"role": "system", "content": prefix}, *messages)

"""The ShareGPT dataset format: multi-turn conversations read into `Conversation`s, with length
filters and a seeded sample; also the token estimate and the length filter every reader uses.

A ShareGPT file is a JSON array of records ``{"id"?: …, "conversations": [{"from": "human",
"value": "…"}, {"from": "gpt", "value": "…"}, …]}``, or (when the file does not start with
``[``) the same records one per line (JSONL). ``from`` is ``human`` (or ``user``), ``gpt`` (or
``assistant``; ``chatgpt``, ``bing`` and ``bard``, which ShareGPT dumps hold, are read as
``gpt`` too) or ``system``.

What a record becomes, explicitly:

- a record that is not an object, has no ``conversations`` list, or holds a turn that is not an
  object, has no string ``value`` or an unknown ``from`` (or a ``system`` turn after the first
  turns): a `ConfigError` naming the file, the record (1-based; its line in the JSONL form)
  and the field;
- consecutive turns of the same speaker (ShareGPT has them): merged into one, joined by a blank
  line, and the record counted in `DatasetRead.merged`;
- ``gpt`` turns before the first ``human`` turn (a conversation the model opened): dropped, and
  the record counted in `DatasetRead.leading_gpt`;
- no ``human`` turn at all (ShareGPT really has records with an empty ``conversations`` list
  or only answers): no conversation, counted in `DatasetRead.skipped_empty`; not an error.

Token counts are estimates (`estimate_tokens`: about 4 characters per token); no tokenizer is
downloaded. Pure: standard library and the pure harness modules only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.workload.records import counted, read_record_file, sample_indices, shown

#: the ways a `turns` argument may say which turns of a conversation are sent
TURN_MODES = ("all", "first")

#: each accepted ``from`` value and the speaker it is read as
SPEAKERS = {
    "human": "human",
    "user": "human",
    "gpt": "gpt",
    "assistant": "gpt",
    "chatgpt": "gpt",
    "bing": "gpt",
    "bard": "gpt",
    "system": "system",
}
_EXPECTED_FROM = "expected one of " + ", ".join(f'"{name}"' for name in SPEAKERS)
_EXPECTED_TURN = 'expected an object {"from": …, "value": "…"}'
_MERGE_JOINER = "\n\n"


def estimate_tokens(text: str) -> int:
    """An estimate of `text`'s length in tokens: ceil(characters / 4), 0 for empty text.

    The common rule of thumb of about 4 characters per token for English with BPE tokenizers;
    an estimate (no tokenizer is downloaded), good for selecting records by length, never a
    figure the harness reports as served tokens.
    """
    return math.ceil(len(text) / 4)


@dataclass(frozen=True, slots=True)
class LengthFilter:
    """Bounds on an estimated token length, both inclusive; None: no bound on that side."""

    min: int | None = None
    max: int | None = None

    def __post_init__(self) -> None:
        for name, bound in (("min", self.min), ("max", self.max)):
            if bound is not None and (isinstance(bound, bool) or bound < 0):
                raise ConfigError(
                    f"length filter: {name}: got {shown(bound)} (expected an integer of 0 or more)"
                )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ConfigError(
                f"length filter: min {self.min:,} is above max {self.max:,} (expected min ≤ max)"
            )

    def admits(self, n: int) -> bool:
        """Whether a length of `n` tokens is within the bounds."""
        return (self.min is None or n >= self.min) and (self.max is None or n <= self.max)


@dataclass(frozen=True, slots=True)
class Conversation:
    """One conversation of the dataset: the human turns to send, in order, and the dataset's
    own answer after each (its reference, None when the conversation ends on a human turn)."""

    #: 0-based index of the record in the file (records without a human turn included)
    index: int
    #: a leading system turn's text, if any
    system: str | None
    #: the human turns, in order (at least 1)
    human: tuple[str, ...]
    #: the dataset's gpt answer after each human turn (None if absent); as long as `human`
    reference: tuple[str | None, ...]

    @property
    def turns(self) -> int:
        """How many human turns (requests) the conversation sends."""
        return len(self.human)

    def input_tokens(self) -> int:
        """The estimated length of the longest prompt it sends: the sum of `estimate_tokens`
        over every human turn and every reference before the last human turn (the history
        the last request carries; the system turn is not counted)."""
        history = sum(estimate_tokens(text or "") for text in self.reference[:-1])
        return history + sum(estimate_tokens(text) for text in self.human)

    def output_tokens(self) -> int:
        """The estimated length of its longest reference answer (0 when none has one)."""
        return max(estimate_tokens(text or "") for text in self.reference)


@dataclass(frozen=True, slots=True)
class DatasetRead:
    """The conversations read from a ShareGPT file, and what became of the other records."""

    file: str
    conversations: tuple[Conversation, ...]
    #: records in the file
    total: int
    #: records dropped by the length filters
    filtered: int
    #: records without a human turn (no conversation to send)
    skipped_empty: int
    #: conversations (before the filters) in which consecutive turns of the same speaker
    #: were merged
    merged: int
    #: conversations (before the filters) whose gpt turns before the first human turn were
    #: dropped
    leading_gpt: int = 0
    #: how many conversations the sample was drawn from; None when not sampled
    sampled_from: int | None = None
    seed: int = 0

    def describe(self) -> str:
        """One line: ``sharegpt data.json: 120 conversations (3.0 turns on average) of 136
        records, 14 filtered by length, 2 without a human turn``."""
        turns = sum(c.turns for c in self.conversations) / len(self.conversations)
        parts = [
            f"sharegpt {self.file}: {counted(len(self.conversations), 'conversation')} "
            f"({turns:.1f} turns on average) of {counted(self.total, 'record')}"
        ]
        if self.sampled_from is not None:
            parts.append(f"sampled from {self.sampled_from:,} with seed {self.seed}")
        if self.filtered:
            parts.append(f"{self.filtered:,} filtered by length")
        if self.skipped_empty:
            parts.append(f"{self.skipped_empty:,} without a human turn")
        if self.merged:
            parts.append(f"{self.merged:,} with consecutive same-speaker turns merged")
        if self.leading_gpt:
            parts.append(f"{self.leading_gpt:,} with leading gpt turns dropped")
        return ", ".join(parts)


def read_sharegpt(
    file: Path,
    *,
    turns: str = "all",
    input_tokens: LengthFilter | None = None,
    output_tokens: LengthFilter | None = None,
    sample: int | None = None,
    seed: int = 0,
) -> DatasetRead:
    """The conversations of a ShareGPT file (JSON array, or JSONL), filtered and sampled.

    - `turns`: ``"all"`` sends every human turn; ``"first"`` truncates each conversation to
      its first human turn (and that turn's reference).
    - `input_tokens` admits a conversation by `Conversation.input_tokens()` and
      `output_tokens` by `Conversation.output_tokens()`, both taken after the `turns`
      truncation: with ``"first"``, the first human turn and its reference; with ``"all"``, the
      longest prompt sent (all human turns and the references between them) and the longest
      reference. The records they drop are counted in `DatasetRead.filtered`.
    - `sample`: this many of the conversations left, drawn by `random.Random(seed)` without
      replacement, in file order; more than are left is a `ConfigError` saying how many.

    Every malformed record is a one-line `ConfigError` naming file, record and field; none is
    dropped silently. No conversation left after the filters is a `ConfigError` with the counts.
    """
    if turns not in TURN_MODES:
        raise ConfigError(f'turns: got {shown(turns)} (expected "all" or "first")')
    text = read_record_file(file)
    total = skipped_empty = merged = leading_gpt = 0
    kept: list[Conversation] = []
    for index, (where, item) in enumerate(_records(text, file)):
        total += 1
        parsed = _conversation(item, where, index)
        merged += parsed.merged
        leading_gpt += parsed.leading_gpt
        if parsed.conversation is None:
            skipped_empty += 1
            continue
        conversation = parsed.conversation
        if turns == "first":
            conversation = replace(
                conversation, human=conversation.human[:1], reference=conversation.reference[:1]
            )
        kept.append(conversation)
    if total == 0:
        raise ConfigError(
            f"{file}: holds no records (expected a JSON array of "
            '{"conversations": [...]}, or one per line)'
        )
    admitted = [
        c
        for c in kept
        if (input_tokens is None or input_tokens.admits(c.input_tokens()))
        and (output_tokens is None or output_tokens.admits(c.output_tokens()))
    ]
    filtered = len(kept) - len(admitted)
    if not admitted:
        raise ConfigError(
            f"{file}: no conversation left of {counted(total, 'record')} "
            f"({filtered:,} filtered by length, {skipped_empty:,} without a human turn)"
        )
    chosen = sample_indices(len(admitted), sample, seed, "conversations")
    return DatasetRead(
        file=str(file),
        conversations=tuple(admitted[i] for i in chosen),
        total=total,
        filtered=filtered,
        skipped_empty=skipped_empty,
        merged=merged,
        leading_gpt=leading_gpt,
        sampled_from=None if sample is None else len(admitted),
        seed=seed,
    )


def _records(text: str, file: Path) -> Iterator[tuple[str, Any]]:
    """Each record with where an error names it: ``FILE: record N`` in a JSON array,
    ``FILE:LINE`` in the JSONL form (a file not starting with ``[``; blank lines skipped)."""
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{file}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg})") from None
        for number, item in enumerate(items, start=1):
            yield f"{file}: record {number}", item
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{file}:{number}:{exc.colno}: not JSON ({exc.msg}; expected a JSON array, or "
                "one record per line)"
            ) from None
        yield f"{file}:{number}", item


@dataclass(frozen=True, slots=True)
class _Parsed:
    """One record read: its conversation (None without a human turn) and what was changed."""

    conversation: Conversation | None
    merged: bool
    leading_gpt: bool


def _conversation(item: Any, where: str, index: int) -> _Parsed:
    """The record `item` as a conversation: same-speaker runs merged, leading gpt turns
    dropped; a `ConfigError` naming the field for anything malformed."""
    if not isinstance(item, dict):
        raise ConfigError(
            f'{where}: got {shown(item)} (expected an object {{"conversations": [...]}})'
        )
    turns = item.get("conversations")
    if not isinstance(turns, list):
        got = "missing" if "conversations" not in item else f"got {shown(turns)}"
        raise ConfigError(
            f'{where}: conversations: {got} (expected a list of turns {{"from": …, "value": "…"}})'
        )
    runs: list[tuple[str, list[str]]] = []  # (speaker, its consecutive texts)
    for i, turn in enumerate(turns):
        field = f"conversations[{i}]"
        if not isinstance(turn, dict):
            raise ConfigError(f"{where}: {field}: got {shown(turn)} ({_EXPECTED_TURN})")
        if "from" not in turn:
            raise ConfigError(f"{where}: {field}.from: missing ({_EXPECTED_FROM})")
        speaker = SPEAKERS.get(turn["from"]) if isinstance(turn["from"], str) else None
        if speaker is None:
            raise ConfigError(
                f"{where}: {field}.from: got {shown(turn['from'])} ({_EXPECTED_FROM})"
            )
        value = turn.get("value")
        if not isinstance(value, str):
            got = "missing" if "value" not in turn else f"got {shown(value)}"
            raise ConfigError(f"{where}: {field}.value: {got} (expected a string)")
        if speaker == "system" and any(s != "system" for s, _ in runs):
            raise ConfigError(
                f'{where}: {field}.from: got "system" after a human or gpt turn (expected '
                "system turns only at the start)"
            )
        if runs and runs[-1][0] == speaker:
            runs[-1][1].append(value)
        else:
            runs.append((speaker, [value]))
    merged = any(len(texts) > 1 for _, texts in runs)
    system = None
    if runs and runs[0][0] == "system":
        system = _MERGE_JOINER.join(runs.pop(0)[1])
    leading_gpt = bool(runs) and runs[0][0] == "gpt"
    if leading_gpt:
        runs.pop(0)
    if not runs:  # no human turn: counted as such, not as merged or trimmed
        return _Parsed(None, merged=False, leading_gpt=False)
    human = tuple(_MERGE_JOINER.join(texts) for s, texts in runs if s == "human")
    reference = tuple(
        _MERGE_JOINER.join(runs[k + 1][1]) if k + 1 < len(runs) else None
        for k in range(0, len(runs), 2)
    )
    return _Parsed(Conversation(index, system, human, reference), merged, leading_gpt)

"""A JSONL prompt file as a dataset: the prompts of harness/prompts.py, each with an optional
requested output length, filtered by estimated length and sampled with a seed.

Each non-blank line is one of the forms `harness.prompts.prompt_from_json` reads (and parsed by
the same code): ``{"messages": [...]}`` (assistant turns included: the conversation is sent as
is), ``{"prompt": "…"}``, a JSON string, or a JSON list of messages. An object may also give
``"max_tokens"`` or ``"output_tokens"`` (one of them, an integer of 1 or more): the output
length requested for that prompt. Errors are one line, ``FILE:LINE: field: what is wrong
(what was expected)``. Pure: standard library and the pure harness modules only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.prompts import Prompt, prompt_from_json
from harness.workload.records import (
    counted,
    is_integer,
    json_lines,
    read_record_file,
    sample_indices,
    shown,
)
from harness.workload.sharegpt import LengthFilter, estimate_tokens

#: the keys a line may give its requested output length under
OUTPUT_LENGTH_KEYS = ("max_tokens", "output_tokens")


@dataclass(frozen=True, slots=True)
class JsonlRead:
    """The prompts read from a JSONL file, and what became of the other lines."""

    file: str
    prompts: tuple[Prompt, ...]
    #: the output length each prompt requests (parallel to `prompts`); None: not given
    output_tokens: tuple[int | None, ...]
    #: prompts in the file (non-blank lines)
    total: int
    #: prompts dropped by the length filters
    filtered: int
    #: how many prompts the sample was drawn from; None when not sampled
    sampled_from: int | None = None
    seed: int = 0

    def describe(self) -> str:
        """One line: ``jsonl prompts.jsonl: 12 prompts of 12 lines, 5 with a requested output
        length``."""
        with_length = sum(n is not None for n in self.output_tokens)
        parts = [
            f"jsonl {self.file}: {counted(len(self.prompts), 'prompt')} of "
            f"{counted(self.total, 'line')}",
            f"{with_length:,} with a requested output length",
        ]
        if self.sampled_from is not None:
            parts.append(f"sampled from {self.sampled_from:,} with seed {self.seed}")
        if self.filtered:
            parts.append(f"{self.filtered:,} filtered by length")
        return ", ".join(parts)


def prompt_text(prompt: Prompt) -> str:
    """The text of a prompt as the input filter measures it: a text prompt as is; a
    conversation's message contents joined by newlines (the text parts of a content list;
    images and other parts count for nothing)."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(_content_text(message.get("content")) for message in prompt)


def read_jsonl_dataset(
    file: Path,
    *,
    input_tokens: LengthFilter | None = None,
    output_tokens: LengthFilter | None = None,
    sample: int | None = None,
    seed: int = 0,
) -> JsonlRead:
    """The prompts of a JSONL file with their requested output lengths, filtered and sampled.

    - `input_tokens` admits a prompt by `estimate_tokens(prompt_text(prompt))`.
    - `output_tokens` admits a prompt by its requested output length (``max_tokens`` or
      ``output_tokens``); with this filter every line must give one (a `ConfigError` names the
      first line without).
    - `sample`: this many of the prompts left, drawn by `random.Random(seed)` without
      replacement, in file order.

    The records the filters drop are counted in `JsonlRead.filtered`; none left is a
    `ConfigError` with the counts.
    """
    text = read_record_file(file)
    prompts: list[tuple[Prompt, int | None]] = []
    filtered = 0
    for where, item in json_lines(text, file):
        prompt = prompt_from_json(item, where)
        requested = _requested_output(item, where)
        if output_tokens is not None and requested is None:
            raise ConfigError(
                f'{where}: max_tokens: missing (expected "max_tokens" or "output_tokens" on '
                "every line when filtering by output length)"
            )
        admitted = (
            input_tokens is None or input_tokens.admits(estimate_tokens(prompt_text(prompt)))
        ) and (output_tokens is None or output_tokens.admits(requested or 0))
        if admitted:
            prompts.append((prompt, requested))
        else:
            filtered += 1
    total = len(prompts) + filtered
    if total == 0:
        raise ConfigError(f"{file}: holds no prompts (expected one JSON object per line)")
    if not prompts:
        raise ConfigError(
            f"{file}: no prompt left of {counted(total, 'line')} ({filtered:,} filtered by length)"
        )
    chosen = sample_indices(len(prompts), sample, seed, "prompts")
    return JsonlRead(
        file=str(file),
        prompts=tuple(prompts[i][0] for i in chosen),
        output_tokens=tuple(prompts[i][1] for i in chosen),
        total=total,
        filtered=filtered,
        sampled_from=None if sample is None else len(prompts),
        seed=seed,
    )


def _requested_output(item: Any, where: str) -> int | None:
    """A line's requested output length: its ``max_tokens`` or ``output_tokens``, if any."""
    if not isinstance(item, Mapping):
        return None
    given = [key for key in OUTPUT_LENGTH_KEYS if key in item]
    if len(given) > 1:
        raise ConfigError(
            f"{where}: output_tokens: given with max_tokens (expected one of them, not both)"
        )
    if not given:
        return None
    value = item[given[0]]
    if not is_integer(value) or value < 1:
        raise ConfigError(
            f"{where}: {given[0]}: got {shown(value)} (expected an integer of 1 or more)"
        )
    return int(value)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return ""

"""Words → tokens, measured from the server's own usage: what `Calibration` says and how.

The harness writes prompts in words of a fixed vocabulary (harness.workload.text) and has no
tokenizer. To ask for an input of N tokens it needs the server's count: `calibration_prompts()`
gives two probes of `CALIBRATION_WORDS` (8 and 400) words; sent as ordinary requests, the
server's `usage.prompt_tokens` for each gives two points (words, tokens), and `calibrate()`
takes the line through them: its slope is the tokens per word of the vocabulary, its
intercept the tokens a request costs before any word (the chat template). Without a
calibration, one token per word and no overhead are assumed (`Calibration()`).

Pure core: standard library and harness.workload.text only; the probes are sent by the caller.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.workload.text import synthetic_text

#: the word counts of the two probe prompts, short and long
CALIBRATION_WORDS = (8, 400)
#: tokens per word above this are not a tokenizer counting words: the usage is wrong
MAX_TOKENS_PER_WORD = 20.0
#: where a calibration came from
SOURCES = ("assumed", "server")


@dataclass(frozen=True, slots=True)
class Calibration:
    """How the server counts the prompt tokens of synthetic text: `overhead_tokens` per
    request (the chat template) + `tokens_per_word` per word. `source` is "assumed" (not
    calibrated: the defaults) or "server" (measured by `calibrate`).

    `overhead_tokens` is the line's intercept as measured, so it can be slightly negative
    when the template adds nothing and the first word costs less than the others.
    """

    tokens_per_word: float = 1.0
    overhead_tokens: float = 0.0
    source: str = "assumed"

    def __post_init__(self) -> None:
        if not 0 < self.tokens_per_word <= MAX_TOKENS_PER_WORD:
            raise ValueError(
                f"tokens per word must be in (0, {MAX_TOKENS_PER_WORD:g}], "
                f"got {self.tokens_per_word:g}"
            )
        if self.source not in SOURCES:
            raise ValueError(f"calibration source must be one of {', '.join(SOURCES)}")

    def tokens_for(self, words: int) -> float:
        """The prompt tokens the server counts for a request of `words` synthetic words."""
        return self.overhead_tokens + words * self.tokens_per_word

    def to_dict(self) -> dict[str, float | str]:
        """summary.json's `run.calibration` (and the wire form to the master)."""
        return {
            "tokens_per_word": self.tokens_per_word,
            "overhead_tokens": self.overhead_tokens,
            "source": self.source,
            "described": self.describe(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        return cls(
            tokens_per_word=float(data["tokens_per_word"]),
            overhead_tokens=float(data["overhead_tokens"]),
            source=str(data["source"]),
        )

    def describe(self) -> str:
        """``1.24 tokens per word + 9 tokens of template (from the server's usage)``."""
        where = "from the server's usage" if self.source == "server" else "assumed, not measured"
        per_word = _figure(self.tokens_per_word)
        unit = "token" if per_word == "1" else "tokens"
        return (
            f"{per_word} {unit} per word + {_figure(self.overhead_tokens)} tokens of template "
            f"({where})"
        )


def _figure(value: float) -> str:
    """At most two decimals, trailing zeros dropped: 1.24, 1, 9.5."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def calibration_prompts(seed: int = 0) -> tuple[str, str]:
    """The two probe texts, of `CALIBRATION_WORDS` words (short, long), the same per seed."""
    rng = random.Random(seed)
    short, long = CALIBRATION_WORDS
    return synthetic_text(short, rng), synthetic_text(long, rng)


def calibrate(short: tuple[int, int], long: tuple[int, int]) -> Calibration:
    """The calibration through two probes, each (words, the server's usage.prompt_tokens).

    Raises ValueError with one line when the counts make no sense: the long probe not longer
    in words or in tokens, or a slope above `MAX_TOKENS_PER_WORD` tokens per word.
    """
    (short_words, short_tokens), (long_words, long_tokens) = short, long
    if not 0 < short_words < long_words:
        raise ValueError(
            f"calibration: the probes must have 0 < short < long words, got {short_words} "
            f"and {long_words}"
        )
    if short_tokens < 0 or long_tokens <= short_tokens:
        raise ValueError(
            f"calibration: the server counted {long_tokens} prompt tokens for {long_words} "
            f"words and {short_tokens} for {short_words}: the longer prompt must count more"
        )
    slope = (long_tokens - short_tokens) / (long_words - short_words)
    if slope > MAX_TOKENS_PER_WORD:
        raise ValueError(
            f"calibration: {slope:.1f} tokens per word (from {short_tokens} and {long_tokens} "
            f"prompt tokens) is not a tokenizer counting words; the server's usage is wrong"
        )
    intercept = short_tokens - slope * short_words
    return Calibration(tokens_per_word=slope, overhead_tokens=intercept, source="server")

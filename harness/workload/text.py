"""Synthetic text of a given length in tokens, and the shared prefixes of a prefix-cache test.

The harness has no tokenizer. It writes text from a small vocabulary of short, common English
words (`SYNTHETIC_WORDS`: most BPE tokenizers give each, with its leading space, one token) and
converts between words and tokens with a `Calibration` (harness.workload.calibration): how
many tokens the server counts per word of this vocabulary, and how many a request costs
before any word (its chat template). `words_for_tokens()` is that conversion for a prompt,
`synthetic_text()` draws the words, and `prefix_texts()` makes the documents that several
requests share at the start of their prompts.

Pure core: standard library only; randomness comes from the `random.Random` or seed passed in.
"""

from __future__ import annotations

import random
from math import floor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.workload.calibration import Calibration

_WORD_TEXT = (
    "the of and to in is you that it he was for on are as with his they at be this have "
    "from or one had by word but not what all were we when your can said there use an each "
    "which she do how their if will up other about out many then them these so some her "
    "would make like him into time has look two more write go see number no way could "
    "people my than first water been call who oil its now find long down day did get come "
    "made may part"
)
#: The vocabulary of synthetic text: short, common English words, about one token each (with
#: the leading space) for most BPE tokenizers. harness.prompts uses it too.
SYNTHETIC_WORDS: tuple[str, ...] = tuple(_WORD_TEXT.split())

#: How a shared prefix starts; {n} is its group, from 1. Each prefix differs from its first
#: tokens on, since prefix caches hash blocks of tokens from the start of the prompt.
PREFIX_HEADER = "Reference document {n}:"


def words_for_tokens(tokens: int, calibration: Calibration) -> int:
    """How many synthetic words make a request of about `tokens` prompt tokens, as the server
    counts them: (tokens − overhead) / tokens per word, rounded half up, at least 1."""
    words = (tokens - calibration.overhead_tokens) / calibration.tokens_per_word
    return max(1, floor(words + 0.5))


def synthetic_text(words: int, rng: random.Random) -> str:
    """`words` words (≥ 1) of the vocabulary drawn with `rng`, separated by single spaces."""
    if words < 1:
        raise ValueError(f"synthetic text needs at least 1 word, got {words}")
    return " ".join(rng.choices(SYNTHETIC_WORDS, k=words))


def prefix_texts(tokens: int, groups: int, calibration: Calibration, seed: int) -> tuple[str, ...]:
    """`groups` distinct shared prefixes of about `tokens` tokens of text each, the same for the
    same seed (and prefix g the same for any number of groups above g).

    Prefix g (from 0) starts ``Reference document {g+1}:``, so no two share their first
    token block. Its length counts the header as words of the vocabulary, and no template
    overhead is subtracted: a prefix is part of a prompt, not a request of its own. The
    caller joins it to the rest of the prompt (a blank line between them reads naturally).
    """
    if tokens < 1:
        raise ValueError(f"a shared prefix needs at least 1 token, got {tokens}")
    if groups < 1:
        raise ValueError(f"expected at least 1 prefix group, got {groups}")
    total_words = floor(tokens / calibration.tokens_per_word + 0.5)
    rng = random.Random(seed)
    texts = []
    for g in range(groups):
        header = PREFIX_HEADER.format(n=g + 1)
        body = max(1, total_words - len(header.split()))
        texts.append(f"{header} {synthetic_text(body, rng)}")
    return tuple(texts)

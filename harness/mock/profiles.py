"""Latency profiles of the mock server: when each token of a response is due.

A `LatencyProfile` is the mock's ground truth: token ``i`` (0-based) of a response is
written ``ttft_s + i * itl_s`` seconds after the request was fully received, optionally
with seeded jitter. `parse_duration` reads the CLI's duration strings ("200ms", "1.5s").
This module is standard library only and must not import anything from the harness
(``harness.sse``, ``harness.protocols``, ``harness.record``, ``harness.stats``,
``harness.scenario``): the mock is the yardstick the harness is measured against, so it
shares no code with it.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|µs|ms|s|m)\s*$")
_UNIT_S = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}

# With jitter, a token is never scheduled less than this after the previous one, so that
# offsets stay strictly increasing (and one token is one write) whatever the draw.
MIN_JITTERED_GAP_S = 1e-6


def parse_duration(text: str) -> float:
    """Parse a duration with a unit into float seconds.

    Units: ``us``, ``ms``, ``s``, ``m``; a bare ``0`` is allowed. Negative or unitless
    values raise `ValueError` with a one-line message.

    >>> parse_duration("200ms"), parse_duration("1.5s"), parse_duration("0")
    (0.2, 1.5, 0.0)
    """
    if text.strip() == "0":
        return 0.0
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r} (expected e.g. 200ms, 1.5s, 0)")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


@dataclass(frozen=True, slots=True)
class LatencyProfile:
    """How fast the mock "generates": time to first token, inter-token latency, length.

    ``output_tokens`` is the natural length of a response, where the model would emit EOS:
    ``max_tokens`` cuts it, ``min_tokens`` and ``ignore_eos`` lengthen it (see
    `harness.mock.completions.reply_length`). ``jitter_s`` adds a uniform offset in ``[-jitter_s,
    +jitter_s]`` to every token, drawn from a generator seeded by ``(seed,
    request_index)``: runs are reproducible and requests differ from one another.
    ``reasoning_tokens``: thinking tokens before the visible answer (one per ITL, the first at
    TTFT; not cut by ``max_tokens``); ``tool_call``: the answer is one tool call whose
    arguments arrive one piece per token (see `harness.mock.answer`).
    """

    ttft_s: float = 0.2
    itl_s: float = 0.02
    output_tokens: int = 64
    jitter_s: float = 0.0
    seed: int = 0
    reasoning_tokens: int = 0
    tool_call: bool = False

    def __post_init__(self) -> None:
        for name in ("ttft_s", "itl_s", "jitter_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite duration >= 0, got {value!r}")
        if self.output_tokens < 1:
            raise ValueError(f"output_tokens must be >= 1, got {self.output_tokens}")
        if self.reasoning_tokens < 0:
            raise ValueError(f"reasoning_tokens must be >= 0, got {self.reasoning_tokens}")

    def token_offsets(self, n: int, request_index: int = 0) -> list[float]:
        """Offsets in seconds (from the full receipt of the request) of ``n`` tokens.

        Without jitter, token ``i`` is at ``ttft_s + i * itl_s`` exactly. With jitter,
        the offsets stay ``>= 0`` and strictly increasing (at least `MIN_JITTERED_GAP_S`
        apart).

        >>> LatencyProfile(ttft_s=0.5, itl_s=0.25).token_offsets(3)
        [0.5, 0.75, 1.0]
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        offsets = [self.ttft_s + i * self.itl_s for i in range(n)]
        if self.jitter_s == 0.0:
            return offsets
        rng = random.Random(f"{self.seed}:{request_index}")
        previous = -math.inf
        for i, nominal in enumerate(offsets):
            value = nominal + rng.uniform(-self.jitter_s, self.jitter_s)
            value = max(value, 0.0, previous + MIN_JITTERED_GAP_S)
            offsets[i] = previous = value
        return offsets

"""What the mock's answer says, token by token, whatever the protocol that carries it.

An answer is a list of `Piece`: ``reasoning`` pieces (thinking, never visible), then either
``text`` pieces (the visible answer) or ``tool`` pieces (the arguments JSON of one tool call,
`TOOL_NAME`). Each piece is one token event, written one inter-token latency after the
previous one, the first at TTFT: with ``--reasoning-tokens N`` the first visible text comes N
ITLs after the first token. `plan_answer` builds it from the visible length (`reply_length`)
and the profile's ``reasoning_tokens`` and ``tool_call``. The output tokens of the usage are
all pieces, reasoning included. Standard library only; like the rest of the mock it must not
import the harness: the mock is the yardstick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from harness.mock.completions import Generation, reply_length, token_text
from harness.mock.profiles import LatencyProfile

__all__ = [
    "TOOL_ARGUMENT_KEY",
    "TOOL_NAME",
    "Answer",
    "Piece",
    "answer_length",
    "plan_answer",
    "reasoning_text",
]

#: the one tool the mock calls with ``--tool-call``
TOOL_NAME = "get_weather"
#: the one argument of its call: the token texts, joined
TOOL_ARGUMENT_KEY = "location"

PieceKind = Literal["reasoning", "text", "tool"]


def reasoning_text(i: int) -> str:
    """The text of reasoning token ``i``: deterministic, one token per event."""
    return f" think{i}"


@dataclass(frozen=True, slots=True)
class Piece:
    """One token event: its kind and the text it carries (tool: a piece of the JSON)."""

    kind: PieceKind
    text: str


@dataclass(frozen=True, slots=True)
class Answer:
    """The whole answer: ``pieces`` in order, and what they add up to.

    ``finish`` is ``"stop"`` (the answer ended on its own; a tool call's JSON is complete) or
    ``"length"`` (``max_tokens`` cut the visible part; a tool call's JSON is cut too).
    """

    pieces: tuple[Piece, ...]
    reasoning_tokens: int
    visible_tokens: int
    tool_call: bool
    finish: str

    @property
    def output_tokens(self) -> int:
        """Every token event, reasoning included (what the usage reports)."""
        return len(self.pieces)

    def joined(self, kind: PieceKind) -> str:
        """All the text of the pieces of ``kind``, in order."""
        return "".join(p.text for p in self.pieces if p.kind == kind)

    @property
    def tool_input(self) -> dict[str, object]:
        """The tool call's arguments as an object (``{}`` when cut or absent)."""
        try:
            value = json.loads(self.joined("tool"))
        except json.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}


def _tool_pieces(n: int, complete: bool) -> list[Piece]:
    """The arguments ``{"location":" tok0 … tok{n-1}"}`` in ``n`` pieces, one per token;
    without the closing ``"}`` when the answer was cut."""
    texts = [token_text(i) for i in range(n)]
    texts[0] = '{"' + TOOL_ARGUMENT_KEY + '":"' + texts[0]
    if complete:
        texts[-1] += '"}'
    return [Piece("tool", t) for t in texts]


def answer_length(gen: Generation, profile: LatencyProfile) -> tuple[int, str]:
    """The token events of `plan_answer`'s answer (reasoning included) and its ``finish``,
    without building it."""
    n, finish = reply_length(gen, profile)
    return profile.reasoning_tokens + n, finish


def plan_answer(gen: Generation, profile: LatencyProfile) -> Answer:
    """The answer to ``gen``: ``profile.reasoning_tokens`` reasoning pieces, then the visible
    length `reply_length` says, as text or (``profile.tool_call``) as a tool call's JSON."""
    n, finish = reply_length(gen, profile)
    pieces = [Piece("reasoning", reasoning_text(i)) for i in range(profile.reasoning_tokens)]
    if profile.tool_call:
        pieces += _tool_pieces(n, finish == "stop")
    else:
        pieces += [Piece("text", token_text(i)) for i in range(n)]
    return Answer(tuple(pieces), profile.reasoning_tokens, n, profile.tool_call, finish)

"""Goodput (DistServe's definition): the requests whose *own* figures meet per-request limits.

`GoodputLimits` holds the limits a run is given (`--llm-goodput ttft=500ms,tpot=50ms,e2e=20s`
or the scenario's ``goodput: {ttft: 500ms, tpot: 50ms, e2e: 20s}``), in seconds; `meets()`
is the verdict on one request. The rule (docs/load.md, "Goodput"):

- only a timed request can meet them (a success: `ok`, `ok_length`, `content_filtered`);
  a failed, empty or cancelled request never does;
- a limit holds when the request's figure is **at most** the limit (``<=``: a request at
  exactly the limit meets it);
- streams: `ttft` and `first_visible` (TTFT, or E2E when the server answered with one
  whole body) and `e2e` must be present and within their limits; `tpot` is the request's
  TPOT; `itl` (an alternative to `tpot`, never with it) holds when *every* per-token ITL
  sample of the request is within the limit, or every inter-chunk gap when its tokens per
  chunk are unknown. A one-token answer has no TPOT and no gap: its `tpot` or `itl` limit
  holds (no token after the first could be late);
- batch: a batch answer has no TTFT, TPOT or ITL, so those limits do not apply to it;
  `e2e` and `first_visible` (which is E2E for batch) do. A batch request with only
  stream limits set counts when it succeeded;
- open loop: `ttft`, `first_visible` and `e2e` are timed from the request's due time
  (`t_sched`), the wait for a free user included, as a person would feel them; `tpot` and
  `itl` are gaps between tokens and do not move.

`limits_for_mode()` says which limits apply to a mode (what summary.json shows under
`goodput.limits`). Pure core: standard library and harness.errors only; it never reads a
clock. The text form is read by harness.readers, the scenario's by harness.scenario.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.errors import Mode

if TYPE_CHECKING:
    from harness.record import RequestRecord

#: the keys of `--llm-goodput` and of the scenario's `goodput:`, in the order shown
LIMIT_KEYS = ("ttft", "tpot", "itl", "e2e", "first_visible")
#: the limits that apply to a stream only (a batch answer arrives all at once)
STREAM_ONLY_KEYS = ("ttft", "tpot", "itl")
#: what `--llm-goodput` expects, for error messages
EXAMPLE = "ttft=500ms,tpot=50ms,e2e=20s"


@dataclass(frozen=True, slots=True)
class GoodputLimits:
    """Per-request limits, seconds; None: not limited. At least one is set, never both
    `tpot_s` and `itl_s` (`from_values` checks both)."""

    ttft_s: float | None = None
    tpot_s: float | None = None
    itl_s: float | None = None
    e2e_s: float | None = None
    first_visible_s: float | None = None

    @classmethod
    def from_values(cls, values: Mapping[str, float]) -> GoodputLimits:
        """Limits from ``{"ttft": 0.5, "e2e": 20.0}`` (keys of `LIMIT_KEYS`, seconds).

        Raises `ValueError` with one line (the caller adds where the values came from):
        no limit, an unknown key, a limit not above 0, or both tpot and itl.
        """
        if not values:
            raise ValueError("expected at least one limit: ttft, tpot or itl, e2e, first_visible")
        for key, seconds in values.items():
            if key not in LIMIT_KEYS:
                raise ValueError(f"unknown limit {key!r} (expected one of {', '.join(LIMIT_KEYS)})")
            if not seconds > 0:
                raise ValueError(f"{key}: expected a duration greater than 0, got {seconds:g}s")
        if "tpot" in values and "itl" in values:
            raise ValueError(
                "set tpot or itl, not both (tpot limits a request's mean time per token, "
                "itl every gap between its tokens)"
            )
        return cls(**{f"{key}_s": seconds for key, seconds in values.items()})

    def items(self) -> list[tuple[str, float]]:
        """The limits set, ``[("ttft", 0.5), ("e2e", 20.0)]``, in `LIMIT_KEYS` order."""
        pairs = [(key, getattr(self, f"{key}_s")) for key in LIMIT_KEYS]
        return [(key, seconds) for key, seconds in pairs if seconds is not None]

    def to_dict(self, mode: str | None = None) -> dict[str, float]:
        """``{"ttft_s": 0.5, "e2e_s": 20.0}``: the limits set; with `mode`, only those that
        apply to it (`limits_for_mode`)."""
        items = self.items() if mode is None else limits_for_mode(self, mode)
        return {f"{key}_s": seconds for key, seconds in items}

    def describe(self) -> str:
        """``ttft=500ms,tpot=50ms,e2e=20s``: the form `--llm-goodput` reads."""
        return ",".join(f"{key}={_duration_text(seconds)}" for key, seconds in self.items())


def limits_for_mode(limits: GoodputLimits, mode: str) -> list[tuple[str, float]]:
    """The limits that apply to `mode`'s requests: all of them for streams; for batch,
    `e2e` and `first_visible` only."""
    if mode == Mode.BATCH:
        return [(key, s) for key, s in limits.items() if key not in STREAM_ONLY_KEYS]
    return limits.items()


def meets(record: RequestRecord, limits: GoodputLimits) -> bool:
    """Whether `record` counts towards goodput: timed, and within every limit that applies
    to its mode (the rule in the module docstring)."""
    if not record.timed:
        return False
    # open loop: the wait a person feels starts when the request was due, so the wait for a
    # free user counts against the limits (coordinated omission is not goodput)
    lag = max(record.t0 - record.t_sched, 0.0) if record.t_sched is not None else 0.0
    if not _within(_plus(record.e2e_s, lag), limits.e2e_s):
        return False
    if not _within(_plus(record.first_visible_s, lag), limits.first_visible_s):
        return False
    if record.mode is not Mode.STREAM:
        return True
    if not _within(_plus(record.ttft_s, lag), limits.ttft_s):
        return False
    if limits.tpot_s is not None:
        tpot = record.tpot_s
        if tpot is not None and tpot > limits.tpot_s:
            return False
    if limits.itl_s is not None:
        itl = limits.itl_s
        # per-token samples when tokens per chunk are known, else every inter-chunk gap
        known = record.tokens_per_chunk is not None
        gaps = record.itl_samples() if known else record.inter_chunk_gaps()
        if any(gap > itl for gap in gaps):
            return False
    return True


def _plus(value: float | None, lag: float) -> float | None:
    return None if value is None else value + lag


def _within(value: float | None, limit: float | None) -> bool:
    """No limit, or a figure at most the limit (a missing figure does not meet one)."""
    return limit is None or (value is not None and value <= limit)


def _duration_text(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"

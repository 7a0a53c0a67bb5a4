"""Paired streaming vs batch: each prompt sent once in each mode at the same due time, and the
per-prompt difference in first visible output.

With `mix: paired` every arrival of the schedule is a pair: a streaming and a batch request of
the same prompt, due at the same moment (harness.load.schedule). `PairBook` matches the two
halves as they finish (`add`) and keeps, for each complete pair, the **gain**: batch first
visible output minus streaming first visible output, the time streaming showed something
sooner for that very prompt (negative when batch was first). A pair with a half that failed
(or was cancelled) is `unmatched`: no gain. Workers ship their halves to the master
(`take_halves`, `merge_halves`), which matches them: the two halves of a pair may be sent by
different workers.

The gains are kept in two log-bucketed histograms (streaming first, and the magnitude when
batch was first), so a signed percentile is exact in rank and within 0.1 % in value.

Pure: standard library and the harness's pure core; no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from harness.stats import LatencyHistogram

PERCENTILES = (10, 25, 50, 75, 90)


@dataclass(slots=True)
class PairedStats:
    """The gains of the complete pairs, and the pairs that could not be compared."""

    gains: LatencyHistogram = field(default_factory=LatencyHistogram)
    losses: LatencyHistogram = field(default_factory=LatencyHistogram)
    unmatched: int = 0

    @property
    def pairs(self) -> int:
        return self.gains.count + self.losses.count

    def observe(self, gain_s: float) -> None:
        if gain_s >= 0:
            self.gains.record(gain_s)
        else:
            self.losses.record(-gain_s)

    def percentile(self, p: float) -> float | None:
        """The signed gain at percentile `p` (nearest rank), None without pairs."""
        n = self.pairs
        if n == 0:
            return None
        rank = min(max(1, math.ceil(p / 100 * n)), n)
        behind = self.losses.count
        if rank <= behind:  # among the pairs batch won: the most negative first
            return -self.losses.at_ranks([behind - rank + 1])[0]
        return self.gains.at_ranks([rank - behind])[0]

    def summary(self) -> dict[str, Any] | None:
        """`paired` of summary.json; None when no pair was sent."""
        n = self.pairs
        if n == 0 and self.unmatched == 0:
            return None
        out: dict[str, Any] = {"pairs": n, "unmatched": self.unmatched}
        if n == 0:
            return out
        stream_first = self.gains.count - self.gains.count_le(0.0)
        out["stream_first"] = stream_first
        out["batch_first"] = self.losses.count
        out["ties"] = n - stream_first - self.losses.count
        out["stream_first_share"] = stream_first / n
        out["gain_s"] = {f"p{p}": self.percentile(p) for p in PERCENTILES}
        out["gain_s"]["min"] = self.percentile(0)
        out["gain_s"]["max"] = self.percentile(100)
        return out


@dataclass(slots=True)
class PairBook:
    """Halves waiting for their other half, and the stats of the complete pairs.

    `match_here` is False on a worker: its halves go to the master unmatched."""

    match_here: bool = True
    stats: PairedStats = field(default_factory=PairedStats)
    #: pair id -> (mode, first visible output or None when that half failed)
    _waiting: dict[int, tuple[str, float | None]] = field(default_factory=dict)
    _outbox: list[list[Any]] = field(default_factory=list)

    def add(self, pair: int, mode: str, first_visible_s: float | None) -> None:
        """One half finished: its first visible output, or None (failed, cancelled)."""
        if not self.match_here:
            self._outbox.append([pair, mode, first_visible_s])
            return
        other = self._waiting.pop(pair, None)
        if other is None:
            self._waiting[pair] = (mode, first_visible_s)
            return
        other_mode, other_s = other
        if other_mode == mode:  # cannot happen with one arrival per mode; keep the later
            self._waiting[pair] = (mode, first_visible_s)
            return
        stream_s, batch_s = (
            (first_visible_s, other_s) if mode == "stream" else (other_s, first_visible_s)
        )
        if stream_s is None or batch_s is None:
            self.stats.unmatched += 1
        else:
            self.stats.observe(batch_s - stream_s)

    def take_halves(self) -> list[list[Any]]:
        """A worker's halves since the last report, for the master."""
        out, self._outbox = self._outbox, []
        return out

    def merge_halves(self, halves: list[list[Any]]) -> None:
        """The master: halves from a worker."""
        for pair, mode, first_visible_s in halves:
            value = None if first_visible_s is None else float(first_visible_s)
            self.add(int(pair), str(mode), value)

    def summary(self) -> dict[str, Any] | None:
        """`paired` of summary.json; halves still waiting count as unmatched."""
        summary = self.stats.summary()
        waiting = len(self._waiting)
        if summary is None:
            return {"pairs": 0, "unmatched": waiting} if waiting else None
        summary["unmatched"] += waiting
        return summary


def paired_sentence(paired: dict[str, Any]) -> str | None:
    """``Streaming showed something first in 98 % of 412 prompts; median gain 1.21 s (p10
    0.95 s, p90 1.48 s).``"""
    n = paired.get("pairs") or 0
    if not n:
        return None
    share = paired.get("stream_first_share", 0.0)
    gains = paired.get("gain_s") or {}
    text = f"Paired: streaming showed something first in {share:.0%} of {n:,} prompts"
    median = gains.get("p50")
    if isinstance(median, int | float):
        text += f"; median gain {_seconds(median)}"
        p10, p90 = gains.get("p10"), gains.get("p90")
        if isinstance(p10, int | float) and isinstance(p90, int | float):
            text += f" (p10 {_seconds(p10)}, p90 {_seconds(p90)})"
    unmatched = paired.get("unmatched") or 0
    if unmatched:
        text += f"; {unmatched:,} pair(s) not compared (a half failed or did not finish)"
    return text + "."


def _seconds(value: float) -> str:
    if abs(value) < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"

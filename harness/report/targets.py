"""The endpoints of a run side by side: each target's figures, and who has the lower ones.

summary.json's ``targets`` (harness.run.LLMRun.targets_block, completed by
harness.report.enrich) holds every target's ``modes`` with the same figures as the run's
``modes``. This module reads it, for every report:

- `target_entries(summary)`: the targets in the scenario's order ({} for a one-target run),
  and `target_view(summary, name)`: the summary as if the run had had that target only, so
  a renderer of one target's figures shows it unchanged;
- `compare_targets` and `headline_lines`: which target has the lower figure, named only when
  the difference is significant: the lowest target's 95 % interval overlaps no other target's
  (harness.load.confidence.percentiles_differ); otherwise the sentence says there is no
  significant difference.

What a gateway adds is harness.report.overhead's; the cost per target harness.report.cost's.
Pure: standard library and the pure core only; functions of the summary document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import MODES, Outcome
from harness.load.confidence import interval_of, percentiles_differ
from harness.report.units import format_duration_short, number_at

Figures = Mapping[str, Any]

#: how each latency block reads in a report
FIGURE_LABELS = {
    "ttft_s": "TTFT",
    "ttfb_s": "TTFB",
    "itl_s": "ITL",
    "inter_chunk_s": "inter-chunk latency",
    "tail_s": "tail (last token → end)",
    "e2e_s": "E2E",
    "first_visible_s": "first visible output",
}


# ------------------------------------------------------------------ the targets of a summary


def target_entries(summary: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """summary.json's ``targets`` in the scenario's order; {} for a one-target run."""
    block = summary.get("targets")
    if not isinstance(block, Mapping):
        return {}
    return {str(name): entry for name, entry in block.items() if isinstance(entry, Mapping)}


def target_modes(entry: Mapping[str, Any]) -> dict[str, Figures]:
    """A target's figures by mode, streaming first; modes without requests are absent."""
    modes = entry.get("modes")
    if not isinstance(modes, Mapping):
        return {}
    return {m: modes[m] for m in MODES if isinstance(modes.get(m), Mapping)}


def target_view(summary: Mapping[str, Any], name: str) -> dict[str, Any]:
    """`summary` as the summary of a run that had target `name` only: its modes, its cost
    and its SLO results, with everything the targets share (run, load, timeline…) kept.

    KeyError when the summary has no target of that name.
    """
    entry = target_entries(summary)[name]
    view = {
        key: value
        for key, value in summary.items()
        if key not in ("targets", "gateway_overhead", "cost", "slos")
    }
    view["modes"] = dict(target_modes(entry))
    if isinstance(entry.get("cost"), Mapping):
        view["cost"] = entry["cost"]
    slos = summary.get("slos")
    if isinstance(slos, list):
        view["slos"] = [s for s in slos if isinstance(s, Mapping) and s.get("target") == name]
    return view


def finished_requests(modes: Mapping[str, Any]) -> int:
    """Requests of every mode that finished (every outcome but `cancelled`)."""
    total = 0
    for figures in modes.values():
        outcomes = figures.get("outcomes") if isinstance(figures, Mapping) else None
        if isinstance(outcomes, Mapping):
            total += sum(
                n
                for k, n in outcomes.items()
                if k != Outcome.CANCELLED and isinstance(n, int) and not isinstance(n, bool)
            )
    return total


# ------------------------------------------------------------------ the winner of each figure


@dataclass(frozen=True, slots=True)
class ComparedFigure:
    """A percentile of one mode's latency block, compared between targets."""

    mode: str
    block: str
    key: str

    @property
    def label(self) -> str:
        """``TTFT p50``."""
        return f"{FIGURE_LABELS.get(self.block, self.block)} {self.key}"

    @property
    def title(self) -> str:
        """``stream TTFT p50``: the figure as a sentence names it."""
        return f"{self.mode} {self.label}"


#: the figures the headline compares between targets, in the order it lists them
HEADLINE_FIGURES: tuple[ComparedFigure, ...] = (
    ComparedFigure("stream", "ttft_s", "p50"),
    ComparedFigure("stream", "ttft_s", "p95"),
    ComparedFigure("stream", "itl_s", "p50"),
    ComparedFigure("stream", "itl_s", "p99"),
    ComparedFigure("stream", "e2e_s", "p50"),
    ComparedFigure("batch", "e2e_s", "p50"),
    ComparedFigure("batch", "e2e_s", "p95"),
)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One figure of every target that has it, and the target that has the lowest one.

    `winner` is named only when the difference is significant: the lowest target's 95 %
    interval overlaps no other target's. `significant` is False when some interval does
    overlap, None when a target's figure has no interval (a summary written before
    intervals existed) and none overlaps.
    """

    figure: ComparedFigure
    values: tuple[tuple[str, float], ...]
    winner: str | None
    significant: bool | None
    #: the intervals overlap only because one is unbounded (too few requests to bound that
    #: percentile): more requests might tell
    too_few: bool = False

    def sentence(self) -> str:
        """The comparison in words, e.g. ``fast has the lower stream TTFT p50 (101 ms vs
        302 ms).`` or ``No significant difference in stream TTFT p50 (fast 101 ms, slow
        103 ms).``"""
        title = self.figure.title
        listed = ", ".join(f"{name} {format_duration_short(v)}" for name, v in self.values)
        if self.winner is not None:
            best = dict(self.values)[self.winner]
            others = [(n, v) for n, v in self.values if n != self.winner]
            if len(others) == 1:
                return (
                    f"{self.winner} has the lower {title} ({format_duration_short(best)} vs "
                    f"{format_duration_short(others[0][1])})."
                )
            rest = ", ".join(f"{n} {format_duration_short(v)}" for n, v in others)
            return f"{self.winner} has the lowest {title} ({format_duration_short(best)}; {rest})."
        if self.significant is None:
            return f"Cannot tell which target has the lower {title}: no 95 % interval ({listed})."
        if self.too_few:
            return (
                f"Too few requests to tell which target has the lower {title} ({listed}): "
                "run longer to bound it."
            )
        if len(self.values) == 2:
            return f"No significant difference in {title} ({listed})."
        return f"No target has a significantly lower {title} than every other ({listed})."


def compare_targets(summary: Mapping[str, Any], figure: ComparedFigure) -> Comparison | None:
    """`figure` of every target that has it; None unless at least two have it.

    ITL is compared as inter-chunk latency when any target's ITL is (tokens per chunk were
    not known for every request: harness.stats `itl_basis`).
    """
    by_target = {
        name: modes[figure.mode]
        for name, entry in target_entries(summary).items()
        if figure.mode in (modes := target_modes(entry))
    }
    if figure.block == "itl_s" and any(inter_chunk(f) for f in by_target.values()):
        figure = ComparedFigure(figure.mode, "inter_chunk_s", figure.key)
    blocks: dict[str, tuple[Any, float]] = {}
    for name, figures in by_target.items():
        block = figures.get(figure.block)
        value = number_at(block, figure.key)
        if value is not None:
            blocks[name] = (block, value)
    if len(blocks) < 2:
        return None
    lowest = min(blocks, key=lambda name: blocks[name][1])  # the first of equal ones
    verdicts = [
        percentiles_differ(blocks[lowest][0], block, figure.key)
        for name, (block, _) in blocks.items()
        if name != lowest
    ]
    values = tuple((name, value) for name, (_, value) in blocks.items())
    if all(v is True for v in verdicts):
        return Comparison(figure, values, lowest, True)
    significant = False if any(v is False for v in verdicts) else None
    too_few = significant is False and _only_open_ends_overlap(blocks, lowest, figure.key)
    return Comparison(figure, values, None, significant, too_few)


def _only_open_ends_overlap(blocks: Mapping[str, tuple[Any, float]], lowest: str, key: str) -> bool:
    """Whether the lowest target's interval would be clear of every other's if each open end
    (a percentile too few requests bound) stopped at its own value: more requests might tell."""
    low = interval_of(blocks[lowest][0], key)
    if low is None:
        return False
    low_hi = low[1] if low[1] is not None else blocks[lowest][1]
    opened = low[1] is None
    for name, (block, value) in blocks.items():
        if name == lowest:
            continue
        other = interval_of(block, key)
        if other is None:
            return False
        other_lo = other[0] if other[0] is not None else value
        opened = opened or other[0] is None
        if other_lo <= low_hi:
            return False
    return opened


def headline_comparisons(summary: Mapping[str, Any]) -> list[Comparison]:
    """`compare_targets` of every `HEADLINE_FIGURES` figure at least two targets have."""
    found = (compare_targets(summary, figure) for figure in HEADLINE_FIGURES)
    return [c for c in found if c is not None]


def headline_lines(summary: Mapping[str, Any]) -> list[str]:
    """The headline of a run with targets: one sentence per compared figure; [] without."""
    return [c.sentence() for c in headline_comparisons(summary)]


def inter_chunk(figures: Figures) -> bool:
    """Whether a mode's ITL is inter-chunk latency (tokens per chunk not always known)."""
    return figures.get("itl_basis") == "inter_chunk"

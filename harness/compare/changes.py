"""The comparison of two runs: every figure's change NEW − BASE, its interval and its verdict.

`compare_runs(base, new, threshold)` matches the runs' targets by name (harness.compare.figures
`targets_of`) and, in each target both have, the modes both have; a target, mode or figure on
one side only is listed in `Comparison.only`, not compared. Each figure (harness.compare.figures)
gets a `Change`: both values, the change's 95 % interval, how the interval was made (`method`),
the verdict and whether it is a regression (harness.compare.verdict).

Intervals (docs/compare.md): latency percentiles by the bootstrap over both runs' request
records when both have them (`bootstrap`, harness.compare.bootstrap: the values are then the
records' own percentiles), else from the summaries' `ci95` intervals (`ci95`); the failure
ratio by Newcombe's interval (`wilson`); rates from Poisson score intervals (`poisson`); the
last three, and `ci95`, combined into the change's interval by MOVER
(harness.compare.intervals). Pure: standard library, the core and the report layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.compare.bootstrap import (
    RESAMPLES,
    bounded,
    difference_interval,
    percentile_draws,
    percentile_of_sorted,
    seeded,
)
from harness.compare.figures import (
    FAILURE_RATIO,
    GOODPUT_PER_S,
    LATENCY_FIGURES,
    OUTPUT_TOKENS_PER_S,
    PERCENTILES,
    REQUESTS_PER_S,
    Estimate,
    Figure,
    failure_estimate,
    latency_estimate,
    measured_seconds,
    rate_estimate,
    targets_of,
)
from harness.compare.inputs import RunInput
from harness.compare.intervals import Interval, mover_difference
from harness.compare.samples import ITL, GroupKey, GroupSamples
from harness.compare.verdict import Verdict, is_regression, verdict_of, worsening
from harness.errors import MODES
from harness.exit_code import ExitCode
from harness.report.units import number_at

Samples = Mapping[GroupKey, GroupSamples]


@dataclass(frozen=True, slots=True)
class Change:
    """One figure of one target and mode, compared: BASE's and NEW's values (seconds, a
    ratio or per second), the 95 % interval of NEW − BASE (an end None: open), the method
    behind it, the verdict, whether it is a regression, and how many requests or values
    each side's figure rests on (`counts`)."""

    target: str
    mode: str
    figure: Figure
    percentile: str
    base: float
    new: float
    interval: Interval
    method: str
    verdict: Verdict
    regression: bool
    counts: tuple[float, float]

    @property
    def change(self) -> float:
        """NEW − BASE."""
        return self.new - self.base

    @property
    def relative(self) -> float | None:
        """(NEW − BASE) / BASE; None when BASE is 0."""
        return None if self.base == 0 else self.change / abs(self.base)

    @property
    def worse_by(self) -> float:
        """How much worse, relative to BASE (negative: better; harness.compare.verdict)."""
        return worsening(self.base, self.new, self.figure.direction)

    @property
    def label(self) -> str:
        """``stream ttft p50``; ``fast/stream ttft p50`` for a named target."""
        where = f"{self.target}/{self.mode}" if self.target else self.mode
        return " ".join(part for part in (where, self.figure.name, self.percentile) if part)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two runs compared: the changes in report order, what only one side has, the
    warnings (different workloads, nothing in common), and whether any latency's interval
    came from the records (`bootstrap`)."""

    base: RunInput
    new: RunInput
    threshold: float
    changes: tuple[Change, ...]
    only: tuple[str, ...]
    warnings: tuple[str, ...]
    bootstrap: bool

    @property
    def worse(self) -> list[Change]:
        """The changes judged worse, the worst (relative to BASE) first."""
        worse = [c for c in self.changes if c.verdict is Verdict.WORSE]
        return sorted(worse, key=lambda c: -c.worse_by)

    @property
    def regressions(self) -> list[Change]:
        """The worse changes beyond the threshold, the worst first."""
        return [c for c in self.worse if c.regression]

    @property
    def exit_code(self) -> int:
        """1 when any figure regressed, else 0."""
        return ExitCode.FAILED if self.regressions else ExitCode.OK


def compare_runs(
    base: RunInput,
    new: RunInput,
    threshold: float,
    *,
    base_samples: Samples | None = None,
    new_samples: Samples | None = None,
    warnings: Sequence[str] = (),
    resamples: int = RESAMPLES,
) -> Comparison:
    """Compare every figure the two runs share. The samples (harness.compare.samples) of
    both runs, when given, make the latency intervals bootstrap ones."""
    base_targets, new_targets = targets_of(base.summary), targets_of(new.summary)
    changes: list[Change] = []
    only = [f"{_target_title(n)}: only in BASE" for n in _missing(base_targets, new_targets)]
    only += [f"{_target_title(n)}: only in NEW" for n in _missing(new_targets, base_targets)]
    context = _Context(threshold, resamples, base_samples, new_samples)
    for target, base_modes in base_targets.items():
        new_modes = new_targets.get(target)
        if new_modes is None:
            continue
        prefix = f"{target}/" if target else ""
        for mode in _ordered(base_modes, new_modes):
            in_base, in_new = mode in base_modes, mode in new_modes
            if not (in_base and in_new):
                only.append(f"{prefix}{mode}: only in {'BASE' if in_base else 'NEW'}")
                continue
            blocks = (_mapping(base_modes[mode]), _mapping(new_modes[mode]))
            found, missing = context.mode_changes(target, mode, blocks, (base, new))
            changes += found
            only += [f"{prefix}{mode} {name}: only in {side}" for name, side in missing]
    notes = list(warnings)
    if not changes:
        notes.append("BASE and NEW have no target and mode in common: nothing was compared")
    booted = any(c.method == "bootstrap" for c in changes)
    return Comparison(base, new, threshold, tuple(changes), tuple(only), tuple(notes), booted)


class _Context:
    """What every figure's comparison needs besides its blocks."""

    def __init__(
        self,
        threshold: float,
        resamples: int,
        base_samples: Samples | None,
        new_samples: Samples | None,
    ) -> None:
        self.threshold = threshold
        self.resamples = resamples
        self.samples = (base_samples, new_samples)
        #: ITL's draws of every percentile by (target, mode, side): one bootstrap for all
        self.itl_draws: dict[tuple[str, str, str], list[list[float]]] = {}

    def mode_changes(
        self,
        target: str,
        mode: str,
        blocks: tuple[Mapping[str, Any], Mapping[str, Any]],
        runs: tuple[RunInput, RunInput],
    ) -> tuple[list[Change], list[tuple[str, str]]]:
        """The changes of one target and mode, and the figures only one side has."""
        base_samples, new_samples = self.samples
        groups: tuple[GroupSamples | None, GroupSamples | None] = (None, None)
        if base_samples is not None and new_samples is not None:
            groups = (base_samples.get((target, mode)), new_samples.get((target, mode)))
        changes: list[Change] = []
        missing: list[tuple[str, str]] = []
        for figure in LATENCY_FIGURES:
            present = [figure.key in block for block in blocks]
            if present[0] != present[1]:
                missing.append((figure.name, "BASE" if present[0] else "NEW"))
            for percentile in PERCENTILES:
                change = self.latency(target, mode, figure, percentile, blocks, groups)
                if change is not None:
                    changes.append(change)
        estimates = [failure_estimate(block) for block in blocks]
        self.add(changes, missing, target, mode, FAILURE_RATIO, estimates, "wilson")
        seconds = [
            measured_seconds(block, number_at(run.run, "duration_s"))
            for block, run in zip(blocks, runs, strict=True)
        ]
        for figure in (REQUESTS_PER_S, OUTPUT_TOKENS_PER_S, GOODPUT_PER_S):
            estimates = [
                rate_estimate(
                    block,
                    figure,
                    duration,
                    tokens_sum_of_squares=None if group is None else group.tokens_squared,
                )
                for block, duration, group in zip(blocks, seconds, groups, strict=True)
            ]
            self.add(changes, missing, target, mode, figure, estimates, "poisson")
        return changes, missing

    def add(
        self,
        changes: list[Change],
        missing: list[tuple[str, str]],
        target: str,
        mode: str,
        figure: Figure,
        estimates: Sequence[Estimate | None],
        method: str,
    ) -> None:
        """Append the change of a figure both sides estimate, or note the side that has it."""
        base, new = estimates
        if base is None or new is None:
            if base is not None or new is not None:
                missing.append((figure.name, "BASE" if base is not None else "NEW"))
            return
        interval = mover_difference(base.value, base.interval, new.value, new.interval)
        changes.append(self.change(target, mode, figure, "", (base, new), interval, method))

    def change(
        self,
        target: str,
        mode: str,
        figure: Figure,
        percentile: str,
        estimates: tuple[Estimate, Estimate],
        interval: Interval,
        method: str,
    ) -> Change:
        base, new = estimates
        verdict = verdict_of(interval, figure.direction)
        worse_by = worsening(base.value, new.value, figure.direction)
        return Change(
            target=target,
            mode=mode,
            figure=figure,
            percentile=percentile,
            base=base.value,
            new=new.value,
            interval=interval,
            method=method,
            verdict=verdict,
            regression=is_regression(verdict, worse_by, self.threshold),
            counts=(base.count, new.count),
        )

    def latency(
        self,
        target: str,
        mode: str,
        figure: Figure,
        percentile: str,
        blocks: tuple[Mapping[str, Any], Mapping[str, Any]],
        groups: tuple[GroupSamples | None, GroupSamples | None],
    ) -> Change | None:
        """One latency percentile: bootstrap when both runs' records have the figure, else
        MOVER on the summaries' ci95 intervals."""
        estimates = [latency_estimate(block, figure.key, percentile) for block in blocks]
        base, new = estimates
        if base is None or new is None:
            return None
        base_group, new_group = groups
        if base_group is not None and new_group is not None:
            booted = self.bootstrap(target, mode, figure, percentile, base_group, new_group)
            if booted is not None:
                pair, interval = booted
                return self.change(target, mode, figure, percentile, pair, interval, "bootstrap")
        interval = mover_difference(base.value, base.interval, new.value, new.interval)
        return self.change(target, mode, figure, percentile, (base, new), interval, "ci95")

    def bootstrap(
        self,
        target: str,
        mode: str,
        figure: Figure,
        percentile: str,
        base_group: GroupSamples,
        new_group: GroupSamples,
    ) -> tuple[tuple[Estimate, Estimate], Interval] | None:
        """The records' percentiles and the bootstrap interval of their change; None when
        either run's records lack the figure."""
        p = PERCENTILES[percentile]
        draws: list[list[float]] = []
        ends: list[tuple[bool, bool]] = []
        estimates: list[Estimate] = []
        for side, group in (("base", base_group), ("new", new_group)):
            if figure.key == ITL:
                sample = group.itl
                if sample.requests == 0:
                    return None
                draws.append(
                    self.itl(target, mode, side, group)[list(PERCENTILES).index(percentile)]
                )
                size = sample.effective_size(p) if sample.requests >= 2 else 0.0
                ends.append(bounded(size, p))
                estimates.append(Estimate(sample.percentile(p), (None, None), sample.samples))
                continue
            values = group.values.get(figure.key) or []
            if not values:
                return None
            rng = seeded(f"{target}/{mode}/{figure.key}/{percentile}/{side}")
            draws.append(percentile_draws(values, p, rng, self.resamples))
            ends.append(bounded(len(values), p))
            estimates.append(Estimate(percentile_of_sorted(values, p), (None, None), len(values)))
        low, high = difference_interval(draws[0], draws[1])
        (base_low, base_high), (new_low, new_high) = ends
        interval = (
            low if new_low and base_high else None,
            high if new_high and base_low else None,
        )
        return (estimates[0], estimates[1]), interval

    def itl(self, target: str, mode: str, side: str, group: GroupSamples) -> list[list[float]]:
        """ITL's draws of p50, p95 and p99 of one side, from one request-level bootstrap."""
        key = (target, mode, side)
        draws = self.itl_draws.get(key)
        if draws is None:
            rng = seeded(f"{target}/{mode}/{ITL}/{side}")
            draws = group.itl.draws(tuple(PERCENTILES.values()), rng, self.resamples)
            self.itl_draws[key] = draws
        return draws


def _missing(
    these: Mapping[str, Mapping[str, Any]], others: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    return [name for name in these if name not in others]


def _target_title(name: str) -> str:
    return f"target {name}" if name else "the run's one target (no targets:)"


def _ordered(base: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    names = [m for m in MODES if m in base or m in new]
    return names + sorted({*base, *new} - set(names))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}

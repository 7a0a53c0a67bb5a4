"""What the reports need beyond the run's totals, added to the summary document.

`complete_summary()` adds per-mode quantiles of every latency figure (the CDF plots), the
timeline (figures over time), the models and endpoint, the scenario's name, the estimated
cost (harness.report.cost), the goodput limits and the SLO verdicts (harness.slo) to what
`LLMRun.summary()` built. Pure: standard library and the pure core only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.report.cost import estimate_cost
from harness.slo import evaluate
from harness.stats import LatencyHistogram, RunStats

if TYPE_CHECKING:
    from harness.load.goodput import GoodputLimits
    from harness.options import RunConfig

#: The percentiles of each latency figure kept for CDF plots (0 is the min, 100 the max).
QUANTILE_POINTS: tuple[float, ...] = (0, *range(1, 100), 99.5, 99.9, 100)
_QUANTILE_FIGURES = ("ttft_s", "itl_s", "inter_chunk_s", "tpot_s", "e2e_s", "first_visible_s")


def complete_summary(
    summary: dict[str, Any],
    *,
    stats: RunStats,
    config: RunConfig | None,
    timeline: dict[str, Any] | None,
) -> dict[str, Any]:
    """Add quantiles, timeline, models, endpoint, scenario, cost and SLO results."""
    for mode, quantiles in mode_quantiles(stats).items():
        if mode in summary["modes"]:
            summary["modes"][mode]["quantiles"] = quantiles
    if timeline is not None and timeline["points"]:
        summary["timeline"] = timeline
    tokens: dict[str, tuple[int, int]] = {}
    for group in stats.groups():
        if not group.model:
            continue
        before = tokens.get(group.model, (0, 0))
        tokens[group.model] = (
            before[0] + group.input_tokens,
            before[1] + group.output_tokens,
        )
    if tokens:
        summary["run"]["models"] = sorted(tokens)
    if config is None:
        return summary
    if config.target is not None:
        path = "/chat/completions" if config.chat else "/completions"
        summary["run"]["endpoint"] = config.target.path_prefix + path
    if config.scenario is not None:
        scenario = config.scenario
        summary["run"]["scenario"] = scenario.name or Path(scenario.path).name
    cost = estimate_cost(tokens, config.pricing)
    if cost is not None:
        summary["cost"] = cost
    if config.goodput is not None:
        add_goodput_limits(summary, config.goodput)
    summary["slos"] = evaluate(config.slos, summary)
    return summary


def add_goodput_limits(summary: dict[str, Any], limits: GoodputLimits) -> None:
    """Put the limits that apply to each mode first in its `goodput` block (the statistics
    count the requests that met them and never see the limits): in `modes`, per model and
    per stage."""
    containers = [summary.get("modes")]
    stages = summary.get("stages")
    if isinstance(stages, list):
        containers += [stage.get("modes") for stage in stages if isinstance(stage, dict)]
    for modes in containers:
        if not isinstance(modes, dict):
            continue
        for mode, figures in modes.items():
            entries = [figures, *(figures.get("models") or {}).values()]
            for entry in entries:
                block = entry.get("goodput")
                if isinstance(block, dict):
                    entry["goodput"] = {"limits": limits.to_dict(mode), **block}


def mode_quantiles(stats: RunStats) -> dict[str, dict[str, Any]]:
    """Per mode, `QUANTILE_POINTS` of every latency figure with data (for CDF plots)."""
    merged: dict[str, dict[str, LatencyHistogram]] = {}
    for group in stats.groups():
        by_name = merged.setdefault(group.mode, {})
        for name, histogram in group.histograms().items():
            if name in _QUANTILE_FIGURES and histogram.count:
                by_name.setdefault(name, LatencyHistogram()).merge(histogram)
    out: dict[str, dict[str, Any]] = {}
    for mode, by_name in merged.items():
        if not by_name:
            continue
        entry: dict[str, Any] = {"percentiles": list(QUANTILE_POINTS)}
        for name in _QUANTILE_FIGURES:
            if name in by_name:
                entry[name] = by_name[name].percentiles(QUANTILE_POINTS)
        out[mode] = entry
    return out

"""What the reports need beyond the run's totals, added to the summary document.

`complete_summary()` adds per-mode quantiles of every latency figure (the CDF plots), the
timeline (figures over time), the models and endpoint, the scenario's name, the estimated
cost (harness.report.cost), the goodput limits and the SLO verdicts (harness.slo) to what
`LLMRun.summary()` built.

With targets (``targets:``, `RunConfig.targets`), each entry of the summary's ``targets`` gets
the same: its quantiles, its endpoint, its cost at its own prices and its cost per 1,000
finished requests; every SLO is judged for every target (each result named
``"fast: stream ttft p95"`` and keyed ``"target"``), so the exit code follows all of them;
and ``gateway_overhead`` holds what each gateway (``via``) adds to its upstream's figures
(harness.report.overhead). The run's own ``modes``, quantiles and ``cost`` then are the first
target's, as for a reader of one target's summary. Pure: standard library and the pure
layers only.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.protocols.registry import make_protocol
from harness.report.cost import estimate_cost, per_1k_requests
from harness.report.overhead import gateway_overhead
from harness.report.targets import finished_requests, target_entries
from harness.slo import evaluate
from harness.stats import LatencyHistogram, RunStats

if TYPE_CHECKING:
    from harness.load.goodput import GoodputLimits
    from harness.options import RunConfig
    from harness.targets import RunTarget

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
    """Add quantiles, timeline, models, endpoint, scenario, cost and SLO results (and, with
    targets, each target's and the gateway overhead)."""
    targets = target_entries(summary)
    first = next(iter(targets), None)
    for mode, quantiles in mode_quantiles(stats, target=first).items():
        if mode in summary["modes"]:
            summary["modes"][mode]["quantiles"] = quantiles
    for name, entry in targets.items():
        modes = entry.get("modes")
        if isinstance(modes, dict):
            for mode, quantiles in mode_quantiles(stats, target=name).items():
                if isinstance(modes.get(mode), dict):
                    modes[mode]["quantiles"] = quantiles
    if timeline is not None and timeline["points"]:
        summary["timeline"] = timeline
    tokens = model_tokens(stats)
    if tokens:
        summary["run"]["models"] = sorted(tokens)
    if any(isinstance(entry.get("via"), str) for entry in targets.values()):
        summary["gateway_overhead"] = gateway_overhead(summary)
    if config is None:
        return summary
    if config.target is not None:
        path = make_protocol(config.protocol, chat=config.chat).path
        summary["run"]["endpoint"] = config.target.path_prefix + path
        summary["run"]["protocol"] = config.protocol
    if config.scenario is not None:
        scenario = config.scenario
        summary["run"]["scenario"] = scenario.name or Path(scenario.path).name
    run_targets = {target.name: target for target in config.targets}
    if targets:
        for name, entry in targets.items():
            if name in run_targets and isinstance(entry, dict):
                complete_target(entry, run_targets[name], stats)
        first_cost = targets[first].get("cost") if first is not None else None
        if isinstance(first_cost, dict):
            summary["cost"] = copy.deepcopy(first_cost)
    else:
        cost = estimate_cost(tokens, config.pricing)
        if cost is not None:
            summary["cost"] = cost
    if config.goodput is not None:
        add_goodput_limits(summary, config.goodput)
        for entry in targets.values():
            if isinstance(entry, dict):
                add_goodput_limits(entry, config.goodput)
    if targets:
        summary["slos"] = evaluate_per_target(config, summary)
    else:
        summary["slos"] = evaluate(config.slos, summary)
    return summary


def complete_target(entry: dict[str, Any], target: RunTarget, stats: RunStats) -> None:
    """Add a target's endpoint, its cost at its own prices and its cost per 1,000 finished
    requests to its entry of summary.json's ``targets``."""
    path = make_protocol(target.protocol, chat=target.chat).path
    entry["endpoint"] = target.target.path_prefix + path
    cost = estimate_cost(model_tokens(stats, target=target.name), target.pricing)
    if cost is None:
        return
    entry["cost"] = cost
    modes = entry.get("modes")
    per_1k = per_1k_requests(cost["total"], finished_requests(modes if modes else {}))
    if per_1k is not None:
        entry["cost_per_1k_requests"] = per_1k


def evaluate_per_target(config: RunConfig, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Every SLO judged on every target's figures, in target order: each result named
    ``"<target>: <gate>"`` with a ``"target"`` key."""
    results: list[dict[str, Any]] = []
    for name, entry in target_entries(summary).items():
        for result in evaluate(config.slos, {"modes": entry.get("modes") or {}}):
            results.append({**result, "name": f"{name}: {result['name']}", "target": name})
    return results


def model_tokens(stats: RunStats, *, target: str | None = None) -> dict[str, tuple[int, int]]:
    """(input tokens, output tokens) by model, of `target`'s requests (None: every request)."""
    tokens: dict[str, tuple[int, int]] = {}
    for group in stats.groups():
        if not group.model or (target is not None and group.target != target):
            continue
        before = tokens.get(group.model, (0, 0))
        tokens[group.model] = (
            before[0] + group.input_tokens,
            before[1] + group.output_tokens,
        )
    return tokens


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


def mode_quantiles(stats: RunStats, *, target: str | None = None) -> dict[str, dict[str, Any]]:
    """Per mode, `QUANTILE_POINTS` of every latency figure with data (for CDF plots), of
    `target`'s requests (None: every request)."""
    merged: dict[str, dict[str, LatencyHistogram]] = {}
    for group in stats.groups():
        if target is not None and group.target != target:
            continue
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

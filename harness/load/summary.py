"""The load parts of summary.json: `run.load` and `stages[]`.

`run.load` says how the load was offered and what became of it: for an open-loop run the
arrival process, the offered rate (the plan's, over the measured time) and the achieved one
(requests sent per second), the arrivals scheduled, sent, dropped and left unsent, the schedule
lag, the in-flight cap; when the achieved rate falls more than 5 % short of the offered one,
`shortfall` says so in one line, with the reason the figures can tell. `stages[]` holds each
stage's own figures (the `"modes"` form) when the plan has stages.

Pure: standard library and the harness's pure modules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.load.accounting import ArrivalTally
from harness.load.plan import LoadPlan
from harness.stats import LatencyHistogram, RunStats

#: achieved under this share of offered: the run says so
SHORTFALL_RATIO = 0.95
#: a pool this full (by Little's law) counts as the in-flight cap reached
CAP_REACHED_RATIO = 0.9


def _open_window(plan: LoadPlan, elapsed_s: float) -> tuple[float, float]:
    """Measured seconds of open stages, and the requests the plan offered in them."""
    seconds = offered = 0.0
    for index, begin, end in plan.measured_intervals(elapsed_s):
        if plan.stages[index].is_open:
            seconds += end - begin
            offered += plan.offered_between(begin, end)
    return seconds, offered


def load_block(
    plan: LoadPlan,
    arrivals: ArrivalTally,
    stats: RunStats,
    *,
    elapsed_s: float,
    warmup_requests: int,
    pacer: str,
    workers: int,
    client_saturated: bool,
    copies: int = 1,
) -> dict[str, Any]:
    """`run.load` of summary.json. `copies`: how many targets each arrival is sent to
    (every count is of requests, so the offered rate is the schedule's times `copies`)."""
    block: dict[str, Any] = {"kind": "open" if plan.is_open else "closed"}
    if plan.duration_s is not None:
        elapsed_s = min(elapsed_s, plan.duration_s)  # the stop came a moment after the end
    if plan.warmup_s or any(s.warmup_s for s in plan.stages):
        block["warmup_s"] = plan.warmup_time_within(elapsed_s)
        block["warmup_requests"] = warmup_requests
    if len(plan.stages) > 1:
        block["stages"] = len(plan.stages)
    if not plan.is_open:
        return block
    seconds, offered = _open_window(plan, elapsed_s)
    offered *= copies
    total = arrivals.total()
    block["process"] = plan.arrival
    if plan.arrival == "gamma":
        block["burstiness"] = plan.burstiness
    block["seed"] = plan.seed
    block["max_in_flight"] = plan.max_in_flight
    if plan.max_schedule_lag_s is not None:
        block["max_schedule_lag_s"] = plan.max_schedule_lag_s
    block["measured_s"] = seconds
    if seconds > 0:
        block["offered_rate_per_s"] = offered / seconds
        block["achieved_rate_per_s"] = total.sent / seconds
    block["scheduled"] = total.scheduled
    block["sent"] = total.sent
    block["dropped"] = total.dropped
    block["unsent_at_end"] = total.unsent_at_end
    block["by_mode"] = {
        mode: {
            "scheduled": c.scheduled,
            "sent": c.sent,
            "dropped": c.dropped,
            "unsent_at_end": c.unsent_at_end,
        }
        for mode, c in sorted(arrivals.modes.items())
    }
    lag = LatencyHistogram()
    e2e = LatencyHistogram()
    for group in stats.groups():
        lag.merge(group.schedule_lag_s)
        e2e.merge(group.e2e_s)
    lag_figures = lag.summary()
    if lag_figures is not None:
        block["schedule_lag_s"] = lag_figures
    block["pacer"] = pacer
    block["processes"] = workers
    line = shortfall(block, e2e.mean, client_saturated=client_saturated)
    if line:
        block["shortfall"] = line
    return block


def shortfall(block: Mapping[str, Any], e2e_mean_s: float | None, *, client_saturated: bool) -> str:
    """One line when the achieved rate is more than 5 % under the offered one; "" if not."""
    offered = block.get("offered_rate_per_s")
    achieved = block.get("achieved_rate_per_s")
    if not offered or achieved is None or achieved >= SHORTFALL_RATIO * offered:
        return ""
    scheduled, sent = block.get("scheduled"), block.get("sent")
    if isinstance(scheduled, int) and isinstance(sent, int) and sent >= SHORTFALL_RATIO * scheduled:
        # every request that fell due went out: a random schedule drew fewer, no shortfall
        return ""
    head = f"achieved {achieved:.3g}/s of the {offered:.3g}/s offered ({achieved / offered:.0%})"
    dropped = block.get("dropped", 0)
    if dropped:
        head += f", {dropped} dropped past max_schedule_lag"
    cap = int(block.get("max_in_flight", 0))
    if client_saturated:
        return head + ": the load generator was saturated (event-loop lag p99 above 10 ms)"
    if e2e_mean_s is not None and cap and offered * e2e_mean_s >= CAP_REACHED_RATIO * cap:
        needed = offered * e2e_mean_s
        return (
            f"{head}: the in-flight cap ({cap}) was reached: at a mean E2E of {e2e_mean_s:.3g}s, "
            f"{offered:.3g}/s needs about {needed:.0f} in flight; the server answered slower "
            "than requests arrived (raise --max-in-flight to offer the rate anyway)"
        )
    lag = block.get("schedule_lag_s") or {}
    p99 = lag.get("p99")
    tail = f" (schedule lag p99 {p99:.3g}s)" if p99 is not None else ""
    return head + f": requests waited for a free user{tail}"


def stage_blocks(
    plan: LoadPlan,
    stage_stats: Sequence[RunStats],
    elapsed_s: float | None,
    arrivals: ArrivalTally | None = None,
) -> list[dict[str, Any]]:
    """`stages[]`: each stage that began, with its own figures over its measured time."""
    if elapsed_s is None:
        return []
    blocks = []
    measured = {index: (begin, end) for index, begin, end in plan.measured_intervals(elapsed_s)}
    for index, stage in enumerate(plan.stages):
        start = plan.stage_start_s(index)
        if start >= elapsed_s:
            break
        begin, end = measured.get(index, (start, start))
        seconds = max(end - begin, 0.0)
        block: dict[str, Any] = {
            "index": index + 1,
            "label": stage.label,
            "kind": "open" if stage.is_open else "closed",
            "start_s": start,
            "measured_s": seconds,
        }
        if stage.duration_s is not None:
            block["duration_s"] = stage.duration_s
        if stage.is_open:
            block["offered_rate_per_s"] = stage.rate_per_s
        else:
            block["users"] = stage.users
        if stage.ramp_s:
            block["ramp_s"] = stage.ramp_s
        if stage.warmup_s:
            block["warmup_s"] = stage.warmup_s
        modes = stage_stats[index].summary(seconds)
        block["modes"] = modes
        counts = arrivals.stages.get(index) if arrivals is not None else None
        if stage.is_open and counts is not None:
            block["scheduled"] = counts.scheduled
            block["sent"] = counts.sent
            block["dropped"] = counts.dropped
            block["unsent_at_end"] = counts.unsent_at_end
        if stage.is_open and seconds > 0:
            sent = sum(m.get("requests", 0) for m in modes.values())
            block["achieved_rate_per_s"] = sent / seconds
        blocks.append(block)
    return blocks

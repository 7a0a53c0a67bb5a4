"""Sweeps: a series of load points in one run, the knee, and the highest rate within SLO.

A sweep is a staged plan (harness.load.plan) whose stages are its points. `SweepSpec` says
which points: explicit rates (open loop) or concurrencies (closed loop), or `auto`, which
does what the peers do: a synchronous point (one user per mode: the rate one request at a
time gives),
a saturating point (`max_in_flight` users: the most the endpoint completes), then open-loop
rates evenly between the two. Each point runs `stage_time_s`, its first `warmup_s` trimmed.

`next_stages` is the decision a running sweep takes near the end of each point, from the
figures of the points so far (`stage_blocks` in summary.json form): the auto rates once the
two closed points are measured, then — when goodput limits are set — a bisection between the
highest rate that met them and the lowest that did not, `bisect_steps` times.
`sweep_document` turns a finished run's summary into `sweep.json`: one entry per point, the
knee and `max_rate_within_slo` with its bracket.

Pure: standard library and the harness's pure modules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError, Outcome
from harness.load.plan import Stage, parse_rate
from harness.slo import SLO, evaluate

SCHEMA_ID = "locust-llm/sweep/v1"
#: a point is past the knee when it achieves less than this share of its offered rate…
ACHIEVED_RATIO = 0.95
#: …or its first visible output (p50, from the schedule) is this many times the lightest
#: point's
LATENCY_GROWTH = 3.0
#: a point meets the goodput limits when this share of its requests met every limit
DEFAULT_ATTAINMENT = 0.95
DEFAULT_AUTO_POINTS = 6
DEFAULT_BISECT_STEPS = 3
_SPEC = re.compile(r"^\s*(auto|rates|concurrency)\s*(?::\s*(.*))?$")


@dataclass(frozen=True, slots=True)
class SweepSpec:
    """What a sweep runs. `values` are rates (per second) or user counts."""

    kind: str
    values: tuple[float, ...] = ()
    stage_time_s: float = 60.0
    warmup_s: float = 10.0
    max_in_flight: int = 512
    auto_points: int = DEFAULT_AUTO_POINTS
    bisect_steps: int = DEFAULT_BISECT_STEPS
    attainment: float = DEFAULT_ATTAINMENT
    #: the synchronous point's users: one per mode that runs (one request at a time each)
    sync_users: int = 1

    def to_text(self) -> str:
        """``auto``, ``rates:1,2,4`` or ``concurrency:1,8,32`` (`parse_sweep`'s input)."""
        if self.kind == "auto":
            return "auto"
        return f"{self.kind}:" + ",".join(f"{v:g}" for v in self.values)


def parse_sweep(value: Any, where: str) -> tuple[str, tuple[float, ...]] | None:
    """`--llm-sweep`: ``auto``, ``rates:1,2,4`` or ``concurrency:1,8,32``; empty: none."""
    text = str(value).strip()
    if not text:
        return None
    match = _SPEC.match(text)
    if match is None:
        raise ConfigError(
            f"{where}: expected auto, rates:R1,R2,… or concurrency:N1,N2,…, got {text!r}"
        )
    kind, listed = match.group(1), (match.group(2) or "").strip()
    if kind == "auto":
        if listed:
            raise ConfigError(f"{where}: auto takes no values, got {text!r}")
        return kind, ()
    items = [item.strip() for item in listed.split(",") if item.strip()]
    if not items:
        raise ConfigError(f"{where}: {kind} needs at least one value, e.g. {kind}:1,2,4")
    values: list[float] = []
    for item in items:
        if kind == "rates":
            rate = parse_rate(item, where)
            if rate <= 0:
                raise ConfigError(f"{where}: a rate must be above 0, got {item!r}")
            values.append(rate)
        else:
            if not item.isdigit() or int(item) < 1:
                raise ConfigError(
                    f"{where}: a concurrency is a whole number of users, got {item!r}"
                )
            values.append(float(int(item)))
    if sorted(values) != values or len(set(values)) != len(values):
        raise ConfigError(f"{where}: give the {kind} in increasing order, each once")
    return kind, tuple(values)


def initial_stages(spec: SweepSpec) -> tuple[Stage, ...]:
    """The points known before the run: all of them, or the two closed points of `auto`."""
    duration, warmup = spec.stage_time_s, spec.warmup_s
    if spec.kind == "rates":
        return tuple(Stage(duration, rate_per_s=r, warmup_s=warmup) for r in spec.values)
    if spec.kind == "concurrency":
        return tuple(Stage(duration, users=int(n), warmup_s=warmup) for n in spec.values)
    return (
        Stage(duration, users=spec.sync_users, warmup_s=warmup),
        Stage(duration, users=max(spec.max_in_flight, spec.sync_users), warmup_s=warmup),
    )


def auto_rates(sync_per_s: float, max_per_s: float, points: int) -> tuple[float, ...]:
    """`points` open-loop rates evenly between the synchronous and the saturating
    throughput, both ends excluded (they were measured closed loop)."""
    low, high = min(sync_per_s, max_per_s), max(sync_per_s, max_per_s)
    if high <= 0:
        return ()
    if high - low < 1e-9:
        return (_round_rate(high),)
    step = (high - low) / (points + 1)
    rates = {_round_rate(low + step * (i + 1)) for i in range(points)}
    return tuple(sorted(r for r in rates if r > 0))


def _round_rate(rate: float) -> float:
    """Three significant digits: rates people can read and rerun."""
    if rate <= 0:
        return 0.0
    digits = 2 - math.floor(math.log10(rate))
    return round(rate, max(digits, 0))


# ------------------------------------------------------------------ one point's figures


def point_of(stage: Mapping[str, Any], slos: Sequence[SLO] = ()) -> dict[str, Any]:
    """A sweep point from one `stages[]` entry of summary.json."""
    modes = stage.get("modes") if isinstance(stage.get("modes"), Mapping) else {}
    assert isinstance(modes, Mapping)
    point: dict[str, Any] = {
        "index": stage.get("index"),
        "label": stage.get("label"),
        "kind": stage.get("kind"),
        "measured_s": stage.get("measured_s"),
    }
    measured = _number(stage.get("measured_s")) or 0.0
    completed = sum(_completed(m) for m in modes.values() if isinstance(m, Mapping))
    if stage.get("kind") == "open":
        point["offered_rate_per_s"] = stage.get("offered_rate_per_s")
        if "achieved_rate_per_s" in stage:
            point["achieved_rate_per_s"] = stage["achieved_rate_per_s"]
        for name in ("scheduled", "sent", "dropped", "unsent_at_end", "stopped_early"):
            if name in stage:
                point[name] = stage[name]
    else:
        point["users"] = stage.get("users")
    if measured > 0:
        point["throughput_per_s"] = completed / measured
        tokens = sum(int(_number(m.get("output_tokens")) or 0) for m in modes.values())
        point["output_tokens_per_s"] = tokens / measured
    requests = sum(int(_number(m.get("requests")) or 0) for m in modes.values())
    failed = sum(
        int(_number((m.get("outcomes") or {}).get(Outcome.FAILED)) or 0) for m in modes.values()
    )
    point["requests"] = requests
    point["failures"] = failed
    per_mode: dict[str, Any] = {}
    for mode, figures in modes.items():
        if not isinstance(figures, Mapping):
            continue
        entry: dict[str, Any] = {}
        for name in ("first_visible_s", "ttft_s", "itl_s", "e2e_s"):
            block = figures.get(name)
            if isinstance(block, Mapping):
                entry[name] = {p: block[p] for p in ("p50", "p95", "p99") if p in block}
        from_schedule = figures.get("from_schedule")
        if isinstance(from_schedule, Mapping):
            block = from_schedule.get("first_visible_s")
            if isinstance(block, Mapping):
                entry["from_schedule_first_visible_s"] = {
                    p: block[p] for p in ("p50", "p95", "p99") if p in block
                }
        goodput = figures.get("goodput")
        if isinstance(goodput, Mapping):
            entry["goodput"] = dict(goodput)
        per_mode[str(mode)] = entry
    point["modes"] = per_mode
    attainment = _attainment(modes)
    if attainment is not None:
        point["slo_attainment"] = attainment
        if measured > 0:
            met = sum(
                int(_number((m.get("goodput") or {}).get("met")) or 0) for m in modes.values()
            )
            point["goodput_per_s"] = met / measured
    if slos:
        results = evaluate(slos, {"modes": modes})
        point["slos_passed"] = all(r["passed"] for r in results)
    return point


def _completed(figures: Mapping[str, Any]) -> int:
    requests = int(_number(figures.get("requests")) or 0)
    outcomes = figures.get("outcomes") if isinstance(figures.get("outcomes"), Mapping) else {}
    assert isinstance(outcomes, Mapping)
    return requests - int(_number(outcomes.get(Outcome.CANCELLED)) or 0)


def _attainment(modes: Mapping[str, Any]) -> float | None:
    met = judged = 0
    seen = False
    for figures in modes.values():
        goodput = figures.get("goodput") if isinstance(figures, Mapping) else None
        if not isinstance(goodput, Mapping):
            continue
        seen = True
        met += int(_number(goodput.get("met")) or 0)
        judged += _completed(figures)
    if not seen or judged == 0:
        return None
    return met / judged


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def meets(point: Mapping[str, Any], attainment: float) -> bool | None:
    """Whether a point met the goodput limits (attainment) and the SLO gates; None when
    neither was set."""
    verdicts = []
    value = point.get("slo_attainment")
    if isinstance(value, int | float):
        verdicts.append(value >= attainment)
    if "slos_passed" in point:
        verdicts.append(bool(point["slos_passed"]))
    return all(verdicts) if verdicts else None


def _first_visible_p50(point: Mapping[str, Any]) -> float | None:
    """The worst mode's first visible output p50, from the schedule when it was open loop."""
    worst = None
    for entry in (point.get("modes") or {}).values():
        block = entry.get("from_schedule_first_visible_s") or entry.get("first_visible_s")
        value = _number((block or {}).get("p50"))
        if value is not None and (worst is None or value > worst):
            worst = value
    return worst


# ------------------------------------------------------------------ the knee and the SLO rate


def knee(points: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The last open-loop point before the first one past saturation: achieved under 95 % of
    offered, or first visible output p50 (from the schedule) over 3× the lightest point's.
    None without open-loop points; with no point past saturation, the last one, noted."""
    opened = sorted(
        (p for p in points if p.get("kind") == "open" and _number(p.get("offered_rate_per_s"))),
        key=lambda p: float(p["offered_rate_per_s"]),
    )
    if not opened:
        return None
    baseline = _first_visible_p50(opened[0])
    previous: Mapping[str, Any] | None = None
    for point in opened:
        offered = float(point["offered_rate_per_s"])
        latency = _first_visible_p50(point)
        reason = ""
        # sent against the requests that fell due (not the nominal rate: a Poisson schedule
        # offers a little more or less in a short point)
        scheduled, sent = _number(point.get("scheduled")), _number(point.get("sent"))
        if scheduled and sent is not None and sent < ACHIEVED_RATIO * scheduled:
            reason = (
                f"at {offered:g}/s only {sent:.0f} of the {scheduled:.0f} requests due were sent"
            )
        elif baseline and latency is not None and latency > LATENCY_GROWTH * baseline:
            reason = (
                f"at {offered:g}/s first visible output p50 was {latency:.3g}s, over "
                f"{LATENCY_GROWTH:g}× the {baseline:.3g}s at {opened[0]['offered_rate_per_s']:g}/s"
            )
        if not reason and point.get("stopped_early"):
            reason = f"at {offered:g}/s the point was stopped early, past saturation"
        if reason:
            if previous is None:
                return {"index": None, "offered_rate_per_s": None,
                        "reason": f"saturated at the lightest point: {reason}"}  # fmt: skip
            return {
                "index": previous["index"],
                "offered_rate_per_s": previous["offered_rate_per_s"],
                "reason": reason,
            }
        previous = point
    assert previous is not None
    return {
        "index": previous["index"],
        "offered_rate_per_s": previous["offered_rate_per_s"],
        "reason": "no point was past saturation: the knee is at or above the highest rate",
        "open_above": True,
    }


def slo_bracket(
    points: Sequence[Mapping[str, Any]], attainment: float
) -> tuple[float | None, float | None] | None:
    """(highest rate that met the SLOs below the lowest that did not, that lowest rate);
    None when no open point was judged. Either end may be None (none met / none failed)."""
    judged = []
    for p in points:
        rate = _number(p.get("offered_rate_per_s"))
        verdict = meets(p, attainment)
        if p.get("kind") == "open" and rate is not None and verdict is not None:
            judged.append((rate, verdict))
    if not judged:
        return None
    judged.sort()
    failing = [rate for rate, ok in judged if not ok]
    lowest_fail = failing[0] if failing else None
    passing = [rate for rate, ok in judged if ok and (lowest_fail is None or rate < lowest_fail)]
    return (passing[-1] if passing else None, lowest_fail)


def max_rate_within_slo(
    points: Sequence[Mapping[str, Any]], attainment: float
) -> dict[str, Any] | None:
    """`max_rate_within_slo` of sweep.json: the highest rate measured to meet the SLOs, the
    bracket the true value lies in, and half its width as the uncertainty."""
    bracket = slo_bracket(points, attainment)
    if bracket is None:
        return None
    low, high = bracket
    out: dict[str, Any] = {"attainment": attainment, "bracket_per_s": [low, high]}
    if low is None:
        out["rate_per_s"] = None
        out["note"] = "no rate met the SLOs: the highest rate within them is below the lowest tried"
        return out
    out["rate_per_s"] = low
    if high is None:
        out["note"] = "every rate tried met the SLOs: the highest rate within them is above it"
    else:
        out["uncertainty_per_s"] = (high - low) / 2
    return out


# ------------------------------------------------------------------ the running decision


def next_stages(
    spec: SweepSpec, stages: Sequence[Mapping[str, Any]], *, bisected: int
) -> tuple[tuple[Stage, ...], bool]:
    """The stages a running sweep adds after the points so far, and whether it is done.

    `stages` are the `stages[]` blocks measured so far (the last one nearly finished);
    `bisected` the bisection points already added.
    """
    points = [point_of(s) for s in stages]
    duration, warmup = spec.stage_time_s, spec.warmup_s
    if spec.kind == "auto" and len(points) == 2 and all(p["kind"] == "closed" for p in points):
        sync = _number(points[0].get("throughput_per_s")) or 0.0
        most = _number(points[1].get("throughput_per_s")) or 0.0
        rates = auto_rates(sync, most, spec.auto_points)
        if rates:
            return tuple(Stage(duration, rate_per_s=r, warmup_s=warmup) for r in rates), False
        return (), True
    if bisected >= spec.bisect_steps:
        return (), True
    bracket = slo_bracket(points, spec.attainment)
    if bracket is None:
        return (), True
    low, high = bracket
    if low is None or high is None or high - low <= 0.05 * high:
        return (), True
    middle = _round_rate((low + high) / 2)
    if middle in (low, high):
        return (), True
    return (Stage(duration, rate_per_s=middle, warmup_s=warmup),), False


def sweep_document(
    summary: Mapping[str, Any], spec: SweepSpec, slos: Sequence[SLO] = ()
) -> dict[str, Any]:
    """`sweep.json`: the points, the knee and the highest rate within SLO."""
    stages = summary.get("stages")
    points = [point_of(s, slos) for s in stages if isinstance(s, Mapping)] if stages else []
    doc: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "sweep": {
            "spec": spec.to_text(),
            "stage_time_s": spec.stage_time_s,
            "warmup_s": spec.warmup_s,
            "attainment": spec.attainment,
        },
        "run": dict(summary.get("run") or {}),
        "points": points,
    }
    found = knee(points)
    if found is not None:
        doc["knee"] = found
    best = max_rate_within_slo(points, spec.attainment)
    if best is not None:
        doc["max_rate_within_slo"] = best
    return doc


def sweep_exit_met(doc: Mapping[str, Any]) -> bool | None:
    """Whether any point met the SLOs (None: none was judged)."""
    verdicts = [meets(p, float(doc["sweep"]["attainment"])) for p in doc.get("points", [])]
    judged = [v for v in verdicts if v is not None]
    return any(judged) if judged else None

"""Whether BASE and NEW ran the same workload: the differences worth a warning.

Comparing runs of different work is allowed (that may be the point of the comparison), but the
reader should know. `workload_warnings(base, new)` returns one line per difference, from the
summaries' `run` objects: the scenario, the workload (what the users sent), the models, the
endpoint, the users, the load shape (`run.load`: closed or open loop, arrival process,
burstiness, stages, and an offered rate more than 5 % apart), the lengths the workload asked
for (a mode's mean requested input or output tokens more than 10 % apart), and a load
generator that was saturated (its latencies include its own delays). Pure: standard library
and the report layer only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.errors import MODES
from harness.report.units import number_at

#: offered rates further apart than this share are a different load
RATE_TOLERANCE = 0.05
#: requested lengths further apart than this share are a different workload
LENGTH_TOLERANCE = 0.10


def workload_warnings(base: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """One line per way the two summaries' workloads differ (none when they match)."""
    base_run, new_run = _mapping(base.get("run")), _mapping(new.get("run"))
    lines: list[str] = []
    for key, what in (
        ("scenario", "scenario"),
        ("workload", "workload"),
        ("models", "models"),
        ("endpoint", "endpoint"),
        ("users", "users"),
    ):
        line = _differs(what, base_run.get(key), new_run.get(key))
        if line:
            lines.append(line)
    base_load, new_load = _mapping(base_run.get("load")), _mapping(new_run.get("load"))
    for key, what in (
        ("kind", "load"),
        ("process", "arrival process"),
        ("burstiness", "burstiness"),
        ("stages", "stages"),
    ):
        line = _differs(what, base_load.get(key), new_load.get(key))
        if line:
            lines.append(line)
    line = _far_apart(
        "offered rate",
        number_at(base_load, "offered_rate_per_s"),
        number_at(new_load, "offered_rate_per_s"),
        RATE_TOLERANCE,
        "/s",
    )
    if line:
        lines.append(line)
    lines += _length_warnings(_mapping(base.get("modes")), _mapping(new.get("modes")))
    for label, run in (("BASE", base_run), ("NEW", new_run)):
        if run.get("client_saturated") is True:
            lines.append(
                f"{label}: the load generator was saturated (client_saturated): its latencies "
                "include the generator's own delays"
            )
    return lines


def _length_warnings(base: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    lines = []
    for mode in MODES:
        for direction in ("input", "output"):
            line = _far_apart(
                f"{mode} requested {direction} tokens (mean)",
                _requested_mean(base.get(mode), direction),
                _requested_mean(new.get(mode), direction),
                LENGTH_TOLERANCE,
                "",
            )
            if line:
                lines.append(line)
    return lines


def _requested_mean(block: Any, direction: str) -> float | None:
    lengths = _mapping(_mapping(_mapping(block).get("workload")).get("lengths"))
    return number_at(_mapping(lengths.get(direction)).get("requested"), "mean")


def _differs(what: str, base: Any, new: Any) -> str | None:
    if base is None and new is None:
        return None
    if isinstance(base, list) and isinstance(new, list):
        if sorted(map(str, base)) == sorted(map(str, new)):
            return None
    elif base == new:
        return None
    return f"different {what}: {_shown(base)} in BASE, {_shown(new)} in NEW"


def _far_apart(what: str, base: float | None, new: float | None, share: float, unit: str) -> str:
    if base is None or new is None:
        return ""
    if abs(new - base) <= share * max(abs(base), abs(new)):
        return ""
    return f"different {what}: {base:.4g}{unit} in BASE, {new:.4g}{unit} in NEW"


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return repr(value) if isinstance(value, str) else str(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}

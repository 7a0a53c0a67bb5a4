"""SLO gates: the latency and error budgets a headless run is judged by (docs/design.md).

An `SLO` names a figure of summary.json and its limit: a latency percentile of one mode
(``stream ttft p95 <= 500ms``) or a failure ratio (``failure_ratio <= 0.01``), each a
maximum; or goodput (``goodput >= 5/s``) or SLO attainment (``slo_attainment >= 0.95``),
each a minimum, read from the modes' ``goodput`` blocks (harness.load.goodput). `evaluate()`
reads the figures from the summary's precise percentile blocks (never Locust's rounded
table) and returns one result per SLO in summary.json's ``"slos"`` form (harness.exit_code
turns them into the process exit code). A figure that is absent (no data) fails its SLO
with the reason, never passes silently.

Pure: standard library only; functions of the summary document.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import MODES, ConfigError, ErrorClass, Outcome, is_failure

LATENCY_METRICS = ("ttft", "itl", "tpot", "e2e", "first_visible")
"""Latency figures an SLO may gate; each is the summary block ``<metric>_s``."""
STREAM_ONLY_METRICS = ("ttft", "itl", "tpot")
"""Figures a batch request does not have (it shows nothing until the end)."""
FAILURE_RATIO = "failure_ratio"
GOODPUT = "goodput"
"""Requests per second that met every goodput limit (summary ``goodput.goodput_per_s``)."""
SLO_ATTAINMENT = "slo_attainment"
"""The share of finished requests that met every goodput limit (``goodput.slo_attainment``)."""
MIN_METRICS = (GOODPUT, SLO_ATTAINMENT)
"""Figures gated by a minimum (``min:``): more is better. Every other gate is a ``max:``."""
METRICS = (*LATENCY_METRICS, FAILURE_RATIO, *MIN_METRICS)
PERCENTILES = (50, 90, 95, 99)
"""The percentiles summary.json holds for every latency figure."""


@dataclass(frozen=True, slots=True)
class SLO:
    """One gate. `limit` is seconds for a latency metric, a ratio in [0, 1] for failure_ratio
    and slo_attainment, requests per second for goodput; it is a maximum, except for
    `MIN_METRICS` (goodput, slo_attainment), where it is a minimum.

    `mode` is required for latency metrics; for failure_ratio, goodput and
    slo_attainment, None means all modes together. `origin` says where the gate came from
    (``scenario.yaml:12:5`` or ``default``), for `--print-config`.
    """

    metric: str
    limit: float
    mode: str | None = None
    percentile: float | None = None
    name: str = ""
    origin: str = ""

    @property
    def title(self) -> str:
        """The gate's name in reports: `name`, else e.g. ``stream ttft p95``."""
        if self.name:
            return self.name
        parts = [self.mode] if self.mode else []
        parts.append(self.metric)
        if self.metric == GOODPUT:
            parts.append(f">= {self.limit:g}/s")
        elif self.metric == SLO_ATTAINMENT:
            parts.append(f">= {self.limit:g}")
        if self.percentile is not None:
            parts.append(f"p{self.percentile:g}")
        return " ".join(parts)


DEFAULT_FAILURE_GATE = SLO(FAILURE_RATIO, 0.0, name="failure_ratio", origin="default")
"""Added when a scenario sets no failure_ratio SLO: any failed request misses it."""


def with_default_failure_gate(slos: Sequence[SLO]) -> tuple[SLO, ...]:
    """`slos`, plus `DEFAULT_FAILURE_GATE` unless one of them gates failure_ratio."""
    if any(slo.metric == FAILURE_RATIO for slo in slos):
        return tuple(slos)
    return (*slos, DEFAULT_FAILURE_GATE)


def describe(slo: SLO) -> str:
    """``stream ttft p95 <= 500 ms`` / ``failure_ratio <= 1%`` for --print-config."""
    if slo.metric == FAILURE_RATIO:
        scope = f"{slo.mode} failure_ratio" if slo.mode else "failure_ratio"
        return f"{scope} <= {slo.limit:.4g} ({slo.limit * 100:.4g}% of finished requests)"
    scope = f"{slo.mode} {slo.metric}" if slo.mode else slo.metric
    if slo.metric == GOODPUT:
        return f"{scope} >= {slo.limit:.4g}/s (requests that met every goodput limit)"
    if slo.metric == SLO_ATTAINMENT:
        return (
            f"{scope} >= {slo.limit:.4g} ({slo.limit * 100:.4g}% of finished requests "
            "met every goodput limit)"
        )
    return f"{slo.mode} {slo.metric} p{slo.percentile:g} <= {_seconds(slo.limit)}"


def _seconds(value: float) -> str:
    return f"{value * 1000:.4g} ms" if value < 1 else f"{value:.4g} s"


def evaluate(slos: Iterable[SLO], summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One summary.json ``"slos"`` entry per SLO: name, limit, value, passed (and reason).

    Latency gates give ``limit_s``/``value_s``; failure-ratio gates ``limit``/``value``;
    they pass when value <= limit. The goodput gate gives ``min_per_s``/``value_per_s`` and
    the slo_attainment gate ``min``/``value``; they pass when value >= min.
    """
    modes = summary.get("modes")
    modes = modes if isinstance(modes, Mapping) else {}
    return [_evaluate_one(slo, modes) for slo in slos]


def _evaluate_one(slo: SLO, modes: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"name": slo.title, "metric": slo.metric}
    if slo.mode is not None:
        result["mode"] = slo.mode
    if slo.metric in MIN_METRICS:
        return _evaluate_minimum(slo, modes, result)
    if slo.metric == FAILURE_RATIO:
        result["limit"] = slo.limit
        ratio, reason = failure_ratio(modes, slo.mode)
        if ratio is None:
            result.update(passed=False, reason=reason)
        else:
            result.update(value=ratio, passed=ratio <= slo.limit)
        return result
    assert slo.percentile is not None
    assert slo.mode is not None
    result["percentile"] = slo.percentile
    result["limit_s"] = slo.limit
    figures = modes.get(slo.mode)
    block = figures.get(f"{slo.metric}_s") if isinstance(figures, Mapping) else None
    key = f"p{slo.percentile:g}"
    value = block.get(key) if isinstance(block, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        if not isinstance(figures, Mapping) or not figures.get("requests"):
            reason = f"no data: no {slo.mode} request was made"
        else:
            reason = f"no data: no {slo.mode} request produced a {slo.metric} figure"
        result.update(passed=False, reason=reason)
        return result
    result.update(value_s=float(value), passed=float(value) <= slo.limit)
    return result


def _evaluate_minimum(slo: SLO, modes: Mapping[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    value, reason = goodput_figure(modes, slo.metric, slo.mode)
    limit_key, value_key = (
        ("min_per_s", "value_per_s") if slo.metric == GOODPUT else ("min", "value")
    )
    result[limit_key] = slo.limit
    if value is None:
        result.update(passed=False, reason=reason)
    else:
        result.update({value_key: value, "passed": value >= slo.limit})
    return result


def goodput_figure(
    modes: Mapping[str, Any], metric: str, mode: str | None
) -> tuple[float | None, str | None]:
    """Goodput per second or SLO attainment of `mode` (None: all modes), or (None, reason).

    Over all modes, goodput is the sum of the modes' `goodput_per_s` and attainment the
    requests that met every limit over the finished ones of every mode.
    """
    chosen = [mode] if mode is not None else list(MODES)
    blocks = []
    finished = 0
    for name in chosen:
        figures = modes.get(name)
        block = figures.get("goodput") if isinstance(figures, Mapping) else None
        if isinstance(block, Mapping):
            blocks.append(block)
            outcomes = figures.get("outcomes") if isinstance(figures, Mapping) else None
            if isinstance(outcomes, Mapping):
                finished += sum(
                    n for k, n in outcomes.items() if _is_number(n) and k != Outcome.CANCELLED
                )
    if not blocks:
        what = f"{mode} request" if mode else "request"
        return None, f"no data: no {what} was judged against goodput limits"
    if metric == GOODPUT:
        rates = [b.get("goodput_per_s") for b in blocks]
        if not all(_is_number(r) for r in rates):
            return None, "no data: the run's duration is not known"
        return float(sum(float(r) for r in rates if r is not None)), None
    met = sum(int(b.get("met", 0)) for b in blocks)
    if finished == 0:
        what = f"{mode} request" if mode else "request"
        return None, f"no data: no {what} finished"
    return met / finished, None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_goodput_gates(slos: Iterable[SLO], has_limits: bool) -> None:
    """`ConfigError` (one line) for a goodput or slo_attainment gate without goodput limits."""
    if has_limits:
        return
    for slo in slos:
        if slo.metric in MIN_METRICS:
            where = f"{slo.origin}: " if slo.origin else ""
            raise ConfigError(
                f"{where}{slo.title}: a {slo.metric} gate needs goodput limits: set goodput: "
                "{ttft: 500ms, e2e: 20s} in the scenario or --llm-goodput ttft=500ms,e2e=20s"
            )


def failure_ratio(modes: Mapping[str, Any], mode: str | None) -> tuple[float | None, str | None]:
    """Failed / finished requests of `mode` (None: all modes), or (None, reason).

    Failed: every outcome but ok, ok_length, content_filtered and cancelled; finished:
    every request but the cancelled ones (in flight at the stop: neither success nor
    failure, docs/design.md).
    """
    chosen = [mode] if mode is not None else list(MODES)
    failed = finished = 0
    for name in chosen:
        figures = modes.get(name)
        if not isinstance(figures, Mapping):
            continue
        outcomes = figures.get("outcomes")
        if not isinstance(outcomes, Mapping):
            continue
        for outcome, n in outcomes.items():
            if not isinstance(n, int) or outcome == Outcome.CANCELLED:
                continue
            finished += n
            if is_failure(outcome):
                failed += n
    if finished == 0:
        what = f"{mode} request" if mode else "request"
        return None, f"no data: no {what} finished"
    return failed / finished, None


def harness_failures(summary: Mapping[str, Any]) -> int:
    """Requests that failed because of the harness itself (error class harness_internal),
    over every target of a run with ``targets`` (its ``modes`` are the first target's)."""
    targets = summary.get("targets")
    if isinstance(targets, Mapping) and targets:
        entries = [e.get("modes") for e in targets.values() if isinstance(e, Mapping)]
    else:
        entries = [summary.get("modes")]
    total = 0
    for modes in entries:
        if not isinstance(modes, Mapping):
            continue
        for figures in modes.values():
            errors = figures.get("errors") if isinstance(figures, Mapping) else None
            if isinstance(errors, Mapping):
                n = errors.get(ErrorClass.HARNESS_INTERNAL, 0)
                total += n if isinstance(n, int) else 0
    return total

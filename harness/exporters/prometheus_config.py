"""The Prometheus exporter's configuration: bucket layouts, option names, validation, settings.

Each latency family has one documented bucket layout (`DEFAULT_BUCKETS`); `--llm-buckets-…`
(or, later, a scenario key) replaces it after `check_buckets`. Every value is checked once, at
start-up, with a one-line `ConfigError` naming the option (catalogue CFG-05). Pure: standard
library and the harness core only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from harness.errors import ConfigError
from harness.scenario import parse_duration

# ------------------------------------------------------------------------------ bucket layouts
# Fine layouts (docs/prometheus.md): with vLLM's or Prometheus's default buckets, histogram_quantile
# was off by +13 % (ITL p50) and +38 % (TTFT p99) on a real run; with these, by under 3 %.

#: TTFT and TTFC: 10 ms … 80 s (docs/prometheus.md)
TTFT_BUCKETS_S: tuple[float, ...] = (
    0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75,
    1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 40.0, 60.0, 80.0,
)  # fmt: skip
#: ITL and TPOT: 1 ms … 80 s, 2.5 ms steps around typical decode speeds (docs/prometheus.md)
ITL_BUCKETS_S: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.02, 0.025, 0.03, 0.04, 0.05,
    0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0,
)  # fmt: skip
#: Renard R20 preferred numbers: steps of 10**(1/20) ≈ 12.2 %, rounded to three digits
_R20 = (1.0, 1.12, 1.25, 1.4, 1.6, 1.8, 2.0, 2.24, 2.5, 2.8,
        3.15, 3.55, 4.0, 4.5, 5.0, 5.6, 6.3, 7.1, 8.0, 9.0)  # fmt: skip
#: E2E: R20 from 50 ms to 315 s (77 bounds, steps of 11-14 %, 12.2 % on average)
E2E_BUCKETS_S: tuple[float, ...] = tuple(
    v for v in (round(m * 10.0**e, 6) for e in range(-2, 3) for m in _R20) if 0.05 <= v <= 315
)
#: first visible output is TTFT for streams and E2E for batch: TTFT's low end, then E2E's
FIRST_VISIBLE_BUCKETS_S: tuple[float, ...] = (0.01, 0.02, 0.03, 0.04, *E2E_BUCKETS_S)
#: the harness's own event-loop lag; 20 ms is the `client_saturated` threshold
LOOP_LAG_BUCKETS_S: tuple[float, ...] = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1,
    0.2, 0.5, 1.0, 2.0, 5.0,
)  # fmt: skip

#: The one bucket layout of each family (a future scenario key or `--llm-buckets-…` replaces
#: it; every series of a family shares it, so `sum by (le)` across modes stays valid)
#: open loop: send minus due time; sub-millisecond when the load generator keeps up, seconds
#: when every user is busy (client-side queueing)
SCHEDULE_LAG_BUCKETS_S = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip

DEFAULT_BUCKETS: Mapping[str, tuple[float, ...]] = {
    "ttft": TTFT_BUCKETS_S,
    "ttfc": TTFT_BUCKETS_S,
    "itl": ITL_BUCKETS_S,
    "tpot": ITL_BUCKETS_S,
    "e2e": E2E_BUCKETS_S,
    "first_visible": FIRST_VISIBLE_BUCKETS_S,
    "schedule_lag": SCHEDULE_LAG_BUCKETS_S,
}

PORT_OPTION = "--llm-prometheus-port"
HOST_OPTION = "--llm-prometheus-host"
LINGER_OPTION = "--llm-prometheus-linger"
SCENARIO_OPTION = "--llm-scenario-name"
DEFAULT_SCENARIO = "default"


def bucket_option(key: str) -> str:
    """The option that replaces bucket layout `key`: `--llm-buckets-first-visible`, …"""
    return "--llm-buckets-" + key.replace("_", "-")


# ------------------------------------------------------------------------------ validation


def check_buckets(bounds: Sequence[float], option: str) -> tuple[float, ...]:
    """Bounds (seconds) that strictly increase, at least two, finite and > 0; else ConfigError.

    prometheus_client refuses unsorted bounds but silently accepts duplicates (catalogue
    CFG-05); both are refused here, with the offending values. +Inf is always added.
    """
    if len(bounds) < 2:
        raise ConfigError(
            f"{option}: give at least 2 bucket bounds (one bound cannot place a percentile), "
            f"got {len(bounds)}"
        )
    for value in bounds:
        if math.isinf(value):
            raise ConfigError(f"{option}: leave out +Inf, it is always added")
        if not value > 0:  # also NaN
            raise ConfigError(f"{option}: bucket bounds must be greater than 0, got {value!r}")
    for before, after in pairwise(bounds):
        if after == before:
            raise ConfigError(f"{option}: duplicate bucket bound {after:g}")
        if after < before:
            raise ConfigError(
                f"{option}: bucket bounds must increase, but {after:g} follows {before:g}"
            )
    return tuple(float(b) for b in bounds)


def parse_buckets(text: str, option: str) -> tuple[float, ...]:
    """Parse `"10ms,20ms,50ms,1s"` (bare numbers are seconds) and `check_buckets` it."""
    items = [item.strip() for item in text.split(",")]
    bounds: list[float] = []
    for item in items:
        if item.lower().lstrip("+") in ("inf", "infinity"):
            raise ConfigError(f"{option}: leave out +Inf, it is always added")
        try:
            bounds.append(parse_duration(item, name=option))
        except ConfigError:
            raise ConfigError(
                f"{option}: bucket {item!r} is not a duration such as 250ms or 0.25"
            ) from None
    return check_buckets(bounds, option)


def parse_port(text: Any, option: str) -> int:
    """0 (off) or a TCP port in 1..65535; else ConfigError naming `option`."""
    try:
        port = int(str(text).strip())
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError(f"{option}: expected 0 (off) or a port in 1..65535, got {text!r}")
    return port


def check_scenario_name(text: str, option: str) -> str:
    """A scenario label value: 1-128 printable characters (it is a label on every series)."""
    name = text.strip()
    if not name or len(name) > 128 or not name.isprintable():
        raise ConfigError(f"{option}: expected 1-128 printable characters, got {text!r}")
    return name


# ------------------------------------------------------------------------------ settings


@dataclass(frozen=True, slots=True)
class PrometheusSettings:
    """The exporter's options, validated once (`from_options`); port 0 means off."""

    port: int = 0
    host: str = "127.0.0.1"
    linger_s: float = 0.0
    scenario: str = DEFAULT_SCENARIO
    buckets: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    @classmethod
    def from_options(cls, options: Any) -> PrometheusSettings:
        """From Locust's parsed options; `ConfigError` with a one-line message naming the
        option when a value is wrong (catalogue CFG-05)."""

        def get(name: str, default: str) -> str:
            value = getattr(options, name, None)
            return default if value is None else str(value)

        port = parse_port(get("llm_prometheus_port", "0"), PORT_OPTION)
        host = get("llm_prometheus_host", "127.0.0.1").strip()
        if not host:
            raise ConfigError(f"{HOST_OPTION}: expected an address such as 127.0.0.1")
        linger_s = parse_duration(get("llm_prometheus_linger", "0"), name=LINGER_OPTION)
        scenario = check_scenario_name(get("llm_scenario_name", DEFAULT_SCENARIO), SCENARIO_OPTION)
        buckets: dict[str, tuple[float, ...]] = {}
        for key in DEFAULT_BUCKETS:
            text = get(f"llm_buckets_{key}", "").strip()
            if text:
                buckets[key] = parse_buckets(text, bucket_option(key))
        return cls(port, host, linger_s, scenario, buckets)

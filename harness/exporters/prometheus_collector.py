"""The Prometheus view of a run: metric families, labels and the collector.

`LLMCollector` is a `prometheus_client` collector that reads the run's *merged* statistics
(`harness.stats.RunStats`, the same object the summary reads) at scrape time, so every counter
equals the summary's figure and a master that merged its workers' deltas exposes one truth
(docs/prometheus.md). It is registered on a registry the caller passes in; tests use a fresh
`CollectorRegistry`. This module imports prometheus_client and the pure core only: never Locust
or gevent (the Locust glue is `harness.exporters.prometheus`).

Families (base units; labels `mode`, `model`, `endpoint`, `scenario` and, in a run that
compares targets, `target`)::

    llm_requests_total{…, outcome, error_class}     counter, every finished request
    llm_ttft_seconds, llm_ttfc_seconds, llm_itl_seconds, llm_tpot_seconds,
    llm_e2e_seconds, llm_first_visible_seconds      histograms of timed requests
    llm_output_tokens_total{…, source}              counter, source = server | client
    llm_input_tokens_total                          counter
    llm_stream_anomalies_total{…, kind}             counter
    llm_reconnects_total                            counter
    llm_backoff_seconds_total                       counter
    llm_goodput_requests_total                      counter, requests that met every goodput
                                                    limit (only with goodput limits)
    llm_requests_in_flight{scenario}                gauge
    llm_harness_users{scenario}                     gauge
    llm_harness_cpu_ratio{scenario, process}        gauge, 1.0 = one core
    llm_harness_loop_lag_seconds{scenario}          histogram
    llm_schedule_lag_seconds, llm_first_visible_from_schedule_seconds,
    llm_e2e_from_schedule_seconds                   open loop: histograms (from the schedule)
    llm_scheduled_requests_total{mode, scenario}    open loop: requests that fell due
    llm_dropped_requests_total{mode, scenario}      open loop: dropped past max_schedule_lag
                                                    (both by target too: each target has its
                                                    own copy of every arrival)
    llm_offered_rate_per_second{scenario}           open loop: the plan's rate now
    llm_turn_requests_total{mode, turn, scenario},
    llm_turn_ttft_seconds, llm_turn_first_visible_seconds   multi-turn conversations by turn

`target` is the name of the endpoint a group's requests went to (`GroupStats.target`, a name
of the scenario's `targets:`: a closed, validated list, never a URL). A run with one target
has no target names, and its families then have no `target` label at all: their series and
the queries on them are exactly those of a run before targets existed (Prometheus treats an
absent label and an empty one alike, so `target=~".*"` matches both). The harness's own
health families and the offered rate are the load generator's, not a target's: they never
carry it. The open-loop arrival counters do, each target's lane (`stream@fast`) its own.

Bucket layouts and option validation live in `prometheus_config`. Bucket counts come from
`LatencyHistogram.cumulative_counts`, which never undercounts and may count a value at most
0.2 % above a bound as inside it; `_sum` and `_count` are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from harness.errors import ConfigError, Outcome
from harness.exporters.prometheus_config import (
    DEFAULT_BUCKETS,
    DEFAULT_SCENARIO,
    LOOP_LAG_BUCKETS_S,
    bucket_option,
    check_buckets,
)
from harness.stats import GroupStats, LatencyHistogram, RunStats
from harness.workload.tally import TURN_BUCKETS, WorkloadStats


@dataclass(frozen=True, slots=True)
class LatencyFamily:
    """One latency histogram family: its metric name, the `GroupStats` histogram it reads,
    the key of its bucket layout (`--llm-buckets-<key>`, with `_` as `-`) and its help."""

    name: str
    figure: str
    key: str
    help: str


LATENCY_FAMILIES: tuple[LatencyFamily, ...] = (
    LatencyFamily("llm_ttft_seconds", "ttft_s", "ttft",
                  "Time to first token: first token-bearing event minus send time (streams)."),
    LatencyFamily("llm_ttfc_seconds", "ttfc_s", "ttfc",
                  "Time to first visible content (streams; differs from TTFT for reasoning)."),
    LatencyFamily("llm_itl_seconds", "itl_s", "itl",
                  "Inter-token latency, per-token samples (requests whose tokens per chunk "
                  "are known; see llm_stream_anomalies_total{kind=\"itl_basis_unknown\"})."),
    LatencyFamily("llm_tpot_seconds", "tpot_s", "tpot",
                  "Time per output token after the first chunk."),
    LatencyFamily("llm_e2e_seconds", "e2e_s", "e2e",
                  "End to end: until [DONE] (streams) or the whole body (batch)."),
    LatencyFamily("llm_first_visible_seconds", "first_visible_s", "first_visible",
                  "First visible output: TTFT for streams, E2E for batch."),
    LatencyFamily("llm_schedule_lag_seconds", "schedule_lag_s", "schedule_lag",
                  "Open loop: send time minus due time (the wait for a free user)."),
    LatencyFamily("llm_first_visible_from_schedule_seconds", "from_schedule_first_visible_s",
                  "first_visible",
                  "Open loop: first visible output timed from the due time, not the send."),
    LatencyFamily("llm_e2e_from_schedule_seconds", "from_schedule_e2e_s", "e2e",
                  "Open loop: end to end timed from the due time, not the send."),
)  # fmt: skip

#: Labels of the per-(mode, model, target) families (`TARGET_LABEL` follows in a run that
#: compares targets)
GROUP_LABELS = ("mode", "model", "endpoint", "scenario")
#: the label naming a group's target; only on the families of a run with targets
TARGET_LABEL = "target"
#: Every label name this exporter may emit (besides Prometheus's own `le`)
ALLOWED_LABELS = frozenset(
    {*GROUP_LABELS, TARGET_LABEL, "outcome", "error_class", "source", "kind", "process", "turn",
     "le"}
)  # fmt: skip
#: `error_class` of a request that did not fail; of a failure without a class
NO_ERROR_CLASS, UNKNOWN = "none", "unknown"


# ------------------------------------------------------------------------------ the collector


@dataclass(frozen=True, slots=True)
class _Labelled:
    """The groups of one scrape with their label values, and the label names they fill:
    `GROUP_LABELS`, plus `TARGET_LABEL` when the run compares targets."""

    names: tuple[str, ...]
    rows: Sequence[tuple[GroupStats, tuple[str, ...]]]


def label_names(with_target: bool, *names: str) -> tuple[str, ...]:
    """`names`, then `TARGET_LABEL` when the series are a target's (`with_target`)."""
    return (*names, TARGET_LABEL) if with_target else names


def split_lane(lane: str) -> tuple[str, str]:
    """An open-loop lane's (mode, target): `stream@fast` → ("stream", "fast"), `stream` →
    ("stream", ""). The inverse of harness.load.schedule.lane_of (a target name has no `@`)."""
    mode, _, target = lane.partition("@")
    return mode, target


class EndpointBook:
    """The endpoint (path template, e.g. `/v1/chat/completions`) of each (mode, model, target)
    group.

    `RunStats` does not keep endpoints, so the endpoint label is learned from records
    (`observe`) and shipped from workers to the master (`to_wire` / `merge_wire`: lists
    ``[mode, model, endpoint, target]``; a 3-item list from an older worker is target "").
    A group whose requests went to more than one endpoint is labelled `mixed`; one not seen
    yet, `unknown`.
    """

    MIXED = "mixed"

    __slots__ = ("_by_group",)

    def __init__(self) -> None:
        self._by_group: dict[tuple[str, str, str], str] = {}

    def observe(self, mode: str, model: str, endpoint: str, target: str = "") -> None:
        key = (str(mode), model, target)
        known = self._by_group.get(key)
        if known is None:
            self._by_group[key] = endpoint
        elif known != endpoint:
            self._by_group[key] = self.MIXED

    def to_wire(self) -> list[list[str]]:
        return [
            [mode, model, endpoint, target]
            for (mode, model, target), endpoint in self._by_group.items()
        ]

    def merge_wire(self, wire: Iterable[Sequence[str]]) -> None:
        for item in wire:
            mode, model, endpoint, *rest = item
            self.observe(mode, model, endpoint, rest[0] if rest else "")

    def __call__(self, mode: str, model: str, target: str = "") -> str:
        return self._by_group.get((mode, model, target), UNKNOWN)


@dataclass(frozen=True, slots=True)
class HarnessHealth:
    """The load generator's own state at scrape time (summed over workers on a master)."""

    users: int
    in_flight: int
    #: share of one core by process: `local`, or `master` and `worker-<index>`
    cpu_ratio: Mapping[str, float]
    loop_lag: LatencyHistogram
    #: open loop, per lane: (requests that fell due, dropped); empty for closed loop. A lane
    #: is a mode, or with several targets `mode@target` (harness.load.schedule.lane_of)
    arrivals: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    #: open loop: the plan's offered rate now (requests per second; each target gets it);
    #: None for closed loop
    offered_rate_per_s: float | None = None


class LLMCollector(Collector):
    """Exposes `stats()` (the merged `RunStats`) and `health()` at each scrape.

        >>> from prometheus_client import CollectorRegistry
        >>> registry = CollectorRegistry()
        >>> stats = RunStats()
        >>> registry.register(LLMCollector(lambda: stats))
        >>> registry.get_sample_value("llm_harness_users", {"scenario": "default"}) is None
        True

    `stats` is called at every scrape (the run may replace its `RunStats` at test start);
    `endpoint_of(mode, model, target)` names a group's endpoint; `buckets` overrides layouts by key
    (`DEFAULT_BUCKETS`' keys), each checked with `check_buckets`.
    """

    def __init__(
        self,
        stats: Callable[[], RunStats],
        *,
        scenario: str = DEFAULT_SCENARIO,
        endpoint_of: Callable[[str, str, str], str] | None = None,
        health: Callable[[], HarnessHealth | None] | None = None,
        buckets: Mapping[str, Sequence[float]] | None = None,
        workload: Callable[[], WorkloadStats] | None = None,
    ) -> None:
        self._stats = stats
        self._workload = workload
        self._scenario = scenario
        self._endpoint_of = endpoint_of or (lambda mode, model, target: UNKNOWN)
        self._health = health
        layouts = dict(DEFAULT_BUCKETS)
        for key, bounds in (buckets or {}).items():
            if key not in layouts:
                raise ConfigError(f"unknown bucket layout {key!r}; expected one of "
                                  + ", ".join(sorted(layouts)))  # fmt: skip
            layouts[key] = check_buckets(bounds, bucket_option(key))
        self._buckets = {key: (b, _le_labels(b)) for key, b in layouts.items()}

    def describe(self) -> list[Metric]:
        """The families without data: their names let the registry refuse a duplicate and
        serve `?name[]=` filters, without reading the run's state at registration."""
        empty = HarnessHealth(0, 0, {}, LatencyHistogram()) if self._health else None
        return list(self._families(_Labelled(GROUP_LABELS, []), empty))

    def collect(self) -> Iterator[Metric]:
        groups = sorted(self._stats().groups(), key=lambda g: (g.target, g.mode, g.model))
        with_target = any(g.target for g in groups)  # a run that compares targets
        rows = []
        for g in groups:
            values = (g.mode, g.model, self._endpoint_of(g.mode, g.model, g.target), self._scenario)
            rows.append((g, (*values, g.target) if with_target else values))
        labelled = _Labelled(label_names(with_target, *GROUP_LABELS), rows)
        return self._families(labelled, self._health() if self._health is not None else None)

    def _families(self, labelled: _Labelled, health: HarnessHealth | None) -> Iterator[Metric]:
        yield _requests(labelled)
        for family in LATENCY_FAMILIES:
            yield self._latency(family, labelled)
        yield from _tokens(labelled)
        yield _anomalies(labelled)
        yield from _path(labelled)
        yield _goodput(labelled)
        if self._workload is not None:  # a run's exporter: conversations' turns
            yield from self._turns(self._workload())
        if health is not None:
            yield from self._harness(health)

    def _latency(self, family: LatencyFamily, labelled: _Labelled) -> Metric:
        metric = HistogramMetricFamily(
            family.name, family.help, labels=labelled.names, unit="seconds"
        )
        bounds, les = self._buckets[family.key]
        for group, labels in labelled.rows:
            histogram: LatencyHistogram = getattr(group, family.figure)
            if histogram.count:  # figures that do not apply are absent, never 0
                metric.add_metric(labels, _buckets(histogram, bounds, les), histogram.sum)
        return metric

    def _turns(self, workload: WorkloadStats) -> Iterator[Metric]:
        """Multi-turn conversations, by turn bucket (1, 2, 3, 4-7, 8+: bounded labels) and, in
        a run that compares targets, by target."""
        tallies = workload.tallies()
        with_target = any(tally.target for tally in tallies)
        labels = label_names(with_target, "mode", "turn", "scenario")
        requests = CounterMetricFamily(
            "llm_turn_requests",
            "Requests of multi-turn conversations by turn (1, 2, 3, 4-7, 8+), cancelled ones "
            "excluded.",
            labels=labels,
        )
        histograms = [
            (
                HistogramMetricFamily(
                    f"llm_turn_{figure}",
                    f"{text} of multi-turn conversations' requests, by turn (1, 2, 3, 4-7, "
                    "8+): it grows with the history each turn carries.",
                    labels=labels,
                    unit="seconds",
                ),
                f"{figure}_s",
                key,
            )
            for figure, key, text in (
                ("ttft", "ttft", "Time to first token (streams)"),
                ("first_visible", "first_visible", "First visible output"),
            )
        ]
        for tally in tallies:
            for turn in TURN_BUCKETS:
                n = tally.counts.get(f"by_turn.{turn}.requests")
                if not n:
                    continue
                values: tuple[str, ...] = (tally.mode, turn, self._scenario)
                if with_target:
                    values = (*values, tally.target)
                requests.add_metric(values, n)
                for metric, figure, key in histograms:
                    histogram = tally.histograms.get(f"by_turn.{turn}.{figure}")
                    if histogram is not None and histogram.count:
                        bounds, les = self._buckets[key]
                        metric.add_metric(values, _buckets(histogram, bounds, les), histogram.sum)
        yield requests
        for metric, _, _ in histograms:
            yield metric

    def _harness(self, health: HarnessHealth) -> Iterator[Metric]:
        scenario = (self._scenario,)
        in_flight = GaugeMetricFamily(
            "llm_requests_in_flight",
            "Requests sent and not yet finished (all workers; theirs as of their last report).",
            labels=("scenario",),
        )
        in_flight.add_metric(scenario, health.in_flight)
        yield in_flight
        users = GaugeMetricFamily(
            "llm_harness_users", "Locust users running (all workers).", labels=("scenario",)
        )
        users.add_metric(scenario, health.users)
        yield users
        cpu = GaugeMetricFamily(
            "llm_harness_cpu_ratio",
            "CPU used by each load-generator process, as a share of one core (Locust's own "
            "measurement, refreshed every few seconds).",
            labels=("scenario", "process"),
        )
        for process, ratio in sorted(health.cpu_ratio.items()):
            cpu.add_metric((self._scenario, process), ratio)
        yield cpu
        lag = HistogramMetricFamily(
            "llm_harness_loop_lag_seconds",
            "How late the load generator's event loop woke a 100 ms probe (p99 > 20 ms marks "
            "the run client_saturated).",
            labels=("scenario",),
            unit="seconds",
        )
        if health.loop_lag.count:
            bounds = LOOP_LAG_BUCKETS_S
            lag.add_metric(
                scenario,
                _buckets(health.loop_lag, bounds, _le_labels(bounds)),
                health.loop_lag.sum,
            )
        yield lag
        yield from self._open_loop(health)

    def _open_loop(self, health: HarnessHealth) -> Iterator[Metric]:
        lanes = sorted((*split_lane(lane), counts) for lane, counts in health.arrivals.items())
        with_target = any(target for _, target, _ in lanes)
        labels = label_names(with_target, "mode", "scenario")
        scheduled = CounterMetricFamily(
            "llm_scheduled_requests",
            "Open loop: requests that fell due on the arrival schedule (warm-up excluded).",
            labels=labels,
        )
        dropped = CounterMetricFamily(
            "llm_dropped_requests",
            "Open loop: due requests never sent, having waited for a free user past "
            "--llm-max-schedule-lag.",
            labels=labels,
        )
        for mode, target, (n_scheduled, n_dropped) in lanes:
            values = (mode, self._scenario, target) if with_target else (mode, self._scenario)
            scheduled.add_metric(values, n_scheduled)
            dropped.add_metric(values, n_dropped)
        yield scheduled
        yield dropped
        offered = GaugeMetricFamily(
            "llm_offered_rate_per_second",
            "Open loop: the requests per second the load plan offers now (to each target).",
            labels=("scenario",),
        )
        if health.offered_rate_per_s is not None:
            offered.add_metric((self._scenario,), health.offered_rate_per_s)
        yield offered


#: prometheus_client's own `le` formatting (Go's float syntax), typed
_go_float = cast(Callable[[float], str], floatToGoString)


def _le_labels(bounds: Sequence[float]) -> tuple[str, ...]:
    return (*(_go_float(b) for b in bounds), "+Inf")


def _buckets(
    histogram: LatencyHistogram, bounds: Sequence[float], les: Sequence[str]
) -> list[tuple[str, float]]:
    counts = histogram.cumulative_counts(bounds)
    counts.append(histogram.count)
    return list(zip(les, counts, strict=True))


def _requests(labelled: _Labelled) -> Metric:
    metric = CounterMetricFamily(
        "llm_requests",
        "Finished requests by outcome (ok, ok_length, content_filtered, empty, failed, "
        "cancelled) and error class (the closed list; none unless failed).",
        labels=(*labelled.names, "outcome", "error_class"),
    )
    for group, labels in labelled.rows:
        for outcome, n in sorted(group.outcomes.items()):
            if outcome != Outcome.FAILED:
                metric.add_metric((*labels, outcome, NO_ERROR_CLASS), n)
                continue
            classified = 0
            for error_class, m in sorted(group.errors.items()):
                metric.add_metric((*labels, outcome, error_class), m)
                classified += m
            if n > classified:
                metric.add_metric((*labels, outcome, UNKNOWN), n - classified)
    return metric


def _tokens(labelled: _Labelled) -> Iterator[Metric]:
    output = CounterMetricFamily(
        "llm_output_tokens",
        "Output tokens of requests that did not fail, by where the count came from "
        "(server usage, or counted chunks).",
        labels=(*labelled.names, "source"),
    )
    inputs = CounterMetricFamily(
        "llm_input_tokens", "Input tokens the server reported.", labels=labelled.names
    )
    for group, labels in labelled.rows:
        for source, n in sorted(group.output_tokens_by_source.items()):
            output.add_metric((*labels, source), n)
        inputs.add_metric(labels, group.input_tokens)
    yield output
    yield inputs


def _anomalies(labelled: _Labelled) -> Metric:
    metric = CounterMetricFamily(
        "llm_stream_anomalies",
        "Non-standard things seen on the wire, by kind (burst_delivery, reconnect, "
        "stream_not_honored, …); also token_count_mismatch (server usage disagreed with "
        "counted chunks) and itl_basis_unknown (a request's ITL could only be measured per "
        "chunk).",
        labels=(*labelled.names, "kind"),
    )
    for group, labels in labelled.rows:
        kinds = dict(group.anomalies)
        if group.token_count_mismatch:
            kinds["token_count_mismatch"] = group.token_count_mismatch
        if group.itl_basis_unknown:
            kinds["itl_basis_unknown"] = group.itl_basis_unknown
        for kind, n in sorted(kinds.items()):
            metric.add_metric((*labels, kind), n)
    return metric


def _path(labelled: _Labelled) -> Iterator[Metric]:
    reconnects = CounterMetricFamily(
        "llm_reconnects",
        "Requests written again on a fresh connection because the server had closed the "
        "kept-alive one before any response byte (not failures, not inside TTFT).",
        labels=labelled.names,
    )
    backoff = CounterMetricFamily(
        "llm_backoff_seconds",
        "Seconds users waited backing off after consecutive instant failures, before "
        "sending requests.",
        labels=labelled.names,
        unit="seconds",
    )
    for group, labels in labelled.rows:
        reconnects.add_metric(labels, group.reconnects)
        backoff.add_metric(labels, group.backoff_s)
    yield reconnects
    yield backoff


def _goodput(labelled: _Labelled) -> Metric:
    metric = CounterMetricFamily(
        "llm_goodput_requests",
        "Requests whose own figures met every goodput limit (--llm-goodput, the scenario's "
        "goodput:); absent when the run has no goodput limits.",
        labels=labelled.names,
    )
    for group, labels in labelled.rows:
        if group.goodput_judged:  # figures that do not apply are absent, never 0
            metric.add_metric(labels, group.goodput_met)
    return metric

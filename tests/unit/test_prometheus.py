"""Unit tests of the Prometheus collector: families, buckets, labels, escaping, validation.

No Locust and no sockets: records are built by hand, observed into a `RunStats`, and read back
through a fresh `CollectorRegistry` (`get_sample_value`) and through prometheus_client's own
text parser.
"""

from __future__ import annotations

import argparse
import itertools
import math
import subprocess
import sys
from collections.abc import Iterable

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from harness.errors import ConfigError, ErrorClass, Mode, Outcome
from harness.exporters.prometheus_collector import (
    ALLOWED_LABELS,
    LATENCY_FAMILIES,
    EndpointBook,
    HarnessHealth,
    LLMCollector,
)
from harness.exporters.prometheus_config import (
    DEFAULT_BUCKETS,
    E2E_BUCKETS_S,
    FIRST_VISIBLE_BUCKETS_S,
    ITL_BUCKETS_S,
    LOOP_LAG_BUCKETS_S,
    TTFT_BUCKETS_S,
    PrometheusSettings,
    check_buckets,
    parse_buckets,
    parse_port,
)
from harness.load.goodput import GoodputLimits, meets
from harness.record import RequestRecord
from harness.stats import LatencyHistogram, RunStats
from harness.workload.tally import TURN_BUCKETS, WorkloadStats

CHAT = "/v1/chat/completions"
STREAM = {"mode": "stream", "model": "m", "endpoint": CHAT, "scenario": "default"}
BATCH = {**STREAM, "mode": "batch"}

# ---------------------------------------------------------------- helpers


def stream_record(
    ttft_s: float,
    *,
    tokens: int = 4,
    itl_s: float = 0.02,
    model: str = "m",
    usage: bool = True,
    outcome: Outcome = Outcome.OK,
) -> RequestRecord:
    """A finished stream sent at t0 = 0: one token per chunk, `itl_s` apart."""
    record = RequestRecord(mode=Mode.STREAM, model=model, endpoint=CHAT)
    record.t_headers = ttft_s / 2
    for i in range(tokens):
        record.on_token_event(ttft_s + i * itl_s, visible=True)
    record.server_output_tokens = tokens if usage else None
    record.input_tokens = 7
    record.outcome = outcome
    record.finish_reason = "stop"
    record.t_end = ttft_s + (tokens - 1) * itl_s + 0.001
    return record


def batch_record(e2e_s: float, *, tokens: int = 4, model: str = "m") -> RequestRecord:
    record = RequestRecord(mode=Mode.BATCH, model=model, endpoint=CHAT)
    record.t_headers = e2e_s
    record.server_output_tokens = tokens
    record.input_tokens = 5
    record.outcome = Outcome.OK
    record.t_end = e2e_s
    return record


def failed_record(mode: Mode, error_class: ErrorClass, *, chunks: int = 0) -> RequestRecord:
    record = RequestRecord(mode=mode, model="m", endpoint=CHAT)
    for i in range(chunks):
        record.on_token_event(0.1 + i * 0.02, visible=True)
    record.fail(error_class, 0.5)
    return record


def cancelled_record() -> RequestRecord:
    record = RequestRecord(mode=Mode.STREAM, model="m", endpoint=CHAT)
    record.on_token_event(0.2, visible=True)
    record.outcome = Outcome.CANCELLED
    record.t_end = 0.3
    return record


def stats_of(records: Iterable[RequestRecord]) -> RunStats:
    stats = RunStats()
    for record in records:
        stats.observe(record)
    return stats


def registry_of(
    stats: RunStats,
    *,
    health: HarnessHealth | None = None,
    buckets: dict[str, tuple[float, ...]] | None = None,
) -> CollectorRegistry:
    registry = CollectorRegistry()
    book = EndpointBook()
    for group in stats.groups():
        book.observe(group.mode, group.model, CHAT)
    registry.register(
        LLMCollector(
            lambda: stats,
            endpoint_of=book,
            health=(lambda: health) if health is not None else None,
            buckets=buckets,
        )
    )
    return registry


def value(registry: CollectorRegistry, name: str, labels: dict[str, str]) -> float | None:
    return registry.get_sample_value(name, labels)


def samples_of(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def mixed_records() -> list[RequestRecord]:
    return [
        *(stream_record(0.2 + i * 0.001) for i in range(5)),
        stream_record(0.3, outcome=Outcome.OK_LENGTH),
        *(batch_record(1.0 + i * 0.01) for i in range(3)),
        failed_record(Mode.STREAM, ErrorClass.STALL_TIMEOUT, chunks=3),
        failed_record(Mode.STREAM, ErrorClass.STALL_TIMEOUT),
        failed_record(Mode.STREAM, ErrorClass.HTTP_5XX),
        failed_record(Mode.BATCH, ErrorClass.CONNECT_REFUSED),
        cancelled_record(),
    ]


# ---------------------------------------------------------------- buckets (catalogue MEAS-06)


def test_ttft_values_land_in_their_buckets_including_inf() -> None:
    registry = registry_of(stats_of(stream_record(v) for v in (0.0004, 0.25, 900.0)))

    def bucket(le: str) -> float | None:
        return value(registry, "llm_ttft_seconds_bucket", {**STREAM, "le": le})

    assert bucket("0.01") == 1  # 0.0004 s: the first bucket
    assert bucket("0.2") == 1
    assert bucket("0.25") == 2  # 0.25 s: on the bound, counted in it (le is <=)
    assert bucket("80.0") == 2  # 900 s: above the last bound…
    assert bucket("+Inf") == 3  # …so only in +Inf
    assert value(registry, "llm_ttft_seconds_count", STREAM) == 3
    assert value(registry, "llm_ttft_seconds_sum", STREAM) == pytest.approx(900.2504, abs=1e-12)


def test_every_latency_family_exposes_cumulative_counts_and_exact_sum_and_count() -> None:
    stats = stats_of(mixed_records())
    registry = registry_of(stats)
    groups = {g.mode: g for g in stats.groups()}
    for family in LATENCY_FAMILIES:
        bounds = DEFAULT_BUCKETS[family.key]
        for mode, labels in (("stream", STREAM), ("batch", BATCH)):
            histogram: LatencyHistogram = getattr(groups[mode], family.figure)
            count = value(registry, family.name + "_count", labels)
            if histogram.count == 0:  # figures that do not apply are absent, never 0
                assert count is None, (family.name, mode)
                continue
            assert count == histogram.count
            assert value(registry, family.name + "_sum", labels) == histogram.sum
            expected = histogram.cumulative_counts(bounds)
            got = [
                value(registry, family.name + "_bucket", {**labels, "le": repr(b)}) for b in bounds
            ]
            assert got == expected, family.name
            assert value(registry, family.name + "_bucket", {**labels, "le": "+Inf"}) == count


def test_batch_has_no_ttft_series_and_stream_first_visible_is_its_ttft() -> None:
    registry = registry_of(stats_of([stream_record(0.2), batch_record(1.5)]))
    assert value(registry, "llm_ttft_seconds_count", BATCH) is None
    assert value(registry, "llm_first_visible_seconds_sum", STREAM) == pytest.approx(0.2)
    assert value(registry, "llm_first_visible_seconds_sum", BATCH) == pytest.approx(1.5)


def test_the_bucket_layouts_are_the_documented_ones() -> None:
    assert TTFT_BUCKETS_S[:3] == (0.01, 0.02, 0.03)
    assert (TTFT_BUCKETS_S[-1], len(TTFT_BUCKETS_S)) == (80.0, 29)
    assert ITL_BUCKETS_S[:3] == (0.001, 0.0025, 0.005)
    assert (ITL_BUCKETS_S[-1], len(ITL_BUCKETS_S)) == (80.0, 28)
    assert (E2E_BUCKETS_S[0], E2E_BUCKETS_S[-1], len(E2E_BUCKETS_S)) == (0.05, 315.0, 77)
    steps = [b / a for a, b in itertools.pairwise(E2E_BUCKETS_S)]
    assert min(steps) > 1.10  # R20 preferred numbers: 11-14 % steps, 12.2 % on average
    assert max(steps) < 1.15
    assert FIRST_VISIBLE_BUCKETS_S[:5] == (0.01, 0.02, 0.03, 0.04, 0.05)
    assert 0.02 in LOOP_LAG_BUCKETS_S  # the client_saturated threshold is a bound
    for layout in (*DEFAULT_BUCKETS.values(), LOOP_LAG_BUCKETS_S):
        assert check_buckets(layout, "layout") == layout


def test_a_bucket_override_replaces_one_family_layout() -> None:
    registry = registry_of(stats_of([stream_record(0.2)]), buckets={"ttft": (0.1, 0.5)})
    assert value(registry, "llm_ttft_seconds_bucket", {**STREAM, "le": "0.1"}) == 0
    assert value(registry, "llm_ttft_seconds_bucket", {**STREAM, "le": "0.5"}) == 1
    assert value(registry, "llm_ttft_seconds_bucket", {**STREAM, "le": "0.2"}) is None
    # other families keep theirs
    assert value(registry, "llm_ttfc_seconds_bucket", {**STREAM, "le": "0.2"}) == 1


# ---------------------------------------------------------------- counters equal the statistics


def test_counters_equal_the_group_counters_and_the_summary() -> None:
    stats = stats_of(mixed_records())
    registry = registry_of(stats)
    modes = stats.summary(10.0)
    for group in stats.groups():
        labels = STREAM if group.mode == "stream" else BATCH
        total = 0.0
        for outcome, n in group.outcomes.items():
            if outcome == "failed":
                for error_class, m in group.errors.items():
                    got = value(
                        registry,
                        "llm_requests_total",
                        {**labels, "outcome": outcome, "error_class": error_class},
                    )
                    assert got == m
                    total += m
            else:
                got = value(
                    registry,
                    "llm_requests_total",
                    {**labels, "outcome": outcome, "error_class": "none"},
                )
                assert got == n
                total += n
        assert total == group.requests == modes[group.mode]["requests"]
        tokens = sum(
            value(registry, "llm_output_tokens_total", {**labels, "source": source}) or 0
            for source in ("server", "client")
        )
        assert tokens == group.output_tokens == modes[group.mode]["output_tokens"]
        assert value(registry, "llm_input_tokens_total", labels) == group.input_tokens
    stream = modes["stream"]
    assert stream["outcomes"] == {"ok": 5, "ok_length": 1, "failed": 3, "cancelled": 1}
    assert stream["errors"] == {"stall_timeout": 2, "http_5xx": 1}


def test_a_failure_without_an_error_class_is_counted_as_unknown() -> None:
    record = RequestRecord(mode=Mode.STREAM, model="m", endpoint=CHAT)
    record.outcome = Outcome.FAILED  # no class: should not happen, but is never lost
    record.t_end = 0.1
    registry = registry_of(stats_of([record]))
    labels = {**STREAM, "outcome": "failed", "error_class": "unknown"}
    assert value(registry, "llm_requests_total", labels) == 1


def test_worker_deltas_merged_on_the_master_expose_what_one_process_would() -> None:
    records = mixed_records()
    workers = [stats_of(records[i::4]) for i in range(4)]  # catalogue MEAS-06: 4 workers
    master = RunStats()
    for worker in workers:
        master.merge_wire(worker.take_delta())
    master.merge_wire(workers[0].take_delta())  # an empty delta changes nothing
    single = samples_of(registry_of(stats_of(records)))
    merged = samples_of(registry_of(master))
    assert merged.keys() == single.keys()
    for key, expected in single.items():  # sums may differ in the last bit (addition order)
        assert merged[key] == pytest.approx(expected, rel=1e-12), key
    count = ("llm_ttft_seconds_count", tuple(sorted(STREAM.items())))
    assert merged[count] == 6  # not double counted


def test_itl_measured_per_chunk_only_shows_as_an_anomaly_and_no_itl_series() -> None:
    # no server usage and no per-chunk counts: tokens per chunk unknown (inter-chunk basis)
    registry = registry_of(stats_of([stream_record(0.2, usage=False)]))
    assert value(registry, "llm_itl_seconds_count", STREAM) is None
    kind = {**STREAM, "kind": "itl_basis_unknown"}
    assert value(registry, "llm_stream_anomalies_total", kind) == 1
    assert value(registry, "llm_tpot_seconds_count", STREAM) == 1


def test_anomalies_are_counted_by_kind() -> None:
    record = stream_record(0.2)
    record.note("comment", 3)
    record.note("missing_done")
    registry = registry_of(stats_of([record, stream_record(0.2)]))
    assert value(registry, "llm_stream_anomalies_total", {**STREAM, "kind": "comment"}) == 3
    assert value(registry, "llm_stream_anomalies_total", {**STREAM, "kind": "missing_done"}) == 1


def test_reconnect_and_stream_not_honored_flow_into_the_anomalies_family() -> None:
    reconnected = stream_record(0.2)
    reconnected.reconnects = 2
    reconnected.note("reconnect", 2)
    answered = RequestRecord(mode=Mode.STREAM, model="m", endpoint=CHAT)
    answered.t_headers, answered.t_end, answered.outcome = 0.9, 1.0, Outcome.OK
    answered.server_output_tokens = 4
    answered.note("stream_not_honored")
    registry = registry_of(stats_of([reconnected, answered, stream_record(0.2)]))
    for kind, n in (("reconnect", 2), ("stream_not_honored", 1)):
        assert value(registry, "llm_stream_anomalies_total", {**STREAM, "kind": kind}) == n


def test_reconnects_and_backoff_seconds_are_counted_per_group() -> None:
    first, second = stream_record(0.2), stream_record(0.2)
    first.reconnects, second.reconnects = 1, 2
    first.backoff_s = 0.25
    refused = failed_record(Mode.BATCH, ErrorClass.CONNECT_REFUSED)
    refused.backoff_s = 1.5
    registry = registry_of(stats_of([first, second, refused, batch_record(1.0)]))
    assert value(registry, "llm_reconnects_total", STREAM) == 3
    assert value(registry, "llm_backoff_seconds_total", STREAM) == 0.25
    assert value(registry, "llm_reconnects_total", BATCH) == 0
    assert value(registry, "llm_backoff_seconds_total", BATCH) == 1.5


def test_harness_health_gauges_and_loop_lag_histogram() -> None:
    lag = LatencyHistogram()
    for v in (0.001, 0.004, 0.03):
        lag.record(v)
    health = HarnessHealth(
        users=8, in_flight=6, cpu_ratio={"master": 0.05, "worker-0": 0.4}, loop_lag=lag
    )
    registry = registry_of(RunStats(), health=health)
    scenario = {"scenario": "default"}
    assert value(registry, "llm_harness_users", scenario) == 8
    assert value(registry, "llm_requests_in_flight", scenario) == 6
    cpu = {**scenario, "process": "worker-0"}
    assert value(registry, "llm_harness_cpu_ratio", cpu) == 0.4
    assert value(registry, "llm_harness_loop_lag_seconds_bucket", {**scenario, "le": "0.02"}) == 2
    assert value(registry, "llm_harness_loop_lag_seconds_count", scenario) == 3


def test_open_loop_families_count_due_and_dropped_requests_and_time_the_lag() -> None:
    stats = RunStats()
    for lag in (0.0004, 0.003):
        record = batch_record(1.0)
        record.t_sched = record.t0 - lag
        stats.observe(record)
    health = HarnessHealth(
        users=4, in_flight=0, cpu_ratio={}, loop_lag=LatencyHistogram(),
        arrivals={"batch": (5, 1)}, offered_rate_per_s=20.0,
    )  # fmt: skip
    registry = registry_of(stats, health=health)
    batch = {"mode": "batch", "scenario": "default"}
    assert value(registry, "llm_scheduled_requests_total", batch) == 5
    assert value(registry, "llm_dropped_requests_total", batch) == 1
    assert value(registry, "llm_offered_rate_per_second", {"scenario": "default"}) == 20.0
    group = {**batch, "model": "m", "endpoint": CHAT}
    lag_bucket = {**group, "le": "0.0005"}
    assert value(registry, "llm_schedule_lag_seconds_bucket", lag_bucket) == 1
    assert value(registry, "llm_schedule_lag_seconds_count", group) == 2
    # from the schedule: E2E plus the lag
    e2e_sum = value(registry, "llm_e2e_from_schedule_seconds_sum", group)
    assert e2e_sum == pytest.approx(2.0 + 0.0034, rel=1e-6)


def test_a_closed_loop_run_has_no_offered_rate_and_no_schedule_series() -> None:
    registry = registry_of(RunStats(), health=HarnessHealth(1, 0, {}, LatencyHistogram()))
    names = {name for name, _ in samples_of(registry)}
    assert not {n for n in names if "schedule" in n or "offered" in n or "dropped" in n}


def test_the_stats_are_read_at_every_scrape() -> None:
    runs = [RunStats()]
    registry = CollectorRegistry()
    registry.register(LLMCollector(lambda: runs[-1]))
    labels = {**STREAM, "endpoint": "unknown", "outcome": "ok", "error_class": "none"}
    assert value(registry, "llm_requests_total", labels) is None
    runs[-1].observe(stream_record(0.2))
    assert value(registry, "llm_requests_total", labels) == 1
    runs.append(RunStats())  # a new test start replaces the statistics
    assert value(registry, "llm_requests_total", labels) is None


def test_the_registry_knows_the_family_names_for_filters_and_duplicates() -> None:
    stats = stats_of([stream_record(0.2), batch_record(1.0)])
    registry = registry_of(stats)
    only = registry.restricted_registry(["llm_ttft_seconds_bucket", "llm_requests_total"])
    assert sorted(family.name for family in only.collect()) == ["llm_requests", "llm_ttft_seconds"]
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(LLMCollector(lambda: stats))


# ---------------------------------------------------------------- labels


def test_a_model_name_with_quote_and_newline_is_escaped_and_round_trips() -> None:
    model = 'm"1\nx'
    registry = CollectorRegistry()
    stats = stats_of([stream_record(0.2, model=model)])
    registry.register(LLMCollector(lambda: stats))
    text = generate_latest(registry).decode()
    assert 'model="m\\"1\\nx"' in text
    assert "\nx" not in text.replace('model="m\\"1\\nx"', "")  # no raw newline leaked
    models = {
        sample.labels["model"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if "model" in sample.labels
    }
    assert models == {model}


def test_label_names_are_only_the_allowed_ones_and_values_are_bounded() -> None:
    lag = LatencyHistogram()
    lag.record(0.001)
    health = HarnessHealth(users=1, in_flight=0, cpu_ratio={"local": 0.1}, loop_lag=lag)
    registry = registry_of(stats_of(mixed_records()), health=health)
    text = generate_latest(registry).decode()
    families = list(text_string_to_metric_families(text))
    names = {family.name for family in families}
    assert names == {
        "llm_requests",
        "llm_ttft_seconds",
        "llm_ttfc_seconds",
        "llm_itl_seconds",
        "llm_tpot_seconds",
        "llm_e2e_seconds",
        "llm_first_visible_seconds",
        "llm_output_tokens",
        "llm_input_tokens",
        "llm_stream_anomalies",
        "llm_reconnects",
        "llm_backoff_seconds",
        "llm_goodput_requests",
        "llm_requests_in_flight",
        "llm_harness_users",
        "llm_harness_cpu_ratio",
        "llm_harness_loop_lag_seconds",
        "llm_schedule_lag_seconds",
        "llm_first_visible_from_schedule_seconds",
        "llm_e2e_from_schedule_seconds",
        "llm_scheduled_requests",
        "llm_dropped_requests",
        "llm_offered_rate_per_second",
    }
    error_classes = {e.value for e in ErrorClass} | {"none", "unknown"}
    outcomes = {o.value for o in Outcome}
    for family in families:
        for sample in family.samples:
            assert set(sample.labels) <= ALLOWED_LABELS, sample
            assert sample.labels.get("error_class", "none") in error_classes
            assert sample.labels.get("outcome", "ok") in outcomes
            assert sample.labels.get("mode", "stream") in ("stream", "batch")
            assert sample.labels.get("endpoint", CHAT) == CHAT
            assert not math.isnan(sample.value)


def test_endpoint_book_learns_ships_and_marks_mixed_groups() -> None:
    worker = EndpointBook()
    worker.observe(Mode.STREAM, "m", CHAT)
    worker.observe(Mode.STREAM, "m", CHAT)
    master = EndpointBook()
    master.merge_wire(worker.to_wire())
    assert master("stream", "m") == CHAT
    assert master("batch", "m") == "unknown"
    master.merge_wire([["stream", "m", "/v1/completions"]])
    assert master("stream", "m") == "mixed"
    master.merge_wire(worker.to_wire())
    assert master("stream", "m") == "mixed"


# ---------------------------------------------------------------- validation (catalogue CFG-05)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.5,0.1,1", "--llm-buckets-ttft: bucket bounds must increase, but 0.1 follows 0.5"),
        ("0.1,0.1", "--llm-buckets-ttft: duplicate bucket bound 0.1"),
        ("100ms,0.1", "--llm-buckets-ttft: duplicate bucket bound 0.1"),
        ("0.1", "--llm-buckets-ttft: give at least 2 bucket bounds (one bound cannot place "
                "a percentile), got 1"),
        ("0.1,fast", "--llm-buckets-ttft: bucket 'fast' is not a duration such as 250ms or 0.25"),
        ("0.1,", "--llm-buckets-ttft: bucket '' is not a duration such as 250ms or 0.25"),
        ("0.1,+Inf", "--llm-buckets-ttft: leave out +Inf, it is always added"),
        ("0,0.1", "--llm-buckets-ttft: bucket bounds must be greater than 0, got 0.0"),
    ],
)  # fmt: skip
def test_bad_buckets_are_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_buckets(text, "--llm-buckets-ttft")
    assert str(raised.value) == message


def test_buckets_accept_durations_and_bare_seconds() -> None:
    assert parse_buckets("10ms, 0.05,1s,2m", "--x") == (0.01, 0.05, 1.0, 120.0)


def test_a_bad_bucket_override_is_refused_by_the_collector() -> None:
    with pytest.raises(ConfigError, match="--llm-buckets-e2e: duplicate bucket bound 1"):
        LLMCollector(RunStats, buckets={"e2e": (1.0, 1.0, 2.0)})
    with pytest.raises(ConfigError, match="unknown bucket layout 'ttfb'"):
        LLMCollector(RunStats, buckets={"ttfb": (1.0, 2.0)})


@pytest.mark.parametrize("text", ["70000", "-1", "abc", "", "9646.5"])
def test_a_bad_port_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_port(text, "--llm-prometheus-port")
    assert str(raised.value) == (
        f"--llm-prometheus-port: expected 0 (off) or a port in 1..65535, got {text!r}"
    )


def test_settings_from_options() -> None:
    options = argparse.Namespace(
        llm_prometheus_port="9646",
        llm_prometheus_host="127.0.0.1",
        llm_prometheus_linger="15s",
        llm_scenario_name="nightly",
        llm_buckets_ttft="",
        llm_buckets_first_visible="100ms,1s",
    )
    settings = PrometheusSettings.from_options(options)
    assert (settings.port, settings.linger_s, settings.scenario) == (9646, 15.0, "nightly")
    assert dict(settings.buckets) == {"first_visible": (0.1, 1.0)}
    assert PrometheusSettings.from_options(argparse.Namespace()).port == 0  # off by default
    bad = argparse.Namespace(llm_buckets_first_visible="1s,100ms")
    with pytest.raises(ConfigError, match=r"^--llm-buckets-first-visible: bucket bounds must"):
        PrometheusSettings.from_options(bad)
    with pytest.raises(ConfigError, match=r"^--llm-scenario-name: expected 1-128 printable"):
        PrometheusSettings.from_options(argparse.Namespace(llm_scenario_name="a\nb"))
    with pytest.raises(ConfigError, match=r"^--llm-prometheus-linger: "):
        PrometheusSettings.from_options(argparse.Namespace(llm_prometheus_linger="soon"))


def test_the_collector_and_its_configuration_import_no_locust_or_gevent() -> None:
    code = (
        "import sys\n"
        "import harness.exporters.prometheus_collector, harness.exporters.prometheus_config\n"
        "print(sorted({'locust', 'gevent', 'geventhttpclient', 'httpx'} & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------- goodput


def test_goodput_requests_count_the_requests_that_met_every_limit() -> None:
    limits = GoodputLimits(ttft_s=0.25, e2e_s=1.0)
    records = [stream_record(0.2), stream_record(0.3), batch_record(0.5), batch_record(1.5)]
    records.append(failed_record(Mode.STREAM, ErrorClass.STREAM_RESET, chunks=2))
    for record in records:
        record.met_goodput = meets(record, limits)  # as harness.events.publish does
    registry = registry_of(stats_of(records))
    assert value(registry, "llm_goodput_requests_total", STREAM) == 1
    assert value(registry, "llm_goodput_requests_total", BATCH) == 1


def test_goodput_requests_are_absent_without_goodput_limits() -> None:
    registry = registry_of(stats_of([stream_record(0.2), batch_record(0.5)]))
    assert value(registry, "llm_goodput_requests_total", STREAM) is None
    assert value(registry, "llm_goodput_requests_total", BATCH) is None


def test_conversation_turns_are_labelled_by_bounded_buckets() -> None:
    workload = WorkloadStats()
    for turn, ttft in ((1, 0.1), (2, 0.2), (3, 0.3), (5, 0.5), (6, 0.6), (12, 1.2)):
        record = stream_record(ttft)
        record.turn = turn
        workload.observe(record)
    stats = RunStats()
    registry = CollectorRegistry()
    registry.register(LLMCollector(lambda: stats, workload=lambda: workload))
    text = generate_latest(registry).decode()
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    requests = {s.labels["turn"]: s.value for s in samples if s.name == "llm_turn_requests_total"}
    assert requests == {"1": 1, "2": 1, "3": 1, "4-7": 2, "8+": 1}
    sums = {s.labels["turn"]: s.value for s in samples if s.name == "llm_turn_ttft_seconds_sum"}
    assert sums["4-7"] == pytest.approx(1.1)
    assert sums["8+"] == pytest.approx(1.2)
    for sample in samples:
        assert set(sample.labels) <= ALLOWED_LABELS
        assert sample.labels.get("turn", "1") in TURN_BUCKETS

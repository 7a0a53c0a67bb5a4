"""Unit tests of the `target` label: a run comparing targets, and a one-target run unchanged.

Records of two targets (`target="a"` / `"b"`) are observed into one `RunStats` and read back
through a fresh `CollectorRegistry`, as in tests/unit/test_prometheus.py (whose record
helpers these tests share): each target has its own series with its own counts, and a run
with one target exposes exactly the label names it had before targets existed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from harness.errors import ErrorClass, Mode
from harness.exporters.prometheus_collector import (
    ALLOWED_LABELS,
    GROUP_LABELS,
    TARGET_LABEL,
    EndpointBook,
    HarnessHealth,
    LLMCollector,
)
from harness.record import RequestRecord
from harness.stats import LatencyHistogram, RunStats
from harness.workload.tally import WorkloadStats
from tests.conftest import system_tool
from tests.unit.test_prometheus import (
    CHAT,
    batch_record,
    failed_record,
    mixed_records,
    stats_of,
    stream_record,
)

#: families that are the load generator's own: never a target's
UNTARGETED = frozenset(
    {
        "llm_requests_in_flight",
        "llm_harness_users",
        "llm_harness_cpu_ratio",
        "llm_harness_loop_lag_seconds",
        "llm_offered_rate_per_second",
    }
)


def to(target: str, records: Iterable[RequestRecord]) -> list[RequestRecord]:
    """`records`, sent to `target`."""
    out = []
    for record in records:
        record.target = target
        out.append(record)
    return out


def two_target_records() -> list[RequestRecord]:
    """Target a: 3 streams (one failed) and 2 batch; target b: 1 stream and 4 batch."""
    return [
        *to("a", [stream_record(0.2), stream_record(0.25), batch_record(1.0), batch_record(1.1)]),
        *to("a", [failed_record(Mode.STREAM, ErrorClass.HTTP_5XX)]),
        *to("b", [stream_record(0.6, tokens=9)]),
        *to("b", (batch_record(2.0 + i * 0.1, tokens=6) for i in range(4))),
    ]


def registry_of(
    stats: RunStats,
    *,
    workload: WorkloadStats | None = None,
    health: HarnessHealth | None = None,
    endpoints: dict[str, str] | None = None,
) -> CollectorRegistry:
    """A registry exposing `stats`; each target's endpoint from `endpoints` (default: CHAT)."""
    book = EndpointBook()
    for group in stats.groups():
        endpoint = (endpoints or {}).get(group.target, CHAT)
        book.observe(group.mode, group.model, endpoint, group.target)
    registry = CollectorRegistry()
    registry.register(
        LLMCollector(
            lambda: stats,
            endpoint_of=book,
            health=(lambda: health) if health is not None else None,
            workload=(lambda: workload) if workload is not None else None,
        )
    )
    return registry


def samples(registry: CollectorRegistry) -> list[Sample]:
    text = generate_latest(registry).decode()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def family_of(sample: Sample) -> str:
    for suffix in ("_total", "_bucket", "_count", "_sum", "_created"):
        if sample.name.endswith(suffix):
            return sample.name.removesuffix(suffix)
    return sample.name


def group(mode: str, target: str, endpoint: str = CHAT) -> dict[str, str]:
    labels = {"mode": mode, "model": "m", "endpoint": endpoint, "scenario": "default"}
    return {**labels, "target": target}


def health(arrivals: dict[str, tuple[int, int]] | None = None) -> HarnessHealth:
    """The harness's state; open loop with `arrivals` by lane (`stream@a`: due, dropped)."""
    lag = LatencyHistogram()
    lag.record(0.001)
    return HarnessHealth(
        users=2, in_flight=1, cpu_ratio={"local": 0.1}, loop_lag=lag,
        arrivals=arrivals if arrivals is not None else {"stream@a": (4, 0), "stream@b": (4, 1)},
        offered_rate_per_s=2.0,
    )  # fmt: skip


# ---------------------------------------------------------------- two targets side by side


def test_each_target_has_its_own_request_counts() -> None:
    registry = registry_of(stats_of(two_target_records()))

    def requests(mode: str, target: str, outcome: str = "ok", error_class: str = "none") -> float:
        labels = {**group(mode, target), "outcome": outcome, "error_class": error_class}
        got = registry.get_sample_value("llm_requests_total", labels)
        return got or 0.0

    assert (requests("stream", "a"), requests("batch", "a")) == (2, 2)
    assert requests("stream", "a", "failed", "http_5xx") == 1
    assert (requests("stream", "b"), requests("batch", "b")) == (1, 4)
    assert requests("stream", "b", "failed", "http_5xx") == 0  # b never failed


def test_each_target_has_its_own_latencies_and_tokens() -> None:
    registry = registry_of(stats_of(two_target_records()))
    value = registry.get_sample_value
    assert value("llm_ttft_seconds_count", group("stream", "a")) == 2
    assert value("llm_ttft_seconds_sum", group("stream", "a")) == pytest.approx(0.45)
    assert value("llm_ttft_seconds_count", group("stream", "b")) == 1
    assert value("llm_ttft_seconds_bucket", {**group("stream", "b"), "le": "0.5"}) == 0
    assert value("llm_ttft_seconds_bucket", {**group("stream", "b"), "le": "0.75"}) == 1
    assert value("llm_e2e_seconds_count", group("batch", "b")) == 4
    assert value("llm_e2e_seconds_sum", group("batch", "b")) == pytest.approx(8.6)
    server = {"source": "server"}
    assert value("llm_output_tokens_total", {**group("batch", "a"), **server}) == 8
    assert value("llm_output_tokens_total", {**group("batch", "b"), **server}) == 24
    assert value("llm_output_tokens_total", {**group("stream", "b"), **server}) == 9
    assert value("llm_input_tokens_total", group("stream", "a")) == 14  # 2 ok x 7


def test_the_target_counts_add_up_to_the_run_and_to_each_targets_summary() -> None:
    stats = stats_of(two_target_records())
    by_target: dict[str, float] = {}
    for sample in samples(registry_of(stats)):
        if sample.name == "llm_requests_total":
            target = sample.labels["target"]
            by_target[target] = by_target.get(target, 0) + sample.value
    assert by_target == {"a": 5, "b": 5}
    for target, n in by_target.items():
        summary = stats.summary(10.0, target=target)
        assert n == sum(mode["requests"] for mode in summary.values())


def test_every_family_of_a_group_carries_the_target_and_the_harness_families_do_not() -> None:
    records = two_target_records()
    for record in records:
        record.met_goodput = True  # the goodput family too
    scheduled = stream_record(0.2)
    scheduled.t_sched, scheduled.target = scheduled.t0 - 0.001, "a"  # and the schedule ones
    registry = registry_of(stats_of([*records, scheduled]), health=health())
    seen_targeted, seen_untargeted = set(), set()
    for sample in samples(registry):
        family = family_of(sample)
        if family in UNTARGETED:
            assert TARGET_LABEL not in sample.labels, sample
            seen_untargeted.add(family)
        else:
            assert sample.labels[TARGET_LABEL] in ("a", "b"), sample
            assert {"mode", "scenario"} <= set(sample.labels), sample
            seen_targeted.add(family)
        assert set(sample.labels) <= ALLOWED_LABELS, sample
    assert seen_untargeted == UNTARGETED
    assert {
        "llm_requests",
        "llm_ttft_seconds",
        "llm_e2e_seconds",
        "llm_output_tokens",
        "llm_input_tokens",
        "llm_reconnects",
        "llm_backoff_seconds",
        "llm_goodput_requests",
        "llm_schedule_lag_seconds",
        "llm_e2e_from_schedule_seconds",
        "llm_scheduled_requests",
        "llm_dropped_requests",
    } <= seen_targeted


def test_open_loop_arrivals_are_counted_per_targets_lane() -> None:
    arrivals = {"stream@a": (10, 0), "stream@b": (10, 3), "batch@a": (5, 0), "batch@b": (5, 1)}
    registry = registry_of(stats_of(two_target_records()), health=health(arrivals))
    for lane, (due, dropped) in arrivals.items():
        mode, target = lane.split("@")
        labels = {"mode": mode, "scenario": "default", "target": target}
        assert registry.get_sample_value("llm_scheduled_requests_total", labels) == due
        assert registry.get_sample_value("llm_dropped_requests_total", labels) == dropped
    modes = {s.labels["mode"] for s in samples(registry) if s.name.startswith("llm_scheduled")}
    assert modes == {"stream", "batch"}  # never a lane name as a mode


def test_each_targets_endpoint_is_its_own() -> None:
    stats = stats_of(two_target_records())
    registry = registry_of(stats, endpoints={"a": CHAT, "b": "/v1/completions"})
    value = registry.get_sample_value
    assert value("llm_input_tokens_total", group("batch", "a")) == 10
    assert value("llm_input_tokens_total", group("batch", "b", "/v1/completions")) == 20
    assert value("llm_input_tokens_total", group("batch", "b")) is None  # not "mixed"


def test_worker_deltas_with_targets_expose_what_one_process_would() -> None:
    records = two_target_records()
    workers = [stats_of(records[i::3]) for i in range(3)]
    books = [EndpointBook() for _ in workers]
    for book, part in zip(books, (records[i::3] for i in range(3)), strict=True):
        for record in part:
            book.observe(record.mode, record.model, record.endpoint, record.target)
    master, master_book = RunStats(), EndpointBook()
    for worker, book in zip(workers, books, strict=True):
        master.merge_wire(worker.take_delta())
        master_book.merge_wire(book.to_wire())
    merged = CollectorRegistry()
    merged.register(LLMCollector(lambda: master, endpoint_of=master_book))
    single = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples(registry_of(
        stats_of(records)))}  # fmt: skip
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples(merged)}
    assert got.keys() == single.keys()
    for key, expected in single.items():
        assert got[key] == pytest.approx(expected, rel=1e-12), key


def test_the_exposition_of_two_targets_passes_promtool_check_metrics() -> None:
    promtool = system_tool("promtool")
    registry = registry_of(stats_of(two_target_records()), health=health())
    text = generate_latest(registry).decode()
    assert 'target="a"' in text
    assert 'target="b"' in text
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- a one-target run: unchanged


def test_a_one_target_run_exposes_no_target_label_at_all() -> None:
    registry = registry_of(stats_of(mixed_records()), health=health({"stream": (4, 1)}))
    text = generate_latest(registry).decode()
    assert "target=" not in text  # not even target="": the series are those of before
    requests = [s for s in samples(registry) if s.name == "llm_requests_total"]
    assert requests
    for sample in requests:
        assert set(sample.labels) == {*GROUP_LABELS, "outcome", "error_class"}
    stream_ok = {
        "mode": "stream", "model": "m", "endpoint": CHAT, "scenario": "default",
        "outcome": "ok", "error_class": "none",
    }  # fmt: skip
    assert registry.get_sample_value("llm_requests_total", stream_ok) == 5
    due = {"mode": "stream", "scenario": "default"}
    assert registry.get_sample_value("llm_scheduled_requests_total", due) == 4


def test_a_one_target_runs_series_are_the_same_whatever_else_the_run_did() -> None:
    """The label set is chosen per scrape from the groups: no group has a target, no label;
    the same records once sent to a target carry it on exactly the same series."""
    plain = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples(registry_of(
        stats_of(mixed_records())))}  # fmt: skip
    targeted = {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != TARGET_LABEL))): s.value
        for s in samples(registry_of(stats_of(to("only", mixed_records()))))
    }
    assert targeted.keys() == plain.keys()
    for key, expected in plain.items():
        assert targeted[key] == pytest.approx(expected, rel=1e-12), key


# ---------------------------------------------------------------- endpoint book


def test_endpoint_book_keeps_targets_apart_and_reads_an_older_workers_wire() -> None:
    book = EndpointBook()
    book.observe(Mode.STREAM, "m", CHAT, "a")
    book.observe(Mode.STREAM, "m", "/v1/completions", "b")
    master = EndpointBook()
    master.merge_wire(book.to_wire())
    assert master("stream", "m", "a") == CHAT
    assert master("stream", "m", "b") == "/v1/completions"  # not "mixed": another target
    assert master("stream", "m") == "unknown"
    master.merge_wire([["batch", "m", CHAT]])  # a worker without targets: target ""
    assert master("batch", "m") == CHAT


# ---------------------------------------------------------------- conversation turns


def test_conversation_turns_are_counted_per_target() -> None:
    workload = WorkloadStats()
    for target, turn, ttft in (("a", 1, 0.1), ("a", 2, 0.2), ("b", 1, 0.5), ("b", 1, 0.7)):
        record = stream_record(ttft)
        record.turn, record.target = turn, target
        workload.observe(record)
    registry = registry_of(RunStats(), workload=workload)
    turns = {
        (s.labels["target"], s.labels["turn"]): s.value
        for s in samples(registry)
        if s.name == "llm_turn_requests_total"
    }
    assert turns == {("a", "1"): 1, ("a", "2"): 1, ("b", "1"): 2}
    labels = {"mode": "stream", "turn": "1", "scenario": "default", "target": "b"}
    assert registry.get_sample_value("llm_turn_ttft_seconds_sum", labels) == pytest.approx(1.2)


def test_conversation_turns_of_a_one_target_run_have_no_target_label() -> None:
    workload = WorkloadStats()
    record = stream_record(0.1)
    record.turn = 1
    workload.observe(record)
    turn_samples = [
        s for s in samples(registry_of(RunStats(), workload=workload)) if "turn" in s.labels
    ]
    assert turn_samples
    for sample in turn_samples:
        assert TARGET_LABEL not in sample.labels, sample

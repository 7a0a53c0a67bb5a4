"""Comparing two summaries without request records (harness.compare.changes): intervals from
the summaries' ci95 by MOVER, the failure ratio and rates, targets and modes matched by name,
and the warnings of different workloads (harness.compare.workload)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from harness.compare.changes import Change, Comparison, compare_runs
from harness.compare.inputs import RunInput
from harness.compare.intervals import mover_difference, poisson_rate_interval, wilson_interval
from harness.compare.markdown import render_markdown
from harness.compare.verdict import Verdict
from harness.compare.workload import workload_warnings
from harness.errors import Outcome
from harness.record import RequestRecord
from harness.stats import RELATIVE_ERROR
from tests.unit.compare_runs import batch_record, stream_record, summary_of


def streams(n: int, ttft_s: float, *, target: str = "", seed: int = 0) -> list[RequestRecord]:
    rng = random.Random(seed)
    return [
        stream_record(
            i * 0.1,
            ttft_s * rng.uniform(0.98, 1.02),
            [0.02 * rng.uniform(0.9, 1.1) for _ in range(7)],
            target=target,
        )
        for i in range(n)
    ]


def batches(n: int, e2e_s: float, *, failed: int = 0, target: str = "") -> list[RequestRecord]:
    return [batch_record(i * 0.1, e2e_s, target=target, failed=i < failed) for i in range(n)]


def side(label: str, summary: dict[str, Any]) -> RunInput:
    return RunInput(label, Path(label.lower()) / "summary.json", summary, None)


def compare(base: dict[str, Any], new: dict[str, Any], threshold: float = 0.1) -> Comparison:
    return compare_runs(side("BASE", base), side("NEW", new), threshold)


def find(comparison: Comparison, label: str) -> Change:
    found = [c for c in comparison.changes if c.label == label]
    assert len(found) == 1, [c.label for c in comparison.changes]
    return found[0]


def test_a_slower_ttft_is_worse_with_the_interval_from_both_summaries_ci95() -> None:
    base_summary, new_summary = summary_of(streams(200, 0.200)), summary_of(streams(200, 0.240))
    change = find(compare(base_summary, new_summary), "stream ttft p50")
    b, n = base_summary["modes"]["stream"]["ttft_s"], new_summary["modes"]["stream"]["ttft_s"]
    widen = (1 - RELATIVE_ERROR, 1 + RELATIVE_ERROR)
    expected = mover_difference(
        b["p50"],
        (b["ci95"]["p50"][0] * widen[0], b["ci95"]["p50"][1] * widen[1]),
        n["p50"],
        (n["ci95"]["p50"][0] * widen[0], n["ci95"]["p50"][1] * widen[1]),
    )
    assert (change.base, change.new) == (b["p50"], n["p50"])
    assert change.interval == expected
    assert (change.method, change.verdict, change.regression) == ("ci95", Verdict.WORSE, True)
    assert change.relative == pytest.approx(0.2, abs=0.01)


def test_the_same_profile_twice_is_no_regression() -> None:
    comparison = compare(summary_of(streams(200, 0.2, seed=1)), summary_of(streams(200, 0.2)))
    assert comparison.regressions == []
    assert comparison.exit_code == 0


def test_a_regression_makes_the_exit_code_1() -> None:
    comparison = compare(summary_of(streams(200, 0.2)), summary_of(streams(200, 0.3)))
    assert comparison.exit_code == 1
    # 200 requests bound p50 and p95, not p99
    assert sorted(c.label for c in comparison.regressions) == [
        f"stream {figure} {p}"
        for figure in ("e2e", "first_visible", "ttft")
        for p in ("p50", "p95")
    ]


def test_a_worse_change_within_the_threshold_is_listed_but_passes() -> None:
    comparison = compare(
        summary_of(streams(200, 0.2)), summary_of(streams(200, 0.22)), threshold=0.5
    )
    change = find(comparison, "stream ttft p50")
    assert (change.verdict, change.regression) == (Verdict.WORSE, False)
    assert change in comparison.worse
    assert comparison.exit_code == 0


def test_p99_of_too_few_requests_is_open_and_never_significant() -> None:
    # 100 requests cannot bound p99 from above: even a 50 % slower run is not "worse" at p99
    change = find(
        compare(summary_of(streams(100, 0.2)), summary_of(streams(100, 0.3))), "stream ttft p99"
    )
    assert change.interval == (None, None)
    assert change.verdict is Verdict.SAME


def test_a_latency_without_ci95_in_a_summary_is_open() -> None:
    base = summary_of(streams(200, 0.2))
    new = summary_of(streams(200, 0.3))
    del base["modes"]["stream"]["ttft_s"]["ci95"]
    change = find(compare(base, new), "stream ttft p50")
    assert change.interval == (None, None)
    assert change.verdict is Verdict.SAME


def test_failure_ratio_from_zero_is_a_regression_with_newcombes_interval() -> None:
    base, new = summary_of(batches(200, 0.3)), summary_of(batches(200, 0.3, failed=30))
    change = find(compare(base, new), "batch failure_ratio")
    assert (change.base, change.new) == (0.0, 0.15)
    assert change.interval == mover_difference(
        0.0, wilson_interval(0, 200), 0.15, wilson_interval(30, 200)
    )
    assert (change.method, change.verdict, change.regression) == ("wilson", Verdict.WORSE, True)
    assert change.relative is None


def test_cancelled_requests_are_not_in_the_failure_ratio() -> None:
    records = batches(100, 0.3, failed=10)
    for record in batches(50, 0.3):
        record.outcome = Outcome.CANCELLED
        records.append(record)
    change = find(compare(summary_of(records), summary_of(records)), "batch failure_ratio")
    assert change.base == 0.1  # 10 of the 100 that finished


def test_fewer_requests_per_second_is_worse_with_poisson_intervals() -> None:
    base, new = summary_of(batches(600, 0.3)), summary_of(batches(300, 0.3))
    change = find(compare(base, new), "batch requests_per_s")
    assert (change.base, change.new) == (10.0, 5.0)
    assert change.interval == mover_difference(
        10.0, poisson_rate_interval(600, 60.0), 5.0, poisson_rate_interval(300, 60.0)
    )
    assert (change.method, change.verdict, change.regression) == ("poisson", Verdict.WORSE, True)
    assert change.worse_by == pytest.approx(0.5)


def test_more_output_tokens_per_second_is_better() -> None:
    base, new = summary_of(batches(300, 0.3)), summary_of(batches(600, 0.3))
    change = find(compare(base, new), "batch output_tokens_per_s")
    assert (change.base, change.new) == (40.0, 80.0)
    assert change.verdict is Verdict.BETTER


def test_goodput_is_compared_only_when_both_runs_have_it() -> None:
    judged = batches(100, 0.3)
    for record in judged:
        record.met_goodput = True
    comparison = compare(summary_of(batches(100, 0.3)), summary_of(judged))
    assert [c.label for c in comparison.changes if c.figure.key == "goodput_per_s"] == []
    assert "batch goodput_per_s: only in NEW" in comparison.only
    both = compare(summary_of(judged), summary_of(judged))
    assert find(both, "batch goodput_per_s").verdict is Verdict.SAME


def test_targets_are_matched_by_name_and_the_rest_listed() -> None:
    base = summary_of(
        streams(100, 0.2, target="fast") + streams(100, 0.4, target="slow"),
        targets=("fast", "slow"),
    )
    new = summary_of(
        streams(100, 0.3, target="fast") + streams(100, 0.4, target="medium"),
        targets=("fast", "medium"),
    )
    comparison = compare(base, new)
    assert {c.target for c in comparison.changes} == {"fast"}
    assert find(comparison, "fast/stream ttft p50").new == pytest.approx(0.3, rel=0.03)
    assert comparison.only == ("target slow: only in BASE", "target medium: only in NEW")
    markdown = render_markdown(comparison)
    assert "\n## fast · stream\n" in markdown
    assert (
        "\n## Only in one run\n\n- target slow: only in BASE\n- target medium: only in NEW\n"
        in (markdown)
    )


def test_a_mode_in_one_run_only_is_listed_not_compared() -> None:
    comparison = compare(
        summary_of(streams(50, 0.2) + batches(50, 0.3)), summary_of(streams(50, 0.2))
    )
    assert {c.mode for c in comparison.changes} == {"stream"}
    assert comparison.only == ("batch: only in BASE",)


def test_a_run_without_targets_and_one_with_have_nothing_in_common() -> None:
    comparison = compare(
        summary_of(streams(50, 0.2)), summary_of(streams(50, 0.2, target="a"), targets=("a",))
    )
    assert comparison.changes == ()
    assert comparison.only == (
        "the run's one target (no targets:): only in BASE",
        "target a: only in NEW",
    )
    assert comparison.warnings == (
        "BASE and NEW have no target and mode in common: nothing was compared",
    )
    assert comparison.exit_code == 0


def test_every_figure_of_a_stream_and_a_batch_mode_is_compared() -> None:
    records = streams(100, 0.2) + batches(100, 0.3)
    comparison = compare(summary_of(records), summary_of(records))
    labels = [c.label for c in comparison.changes]
    stream = [
        f"stream {f} {p}"
        for f in ("ttft", "itl", "tpot", "e2e", "first_visible")
        for p in ("p50", "p95", "p99")
    ]
    batch = [f"batch {f} {p}" for f in ("e2e", "first_visible") for p in ("p50", "p95", "p99")]
    rates = ["failure_ratio", "requests_per_s", "output_tokens_per_s"]
    assert labels == (
        stream + [f"stream {r}" for r in rates] + batch + [f"batch {r}" for r in rates]
    )
    assert all(c.verdict is Verdict.SAME for c in comparison.changes)


# ------------------------------------------------------------------ different workloads


def test_the_same_workload_gives_no_warning() -> None:
    summary = summary_of(streams(10, 0.2), run={"scenario": "chat", "workload": "synthetic"})
    assert workload_warnings(summary, summary) == []


def test_different_workloads_are_warnings_naming_both_sides() -> None:
    base = summary_of(
        streams(10, 0.2),
        run={
            "scenario": "chat",
            "workload": "synthetic 100 words",
            "models": ["a"],
            "users": 8,
            "load": {"kind": "open", "process": "poisson", "offered_rate_per_s": 10.0},
        },
    )
    new = summary_of(
        streams(10, 0.2),
        run={
            "scenario": "chat-v2",
            "workload": "synthetic 100 words",
            "models": ["b"],
            "users": 16,
            "load": {"kind": "open", "process": "gamma", "offered_rate_per_s": 12.0},
            "client_saturated": True,
        },
    )
    assert workload_warnings(base, new) == [
        "different scenario: 'chat' in BASE, 'chat-v2' in NEW",
        "different models: a in BASE, b in NEW",
        "different users: 8 in BASE, 16 in NEW",
        "different arrival process: 'poisson' in BASE, 'gamma' in NEW",
        "different offered rate: 10/s in BASE, 12/s in NEW",
        "NEW: the load generator was saturated (client_saturated): its latencies include the "
        "generator's own delays",
    ]


def test_an_offered_rate_within_five_percent_is_the_same_load() -> None:
    base = summary_of(streams(5, 0.2), run={"load": {"offered_rate_per_s": 10.0}})
    new = summary_of(streams(5, 0.2), run={"load": {"offered_rate_per_s": 10.4}})
    assert workload_warnings(base, new) == []


def test_requested_lengths_far_apart_are_a_different_workload() -> None:
    base = summary_of(streams(5, 0.2))
    new = summary_of(streams(5, 0.2))
    for summary, mean in ((base, 128.0), (new, 256.0)):
        summary["modes"]["stream"]["workload"] = {
            "lengths": {"output": {"requested": {"count": 5, "mean": mean, "p50": mean}}}
        }
    assert workload_warnings(base, new) == [
        "different stream requested output tokens (mean): 128 in BASE, 256 in NEW"
    ]

"""SLO gates: figures from the summary's precise blocks, verdicts (DESIGN.md §4).

The exit codes they give are tests/unit/test_exit_code.py's."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from harness.slo import (
    DEFAULT_FAILURE_GATE,
    SLO,
    describe,
    evaluate,
    failure_ratio,
    harness_failures,
    with_default_failure_gate,
)


def block(p50: float, p95: float, p99: float) -> dict[str, float]:
    return {"count": 10, "mean": p50, "p50": p50, "p90": p95, "p95": p95, "p99": p99, "max": p99}


def summary(**modes: Any) -> dict[str, Any]:
    return {"schema": "locust-llm/summary/v1", "modes": modes, "slos": []}


STREAM = {
    "requests": 100,
    "outcomes": {"ok": 97, "failed": 2, "cancelled": 1},
    "errors": {"stall_timeout": 2},
    "ttft_s": block(0.2, 0.25, 0.4),
    "first_visible_s": block(0.2, 0.25, 0.4),
    "e2e_s": block(1.4, 1.5, 1.6),
}
BATCH = {
    "requests": 50,
    "outcomes": {"ok": 50},
    "errors": {},
    "e2e_s": block(1.4, 1.5, 1.7),
    "first_visible_s": block(1.4, 1.5, 1.7),
}


def test_a_latency_gate_reads_the_percentile_block() -> None:
    results = evaluate([SLO("ttft", 0.3, "stream", 95)], summary(stream=STREAM))
    assert results == [
        {
            "name": "stream ttft p95",
            "metric": "ttft",
            "mode": "stream",
            "percentile": 95,
            "limit_s": 0.3,
            "value_s": 0.25,
            "passed": True,
        }
    ]


def test_a_latency_gate_above_its_limit_fails() -> None:
    [result] = evaluate([SLO("e2e", 1.6, "batch", 99)], summary(batch=BATCH))
    assert (result["value_s"], result["passed"]) == (1.7, False)


def test_a_value_equal_to_the_limit_passes() -> None:
    [result] = evaluate([SLO("e2e", 1.5, "batch", 95)], summary(batch=BATCH))
    assert result["passed"] is True


def test_a_gate_without_data_fails_with_the_reason() -> None:
    [missing_ttft, missing_figure] = evaluate(
        [SLO("ttft", 1.0, "stream", 95), SLO("tpot", 1.0, "stream", 50)],
        summary(batch=BATCH) | {"modes": {"batch": BATCH, "stream": {"requests": 3}}},
    )
    assert missing_ttft["reason"] == "no data: no stream request produced a ttft figure"
    assert missing_figure == {
        "name": "stream tpot p50",
        "metric": "tpot",
        "mode": "stream",
        "percentile": 50,
        "limit_s": 1.0,
        "passed": False,
        "reason": "no data: no stream request produced a tpot figure",
    }
    [result] = evaluate([SLO("ttft", 1.0, "stream", 95)], summary(batch=BATCH))
    assert result["reason"] == "no data: no stream request was made"
    assert "value_s" not in result


def test_failure_ratio_counts_failed_over_finished_requests() -> None:
    modes = {"stream": STREAM, "batch": BATCH}
    assert failure_ratio(modes, "stream") == (2 / 99, None)  # the cancelled one is neither
    assert failure_ratio(modes, None) == (2 / 149, None)
    assert failure_ratio(modes, "batch") == (0.0, None)
    assert failure_ratio({}, None) == (None, "no data: no request finished")


def test_a_failure_ratio_gate_gives_limit_and_value() -> None:
    results = evaluate(
        [SLO("failure_ratio", 0.01), SLO("failure_ratio", 0.05, "stream", name="few stalls")],
        summary(stream=STREAM, batch=BATCH),
    )
    assert results == [
        {
            "name": "failure_ratio",
            "metric": "failure_ratio",
            "limit": 0.01,
            "value": 2 / 149,
            "passed": False,
        },
        {
            "name": "few stalls",
            "metric": "failure_ratio",
            "mode": "stream",
            "limit": 0.05,
            "value": 2 / 99,
            "passed": True,
        },
    ]


def test_a_failure_ratio_gate_without_requests_fails() -> None:
    [result] = evaluate([DEFAULT_FAILURE_GATE], summary())
    assert result == {
        "name": "failure_ratio",
        "metric": "failure_ratio",
        "limit": 0.0,
        "passed": False,
        "reason": "no data: no request finished",
    }


def test_the_default_failure_gate_is_added_unless_one_is_set() -> None:
    ttft = SLO("ttft", 0.5, "stream", 95)
    assert with_default_failure_gate([ttft]) == (ttft, DEFAULT_FAILURE_GATE)
    own = SLO("failure_ratio", 0.1)
    assert with_default_failure_gate([ttft, own]) == (ttft, own)
    assert DEFAULT_FAILURE_GATE.origin == "default"


def test_harness_failures_count_harness_internal_over_every_mode() -> None:
    doc = summary(
        stream={"requests": 3, "errors": {"harness_internal": 2, "http_5xx": 1}},
        batch={"requests": 1, "errors": {"harness_internal": 1}},
    )
    assert harness_failures(doc) == 3
    assert harness_failures(summary(stream={"requests": 1, "errors": {"http_5xx": 1}})) == 0


def test_failure_ratio_leaves_cancelled_out_and_counts_empty_as_failed() -> None:
    doc = summary(stream={"outcomes": {"ok": 6, "ok_length": 1, "empty": 2, "cancelled": 5}})
    assert failure_ratio(doc["modes"], "stream") == (2 / 9, None)


def test_describe_for_print_config() -> None:
    assert describe(SLO("ttft", 0.5, "stream", 95)) == "stream ttft p95 <= 500 ms"
    assert describe(SLO("e2e", 15.0, "batch", 99)) == "batch e2e p99 <= 15 s"
    assert describe(SLO("failure_ratio", 0.01)) == (
        "failure_ratio <= 0.01 (1% of finished requests)"
    )


def test_my_pure_modules_import_no_locust_gevent_or_network_code() -> None:
    modules = [
        "harness.slo",
        "harness.exit_code",
        "harness.scenario",
        "harness.checks",
        "harness.prompts",
        "harness.strict_yaml",
        "harness.effective",
        "harness.report.cost",
        "harness.report.svg",
        "harness.report.html",
        "harness.report.junit",
        "harness.report.timeline",
        "harness.report.enrich",
        "harness.report.summary",
        "harness.report.live",
    ]
    code = (
        "import sys\n"
        f"for name in {modules!r}: __import__(name)\n"
        "print(sorted({'locust', 'gevent', 'geventhttpclient', 'httpx', 'prometheus_client'}"
        " & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

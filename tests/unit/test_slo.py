"""SLO gates: figures from the summary's precise blocks, verdicts, exit codes (DESIGN.md §4)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from harness.slo import (
    DEFAULT_FAILURE_GATE,
    SLO,
    describe,
    evaluate,
    exit_code,
    failure_ratio,
    verdict_line,
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


@pytest.mark.parametrize(
    ("results", "errors", "code"),
    [
        ([{"passed": True}, {"passed": True}], {}, 0),
        ([], {}, 0),
        ([{"passed": True}, {"passed": False}], {}, 1),
        ([{"passed": False, "reason": "no data"}], {}, 1),
        ([{"passed": True}], {"harness_internal": 1}, 3),
        ([{"passed": False}], {"harness_internal": 2}, 3),
    ],
)
def test_exit_codes(results: list[dict[str, Any]], errors: dict[str, int], code: int) -> None:
    doc = summary(stream={"requests": 1, "errors": errors})
    assert exit_code(results, doc) == code


def test_verdict_line_names_the_missed_gates() -> None:
    results = [{"name": "stream ttft p95", "passed": False}, {"name": "x", "passed": True}]
    assert verdict_line(results, summary()) == (
        "locust-llm: SLOs 1 of 2 met; missed: stream ttft p95: exit code 1"
    )
    assert verdict_line(results[1:], summary()) == "locust-llm: SLOs 1 of 1 met: exit code 0"


def test_describe_for_print_config() -> None:
    assert describe(SLO("ttft", 0.5, "stream", 95)) == "stream ttft p95 <= 500 ms"
    assert describe(SLO("e2e", 15.0, "batch", 99)) == "batch e2e p99 <= 15 s"
    assert describe(SLO("failure_ratio", 0.01)) == (
        "failure_ratio <= 0.01 (1% of finished requests)"
    )


def test_my_pure_modules_import_no_locust_gevent_or_network_code() -> None:
    modules = [
        "harness.slo",
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

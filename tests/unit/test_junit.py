"""junit.xml: one test case per SLO, a failure with value and limit for each one missed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from harness.report.junit import render_junit

RUN = {
    "started_at": "2025-11-24T21:50:00+00:00",
    "duration_s": 60.25,
    "host": "http://127.0.0.1:8000/v1",
    "users": 8,
    "locust_version": "2.47.0",
    "harness_version": "0.1.0",
    "client_saturated": False,
    "scenario": "checkout & <chat>",
}
SLOS = [
    {"name": "stream ttft p95", "metric": "ttft", "limit_s": 0.5, "value_s": 0.21, "passed": True},
    {"name": "batch e2e p99", "metric": "e2e", "limit_s": 1.0, "value_s": 1.46, "passed": False},
    {
        "name": "stream tpot p50",
        "metric": "tpot",
        "limit_s": 0.05,
        "passed": False,
        "reason": "no data: no stream request produced a tpot figure",
    },
    {
        "name": "failure_ratio",
        "metric": "failure_ratio",
        "limit": 0.01,
        "value": 0.0,
        "passed": True,
    },
]


def parse(summary: dict[str, Any]) -> ET.Element:
    text = render_junit(summary)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(text)


def doc(slos: list[dict[str, Any]], errors: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "schema": "locust-llm/summary/v1",
        "run": RUN,
        "modes": {"stream": {"requests": 10, "errors": errors or {}}},
        "slos": slos,
    }


def test_one_testcase_per_slo_and_a_failure_for_each_missed() -> None:
    root = parse(doc(SLOS))
    assert root.tag == "testsuites"
    assert root.attrib == {
        "name": "locust-llm",
        "tests": "4",
        "failures": "2",
        "errors": "0",
        "time": "60.250",
    }
    [suite] = root.findall("testsuite")
    assert suite.attrib == {
        "name": "checkout & <chat>",
        "tests": "4",
        "failures": "2",
        "errors": "0",
        "skipped": "0",
        "time": "60.250",
        "timestamp": "2025-11-24T21:50:00",
        "hostname": "127.0.0.1",
    }
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("locust-llm.slo", "stream ttft p95"),
        ("locust-llm.slo", "batch e2e p99"),
        ("locust-llm.slo", "stream tpot p50"),
        ("locust-llm.slo", "failure_ratio"),
    ]
    failures = {c.get("name"): c.find("failure") for c in cases}
    assert failures["stream ttft p95"] is None
    assert failures["failure_ratio"] is None
    missed = failures["batch e2e p99"]
    assert missed is not None
    assert missed.attrib == {
        "message": "batch e2e p99: 1.46 s is above the limit 1.00 s",
        "type": "SLOMissed",
    }
    no_data = failures["stream tpot p50"]
    assert no_data is not None
    assert no_data.get("message") == (
        "stream tpot p50: no data: no stream request produced a tpot figure (limit 50.0 ms)"
    )


def test_the_suite_has_properties_and_output_elements() -> None:
    suite = parse(doc(SLOS)).find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties == {
        "host": "http://127.0.0.1:8000/v1",
        "scenario": "checkout & <chat>",
        "users": "8",
        "locust_version": "2.47.0",
        "harness_version": "0.1.0",
    }
    children = [child.tag for child in suite]
    assert children[0] == "properties"
    assert children[-2:] == ["system-out", "system-err"]


def test_requests_failed_inside_the_harness_are_an_error_case() -> None:
    root = parse(doc(SLOS[:1], errors={"harness_internal": 3}))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "0", "1")
    [error] = root.iter("error")
    assert error.get("message") == "3 request(s) failed inside the harness (harness_internal)"


def test_no_slos_gives_an_empty_suite() -> None:
    root = parse(doc([]))
    assert root.get("tests") == "0"
    assert root.findall("testsuite/testcase") == []

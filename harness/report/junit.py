"""junit.xml: one test case per SLO, for CI systems that show test results.

`render_junit(summary)` follows the common JUnit XML layout (Ant's junit task, as Jenkins,
GitLab and GitHub test reporters read it): ``<testsuites>`` holding one ``<testsuite
name="locust-llm">`` with ``<properties>`` (host, scenario, users, versions), one
``<testcase classname="locust-llm.slo" name="stream ttft p95">`` per SLO — a missed one holds
``<failure message="…" type="SLOMissed">`` with the value and the limit — and, when requests
failed inside the harness, a ``harness`` test case with an ``<error>``. Pure: standard
library only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from harness.report.html import slo_value_text
from harness.slo import harness_failures

CLASSNAME = "locust-llm.slo"


def render_junit(summary: Mapping[str, Any]) -> str:
    """The JUnit XML document (UTF-8, with declaration) for a summary."""
    run = summary.get("run") if isinstance(summary.get("run"), Mapping) else {}
    assert isinstance(run, Mapping)
    slos = [s for s in summary.get("slos") or [] if isinstance(s, Mapping)]
    duration = run.get("duration_s")
    time_text = f"{float(duration):.3f}" if isinstance(duration, int | float) else "0"
    internal = harness_failures(summary)
    failures = sum(1 for s in slos if s.get("passed") is not True)
    errors = 1 if internal else 0
    tests = len(slos) + errors
    root = ET.Element(
        "testsuites",
        name="locust-llm",
        tests=str(tests),
        failures=str(failures),
        errors=str(errors),
        time=time_text,
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        name=str(run.get("scenario") or "locust-llm"),
        tests=str(tests),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=time_text,
        timestamp=_timestamp(run.get("started_at")),
        hostname=_hostname(run.get("host")),
    )
    properties = ET.SubElement(suite, "properties")
    for key in ("host", "endpoint", "scenario", "users", "locust_version", "harness_version"):
        if key in run:
            ET.SubElement(properties, "property", name=key, value=str(run[key]))
    for slo in slos:
        name = str(slo.get("name", "?"))
        case = ET.SubElement(suite, "testcase", classname=CLASSNAME, name=name, time="0")
        value, limit = slo_value_text(slo)
        if slo.get("passed") is True:
            ET.SubElement(case, "system-out").text = f"{name}: {value} (limit {limit})"
            continue
        reason = slo.get("reason")
        if reason:
            message = f"{name}: {reason} (limit {limit})"
        elif "min" in slo or "min_per_s" in slo:
            message = f"{name}: {value} is below the minimum {limit.removeprefix('≥ ')}"
        else:
            message = f"{name}: {value} is above the limit {limit}"
        failure = ET.SubElement(case, "failure", message=message, type="SLOMissed")
        failure.text = message
    if internal:
        case = ET.SubElement(suite, "testcase", classname="locust-llm", name="harness", time="0")
        text = f"{internal} request(s) failed inside the harness (harness_internal)"
        error = ET.SubElement(case, "error", message=text, type="HarnessError")
        error.text = text
    ET.SubElement(suite, "system-out").text = ""
    ET.SubElement(suite, "system-err").text = ""
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _timestamp(started_at: Any) -> str:
    """ISO 8601 without a zone (JUnit's schema): ``2025-01-31T12:00:00``."""
    if not isinstance(started_at, str) or len(started_at) < 19:
        return "1970-01-01T00:00:00"
    return started_at[:19]


def _hostname(host: Any) -> str:
    if isinstance(host, str) and host:
        return urlsplit(host).hostname or "localhost"
    return "localhost"

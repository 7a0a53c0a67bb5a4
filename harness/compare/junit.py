"""compare.junit.xml: one test case per compared figure, for CI systems that show test results.

The layout of harness.report.junit: ``<testsuites>`` holding one ``<testsuite
name="locust-llm compare">`` with ``<properties>`` (both summaries' paths, the threshold), one
``<testcase classname="locust-llm.compare" name="stream ttft p50">`` per figure — a regression
(worse beyond the threshold) holds ``<failure type="Regression">`` whose message gives the
change, both values and the interval; any other case says the same in ``<system-out>`` — and
one skipped case per target, mode or figure only one run has. Pure: standard library only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.compare.changes import Comparison
from harness.compare.text import change_line, threshold_text

CLASSNAME = "locust-llm.compare"


def render_junit(comparison: Comparison) -> str:
    """The JUnit XML document (UTF-8, with declaration) of a comparison."""
    failures = len(comparison.regressions)
    skipped = len(comparison.only)
    tests = len(comparison.changes) + skipped
    counts = {"tests": str(tests), "failures": str(failures), "errors": "0", "time": "0"}
    root = ET.Element("testsuites", {"name": "locust-llm compare", **counts})
    suite = ET.SubElement(
        root, "testsuite", {"name": "locust-llm compare", "skipped": str(skipped), **counts}
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("base", str(comparison.base.summary_path)),
        ("new", str(comparison.new.summary_path)),
        ("threshold", threshold_text(comparison.threshold)),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    limit = threshold_text(comparison.threshold)
    for change in comparison.changes:
        case = ET.SubElement(suite, "testcase", classname=CLASSNAME, name=change.label, time="0")
        line = change_line(change)
        if change.regression:
            message = f"{line}: worse by more than the {limit} threshold"
            failure = ET.SubElement(case, "failure", message=message, type="Regression")
            failure.text = message
        else:
            ET.SubElement(case, "system-out").text = line
    for item in comparison.only:
        name, _, where = item.rpartition(": ")
        case = ET.SubElement(suite, "testcase", classname=CLASSNAME, name=name, time="0")
        ET.SubElement(case, "skipped", message=f"{where}: not compared")
    ET.SubElement(suite, "system-out").text = "\n".join(comparison.warnings)
    ET.SubElement(suite, "system-err").text = ""
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

"""The pure core imports nothing that patches or serves: no Locust, gevent, httpx, Prometheus."""

from __future__ import annotations

import subprocess
import sys

PURE_MODULES = [
    "harness",
    "harness.errors",
    "harness.sse",
    "harness.protocols",
    "harness.protocols.openai",
    "harness.protocols.registry",
    "harness.record",
    "harness.stream",
    "harness.encoding",
    "harness.stats",
    "harness.scenario",
    "harness.report.summary",
    "harness.report.markdown",
    "harness.report.cost",
    "harness.report.svg",
    "harness.report.html",
    "harness.report.junit",
    "harness.report.enrich",
    "harness.report.timeline",
    "harness.slo",
    "harness.strict_yaml",
    "harness.checks",
    "harness.prompts",
    "harness.effective",
    "harness.retry",
    "harness.redact",
    "harness.target",
    "harness.arrival",
    "harness.transport",
]
FORBIDDEN = {"locust", "gevent", "geventhttpclient", "httpx", "prometheus_client"}


def test_pure_modules_import_no_network_or_locust_code() -> None:
    code = (
        "import sys\n"
        f"for name in {PURE_MODULES!r}: __import__(name)\n"
        f"print(sorted({FORBIDDEN!r} & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_mock_shares_no_parsing_code_with_the_harness() -> None:
    code = (
        "import sys\n"
        "import harness.mock.server, harness.mock.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith('harness.')"
        " and not m.startswith('harness.mock')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

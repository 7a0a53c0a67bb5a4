"""report.html: self-contained, and its plots render in a real headless Chromium.

The browser tests drive Debian's chromium through its chromedriver (scripts/system-deps installs
both; nothing is downloaded) and require no console error and drawn content in every plot.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness.report.enrich import QUANTILE_POINTS
from harness.report.html import render_html
from harness.report.summary import load_schema, write_all_reports
from tests.conftest import ROOT, run_mock

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PLOTS = 11


def latency(p50: float) -> dict[str, float]:
    return {
        "count": 400,
        "min": p50 * 0.9,
        "mean": p50 * 1.02,
        "p50": p50,
        "p90": p50 * 1.05,
        "p95": p50 * 1.08,
        "p99": p50 * 1.2,
        "max": p50 * 1.5,
    }


def quantiles(p50: float) -> list[float]:
    """A smooth, increasing curve through the median (a stand-in for real quantiles)."""
    return [p50 * (0.85 + 0.3 * (p / 100) ** 3) for p in QUANTILE_POINTS]


def rich_summary() -> dict[str, Any]:
    """A summary with every section the report draws: both modes, errors, timeline, cost."""
    stream = {
        "requests": 400,
        "outcomes": {"ok": 380, "failed": 20},
        "errors": {"stall_timeout": 12, "http_5xx": 8},
        "ttft_s": latency(0.2),
        "itl_s": latency(0.02),
        "tpot_s": latency(0.02),
        "e2e_s": latency(1.46),
        "first_visible_s": latency(0.2),
        "ttfb_s": latency(0.173),
        "tail_s": latency(0.17),
        "token_count_mismatch": 18,
        "token_count_excess": 18,
        "reconnects": 3,
        "backoff_s": 0.0,
        "anomalies": {"burst_delivery": 40, "reconnect": 3},
        "output_tokens": 24320,
        "requests_per_s": 6.6,
        "output_tokens_per_s": 405.0,
        "itl_basis": "per_token",
        "quantiles": {
            "percentiles": list(QUANTILE_POINTS),
            "ttft_s": quantiles(0.2),
            "itl_s": quantiles(0.02),
            "e2e_s": quantiles(1.46),
            "first_visible_s": quantiles(0.2),
        },
    }
    batch = {
        "requests": 400,
        "outcomes": {"ok": 398, "failed": 2},
        "errors": {"http_5xx": 2},
        "e2e_s": latency(1.46),
        "first_visible_s": latency(1.46),
        "output_tokens": 25472,
        "requests_per_s": 6.6,
        "output_tokens_per_s": 424.5,
        "quantiles": {
            "percentiles": list(QUANTILE_POINTS),
            "e2e_s": quantiles(1.46),
            "first_visible_s": quantiles(1.46),
        },
    }
    points = []
    for i in range(1, 31):
        modes = {}
        for mode, p50 in (("stream", 0.2), ("batch", 1.46)):
            extra = 2 if mode == "stream" else 0
            block = {"count": 13, "p50": p50 * (1 + i / 100), "p95": p50 * 1.1, "p99": p50 * 1.2}
            figures: dict[str, Any] = {
                "requests": 13 + i % 3 + extra,
                "failures": 1 if i % 7 == 0 else 0,
                "output_tokens": 832,
                "e2e_s": {**block, "p50": 1.46},
                "first_visible_s": block,
            }
            if mode == "stream":
                figures["ttft_s"] = block
                figures["itl_s"] = {"count": 800, "p50": 0.02, "p95": 0.021, "p99": 0.025}
            modes[mode] = figures
        points.append({"t_s": 2.0 * i, "dt_s": 2.0, "users": 32, "modes": modes})
    return {
        "schema": "locust-llm/summary/v1",
        "run": {
            "started_at": "2025-11-24T21:50:00+00:00",
            "duration_s": 60.0,
            "host": "http://127.0.0.1:8000/v1",
            "users": 32,
            "locust_version": "2.47.0",
            "harness_version": "0.1.0",
            "client_saturated": False,
            "models": ["mock-llm"],
            "endpoint": "/v1/chat/completions",
            "scenario": "nightly <script>alert(1)</script>",
            "server_path": {
                "stream": {
                    "server": "uvicorn",
                    "gateway": "litellm",
                    "x-litellm-version": "1.74.9",
                },
                "batch": {"server": "uvicorn", "gateway": "litellm", "x-litellm-version": "1.74.9"},
            },
        },
        "modes": {"stream": stream, "batch": batch},
        "slos": [
            {
                "name": "stream ttft p95",
                "metric": "ttft",
                "mode": "stream",
                "percentile": 95,
                "limit_s": 0.5,
                "value_s": 0.216,
                "passed": True,
            },
            {
                "name": "failure_ratio",
                "metric": "failure_ratio",
                "limit": 0.01,
                "value": 22 / 800,
                "passed": False,
            },
        ],
        "timeline": {"interval_s": 2.0, "points": points},
        "cost": {
            "currency": "USD",
            "total": 0.0421,
            "models": {
                "mock-llm": {
                    "input_tokens": 12000,
                    "output_tokens": 49792,
                    "input_per_mtok": 0.5,
                    "output_per_mtok": 0.75,
                    "cost": 0.0434,
                }
            },
            "unpriced": [],
        },
    }


# --- the document itself (fast) -----------------------------------------------------------


def test_the_rich_summary_validates_against_the_schema() -> None:
    jsonschema.validate(rich_summary(), load_schema())


def test_the_report_is_one_self_contained_file() -> None:
    html = render_html(rich_summary())
    assert "Content-Security-Policy" in html
    assert "default-src 'none'" in html
    assert "<script" not in html
    for reference in ('src="http', 'href="http', "url(", "@import"):
        assert reference not in html
    assert html.count('<svg class="plot') == PLOTS


def test_text_from_the_summary_is_escaped() -> None:
    html = render_html(rich_summary())
    assert "nightly &lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_report_shows_verdict_slos_cost_and_errors() -> None:
    html = render_html(rich_summary())
    assert "FAILED: 1 of 2 SLOs met (exit code 1)" in html
    assert "<td>stream ttft p95</td><td>216.0 ms</td><td>500.0 ms</td>" in html
    assert "<td>failure_ratio</td><td>2.75%</td><td>1%</td>" in html
    assert "$0.0421" in html
    assert "<td>streaming</td><td>stall_timeout</td><td>12</td>" in html


def test_a_summary_without_data_says_so_instead_of_drawing_zeros() -> None:
    summary = rich_summary()
    summary["modes"] = {}
    del summary["timeline"]
    html = render_html(summary)
    assert "No requests were recorded." in html
    assert html.count(">no data</text>") == PLOTS - 1
    assert "No failed requests" in html


# --- in a real browser (slow) --------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("chromium and chromedriver are required: run scripts/system-deps")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


_DRAWN = """
return Array.from(document.querySelectorAll('svg.plot')).map(svg => {
  const lines = Array.from(svg.querySelectorAll('polyline.series'));
  const bars = Array.from(svg.querySelectorAll('rect.bar'));
  const texts = Array.from(svg.querySelectorAll('text'));
  const box = svg.getBoundingClientRect();
  return {
    label: svg.getAttribute('aria-label'),
    empty: svg.classList.contains('empty'),
    width: box.width, height: box.height,
    lines: lines.map(l => l.getTotalLength()),
    bars: bars.map(b => b.getBBox().width),
    text: texts.filter(t => t.getBBox().width > 0).length,
  };
});
"""


def open_report(driver: Any, path: Path) -> list[dict[str, Any]]:
    driver.get(path.as_uri())
    plots: list[dict[str, Any]] = driver.execute_script(_DRAWN)
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    return plots


@pytest.mark.slow
def test_every_plot_renders_with_drawn_content_and_no_console_error(
    browser: Any, tmp_path: Path
) -> None:
    write_all_reports(rich_summary(), tmp_path)
    plots = open_report(browser, tmp_path / "report.html")
    assert len(plots) == PLOTS
    for plot in plots:
        assert plot["width"] > 300, plot
        assert plot["height"] > 40, plot
        assert not plot["empty"], plot
        drawn = [n for n in plot["lines"] + plot["bars"] if n > 1]
        assert drawn, plot  # every chart of this summary has data to draw
        assert plot["text"] >= 3, plot  # ticks, labels, legend


@pytest.mark.slow
def test_the_report_of_a_real_run_renders(browser: Any, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    with run_mock("--ttft", "30ms", "--itl", "5ms", "--tokens", "8") as mock:
        scenario.write_text(
            f"target: {{base_url: '{mock.url}'}}\n"
            "load: {users: 4, run_time: 5s}\n"
            "slos:\n  - {mode: stream, metric: ttft, percentile: 95, max: 2s}\n"
        )
        result = subprocess.run(
            [sys.executable, "-m", "harness.cli", "run", str(scenario), "--headless",
             "--out", str(tmp_path / "out")],
            capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    jsonschema.validate(summary, load_schema())
    assert len(summary["timeline"]["points"]) >= 2
    plots = open_report(browser, tmp_path / "out" / "report.html")
    assert len(plots) == PLOTS
    by_label = {p["label"]: p for p in plots}
    for label in (
        "First visible output: streaming vs batch",
        "First visible output, CDF",
        "TTFT, CDF (streaming)",
        "E2E, CDF",
        "Throughput over time",
    ):
        assert any(n > 1 for n in by_label[label]["lines"] + by_label[label]["bars"]), label
    assert by_label["Errors by class"]["empty"]  # no failures: the chart says so
    assert by_label["Errors by class"]["text"] == 1


_PATH_TEXT = """
const section = Array.from(document.querySelectorAll('h2'))
  .find(h => h.textContent === 'Path to the server');
if (!section) return null;
const rows = Array.from(document.querySelectorAll('table.path tbody tr'))
  .map(tr => Array.from(tr.cells).map(td => td.innerText));
const items = Array.from(document.querySelectorAll('ul.anomalies li')).map(li => li.innerText);
const table = Array.from(document.querySelectorAll('tr'))
  .filter(tr => /^(TTFB|tail)/.test(tr.cells[0]?.innerText || ''))
  .map(tr => Array.from(tr.cells).map(td => td.innerText));
return {rows, items, table, visible: section.getBoundingClientRect().height > 0};
"""


@pytest.mark.slow
def test_the_path_section_shows_in_a_real_browser(browser: Any, tmp_path: Path) -> None:
    write_all_reports(rich_summary(), tmp_path)
    open_report(browser, tmp_path / "report.html")
    shown = browser.execute_script(_PATH_TEXT)
    assert shown is not None
    assert shown["visible"]
    gateway = "through a LiteLLM gateway (version 1.74.9); Server: uvicorn"
    assert shown["rows"] == [["streaming", gateway], ["batch", gateway]]
    assert [item.split(" — ")[0] for item in shown["items"]] == [
        "streaming: token_count_mismatch 18",
        "streaming: burst_delivery 40",
        "streaming: reconnect 3",
    ]
    assert shown["items"][0].endswith(
        "— the gateway reported more tokens than it delivered: its usage counts output tokens "
        "that never arrived, as when it covers a truncated upstream stream with an invented "
        "finish (those requests count as ok)."
    )
    assert shown["table"] == [
        ["TTFB p50 / p95 / p99", "173.0 ms / 186.8 ms / 207.6 ms", "—"],
        ["tail (last token → end) p50 / p95 / p99", "170.0 ms / 183.6 ms / 204.0 ms", "—"],
    ]

"""The server's own view in real runs: `locust-llm run --metrics-url` against real mocks.

- a metrics URL that refuses connections, or that answers a page of HTML, is one warning line
  and an otherwise normal run (exit 0, every figure there), with a `server` block that says
  what went wrong;
- a bad `--metrics-url` is one error line before anything is sent;
- against a fresh mock, whose vLLM-shaped /metrics holds its true timings: the server's
  counters are ours and the mock's, its TTFT mean is the profile's, client − server TTFT is
  loopback's, or a proxy's known 30 ms; too few slots read as a saturated server; with targets,
  each target has its own server block and a gateway's requests count for its upstream.

Runs are short (≤ 6 s) with few users: the machine has 2 shared cores.
"""

from __future__ import annotations

import html
import http.server
import json
import os
import re
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness.report.summary import load_schema
from tests.conftest import ROOT, MockProcess, free_port, locust_llm, run_mock
from tests.delay_proxy import delay_proxy

pytestmark = pytest.mark.slow

PROFILE = ("--ttft", "50ms", "--itl", "10ms", "--tokens", "16")


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with run_mock(*PROFILE) as process:
        yield process


class _Html(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><html><head><title>Login</title></head></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def html_page() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()
    server.server_close()


def run(tmp_path: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    result = locust_llm(
        "run", *args, "--headless", "-u", "2", "-t", "4s", "--out", "report", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    jsonschema.validate(summary, load_schema())
    jsonschema.validate(summary, load_schema())  # the server blocks are part of the contract
    return result, summary


def warning_lines(stderr: str) -> list[str]:
    """The harness's log lines about the server's metrics, without the log's prefix."""
    return [
        line.partition("/WARNING/locust_llm: ")[2]
        for line in stderr.splitlines()
        if "server metrics" in line
    ]


@pytest.mark.parametrize(
    ("url_kind", "reason"),
    [
        ("refused", "cannot connect (connection refused)"),
        ("html", "answered HTML (text/html), not Prometheus metrics"),
    ],
)
def test_a_metrics_url_that_fails_is_one_warning_and_a_normal_run(
    tmp_path: Path, mock: MockProcess, html_page: str, url_kind: str, reason: str
) -> None:
    url = html_page if url_kind == "html" else f"http://127.0.0.1:{free_port()}/metrics"
    result, summary = run(
        tmp_path, "--host", mock.url, "--metrics-url", url, "--llm-metrics-interval", "1s"
    )
    lines = warning_lines(result.stderr)
    assert lines == [f"locust-llm: server metrics {url}: {reason}; the run goes on without them"], (
        result.stderr[-2000:]
    )
    # the run itself is untouched: both modes measured, nothing failed
    for mode in ("stream", "batch"):
        assert summary["modes"][mode]["requests"] > 0
        assert summary["modes"][mode]["errors"] == {}
    server = summary["server"]
    assert server["engine"] == "unknown"
    assert server["error"] == reason
    assert server["scrapes"]["ok"] == 0
    # before, at least two during the 4 s, after: all failed, all counted
    assert server["scrapes"]["failed"] >= 4
    assert server["counters"] == server["histograms"] == server["gauges"] == {}


def test_a_bad_metrics_url_is_one_error_line_before_anything_is_sent(
    tmp_path: Path, mock: MockProcess
) -> None:
    before = mock.stats()["requests"]
    result = locust_llm(
        "run", "--host", mock.url, "--metrics-url", "ftp://x/metrics", "--headless", "-t", "2s",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors == [
        "locust-llm: error: --metrics-url: expected an http:// or https:// URL of the server's "
        "Prometheus metrics (such as http://127.0.0.1:8000/metrics), got 'ftp://x/metrics'"
    ]
    assert mock.stats()["requests"] == before


def test_a_named_metrics_url_without_targets_is_an_error(tmp_path: Path, mock: MockProcess) -> None:
    result = locust_llm(
        "run", "--host", mock.url, "--metrics-url", "a=http://127.0.0.1:1/metrics", "--headless",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "locust-llm: error: --metrics-url: a=…: the run has one target: give its metrics URL alone"
    )


# ------------------------------------------------------------------ against the mock's truth


def test_the_servers_figures_are_the_mocks_truth(tmp_path: Path) -> None:
    """A fresh mock (TTFT 100 ms, 10 ms between tokens, 16 tokens): its vLLM-shaped /metrics
    holds its true timings. The server block has exactly our tokens and requests, its TTFT
    mean is the profile's, and client − server TTFT is loopback's: under 3 ms."""
    with run_mock("--ttft", "100ms", "--itl", "10ms", "--tokens", "16") as fresh:
        result, summary = run(
            tmp_path, "--host", fresh.url, "--metrics-url", fresh.origin + "/metrics",
            "--llm-metrics-interval", "1s",
        )  # fmt: skip
        truth = fresh.stats()["engine_metrics"]
    server = summary["server"]
    assert server["engine"] == "vllm"
    assert server["window"]["covers_run"] is True
    assert server["scrapes"]["failed"] == 0
    assert "warnings" not in server, server["warnings"]
    # counters: the server's deltas are ours, and the mock's own count
    assert server["counters"] == server["client"]
    assert server["counters"]["output_tokens"] == truth["generation_tokens"]
    assert server["counters"]["requests"] == truth["requests"]
    histograms = server["histograms"]
    assert histograms["ttft"]["count"] == truth["requests"]
    assert histograms["ttft"]["mean_s"] == pytest.approx(0.100, abs=0.003)
    assert histograms["queue"]["mean_s"] < 0.001  # no slot limit: nothing waits
    assert histograms["e2e"]["mean_s"] == pytest.approx(0.100 + 15 * 0.010, abs=0.005)
    split = server["client_minus_server"]
    assert 0.0 <= split["stream"]["ttft_mean_s"] < 0.003, split
    # the server's E2E is of both modes at once (a stream's ends with its usage chunk and
    # [DONE] a few µs later): a mode's difference against it may be a few µs below 0
    assert -0.001 <= split["batch"]["e2e_mean_s"] < 0.003, split
    assert server["gauges"]["running"]["max"] >= 1
    assert "saturation" not in server
    # what a person reads: the terminal's line, summary.md's section, report.html's plots
    line = next(x for x in result.stdout.splitlines() if x.startswith("Server (vLLM, "))
    shown = re.search(r"client − server \+(\d+\.\d+) ms \(network", line)
    assert shown is not None, line
    assert float(shown.group(1)) < 5.0, line
    assert "its counters match ours" in line
    md = (tmp_path / "report" / "summary.md").read_text()
    assert "### The server's own view" in md
    assert re.search(r"\| TTFT mean \(streaming\) \| 1\d\d\.\d ms \| 1\d\d\.\d ms \| \+\d", md)
    page = (tmp_path / "report" / "report.html").read_text()
    ranges = dict(
        (label, x_range)
        for x_range, label in re.findall(
            r'data-x-range="([^"]+)" role="img" aria-label="([^"]+)"', page
        )
    )
    assert ranges["Server: running and waiting requests"] == ranges["TTFT over time (streaming)"]
    assert ranges["Server: KV-cache use"] == ranges["Throughput over time"]


def test_client_minus_server_ttft_is_the_network_s_share(tmp_path: Path) -> None:
    """Through a proxy that holds each request 30 ms (a known network share), the client's
    TTFT is the server's + 30 ms: client − server TTFT reads the proxy's delay."""
    with run_mock("--ttft", "100ms", "--itl", "10ms", "--tokens", "16") as fresh:
        port = int(fresh.origin.rsplit(":", 1)[1])
        with delay_proxy(port, 0.030) as proxy:
            _, summary = run(
                tmp_path, "--host", f"http://127.0.0.1:{proxy.port}/v1",
                "--metrics-url", fresh.origin + "/metrics", "--llm-metrics-interval", "1s",
            )  # fmt: skip
        share = statistics.mean(proxy.delays)
    server = summary["server"]
    assert share == pytest.approx(0.030, abs=0.002)
    split = server["client_minus_server"]
    assert split["stream"]["ttft_mean_s"] == pytest.approx(share, abs=0.003), split
    assert split["batch"]["e2e_mean_s"] == pytest.approx(share, abs=0.003), split
    assert server["histograms"]["ttft"]["mean_s"] == pytest.approx(0.100, abs=0.003)


def test_a_server_with_too_few_slots_is_said_to_saturate(tmp_path: Path) -> None:
    """One slot and four users: requests wait in the mock's queue; the block's waiting gauge
    shows it, its queue time is most of the client's TTFT, and the sentence says the knee is
    the server's."""
    with run_mock("--ttft", "50ms", "--itl", "5ms", "--tokens", "8", "--slots", "1") as fresh:
        result = locust_llm(
            "run", "--host", fresh.url, "--metrics-url", fresh.origin + "/metrics",
            "--llm-metrics-interval", "0.5s", "--headless", "-u", "4", "-t", "5s",
            "--out", "report", cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    jsonschema.validate(summary, load_schema())
    server = summary["server"]
    assert server["gauges"]["waiting"]["max"] >= 2, server["gauges"]["waiting"]
    assert server["saturation"]["sentence"].startswith(
        "The server was saturated: requests waited in its queue in "
    )
    ttft = summary["modes"]["stream"]["ttft_s"]["mean"]
    assert server["histograms"]["queue"]["mean_s"] > 0.5 * (ttft - 0.050)
    # the sentence reaches the terminal, summary.md and report.html
    sentence = server["saturation"]["sentence"]
    assert sentence in result.stdout
    assert sentence in (tmp_path / "report" / "summary.md").read_text()
    assert html.escape(sentence) in (tmp_path / "report" / "report.html").read_text()


def test_each_target_has_its_servers_view_and_a_gateway_counts_for_its_upstream(
    tmp_path: Path,
) -> None:
    """Two targets: `direct` (the mock, its metrics scraped) and `gateway` (a proxy in front of
    it, `via: direct`). The mock served both: its counters equal the two targets' requests
    together, with no warning; the top-level `server` is the first target's."""
    with run_mock("--ttft", "100ms", "--itl", "10ms", "--tokens", "16") as fresh:
        port = int(fresh.origin.rsplit(":", 1)[1])
        with delay_proxy(port, 0.030) as proxy:
            (tmp_path / "scenario.yaml").write_text(
                "targets:\n"
                f"  - {{name: direct, base_url: {fresh.url}}}\n"
                f"  - {{name: gateway, base_url: http://127.0.0.1:{proxy.port}/v1, via: direct}}\n"
                "load: {users: 4, run_time: 5s}\n",
                encoding="utf-8",
            )
            result = locust_llm(
                "run", "scenario.yaml", "--metrics-url", f"direct={fresh.origin}/metrics",
                "--llm-metrics-interval", "1s", "--headless", "--out", "report", cwd=tmp_path,
            )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    jsonschema.validate(summary, load_schema())
    targets = summary["targets"]
    assert "server" not in targets["gateway"]
    server = targets["direct"]["server"]
    assert summary["server"] == server
    assert "warnings" not in server, server["warnings"]
    both = sum(m["requests"] for t in targets.values() for m in t["modes"].values())
    assert server["counters"]["requests"] == server["client"]["requests"] == both


def test_in_distributed_mode_the_master_scrapes_and_compares_the_merged_figures(
    tmp_path: Path,
) -> None:
    """A master and two workers: only the master scrapes (one scraper, not three), and the
    server's counters equal the workers' merged requests and tokens."""
    locust = [sys.executable, "-m", "locust", "-f", str(ROOT / "harness" / "locustfile.py")]
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    environ.pop("OPENAI_API_KEY", None)
    with run_mock("--ttft", "100ms", "--itl", "10ms", "--tokens", "16") as fresh:
        workers = [
            subprocess.Popen(
                [*locust, "--worker", "--master-port", str(port), "--host", fresh.url],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=tmp_path,
                env=environ,
            )
            for _ in range(2)
        ]
        try:
            master = subprocess.run(
                [
                    *locust, "--master", "--master-bind-host", "127.0.0.1",
                    "--master-bind-port", str(port), "--expect-workers", "2", "--headless",
                    "-u", "4", "-r", "4", "-t", "6s", "--host", fresh.url,
                    "--llm-metrics-url", fresh.origin + "/metrics", "--llm-metrics-interval", "1s",
                    "--llm-out", str(tmp_path / "report"), "--only-summary", "--stop-timeout", "5",
                ],
                capture_output=True, text=True, timeout=120, cwd=tmp_path, env=environ,
            )  # fmt: skip
        finally:
            for worker in workers:
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
        truth = fresh.stats()["engine_metrics"]
    assert master.returncode == 0, master.stderr[-3000:]
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    jsonschema.validate(summary, load_schema())
    server = summary["server"]
    assert "warnings" not in server, server["warnings"]
    assert server["counters"] == server["client"]
    assert server["counters"]["output_tokens"] == truth["generation_tokens"] > 0
    # one scraper: before, about one a second for 6 s, after — not three times that
    assert 4 <= server["scrapes"]["ok"] <= 12, server["scrapes"]

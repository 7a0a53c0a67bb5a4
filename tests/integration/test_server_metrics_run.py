"""The server's own view in real runs: `locust-llm run --metrics-url` against real mocks.

- a metrics URL that refuses connections, or that answers a page of HTML, is one warning line
  and an otherwise normal run (exit 0, every figure there), with a `server` block that says
  what went wrong;
- a bad `--metrics-url` is one error line before anything is sent.

Runs are short (≤ 6 s) with few users: the machine has 2 shared cores.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MockProcess, free_port, locust_llm, run_mock

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
    return result, json.loads((tmp_path / "report" / "summary.json").read_text())


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

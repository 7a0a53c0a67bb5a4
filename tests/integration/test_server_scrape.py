"""One scrape of a server's metrics over real HTTP on loopback, and the scraping child process.

The page served is a real llama-server's ``/metrics`` (tests/fixtures/server-metrics, taken from
llama-server --metrics after one request); every way a metrics URL can be wrong gives a
snapshot with a one-line reason, never an exception.
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from harness.server.scrape import BEARER_VARIABLE, scrape
from harness.server.snapshot import Snapshot

PAGES = Path(__file__).parents[1] / "fixtures" / "server-metrics"
LLAMA_PAGE = (PAGES / "llamacpp.txt").read_bytes()
#: a real LiteLLM 1.108.7 proxy's /metrics (callbacks: ["prometheus"]) after 2 streams and 1
#: batch request of 8 tokens through it to our mock
LITELLM_PAGE = (PAGES / "litellm.txt").read_bytes()


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, str, bytes]]] = {
        "/metrics": (200, "text/plain; version=0.0.4", LLAMA_PAGE),
        "/litellm": (200, "text/plain; version=1.0.0; charset=utf-8", LITELLM_PAGE),
        "/html": (
            200,
            "text/html; charset=utf-8",
            b"<!doctype html><html><body>Grafana</body></html>",
        ),
        "/broken": (500, "text/plain", b"oops"),
        "/garbage": (200, "text/plain", b"this is { not exposition\n"),
        "/empty": (200, "text/plain", b""),
    }
    seen_authorization: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        type(self).seen_authorization.append(self.headers.get("Authorization"))
        status, content_type, body = self.routes.get(self.path, (404, "text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def page_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _value(name: str) -> float:
    """A sample's value in the fixture, read by eye's rule: the line that starts with it."""
    line = next(x for x in LLAMA_PAGE.decode().splitlines() if x.startswith(name + " "))
    return float(line.split()[1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_llama_server_page_is_recognised_and_reduced_to_its_roles(page_server: str) -> None:
    snapshot = scrape(f"{page_server}/metrics", timeout_s=2.0)
    assert snapshot.ok, snapshot.error
    assert snapshot.engine == "llama.cpp"
    assert snapshot.total("llamacpp:tokens_predicted_total") == _value(
        "llamacpp:tokens_predicted_total"
    )
    assert snapshot.total("llamacpp:prompt_tokens_total") == _value("llamacpp:prompt_tokens_total")
    assert snapshot.total("llamacpp:requests_processing") == 0
    # what no role reads is not carried (spec-decoding counters, n_decode)
    assert not snapshot.has("llamacpp:n_decode_total")
    assert Snapshot.from_json(json.loads(json.dumps(snapshot.to_json()))) == snapshot


def test_a_litellm_page_is_recognised_and_has_every_name_its_roles_read(page_server: str) -> None:
    snapshot = scrape(f"{page_server}/litellm", timeout_s=2.0)
    assert snapshot.ok, snapshot.error
    assert snapshot.engine == "litellm"
    # the names the LiteLLM table reads are those this real proxy published
    read = {
        "litellm_llm_api_time_to_first_token_metric_count",
        "litellm_request_queue_time_seconds_count",
        "litellm_request_total_latency_metric_count",
        "litellm_output_tokens_metric_total",
        "litellm_input_tokens_metric_total",
        "litellm_proxy_total_requests_metric_total",
        "litellm_in_flight_requests",
    }
    assert {name for name in read if not snapshot.has(name)} == set()
    assert snapshot.total("litellm_output_tokens_metric_total") == 24  # 3 answers of 8 tokens
    assert snapshot.total("litellm_llm_api_time_to_first_token_metric_count") == 2  # streams only
    assert snapshot.total("litellm_request_total_latency_metric_count") == 3


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/html", "answered HTML (text/html), not Prometheus metrics"),
        ("/broken", "HTTP 500 Internal Server Error"),
        ("/missing", "HTTP 404 Not Found"),
    ],
)
def test_a_wrong_page_is_a_one_line_reason(page_server: str, path: str, reason: str) -> None:
    snapshot = scrape(f"{page_server}{path}", timeout_s=2.0)
    assert snapshot.error == reason
    assert snapshot.samples == {}


def test_text_that_is_not_the_exposition_format_is_named(page_server: str) -> None:
    snapshot = scrape(f"{page_server}/garbage", timeout_s=2.0)
    assert snapshot.error is not None
    assert snapshot.error.startswith("not the Prometheus text format (")
    assert "\n" not in snapshot.error


def test_a_page_of_no_known_server_is_unknown_not_an_error(page_server: str) -> None:
    snapshot = scrape(f"{page_server}/empty", timeout_s=2.0)
    assert snapshot.ok
    assert snapshot.engine == "unknown"


def test_a_refused_connection_is_a_reason() -> None:
    snapshot = scrape(f"http://127.0.0.1:{_free_port()}/metrics", timeout_s=2.0)
    assert snapshot.error == "cannot connect (connection refused)"


def test_a_server_that_never_answers_is_given_up_after_the_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts the connection, never answers
        t = time.perf_counter()
        snapshot = scrape(f"http://127.0.0.1:{silent.getsockname()[1]}/metrics", timeout_s=0.3)
        elapsed = time.perf_counter() - t
    assert snapshot.error == "no answer within 0.3s"
    assert 0.25 < elapsed < 5.0


def test_the_child_scrapes_every_interval_and_exits_when_stdin_closes(page_server: str) -> None:
    _Handler.seen_authorization.clear()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.server.scrape",
            f"{page_server}/metrics",
            "--every",
            "0.2",
            "--timeout",
            "1",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**__import__("os").environ, BEARER_VARIABLE: "sk-test-metrics-key"},
    )
    assert child.stdout is not None
    assert child.stdin is not None
    try:
        t0 = time.perf_counter()
        lines = [child.stdout.readline() for _ in range(3)]
        snapshots = [Snapshot.from_json(json.loads(line)) for line in lines]
        assert all(s.engine == "llama.cpp" for s in snapshots)
        times = [s.t for s in snapshots]
        assert times == sorted(times)
        assert times[0] >= t0  # the first after one interval, on this machine's clock
        child.stdin.close()
        assert child.wait(timeout=5) == 0
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    # the key came in the environment, and went out as a bearer header
    assert _Handler.seen_authorization[0] == "Bearer sk-test-metrics-key"

"""Through a real LiteLLM proxy (one worker, no database, offline cost map) in front of our mock.

What LiteLLM does with each upstream fault was checked by hand first (docs/real-servers.md):
an upstream stream cut short (`truncated`: no finish_reason, no `[DONE]`) is covered with an
invented `finish_reason: "stop"`, a usage chunk and `[DONE]`, its usage counting more tokens
than were delivered; an upstream reset or malformed chunk mid-stream becomes an in-band
`data: {"error": …}` on the 200; a batch request whose upstream is cut short is tried 3 times
upstream, then answered 500. The mock counts what it injected; we count what arrived.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MockProcess, counts_by_mode, run_mock
from tests.real.conftest import LiteLLM, locust_llm_run, manifest, run_litellm, summary

pytestmark = [pytest.mark.real, pytest.mark.slow]

PROFILE = ("--ttft", "20ms", "--itl", "5ms", "--tokens", "16")
FAULTS = ("--fault", "truncated=0.2", "--fault", "reset_mid_stream=0.1", "--fault-seed", "3")


class Gateway:
    """The proxy and the three mocks behind it, one per model name."""

    def __init__(self, proxy: LiteLLM, mocks: dict[str, MockProcess]) -> None:
        self.proxy = proxy
        self.mocks = mocks


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    manifest()  # skip before starting anything when the real servers are not installed
    with contextlib.ExitStack() as stack:
        mocks = {
            "clean": stack.enter_context(run_mock(*PROFILE)),
            # a reproducible mix: 20 % streams cut short, 10 % reset after 2 tokens
            "faulty": stack.enter_context(run_mock(*PROFILE, *FAULTS)),
            # every request cut short after 2 tokens
            "truncating": stack.enter_context(run_mock(*PROFILE, "--fault-schedule", "truncated")),
        }
        proxy = stack.enter_context(
            run_litellm(
                {name: mock.url for name, mock in mocks.items()},
                tmp_path_factory.mktemp("litellm"),
                metrics=True,
            )
        )
        yield Gateway(proxy, mocks)


def _run(gateway: Gateway, tmp_path: Path, model: str, *args: str) -> tuple[Any, dict[str, Any]]:
    out = tmp_path / "out"
    result = locust_llm_run(
        "--host", gateway.proxy.url, "--model", model, "--headless", "--max-tokens", "16",
        "--out", str(out), *args, cwd=tmp_path, env={"OPENAI_API_KEY": gateway.proxy.key},
    )  # fmt: skip
    assert (out / "summary.json").is_file(), result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result, summary(out)


def test_a_clean_run_through_litellm_has_no_failure_and_names_the_gateway(
    gateway: Gateway, tmp_path: Path
) -> None:
    result, data = _run(gateway, tmp_path, "clean", "--mode", "both", "--users", "4",
                        "--run-time", "8s")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    modes = data["modes"]
    for mode, figures in modes.items():
        assert figures["requests"] > 10, (mode, figures["requests"])
        assert figures["errors"] == {}, (mode, figures["errors"])
        assert set(figures["outcomes"]) <= {"ok", "ok_length"}, (mode, figures["outcomes"])
        assert figures["token_count_mismatch"] == 0
    for mode in ("stream", "batch"):
        path = data["run"]["server_path"][mode]
        assert path["gateway"] == "litellm", path
        assert path["x-litellm-version"] == manifest()["versions"]["litellm"], path
    # one upstream request per request of ours: every one is accounted for
    received = counts_by_mode(gateway.mocks["clean"].stats(), "requests")
    assert received == {mode: figures["requests"] for mode, figures in modes.items()}


def test_the_gateway_s_own_metrics_count_what_we_counted(gateway: Gateway, tmp_path: Path) -> None:
    """LiteLLM's Prometheus callback counts tokens and requests as they pass through; over the
    run's window its deltas are ours exactly, and its TTFT (the upstream's first token as the
    gateway saw it) is its first chunk: the mock's empty role chunk, sent at once, which the
    gateway does not forward; so it is kept as the gateway's `ttfc`, not subtracted from our
    TTFT, and the split is E2E's: the network and our client outside the gateway."""
    result, data = _run(gateway, tmp_path, "clean", "--mode", "both", "--users", "4",
                        "--run-time", "8s", "--metrics-url", gateway.proxy.metrics_url,
                        "--llm-metrics-interval", "1s")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "server metrics URL" not in result.stderr, result.stderr[-3000:]
    server = data["server"]
    assert server["engine"] == "litellm"
    assert server["window"]["covers_run"] is True
    assert server["scrapes"]["failed"] == 0, server["scrapes"]
    assert server["scrapes"]["ok"] >= 4, server["scrapes"]
    assert server["counters"] == server["client"], server
    assert server["client"]["output_tokens"] > 0
    assert "warnings" not in server, server["warnings"]
    streams = data["modes"]["stream"]["requests"]
    requests = streams + data["modes"]["batch"]["requests"]
    histograms = server["histograms"]
    assert "ttft" not in histograms
    assert histograms["ttfc"]["count"] == streams  # LiteLLM times streams only
    assert histograms["e2e"]["count"] == requests
    assert histograms["ttfc"]["mean_s"] < 0.020  # the role chunk, before the mock's TTFT
    assert histograms["e2e"]["mean_s"] > 0.020 + 15 * 0.005  # the mock's 16 tokens
    gap = server["client_minus_server"]
    assert set(gap["stream"]) == {"e2e_mean_s"}, gap
    assert 0 < gap["stream"]["e2e_mean_s"] < 0.5, gap
    assert 0 < gap["batch"]["e2e_mean_s"] < 0.5, gap


def test_upstream_faults_arrive_as_their_classes_and_a_covered_truncation_as_a_mismatch(
    gateway: Gateway, tmp_path: Path
) -> None:
    """Streams only (LiteLLM retries a failed batch upstream, which redraws the fault): each
    upstream reset is one `stream_error_event` (LiteLLM's in-band error), each upstream
    truncation is an `ok` that LiteLLM finished itself, seen only as `token_count_mismatch`;
    exactly as many as the mock injected, request for request."""
    result, data = _run(gateway, tmp_path, "faulty", "--mode", "stream", "--users", "4",
                        "--run-time", "8s")  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]  # the resets are failures
    stream = data["modes"]["stream"]
    stats = gateway.mocks["faulty"].stats()
    injected = stats["injected_by_mode"]["stream"]
    assert counts_by_mode(stats, "requests") == {"stream": stream["requests"]}
    assert injected["reset_mid_stream"] > 0, injected
    assert injected["truncated"] > 0, injected
    assert stream["errors"] == {"stream_error_event": injected["reset_mid_stream"]}
    assert stream["token_count_mismatch"] == injected["truncated"]
    ok = stream["outcomes"].get("ok", 0) + stream["outcomes"].get("ok_length", 0)
    assert ok == stream["requests"] - injected["reset_mid_stream"], stream["outcomes"]
    # a reset one failed after its first 2 tokens when LiteLLM forwarded them before it read
    # the reset; on a busy machine it reads late, and a reset discards what it had not read
    # yet (Linux drops a socket's receive queue on RST), so some fail before any token
    assert 0 <= stream["failed_after_first_token"] <= injected["reset_mid_stream"]


def test_all_upstream_replies_truncated_streams_are_mismatches_and_batches_5xx(
    gateway: Gateway, tmp_path: Path
) -> None:
    """Every upstream reply cut short after 2 tokens. Streams: LiteLLM invents the finish, so
    every one is a success with a token count mismatch. Batches: LiteLLM tries upstream 3 times
    and answers 500: every one is `http_5xx`, and the mock saw 3 requests per batch request."""
    result, data = _run(gateway, tmp_path, "truncating", "--mode", "both", "--users", "2",
                        "--run-time", "5s")  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    stream, batch = data["modes"]["stream"], data["modes"]["batch"]
    assert stream["requests"] > 0
    assert batch["requests"] > 0
    assert stream["errors"] == {}, stream["errors"]
    assert stream["token_count_mismatch"] == stream["requests"]
    assert batch["errors"] == {"http_5xx": batch["requests"]}, batch["errors"]
    received = counts_by_mode(gateway.mocks["truncating"].stats(), "requests")
    assert received == {"stream": stream["requests"], "batch": 3 * batch["requests"]}


@pytest.mark.parametrize(
    ("key", "says"),
    [
        (None, "HTTP 500: Internal Server Error (no API key was sent: set OPENAI_API_KEY)"),
        ("sk-wrong-0123456789abcdef", "HTTP 400: No connected db."),
    ],
    ids=["no-key", "wrong-key"],
)
def test_a_run_the_proxy_refuses_stops_in_one_line_and_sends_nothing(
    gateway: Gateway, tmp_path: Path, key: str | None, says: str
) -> None:
    """Without the proxy's key LiteLLM answers `GET /v1/models` with a bare text/plain 500;
    with a wrong key, having no database to look it up in, a 400 "No connected db.". Either
    way the run ends at preflight with exit 2 and one line naming the status and LiteLLM's
    message (and, without a key, which variable to set), the key never shown, and no
    completion reaches the proxy's upstream."""
    before = counts_by_mode(gateway.mocks["clean"].stats(), "requests")
    env = {} if key is None else {"OPENAI_API_KEY": key}
    result = locust_llm_run(
        "--host", gateway.proxy.url, "--model", "clean", "--headless", "--users", "2",
        "--run-time", "5s", "--out", str(tmp_path / "out"), cwd=tmp_path, env=env,
    )  # fmt: skip
    after = counts_by_mode(gateway.mocks["clean"].stats(), "requests")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr[-3000:]
    line = errors[0]
    assert line == f"locust-llm: error: GET {gateway.proxy.url}/models returned {says}", line
    if key is not None:
        assert key[-12:] not in result.stderr  # the key, or its tail
    assert gateway.proxy.key not in result.stderr
    assert after == before

"""The mock's ``GET /metrics``: vLLM's engine metrics, with what the mock really did.

A real mock process on loopback, plain-socket clients (test_mock.py's), ``prometheus_client``'s
parser reading the text. With ``--ttft 100ms --itl 20ms --tokens 16``: the request and token
counts must be exactly what the clients got; the mean TTFT of a few requests within 3 ms of
100 ms (the emitter's lateness is tens of µs, a busy 2-core VM adds a few ms to a write now and
then; checked in the best of 3 runs); a wrong clock (a planned deadline, or a client's view)
or a token counted twice would be off by far more. The queue is exactly 0 without slots; with
``--slots 1`` the second of two requests waits the first's E2E less their arrival gap, within
3 ms (the slot frees right after the first's last write).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import off_by, on_time_in_one_of
from tests.integration.test_mock import (
    CHAT,
    COMPLETIONS,
    PROMPT_TOKENS,
    Mock,
    Response,
    call,
    connect,
    gen_body,
    profile_args,
    read_response,
    request_bytes,
    start_mock,
    stats,
    token_texts,
)
from tests.integration.test_mock_slots import send_staggered

TTFT, ITL, TOKENS = 0.100, 0.020, 16
GENERATION = TTFT + (TOKENS - 1) * ITL  # arrival → last token, without a queue
PROFILE = profile_args(TTFT, ITL, TOKENS)
TOLERANCE = 0.003
MESSAGES = "/v1/messages"


@pytest.fixture(scope="module")
def mock() -> Iterator[Mock]:
    server = start_mock(*PROFILE)
    yield server
    assert server.stop() == (0, "")


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``/metrics`` (buckets aside) by name and labels but the engine's and
    the model's (one model here)."""
    response = call(port, "GET", "/metrics")
    assert response.status == 200
    out = {}
    for family in text_string_to_metric_families(response.chunks[0].data.decode()):
        for s in family.samples:
            assert (s.labels.pop("engine"), s.labels.pop("model_name")) == ("0", "mock-llm")
            if not s.name.endswith("_bucket"):
                out[s.name, frozenset(s.labels.items())] = s.value
    return out


def sample(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> float:
    return samples[name, frozenset()]


def success(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], reason: str) -> float:
    return samples["vllm:request_success_total", frozenset({("finished_reason", reason)})]


def batch_tokens(response: Response, endpoint: str) -> int:
    """The tokens of a batch body, by the text the client got."""
    choice = response.json()["choices"][0]
    text = choice["message"]["content"] if endpoint == CHAT else choice["text"]
    return str(text).count(" tok")


def test_metrics_is_prometheus_text_format(mock: Mock) -> None:
    response = call(mock.port, "GET", "/metrics")
    assert response.status == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    names = {f.name for f in text_string_to_metric_families(response.chunks[0].data.decode())}
    assert {"vllm:time_to_first_token_seconds", "vllm:generation_tokens"} <= names


def test_counts_tokens_and_ttft_are_the_truth(mock: Mock) -> None:
    requests = [
        (CHAT, True),
        (CHAT, True),
        (COMPLETIONS, True),
        (CHAT, False),
        (COMPLETIONS, False),
    ]

    def run() -> tuple[None, list[str]]:
        call(mock.port, "DELETE", "/mock/stats")
        responses = send_staggered(mock.port, requests)
        received = 0
        for response, (endpoint, stream) in zip(responses, requests, strict=True):
            assert response.status == 200
            received += (
                len(token_texts(response, endpoint)) if stream else batch_tokens(response, endpoint)
            )
        assert received == len(requests) * TOKENS
        got = scrape(mock.port)
        n = len(requests)
        assert sample(got, "vllm:generation_tokens_total") == received
        assert sample(got, "vllm:prompt_tokens_total") == sum(PROMPT_TOKENS[e] for e, _ in requests)
        assert success(got, "stop") == n
        assert success(got, "length") == 0
        for histogram in ("time_to_first_token", "e2e_request_latency", "request_queue_time"):
            assert sample(got, f"vllm:{histogram}_seconds_count") == n
        assert sample(got, "vllm:inter_token_latency_seconds_count") == n * (TOKENS - 1)
        assert sample(got, "vllm:request_generation_tokens_sum") == received
        assert sample(got, "vllm:request_queue_time_seconds_sum") == 0.0  # no slots, no wait
        truth = stats(mock.port)["engine_metrics"]
        assert truth["ttft_sum_s"] == sample(got, "vllm:time_to_first_token_seconds_sum")
        assert truth["generation_tokens"] == received
        assert truth["requests"] == n
        ttft = sample(got, "vllm:time_to_first_token_seconds_sum") / n
        itl = sample(got, "vllm:inter_token_latency_seconds_sum") / (n * (TOKENS - 1))
        e2e = sample(got, "vllm:e2e_request_latency_seconds_sum") / n
        problems = off_by("mean TTFT", ttft, TTFT, TOLERANCE)
        problems += off_by("mean ITL", itl, ITL, TOLERANCE)
        problems += off_by("mean E2E", e2e, GENERATION, TOLERANCE)
        return None, problems

    on_time_in_one_of(3, run)


def test_a_queued_request_waits_the_first_ones_e2e_and_the_gauges_say_so() -> None:
    server = start_mock(*PROFILE, "--slots", "1")
    try:

        def run() -> tuple[None, list[str]]:
            call(server.port, "DELETE", "/mock/stats")
            body = request_bytes("POST", CHAT, gen_body(CHAT, stream=True))
            with connect(server.port) as first, connect(server.port) as second:
                t0 = time.perf_counter()
                first.sendall(body)
                time.sleep(0.003)
                second.sendall(body)
                time.sleep(TTFT / 2)  # the first generates, the second waits
                during = scrape(server.port)
                gauges = [
                    sample(during, f"vllm:{g}")
                    for g in ("num_requests_running", "num_requests_waiting", "kv_cache_usage_perc")
                ]
                assert gauges == [1, 1, 1.0]
                read_response(first, t0)
                after_first = scrape(server.port)
                assert sample(after_first, "vllm:e2e_request_latency_seconds_count") == 1
                e2e_first = sample(after_first, "vllm:e2e_request_latency_seconds_sum")
                read_response(second, t0)
            got = scrape(server.port)
            gauges = [sample(got, f"vllm:num_requests_{g}") for g in ("running", "waiting")]
            assert gauges == [0, 0]
            assert sample(got, "vllm:request_queue_time_seconds_count") == 2
            arrivals = stats(server.port)["arrivals"]["t_s"]
            wait = sample(got, "vllm:request_queue_time_seconds_sum")  # the first waited 0
            problems = off_by("second's queue", wait, e2e_first - arrivals[1], TOLERANCE)
            problems += off_by("first's E2E", e2e_first, GENERATION, TOLERANCE)
            return None, problems

        on_time_in_one_of(3, run)
    finally:
        assert server.stop() == (0, "")


def test_a_client_that_leaves_counts_its_tokens_but_no_success() -> None:
    server = start_mock(*PROFILE, "--slots", "4")  # with slots the mock notices a close at once
    try:
        call(server.port, "DELETE", "/mock/stats")
        with connect(server.port) as sock:
            sock.sendall(request_bytes("POST", CHAT, gen_body(CHAT, stream=True)))
            data = b""
            while data.count(b'"content":" tok') < 3:
                data += sock.recv(65536)
            sock.shutdown(socket.SHUT_RDWR)
        time.sleep(2 * ITL)  # the mock's next write fails: the request ends there
        got = scrape(server.port)
        assert sample(got, "vllm:generation_tokens_total") == 3
        assert sample(got, "vllm:time_to_first_token_seconds_count") == 1
        assert sample(got, "vllm:inter_token_latency_seconds_count") == 2
        assert sample(got, "vllm:e2e_request_latency_seconds_count") == 0
        assert success(got, "stop") == 0
        assert sample(got, "vllm:num_requests_running") == 0
    finally:
        assert server.stop() == (0, "")


def test_an_injected_429_counts_in_nothing() -> None:
    server = start_mock(*PROFILE, "--fault-schedule", "rate_limited,ok")
    try:
        statuses = [
            call(server.port, "POST", CHAT, gen_body(CHAT, stream=True)).status for _ in range(2)
        ]
        assert statuses == [429, 200]
        got = scrape(server.port)
        assert success(got, "stop") == 1
        assert sample(got, "vllm:request_queue_time_seconds_count") == 1
        assert sample(got, "vllm:time_to_first_token_seconds_count") == 1
        assert sample(got, "vllm:generation_tokens_total") == TOKENS
    finally:
        assert server.stop() == (0, "")


def test_anthropic_messages_count_as_chat(mock: Mock) -> None:
    call(mock.port, "DELETE", "/mock/stats")
    body: dict[str, Any] = {
        "model": "mock-llm",
        "max_tokens": 64,
        "stream": True,
        "messages": [{"role": "user", "content": "say hello to the mock"}],
    }
    response = call(mock.port, "POST", MESSAGES, body)
    deltas = [
        json.loads(line[len(b"data: ") :])
        for chunk in response.chunks
        for line in chunk.data.split(b"\n")
        if line.startswith(b"data: ") and b"content_block_delta" in line
    ]
    assert len(deltas) == TOKENS
    got = scrape(mock.port)
    assert sample(got, "vllm:generation_tokens_total") == TOKENS
    assert sample(got, "vllm:prompt_tokens_total") == PROMPT_TOKENS[CHAT]
    assert sample(got, "vllm:time_to_first_token_seconds_count") == 1
    assert success(got, "stop") == 1


def test_reset_restarts_the_counters(mock: Mock) -> None:
    call(mock.port, "POST", CHAT, gen_body(CHAT, stream=False))
    request = call(mock.port, "DELETE", "/mock/stats")
    before = request.json()["engine_metrics"]
    assert before["requests"] >= 1
    assert before["generation_tokens"] >= TOKENS
    got = scrape(mock.port)
    assert sample(got, "vllm:generation_tokens_total") == 0
    assert sample(got, "vllm:e2e_request_latency_seconds_count") == 0
    assert success(got, "stop") == 0


def test_the_llamacpp_personality_serves_the_same_metrics() -> None:
    server = start_mock(*PROFILE, "--personality", "llama.cpp", "--model", "mock-llm")
    try:
        response = call(server.port, "POST", CHAT, gen_body(CHAT, stream=True))
        assert len(token_texts(response)) == TOKENS
        got = scrape(server.port)
        assert sample(got, "vllm:generation_tokens_total") == TOKENS
        assert success(got, "stop") == 1
    finally:
        assert server.stop() == (0, "")

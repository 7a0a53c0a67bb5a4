"""The mock's personalities reproduce real servers' wire habits, byte for byte.

Each test starts its own ``python -m harness.mock --personality …`` on 127.0.0.1 and talks
to it with raw sockets and the minimal HTTP/1.1 reader of `test_mock` (nothing from the
harness core): llama.cpp closes after every stream but not after a batch answer, answers
503 while "loading", puts the role and the first token in one HTTP chunk and reports
``timings`` that match what the client saw; LiteLLM's chunk shapes, headers and the
faults it hides; uvicorn's idle keep-alive close (vLLM).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError
from harness.scenario import load_scenario
from tests.conftest import ROOT, on_time_in_one_of
from tests.integration.test_mock import (
    CHAT,
    COMPLETIONS,
    ITL,
    TOKENS,
    TTFT,
    Mock,
    Response,
    connect,
    exchange,
    gen_body,
    profile_args,
    request_bytes,
    start_mock,
    stats,
    token_chunks,
    token_texts,
)

LLAMACPP_MODEL = "/models/gemma-3-270m-it-Q4_K_M.gguf"
LOADING_BODY = b'{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}'


@pytest.fixture
def running() -> Iterator[list[Mock]]:
    """Mocks a test starts; each must stop cleanly (status 0, nothing on stderr)."""
    mocks: list[Mock] = []
    yield mocks
    for mock in mocks:
        assert mock.stop() == (0, "")


def start(running: list[Mock], *args: str) -> Mock:
    mock = start_mock(*profile_args(), *args)
    running.append(mock)
    return mock


def stream_request(endpoint: str = CHAT, **extra: Any) -> bytes:
    return request_bytes("POST", endpoint, gen_body(endpoint, stream=True, **extra))


def batch_request(endpoint: str = CHAT, **extra: Any) -> bytes:
    return request_bytes("POST", endpoint, gen_body(endpoint, stream=False, **extra))


def closed_by_server(sock: socket.socket, within: float = 2.0) -> bool:
    """True when the server's FIN arrives within ``within`` seconds (and nothing else)."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False


def payloads(response: Response) -> list[bytes]:
    return [p for _, p in response.events()]


def objects(response: Response) -> list[dict[str, Any]]:
    return [json.loads(p) for p in payloads(response) if p != b"[DONE]"]


def delivered(response: Response) -> list[str]:
    """Token texts of a chat stream, past events that are not chunks (in-band errors)."""
    return [
        o["choices"][0]["delta"]["content"]
        for o in objects(response)
        if o.get("choices") and o["choices"][0]["delta"].get("content")
    ]


# -- llama.cpp ----------------------------------------------------------------------------


def test_llamacpp_closes_after_a_stream_but_not_after_a_batch_answer(running: list[Mock]) -> None:
    mock = start(running, "--personality", "llama.cpp")
    with connect(mock.port) as sock:
        first = exchange(sock, batch_request())
        second = exchange(sock, batch_request(COMPLETIONS))  # the same connection
        health = exchange(sock, request_bytes("GET", "/health"))
        stream = exchange(sock, stream_request())
        assert closed_by_server(sock)
    assert [r.status for r in (first, second, health, stream)] == [200] * 4
    for response in (first, second, health, stream):
        assert response.headers["server"] == "llama.cpp"
        assert response.headers["connection"] == "keep-alive"  # advertised, even so
        assert response.headers["keep-alive"] == "timeout=5, max=100"
    assert token_texts(stream) == [f" tok{i}" for i in range(TOKENS)]
    assert stream.chunks[-1].data == b""  # the terminator came before the close
    doc = stats(mock.port)
    assert doc["completed"] == {CHAT: {"batch": 1, "stream": 1}, COMPLETIONS: {"batch": 1}}
    assert doc["personality"] == "llama.cpp"


def test_llamacpp_stream_shape_and_true_timings(running: list[Mock]) -> None:
    # Jitter: the timings must be what was written, not the nominal profile.
    mock = start(running, "--personality", "llama.cpp", "--jitter", "2ms", "--seed", "3")

    def run() -> tuple[tuple[Response, dict[str, Any]], list[str]]:
        with connect(mock.port) as sock:
            response = exchange(sock, stream_request())
            assert closed_by_server(sock)
        objs = objects(response)
        timings = objs[-1]["timings"]
        times = [c.t for c, _ in token_chunks(response)]
        tpot_ms = (times[-1] - times[0]) * 1e3 / (len(times) - 1)
        problems = []
        if abs(tpot_ms - timings["predicted_per_token_ms"]) > 0.5:
            problems.append(
                f"TPOT {tpot_ms:.3f} ms, timings say {timings['predicted_per_token_ms']}"
            )
        # The client's TTFT also holds its send and the kernel's delivery: a bit more.
        ttft_ms = times[0] * 1e3
        if not -0.5 <= ttft_ms - timings["prompt_ms"] <= 2.0:
            problems.append(f"TTFT {ttft_ms:.3f} ms, prompt_ms {timings['prompt_ms']}")
        return (response, timings), problems

    response, timings = on_time_in_one_of(5, run)
    # Headers at once, then the role chunk and the first token in one HTTP chunk.
    assert response.t_headers < TTFT / 2
    assert response.chunks[0].segment > 0  # not with the headers: when the token is due
    role_and_first = response.chunks[0].data
    events = role_and_first[:-2].split(b"\n\n")
    assert len(events) == 2
    role, first = (json.loads(e[len(b"data: ") :]) for e in events)
    assert role["choices"] == [
        {"finish_reason": None, "index": 0, "delta": {"role": "assistant", "content": None}}
    ]
    assert first["choices"][0]["delta"] == {"content": " tok0"}
    assert role["model"] == first["model"] == "mock-llm"  # the request's model, echoed
    # The last event chunk: finish, then usage with the top-level timings.
    objs = objects(response)
    assert objs[-2]["choices"] == [{"finish_reason": "stop", "index": 0, "delta": {}}]
    assert objs[-1]["choices"] == []
    assert objs[-1]["usage"] == {"completion_tokens": 20, "prompt_tokens": 13, "total_tokens": 33}
    assert payloads(response)[-1] == b"[DONE]"
    assert list(timings) == [
        "prompt_n",
        "prompt_ms",
        "prompt_per_token_ms",
        "prompt_per_second",
        "predicted_n",
        "predicted_ms",
        "predicted_per_token_ms",
        "predicted_per_second",
    ]
    assert (timings["prompt_n"], timings["predicted_n"]) == (13, TOKENS)
    per_token = timings["predicted_per_token_ms"]
    assert timings["predicted_ms"] == pytest.approx(per_token * TOKENS)
    assert timings["predicted_per_second"] == pytest.approx(1e3 / per_token)
    assert timings["prompt_per_token_ms"] == pytest.approx(timings["prompt_ms"] / 13)
    assert per_token == pytest.approx(ITL * 1e3, abs=1.0)  # jitter moves it a little
    assert per_token != ITL * 1e3  # ... this request's own figure, not the profile's 10 ms


def test_llamacpp_without_include_usage_puts_timings_on_the_finish_chunk(
    running: list[Mock],
) -> None:
    mock = start(running, "--personality", "llama.cpp")
    with connect(mock.port) as sock:
        response = exchange(sock, stream_request(usage=False))
    objs = objects(response)
    assert "usage" not in objs[-1]
    assert objs[-1]["choices"][0]["finish_reason"] == "stop"
    assert objs[-1]["timings"]["predicted_n"] == TOKENS


def test_llamacpp_loading_answers_503_on_every_route_then_serves(running: list[Mock]) -> None:
    mock = start(running, "--personality", "llama.cpp", "--loading", "1s")
    t_start = time.perf_counter()
    with connect(mock.port) as sock:  # a 503 keeps the connection, as llama-server does
        answers = [
            exchange(sock, request_bytes("GET", "/v1/models")),
            exchange(sock, request_bytes("GET", "/health")),
            exchange(sock, batch_request()),
            exchange(sock, stream_request()),
        ]
    assert time.perf_counter() - t_start < 1.0, "too slow to see the loading window"
    for response in answers:
        assert response.status == 503
        assert response.chunks[0].data == LOADING_BODY
        assert response.headers["server"] == "llama.cpp"
    time.sleep(max(0.0, t_start + 1.05 - time.perf_counter()))
    with connect(mock.port) as sock:
        models = exchange(sock, request_bytes("GET", "/v1/models"))
        assert models.status == 200
        assert [m["id"] for m in models.json()["data"]] == [LLAMACPP_MODEL]
        assert exchange(sock, request_bytes("GET", "/health")).status == 200
        assert exchange(sock, batch_request()).status == 200
    doc = stats(mock.port)
    assert doc["rejected"] == {"503": 4}
    assert doc["completed"] == {CHAT: {"batch": 1}}


# -- LiteLLM ------------------------------------------------------------------------------


def test_litellm_chunk_shapes_and_headers(running: list[Mock]) -> None:
    mock = start(running, "--personality", "litellm")
    with connect(mock.port) as sock:
        first = exchange(sock, stream_request())
        second = exchange(sock, stream_request())
        batch = exchange(sock, batch_request())
    assert token_texts(first) == [f" tok{i}" for i in range(TOKENS)]
    raw = b"".join(c.data for c in first.chunks)
    assert b'"finish_reason":null' not in raw
    assert b'"finish_reason": null' not in raw
    objs = objects(first)
    assert objs[-2]["choices"] == [{"finish_reason": "stop", "index": 0, "delta": {}}]
    assert objs[-1]["choices"] == [{"index": 0, "delta": {}}]
    assert objs[-1]["usage"] == {"completion_tokens": 20, "prompt_tokens": 13, "total_tokens": 33}
    for response in (first, second, batch):
        assert "server" not in response.headers
        assert "via" not in response.headers
        assert response.headers["x-litellm-version"]
        assert response.headers["x-litellm-model-id"]
        assert "x-litellm-response-cost" in response.headers
    calls = {r.headers["x-litellm-call-id"] for r in (first, second, batch)}
    assert len(calls) == 3  # one per call
    assert batch.json()["usage"]["completion_tokens"] == TOKENS


def test_litellm_turns_upstream_reset_and_malformed_chunk_into_inband_errors(
    running: list[Mock],
) -> None:
    mock = start(
        running, "--personality", "litellm", "--fault-schedule", "reset_mid_stream,malformed_json"
    )
    with connect(mock.port) as sock:  # a 200 that ends cleanly: the connection lives on
        for _ in range(2):
            response = exchange(sock, stream_request())
            assert response.status == 200
            assert delivered(response) == [" tok0", " tok1"]
            last = payloads(response)[-1]
            assert last.startswith(b'{"error": {"message": "litellm.APIConnectionError')
            assert json.loads(last)["error"]["code"] == "500"
            assert b"[DONE]" not in payloads(response)
        batch = exchange(sock, batch_request())  # the schedule repeats: a reset again
    assert batch.status == 500
    assert batch.json()["error"]["message"].startswith("litellm.APIConnectionError")


def test_litellm_covers_an_upstream_truncation(running: list[Mock]) -> None:
    mock = start(running, "--personality", "litellm", "--fault-schedule", "truncated")
    with connect(mock.port) as sock:
        response = exchange(sock, stream_request())
    assert token_texts(response) == [" tok0", " tok1"]  # 2 of the 20 planned
    objs = objects(response)
    assert objs[-2]["choices"] == [{"finish_reason": "stop", "index": 0, "delta": {}}]
    assert objs[-1]["usage"]["completion_tokens"] == TOKENS  # more than delivered
    assert payloads(response)[-1] == b"[DONE]"
    # ... and at the moment token 3 would have been due, not at the planned end
    assert response.chunks[-1].t == pytest.approx(TTFT + 2 * ITL, abs=0.010)


# -- vLLM (uvicorn) -----------------------------------------------------------------------


def test_vllm_closes_an_idle_keepalive_connection_after_the_timeout(running: list[Mock]) -> None:
    mock = start(running, "--personality", "vllm", "--idle-timeout", "300ms")
    with connect(mock.port) as busy, connect(mock.port) as idle:
        response = exchange(idle, batch_request(max_tokens=1))
        t_end = time.perf_counter()
        assert response.headers["server"] == "uvicorn"
        assert "date" in response.headers
        # The other connection is used every 100 ms for 0.6 s: never idle 300 ms.
        for _ in range(6):
            assert exchange(busy, request_bytes("GET", "/health")).status == 200
            time.sleep(0.1)
        assert closed_by_server(idle, within=1.0)  # closed while the other one was busy
        assert exchange(busy, request_bytes("GET", "/health")).status == 200  # alive
    assert time.perf_counter() - t_end >= 0.3


def test_vllm_idle_close_is_not_early(running: list[Mock]) -> None:
    mock = start(running, "--personality", "vllm", "--idle-timeout", "300ms")
    with connect(mock.port) as sock:
        exchange(sock, request_bytes("GET", "/health"))
        t_end = time.perf_counter()
        assert closed_by_server(sock, within=2.0)
        idle_for = time.perf_counter() - t_end
    assert 0.29 <= idle_for <= 0.6, f"closed after {idle_for * 1e3:.0f} ms idle"


def test_vllm_defaults_to_uvicorns_5s_and_openai_never_closes_idle(running: list[Mock]) -> None:
    vllm = start(running, "--personality", "vllm")
    openai = start(running)
    off = start(running, "--personality", "vllm", "--idle-timeout", "off")
    figures = []
    for mock in (vllm, openai, off):
        figures.append(stats(mock.port)["idle_timeout_s"])
    assert figures == [5.0, 0.0, 0.0]
    with connect(openai.port) as sock:
        response = exchange(sock, stream_request())
        assert "server" not in response.headers
        assert not closed_by_server(sock, within=0.4)
        assert exchange(sock, request_bytes("GET", "/health")).status == 200


# -- faults under every personality -------------------------------------------------------


@pytest.mark.parametrize("personality", ["openai", "vllm", "llama.cpp", "litellm"])
def test_faults_keep_working_under_each_personality(running: list[Mock], personality: str) -> None:
    mock = start(
        running, "--personality", personality, "--fault-schedule", "rate_limited,truncated,ok"
    )
    with connect(mock.port) as sock:
        limited = exchange(sock, stream_request())
        assert limited.status == 429
        assert limited.headers["retry-after"] == "1"
        truncated = exchange(sock, stream_request())
        if personality == "llama.cpp":
            assert closed_by_server(sock)
    assert token_texts(truncated) == [" tok0", " tok1"]
    if personality == "litellm":
        assert payloads(truncated)[-1] == b"[DONE]"  # covered up
    else:
        assert b"[DONE]" not in payloads(truncated)
        assert all(o["choices"][0].get("finish_reason") is None for o in objects(truncated))
    with connect(mock.port) as sock:
        normal = exchange(sock, stream_request())
    assert token_texts(normal) == [f" tok{i}" for i in range(TOKENS)]
    server = {"vllm": "uvicorn", "llama.cpp": "llama.cpp"}.get(personality)
    for response in (limited, truncated, normal):
        assert response.headers.get("server") == server


# -- command line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--loading", "2s"], "--loading is llama.cpp's answer: add --personality llama.cpp"),
        (["--personality", "tgi"], "argument --personality: invalid choice: 'tgi'"),
        (["--idle-timeout", "5"], "argument --idle-timeout: invalid duration '5'"),
    ],
)
def test_bad_personality_options_are_one_line(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.mock", "--port", "0", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert message in proc.stderr


def test_scenario_mock_section_takes_the_personality(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("mock: {personality: llama.cpp, loading: 3s, idle_timeout: off}\n")
    assert load_scenario(str(path), {}).mock_args == (
        "--personality",
        "llama.cpp",
        "--idle-timeout",
        "off",
        "--loading",
        "3s",
    )
    path.write_text("mock: {personality: vllm, loading: 3s}\n")
    with pytest.raises(ConfigError, match=r"loading is llama\.cpp's answer"):
        load_scenario(str(path), {})

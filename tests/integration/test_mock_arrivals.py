"""`/mock/stats` ``arrivals``: when each generation request reached the mock, on its clock.

Real mock processes on loopback, plain-socket clients (test_mock.py's). The open-loop tests
(test_open_loop.py) measure the load generator's rate and spacing with these times, so they
are checked here against the client's own send times: the gaps the mock reports are the gaps
between the client's ``sendall()`` calls, to within 1 ms on loopback (timing part retried with
`on_time_in_one_of`; what is counted is asserted on every run).
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator

import pytest

from tests.conftest import on_time_in_one_of
from tests.integration.test_mock import (
    CHAT,
    COMPLETIONS,
    TTFT,
    Mock,
    call,
    connect,
    exchange,
    gen_body,
    profile_args,
    read_response,
    request_bytes,
    start_mock,
    stats,
)

pytestmark = pytest.mark.slow

SPACING = 0.030  # between two sends: far above loopback's jitter, far below TTFT


@pytest.fixture(scope="module")
def mock() -> Iterator[Mock]:
    server = start_mock(*profile_args())
    yield server
    assert server.stop() == (0, "")


def reset(mock: Mock) -> None:
    assert call(mock.port, "DELETE", "/mock/stats").status == 200


def test_arrivals_are_the_gaps_between_the_clients_sends(mock: Mock) -> None:
    n = 6
    body = request_bytes("POST", CHAT, gen_body(CHAT, stream=False, max_tokens=1))

    def run() -> tuple[None, list[str]]:
        reset(mock)
        sent: list[float] = []
        with contextlib.ExitStack() as stack:
            socks = [stack.enter_context(connect(mock.port)) for _ in range(n)]
            start = time.perf_counter()
            for i, sock in enumerate(socks):
                while time.perf_counter() < start + i * SPACING:
                    pass  # a busy wait: a sleep would wake late by more than the bound
                sock.sendall(body)
                sent.append(time.perf_counter())
            for sock in socks:
                assert read_response(sock, start).status == 200
        arrivals = stats(mock.port)["arrivals"]
        assert arrivals["count"] == n
        assert "truncated" not in arrivals
        t_s = arrivals["t_s"]
        assert t_s[0] == 0.0
        assert t_s == sorted(t_s)
        client_gaps = [b - a for a, b in itertools.pairwise(sent)]
        mock_gaps = [b - a for a, b in itertools.pairwise(t_s)]
        problems = [
            f"gap {i}: mock {m * 1e3:.3f} ms, client {c * 1e3:.3f} ms"
            for i, (m, c) in enumerate(zip(mock_gaps, client_gaps, strict=True), 1)
            if abs(m - c) >= 0.001
        ]
        return None, problems

    on_time_in_one_of(3, run)


def test_only_posts_to_the_completions_routes_are_arrivals_whatever_their_answer(
    mock: Mock,
) -> None:
    reset(mock)
    assert call(mock.port, "GET", "/v1/models").status == 200
    assert call(mock.port, "GET", "/health").status == 200
    assert call(mock.port, "POST", "/v1/models").status == 405
    assert call(mock.port, "POST", "/v1/embeddings", {}).status == 404
    assert call(mock.port, "GET", CHAT).status == 405
    assert stats(mock.port)["arrivals"] == {"count": 0, "t_s": []}
    assert call(mock.port, "POST", CHAT, {"model": "mock-llm"}).status == 400  # no messages
    batch = gen_body(COMPLETIONS, stream=False, max_tokens=1)
    assert call(mock.port, "POST", COMPLETIONS, batch).status == 200
    doc = stats(mock.port)
    assert doc["arrivals"]["count"] == 2
    assert len(doc["arrivals"]["t_s"]) == 2
    assert doc["requests"] == {COMPLETIONS: {"batch": 1}}  # the 400 was no generation
    assert doc["rejected"] == {"400": 1, "404": 1, "405": 2}


def test_a_pipelined_request_arrives_when_its_bytes_do_not_when_it_is_served() -> None:
    server = start_mock(*profile_args())
    try:
        body = request_bytes("POST", CHAT, gen_body(CHAT, stream=False, max_tokens=1))
        with connect(server.port) as sock:
            first = exchange(sock, body * 2)  # both in one write
            read_response(sock, first.t0)  # served one TTFT after the first
        t_s = stats(server.port)["arrivals"]["t_s"]
        assert len(t_s) == 2
        assert t_s[1] < TTFT / 2  # arrived with the first, not when its turn came
    finally:
        assert server.stop() == (0, "")


def test_delete_resets_the_arrivals_and_the_next_one_is_zero(mock: Mock) -> None:
    body = gen_body(CHAT, stream=False, max_tokens=1)
    reset(mock)
    for _ in range(3):
        assert call(mock.port, "POST", CHAT, body).status == 200
    response = call(mock.port, "DELETE", "/mock/stats")
    assert response.json()["arrivals"]["count"] == 3  # read, then reset
    assert stats(mock.port)["arrivals"] == {"count": 0, "t_s": []}
    assert call(mock.port, "POST", CHAT, body).status == 200
    assert stats(mock.port)["arrivals"] == {"count": 1, "t_s": [0.0]}

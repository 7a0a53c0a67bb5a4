"""`--slots N`: the mock generates at most N answers at once and queues the rest FIFO.

Real mock processes on loopback, real concurrent clients (plain sockets, as in
test_mock.py). With ``--slots 2 --ttft 50ms --itl 10ms --tokens 10`` one generation holds
its slot for 50 + 9 × 10 = 140 ms (first token to last), so the 3rd and 4th requests of a
burst get their first token one generation after the 1st and 2nd. Timing bound: ±20 ms on
that 140 ms shift (and on the queued requests' own 50 ms TTFT), checked in the best of 3
runs — the 2-core test VM stalls a busy process by up to ~15 ms when other suites run
(seen in test_mock.py's own figures under load); a mock that ignored the limit would be
140 ms off, one that leaked a slot would never answer. Order, counts and the limit itself
are asserted on every run.
"""

from __future__ import annotations

import contextlib
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.scenario import load_scenario
from tests.conftest import ROOT, off_by, on_time_in_one_of
from tests.integration.test_mock import (
    CHAT,
    COMPLETIONS,
    Mock,
    Response,
    call,
    gen_body,
    read_response,
    request_bytes,
    start_mock,
    stats,
    token_chunks,
    token_texts,
)

TTFT, ITL, TOKENS = 0.050, 0.010, 10
GENERATION = TTFT + (TOKENS - 1) * ITL  # a slot is held from the slot to the last token
PROFILE = ("--ttft", "50ms", "--itl", "10ms", "--tokens", str(TOKENS))
TOLERANCE = 0.020
GAP = 0.003  # between sends: the arrival order is unambiguous


@contextlib.contextmanager
def slots_mock(*args: str) -> Iterator[Mock]:
    server = start_mock(*PROFILE, *args)
    try:
        yield server
    finally:
        assert server.stop() == (0, "")


def send_staggered(port: int, requests: list[tuple[str, bool]], gap: float = GAP) -> list[Response]:
    """One connection per ``(endpoint, stream)``, opened first; the requests are sent
    ``gap`` apart, in list order; every response is read whole. Send order kept."""
    with contextlib.ExitStack() as stack:
        sel = stack.enter_context(selectors.DefaultSelector())
        socks = [stack.enter_context(_connect(port)) for _ in requests]
        responses: list[Response] = []
        for i, (sock, (endpoint, stream)) in enumerate(zip(socks, requests, strict=True)):
            if i:
                time.sleep(gap)
            responses.append(Response(time.perf_counter()))
            sock.sendall(request_bytes("POST", endpoint, gen_body(endpoint, stream=stream)))
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ, responses[-1])
        pending = len(socks)
        give_up = time.perf_counter() + 10
        while pending and time.perf_counter() < give_up:
            for key, _ in sel.select(timeout=1):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                data = ready.recv(65536)
                t = time.perf_counter()
                assert data, "connection closed before the response was complete"
                key.data.feed(t, data)
                if key.data.ended:
                    sel.unregister(ready)
                    pending -= 1
        assert pending == 0, "a response never came: a slot was not released"
        return [response.finish() for response in responses]


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def first_token_at(response: Response, endpoint: str = CHAT) -> float:
    """`perf_counter()` time the first token arrived (a batch: its body)."""
    chunks = token_chunks(response, endpoint)
    first = chunks[0][0] if chunks else response.chunks[0]
    return response.t0 + first.t


def last_byte_at(response: Response) -> float:
    return response.t0 + response.chunks[-1].t


def test_two_slots_six_streams_queue_fifo_one_generation_apart() -> None:
    with slots_mock("--slots", "2") as server:

        def run() -> tuple[None, list[str]]:
            call(server.port, "DELETE", "/mock/stats")
            responses = send_staggered(server.port, [(CHAT, True)] * 6)
            for response in responses:
                assert token_texts(response) == [f" tok{i}" for i in range(TOKENS)]
            firsts = [first_token_at(r) for r in responses]
            assert firsts == sorted(firsts), "served out of arrival order"
            doc = stats(server.port)
            assert doc["slots"] == 2
            assert doc["max_concurrent"] == 2
            assert (doc["queued_now"], doc["in_use_now"], doc["in_flight"]) == (0, 0, 0)
            assert doc["completed"] == {CHAT: {"stream": 6}}
            assert doc["queue_wait_s"]["count"] == 6
            problems: list[str] = []
            for i in range(2, 6):  # each waits for the generation two places ahead
                shift = firsts[i] - firsts[i - 2]
                problems += off_by(
                    f"request {i + 1} first token after {i - 1}'s", shift, GENERATION, TOLERANCE
                )
                # its TTFT counts from its slot, the last byte of the one ahead
                ttft = firsts[i] - last_byte_at(responses[i - 2])
                problems += off_by(f"request {i + 1} TTFT from its slot", ttft, TTFT, TOLERANCE)
            for i in range(2):
                problems += off_by(
                    f"request {i + 1} TTFT", firsts[i] - responses[i].t0, TTFT, TOLERANCE
                )
            # The 5th and 6th waited two generations (less their later sends).
            problems += off_by(
                "queue wait max", doc["queue_wait_s"]["max"], 2 * GENERATION - 4 * GAP, TOLERANCE
            )
            return None, problems

        on_time_in_one_of(3, run)


def test_batch_requests_take_slots_too() -> None:
    order = [(CHAT, True), (COMPLETIONS, False), (CHAT, False), (COMPLETIONS, True)]
    with slots_mock("--slots", "1") as server:

        def run() -> tuple[None, list[str]]:
            call(server.port, "DELETE", "/mock/stats")
            responses = send_staggered(server.port, order)
            assert [r.status for r in responses] == [200] * 4
            firsts = [
                first_token_at(r, endpoint)
                for r, (endpoint, _) in zip(responses, order, strict=True)
            ]
            assert firsts == sorted(firsts), "served out of arrival order"
            doc = stats(server.port)
            assert doc["max_concurrent"] == 1
            assert doc["completed"] == {
                CHAT: {"batch": 1, "stream": 1},
                COMPLETIONS: {"batch": 1, "stream": 1},
            }
            problems: list[str] = []
            for i in range(1, 4):  # one after the other: a whole generation each
                ends = last_byte_at(responses[i]) - last_byte_at(responses[i - 1])
                problems += off_by(
                    f"request {i + 1} ended after {i}'s", ends, GENERATION, TOLERANCE
                )
            return None, problems

        on_time_in_one_of(3, run)


_KILLED_CLIENT = """
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
request = sys.stdin.buffer.read()
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
for sock in socks:
    sock.sendall(request)
    time.sleep(0.003)
for sock in socks[:2]:  # the two that got a slot: wait for their first bytes
    sock.recv(1)
print("streaming", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("how", ["SIGKILL", "close"])
def test_clients_that_go_away_free_their_slots(how: str) -> None:
    """Two streams hold the slots and two wait; the clients die (a killed process) or
    close their sockets: every slot and queue place comes back, and the next request
    is served at once."""
    # Long answers (10 ms × 200 tokens = 2 s): a slot that came back at the end of its
    # generation instead of when its client left would be seen.
    with slots_mock("--slots", "2", "--tokens", "200") as server:
        request = request_bytes("POST", CHAT, gen_body(CHAT, stream=True))
        if how == "SIGKILL":
            client = subprocess.Popen(
                [sys.executable, "-c", _KILLED_CLIENT, str(server.port), "4"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=False,
            )
            assert client.stdin is not None
            assert client.stdout is not None
            client.stdin.write(request)
            client.stdin.close()
            assert client.stdout.readline() == b"streaming\n"
            doc = stats(server.port)
            assert (doc["in_use_now"], doc["queued_now"]) == (2, 2)
            client.send_signal(signal.SIGKILL)
            client.wait(timeout=5)
            client.stdout.close()
        else:
            socks = [_connect(server.port) for _ in range(4)]
            for sock in socks:
                sock.sendall(request)
                time.sleep(GAP)
            for sock in socks[:2]:
                sock.recv(1)
            doc = stats(server.port)
            assert (doc["in_use_now"], doc["queued_now"]) == (2, 2)
            for sock in socks:
                sock.close()
        give_up = time.perf_counter() + 1.0  # well under the 2 s generations
        while time.perf_counter() < give_up:
            doc = stats(server.port)
            if (doc["in_use_now"], doc["queued_now"]) == (0, 0) and doc["in_flight"] == 0:
                break
            time.sleep(0.01)
        assert (doc["in_use_now"], doc["queued_now"]) == (0, 0), doc
        assert doc["aborted"] == {CHAT: {"stream": 4}}
        assert doc["in_flight"] == 0
        # Both slots are free: two new streams start at once.
        responses = send_staggered(server.port, [(CHAT, True)] * 2)
        for response in responses:
            assert len(token_texts(response)) == 200
            assert first_token_at(response) - response.t0 < TTFT + 0.1


def test_a_fault_that_ends_a_response_frees_its_slot() -> None:
    # The 1st stream is reset after 2 tokens (at ~60 ms); the 2nd gets the slot then,
    # not after a whole generation.
    with slots_mock("--slots", "1", "--faults", "reset_mid_stream,ok,after_tokens=2") as server:
        request = request_bytes("POST", CHAT, gen_body(CHAT, stream=True))
        with _connect(server.port) as faulty, _connect(server.port) as second:
            faulty.sendall(request)
            time.sleep(GAP)
            t_sent = time.perf_counter()
            second.sendall(request)
            faulty.settimeout(5)
            with contextlib.suppress(ConnectionResetError):
                while faulty.recv(65536):
                    pass
            t_reset = time.perf_counter()
            second.settimeout(5)
            response = read_response(second, t_sent)
        assert token_texts(response) == [f" tok{i}" for i in range(TOKENS)]
        assert first_token_at(response) - t_reset < TTFT + 0.05
        assert t_reset - t_sent < GENERATION - 0.03  # the reset came before the end
        doc = stats(server.port)
        assert doc["max_concurrent"] == 1
        assert (doc["in_use_now"], doc["queued_now"]) == (0, 0)


@pytest.mark.parametrize("personality", ["vllm", "llama.cpp", "litellm"])
def test_personalities_queue_too(personality: str) -> None:
    with slots_mock("--slots", "1", "--personality", personality) as server:
        responses = send_staggered(server.port, [(CHAT, True), (CHAT, False), (CHAT, True)])
        assert [r.status for r in responses] == [200] * 3
        firsts = [first_token_at(r) for r in responses]
        assert firsts == sorted(firsts)
        assert firsts[2] - firsts[0] > 2 * GENERATION - 0.03  # queued behind two
        doc = stats(server.port)
        assert (doc["slots"], doc["max_concurrent"], doc["in_use_now"]) == (1, 1, 0)


def _normalized(response: Response) -> bytes:
    body = b"".join(c.data for c in response.chunks)
    return re.sub(rb'"created": ?\d+', b'"created":0', body)


def test_slots_0_is_no_limit_exactly_as_before() -> None:
    with slots_mock() as plain, slots_mock("--slots", "0") as zero:
        for server in (plain, zero):
            call(server.port, "DELETE", "/mock/stats")
        outputs = []
        for server in (plain, zero):
            responses = send_staggered(server.port, [(CHAT, True)] * 6, gap=0.0)
            ttfts = [first_token_at(r) - r.t0 for r in responses]
            assert max(ttfts) < TTFT + 0.03, ttfts  # nobody waited for a generation
            doc = stats(server.port)
            assert (doc["slots"], doc["queued_now"], doc["max_concurrent"]) == (0, 0, 6)
            assert doc["queue_wait_s"] == {"count": 0}  # no queue, nothing recorded
            outputs.append(
                [
                    (r.status, sorted(k for k in r.headers if k != "date"), _normalized(r))
                    for r in responses
                ]
            )
        assert outputs[0] == outputs[1]


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_bad_slots_is_one_line_and_exit_2(value: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.mock", "--port", "0", "--slots", value],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "--slots" in proc.stderr


def test_scenario_mock_section_takes_slots(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("mock: {slots: 4, ttft: 50ms}\n")
    assert load_scenario(str(path), {}).mock_args == ("--slots", "4", "--ttft", "50ms")
    path.write_text("mock: {slots: -1}\n")
    with pytest.raises(ConfigError, match="slots"):
        load_scenario(str(path), {})

"""Kept-alive connections the server closes, and bodies a proxy compresses.

Real servers close connections under a client that means to reuse them: llama.cpp after every
streamed response, uvicorn after 5 s idle, nginx after 75 s. A request written on a connection
the server had closed never reached it; it must never count as the server's failure, and the
reconnect must never be inside TTFT. Each test plays a case of `tests.scripted_server` and
checks the exact outcome, error class, anomaly and `reconnects` count, and which connections the
server saw.
"""

from __future__ import annotations

import time

import gevent
import gevent.select
import pytest
from geventhttpclient import connectionpool

from harness.client import Target
from harness.errors import ErrorClass, Mode, Outcome
from tests.integration.scripted import MakeClient, Server, near, send


def _only_new(seen: list[int], before: list[int]) -> list[int]:
    return seen[len(before) :]


def test_a_close_right_after_each_stream_is_never_a_failure(
    server: Server, make_client: MakeClient
) -> None:
    """llama.cpp: the FIN comes ~1 ms after every stream. Sent at once, the next request
    meets the close (peeked before writing, or by the write itself); either way it succeeds,
    on a new connection, with no reconnect time inside its TTFT."""
    client = make_client("close_after_stream")
    before = server.connections("close_after_stream")
    records = [send(client, Mode.STREAM) for _ in range(20)]
    assert [r.outcome for r in records] == [Outcome.OK] * 20
    assert all(near(r.ttft_s, 0.020) for r in records), [r.ttft_s for r in records]
    seen = _only_new(server.connections("close_after_stream"), before)
    assert len(seen) == 20
    assert len(set(seen)) == 20
    assert server.requests("close_after_stream") - len(before) == 20  # each reached it once
    # a reconnect is counted on the record that needed it, and noted as such
    for record in records:
        assert record.reconnects in (0, 1)
        assert (record.anomalies or {}).get("reconnect", 0) == record.reconnects


def test_a_close_that_crosses_the_write_is_sent_once_more_on_a_fresh_connection(
    server: Server, make_client: MakeClient
) -> None:
    client = make_client("close_on_next")
    before = server.connections("close_on_next")
    dropped_before = server.counts()["dropped"].get("close_on_next", 0)
    first = send(client, Mode.STREAM)
    assert first.outcome is Outcome.OK
    assert first.reconnects == 0
    second = send(client, Mode.STREAM)
    assert second.outcome is Outcome.OK
    assert second.error_class is None
    assert second.reconnects == 1
    assert second.anomalies is not None
    assert second.anomalies["reconnect"] == 1
    # t0 was taken again before the second write: TTFT is the server's 20 ms, nothing more
    assert near(second.ttft_s, 0.020), second.ttft_s
    assert near(second.e2e_s, 0.020), second.e2e_s
    assert server.counts()["dropped"]["close_on_next"] == dropped_before + 1
    first_conn, second_conn = _only_new(server.connections("close_on_next"), before)
    assert first_conn != second_conn


def test_a_reset_that_crosses_the_write_is_sent_once_more_on_a_fresh_connection(
    server: Server, make_client: MakeClient
) -> None:
    client = make_client("reset_on_next")
    first = send(client, Mode.STREAM)
    assert first.outcome is Outcome.OK
    second = send(client, Mode.STREAM)
    assert (second.outcome, second.error_class, second.reconnects) == (Outcome.OK, None, 1)
    assert near(second.ttft_s, 0.020), second.ttft_s


def test_a_failure_on_a_fresh_connection_stays_a_failure(
    server: Server, make_client: MakeClient
) -> None:
    """A reset of a connection that was not reused is the server's doing: no second write."""
    client = make_client("reset")
    before = server.requests("reset")
    record = send(client, Mode.STREAM)
    assert (record.outcome, record.error_class) == (Outcome.FAILED, ErrorClass.STREAM_RESET)
    assert record.reconnects == 0
    assert server.requests("reset") == before + 1


def test_an_idle_close_while_the_user_waits_is_seen_before_writing(
    server: Server, make_client: MakeClient
) -> None:
    """uvicorn/nginx: the server closes the idle connection (here 50 ms after the answer)
    while the user thinks; the close is already on the socket, so a new connection is
    opened before the request is written: not even a reconnect."""
    client = make_client("idle_close")
    first = send(client, Mode.STREAM)
    assert first.outcome is Outcome.OK
    time.sleep(0.2)
    quick_before = server.connections("quick")
    client.target = Target.parse(server.base("quick"))
    second = send(client, Mode.STREAM)
    assert (second.outcome, second.reconnects, second.anomalies) == (Outcome.OK, 0, None)
    assert near(second.ttft_s, 0.020), second.ttft_s
    assert len(_only_new(server.connections("quick"), quick_before)) == 1


def test_connection_close_in_the_response_is_honoured(
    server: Server, make_client: MakeClient
) -> None:
    client = make_client("says_close")
    before = server.connections("says_close")
    first = send(client, Mode.STREAM)
    second = send(client, Mode.STREAM)
    assert (first.outcome, second.outcome) == (Outcome.OK, Outcome.OK)
    assert (first.reconnects, second.reconnects) == (0, 0)
    first_conn, second_conn = _only_new(server.connections("says_close"), before)
    assert first_conn != second_conn
    assert server.wait_ended(first_conn)  # the client closed it, as it was told


def test_a_connection_past_its_keep_alive_timeout_is_not_reused(
    server: Server, make_client: MakeClient
) -> None:
    """`Keep-Alive: timeout=1`: after 0.7 s idle (past the timeout less the client's half a
    second of margin) the client opens a new connection rather than race the server's close.
    This server never closes idle connections itself, so only the header can cause that."""
    client = make_client("keep_alive_1s")
    before = server.connections("keep_alive_1s")
    first = send(client, Mode.STREAM)
    again = send(client, Mode.STREAM)  # at once: still inside the timeout, reused
    time.sleep(0.7)
    late = send(client, Mode.STREAM)
    assert [r.outcome for r in (first, again, late)] == [Outcome.OK] * 3
    assert [r.reconnects for r in (first, again, late)] == [0, 0, 0]
    a, b, c = _only_new(server.connections("keep_alive_1s"), before)
    assert a == b != c
    assert server.wait_ended(a)


# -- compressed bodies -----------------------------------------------------------------------


def test_gzip_flushed_per_event_gives_the_uncompressed_timings(
    server: Server, make_client: MakeClient
) -> None:
    record = send(make_client("gzip_flushed"), Mode.STREAM)
    assert record.outcome is Outcome.OK
    assert near(record.ttft_s, 0.300), record.ttft_s
    assert [round(g, 2) for g in record.inter_chunk_gaps()] == [0.05]
    assert near(record.e2e_s, 0.400), record.e2e_s
    assert record.output_tokens == 2
    assert record.text is not None
    assert "".join(record.text) == "Hello world"
    assert record.anomalies is None  # nothing odd parsed: the SSE parser saw plain text
    assert record.path_headers is not None
    assert record.path_headers["content-encoding"] == "gzip"


def test_gzip_without_flush_arrives_at_once_and_says_so(
    server: Server, make_client: MakeClient
) -> None:
    record = send(make_client("gzip_unflushed"), Mode.STREAM)
    assert record.outcome is Outcome.OK
    assert near(record.ttft_s, 0.400), record.ttft_s  # the truth the client could see
    assert list(record.inter_chunk_gaps()) == [0.0]
    assert record.anomalies == {"burst_delivery": 1}
    assert record.text is not None
    assert "".join(record.text) == "Hello world"


def test_an_encoding_that_cannot_be_decoded_is_one_error_class(
    server: Server, make_client: MakeClient
) -> None:
    record = send(make_client("brotli"), Mode.STREAM)
    assert (record.outcome, record.error_class) == (
        Outcome.FAILED,
        ErrorClass.UNSUPPORTED_ENCODING,
    )
    assert record.chunk_count == 0
    assert record.anomalies is None  # its bytes never reached the parser


def test_gzip_batch_body_is_decoded(server: Server, make_client: MakeClient) -> None:
    record = send(make_client("batch_gzip"), Mode.BATCH)
    assert record.outcome is Outcome.OK
    assert near(record.e2e_s, 0.300), record.e2e_s
    assert record.output_tokens == 2


def test_the_client_asks_for_no_compression(make_client: MakeClient) -> None:
    client = make_client("s0")
    assert all(h["Accept-Encoding"] == "identity" for h in client._headers.values())


# -- a server that does not stream -----------------------------------------------------------


def test_a_json_answer_to_a_stream_request_is_a_success_that_did_not_stream(
    server: Server, make_client: MakeClient
) -> None:
    record = send(make_client("json_completion"), Mode.STREAM)
    assert (record.outcome, record.error_class) == (Outcome.OK, None)
    assert record.anomalies is not None
    assert record.anomalies["stream_not_honored"] == 1
    assert near(record.e2e_s, 0.300), record.e2e_s
    assert record.ttft_s is None
    assert list(record.itl_samples()) == []
    assert record.first_visible_s == record.e2e_s  # a person sees it all at the end
    assert record.output_tokens == 2


def test_taking_a_kept_alive_connection_never_yields_to_the_event_loop(
    server: Server, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool's own liveness check is a select(), and gevent's select() yields even with a
    zero timeout: in an open loop that wait is between the due time and t0 (schedule lag).
    The pool sees gevent's select() as in a Locust run (monkey-patched); a greenlet spawned
    just before the checkout runs only at the event loop's next turn."""
    monkeypatch.setattr(connectionpool, "select", gevent.select)
    client = make_client("quick")
    assert send(client, Mode.STREAM).outcome is Outcome.OK  # its connection is now kept
    ran: list[int] = []
    other = gevent.spawn(ran.append, 1)
    sock, reused = client._checkout()
    assert (reused, ran) == (True, [])
    other.join()
    assert ran == [1]
    client._transport.discard(sock)

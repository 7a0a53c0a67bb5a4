"""`LLMClient` against a scripted server: exact bytes at exact times (catalogue §0, §D).

Each test sends one request to a case of `tests.scripted_server` (a subprocess) and checks the
outcome, the one error class, the chunk count and the timings against the script, within the
catalogue's CI tolerance of ±15 ms. `send()` must never raise for a failed request.
"""

from __future__ import annotations

import contextlib
import socket
import time

import gevent
import pytest

from harness.client import LLMClient, Target, Timeouts
from harness.errors import ErrorClass, Mode, Outcome
from harness.record import RequestRecord
from tests.integration.scripted import (
    FAST,
    MakeClient,
    Server,
    near,
    send,
)


def run(
    server: Server,
    make_client: MakeClient,
    case: str,
    mode: Mode = Mode.STREAM,
    timeouts: Timeouts = FAST,
) -> RequestRecord:
    """Send one request to `case` on a fresh client; the server saw exactly one request."""
    before = server.requests(case)
    record = send(make_client(case, timeouts), mode)
    assert server.requests(case) == before + 1
    return record


def assert_failed(record: RequestRecord, error_class: ErrorClass, status: int | None) -> None:
    assert record.outcome is Outcome.FAILED
    assert record.error_class is error_class
    assert record.status == status


def assert_m0(record: RequestRecord) -> None:
    """Catalogue §0, baseline result M0."""
    assert record.outcome is Outcome.OK
    assert record.error_class is None
    assert record.status == 200
    assert record.finish_reason == "stop"
    assert near(record.ttft_s, 0.300), record.ttft_s
    assert record.chunk_count == 2
    gaps = list(record.inter_chunk_gaps())
    assert len(gaps) == 1
    assert near(gaps[0], 0.050), gaps
    assert record.t_last_token is not None
    assert near(record.t_last_token - record.t0, 0.350)
    assert near(record.e2e_s, 0.400), record.e2e_s
    assert record.output_tokens == 2
    assert record.output_tokens_source == "server"
    assert record.text is not None
    assert "".join(record.text) == "Hello world"


# -- streams: the baseline ---------------------------------------------------------------------


def test_s0_chunked_gives_m0(server: Server, make_client: MakeClient) -> None:
    record = run(server, make_client, "s0")
    assert_m0(record)
    assert record.anomalies is None


def test_s0_one_byte_per_send_gives_m0(server: Server, make_client: MakeClient) -> None:
    record = run(server, make_client, "s0_bytewise")
    assert_m0(record)
    assert record.anomalies is None


def test_a_proxy_in_front_of_the_server_is_recorded_from_the_first_response(
    server: Server, make_client: MakeClient
) -> None:
    """Catalogue NET-15: Server, Via and X-Accel-Buffering go into the run's metadata."""
    client = make_client("proxied")
    assert client.server_headers is None
    assert_m0(send(client, Mode.STREAM))
    assert client.server_headers == {
        "server": "nginx/1.24.0",
        "via": "1.1 edge",
        "x-accel-buffering": "yes",
    }


def test_a_server_without_those_headers_records_none(
    server: Server, make_client: MakeClient
) -> None:
    client = make_client("s0")
    send(client, Mode.STREAM)
    assert client.server_headers == {}


# -- a busy load generator: reads are timed by the bytes' arrival ---------------------------


def _busy_while_the_first_token_arrives(client: LLMClient) -> RequestRecord:
    """Send S0 while another greenlet holds the event loop from 280 to 335 ms: the first
    token (due at 300 ms) is read 35 ms late, the second (350 ms) on time."""

    def hold_the_loop() -> None:
        gevent.sleep(0.280)
        until = time.perf_counter() + 0.055
        while time.perf_counter() < until:  # never yields: the whole loop is busy
            pass

    blocker = gevent.spawn(hold_the_loop)
    record = send(client, Mode.STREAM)
    blocker.join(timeout=5)
    return record


def test_a_token_read_late_is_timed_by_its_arrival(server: Server, make_client: MakeClient) -> None:
    client = make_client("s0")
    assert client.read_clock is None
    record = _busy_while_the_first_token_arrives(client)
    assert client.read_clock == "kernel"
    assert_m0(record)  # TTFT 300 ms and the 50 ms gap, as if the loop had been free


def test_without_arrival_stamps_the_late_read_shows(
    server: Server, make_client: MakeClient
) -> None:
    """The control: timed when recv() returns (as over TLS), the same run looks 35 ms slower
    to the first token, which is what the arrival stamps take out."""
    client = make_client("s0")
    client._arrival = None
    record = _busy_while_the_first_token_arrives(client)
    assert client.read_clock == "recv"
    assert record.ttft_s is not None
    assert record.ttft_s >= 0.330, record.ttft_s
    gaps = list(record.inter_chunk_gaps())
    assert gaps[0] <= 0.025, gaps


# -- streams: broken transports (NET-10, NET-11, NET-12) -------------------------------------


def test_reset_mid_stream_is_stream_reset(server: Server, make_client: MakeClient) -> None:
    record = run(server, make_client, "reset")
    assert_failed(record, ErrorClass.STREAM_RESET, 200)
    assert record.chunk_count == 1
    assert near(record.ttft_s, 0.200)
    assert near(record.e2e_s, 0.300), record.e2e_s


def test_chunked_body_ended_by_fin_is_stream_truncated(
    server: Server, make_client: MakeClient
) -> None:
    record = run(server, make_client, "chunked_fin")
    assert_failed(record, ErrorClass.STREAM_TRUNCATED, 200)
    assert record.chunk_count == 1
    assert near(record.e2e_s, 0.300), record.e2e_s


def test_close_delimited_without_done_is_stream_truncated(
    server: Server, make_client: MakeClient
) -> None:
    record = run(server, make_client, "close_truncated")
    assert_failed(record, ErrorClass.STREAM_TRUNCATED, 200)
    assert record.chunk_count == 1
    assert near(record.e2e_s, 0.300), record.e2e_s


def test_close_delimited_with_finish_and_done_is_ok(
    server: Server, make_client: MakeClient
) -> None:
    record = run(server, make_client, "close_ok")
    assert record.outcome is Outcome.OK
    assert record.finish_reason == "stop"
    assert record.chunk_count == 1
    assert near(record.ttft_s, 0.200)
    assert near(record.e2e_s, 0.300), record.e2e_s  # [DONE], not the FIN at 350 ms


# -- streams: deadlines (NET-05, NET-06) -------------------------------------------------------


def test_stall_after_tokens_is_stall_timeout(server: Server, make_client: MakeClient) -> None:
    timeouts = Timeouts(connect_s=1.0, header_s=2.0, ttft_s=2.0, stall_s=0.3, total_s=3.0)
    record = run(server, make_client, "stall", timeouts=timeouts)
    assert_failed(record, ErrorClass.STALL_TIMEOUT, 200)
    assert record.chunk_count == 2
    assert near(record.e2e_s, 0.200 + 0.3), record.e2e_s  # last token + stall_s


def test_keepalive_trickle_is_ttft_timeout(server: Server, make_client: MakeClient) -> None:
    timeouts = Timeouts(connect_s=1.0, header_s=2.0, ttft_s=0.5, stall_s=2.0, total_s=3.0)
    record = run(server, make_client, "trickle", timeouts=timeouts)
    assert_failed(record, ErrorClass.TTFT_TIMEOUT, 200)
    assert record.chunk_count == 0
    assert record.ttft_s is None
    assert near(record.e2e_s, 0.500), record.e2e_s
    assert record.anomalies is not None
    assert record.anomalies.get("comment", 0) >= 4  # bytes kept arriving all along


def test_token_drip_is_total_timeout(server: Server, make_client: MakeClient) -> None:
    timeouts = Timeouts(connect_s=1.0, header_s=2.0, ttft_s=2.0, stall_s=2.0, total_s=0.45)
    record = run(server, make_client, "drip", timeouts=timeouts)
    assert_failed(record, ErrorClass.TOTAL_TIMEOUT, 200)
    assert record.chunk_count == 4  # tokens at 100..400 ms
    assert near(record.ttft_s, 0.100)
    assert near(record.e2e_s, 0.450), record.e2e_s


def test_tokens_closer_than_stall_s_keep_a_stream_alive_until_total_s(
    server: Server, make_client: MakeClient
) -> None:
    """The stall deadline moves with every token; the one timer behind it is set again each
    time it finds a newer token, and only the total deadline ends this stream."""
    timeouts = Timeouts(connect_s=1.0, header_s=2.0, ttft_s=2.0, stall_s=0.25, total_s=0.75)
    record = run(server, make_client, "drip", timeouts=timeouts)
    assert_failed(record, ErrorClass.TOTAL_TIMEOUT, 200)
    assert record.chunk_count == 7  # tokens at 100..700 ms, every gap under stall_s
    assert near(record.e2e_s, 0.750), record.e2e_s


def test_late_response_head_is_header_timeout(server: Server, make_client: MakeClient) -> None:
    timeouts = Timeouts(connect_s=1.0, header_s=0.3, ttft_s=2.0, stall_s=2.0, total_s=3.0)
    record = run(server, make_client, "late_head", timeouts=timeouts)
    assert_failed(record, ErrorClass.HEADER_TIMEOUT, None)
    assert near(record.e2e_s, 0.300), record.e2e_s


def test_connect_timeout_is_connect_timeout(make_client: MakeClient) -> None:
    with contextlib.ExitStack() as stack:
        # a listener whose accept queue is full drops new SYNs: connect() hangs
        listener = stack.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(8):
            filler = stack.enter_context(socket.socket())
            filler.settimeout(0.1)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                break
        else:
            pytest.skip("this kernel does not drop SYNs on a full accept queue")
        timeouts = Timeouts(connect_s=0.3, header_s=2.0, ttft_s=2.0, stall_s=2.0, total_s=3.0)
        client = make_client("", timeouts, base_url=f"http://127.0.0.1:{port}/v1")
        record = send(client, Mode.STREAM)
    assert near(record.e2e_s, 0.300), record.e2e_s
    assert_failed(record, ErrorClass.CONNECT_TIMEOUT, None)


# -- statuses (NET-07, NET-08, NET-16, NET-19) ------------------------------------------------


@pytest.mark.parametrize(
    ("case", "status", "error_class"),
    [
        ("s429", 429, ErrorClass.RATE_LIMITED),
        ("s500", 500, ErrorClass.HTTP_5XX),
        ("s502", 502, ErrorClass.HTTP_5XX),
        ("s503", 503, ErrorClass.HTTP_5XX),
        ("s401", 401, ErrorClass.AUTH_ERROR),
        ("s403", 403, ErrorClass.AUTH_ERROR),
        ("s400", 400, ErrorClass.HTTP_4XX),
        ("s404", 404, ErrorClass.HTTP_4XX),
        ("s413", 413, ErrorClass.HTTP_4XX),
        ("s422", 422, ErrorClass.HTTP_4XX),
    ],
)
def test_status_is_classified(
    server: Server, make_client: MakeClient, case: str, status: int, error_class: ErrorClass
) -> None:
    record = run(server, make_client, case)
    assert_failed(record, error_class, status)
    assert record.chunk_count == 0
    assert record.e2e_s is not None
    assert record.e2e_s < 0.1


@pytest.mark.parametrize("prompt_mb", [2, 32])
def test_a_413_sent_while_the_prompt_uploads_is_http_4xx(
    server: Server, make_client: MakeClient, prompt_mb: int
) -> None:
    """Catalogue NET-19: the server answers after the head and closes while the body is
    still coming (2 MB may fit in the socket buffers; 32 MB cannot: the write fails with a
    reset, and the answer that came before it is still read)."""
    client = make_client("early_413")
    record = client.new_record(Mode.STREAM, "m")
    body = client.protocol.build_body(model="m", prompt="x" * (prompt_mb << 20), stream=True)
    before = server.requests("early_413")
    client.send(record, body)
    assert server.requests("early_413") == before + 1
    assert_failed(record, ErrorClass.HTTP_4XX, 413)


@pytest.mark.parametrize(("case", "status"), [("s301", 301), ("s307", 307)])
def test_redirect_is_not_followed(
    server: Server, make_client: MakeClient, case: str, status: int
) -> None:
    before = server.requests("redirect_target")
    record = run(server, make_client, case)
    assert_failed(record, ErrorClass.REDIRECT, status)
    assert server.requests("redirect_target") == before


# -- streams: the wrong body or type (NET-09, OAI-10) ------------------------------------------


def test_html_200_for_a_stream_is_bad_content_type(server: Server, make_client: MakeClient) -> None:
    record = run(server, make_client, "html_200")
    assert_failed(record, ErrorClass.BAD_CONTENT_TYPE, 200)
    assert record.chunk_count == 0


def test_json_error_200_for_a_stream_is_error_in_body(
    server: Server, make_client: MakeClient
) -> None:
    record = run(server, make_client, "json_error_200")
    assert_failed(record, ErrorClass.ERROR_IN_BODY, 200)


def test_raw_json_error_in_event_stream_is_error_in_body(
    server: Server, make_client: MakeClient
) -> None:
    record = run(server, make_client, "sse_raw_json")
    assert_failed(record, ErrorClass.ERROR_IN_BODY, 200)
    assert record.chunk_count == 0
    assert near(record.e2e_s, 0.100), record.e2e_s  # at the FIN that ended the body


def test_uppercase_content_type_with_charset_is_accepted(
    server: Server, make_client: MakeClient
) -> None:
    record = run(server, make_client, "upper_content_type")
    assert_m0(record)
    assert record.anomalies is None


def test_missing_content_type_is_parsed_as_sse_with_anomaly(
    server: Server, make_client: MakeClient
) -> None:
    record = run(server, make_client, "no_content_type")
    assert_m0(record)
    assert record.anomalies == {"missing_content_type": 1}


# -- batch (OAI-14) -------------------------------------------------------------------------


def test_batch_json_is_ok_and_first_visible_is_e2e(server: Server, make_client: MakeClient) -> None:
    record = run(server, make_client, "batch_ok", Mode.BATCH)
    assert record.outcome is Outcome.OK
    assert record.status == 200
    assert record.finish_reason == "stop"
    assert near(record.e2e_s, 0.300), record.e2e_s
    assert record.ttft_s is None
    assert record.first_visible_s == record.e2e_s
    assert record.output_tokens == 2
    assert record.text == ["Hello world"]


def test_batch_empty_choices_is_empty(server: Server, make_client: MakeClient) -> None:
    record = run(server, make_client, "batch_empty", Mode.BATCH)
    assert record.outcome is Outcome.EMPTY
    assert record.status == 200
    assert near(record.e2e_s, 0.050), record.e2e_s


def test_batch_error_200_is_error_in_body(server: Server, make_client: MakeClient) -> None:
    record = run(server, make_client, "batch_error", Mode.BATCH)
    assert_failed(record, ErrorClass.ERROR_IN_BODY, 200)


def test_batch_cut_short_by_fin_is_stream_truncated(
    server: Server, make_client: MakeClient
) -> None:
    record = run(server, make_client, "batch_truncated", Mode.BATCH)
    assert_failed(record, ErrorClass.STREAM_TRUNCATED, 200)
    assert near(record.e2e_s, 0.100), record.e2e_s


# -- connections (NET-01, keep-alive) ---------------------------------------------------------


def test_connection_refused(make_client: MakeClient) -> None:
    with socket.socket() as sock:  # a port that was just free: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_client("", base_url=f"http://127.0.0.1:{port}/v1")
    record = send(client, Mode.STREAM)
    assert_failed(record, ErrorClass.CONNECT_REFUSED, None)
    assert record.e2e_s is not None
    assert record.e2e_s < 0.050


def test_keep_alive_reuses_one_connection(server: Server, make_client: MakeClient) -> None:
    client = make_client("quick")
    before = server.connections("quick")
    first = send(client, Mode.STREAM)
    second = send(client, Mode.STREAM)
    assert first.outcome is second.outcome is Outcome.OK
    assert near(first.e2e_s, 0.020)
    assert near(second.e2e_s, 0.020)
    seen = server.connections("quick")[len(before) :]
    assert len(seen) == 2
    assert seen[0] == seen[1]


def test_next_request_after_an_abandoned_stream_uses_a_new_connection(
    server: Server, make_client: MakeClient
) -> None:
    timeouts = Timeouts(connect_s=1.0, header_s=2.0, ttft_s=2.0, stall_s=0.3, total_s=3.0)
    client = make_client("stall", timeouts)
    stalled_before = server.connections("stall")
    quick_before = server.connections("quick")
    first = send(client, Mode.STREAM)
    assert_failed(first, ErrorClass.STALL_TIMEOUT, 200)
    # the stalled connection still has the script's late tail coming (at 700 ms): reused, it
    # would be read as the next response
    client.target = Target.parse(server.base("quick"))
    second = send(client, Mode.STREAM)
    assert second.outcome is Outcome.OK
    assert near(second.e2e_s, 0.020), second.e2e_s
    (stalled,) = server.connections("stall")[len(stalled_before) :]
    (fresh,) = server.connections("quick")[len(quick_before) :]
    assert fresh != stalled
    assert server.wait_ended(stalled)  # NET-05: the client closed the stalled connection


@pytest.mark.parametrize("case", ["reset", "chunked_fin", "html_200", "s500"])
def test_next_request_after_a_failure_still_works(
    server: Server, make_client: MakeClient, case: str
) -> None:
    client = make_client(case)
    first = send(client, Mode.STREAM)
    assert first.outcome is Outcome.FAILED
    # same client, same connection pool: point it at the baseline case for the next request
    client.target = Target.parse(server.base("quick"))
    second = send(client, Mode.STREAM)
    assert second.outcome is Outcome.OK
    assert second.chunk_count == 1


def test_connection_closed_by_the_server_while_idle_is_not_reused(
    server: Server, make_client: MakeClient
) -> None:
    client = make_client("idle_close")
    first = send(client, Mode.STREAM)
    assert first.outcome is Outcome.OK
    time.sleep(0.1)  # the server's FIN (its idle timeout) comes 50 ms after the response
    client.target = Target.parse(server.base("quick"))
    second = send(client, Mode.STREAM)
    assert second.outcome is Outcome.OK


def test_reused_connection_waits_header_s_for_the_next_head(
    server: Server, make_client: MakeClient
) -> None:
    # a stream with ttft_s=0.4 leaves ~0.4 s on the socket; the next answer takes 0.6 s, well
    # inside header_s=2
    timeouts = Timeouts(connect_s=1.0, header_s=2.0, ttft_s=0.4, stall_s=2.0, total_s=3.0)
    client = make_client("quick", timeouts)
    quick_before = server.connections("quick")
    first = send(client, Mode.STREAM)
    assert first.outcome is Outcome.OK
    client.target = Target.parse(server.base("batch_slow"))
    second = send(client, Mode.BATCH)
    (reused,) = server.connections("quick")[len(quick_before) :]
    assert server.connections("batch_slow")[-1] == reused  # it was the pooled connection
    assert second.error_class is None, (second.error_class, second.e2e_s)
    assert second.outcome is Outcome.OK
    assert near(second.e2e_s, 0.600), second.e2e_s

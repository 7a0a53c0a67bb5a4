"""RequestRecord: the latency ladder's derived figures, exactly as DESIGN.md §2 defines them."""

from __future__ import annotations

import pytest

from harness.errors import ErrorClass, Mode, Outcome
from harness.record import RequestRecord


def _stream(*times: float, usage: int | None = None) -> RequestRecord:
    record = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/chat/completions", t0=10.0)
    for t in times:
        record.on_token_event(10.0 + t, visible=True)
    record.server_output_tokens = usage
    record.t_end = 10.0 + times[-1] + 0.01 if times else None
    record.outcome = Outcome.OK
    return record


def test_ttft_is_the_first_token_event_minus_t0() -> None:
    assert _stream(0.2, 0.22, 0.24).ttft_s == pytest.approx(0.2)


def test_one_token_per_chunk_gives_per_token_itl_equal_to_the_gaps() -> None:
    record = _stream(0.2, 0.22, 0.25, usage=3)
    assert list(record.itl_samples()) == pytest.approx([0.02, 0.03])
    assert list(record.inter_chunk_gaps()) == pytest.approx([0.02, 0.03])


def test_unknown_tokens_per_chunk_gives_no_per_token_itl() -> None:
    record = _stream(0.2, 0.22, 0.25, usage=7)
    assert record.tokens_per_chunk is None
    assert list(record.itl_samples()) == []
    assert record.token_count_mismatch


def test_tpot_divides_the_decode_time_by_the_tokens_after_the_first() -> None:
    record = _stream(0.2, 0.22, 0.24, 0.26, usage=4)
    assert record.tpot_s == pytest.approx(0.06 / 3)


def test_tpot_is_absent_for_a_one_token_answer() -> None:
    assert _stream(0.2, usage=1).tpot_s is None


def test_first_visible_output_is_ttft_for_streams_and_e2e_for_batch() -> None:
    stream = _stream(0.2, 0.3)
    assert stream.first_visible_s == stream.ttft_s
    batch = RequestRecord(mode=Mode.BATCH, model="m", endpoint="/v1/chat/completions", t0=1.0)
    batch.t_end = 2.5
    assert batch.ttft_s is None
    assert batch.first_visible_s == pytest.approx(1.5)


def test_reasoning_first_sets_ttft_but_not_ttfc() -> None:
    record = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/chat/completions")
    record.on_token_event(0.2, visible=False)
    record.on_token_event(2.3, visible=True)
    assert record.ttft_s == pytest.approx(0.2)
    assert record.ttfc_s == pytest.approx(2.3)


def test_the_first_failure_wins_and_keeps_its_time() -> None:
    record = _stream(0.2)
    record.outcome = None
    record.t_end = None
    record.fail(ErrorClass.STALL_TIMEOUT, 11.0)
    record.fail(ErrorClass.STREAM_RESET, 12.0)
    assert record.error_class is ErrorClass.STALL_TIMEOUT
    assert record.e2e_s == pytest.approx(1.0)
    assert not record.timed


def test_server_usage_of_zero_falls_back_to_counted_chunks() -> None:
    record = _stream(0.2, 0.3, usage=0)
    assert record.output_tokens == 2
    assert record.output_tokens_source == "client"


def test_tool_call_time_is_the_first_tool_delta_and_bytes_add_up() -> None:
    r = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/messages", t0=1.0)
    assert r.tool_call_s is None
    r.on_tool_call(1.2, 0)
    r.on_tool_call(1.3, 17)
    r.on_tool_call(1.4, 12)
    assert r.tool_call_s == pytest.approx(0.2)
    assert r.tool_call_bytes == 29


def test_a_whole_body_tool_call_counts_bytes_but_has_no_time() -> None:
    r = RequestRecord(mode=Mode.BATCH, model="m", endpoint="/v1/messages", t0=1.0)
    r.on_tool_call(None, 9)
    assert r.tool_call_s is None
    assert r.tool_call_bytes == 9


@pytest.mark.parametrize(
    ("reasoning", "server", "share"),
    [(3, 4, 0.75), (0, 4, 0.0), (None, 4, None), (3, None, None), (3, 0, None)],
)
def test_reasoning_share_needs_both_counts_from_the_server(
    reasoning: int | None, server: int | None, share: float | None
) -> None:
    r = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/responses")
    r.reasoning_tokens, r.server_output_tokens = reasoning, server
    assert r.reasoning_share == (None if share is None else pytest.approx(share))

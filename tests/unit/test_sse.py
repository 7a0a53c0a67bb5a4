"""Unit tests of harness.sse: WHATWG §9.2.6 rules and catalogue cases SSE-01 … SSE-15.

Every multi-event input goes through `decode_all_ways`, which feeds it whole, one byte
per read and in random splits with 10 fixed seeds, and requires identical results
(catalogue P5).
"""

from __future__ import annotations

import json
import random
import time

import pytest

from harness.sse import EventTooLarge, SSEDecoder, SSEEvent

Fields = tuple[str, str, str | None, str | None]


# ---------------------------------------------------------------- helpers


def fields(events: list[SSEEvent]) -> list[Fields]:
    return [(e.data, e.event, e.id, e.error) for e in events]


def feed_pieces(
    pieces: list[bytes], max_event_bytes: int = 16 * 1024 * 1024
) -> tuple[list[SSEEvent], SSEDecoder]:
    """Feed `pieces` at t = 1.0, 2.0, …, close, and return the events and the decoder."""
    decoder = SSEDecoder(max_event_bytes)
    events: list[SSEEvent] = []
    for i, piece in enumerate(pieces):
        events += decoder.feed(piece, float(i + 1))
    decoder.close()
    return events, decoder


def random_pieces(raw: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    n_cuts = rng.randint(1, min(len(raw) - 1, 64))
    cuts = sorted(rng.sample(range(1, len(raw)), n_cuts))
    return [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]


def decode_all_ways(raw: bytes) -> tuple[list[Fields], SSEDecoder]:
    """Decode `raw` whole, byte by byte and in 10 seeded random splits; all must agree.

    One more way cuts after every `\\n\\n`, so that events after the first arrive one per
    read, as on a live stream. Returns the (data, event, id, error) of each event and
    the closed decoder that was fed `raw` whole, whose counters the others must match.
    """
    whole_events, whole = feed_pieces([raw])
    expected = fields(whole_events)
    ways = {
        "byte_per_read": [raw[i : i + 1] for i in range(len(raw))],
        "per_event": [p + b"\n\n" for p in raw.split(b"\n\n")[:-1]] + [raw.split(b"\n\n")[-1]],
    }
    for seed in range(10):
        ways[f"seed_{seed}"] = random_pieces(raw, seed)
    for name, pieces in ways.items():
        assert b"".join(pieces) == raw
        events, decoder = feed_pieces(pieces)
        assert fields(events) == expected, name
        assert decoder.comments == whole.comments, name
        assert decoder.anomalies == whole.anomalies, name
        assert decoder.unterminated_event == whole.unterminated_event, name
    return expected, whole


def msg(data: str, event_id: str | None = None) -> Fields:
    return (data, "message", event_id, None)


# Catalogue §0 byte shorthands: each one complete event ending in a blank line.
def _chunk(delta: dict[str, str], finish: str | None = None) -> str:
    return json.dumps(
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


R_JSON = _chunk({"role": "assistant", "content": ""})
U_JSON = (
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],'
    '"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}'
)


def t_json(text: str) -> str:
    return _chunk({"content": text})


def f_json(reason: str) -> str:
    return _chunk({}, reason)


def ev(payload: str) -> bytes:
    return f"data: {payload}\n\n".encode()


D = b"data: [DONE]\n\n"
S0_PAYLOADS = [
    R_JSON,
    t_json("Hello"),
    t_json(" world"),
    f_json("stop"),
    U_JSON,
    "[DONE]",
]
S0_READS = [
    ev(R_JSON),
    ev(t_json("Hello")),
    ev(t_json(" world")),
    ev(f_json("stop")) + ev(U_JSON) + D,
]
S0 = b"".join(S0_READS)


# ---------------------------------------------------------------- SSE-01, SSE-02: baseline


def test_baseline_stream_gives_each_event_at_the_time_of_its_read() -> None:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for piece, t in zip(S0_READS, [0.100, 0.300, 0.350, 0.400], strict=True):
        events += decoder.feed(piece, t)
    decoder.close()
    assert fields(events) == [msg(p) for p in S0_PAYLOADS]
    assert [e.t for e in events] == [0.100, 0.300, 0.350, 0.400, 0.400, 0.400]
    assert json.loads(events[1].data)["choices"][0]["delta"]["content"] == "Hello"
    assert decoder.anomalies == {}
    assert decoder.comments == 0
    assert decoder.unterminated_event is False


def test_baseline_stream_is_the_same_however_it_is_split() -> None:
    events, decoder = decode_all_ways(S0)
    assert events == [msg(p) for p in S0_PAYLOADS]
    assert decoder.anomalies == {}


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"], ids=["crlf", "cr"])
def test_crlf_and_lone_cr_line_endings_give_the_baseline(newline: bytes) -> None:
    events, decoder = decode_all_ways(S0.replace(b"\n", newline))
    assert events == [msg(p) for p in S0_PAYLOADS]
    assert decoder.anomalies == {}


def test_mixed_line_endings_in_one_stream() -> None:
    raw = b"event: a\r\ndata: 1\rdata: 2\n\r\ndata: 3\r\r"
    events, _ = decode_all_ways(raw)
    assert events == [("1\n2", "a", None, None), msg("3")]


# ---------------------------------------------------------------- SSE-03: split terminators


def test_crlf_split_across_reads_keeps_event_type() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: x\r", 1.0) == []
    events = decoder.feed(b"\n" + ev(t_json("a")).replace(b"\n", b"\r\n"), 2.0)
    assert events == [SSEEvent(t_json("a"), "x", None, 2.0)]
    assert decoder.anomalies == {}


def test_crlf_split_inside_multiline_data_joins_lines_with_lf() -> None:
    first = b'data: {"id":"c1","choices":[{"index":0,\r'
    second = b'\ndata: "delta":{"content":"a"}}]}\r\n\r\n'
    decoder = SSEDecoder()
    assert decoder.feed(first, 1.0) == []
    events = decoder.feed(second, 2.0)
    assert len(events) == 1
    assert events[0].data == '{"id":"c1","choices":[{"index":0,\n"delta":{"content":"a"}}]}'
    assert json.loads(events[0].data)["choices"][0]["delta"]["content"] == "a"
    assert decode_all_ways(first + second)[0] == [msg(events[0].data)]


def test_lf_line_then_crlf_blank_line_is_one_event() -> None:
    events, decoder = decode_all_ways(b"data: {}\n\r\n" + D)
    assert events == [msg("{}"), msg("[DONE]")]
    assert decoder.anomalies == {}


def test_cr_ending_a_read_dispatches_at_that_reads_time() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r", 1.0) == []
    # The second CR ends a blank line now; it must not wait for the next read.
    assert decoder.feed(b"\r", 2.0) == [SSEEvent("a", "message", None, 2.0)]
    assert decoder.feed(b"\ndata: b\n\n", 3.0) == [SSEEvent("b", "message", None, 3.0)]
    assert decoder.anomalies == {}


def test_lf_after_held_cr_is_swallowed_once_only() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: x\r", 1.0) == []
    assert decoder.feed(b"\n", 2.0) == []
    # This LF is a blank line: the block holds no data, so nothing is dispatched and
    # the type `x` is reset.
    assert decoder.feed(b"\n", 3.0) == []
    assert decoder.feed(b"data: a\n\n", 4.0) == [SSEEvent("a", "message", None, 4.0)]


def test_held_cr_survives_an_empty_read() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: x\r", 1.0) == []
    assert decoder.feed(b"", 2.0) == []
    assert decoder.feed(b"\ndata: a\n\n", 3.0) == [SSEEvent("a", "x", None, 3.0)]


def test_held_cr_followed_by_other_bytes_ends_the_line_only() -> None:
    events, _ = decode_all_ways(b"data: a\rdata: b\r\r")
    assert events == [msg("a\nb")]


# ---------------------------------------------------------------- line ends, BOM, UTF-8


def test_unicode_line_separators_and_vt_ff_do_not_end_lines() -> None:
    value = "a\u2028b\u0085c\x0bd\x0ce\u2029f"
    events, decoder = decode_all_ways(f"data: {value}\n\n".encode())
    assert events == [msg(value)]
    assert decoder.anomalies == {}


def test_leading_bom_is_ignored() -> None:
    events, decoder = decode_all_ways(b"\xef\xbb\xbf" + ev(R_JSON) + D)
    assert events == [msg(R_JSON), msg("[DONE]")]
    assert decoder.anomalies == {}


def test_leading_bom_split_across_reads_is_ignored() -> None:
    events, decoder = feed_pieces([b"\xef", b"\xbb", b"\xbfdata: a\n\n"])
    assert fields(events) == [msg("a")]
    assert decoder.anomalies == {}


def test_second_bom_at_start_is_part_of_the_field_name() -> None:
    events, decoder = decode_all_ways(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n")
    assert events == [msg("b")]
    assert decoder.anomalies == {"unknown_field": 1}


def test_bom_after_the_first_event_is_not_ignored() -> None:
    events, decoder = decode_all_ways(b"data: a\n\n\xef\xbb\xbfdata: b\n\n")
    assert events == [msg("a")]
    assert decoder.anomalies == {"unknown_field": 1}


def test_partial_bom_prefix_is_not_stripped() -> None:
    events, decoder = decode_all_ways(b"\xef\xbbdata: a\n\ndata: b\n\n")
    assert events == [msg("b")]
    assert decoder.anomalies == {"unknown_field": 1}


def test_multibyte_utf8_one_byte_per_read_decodes_exactly() -> None:
    text = "Việt Nam 中文 😀"
    raw = ev(R_JSON) + ev(t_json(text)) + ev(f_json("stop")) + D
    events, decoder = decode_all_ways(raw)
    assert json.loads(events[1][0])["choices"][0]["delta"]["content"] == text
    assert all("\ufffd" not in e[0] for e in events)
    assert decoder.anomalies == {}


def test_reads_cut_inside_multibyte_characters_decode_exactly() -> None:
    raw = ev(t_json("Việt Nam 中文 😀"))
    e_cut = raw.index(b"\xe1\xbb\x87") + 2  # e1 bb | 87
    emoji_cut = raw.index(b"\xf0\x9f\x98\x80") + 2  # f0 9f | 98 80
    pieces = [raw[:e_cut], raw[e_cut:emoji_cut], raw[emoji_cut:]]
    events, decoder = feed_pieces(pieces)
    assert fields(events) == [msg(t_json("Việt Nam 中文 😀"))]
    assert events[0].t == 3.0
    assert decoder.anomalies == {}


def test_invalid_utf8_becomes_replacement_character_and_is_counted() -> None:
    raw = b"data: a\xffb\n\ndata: \xe4\xb8\n\nevent: \xc3\ndata: c\n\n"
    events, decoder = decode_all_ways(raw)
    assert events == [msg("a\ufffdb"), msg("\ufffd"), ("c", "\ufffd", None, None)]
    assert decoder.anomalies == {"invalid_utf8": 3}


def test_genuine_replacement_character_is_not_an_anomaly() -> None:
    events, decoder = decode_all_ways("data: \ufffd\n\ndata: x\n\n".encode())
    assert events == [msg("\ufffd"), msg("x")]
    assert decoder.anomalies == {}


# ---------------------------------------------------------------- fields and comments


def test_comments_are_counted_and_never_dispatch() -> None:
    raw = b": OPENROUTER PROCESSING\n\n: ping\n\n:\n\n: data: x\n\n"
    events, decoder = decode_all_ways(raw)
    assert events == []
    assert decoder.comments == 4
    assert decoder.anomalies == {}


def test_keep_alives_before_first_token_leave_event_time_alone() -> None:
    # catalogue SSE-05
    reads = [
        b": OPENROUTER PROCESSING\n\n",
        b": ping\n\n",
        b":\n\n",
        b": keep-alive\n\n",
        ev(R_JSON),
        ev(t_json("Hi")) + ev(f_json("stop")) + D,
    ]
    decoder = SSEDecoder()
    got = [
        (e.data, e.t)
        for t, piece in zip([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], reads, strict=True)
        for e in decoder.feed(piece, t)
    ]
    assert got == [
        (R_JSON, 0.8),
        (t_json("Hi"), 1.0),
        (f_json("stop"), 1.0),
        ("[DONE]", 1.0),
    ]
    assert decoder.comments == 4
    assert decode_all_ways(b"".join(reads))[1].comments == 4


def test_data_value_loses_exactly_one_leading_space() -> None:
    events, decoder = decode_all_ways(b"data:a\n\ndata: b\n\ndata:  c\n\n")
    assert events == [msg("a"), msg("b"), msg(" c")]
    assert decoder.anomalies == {"extra_space": 1}


def test_data_without_space_after_colon_gives_baseline() -> None:
    # catalogue SSE-04, first input
    events, decoder = decode_all_ways(S0.replace(b"data: ", b"data:"))
    assert events == [msg(p) for p in S0_PAYLOADS]
    assert decoder.anomalies == {}


def test_two_spaces_after_colon_keep_one_and_count_extra_space() -> None:
    # catalogue SSE-04: the JSON still parses; `data:  [DONE]` is " [DONE]"
    events, decoder = decode_all_ways(S0.replace(b"data: ", b"data:  "))
    assert events == [msg(" " + p) for p in S0_PAYLOADS]
    assert json.loads(events[1][0]) == json.loads(t_json("Hello"))
    assert decoder.anomalies == {"extra_space": 6}


def test_line_without_colon_is_field_with_empty_value() -> None:
    events, decoder = decode_all_ways(b"data\ndata: a\n\nevent\ndata: b\n\n")
    assert events == [msg("\na"), msg("b")]
    assert decoder.anomalies == {}


def test_only_one_trailing_lf_is_removed_from_data() -> None:
    # catalogue SSE-07 parser unit test
    events, _ = decode_all_ways(b"data: a\ndata:\n\n")
    assert events == [msg("a\n")]


def test_multiline_data_is_joined_with_lf() -> None:
    # catalogue SSE-07
    first = '{"id":"c1","choices":[{"index":0,'
    second = '"delta":{"content":"a"},"finish_reason":null}]}'
    raw = f"data: {first}\ndata: {second}\n\n".encode() + ev(f_json("stop")) + D
    events, decoder = decode_all_ways(raw)
    assert events == [msg(f"{first}\n{second}"), msg(f_json("stop")), msg("[DONE]")]
    assert json.loads(events[0][0])["choices"][0]["delta"]["content"] == "a"
    assert decoder.anomalies == {}


def test_field_names_are_case_sensitive_and_exact() -> None:
    raw = b"DATA: x\n\nData: x\n\ndata : x\n\n  data: x\n\ndata: ok\n\n"
    events, decoder = decode_all_ways(raw)
    assert events == [msg("ok")]
    assert decoder.anomalies == {"unknown_field": 4}


def test_unknown_field_is_ignored_and_counted() -> None:
    events, decoder = decode_all_ways(b"foo: bar\ndata: a\nbaz\n\n")
    assert events == [msg("a")]
    assert decoder.anomalies == {"unknown_field": 2}


def test_event_field_sets_type_for_one_event_only() -> None:
    events, _ = decode_all_ways(b"event: ping\ndata: a\n\ndata: b\n\n")
    assert events == [("a", "ping", None, None), msg("b")]


def test_event_field_on_block_without_data_is_reset() -> None:
    events, decoder = decode_all_ways(b"event: ping\n\ndata: a\n\n")
    assert events == [msg("a")]
    assert decoder.anomalies == {}


def test_empty_event_field_means_message() -> None:
    events, _ = decode_all_ways(b"event: x\nevent:\ndata: a\n\n")
    assert events == [msg("a")]


def test_event_type_keeps_other_spaces_and_case() -> None:
    events, _ = decode_all_ways(b"event:  Error \ndata: a\n\n")
    assert events == [("a", " Error ", None, None)]


def test_id_persists_across_later_events() -> None:
    events, _ = decode_all_ways(b"data: a\n\nid: 1\ndata: b\n\ndata: c\n\n")
    assert events == [msg("a"), msg("b", "1"), msg("c", "1")]


def test_id_containing_nul_is_ignored() -> None:
    events, decoder = decode_all_ways(b"id: 1\ndata: a\n\nid: a\x00b\ndata: b\n\n")
    assert events == [msg("a", "1"), msg("b", "1")]
    assert decoder.anomalies == {}


def test_empty_id_field_resets_last_id_to_empty_string() -> None:
    events, _ = decode_all_ways(b"id: 1\ndata: a\n\nid\ndata: b\n\n")
    assert events == [msg("a", "1"), msg("b", "")]


def test_id_only_block_does_not_dispatch_but_sets_the_id() -> None:
    events, _ = decode_all_ways(b"id: 7\n\ndata: a\n\n")
    assert events == [msg("a", "7")]


def test_valid_retry_is_silent_and_does_not_dispatch() -> None:
    events, decoder = decode_all_ways(b"retry: 1000\n\nretry:0\ndata: a\n\n")
    assert events == [msg("a")]
    assert decoder.anomalies == {}


@pytest.mark.parametrize("value", [b"abc", b"+5", b"-1", b"1.5", b" 5", b"5 ", b"", b"\xd9\xa3"])
def test_retry_that_is_not_all_ascii_digits_is_counted(value: bytes) -> None:
    events, decoder = decode_all_ways(b"retry: " + value + b"\ndata: a\n\n")
    assert events == [msg("a")]
    assert decoder.anomalies == {"invalid_retry": 1}


def test_error_field_dispatches_without_data() -> None:
    raw = b'error: {"code":500,"message":"boom"}\n\ndata: a\n\n'
    events, decoder = decode_all_ways(raw)
    assert events == [("", "message", None, '{"code":500,"message":"boom"}'), msg("a")]
    assert decoder.anomalies == {"error_field": 1}


def test_error_field_rides_with_data_and_event_type() -> None:
    events, decoder = decode_all_ways(b"event: error\ndata: x\nerror: y\n\ndata: z\n\n")
    assert events == [("x", "error", None, "y"), msg("z")]
    assert decoder.anomalies == {"error_field": 1}


def test_event_named_error_without_error_field_is_ordinary() -> None:
    events, decoder = decode_all_ways(b'event: error\ndata: {"error":"x"}\n\n')
    assert events == [('{"error":"x"}', "error", None, None)]
    assert decoder.anomalies == {}


# ---------------------------------------------------------------- dispatch rules


def test_blank_line_after_empty_data_dispatches_nothing_and_counts() -> None:
    raw = b"data\n\ndata:\n\ndata: \n\nevent: x\ndata\n\ndata: a\n\n"
    events, decoder = decode_all_ways(raw)
    assert events == [msg("a")]
    assert decoder.anomalies == {"empty_data": 4}


def test_two_empty_data_lines_dispatch_one_lf_as_the_spec_says() -> None:
    events, decoder = decode_all_ways(b"data\ndata\n\n")
    assert events == [msg("\n")]
    assert decoder.anomalies == {}


def test_control_only_blocks_do_not_dispatch() -> None:
    # catalogue SSE-06: none of these may become an event, even after an id was seen
    raw = (
        b"id: 1\n"
        + ev(t_json("a"))
        + b": ping\n\n\n\n\nretry: 1000\n\nevent: ping\n\nid: 2\n\n"
        + ev(t_json("b"))
        + ev(f_json("stop"))
        + D
    )
    events, decoder = decode_all_ways(raw)
    assert events == [
        msg(t_json("a"), "1"),
        msg(t_json("b"), "2"),
        msg(f_json("stop"), "2"),
        msg("[DONE]", "2"),
    ]
    assert decoder.comments == 1
    assert decoder.anomalies == {}


def test_many_blank_lines_dispatch_nothing() -> None:
    events, decoder = decode_all_ways(b"data: a\n\n" + b"\n" * 500 + b"data: b\n\n")
    assert events == [msg("a"), msg("b")]
    assert decoder.anomalies == {}


def test_malformed_lines_between_events_yield_only_well_formed_events() -> None:
    # catalogue SSE-11
    bad = t_json("bad").encode()
    raw = (
        ev(t_json("a"))
        + b"data\n\n"
        + b"data : "
        + bad
        + b"\n\nDATA: "
        + bad
        + b"\n\n  data: "
        + bad
        + b"\n\n"
        + b"\n" * 500
        + ev(t_json("b"))
    )
    events, decoder = decode_all_ways(raw)
    assert events == [msg(t_json("a")), msg(t_json("b"))]
    assert decoder.anomalies == {"empty_data": 1, "unknown_field": 3}


def test_openai_stream_with_event_id_and_retry_lines_gives_baseline() -> None:
    # catalogue SSE-08
    raw = b"retry: 5000\n" + b"".join(
        f"event: message\nid: {n}\n".encode() + ev(p) for n, p in enumerate(S0_PAYLOADS, 1)
    )
    raw = raw.replace(b"id: 3\n", b"id: 3\nretry: abc\nid: a\x00b\n")
    events, decoder = decode_all_ways(raw)
    assert events == [msg(p, str(n)) for n, p in enumerate(S0_PAYLOADS, 1)]
    assert decoder.anomalies == {"invalid_retry": 1}


def test_coalesced_events_in_one_read_share_its_time() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(S0, 0.4)
    assert fields(events) == [msg(p) for p in S0_PAYLOADS]
    assert {e.t for e in events} == {0.4}


def test_event_time_is_the_read_that_delivered_the_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n", 1.0) == []
    assert decoder.feed(b"\n", 2.0) == [SSEEvent("a", "message", None, 2.0)]


def test_event_split_mid_field_name_has_time_of_last_read() -> None:
    # catalogue SSE-13: `da` | `ta: {…` | `}\n` | `\n`
    events, _ = feed_pieces([b"da", b'ta: {"a":1', b"}\n", b"\n"])
    assert events == [SSEEvent('{"a":1}', "message", None, 4.0)]


# ---------------------------------------------------------------- SSE-10: end of stream


@pytest.mark.parametrize(
    "tail",
    [b"data: [DONE]", ev(t_json("b"))[:-2], b"data: [DONE]\n", b"id: 9\n", b":"],
    ids=["no_newline", "unfinished_token", "single_lf", "field_only", "partial_comment"],
)
def test_unterminated_final_event_is_discarded_and_flagged(tail: bytes) -> None:
    raw = ev(t_json("a")) + ev(f_json("stop")) + tail
    events, decoder = decode_all_ways(raw)
    assert events == [msg(t_json("a")), msg(f_json("stop"))]
    assert decoder.unterminated_event is True


@pytest.mark.parametrize("tail", [b"", b": ping\n", b"\n\n"], ids=repr)
def test_clean_end_of_stream_is_not_unterminated(tail: bytes) -> None:
    events, decoder = decode_all_ways(ev(t_json("a")) + D + tail)
    assert events == [msg(t_json("a")), msg("[DONE]")]
    assert decoder.unterminated_event is False


def test_close_drops_the_pending_event_for_good() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: x\ndata: a\n", 1.0) == []
    decoder.close()
    assert decoder.unterminated_event is True
    assert decoder.feed(b"\n", 2.0) == []


# ---------------------------------------------------------------- SSE-15: size limits


def test_five_mib_event_in_64_kib_reads_parses_in_linear_time() -> None:
    # catalogue SSE-15a
    content = "x" * (5 * 1024 * 1024)
    raw = ev(t_json(content))
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    start = time.perf_counter()
    for i in range(0, len(raw), 64 * 1024):
        events += decoder.feed(raw[i : i + 64 * 1024], 1.0)
    elapsed = time.perf_counter() - start
    assert len(events) == 1
    assert json.loads(events[0].data)["choices"][0]["delta"]["content"] == content
    assert elapsed < 1.0


def test_five_mib_event_in_256_byte_reads_parses_in_linear_time() -> None:
    # 20,480 reads: re-copying or re-scanning the held line on every read would move
    # about 50 GB and take seconds (measured: 2.9 s); appending takes about 25 ms.
    raw = b"data: " + b"y" * (5 * 1024 * 1024) + b"\n\n"
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    start = time.perf_counter()
    for i in range(0, len(raw), 256):
        events += decoder.feed(raw[i : i + 256], 1.0)
    elapsed = time.perf_counter() - start
    assert [len(e.data) for e in events] == [5 * 1024 * 1024]
    assert elapsed < 1.0


def test_endless_line_raises_event_too_large_at_default_limit() -> None:
    # catalogue SSE-15b: `data: ` and then `x` without end, 1 MiB per read
    decoder = SSEDecoder()
    assert decoder.feed(b"data: ", 0.0) == []
    mib = b"x" * (1024 * 1024)
    for i in range(15):  # 6 bytes + 15 MiB: still within 16 MiB
        assert decoder.feed(mib, float(i)) == []
    with pytest.raises(EventTooLarge) as caught:
        decoder.feed(mib, 16.0)
    assert caught.value.max_event_bytes == 16 * 1024 * 1024
    assert caught.value.events == []


def test_endless_block_of_data_lines_raises_event_too_large() -> None:
    # catalogue SSE-15c: 100,000 `data: x` lines and no blank line. Each adds 2 bytes
    # to the data buffer; with a 64 KiB limit line 32,766 (7 bytes) no longer fits.
    decoder = SSEDecoder(max_event_bytes=64 * 1024)
    for i in range(32_765):
        assert decoder.feed(b"data: x\n", float(i)) == []
    with pytest.raises(EventTooLarge):
        decoder.feed(b"data: x\n", 32_765.0)


def test_endless_block_in_one_read_raises_event_too_large() -> None:
    decoder = SSEDecoder(max_event_bytes=64 * 1024)
    with pytest.raises(EventTooLarge):
        decoder.feed(b"data: x\n" * 100_000, 1.0)


@pytest.mark.parametrize("end", [b"", b"\n\n"], ids=["partial_line", "whole_line"])
def test_event_too_large_keeps_events_completed_earlier_in_the_read(end: bytes) -> None:
    decoder = SSEDecoder(max_event_bytes=1024)
    with pytest.raises(EventTooLarge) as caught:
        decoder.feed(b"data: a\n\ndata: " + b"x" * 2000 + end, 1.0)
    assert caught.value.events == [SSEEvent("a", "message", None, 1.0)]


@pytest.mark.parametrize(
    ("value_len", "fits"), [(10, True), (11, False)], ids=["at_limit", "over_limit"]
)
def test_event_limit_is_exact_however_the_bytes_are_split(value_len: int, fits: bool) -> None:
    # `data: ` plus 10 bytes is a 16-byte line: exactly max_event_bytes=16. A first
    # event comes in its own read, so that the second may take the one-event path.
    raw = b"data: " + b"z" * value_len + b"\n\n"
    ways = [[raw], [raw[i : i + 1] for i in range(len(raw))]]
    ways += [random_pieces(raw, seed) for seed in range(10)]
    for pieces in ways:
        pieces = [b"data: a\n\n", *pieces]
        if fits:
            events, _ = feed_pieces(pieces, max_event_bytes=16)
            assert fields(events) == [msg("a"), msg("z" * value_len)]
        else:
            with pytest.raises(EventTooLarge):
                feed_pieces(pieces, max_event_bytes=16)


def test_event_too_large_message_names_the_limit() -> None:
    decoder = SSEDecoder(max_event_bytes=4)
    with pytest.raises(EventTooLarge, match=r"^pending SSE event exceeds max_event_by"):
        decoder.feed(b"data: abc", 1.0)

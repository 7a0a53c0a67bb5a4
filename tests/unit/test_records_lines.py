"""requests.jsonl.gz lines: a record and its line are inverse, the statistics rebuilt from the
lines are the run's bit for bit, nothing secret is written, and bad files are one line.

`sample_records()` is a run's worth of varied requests at perf_counter magnitudes (a clock
reading of a machine up for a day), reused by the other records tests.
"""

from __future__ import annotations

import gzip
import json
import random
import zlib
from pathlib import Path

import pytest

from harness.errors import ConfigError, ErrorClass, Mode, Outcome
from harness.record import RequestRecord
from harness.report.records import (
    RECORDS_FILE,
    RecordsWriter,
    read_lines,
    read_records,
    record_from_line,
    record_to_line,
    write_lines,
)
from harness.stats import RunStats

#: the run's start on this clock: perf_counter seconds of a machine up for about a day
T_START = 86_417.123456789
ENDPOINT = "/v1/chat/completions"


def sample_records(
    n: int = 240, *, seed: int = 7, targets: tuple[str, ...] = ("",)
) -> list[RequestRecord]:
    """`n` finished requests of every kind, in the order they finished."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        kind = i % 8
        mode = Mode.BATCH if kind in (3, 6) else Mode.STREAM
        model = "model-b" if i % 5 == 0 else "model-a"
        record = RequestRecord(mode, model, ENDPOINT, target=targets[i % len(targets)])
        t0 = T_START + 0.5 + i * 0.0371 + rng.random() * 1e-3
        record.t0 = t0
        if i % 4 == 0:  # open loop: sent a little after it was due
            record.t_sched = t0 - rng.random() * 2e-3
        record.t_headers = t0 + 0.0003 + rng.random() * 1e-4
        record.attempts = 2 if i % 17 == 0 else 1
        record.status = 200
        record.input_tokens = 20 + i % 9
        record.turn = 1 + i % 3 if i % 6 == 0 else None
        record.prefix_reuse = (i % 4 == 1) if i % 2 else None
        record.met_goodput = (i % 3 != 0) if i % 2 == 0 else None
        record.requested_output_tokens = 64
        if mode is Mode.BATCH:
            record.t_end = record.t_headers + 0.25 + rng.random() * 0.01
            record.server_output_tokens = 64
            record.outcome = Outcome.OK
            record.finish_reason = "stop"
        else:
            t = t0 + 0.2 + rng.random() * 0.01
            tokens = 24 + i % 5
            cumulative = 0
            for k in range(tokens):
                cumulative += 2 if kind == 5 and k % 3 == 0 else 1
                record.on_token_event(
                    t,
                    visible=k > 0 or kind != 4,
                    cumulative_tokens=cumulative if kind == 5 else None,
                )
                t += 0.02 + rng.random() * 5e-4
            record.t_end = t + rng.random() * 1e-4
            record.server_output_tokens = cumulative if kind != 7 else tokens + 3
            record.outcome = Outcome.OK_LENGTH if kind == 2 else Outcome.OK
            record.finish_reason = "length" if kind == 2 else "stop"
            if kind == 1:
                record.server_timings = {"prompt_ms": 12.5, "predicted_n": float(tokens)}
            if kind == 7:
                record.note("burst_delivery", 2)
        if i % 23 == 11:  # failed after its first token
            record.outcome = None
            record.fail(ErrorClass.STREAM_RESET, (record.t_end or t0) + 0.001)
        if i % 29 == 13:
            record.outcome, record.error_class = Outcome.FAILED, ErrorClass.RATE_LIMITED
            record.status, record.retry_after_s = 429, 1.5
            record.chunk_times = record.chunk_times[:0]
            record.chunk_cumulative_tokens = record.chunk_cumulative_tokens[:0]
            record.t_first_token = record.t_first_content = record.t_last_token = None
            record.t_end = record.t_headers
            record.backoff_s = 0.05
        if i == n - 1:  # in flight when the run stopped
            record.outcome, record.error_class = Outcome.CANCELLED, None
        records.append(record)
    return records


def stats_of(records: list[RequestRecord]) -> RunStats:
    stats = RunStats()
    for record in records:
        stats.observe(record)
    return stats


def round_trip(records: list[RequestRecord]) -> list[RequestRecord]:
    lines = [json.loads(json.dumps(record_to_line(r, T_START))) for r in records]
    return [record_from_line(line) for line in lines]


# ------------------------------------------------------------------ the round trip


def test_statistics_rebuilt_from_the_lines_are_the_runs_bit_for_bit() -> None:
    records = sample_records()
    original, rebuilt = stats_of(records), stats_of(round_trip(records))
    assert rebuilt.to_wire() == original.to_wire()
    assert rebuilt.summary(9.25) == original.summary(9.25)


def test_a_rebuilt_record_has_the_same_figures() -> None:
    for before, after in zip(sample_records(), round_trip(sample_records()), strict=True):
        assert (after.ttft_s, after.ttfc_s, after.ttfb_s, after.tpot_s) == (
            before.ttft_s,
            before.ttfc_s,
            before.ttfb_s,
            before.tpot_s,
        )
        assert (after.e2e_s, after.first_visible_s, after.timed) == (
            before.e2e_s,
            before.first_visible_s,
            before.timed,
        )
        assert list(after.itl_samples()) == list(before.itl_samples())
        assert list(after.inter_chunk_gaps()) == list(before.inter_chunk_gaps())
        assert (after.output_tokens, after.output_tokens_source) == (
            before.output_tokens,
            before.output_tokens_source,
        )
        assert (after.outcome, after.error_class, after.target) == (
            before.outcome,
            before.error_class,
            before.target,
        )


def test_times_are_seconds_from_the_run_start_and_chunks_seconds_from_t0() -> None:
    record = RequestRecord(Mode.STREAM, "m", ENDPOINT, target="fast")
    record.t0 = T_START + 2.0
    record.t_headers = T_START + 2.125
    record.on_token_event(T_START + 2.25, visible=True)
    record.on_token_event(T_START + 2.5, visible=True)
    record.t_end = T_START + 2.5
    record.server_output_tokens = 2
    record.outcome = Outcome.OK
    line = record_to_line(record, T_START, stage=1)
    assert line["t0"] == pytest.approx(2.0, abs=1e-9)
    assert line["t_headers"] == pytest.approx(2.125, abs=1e-9)
    assert line["chunks"] == pytest.approx([0.25, 0.5], abs=1e-9)
    assert line["ttft_s"] == record.ttft_s
    assert (line["tail_s"], line["stage"], line["target"]) == (0.0, 1, "fast")
    assert "warmup" not in line
    assert record_to_line(record, T_START, warmup=True)["warmup"] is True


def test_a_servers_non_finite_timing_is_left_out_of_the_line() -> None:
    record = sample_records(2)[1]
    record.server_timings = {"prompt_ms": float("nan"), "predicted_n": 24.0}
    line = record_to_line(record, T_START)
    assert line["server_timings"] == {"predicted_n": 24.0}
    json.dumps(line, allow_nan=False)


# ------------------------------------------------------------------ nothing secret


def test_no_prompt_answer_or_header_goes_into_a_line() -> None:
    canary = "canary-7f3a9b"
    record = sample_records(2)[1]
    record.text = [f"an answer with {canary}"]
    record.path_headers = {"server": canary, "via": canary}
    assert canary not in json.dumps(record_to_line(record, T_START))


# ------------------------------------------------------------------ the file


def test_a_written_file_reads_back_line_for_line(tmp_path: Path) -> None:
    records = sample_records(40)
    lines = [record_to_line(r, T_START, warmup=i < 3) for i, r in enumerate(records)]
    path = tmp_path / RECORDS_FILE
    assert write_lines(path, lines) == 40
    assert list(read_lines(path)) == json.loads(json.dumps(lines))
    counted = [record for record, _ in read_records(path)]
    assert len(counted) == 37  # warm-up requests only when asked
    assert len(list(read_records(path, include_warmup=True))) == 40


def test_each_batch_is_readable_before_the_file_is_closed(tmp_path: Path) -> None:
    path = tmp_path / RECORDS_FILE
    writer = RecordsWriter(path)
    assert writer.write([{"n": 1}, {"n": 2}]) == 2
    assert writer.write([]) == 0
    assert writer.write([{"n": 3}]) == 1
    # flushed: every line so far decompresses, though the gzip stream has no end yet
    partial = zlib.decompressobj(wbits=31)
    assert partial.decompress(path.read_bytes()) == b'{"n":1}\n{"n":2}\n{"n":3}\n'
    assert not partial.eof
    writer.close()
    assert gzip.decompress(path.read_bytes()) == b'{"n":1}\n{"n":2}\n{"n":3}\n'
    assert (writer.lines, writer.closed) == (3, True)
    with pytest.raises(ValueError, match="already closed"):
        writer.write([{"n": 4}])
    writer.close()  # again: nothing
    assert gzip.decompress(path.read_bytes()).count(b"\n") == 3


def test_a_slice_written_without_a_flush_waits_for_the_next_flush(tmp_path: Path) -> None:
    path = tmp_path / RECORDS_FILE
    writer = RecordsWriter(path)
    writer.write([{"n": 1}])
    assert writer.write([{"n": 2}], flush=False) == 1
    assert zlib.decompressobj(wbits=31).decompress(path.read_bytes()) == b'{"n":1}\n'
    writer.flush()
    assert zlib.decompressobj(wbits=31).decompress(path.read_bytes()) == b'{"n":1}\n{"n":2}\n'
    writer.close()
    writer.flush()  # closed: nothing


def test_opening_a_writer_replaces_an_earlier_file(tmp_path: Path) -> None:
    path = tmp_path / RECORDS_FILE
    write_lines(path, [{"old": True}] * 5)
    writer = RecordsWriter(path)
    writer.write([{"new": True}])
    writer.close()
    assert list(read_lines(path)) == [{"new": True}]


# ------------------------------------------------------------------ bad files: one line


def test_a_file_that_is_not_gzip_is_named_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl.gz"
    path.write_text('{"v": 1}\n')
    with pytest.raises(ConfigError, match=r"^requests\.jsonl\.gz: not a gzip JSON-lines file"):
        list(read_lines(path))


def test_a_file_cut_short_says_where_it_ends(tmp_path: Path) -> None:
    path = tmp_path / RECORDS_FILE
    writer = RecordsWriter(path)
    writer.write([{"n": 1}, {"n": 2}])  # never closed: a run that crashed
    with pytest.raises(ConfigError) as caught:
        list(read_lines(path))
    assert str(caught.value) == (
        "requests.jsonl.gz: ends after line 2, before the end of its gzip stream (the run "
        "that wrote it did not finish)"
    )


def test_a_line_that_is_not_json_is_named_by_its_number(tmp_path: Path) -> None:
    path = tmp_path / RECORDS_FILE
    path.write_bytes(gzip.compress(b'{"v": 1}\n{"v": 1,\n'))
    with pytest.raises(ConfigError, match=r"^requests\.jsonl\.gz: line 2: not JSON"):
        list(read_lines(path))


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"requests\.jsonl\.gz: no such file$"):
        list(read_lines(tmp_path / RECORDS_FILE))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"v": 2}, "v: expected 1, got 2"),
        ({"mode": "fax"}, "'fax' is not a valid Mode"),
        ({"t0": "soon"}, "t0: expected a number of seconds, got 'soon'"),
        ({"t_end": True}, "t_end: expected a number of seconds, got True"),
        ({"attempts": "2"}, "attempts: expected int, got '2'"),
        ({"met_goodput": 1}, "met_goodput: expected bool, got 1"),
        ({"turn": True}, "turn: expected int, got True"),
        ({"chunks": 3}, "chunks: expected a list, got 3"),
        ({"outcome": "fine"}, "'fine' is not a valid Outcome"),
        ({"model": 7}, "model: expected a string, got 7"),
    ],
)
def test_a_bad_field_is_named_with_the_line(change: dict[str, object], message: str) -> None:
    line = {**record_to_line(sample_records(2)[1], T_START), **change}
    with pytest.raises(ConfigError) as caught:
        record_from_line(line, where="requests.jsonl.gz: line 9")
    assert str(caught.value) == (
        f"requests.jsonl.gz: line 9: not a request record of locust-llm ({message})"
    )


def test_a_line_without_its_mode_names_the_missing_field() -> None:
    line = record_to_line(sample_records(2)[1], T_START)
    del line["mode"]
    with pytest.raises(ConfigError, match=r"\(missing field 'mode'\)$"):
        record_from_line(line)


def test_tool_call_and_reasoning_figures_go_through_a_line() -> None:
    from harness.errors import Mode, Outcome
    from harness.record import RequestRecord
    from harness.report.records import record_from_line, record_to_line

    record = RequestRecord(Mode.STREAM, "m", "/v1/messages")
    record.t0 = 10.0
    record.on_token_event(10.2, visible=False)
    record.on_tool_call(10.3, 17)
    record.on_token_event(10.3, visible=False)
    record.t_end, record.outcome = 10.4, Outcome.OK
    record.reasoning_tokens, record.reasoning_events, record.server_output_tokens = 1, 1, 2
    line = record_to_line(record, 9.0)
    assert line["t_first_tool_call"] == pytest.approx(1.3)
    assert line["tool_call_bytes"] == 17
    again = record_from_line(line)
    assert again.tool_call_s == pytest.approx(record.tool_call_s)
    assert (again.tool_call_bytes, again.reasoning_tokens, again.reasoning_events) == (17, 1, 1)
    assert "tool_call_bytes" not in record_to_line(RequestRecord(Mode.BATCH, "m", "/"), 0.0)

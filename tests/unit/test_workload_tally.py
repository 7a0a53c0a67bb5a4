"""The workload's figures (harness.workload.tally): lengths requested against served, per turn
bucket, per prefix use; the wire form and its merge; the length warnings.

Latencies are sums of powers of two, so every figure is exact in floating point.
"""

from __future__ import annotations

import json
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest

from harness.errors import ErrorClass, Mode, Outcome
from harness.record import RequestRecord
from harness.workload.tally import WIRE_VERSION, WorkloadStats, turn_bucket


def stream(
    *,
    ttft: float = 0.25,
    e2e: float = 1.0,
    tokens: int = 4,
    input_tokens: int | None = 100,
    requested_input: int | None = None,
    requested_output: int | None = None,
    turn: int | None = None,
    prefix_reuse: bool | None = None,
    outcome: Outcome = Outcome.OK,
) -> RequestRecord:
    """A stream sent at 0 whose first token arrives at `ttft` and whose last at `e2e`."""
    r = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/chat/completions")
    step = (e2e - ttft) / max(tokens - 1, 1)
    for i in range(tokens):
        r.on_token_event(ttft + i * step, visible=True)
    r.t_end = e2e
    r.server_output_tokens = tokens
    r.input_tokens = input_tokens
    r.requested_input_tokens = requested_input
    r.requested_output_tokens = requested_output
    r.turn = turn
    r.prefix_reuse = prefix_reuse
    r.outcome = outcome
    if outcome is Outcome.FAILED:
        r.error_class = ErrorClass.STREAM_RESET
    return r


def batch(
    *, e2e: float = 2.0, tokens: int | None = 8, requested_output: int | None = None
) -> RequestRecord:
    r = RequestRecord(mode=Mode.BATCH, model="m", endpoint="/v1/chat/completions")
    r.t_headers = e2e
    r.on_token_event(e2e, visible=True)
    r.t_end = e2e
    r.server_output_tokens = tokens
    r.input_tokens = 50
    r.requested_output_tokens = requested_output
    r.outcome = Outcome.OK
    return r


def stats_of(*records: RequestRecord) -> WorkloadStats:
    stats = WorkloadStats()
    for record in records:
        stats.observe(record)
    return stats


def figures(h: dict[str, Any] | None) -> tuple[int, float, float, float]:
    """(count, min, mean, max) of a histogram summary."""
    assert h is not None
    return h["count"], h["min"], h["mean"], h["max"]


# ---------------------------------------------------------------- turn buckets


@pytest.mark.parametrize(
    ("turn", "bucket"),
    [(1, "1"), (2, "2"), (3, "3"), (4, "4-7"), (7, "4-7"), (8, "8+"), (50, "8+")],
)
def test_turns_fall_in_their_bucket(turn: int, bucket: str) -> None:
    assert turn_bucket(turn) == bucket


def test_turn_zero_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^a conversation turn is 1 or more, got 0$"):
        turn_bucket(0)


def test_by_turn_counts_each_bucket_in_order_with_its_latencies() -> None:
    stats = stats_of(
        stream(turn=5, ttft=0.5, e2e=2.0, input_tokens=900),
        stream(turn=1, ttft=0.125, e2e=1.0, input_tokens=100),
        stream(turn=4, ttft=0.25, e2e=1.5, input_tokens=700),
        stream(turn=9, outcome=Outcome.FAILED),
    )
    by_turn = stats.summary()["stream"]["by_turn"]
    assert list(by_turn) == ["1", "4-7", "8+"]
    assert by_turn["1"]["requests"] == 1
    assert figures(by_turn["1"]["ttft_s"]) == (1, 0.125, 0.125, 0.125)
    assert figures(by_turn["4-7"]["ttft_s"]) == (2, 0.25, 0.375, 0.5)
    assert figures(by_turn["4-7"]["first_visible_s"]) == (2, 0.25, 0.375, 0.5)
    assert figures(by_turn["4-7"]["e2e_s"]) == (2, 1.5, 1.75, 2.0)
    assert figures(by_turn["4-7"]["input_tokens"]) == (2, 700, 800, 900)
    assert "ci95" in by_turn["4-7"]["ttft_s"]
    assert "ci95" not in by_turn["4-7"]["input_tokens"]
    assert by_turn["8+"] == {"requests": 1}  # a failed request counts, its latencies do not


def test_single_turn_requests_have_no_by_turn() -> None:
    assert "by_turn" not in stats_of(stream(requested_output=8)).summary()["stream"]


def test_requests_that_asked_no_length_and_had_no_turn_or_prefix_leave_no_block() -> None:
    assert stats_of(stream(), batch()).summary() == {}


# ---------------------------------------------------------------- prefix use


def test_prefix_splits_first_use_from_reuse() -> None:
    stats = stats_of(
        stream(prefix_reuse=False, ttft=1.0, e2e=2.0),
        stream(prefix_reuse=True, ttft=0.25, e2e=1.0),
        stream(prefix_reuse=True, ttft=0.125, e2e=1.0),
        stream(prefix_reuse=True, outcome=Outcome.FAILED),
        stream(),
    )
    prefix = stats.summary()["stream"]["prefix"]
    assert list(prefix) == ["first_use", "reuse"]
    assert prefix["first_use"]["requests"] == 1
    assert figures(prefix["first_use"]["ttft_s"]) == (1, 1.0, 1.0, 1.0)
    assert prefix["reuse"]["requests"] == 3
    assert figures(prefix["reuse"]["ttft_s"]) == (2, 0.125, 0.1875, 0.25)
    assert figures(prefix["reuse"]["first_visible_s"]) == (2, 0.125, 0.1875, 0.25)
    assert set(prefix["reuse"]) == {"requests", "ttft_s", "first_visible_s"}


def test_batch_first_visible_is_its_e2e_and_it_has_no_ttft() -> None:
    record = batch(e2e=2.0)
    record.prefix_reuse = True
    reuse = stats_of(record).summary()["batch"]["prefix"]["reuse"]
    assert set(reuse) == {"requests", "first_visible_s"}
    assert figures(reuse["first_visible_s"]) == (1, 2.0, 2.0, 2.0)


# ---------------------------------------------------------------- lengths


def test_lengths_requested_and_served_per_direction() -> None:
    stats = stats_of(
        stream(requested_input=1000, input_tokens=1010, requested_output=128, tokens=128),
        stream(requested_input=500, input_tokens=520, requested_output=64, tokens=60),
        stream(requested_input=None, input_tokens=None, requested_output=None, tokens=10),
    )
    lengths = stats.summary()["stream"]["lengths"]
    assert figures(lengths["input"]["requested"]) == (2, 500, 750, 1000)
    assert figures(lengths["input"]["served"]) == (2, 520, 765, 1010)
    assert figures(lengths["output"]["requested"]) == (2, 64, 96, 128)
    # a request the workload asked no length of is not compared (the run's cap is no length)
    assert figures(lengths["output"]["served"]) == (2, 60, 94, 128)
    assert "ci95" not in lengths["input"]["served"]


def test_lengths_take_successes_only() -> None:
    stats = stats_of(
        stream(requested_output=128, tokens=5, outcome=Outcome.FAILED),
        stream(requested_output=128, tokens=5, outcome=Outcome.CANCELLED),
        stream(requested_output=16, tokens=16, outcome=Outcome.OK_LENGTH),
    )
    output = stats.summary()["stream"]["lengths"]["output"]
    assert figures(output["requested"]) == (1, 16, 16, 16)
    assert figures(output["served"]) == (1, 16, 16, 16)


def test_a_batch_answer_without_usage_serves_no_output_length() -> None:
    lengths = stats_of(batch(tokens=None, requested_output=64)).summary()["batch"]["lengths"]
    assert set(lengths["output"]) == {"requested"}


def test_modes_come_stream_first_and_only_with_data() -> None:
    stats = stats_of(
        batch(requested_output=8),
        stream(requested_output=8),
        stream(requested_output=8, outcome=Outcome.CANCELLED),
    )
    assert list(stats.summary()) == ["stream", "batch"]
    assert list(stats_of(stream(outcome=Outcome.CANCELLED)).summary()) == []


def test_cancelled_requests_count_nowhere() -> None:
    stats = stats_of(stream(turn=1, prefix_reuse=True, outcome=Outcome.CANCELLED))
    assert stats.summary() == {}
    assert stats.to_wire() == {"v": WIRE_VERSION, "modes": []}


# ---------------------------------------------------------------- wire and merge


def mixed_records() -> list[RequestRecord]:
    return [
        stream(
            turn=t,
            prefix_reuse=t % 2 == 0,
            requested_input=100 * t,
            input_tokens=100 * t + 9,
            requested_output=64,
            tokens=60 + t,
            ttft=0.125 * t,
            e2e=0.25 * t + 1,
        )
        for t in range(1, 11)
    ] + [batch(requested_output=32, tokens=30), stream(turn=2, outcome=Outcome.FAILED)]


def test_wire_survives_msgpack_and_json() -> None:
    stats = stats_of(*mixed_records())
    for wire in (
        msgpack.unpackb(msgpack.packb(stats.to_wire()), raw=False),
        json.loads(json.dumps(stats.to_wire())),
    ):
        copy = WorkloadStats()
        copy.merge_wire(wire)
        assert copy.summary() == stats.summary()
        assert copy.warnings() == stats.warnings()


def test_deltas_from_two_workers_merge_into_observing_all_in_one() -> None:
    records = mixed_records()
    worker_a, worker_b, master = WorkloadStats(), WorkloadStats(), WorkloadStats()
    for i, record in enumerate(records):
        (worker_a if i % 2 else worker_b).observe(record)
        if i == 4:
            master.merge_wire(worker_a.take_delta())
    master.merge_wire(worker_a.take_delta())
    master.merge_wire(worker_b.take_delta())
    master.merge_wire(worker_a.take_delta())  # empty: nothing since the last
    assert master.summary() == stats_of(*records).summary()
    assert master.warnings() == stats_of(*records).warnings()


def test_a_worker_keeps_its_totals_after_shipping_deltas() -> None:
    records = mixed_records()
    worker = WorkloadStats()
    for record in records[:6]:
        worker.observe(record)
    worker.take_delta()
    for record in records[6:]:
        worker.observe(record)
    assert worker.summary() == stats_of(*records).summary()


def sent_to(target: str, *records: RequestRecord) -> list[RequestRecord]:
    for record in records:
        record.target = target
    return list(records)


def test_targets_are_kept_apart_and_together_they_are_the_run() -> None:
    def records(a: str, b: str) -> list[RequestRecord]:
        return [
            *sent_to(a, stream(turn=1, ttft=0.25), stream(turn=2, ttft=0.5)),
            *sent_to(b, stream(turn=1, ttft=0.75), batch()),
        ]

    stats = stats_of(*records("a", "b"))
    assert [(t.mode, t.target) for t in stats.tallies()] == [
        ("stream", "a"), ("stream", "b"), ("batch", "b"),
    ]  # fmt: skip
    only_a = stats.summary(target="a")["stream"]["by_turn"]
    assert set(only_a) == {"1", "2"}
    assert figures(only_a["1"]["ttft_s"]) == (1, 0.25, 0.25, 0.25)
    assert stats.summary(target="other") == {}
    # without a target: every target's requests together, as in a run without targets
    together = stats_of(*records("", ""))
    assert stats.summary() == together.summary()
    assert figures(stats.summary()["stream"]["by_turn"]["1"]["ttft_s"])[0] == 2


def test_the_target_crosses_the_wire_and_an_older_workers_wire_is_target_less() -> None:
    worker = stats_of(*sent_to("a", stream(turn=1)), *sent_to("b", stream(turn=1)))
    master = WorkloadStats()
    master.merge_wire(json.loads(json.dumps(worker.take_delta())))
    assert [t.target for t in master.tallies()] == ["a", "b"]
    older = stats_of(stream(turn=1)).to_wire()
    for tally in older["modes"]:
        del tally["target"]
    master.merge_wire(older)
    assert [t.target for t in master.tallies()] == ["", "a", "b"]
    assert master.summary()["stream"]["by_turn"]["1"]["requests"] == 3


def test_reset_forgets_everything() -> None:
    stats = stats_of(*mixed_records())
    stats.take_delta()
    stats.observe(stream())
    stats.reset()
    assert stats.summary() == {}
    assert stats.take_delta() == {"v": WIRE_VERSION, "modes": []}


def test_another_wire_version_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^workload stats wire version 99 != 1$"):
        WorkloadStats().merge_wire({"v": 99, "modes": []})


# ---------------------------------------------------------------- warnings


def test_output_11_percent_short_warns_that_the_server_stopped_early() -> None:
    stats = stats_of(
        stream(requested_output=100, tokens=89), stream(requested_output=100, tokens=89)
    )
    assert stats.warnings() == [
        "stream: served output tokens averaged 89 against 100 requested (−11 %): the server "
        "stopped early (EOS); ask it to ignore EOS (ignore_eos / min_tokens, see docs/workloads.md)"
    ]


def test_output_9_percent_short_does_not_warn() -> None:
    assert stats_of(stream(requested_output=100, tokens=91)).warnings() == []


def test_input_11_percent_over_warns_about_the_template_or_calibration() -> None:
    stats = stats_of(stream(requested_input=1000, input_tokens=1110))
    assert stats.warnings() == [
        "stream: the server counted 11 % more input tokens than requested (averaged 1110 "
        "against 1000): its chat template adds tokens, or the calibration is off"
    ]


def test_input_9_percent_over_does_not_warn() -> None:
    assert stats_of(stream(requested_input=1000, input_tokens=1090)).warnings() == []


def test_input_11_percent_under_warns_about_the_calibration() -> None:
    stats = stats_of(stream(requested_input=1000, input_tokens=890))
    assert stats.warnings() == [
        "stream: the server counted 11 % fewer input tokens than requested (averaged 890 "
        "against 1000): the calibration is off (calibrate against the server, see "
        "docs/workloads.md)"
    ]


def test_warnings_compare_only_requests_with_both_lengths() -> None:
    # the second request asked for no output length: its 10 tokens are not compared with 128
    stats = stats_of(stream(requested_output=128, tokens=128), stream(tokens=10))
    assert stats.warnings() == []


def test_warnings_come_per_mode_and_direction() -> None:
    stats = stats_of(
        batch(requested_output=100, tokens=50),
        stream(requested_input=100, input_tokens=150, requested_output=100, tokens=50),
    )
    assert [line.split(" (")[0] for line in stats.warnings()] == [
        "stream: the server counted 50 % more input tokens than requested",
        "stream: served output tokens averaged 50 against 100 requested",
        "batch: served output tokens averaged 50 against 100 requested",
    ]

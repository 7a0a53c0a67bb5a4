"""Paired streaming vs batch (harness.load.paired): matching halves, signed gains, the sentence."""

from __future__ import annotations

import pytest

from harness.load.paired import PairBook, paired_sentence
from harness.load.schedule import RateSegment, arrival_times, arrivals


def test_a_paired_schedule_sends_each_due_time_in_both_modes_as_one_pair() -> None:
    times = arrival_times([RateSegment(0.0, 1.0, 5.0, 5.0)], "constant")
    drawn = list(arrivals(times, [("stream", 1), ("batch", 1)], paired=True))
    assert [(a.index, a.mode, a.t_s) for a in drawn[:4]] == [
        (0, "stream", 0.0), (0, "batch", 0.0), (1, "stream", 0.2), (1, "batch", 0.2),
    ]  # fmt: skip
    assert [a.mode_index for a in drawn if a.mode == "batch"] == [0, 1, 2, 3, 4]


def test_the_gain_is_batch_minus_streaming_first_visible_output_per_pair() -> None:
    book = PairBook()
    book.add(1, "stream", 0.2)
    book.add(1, "batch", 1.4)  # streaming first by 1.2 s
    book.add(2, "batch", 0.5)
    book.add(2, "stream", 0.7)  # batch first by 0.2 s
    book.add(3, "stream", 0.3)
    book.add(3, "batch", None)  # the batch half failed: not compared
    book.add(4, "stream", 0.3)  # its other half never finished
    summary = book.summary()
    assert summary is not None
    assert (summary["pairs"], summary["unmatched"]) == (2, 2)
    assert (summary["stream_first"], summary["batch_first"], summary["ties"]) == (1, 1, 0)
    assert summary["stream_first_share"] == 0.5
    assert summary["gain_s"]["min"] == pytest.approx(-0.2, rel=1e-3)
    assert summary["gain_s"]["max"] == pytest.approx(1.2, rel=1e-3)
    assert summary["gain_s"]["p50"] == pytest.approx(-0.2, rel=1e-3)  # rank 1 of 2


def test_signed_percentiles_walk_from_the_worst_loss_to_the_best_gain() -> None:
    book = PairBook()
    gains = [-0.5, -0.1, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4]
    for i, gain in enumerate(gains):
        book.add(i, "stream", 1.0)
        book.add(i, "batch", 1.0 + gain)
    summary = book.summary()
    assert summary is not None
    assert summary["ties"] == 1
    assert summary["stream_first"] == 7
    values = summary["gain_s"]
    assert values["p10"] == pytest.approx(-0.5, rel=1e-3)
    assert values["p25"] == pytest.approx(0.0, abs=1e-9)
    assert values["p50"] == pytest.approx(0.4, rel=1e-3)
    assert values["p90"] == pytest.approx(1.2, rel=1e-3)


def test_a_worker_ships_its_halves_and_the_master_matches_them() -> None:
    worker_a, worker_b, master = PairBook(match_here=False), PairBook(match_here=False), PairBook()
    worker_a.add(7, "stream", 0.25)
    worker_b.add(7, "batch", 1.25)
    assert worker_a.summary() is None  # nothing matched on a worker
    master.merge_halves(worker_a.take_halves())
    master.merge_halves(worker_b.take_halves())
    assert worker_a.take_halves() == []
    summary = master.summary()
    assert summary is not None
    assert summary["pairs"] == 1
    assert summary["gain_s"]["p50"] == pytest.approx(1.0, rel=1e-3)


def test_the_sentence() -> None:
    paired = {
        "pairs": 412, "unmatched": 3, "stream_first_share": 0.98,
        "gain_s": {"p10": 0.95, "p50": 1.21, "p90": 1.48},
    }  # fmt: skip
    assert paired_sentence(paired) == (
        "Paired: streaming showed something first in 98% of 412 prompts; median gain 1.21 s "
        "(p10 950 ms, p90 1.48 s); 3 pair(s) not compared (a half failed or did not finish)."
    )
    assert paired_sentence({"pairs": 0, "unmatched": 2}) is None

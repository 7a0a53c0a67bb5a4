"""Comparing two runs by their request records (requests.jsonl.gz, made here with the harness's
own `record_to_line` and `write_lines`): the bootstrap path, its determinism, the records'
own percentiles, and one-line errors for a bad records file."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from harness.compare.bootstrap import percentile_of_sorted
from harness.compare.changes import Change, Comparison
from harness.compare.command import build_comparison
from harness.compare.markdown import method_sentence
from harness.compare.samples import read_samples
from harness.compare.verdict import Verdict
from harness.errors import ConfigError
from harness.record import RequestRecord
from harness.report.records import RECORDS_FILE, record_to_line, write_lines
from tests.unit.compare_runs import batch_record, stream_record, write_run


def streams(n: int, ttft_s: float, itl_s: float = 0.02, *, seed: int = 0) -> list[RequestRecord]:
    rng = random.Random(seed)
    return [
        stream_record(
            i * 0.1,
            rng.lognormvariate(0.0, 0.1) * ttft_s,
            [rng.lognormvariate(0.0, 0.1) * itl_s for _ in range(15)],
        )
        for i in range(n)
    ]


def find(comparison: Comparison, label: str) -> Change:
    return next(c for c in comparison.changes if c.label == label)


def test_with_records_in_both_runs_latencies_are_bootstrapped(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", streams(400, 0.2, seed=1))
    new = write_run(tmp_path / "new", streams(400, 0.25, seed=2))
    comparison = build_comparison(str(base), str(new), 0.1)
    assert comparison.bootstrap is True
    ttft = find(comparison, "stream ttft p50")
    assert (ttft.method, ttft.verdict, ttft.regression) == ("bootstrap", Verdict.WORSE, True)
    assert ttft.interval[0] is not None
    assert 0.0 < ttft.interval[0] < ttft.change
    assert {c.method for c in comparison.changes if c.figure.kind == "latency"} == {"bootstrap"}
    assert find(comparison, "stream failure_ratio").method == "wilson"


def test_the_bootstrap_gives_the_same_comparison_every_time(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", streams(300, 0.2, seed=1))
    new = write_run(tmp_path / "new", streams(300, 0.21, seed=2))
    assert (
        build_comparison(str(base), str(new), 0.1).changes
        == build_comparison(str(base), str(new), 0.1).changes
    )


def test_bootstrapped_values_are_the_records_own_percentiles(tmp_path: Path) -> None:
    records = streams(300, 0.2, seed=3)
    base = write_run(tmp_path / "base", records)
    new = write_run(tmp_path / "new", streams(300, 0.2, seed=4))
    ttft = sorted(r.ttft_s for r in records if r.ttft_s is not None)
    itl = sorted(v for r in records for v in r.itl_samples())
    comparison = build_comparison(str(base), str(new), 0.1)
    assert find(comparison, "stream ttft p95").base == pytest.approx(
        percentile_of_sorted(ttft, 95.0), abs=2e-6
    )
    itl_p99 = find(comparison, "stream itl p99")
    assert itl_p99.base == pytest.approx(percentile_of_sorted(itl, 99.0), abs=2e-6)
    assert itl_p99.counts[0] == 300 * 15  # ITL rests on every token


def test_itl_intervals_are_wider_than_counting_every_token_as_independent(
    tmp_path: Path,
) -> None:
    # each request's tokens share its speed: the interval must reflect 300 requests
    rng = random.Random(9)

    def run(name: str, itl_s: float) -> Path:
        records = []
        for i in range(300):
            speed = rng.lognormvariate(0.0, 0.3) * itl_s
            records.append(stream_record(i * 0.1, 0.2, [speed] * 30))
        return write_run(tmp_path / name, records)

    comparison = build_comparison(str(run("base", 0.02)), str(run("new", 0.02)), 0.1)
    low, high = find(comparison, "stream itl p50").interval
    assert low is not None
    assert high is not None
    # the p50 of 300 lognormal(σ 0.3) speeds is known to about ±3.5 %; 9,000 independent
    # tokens would claim ±0.6 %
    assert high - low > 0.02 * 0.03


def test_records_in_one_run_only_fall_back_to_the_summaries(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", streams(200, 0.2), with_records=False)
    new = write_run(tmp_path / "new", streams(200, 0.3))
    comparison = build_comparison(str(base), str(new), 0.1)
    assert comparison.bootstrap is False
    assert {c.method for c in comparison.changes if c.figure.kind == "latency"} == {"ci95"}
    assert method_sentence(comparison) == (
        "Latency intervals: MOVER on each summary's ci95 (BASE has no requests.jsonl.gz). "
        "Failure ratio: Newcombe; rates: Poisson."
    )


def test_records_without_the_mode_fall_back_to_the_summaries(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", streams(200, 0.2))
    new = write_run(tmp_path / "new", streams(200, 0.3))
    write_lines(new / RECORDS_FILE, [])  # a records file with no request in it
    comparison = build_comparison(str(base), str(new), 0.1)
    assert comparison.bootstrap is False
    assert {c.method for c in comparison.changes if c.figure.kind == "latency"} == {"ci95"}


def test_records_of_warmup_requests_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / RECORDS_FILE
    fast, slow = streams(3, 0.1), streams(2, 5.0)
    write_lines(
        path,
        [record_to_line(r, 0.0) for r in fast]
        + [record_to_line(r, 0.0, warmup=True) for r in slow],
    )
    samples = read_samples(path, "BASE")
    assert len(samples[("", "stream")].values["ttft_s"]) == 3


def test_records_are_grouped_by_target_and_mode(tmp_path: Path) -> None:
    path = tmp_path / RECORDS_FILE
    records = [
        stream_record(0.0, 0.1, [0.01], target="a"),
        batch_record(0.0, 0.3, target="a", tokens=5),
        batch_record(0.0, 0.3, target="b", tokens=7),
        batch_record(0.0, 0.3, target="b", failed=True),
    ]
    write_lines(path, [record_to_line(r, 0.0) for r in records])
    samples = read_samples(path, "NEW")
    assert sorted(samples) == [("a", "batch"), ("a", "stream"), ("b", "batch")]
    b = samples[("b", "batch")]
    assert b.values["e2e_s"] == pytest.approx([0.3])
    assert (b.tokens, b.tokens_squared) == (7, 49)
    assert samples[("a", "stream")].itl.samples == 1


def test_a_records_file_that_is_not_gzip_is_one_line_naming_the_run(tmp_path: Path) -> None:
    path = tmp_path / RECORDS_FILE
    path.write_text("not gzip\n")
    with pytest.raises(ConfigError) as caught:
        read_samples(path, "NEW")
    message = str(caught.value)
    assert message.startswith(f"NEW {path}: not a gzip JSON-lines file (")
    assert "\n" not in message


def test_a_line_that_is_not_a_record_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / RECORDS_FILE
    line = record_to_line(stream_record(0.0, 0.1, [0.01]), 0.0)
    with gzip.open(path, "wt") as out:
        out.write(json.dumps(line) + "\n" + json.dumps({"v": 1, "t0": 0.0}) + "\n")
    with pytest.raises(ConfigError) as caught:
        read_samples(path, "BASE")
    assert str(caught.value) == (
        f"BASE {path}: line 2: not a request record of locust-llm (missing field 'mode')"
    )


def test_a_line_that_is_not_json_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / RECORDS_FILE
    with gzip.open(path, "wt") as out:
        out.write("{oops\n")
    with pytest.raises(ConfigError) as caught:
        read_samples(path, "BASE")
    assert str(caught.value).startswith(f"BASE {path}: line 1: not JSON (")


def test_output_token_rates_use_the_records_spread(tmp_path: Path) -> None:
    # same totals, but NEW's tokens come in very unequal answers: its interval is wider
    even = [batch_record(i * 0.1, 0.3, tokens=10) for i in range(100)]
    uneven = [batch_record(i * 0.1, 0.3, tokens=91 if i < 10 else 1) for i in range(100)]
    even_dir, uneven_dir = write_run(tmp_path / "even", even), write_run(tmp_path / "un", uneven)
    narrow = find(build_comparison(str(even_dir), str(even_dir), 0.1), "batch output_tokens_per_s")
    wide = find(
        build_comparison(str(uneven_dir), str(uneven_dir), 0.1), "batch output_tokens_per_s"
    )
    assert narrow.base == wide.base == pytest.approx(1000 / 60)
    assert narrow.interval[1] is not None
    assert wide.interval[1] is not None
    assert wide.interval[1] > 2 * narrow.interval[1]

"""`locust-llm run` with a scenario's workload, checked at the server: real Locust runs against
the real mock, whose `/mock/stats` `received` and `arrivals` say what each request sent and
when it came.

- lengths: synthetic input and output lengths arrive as asked (the mock's own token rule,
  harness/mock/tokens.py), `force_output: ignore_eos` is sent, and a server that stops early
  is a workload warning;
- multi-turn: a ShareGPT conversation is replayed with the server's own answers in its
  history (never the dataset's), its turns spaced by the think time;
- shared prefix: one of G fixed texts before every prompt, first use and reuse counted;
- trace: the trace's requests arrive on its own timestamps, sped up;
- malformed records: exit 2 with one line naming the file and the record, nothing sent.

Runs are short (≤ 8 s) with few users: the machine has 2 shared cores.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MockProcess, locust_llm, on_time_in_one_of, run_mock

pytestmark = pytest.mark.slow

#: the calibration's two probe requests (max_tokens 1) come before any workload request
PROBES = 2


def run_scenario(tmp_path: Path, mock: MockProcess, body: str) -> tuple[Any, dict[str, Any]]:
    """Write scenario.yaml (target: the mock) in `tmp_path`, run it headless, and return the
    finished process and its summary.json."""
    (tmp_path / "scenario.yaml").write_text(
        f"target:\n  base_url: {mock.url}\n" + body, encoding="utf-8"
    )
    result = locust_llm("run", "scenario.yaml", "--headless", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "llm-report" / "summary.json").read_text())
    return result, summary


def workload_requests(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`received` after the two calibration probes, which must be first."""
    assert len(received) > PROBES
    assert [r["max_tokens"] for r in received[:PROBES]] == [1] * PROBES
    return received[PROBES:]


def within(value: float, truth: float, share: float) -> bool:
    return abs(value - truth) <= share * truth


# --- lengths -----------------------------------------------------------------------------

LENGTHS = (
    "prompts:\n"
    "  synthetic:\n"
    "    input_tokens: {dist: normal, mean: 300, stddev: 60, min: 120, max: 480}\n"
    "    output_tokens: {dist: uniform, min: 8, max: 24}\n"
)


def test_synthetic_lengths_arrive_as_asked_with_ignore_eos(tmp_path: Path) -> None:
    with run_mock("--ttft", "20ms", "--itl", "2ms", "--tokens", "64") as mock:
        result, summary = run_scenario(
            tmp_path,
            mock,
            LENGTHS + "  force_output: ignore_eos\nload: {users: 2, spawn_rate: 2, run_time: 4s}\n",
        )
        received = mock.stats()["received"]
    sent = workload_requests(received)
    assert len(sent) > 30
    mean_prompt = statistics.fmean(r["prompt_tokens"] for r in sent)
    assert within(mean_prompt, 300, 0.05), mean_prompt
    assert all(8 <= r["max_tokens"] <= 24 for r in sent)
    assert {r["max_tokens"] for r in sent} != {sent[0]["max_tokens"]}  # drawn, not fixed
    assert all(r["ignore_eos"] is True for r in sent)
    assert all(r["ignore_eos"] is False for r in received[:PROBES])
    run = summary["run"]
    assert run["calibration"]["source"] == "server"
    assert "workload_warnings" not in run
    assert set(summary["modes"]) == {"stream", "batch"}
    for mode, block in summary["modes"].items():
        lengths = block["workload"]["lengths"]
        for direction in ("input", "output"):
            requested = lengths[direction]["requested"]["mean"]
            served = lengths[direction]["served"]["mean"]
            assert within(served, requested, 0.05), (mode, direction, served, requested)
        assert 8 <= lengths["output"]["requested"]["mean"] <= 24
    assert "served output tokens averaged" not in result.stdout
    assert "input tokens than requested" not in result.stdout


def test_a_server_that_stops_early_is_a_workload_warning(tmp_path: Path) -> None:
    # the mock's natural answer is 10 tokens: max_tokens 8..24 (mean 16) is cut to 8..10
    with run_mock("--ttft", "20ms", "--itl", "2ms", "--tokens", "10") as mock:
        result, summary = run_scenario(
            tmp_path, mock, LENGTHS + "load: {users: 2, spawn_rate: 2, run_time: 3s}\n"
        )
        sent = workload_requests(mock.stats()["received"])
    assert all(r["ignore_eos"] is False and r["min_tokens"] is None for r in sent)
    warnings = summary["run"]["workload_warnings"]
    early = [w for w in warnings if "served output tokens" in w and "stopped early" in w]
    assert {w.split(":")[0] for w in early} == {"stream", "batch"}, warnings
    assert not [w for w in warnings if "input tokens" in w], warnings
    for line in early:
        assert line in result.stdout


# --- multi-turn --------------------------------------------------------------------------

#: the dataset's answers: the first is shorter than the mock's natural answer, the others
#: longer (their estimates, ceil(characters / 4), ask for more than the mock gives)
DATASET_ANSWERS = (
    "DATASET ANSWER 1",
    "DATASET ANSWER 2, which the dataset's model gave at some length",
    "DATASET ANSWER 3, longer again than what the mock says by itself",
)
MOCK_TOKENS = 8
TTFT_S, ITL_S = 0.05, 0.01


def mock_reply(n: int) -> str:
    """The mock's answer of `n` tokens (harness/mock/completions.py `token_text`)."""
    return "".join(f" tok{i}" for i in range(n))


def test_a_conversation_is_replayed_with_the_servers_answers(tmp_path: Path) -> None:
    sharegpt = [
        {
            "id": "only",
            "conversations": [
                turn
                for i, answer in enumerate(DATASET_ANSWERS, start=1)
                for turn in (
                    {"from": "human", "value": f"human question number {i}"},
                    {"from": "gpt", "value": answer},
                )
            ],
        }
    ]
    (tmp_path / "chats.json").write_text(json.dumps(sharegpt), encoding="utf-8")
    with run_mock("--ttft", "50ms", "--itl", "10ms", "--tokens", str(MOCK_TOKENS)) as mock:
        _, summary = run_scenario(
            tmp_path,
            mock,
            "prompts:\n  sharegpt: chats.json\n  turns: all\n  think_time: 500ms\n"
            "mix: {stream: 1, batch: 0}\n"
            "load: {users: 1, spawn_rate: 1, run_time: 3s}\n",
        )
        stats = mock.stats()
    received = stats["received"]
    assert len(received) >= 3
    turns = received[:3]  # no calibration: nothing is sized in tokens
    assert [r["messages"] for r in turns] == [1, 3, 5]
    for r in turns:
        assert r["roles"] == ["user", "assistant"] * (r["messages"] // 2) + ["user"]
    lengths = [min(math.ceil(len(a) / 4), MOCK_TOKENS) for a in DATASET_ANSWERS]
    assert lengths[0] < MOCK_TOKENS  # one answer the dataset's estimate cuts, two it does not
    assert [r["max_tokens"] for r in turns] == [math.ceil(len(a) / 4) for a in DATASET_ANSWERS]
    replies = [mock_reply(n) for n in lengths]
    assert [r["assistant"] for r in turns] == [[], replies[:1], replies[:2]]
    assert [r["last_user"] for r in turns] == [f"human question number {i}" for i in (1, 2, 3)]
    assert all("DATASET ANSWER" not in text for r in received for text in r["assistant"])
    assert set(summary["modes"]["stream"]["workload"]["by_turn"]) >= {"1", "2", "3"}
    # think time: each turn arrives at least 500 ms after the answer before it was complete
    # (its last token leaves at TTFT + (n − 1) × ITL after the request arrived), and well
    # before a second think time would have passed
    arrivals = stats["arrivals"]["t_s"]
    for turn in (1, 2):
        answered_at = arrivals[turn - 1] + TTFT_S + (lengths[turn - 1] - 1) * ITL_S
        gap = arrivals[turn] - answered_at
        assert 0.5 <= gap < 1.0, (turn, gap)


# --- shared prefix -----------------------------------------------------------------------


def test_a_shared_prefix_repeats_in_its_groups(tmp_path: Path) -> None:
    with run_mock("--ttft", "20ms", "--itl", "2ms", "--tokens", "8") as mock:
        _, summary = run_scenario(
            tmp_path,
            mock,
            "prompts:\n"
            "  synthetic: {input_tokens: 900}\n"
            "  shared_prefix: {tokens: 600, groups: 3}\n"
            "load: {users: 2, spawn_rate: 2, run_time: 3s}\n",
        )
        sent = workload_requests(mock.stats()["received"])
    assert len(sent) > 20
    assert len({r["prefix_sha1"] for r in sent}) == 3
    assert all(r["first_user"].startswith("Reference document ") for r in sent)
    mean_prompt = statistics.fmean(r["prompt_tokens"] for r in sent)
    assert within(mean_prompt, 900, 0.05), mean_prompt
    first_uses = 0
    for mode, block in summary["modes"].items():
        prefix = block["workload"]["prefix"]
        first_uses += prefix["first_use"]["requests"] if "first_use" in prefix else 0
        uses = sum(part["requests"] for part in prefix.values())
        assert uses == block["requests"], (mode, prefix, block["requests"])
    assert first_uses == 3  # one process: each group's first request, in either mode


# --- trace replay ------------------------------------------------------------------------

TRACE_ENTRIES = 40
TRACE_SPEED = 2


def trace_times_ms(seed: int = 7) -> list[int]:
    """40 timestamps over 4 s, first 0, last 4,000, with uneven gaps (some of a few ms)."""
    rng = random.Random(seed)
    gaps = [rng.choice((rng.uniform(1, 10), rng.uniform(40, 250))) for _ in range(39)]
    scale = 4000 / sum(gaps)
    times, t = [0], 0.0
    for gap in gaps:
        t += gap * scale
        times.append(round(t))
    return times


def test_a_trace_is_replayed_on_its_timestamps(tmp_path: Path) -> None:
    times = trace_times_ms()
    rng = random.Random(11)
    (tmp_path / "trace.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "timestamp": t,
                    "input_length": rng.randint(40, 200),
                    "output_length": rng.randint(2, 12),
                    "hash_ids": [i % 5],
                }
            )
            + "\n"
            for i, t in enumerate(times)
        ),
        encoding="utf-8",
    )
    due = [(t - times[0]) / 1000 / TRACE_SPEED for t in times]

    def replay() -> tuple[dict[str, Any], list[str]]:
        with run_mock("--ttft", "20ms", "--itl", "2ms", "--tokens", "16") as mock:
            (tmp_path / "scenario.yaml").write_text(
                f"target:\n  base_url: {mock.url}\n"
                f"prompts: {{trace: trace.jsonl, speed: {TRACE_SPEED}}}\n"
                "mix: {stream: 1, batch: 1}\n"
                "load: {max_in_flight: 32}\n",
                encoding="utf-8",
            )
            result = locust_llm("run", "scenario.yaml", "--headless", cwd=tmp_path, timeout=120)
            stats = mock.stats()
        assert result.returncode == 0, result.stderr[-3000:]
        received = stats["received"]
        assert len(received) == PROBES + TRACE_ENTRIES
        assert [r["max_tokens"] for r in received[:PROBES]] == [1] * PROBES
        arrivals = stats["arrivals"]["t_s"]
        assert len(arrivals) == PROBES + TRACE_ENTRIES
        traced = arrivals[PROBES:]
        assert traced[0] >= arrivals[PROBES - 1]  # the probes come before the replay
        summary = json.loads((tmp_path / "llm-report" / "summary.json").read_text())
        errors = [abs((a - traced[0]) - d) for a, d in zip(traced, due, strict=True)]
        problems = []
        if statistics.median(errors) > 0.002:
            problems.append(f"median |error| {statistics.median(errors) * 1e3:.2f} ms > 2 ms")
        worst = max(errors)
        if worst > 0.025:
            problems.append(f"worst |error| {worst * 1e3:.2f} ms > 25 ms")
        return summary, problems

    summary = on_time_in_one_of(2, replay)
    load = summary["run"]["load"]
    assert (load["scheduled"], load["sent"]) == (TRACE_ENTRIES, TRACE_ENTRIES)
    requests = sum(block["requests"] for block in summary["modes"].values())
    assert requests == TRACE_ENTRIES


# --- malformed records -------------------------------------------------------------------

MALFORMED = [
    pytest.param(
        "chats.json",
        json.dumps([
            {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "ok"}]},
            {"conversations": [{"from": "human", "value": "hi"}, {"from": "bot", "value": "x"}]},
        ]),
        "prompts: {sharegpt: chats.json}\n",
        ("record 2", "conversations[1].from", '"bot"'),
        id="sharegpt-from-bot",
    ),
    pytest.param(
        "trace.jsonl",
        '{"timestamp": 0, "input_length": 10, "output_length": 4}\n'
        '{"timestamp": 100, "output_length": 4}\n',
        "prompts: {trace: trace.jsonl}\n",
        ("trace.jsonl:2", "input_length"),
        id="trace-without-input-length",
    ),
    pytest.param(
        "prompts.jsonl",
        '{"prompt": "one", "max_tokens": 5}\n{"prompt": "two", "max_tokens": 0}\n',
        "prompts: {file: prompts.jsonl}\n",
        ("prompts.jsonl:2", "max_tokens", "0"),
        id="jsonl-max-tokens-0",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "prompts", "named"), MALFORMED)
def test_a_malformed_record_exits_2_with_one_line_and_sends_nothing(
    tmp_path: Path, name: str, content: str, prompts: str, named: tuple[str, ...]
) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    with run_mock("--ttft", "20ms", "--itl", "2ms", "--tokens", "8") as mock:
        (tmp_path / "scenario.yaml").write_text(
            f"target:\n  base_url: {mock.url}\n{prompts}load: {{users: 1, run_time: 2s}}\n",
            encoding="utf-8",
        )
        result = locust_llm("run", "scenario.yaml", "--headless", cwd=tmp_path)
        stats = mock.stats()
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # the whole of stderr: one line, as the CLI's others
    assert lines[0].startswith("locust-llm: error: ")
    assert f"{tmp_path / name}:" in lines[0]
    for part in named:
        assert part in lines[0], lines[0]
    assert result.stdout == ""
    assert stats["received"] == []
    assert stats["arrivals"]["count"] == 0

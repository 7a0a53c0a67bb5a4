"""The mock's fault injection, seen by the harness's own client (issue #3, catalogue §D).

Every fault of `harness.mock.faults.FAULTS` is injected at probability 1 into a real mock
process, and one request sent with `LLMClient` must end exactly as the fault's mapping says:
the outcome, the one error class, the status, and the token-bearing chunks received before
the fault; benign faults must give a success with every token and the exact text. The
mapping is data in the mock; this file checks it against the harness's closed lists.

Exact-bytes cases of the client are in test_client.py (scripted server); here the faults
come from the mock's command line, as a user rehearsing failures would run them.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from harness.client import LLMClient, Target, Timeouts
from harness.errors import ErrorClass, Mode, Outcome
from harness.mock.completions import token_text
from harness.mock.faults import (
    FAULTS,
    MULTI_TOKEN_CHUNK,
    OK,
    Fault,
    FaultInjector,
    FaultPlan,
    parse_fault_spec,
    utf8_token_text,
)
from harness.protocols.openai import OpenAIProtocol
from harness.record import RequestRecord
from tests.conftest import ROOT, run_mock

TOKENS = 6
AFTER = 2  # --fault-after-tokens
PROFILE = ("--ttft", "40ms", "--itl", "10ms", "--tokens", str(TOKENS))
KNOBS = (
    "--fault-after-tokens", str(AFTER), "--fault-stall-length", "1s",
    "--fault-header-delay", "300ms", "--fault-retry-after", "1",
)  # fmt: skip
TIMEOUTS = Timeouts(connect_s=2.0, header_s=3.0, ttft_s=3.0, stall_s=0.3, total_s=5.0)
BATCH_FAULTS = [name for name, fault in FAULTS.items() if fault.batch is not None]
STREAM_ONLY = [name for name, fault in FAULTS.items() if fault.batch is None]


def send(url: str, mode: Mode, *, chat: bool = True) -> RequestRecord:
    """One request with the harness's client, on a fresh connection."""
    client = LLMClient(
        target=Target.parse(url),
        protocol=OpenAIProtocol(chat=chat),
        timeouts=TIMEOUTS,
        keep_text=True,
    )
    try:
        record = client.new_record(mode, "m")
        body = client.protocol.build_body(model="m", prompt="hi", stream=mode is Mode.STREAM)
        client.send(record, body)
    finally:
        client.close()
    return record


def check(record: RequestRecord, fault: Fault, mode: Mode) -> None:
    """The record is exactly what the fault's mapping says for `mode`."""
    expected = fault.expected_for(mode.value)
    assert expected is not None
    seen = (record.outcome, record.error_class, record.status, record.chunk_count)
    if expected == OK:
        assert record.outcome is Outcome.OK, seen
        assert record.error_class is None
        assert record.status == 200
        make = utf8_token_text if fault.name == "utf8_split" else token_text
        assert record.text is not None
        assert "".join(record.text) == "".join(make(i) for i in range(TOKENS))
        assert record.output_tokens == TOKENS
        if mode is Mode.STREAM:
            per_event = MULTI_TOKEN_CHUNK if fault.name == "multi_token" else 1
            assert record.chunk_count == math.ceil(TOKENS / per_event), seen
            assert record.ttft_s is not None
    elif expected == "empty":
        assert record.outcome is Outcome.EMPTY, seen
        assert record.error_class is None
        assert record.status == 200
        assert record.chunk_count == 0
        assert record.ttft_s is None
    else:
        assert record.outcome is Outcome.FAILED, seen
        assert record.error_class is ErrorClass(expected), seen
        assert record.status == fault.status, seen
        partial = AFTER if fault.mid_stream and mode is Mode.STREAM else 0
        assert record.chunk_count == partial, seen


# -- the mapping as data --------------------------------------------------------------------


def test_every_expectation_is_an_error_class_empty_or_ok() -> None:
    allowed = {c.value for c in ErrorClass} | {"empty", OK}
    for fault in FAULTS.values():
        assert fault.expected in allowed, fault.name
        assert fault.batch_expected is None or fault.batch_expected in allowed, fault.name
        assert (fault.status == 200) == (fault.expected not in ("rate_limited", "http_5xx"))
    # the list, at least
    assert {
        "rate_limited", "http_500", "http_502", "http_503", "reset_mid_stream", "stall",
        "truncated", "inband_error", "inband_error_vllm", "inband_error_tgi",
        "inband_error_llamacpp", "malformed_json", "html_200", "keepalive", "crlf",
        "multi_token", "utf8_split", "slow_headers", "empty",
    } <= set(FAULTS)  # fmt: skip


def test_docs_list_every_fault_with_its_expected_results() -> None:
    rows = {
        line.split("|")[1].strip(" `"): [cell.strip() for cell in line.split("|")[1:-1]]
        for line in (ROOT / "docs" / "faults.md").read_text().splitlines()
        if line.startswith("| `")
    }
    for name, fault in FAULTS.items():
        _, _, stream, batch, status, cases = rows[name]
        assert stream.startswith(f"`{fault.expected}`"), name
        assert batch.startswith(f"`{fault.batch_expected}`" if fault.batch_expected else "—")
        assert (int(status), cases) == (fault.status, fault.cases), name


def test_fault_specs_parse_round_trip_and_refuse_mistakes_in_one_line() -> None:
    plan = parse_fault_spec("http_500=0.02, rate_limited:0.05,seed=7,stall_length=3s")
    assert plan.probabilities == (("rate_limited", 0.05), ("http_500", 0.02))  # canonical
    assert (plan.seed, plan.stall_length_s) == (7, 3.0)
    assert parse_fault_spec(plan.to_spec()) == plan
    schedule = parse_fault_spec("ok,ok,rate_limited,retry_after=2")
    assert schedule.schedule == ("ok", "ok", "rate_limited")
    assert schedule.retry_after_s == 2
    assert parse_fault_spec(schedule.to_spec()) == schedule
    for bad, message in [
        ("nope:0.1", "unknown fault or setting 'nope'"),
        ("nope", "unknown fault 'nope'"),
        ("rate_limited:x", "rate_limited: expected a probability"),
        ("rate_limited:1.5", "must be in [0, 1]"),
        ("rate_limited:0.7,http_500:0.4", "add up to 1.1, more than 1"),
        ("rate_limited:0.1,rate_limited:0.2", "given more than once"),
        ("ok,http_500:0.1", "not both"),
        ("stall:0.1,stall_length=3", "stall_length: invalid duration"),
        ("stall:0.1,after_tokens=0", "after_tokens must be >= 1"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)) as info:
            parse_fault_spec(bad)
        assert "\n" not in str(info.value)


def test_decisions_are_reproducible_from_the_seed_in_arrival_order() -> None:
    plan = parse_fault_spec("rate_limited:0.2,http_500:0.1,empty:0.1,seed=11")

    def decisions(p: FaultPlan) -> list[str]:
        injector = FaultInjector(p)
        return [injector.choose() for _ in range(5000)]

    first = decisions(plan)
    assert first == decisions(plan)
    assert first != decisions(FaultPlan(probabilities=plan.probabilities, seed=12))
    share = {name: first.count(name) / len(first) for name in ("rate_limited", "http_500", OK)}
    assert abs(share["rate_limited"] - 0.2) < 0.02
    assert abs(share["http_500"] - 0.1) < 0.015
    assert abs(share[OK] - 0.6) < 0.025
    # a schedule repeats in arrival order
    injector = FaultInjector(parse_fault_spec("ok,rate_limited,empty"))
    assert [injector.choose() for _ in range(7)] == [
        "ok", "rate_limited", "empty", "ok", "rate_limited", "empty", "ok",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "nope=0.1"], "unknown fault or setting 'nope'"),
        (["--fault", "rate_limited"], "--fault: expected NAME=P, got 'rate_limited'"),
        (["--fault-schedule", "ok,stall:0.5"], "--fault-schedule: expected names"),
        (["--fault-seed", "3"], "--fault-… settings need faults"),
        (["--fault", "stall=0.1", "--fault-stall-length", "3"], "stall_length: invalid"),
        (["--fault", "stall=1", "--fault-schedule", "ok"], "not both"),
    ],
)
def test_bad_fault_options_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.mock", "--port", "0", *args],
        capture_output=True, text=True, timeout=30, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert result.stdout == ""


# -- one fault at probability 1, one request ------------------------------------------------


@pytest.mark.parametrize("name", list(FAULTS))
def test_stream_request_under_each_fault_gets_the_mapped_result(name: str) -> None:
    fault = FAULTS[name]
    with run_mock(*PROFILE, *KNOBS, "--fault", f"{name}=1") as mock:
        record = send(mock.url, Mode.STREAM)
        stats = mock.stats()
    check(record, fault, Mode.STREAM)
    assert stats["injected"] == {name: 1}
    assert stats["injected_by_mode"] == {"stream": {name: 1}, "batch": {}}
    if name == "rate_limited":
        assert record.retry_after_s == 1.0
    if name == "keepalive":
        assert record.anomalies is not None
        assert record.anomalies.get("comment") == 3
    if name in ("crlf", "utf8_split"):
        assert not record.anomalies or set(record.anomalies) <= {"burst_delivery"}
    if name == "slow_headers":
        assert record.ttfb_s is not None
        assert record.ttfb_s >= 0.3
        assert record.ttft_s is not None
        assert record.ttft_s >= 0.34


@pytest.mark.parametrize("name", BATCH_FAULTS)
def test_batch_request_under_each_fault_gets_the_mapped_result(name: str) -> None:
    fault = FAULTS[name]
    with run_mock(*PROFILE, *KNOBS, "--fault", f"{name}=1") as mock:
        record = send(mock.url, Mode.BATCH)
        stats = mock.stats()
    check(record, fault, Mode.BATCH)
    assert stats["injected_by_mode"] == {"stream": {}, "batch": {name: 1}}
    if name == "slow_headers":
        assert record.e2e_s is not None
        assert record.e2e_s >= 0.3 + 0.04 + (TOKENS - 1) * 0.01


def test_the_harness_deadlines_decide_whether_slow_headers_and_stalls_fail() -> None:
    """docs/faults.md: `slow_headers` is ok below the header timeout and `header_timeout`
    above it; `stall` is `stall_timeout` only when the stall outlasts the stall timeout."""
    with run_mock(*PROFILE, *KNOBS, "--fault-schedule", "slow_headers,stall") as mock:
        client = LLMClient(
            target=Target.parse(mock.url),
            timeouts=Timeouts(header_s=0.1, ttft_s=3.0, stall_s=2.0, total_s=5.0),
        )
        try:
            records = []
            for _ in range(2):
                record = client.new_record(Mode.STREAM, "m")
                client.send(record, client.protocol.build_body(model="m", prompt="hi", stream=True))
                records.append(record)
        finally:
            client.close()
    slow, stalled = records
    assert (slow.outcome, slow.error_class) == (Outcome.FAILED, ErrorClass.HEADER_TIMEOUT)
    assert stalled.outcome is Outcome.OK, (stalled.outcome, stalled.error_class)
    assert stalled.chunk_count == TOKENS
    assert max(stalled.inter_chunk_gaps()) >= 1.0  # the whole stall, in the ITL figures


def test_stream_only_faults_leave_batch_requests_alone_and_uncounted() -> None:
    schedule = ",".join(STREAM_ONLY)
    with run_mock(*PROFILE, *KNOBS, "--fault-schedule", schedule) as mock:
        records = [send(mock.url, Mode.BATCH) for _ in STREAM_ONLY]
        stats = mock.stats()
    assert [r.outcome for r in records] == [Outcome.OK] * len(STREAM_ONLY)
    assert stats["injected"] == {}


def test_legacy_completions_streams_get_the_same_results() -> None:
    """`/v1/completions` chunks have another shape; every fault must map the same way."""
    names = list(FAULTS)
    with run_mock(*PROFILE, *KNOBS, "--fault-schedule", ",".join(names)) as mock:
        records = {name: send(mock.url, Mode.STREAM, chat=False) for name in names}
        stats = mock.stats()
    for name, record in records.items():
        check(record, FAULTS[name], Mode.STREAM)
    assert stats["injected"] == dict.fromkeys(sorted(names), 1)
    assert stats["requests"] == {"/v1/completions": {"stream": len(names)}}


def test_schedule_injections_are_logged_one_json_line_each(tmp_path: Path) -> None:
    log = tmp_path / "faults.jsonl"
    args = ("--fault-schedule", "ok,rate_limited,empty", "--fault-log", str(log))
    with run_mock(*PROFILE, *args) as mock:
        records = [send(mock.url, Mode.STREAM) for _ in range(4)]
        stats = mock.stats()
    assert [(r.outcome, r.error_class) for r in records] == [
        (Outcome.OK, None),
        (Outcome.FAILED, ErrorClass.RATE_LIMITED),
        (Outcome.EMPTY, None),
        (Outcome.OK, None),
    ]
    assert stats["injected"] == {"empty": 1, "rate_limited": 1}
    assert stats["fault_plan"].startswith("ok,rate_limited,empty,seed=0,")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["request"], e["fault"], e["mode"], e["expected"]) for e in lines] == [
        (1, "rate_limited", "stream", "rate_limited"),
        (2, "empty", "stream", "empty"),
    ]
    assert {e["endpoint"] for e in lines} == {"/v1/chat/completions"}


def test_same_seed_same_request_order_same_injections() -> None:
    args = ("--ttft", "5ms", "--itl", "1ms", "--tokens", "2")
    faults = ("--faults", "rate_limited:0.3,http_500:0.3,empty:0.2", "--fault-seed", "5")

    def run(*extra: str) -> list[tuple[str, str | None]]:
        with run_mock(*args, *faults, *extra) as mock:
            records = [send(mock.url, Mode.STREAM) for _ in range(16)]
        return [(str(r.outcome), r.error_class and str(r.error_class)) for r in records]

    first = run()
    assert first == run()
    assert len(set(first)) == 4  # ok, rate_limited, http_5xx and empty all occurred
    assert first != run("--fault-seed", "6")


def test_stats_reset_zeroes_the_injected_counts() -> None:
    with run_mock(*PROFILE, "--fault", "http_503=1") as mock:
        send(mock.url, Mode.STREAM)
        request = urllib.request.Request(mock.origin + "/mock/stats", method="DELETE")
        with urllib.request.urlopen(request, timeout=5) as reply:
            before: dict[str, Any] = json.load(reply)
        after = mock.stats()
    assert before["injected"] == {"http_503": 1}
    assert after["injected"] == {}


# -- opt-in retries against a real Locust run ------------------------------------------------


@pytest.mark.slow
def test_opt_in_retries_after_rate_limiting_end_every_request_ok(tmp_path: Path) -> None:
    """`--fault-schedule rate_limited,ok` with Retry-After 1 and `--llm-retries 2`: one user
    sends requests one after another, so every request's first attempt is rate limited and
    its retry succeeds; the summary counts the attempts, the mock saw every one."""
    out = tmp_path / "report"
    faults = ("--fault-schedule", "rate_limited,ok", "--fault-retry-after", "1")
    with run_mock(*PROFILE, *faults) as mock:
        result = subprocess.run(
            [
                sys.executable, "-m", "locust", "-f", str(ROOT / "harness" / "locustfile.py"),
                "--headless", "--host", mock.url, "-u", "1", "-r", "1", "-t", "4s",
                "--stop-timeout", "10", "--exit-code-on-error", "0", "--only-summary",
                "--llm-retries", "2", "--llm-out", str(out), "--json-file",
                str(tmp_path / "locust"), "StreamingUser",
            ],
            capture_output=True, text=True, timeout=90, cwd=ROOT, check=False,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        stats = mock.stats()
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    stream = summary["modes"]["stream"]
    requests = stream["requests"]
    assert requests >= 2
    assert stream["outcomes"] == {"ok": requests}
    assert stream["errors"] == {}
    assert stream["attempts"] == 2 * requests > requests
    # the mock saw attempts = requests + retried
    assert stats["requests"] == {"/v1/chat/completions": {"stream": 2 * requests}}
    assert stats["injected"] == {"rate_limited": requests}
    # a retried request is timed from its first attempt: it includes the Retry-After wait
    assert stream["e2e_s"]["p50"] >= 1.0
    rows = {row["name"]: row for row in json.loads((tmp_path / "locust.json").read_text())}
    assert rows["stream e2e"]["num_requests"] == requests
    assert rows["stream e2e"]["num_failures"] == 0

"""Several targets in one run, checked at each server: real Locust runs against real mocks whose
true timings are known, and whose `/mock/stats` `received` lists what each request sent.

- two mocks with different profiles (TTFT 100 ms and 300 ms): each target's figures match its
  own profile, each mock received exactly its target's requests, and both received the same
  prompts in the same order (closed loop and open loop);
- a third target whose every request fails leaves the other two measured;
- a target that cannot be reached stops the run before anything is sent, named;
- a mock behind a proxy adding a known 30 ms: the gateway overhead reads 30 ms.

Runs are short (≤ 8 s) with few users: the machine has 2 shared cores.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from harness.report.records import read_lines
from tests.conftest import ROOT, MockProcess, free_port, locust_llm, run_mock
from tests.delay_proxy import delay_proxy

pytestmark = pytest.mark.slow

PROFILE = ("--itl", "10ms", "--tokens", "16")


@pytest.fixture(scope="module")
def mocks() -> Iterator[dict[str, MockProcess]]:
    """Three mocks: fast (TTFT 100 ms), slow (TTFT 300 ms), broken (every request a 500)."""
    with ExitStack() as stack:
        yield {
            "fast": stack.enter_context(run_mock("--ttft", "100ms", *PROFILE)),
            "slow": stack.enter_context(run_mock("--ttft", "300ms", *PROFILE)),
            "broken": stack.enter_context(run_mock("--faults", "http_500:1", *PROFILE)),
        }


def run_targets(tmp_path: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    result = locust_llm("run", *args, "--headless", "--out", "report", cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr[-3000:]
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    return result, summary


def received_by_mode(mock: MockProcess) -> dict[str, list[str]]:
    """The last user message of every request the mock received, per mode, in order."""
    out: dict[str, list[str]] = {"stream": [], "batch": []}
    for entry in mock.stats()["received"]:
        out[entry["mode"]].append(entry["last_user"])
    return out


def served(mock: MockProcess) -> dict[str, int]:
    counts: dict[str, int] = mock.stats()["requests"].get("/v1/chat/completions", {})
    return counts


def sent(summary: dict[str, Any], target: str, mode: str) -> int:
    """Requests of `target` in `mode` that reached the server (cancelled ones included: they
    were sent and were in flight when the run stopped)."""
    block = summary["targets"][target]["modes"][mode]
    requests: int = block["requests"]
    return requests


def p50(summary: dict[str, Any], target: str, mode: str, figure: str) -> float:
    value: float = summary["targets"][target]["modes"][mode][figure]["p50"]
    return value


def one_is_a_prefix_of_the_other(a: list[str], b: list[str]) -> bool:
    n = min(len(a), len(b))
    return n > 0 and a[:n] == b[:n]


def test_two_targets_are_each_measured_as_their_own_profile_with_the_same_prompts(
    tmp_path: Path, mocks: dict[str, MockProcess]
) -> None:
    for mock in mocks.values():
        mock.reset_stats()
    fast, slow = mocks["fast"], mocks["slow"]
    _, summary = run_targets(
        tmp_path,
        *("--target", f"fast={fast.url}", "--target", f"slow={slow.url}"),
        *("--users", "4", "--run-time", "6s"),
    )
    assert list(summary["targets"]) == ["fast", "slow"]
    assert summary["targets"]["fast"]["host"] == fast.url
    # each target's figures are its own server's profile
    assert p50(summary, "fast", "stream", "ttft_s") == pytest.approx(0.100, abs=0.012)
    assert p50(summary, "slow", "stream", "ttft_s") == pytest.approx(0.300, abs=0.012)
    # batch: TTFT + 15 gaps of 10 ms, nothing before the end
    assert p50(summary, "fast", "batch", "first_visible_s") == pytest.approx(0.250, abs=0.02)
    assert p50(summary, "slow", "batch", "first_visible_s") == pytest.approx(0.450, abs=0.02)
    for target in ("fast", "slow"):
        assert p50(summary, target, "stream", "itl_s") == pytest.approx(0.010, abs=0.002)
    # `modes` keeps the first target's figures, for readers of one target's summary
    assert (
        summary["modes"]["stream"]["ttft_s"]
        == summary["targets"]["fast"]["modes"]["stream"]["ttft_s"]
    )
    # each mock received exactly its target's requests; the broken one none
    for name in ("fast", "slow"):
        counts = served(mocks[name])
        for mode in ("stream", "batch"):
            assert counts.get(mode, 0) == sent(summary, name, mode) > 0
    assert served(mocks["broken"]) == {}
    # the per-request records name each request's target
    lines = list(read_lines(tmp_path / "report" / "requests.jsonl.gz"))
    for name in ("fast", "slow"):
        for mode in ("stream", "batch"):
            mine = [x for x in lines if x["target"] == name and x["mode"] == mode]
            assert len(mine) == sent(summary, name, mode)
    # the fast target served more; both got the same prompts in the same order
    assert sent(summary, "fast", "stream") > sent(summary, "slow", "stream")
    got_fast, got_slow = received_by_mode(fast), received_by_mode(slow)
    for mode in ("stream", "batch"):
        assert one_is_a_prefix_of_the_other(got_fast[mode], got_slow[mode]), mode
        assert len(set(got_fast[mode])) > 1  # not one prompt over and over


def test_an_open_loop_schedule_is_sent_to_every_target_at_once(
    tmp_path: Path, mocks: dict[str, MockProcess]
) -> None:
    for mock in mocks.values():
        mock.reset_stats()
    fast, slow = mocks["fast"], mocks["slow"]
    _, summary = run_targets(
        tmp_path,
        *("--target", f"fast={fast.url}", "--target", f"slow={slow.url}"),
        *("--rate", "4", "--max-in-flight", "16", "--run-time", "5s"),
    )
    load = summary["run"]["load"]
    assert load["sent"] == load["scheduled"] > 0
    lanes = load["by_mode"]
    for mode in ("stream", "batch"):
        # every arrival of the schedule went to both targets
        assert lanes[f"{mode}@fast"]["sent"] == lanes[f"{mode}@slow"]["sent"]
        assert sent(summary, "fast", mode) == lanes[f"{mode}@fast"]["sent"]
    # offered: the schedule's 4/s to each of the two targets
    assert load["offered_rate_per_s"] == pytest.approx(8.0)
    got_fast, got_slow = received_by_mode(fast), received_by_mode(slow)
    for mode in ("stream", "batch"):
        assert got_fast[mode] == got_slow[mode], mode
    assert p50(summary, "slow", "stream", "ttft_s") == pytest.approx(0.300, abs=0.012)


def test_a_failing_target_leaves_the_others_measured(
    tmp_path: Path, mocks: dict[str, MockProcess]
) -> None:
    for mock in mocks.values():
        mock.reset_stats()
    _, summary = run_targets(
        tmp_path,
        *("--target", f"fast={mocks['fast'].url}", "--target", f"slow={mocks['slow'].url}"),
        *("--target", f"broken={mocks['broken'].url}"),
        *("--users", "6", "--run-time", "6s"),
    )
    broken = summary["targets"]["broken"]["modes"]
    for mode in ("stream", "batch"):
        assert broken[mode]["requests"] > 0
        assert set(broken[mode]["errors"]) == {"http_5xx"}
        assert broken[mode]["errors"]["http_5xx"] == broken[mode]["outcomes"]["failed"]
    for name, ttft in (("fast", 0.100), ("slow", 0.300)):
        modes = summary["targets"][name]["modes"]
        assert modes["stream"]["errors"] == {}
        assert modes["batch"]["errors"] == {}
        assert p50(summary, name, "stream", "ttft_s") == pytest.approx(ttft, abs=0.012)


def test_a_target_that_cannot_be_reached_stops_the_run_and_is_named(
    tmp_path: Path, mocks: dict[str, MockProcess]
) -> None:
    mocks["fast"].reset_stats()
    down = f"http://127.0.0.1:{free_port()}/v1"
    result = locust_llm(
        "run",
        *("--target", f"fast={mocks['fast'].url}", "--target", f"down={down}"),
        *("--users", "2", "--run-time", "5s", "--headless", "--llm-preflight-wait", "0"),
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert errors, result.stderr[-2000:]
    assert "target down" in errors[0], result.stderr[-2000:]
    assert served(mocks["fast"]) == {}  # nothing was sent to any target


def test_the_overhead_of_a_gateway_that_adds_30_ms_reads_30_ms(tmp_path: Path) -> None:
    with run_mock("--ttft", "100ms", *PROFILE) as mock:
        port = int(mock.origin.rsplit(":", 1)[1])
        with delay_proxy(port, 0.030) as proxy:
            (tmp_path / "scenario.yaml").write_text(
                "targets:\n"
                f"  - {{name: direct, base_url: {mock.url}}}\n"
                f"  - {{name: gateway, base_url: http://127.0.0.1:{proxy.port}/v1, via: direct}}\n"
                "load: {users: 4, run_time: 6s}\n",
                encoding="utf-8",
            )
            _, summary = run_targets(tmp_path, "scenario.yaml")
        truth = statistics.median(proxy.delays)
    assert truth == pytest.approx(0.030, abs=0.001)  # the proxy held each request 30 ms
    overhead = {entry["mode"]: entry for entry in summary["gateway_overhead"]}
    assert set(overhead) == {"stream", "batch"}
    assert (overhead["stream"]["target"], overhead["stream"]["via"]) == ("gateway", "direct")
    stream = overhead["stream"]["figures"]
    for figure in ("ttft_s", "ttfb_s", "e2e_s", "first_visible_s"):
        value = stream[figure]["value_s"]
        assert value == pytest.approx(0.030, abs=0.002), figure
        lo, hi = stream[figure]["ci95"]
        assert lo <= value <= hi
    # the proxy holds requests, not tokens: the gaps between tokens do not change
    assert stream["itl_s"]["percentile"] == "p99"
    assert abs(stream["itl_s"]["value_s"]) < 0.003
    batch = overhead["batch"]["figures"]
    assert batch["e2e_s"]["value_s"] == pytest.approx(0.030, abs=0.002)


def test_master_and_workers_split_every_target_alike(
    tmp_path: Path, mocks: dict[str, MockProcess]
) -> None:
    """Distributed: every process makes the same per-target classes from the same settings,
    and the master sends each lane's arrivals where that lane has users."""
    for mock in mocks.values():
        mock.reset_stats()
    fast, slow = mocks["fast"], mocks["slow"]
    targets = f"fast={fast.url},slow={slow.url}"
    locust = [sys.executable, "-m", "locust", "-f", str(ROOT / "harness" / "locustfile.py")]
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    workers = [
        subprocess.Popen(
            [*locust, "--worker", "--master-port", str(port), "--llm-targets", targets],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tmp_path,
            env=environ,
        )
        for _ in range(2)
    ]
    try:
        master = subprocess.run(
            [
                *locust, "--master", "--master-bind-host", "127.0.0.1",
                "--master-bind-port", str(port), "--expect-workers", "2", "--headless",
                "-u", "16", "-r", "16", "-t", "6s", "--llm-rate", "4",
                "--llm-targets", targets, "--llm-out", str(tmp_path / "report"),
                "--exit-code-on-error", "0", "--only-summary", "--stop-timeout", "5",
            ],
            capture_output=True, text=True, timeout=120, cwd=tmp_path, env=environ,
        )  # fmt: skip
    finally:
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
    assert master.returncode == 0, master.stderr[-3000:]
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    lanes = summary["run"]["load"]["by_mode"]
    assert summary["run"]["load"]["processes"] == 2
    for mode in ("stream", "batch"):
        assert lanes[f"{mode}@fast"]["sent"] == lanes[f"{mode}@slow"]["sent"] > 0
        for name in ("fast", "slow"):
            assert served(mocks[name]).get(mode, 0) == sent(summary, name, mode)
    assert p50(summary, "slow", "stream", "ttft_s") == pytest.approx(0.300, abs=0.012)


def test_a_workload_sends_every_target_the_same_texts_sized_once(
    tmp_path: Path, mocks: dict[str, MockProcess]
) -> None:
    """Synthetic lengths are calibrated once, against the first target (its two probes), and
    every target then gets the same texts: each target's report shows the lengths it served."""
    for mock in mocks.values():
        mock.reset_stats()
    fast, slow = mocks["fast"], mocks["slow"]
    (tmp_path / "scenario.yaml").write_text(
        "targets:\n"
        f"  - {{name: fast, base_url: {fast.url}}}\n"
        f"  - {{name: slow, base_url: {slow.url}}}\n"
        "prompts:\n"
        "  synthetic: {input_tokens: {dist: uniform, min: 40, max: 80}, output_tokens: 6}\n"
        "  force_output: ignore_eos\n"
        "load: {users: 4, run_time: 5s}\n",
        encoding="utf-8",
    )
    _, summary = run_targets(tmp_path, "scenario.yaml")
    probes = [e for e in fast.stats()["received"] if e["max_tokens"] == 1]
    assert len(probes) == 2  # the calibration, once, on the first target
    assert all(e["max_tokens"] == 6 for e in slow.stats()["received"])
    for name in ("fast", "slow"):
        lengths = summary["targets"][name]["modes"]["stream"]["workload"]["lengths"]
        requested, served_in = lengths["input"]["requested"], lengths["input"]["served"]
        assert served_in["mean"] == pytest.approx(requested["mean"], rel=0.05), name
        assert lengths["output"]["served"]["min"] == lengths["output"]["served"]["max"] == 6
    texts_fast = [e["last_user"] for e in fast.stats()["received"] if e["max_tokens"] == 6]
    texts_slow = [e["last_user"] for e in slow.stats()["received"]]
    assert set(texts_slow) <= set(texts_fast)
    assert "workload_warnings" not in summary["run"]

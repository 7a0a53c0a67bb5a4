"""`mix: paired` as a user runs it: each prompt in both modes at the same due time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import locust_llm

#: the mock: TTFT 100 ms, then 19 tokens 10 ms apart: batch shows its answer 190 ms later
SCENARIO = """\
mock: {ttft: 100ms, itl: 10ms, tokens: 20}
mix: paired
load: {rate: 8/s, arrival: constant, run_time: 6s, max_in_flight: 32}
"""


@pytest.mark.slow
def test_paired_requests_compare_each_prompt_in_both_modes(tmp_path: Path) -> None:
    scenario = tmp_path / "paired.yaml"
    scenario.write_text(SCENARIO)
    done = locust_llm("run", str(scenario), "--headless", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "llm-report" / "summary.json").read_text())
    modes = summary["modes"]
    assert modes["stream"]["requests"] == modes["batch"]["requests"]
    paired = summary["paired"]
    sent = summary["run"]["load"]["sent"]
    assert paired["pairs"] + paired["unmatched"] == sent // 2
    assert paired["pairs"] >= 40  # 8/s for 6 s, less what was in flight at the stop
    assert paired["stream_first_share"] == 1.0
    # the mock's truth: 19 tokens × 10 ms after the first (a busy machine adds a little)
    assert paired["gain_s"]["p50"] == pytest.approx(0.19, abs=0.02)
    assert "Paired: streaming showed something first in 100% of" in done.stdout


def test_paired_without_a_rate_is_refused(tmp_path: Path) -> None:
    done = locust_llm(
        "run", "--host", "http://127.0.0.1:9/v1", "--mode", "paired", "--headless",
        "--llm-no-preflight", cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().endswith(
        "mix: paired sends each prompt in both modes at the same due time: it needs an "
        "arrival rate (--rate or load.rate)"
    )

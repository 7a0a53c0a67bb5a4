"""The open loop against a real llama.cpp `llama-server`: the schedule holds, every due request
is accounted for and counted by the server, pairs compare, and an overload is named.

llama-server (3 slots, Gemma 3 270M on the CPU) answers 16 tokens in well under a second; it
queues requests past its slots itself. Facts in docs/real-servers.md.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.real.conftest import LlamaServer, locust_llm_run, summary
from tests.real.test_llama_server import _delta

pytestmark = [pytest.mark.real, pytest.mark.slow]


def test_a_paired_open_loop_run_is_held_and_every_request_is_the_servers(
    llama_server_factory: Any, tmp_path: Path
) -> None:
    server: LlamaServer = llama_server_factory(slots=3)
    server.start()
    before = server.metrics()
    out = tmp_path / "out"
    result = locust_llm_run(
        "--host", server.url, "--headless", "--mode", "paired", "--rate", "1.5",
        "--arrival", "constant", "--max-in-flight", "8", "--run-time", "20s",
        "--max-tokens", "16", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    time.sleep(0.2)  # the server counts a request's tokens when it frees the slot
    delta = _delta(before, server.metrics())
    assert result.returncode == 0, result.stderr[-3000:]
    data = summary(out)
    load, modes = data["run"]["load"], data["modes"]
    assert load["kind"] == "open"
    # every due request went out: none dropped, none left waiting
    assert load["scheduled"] == load["sent"] + load["dropped"] + load["unsent_at_end"]
    assert load["unsent_at_end"] == 0
    assert load["achieved_rate_per_s"] == pytest.approx(3.0, rel=0.05)  # 1.5 pairs/s
    for mode, figures in modes.items():
        assert figures["errors"] == {}, (mode, figures["errors"])
        assert set(figures["outcomes"]) <= {"ok", "ok_length", "cancelled"}, figures["outcomes"]
    output = sum(figures["output_tokens"] for figures in modes.values())
    input_ = sum(figures["input_tokens"] for figures in modes.values())
    cancelled = sum(figures["outcomes"].get("cancelled", 0) for figures in modes.values())
    if cancelled == 0:  # a request cut by the stop is counted by the server, not by us
        assert output == delta["tokens_predicted_total"], (output, delta)
        assert input_ == delta["prompt_tokens_total"] + delta["prompt_tokens_cached_total"]
    paired = data["paired"]
    assert paired["pairs"] >= 20
    # both halves start together: streaming shows its first token before batch's whole answer
    assert paired["stream_first_share"] >= 0.8, paired
    assert paired["gain_s"]["p50"] > 0


def test_an_overloaded_real_server_shows_the_wait_and_names_the_in_flight_cap(
    llama_server_factory: Any, tmp_path: Path
) -> None:
    server: LlamaServer = llama_server_factory(slots=2)
    server.start()
    out = tmp_path / "out"
    result = locust_llm_run(
        "--host", server.url, "--headless", "--mode", "batch", "--rate", "20",
        "--arrival", "constant", "--max-in-flight", "2", "--run-time", "12s",
        "--max-tokens", "16", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = summary(out)
    load, batch = data["run"]["load"], data["modes"]["batch"]
    assert batch["errors"] == {}
    # two users at a time: the rest waited in the load generator, and the figures say so
    assert load["achieved_rate_per_s"] < 0.5 * load["offered_rate_per_s"]
    assert "the in-flight cap (2) was reached" in load["shortfall"]
    assert batch["from_schedule"]["e2e_s"]["p50"] > 2 * batch["e2e_s"]["p50"]
    assert "Warning: the offered rate was not achieved" in result.stdout

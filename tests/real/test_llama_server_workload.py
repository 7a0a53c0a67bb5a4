"""The workload against a real llama.cpp `llama-server`: lengths sized without a tokenizer
(calibrated against its own usage.prompt_tokens) arrive at the lengths asked for, `ignore_eos`
makes it answer exactly max_tokens, and conversations carry its own answers turn by turn.

Gemma 3 270M's tokenizer is not the mock's: the calibration is what makes the lengths right.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.real.conftest import LlamaServer, locust_llm_run, summary

pytestmark = [pytest.mark.real, pytest.mark.slow]


def test_calibrated_lengths_reach_a_real_tokenizer_as_asked(
    llama_server_factory: Any, tmp_path: Path
) -> None:
    server: LlamaServer = llama_server_factory(slots=3)
    server.start()
    scenario = tmp_path / "lengths.yaml"
    scenario.write_text(
        f"target: {{base_url: {server.url}}}\n"
        "prompts:\n"
        "  synthetic:\n"
        "    input_tokens: {dist: normal, mean: 300, stddev: 60, min: 150, max: 450}\n"
        "    output_tokens: 12\n"
        "  force_output: ignore_eos\n"
        "load: {users: 3, spawn_rate: 3, run_time: 12s}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = locust_llm_run(str(scenario), "--headless", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "lengths calibrated" in result.stderr
    data = summary(out)
    assert data["run"]["calibration"]["source"] == "server"
    assert "workload_warnings" not in data["run"], data["run"].get("workload_warnings")
    for mode, figures in data["modes"].items():
        assert figures["errors"] == {}, (mode, figures["errors"])
        lengths = figures["workload"]["lengths"]
        requested, served = lengths["input"]["requested"], lengths["input"]["served"]
        assert requested["count"] >= 5
        assert served["mean"] == pytest.approx(requested["mean"], rel=0.05), (mode, lengths)
        assert served["min"] >= 150 * 0.9
        assert served["max"] <= 450 * 1.1
        # ignore_eos: exactly the 12 tokens asked for, every time
        assert lengths["output"]["served"]["min"] == lengths["output"]["served"]["max"] == 12


def test_a_conversation_carries_the_servers_answers_and_grows_turn_by_turn(
    llama_server_factory: Any, tmp_path: Path
) -> None:
    server: LlamaServer = llama_server_factory(slots=2)
    server.start()
    dataset = ROOT / "examples" / "data" / "conversations.sharegpt.json"
    scenario = tmp_path / "conversations.yaml"
    scenario.write_text(
        f"target: {{base_url: {server.url}}}\n"
        f"prompts: {{sharegpt: {dataset}, turns: all, output_tokens: 12}}\n"
        "mix: {stream: 1, batch: 1}\n"
        "load: {users: 2, spawn_rate: 2, run_time: 15s}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = locust_llm_run(str(scenario), "--headless", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    data = summary(out)
    for mode, figures in data["modes"].items():
        assert figures["errors"] == {}, (mode, figures["errors"])
        by_turn = figures["workload"]["by_turn"]
        assert {"1", "2"} <= set(by_turn), by_turn
        # the history (the server's own answers included) makes each turn's prompt longer
        assert by_turn["2"]["input_tokens"]["mean"] > by_turn["1"]["input_tokens"]["mean"]

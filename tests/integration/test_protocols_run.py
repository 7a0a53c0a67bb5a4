"""A run per wire protocol against the mock, whose true timings are known: OpenAI chat,
Anthropic Messages and the OpenAI Responses API give the same figures for the same profile —
TTFT, ITL, tokens — and a reasoning profile's first text comes exactly its thinking time after
its first token; a tool-call profile's first tool-call delta comes at TTFT.

Runs are short (5 s, 4 users): the machine has 2 shared cores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MockProcess, locust_llm, run_mock

pytestmark = pytest.mark.slow

TTFT_S, ITL_S, TOKENS = 0.100, 0.010, 12
PROFILE = ("--ttft", "100ms", "--itl", "10ms", "--tokens", str(TOKENS))
PATHS = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "responses": "/v1/responses",
}


def run(mock: MockProcess, tmp_path: Path, protocol: str) -> dict[str, Any]:
    out = tmp_path / protocol
    result = locust_llm(
        "run", "--host", mock.url, "--protocol", protocol, "--headless", "--users", "4",
        "--run-time", "5s", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return summary


@pytest.mark.parametrize("protocol", ["openai", "anthropic", "responses"])
def test_each_protocol_reads_the_profile_the_mock_generated(tmp_path: Path, protocol: str) -> None:
    with run_mock(*PROFILE) as mock:
        summary = run(mock, tmp_path, protocol)
        served = mock.stats()["requests"][PATHS[protocol]]
    assert summary["run"]["protocol"] == protocol
    assert summary["run"]["endpoint"] == PATHS[protocol]
    stream, batch = summary["modes"]["stream"], summary["modes"]["batch"]
    for mode, figures in (("stream", stream), ("batch", batch)):
        assert figures["errors"] == {}, (mode, figures["errors"])
        assert figures["outcomes"].get("ok", 0) >= 3
        # every token the mock generated, counted from the protocol's own usage
        assert figures["output_tokens"] == TOKENS * figures["outcomes"]["ok"]
        assert figures["output_tokens_by_source"]["server"] == figures["output_tokens"]
        assert served[mode] == figures["requests"]
    assert stream["ttft_s"]["p50"] == pytest.approx(TTFT_S, abs=0.012)
    assert stream["ttfc_s"]["p50"] == pytest.approx(stream["ttft_s"]["p50"], abs=1e-4)
    assert stream["itl_s"]["p50"] == pytest.approx(ITL_S, abs=0.002)
    total = TTFT_S + (TOKENS - 1) * ITL_S
    assert batch["e2e_s"]["p50"] == pytest.approx(total, abs=0.02)
    assert "tool_call_s" not in stream
    assert "reasoning_tokens" not in stream


@pytest.mark.parametrize("protocol", ["openai", "anthropic", "responses"])
def test_a_reasoning_answer_shows_its_text_its_thinking_time_after_its_first_token(
    tmp_path: Path, protocol: str
) -> None:
    thinking = 6
    with run_mock(*PROFILE, "--reasoning-tokens", str(thinking)) as mock:
        summary = run(mock, tmp_path, protocol)
    stream = summary["modes"]["stream"]
    assert stream["errors"] == {}
    ttft, ttfc = stream["ttft_s"]["p50"], stream["ttfc_s"]["p50"]
    assert ttft == pytest.approx(TTFT_S, abs=0.012)
    # the first text comes after the thinking tokens, one ITL each
    assert ttfc - ttft == pytest.approx(thinking * ITL_S, abs=0.003)
    if protocol != "anthropic":  # Anthropic's usage does not count thinking apart
        assert stream["reasoning_tokens"] == thinking * stream["outcomes"]["ok"]
        assert stream["reasoning_share"] == pytest.approx(thinking / (thinking + TOKENS))


@pytest.mark.parametrize("protocol", ["openai", "anthropic", "responses"])
def test_a_tool_call_is_timed_from_its_first_delta(tmp_path: Path, protocol: str) -> None:
    with run_mock(*PROFILE, "--tool-call") as mock:
        summary = run(mock, tmp_path, protocol)
    stream, batch = summary["modes"]["stream"], summary["modes"]["batch"]
    assert stream["errors"] == {}
    assert batch["errors"] == {}
    assert stream["tool_call_s"]["p50"] == pytest.approx(TTFT_S, abs=0.012)
    assert stream["tool_call_s"]["p50"] == pytest.approx(stream["ttft_s"]["p50"], abs=1e-4)
    assert stream["tool_call_bytes"] > 0
    assert "ttfc_s" not in stream  # a tool call is no visible text


def test_force_output_with_a_protocol_that_has_no_such_parameter_is_refused(
    tmp_path: Path,
) -> None:
    (tmp_path / "scenario.yaml").write_text(
        "target: {base_url: http://127.0.0.1:9/v1, protocol: responses}\n"
        "prompts:\n  synthetic: {input_tokens: 50, output_tokens: 8}\n  force_output: ignore_eos\n",
        encoding="utf-8",
    )
    result = locust_llm("run", "scenario.yaml", "--headless", "--run-time", "2s", cwd=tmp_path)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("locust-llm: error: prompts.force_output: ignore_eos is a parameter")


def test_targets_with_different_protocols_are_compared_in_one_run(tmp_path: Path) -> None:
    """The same mock through two protocols, side by side: the same profile on both."""
    with run_mock(*PROFILE) as mock:
        (tmp_path / "scenario.yaml").write_text(
            "targets:\n"
            f"  - {{name: chat, base_url: {mock.url}}}\n"
            f"  - {{name: messages, base_url: {mock.url}, protocol: anthropic}}\n"
            "load: {users: 4, run_time: 5s}\n",
            encoding="utf-8",
        )
        result = locust_llm("run", "scenario.yaml", "--headless", "--out", "out", cwd=tmp_path)
        served = mock.stats()["requests"]
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    chat, messages = summary["targets"]["chat"], summary["targets"]["messages"]
    assert (chat["protocol"], messages["protocol"]) == ("openai", "anthropic")
    assert (chat["endpoint"], messages["endpoint"]) == (PATHS["openai"], PATHS["anthropic"])
    for name, entry in (("chat", chat), ("messages", messages)):
        stream = entry["modes"]["stream"]
        assert stream["ttft_s"]["p50"] == pytest.approx(TTFT_S, abs=0.012), name
        assert stream["output_tokens"] == TOKENS * stream["outcomes"]["ok"], name
        path = PATHS[entry["protocol"]]
        assert served[path]["stream"] == stream["requests"], name

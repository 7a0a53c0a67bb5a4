"""Anthropic Messages through a real LiteLLM proxy: LiteLLM's `/v1/messages` in front of our
mock's chat completions (`LITELLM_USE_CHAT_COMPLETIONS_URL_FOR_ANTHROPIC_MESSAGES=True`), the
harness speaking Anthropic to it. The mock's profile is the truth: TTFT, ITL and the tokens it
generated must read through the translation (plus the proxy's own time, which is small next to
a 150 ms TTFT)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_mock
from tests.real.conftest import locust_llm_run, manifest, run_litellm, summary

pytestmark = [pytest.mark.real, pytest.mark.slow]

TTFT_S, ITL_S, TOKENS = 0.150, 0.010, 12


def test_anthropic_messages_through_litellm_read_the_mocks_profile(tmp_path: Path) -> None:
    manifest()
    profile = ("--ttft", f"{TTFT_S * 1000:g}ms", "--itl", f"{ITL_S * 1000:g}ms")
    with run_mock(*profile, "--tokens", str(TOKENS)) as mock:
        env = {"LITELLM_USE_CHAT_COMPLETIONS_URL_FOR_ANTHROPIC_MESSAGES": "True"}
        with run_litellm({"claude-mock": mock.url}, tmp_path / "litellm", env_extra=env) as proxy:
            out = tmp_path / "out"
            result = locust_llm_run(
                "--host", proxy.url, "--protocol", "anthropic", "--model", "claude-mock",
                "--headless", "--users", "4", "--run-time", "8s", "--max-tokens", "64",
                "--out", str(out), cwd=tmp_path, env={"OPENAI_API_KEY": proxy.key},
            )  # fmt: skip
        served = mock.stats()["requests"].get("/v1/chat/completions", {})
    assert result.returncode == 0, result.stderr[-3000:]
    assert proxy.key not in result.stderr
    data = summary(out)
    stream, batch = data["modes"]["stream"], data["modes"]["batch"]
    for figures in (stream, batch):
        assert figures["errors"] == {}, figures["errors"]
        assert figures["requests"] >= 5
    # the proxy turned every Messages request into one chat completion
    assert (
        served.get("stream", 0) + served.get("batch", 0)
        >= stream["requests"] + batch["requests"] - 4
    )
    # the mock's profile, read through the translation
    assert stream["ttft_s"]["p50"] == pytest.approx(TTFT_S, abs=0.060)
    assert stream["ttft_s"]["p50"] >= TTFT_S
    assert stream["output_tokens"] == TOKENS * stream["outcomes"]["ok"]
    assert stream["output_tokens_by_source"]["server"] == stream["output_tokens"]
    itl = stream.get("itl_s") or stream["inter_chunk_s"]
    assert itl["p50"] == pytest.approx(ITL_S, abs=0.004)

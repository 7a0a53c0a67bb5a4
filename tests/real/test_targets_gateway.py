"""Two targets against real servers: a real llama.cpp `llama-server` directly, and the same
server through a real LiteLLM proxy, in one run (`via`: the proxy is a gateway in front of it).

Both targets get the same prompts at the same moments from one load, so what differs is the
gateway: each is measured, llama-server's own token counter equals the tokens both targets
report, and the gateway's overhead is reported per figure with an interval.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.real.conftest import LlamaServer, locust_llm_run, run_litellm, summary

pytestmark = [pytest.mark.real, pytest.mark.slow]


def test_a_real_gateway_in_front_of_a_real_server_is_compared_with_it(
    llama_server_factory: Any, tmp_path: Path
) -> None:
    server: LlamaServer = llama_server_factory(slots=4)
    server.start()
    with run_litellm({"gemma": server.url}, tmp_path / "litellm") as proxy:
        scenario = tmp_path / "gateway.yaml"
        scenario.write_text(
            "targets:\n"
            f"  - {{name: llama, base_url: {server.url}}}\n"
            f"  - {{name: litellm, base_url: {proxy.url}, model: gemma,\n"
            "     api_key_env: LITELLM_KEY, via: llama}\n"
            "request: {max_tokens: 12}\n"
            "load: {users: 4, spawn_rate: 4, run_time: 14s}\n",
            encoding="utf-8",
        )
        before = server.metrics()
        out = tmp_path / "out"
        result = locust_llm_run(
            str(scenario),
            *("--headless", "--out", str(out)),
            cwd=tmp_path,
            env={"LITELLM_KEY": proxy.key},
        )
        after = server.metrics()
    assert result.returncode == 0, result.stderr[-3000:]
    assert proxy.key not in result.stderr
    data = summary(out)
    assert list(data["targets"]) == ["llama", "litellm"]
    assert data["targets"]["litellm"]["via"] == "llama"
    tokens = 0
    for name, target in data["targets"].items():
        for mode in ("stream", "batch"):
            figures = target["modes"][mode]
            assert figures["requests"] >= 3, (name, mode, figures["requests"])
            assert figures["errors"] == {}, (name, mode, figures["errors"])
            tokens += figures["output_tokens"] + figures["partial_output_tokens"]
    # the one server generated every token both targets counted (cancelled ones aside)
    generated = after["tokens_predicted_total"] - before["tokens_predicted_total"]
    assert generated >= tokens
    assert generated - tokens <= 4 * 12  # at most the in-flight requests cancelled at the end
    overhead = {e["mode"]: e for e in data["gateway_overhead"]}
    stream = overhead["stream"]
    assert (stream["target"], stream["via"]) == ("litellm", "llama")
    ttft = stream["figures"]["ttft_s"]
    lo, hi = ttft["ci95"]
    assert lo is not None
    assert hi is not None
    assert lo <= ttft["value_s"] <= hi
    # the proxy is one more hop and one more Python process on 2 busy cores: it adds time,
    # and not seconds of it
    assert 0 < ttft["value_s"] < 1.0

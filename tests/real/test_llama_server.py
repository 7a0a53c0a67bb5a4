"""Against a real llama.cpp `llama-server` (Gemma 3 270M on the CPU): what we count is what it
counted, what we time is what it timed, and a crash mid-run reads as a crash, not a storm.

Facts these tests rely on (checked by hand, docs/real-servers.md): llama-server closes the
connection after every streamed response; `/metrics` (with `--metrics`) counts generated tokens
in `llamacpp:tokens_predicted_total` and prompt tokens in two counters, processed
(`prompt_tokens_total`) and reused from its prompt cache (`prompt_tokens_cached_total`), whose
sum is the `usage.prompt_tokens` it reports; this GGUF has no chat template of its own, so the
model practically never stops before `max_tokens`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from harness.client import LLMClient, Target
from harness.errors import Mode, Outcome
from tests.integration.test_backoff import bound_per_user
from tests.real.conftest import LlamaServer, locust_llm_run, locust_llm_start, summary

pytestmark = [pytest.mark.real, pytest.mark.slow]

COUNTERS = ("tokens_predicted_total", "prompt_tokens_total", "prompt_tokens_cached_total")


def _delta(before: dict[str, float], after: dict[str, float]) -> dict[str, int]:
    return {name: round(after[name] - before[name]) for name in COUNTERS}


@pytest.mark.parametrize("users", [2, 6], ids=["users-below-slots", "users-above-slots"])
def test_a_normal_run_has_no_failure_and_its_tokens_are_the_servers(
    users: int, llama_server_factory: Any, tmp_path: Path
) -> None:
    """3 slots; 2 users (1 streaming, 1 batch) leave a slot free, 6 queue for slots. Zero
    failures, and our output and input token totals equal the deltas of the server's own
    counters over the run (nothing else talks to it) — read here, and read by the run itself
    from `--metrics-url` into summary.json's `server` block (docs/server-metrics.md)."""
    server: LlamaServer = llama_server_factory(slots=3)
    server.start()
    before = server.metrics()
    out = tmp_path / "out"
    result = locust_llm_run(
        "--host", server.url, "--headless", "--mode", "both", "--users", str(users),
        "--run-time", "20s", "--max-tokens", "32", "--out", str(out),
        "--metrics-url", server.origin + "/metrics", "--llm-metrics-interval", "1s", cwd=tmp_path,
    )  # fmt: skip
    time.sleep(0.2)  # the server counts a request's tokens when it frees the slot
    delta = _delta(before, server.metrics())
    assert result.returncode == 0, result.stderr[-3000:]
    assert "server metrics" not in result.stderr, result.stderr[-3000:]  # no scrape failed
    document = summary(out)
    modes = document["modes"]
    assert set(modes) == {"stream", "batch"}
    for mode, figures in modes.items():
        assert figures["requests"] >= 3, (mode, figures["requests"])
        assert figures["errors"] == {}, (mode, figures["errors"])
        assert set(figures["outcomes"]) <= {"ok", "ok_length"}, (mode, figures["outcomes"])
        assert figures["partial_output_tokens"] == 0
    output = sum(figures["output_tokens"] for figures in modes.values())
    input_ = sum(figures["input_tokens"] for figures in modes.values())
    assert output == delta["tokens_predicted_total"], (output, delta)
    assert input_ == delta["prompt_tokens_total"] + delta["prompt_tokens_cached_total"], (
        input_,
        delta,
    )
    # the run's own view of the server: the same deltas, exactly, and nothing to warn about
    view = document["server"]
    assert view["engine"] == "llama.cpp"
    assert view["url"] == server.origin + "/metrics"
    assert view["window"]["covers_run"] is True
    assert view["scrapes"]["failed"] == 0
    assert view["scrapes"]["ok"] >= 15, view["scrapes"]  # before, ~19 during, after
    assert view["counters"]["output_tokens"] == delta["tokens_predicted_total"] == output
    assert view["counters"]["input_tokens"] == input_
    assert view["client"] == {"output_tokens": output, "input_tokens": input_}
    assert "warnings" not in view, view["warnings"]
    assert view["histograms"] == {}  # llama.cpp publishes none
    # its requests in progress, sampled every second: at most the slots, at least one busy
    running = view["gauges"]["running"]
    assert 1 <= running["max"] <= 3, running
    # 6 users on 3 slots: requests wait for a slot (llama.cpp's deferred), and the report
    # says the server was the bottleneck; 2 users never wait
    waiting = view["gauges"]["waiting"]["max"]
    if users > 3:
        assert waiting >= 1, view["gauges"]["waiting"]
        assert view["saturation"]["sentence"].startswith("The server was saturated: requests "), (
            view.get("saturation")
        )
    else:
        assert waiting == 0, view["gauges"]["waiting"]
        assert "saturation" not in view, view["saturation"]
    # its decode time per token is our TPOT as the server times it (the first token free)
    tpot = modes["stream"]["tpot_s"]["mean"]
    assert 0.7 < view["per_token"]["decode_s"] / tpot < 1.3, (view["per_token"], tpot)


def test_tpot_per_request_is_the_servers_predicted_per_token_ms(
    llama_server_factory: Any,
) -> None:
    """llama.cpp's `timings.predicted_per_token_ms` is `predicted_ms / (predicted_n − 1)`, where
    `predicted_ms` runs from the sampling of the first generated token to that of the last
    (tools/server/server-common.h: "the first token is free"): the server-side twin of our
    TPOT, (t_last_token − t_first_token) / (output_tokens − 1), timed at arrival.

    Like for like only when the last token counted is the last token sent: a reply ending on
    the end-of-turn token counts that token in `predicted_n` and in the span, but never sends
    it. So every request here runs to `max_tokens` (`ignore_eos`, finish `length`), which the
    test checks. One token per event, so both divide by the same 31."""
    server: LlamaServer = llama_server_factory(slots=1)
    server.start()
    model = server.model_id()
    client = LLMClient(Target.parse(server.url))
    compared: list[tuple[float, float]] = []
    try:
        for _ in range(6):
            record = client.new_record(Mode.STREAM, model)
            body = client.protocol.build_body(
                model=model,
                prompt="Tell me a long story about a lighthouse keeper.",
                stream=True,
                params={"max_tokens": 32, "ignore_eos": True},
            )
            client.send(record, body)
            assert record.outcome is Outcome.OK_LENGTH, (record.outcome, record.error_class)
            assert record.finish_reason == "length"
            timings = record.server_timings
            assert timings is not None
            assert record.output_tokens == record.chunk_count == timings["predicted_n"] == 32
            assert record.tpot_s is not None
            compared.append((record.tpot_s * 1000, timings["predicted_per_token_ms"]))
    finally:
        client.close()
    for ours, theirs in compared:
        assert abs(ours - theirs) < 0.5, compared


def test_a_server_killed_and_restarted_mid_run_gives_the_right_classes_and_a_trickle(
    llama_server_factory: Any, tmp_path: Path
) -> None:
    """4 users for 30 s; llama-server is SIGKILLed at ~8 s and started again on the same port
    8 s later (it answers 503 while it loads the model, ~1–2 s).

    Failures are only: `connect_refused` (down), `http_5xx` (503 while loading), and, for the
    at most 4 requests in flight at the kill, `stream_reset` or `stream_truncated` (the
    kernel of a killed server sends a FIN, cutting a chunked body short: catalogue NET-11) —
    a batch request waiting for its headers sees the close as a reset. While down, the users
    back off: requests stay under the bound of tests/integration/test_backoff.py (default cap
    5 s), against thousands per second without back-off. After the restart requests succeed
    again: the new server generates tokens for us."""
    server: LlamaServer = llama_server_factory(slots=2)
    server.start()
    out = tmp_path / "out"
    run = locust_llm_start(
        "--host", server.url, "--headless", "--mode", "both", "--users", "4",
        "--run-time", "30s", "--max-tokens", "32", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    try:
        time.sleep(8)
        t_kill = time.perf_counter()
        server.kill()
        time.sleep(8)
        t_ready = server.start()
        _, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
        elif run.stderr is not None:
            run.stderr.close()
    down_s = t_ready - t_kill
    after_restart = server.metrics()["tokens_predicted_total"]
    assert run.returncode == 1, stderr[-3000:]  # the refused requests are failures
    assert "Traceback" not in stderr, stderr[-3000:]
    modes = summary(out)["modes"]
    errors: dict[str, int] = {}
    for figures in modes.values():
        for name, n in figures["errors"].items():
            errors[name] = errors.get(name, 0) + n
    assert set(errors) <= {"connect_refused", "http_5xx", "stream_reset", "stream_truncated"}, (
        errors
    )
    assert errors.get("connect_refused", 0) > 0, errors
    in_flight = errors.get("stream_reset", 0) + errors.get("stream_truncated", 0)
    assert in_flight <= 4, errors
    failed = sum(errors.values())
    bound = 4 * bound_per_user(down_s, cap_s=5.0) + in_flight
    assert failed <= bound, (failed, bound, down_s, errors)
    for mode, figures in modes.items():
        assert figures["backoff_s"] > 0, (mode, figures["backoff_s"])
        ok = figures["outcomes"].get("ok", 0) + figures["outcomes"].get("ok_length", 0)
        assert ok > 0, (mode, figures["outcomes"])
    # the new server generated for at least one 32-token request per user after the restart
    assert after_restart >= 4 * 32, after_restart

"""vLLM's engine metric families: names, ``# HELP`` texts, bucket bounds, as vLLM registers them.

Transcribed from vLLM's V1 engine (``PrometheusStatLogger`` in vllm/v1/metrics/loggers.py; the
bucket bounds of vllm/v1/metrics/buckets.py, vllm-project/vllm at
139b1c3f17720f4bb6865309f365e6b1f1607a45, the same lists loggers.py had inline before), for the
mock's ``GET /metrics`` (`harness.mock.engine_metrics`). Data only. Standard library only; like
the rest of the mock it must not import the harness.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COUNTERS",
    "ENGINE",
    "FINISH_REASONS",
    "GAUGES",
    "HISTOGRAMS",
    "MAX_MODEL_LEN",
    "TIME_PER_OUTPUT_TOKEN",
    "Family",
    "build_1_2_5_buckets",
]

ENGINE = "0"
"""The ``engine`` label: one engine core (vLLM's data-parallel index)."""

MAX_MODEL_LEN = 32768
"""What the token-count buckets go up to (vLLM: ``build_1_2_5_buckets(max_model_len)``); the
mock has no context length, this is a common one."""

REQUEST_LATENCY_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
    120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip
TIME_TO_FIRST_TOKEN_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
    10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
INTER_TOKEN_LATENCY_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0,
)  # fmt: skip


def build_1_2_5_buckets(max_value: int) -> tuple[float, ...]:
    """1, 2, 5, 10, 20, 50, … up to ``max_value`` (vLLM's token-count buckets).

    >>> build_1_2_5_buckets(100)
    (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
    """
    out: list[float] = []
    scale = 1
    while True:
        for mantissa in (1, 2, 5):
            if mantissa * scale > max_value:
                return tuple(out)
            out.append(float(mantissa * scale))
        scale *= 10


TOKEN_COUNT_BUCKETS = build_1_2_5_buckets(MAX_MODEL_LEN)


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family as vLLM registers it: ``name`` (a counter's without ``_total``),
    ``help`` (its ``documentation``, verbatim), and a histogram's ``bounds``."""

    name: str
    help: str
    bounds: tuple[float, ...] = ()


def _latency(name: str, phase: str) -> Family:
    return Family(
        name, f"Histogram of time spent in {phase} phase for request.", REQUEST_LATENCY_BUCKETS
    )


#: the histograms by their role here, in vLLM's order of registration
HISTOGRAMS: dict[str, Family] = {
    "prompt_tokens": Family(
        "vllm:request_prompt_tokens", "Number of prefill tokens processed.", TOKEN_COUNT_BUCKETS
    ),
    "generation_tokens": Family(
        "vllm:request_generation_tokens",
        "Number of generation tokens processed.",
        TOKEN_COUNT_BUCKETS,
    ),
    "ttft": Family(
        "vllm:time_to_first_token_seconds",
        "Histogram of time to first token in seconds.",
        TIME_TO_FIRST_TOKEN_BUCKETS,
    ),
    "itl": Family(
        "vllm:inter_token_latency_seconds",
        "Histogram of inter-token latency in seconds.",
        INTER_TOKEN_LATENCY_BUCKETS,
    ),
    "tpot": Family(
        "vllm:request_time_per_output_token_seconds",
        "Histogram of time_per_output_token_seconds per request.",
        INTER_TOKEN_LATENCY_BUCKETS,
    ),
    "e2e": Family(
        "vllm:e2e_request_latency_seconds",
        "Histogram of e2e request latency in seconds.",
        REQUEST_LATENCY_BUCKETS,
    ),
    "queue": _latency("vllm:request_queue_time_seconds", "WAITING"),
    "inference": _latency("vllm:request_inference_time_seconds", "RUNNING"),
    "prefill": _latency("vllm:request_prefill_time_seconds", "PREFILL"),
    "decode": _latency("vllm:request_decode_time_seconds", "DECODE"),
}
#: the ITL observations again, under the name vLLM had before 0.11 (registered before ITL)
TIME_PER_OUTPUT_TOKEN = Family(
    "vllm:time_per_output_token_seconds",
    "Histogram of time per output token in seconds."
    "DEPRECATED: Use vllm:inter_token_latency_seconds instead.",
    INTER_TOKEN_LATENCY_BUCKETS,
)
COUNTERS: dict[str, Family] = {
    "prompt_tokens": Family("vllm:prompt_tokens", "Number of prefill tokens processed."),
    "generation_tokens": Family("vllm:generation_tokens", "Number of generation tokens processed."),
    "success": Family("vllm:request_success", "Count of successfully processed requests."),
}
GAUGES: dict[str, Family] = {
    "running": Family(
        "vllm:num_requests_running", "Number of requests in model execution batches."
    ),
    "waiting": Family("vllm:num_requests_waiting", "Number of requests waiting to be processed."),
    "kv_cache": Family("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage."),
}
#: the ``finished_reason`` values of ``vllm:request_success_total`` the mock's answers end with
FINISH_REASONS = ("stop", "length")

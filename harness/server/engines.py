"""What each inference server publishes on its Prometheus endpoint, and which server it is.

An `Engine` maps the harness's roles (its TTFT histogram, its output-token counter, its
waiting requests …) to the sample names that server exposes, newest name first where a
server renamed one. `recognise()` picks the engine from the metric names of a scrape: the
first engine whose marker (``vllm:``, ``sglang:``, ``tgi_``, ``llamacpp:``, ``litellm_``)
starts a name. Names are those of the servers' own sources and docs (vLLM V1
``vllm/v1/metrics/loggers.py``, SGLang ``sglang/srt/metrics/collector.py``, TGI's router,
llama.cpp ``tools/server`` with ``--metrics``, LiteLLM ``integrations/prometheus.py``).

Pure: standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: the roles of a histogram, in the order the reports list them
#: (``ttfc`` is a first *chunk*, such as the empty role chunk a stream opens with: what a
#: gateway that times chunks, not tokens, calls its TTFT)
HISTOGRAM_ROLES = ("ttft", "ttfc", "queue", "prefill", "decode", "e2e", "tpot", "itl")
#: the roles of a counter (deltas over the run, next to the client's)
COUNTER_ROLES = ("output_tokens", "input_tokens", "requests")
#: the roles of a gauge (over time)
GAUGE_ROLES = ("running", "waiting", "kv_cache_usage")
#: the roles of a ratio of two counters' deltas (seconds per token)
PER_TOKEN_ROLES = ("prefill_s", "decode_s")
#: what `engine` is when no known server's names are there
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Engine:
    """One server's metric names by role.

    `histograms`: role → histogram family names (the first one present is used).
    `counters`: role → alternatives, each a tuple of sample names whose values add up
    (llama.cpp's prompt tokens are its processed plus its cached ones); a histogram's
    ``…_sum`` sample is a counter too (TGI counts tokens only as histograms).
    `gauges`: role → sample names (the first present). `per_token`: role → (seconds
    counter, tokens counter), whose deltas' ratio is seconds per token (llama.cpp has no
    histograms). `kv_is_percent`: the KV gauge reads 0–100 rather than 0–1.
    """

    name: str
    marker: str
    histograms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    counters: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    gauges: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    per_token: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def sample_names(self) -> frozenset[str]:
        """Every sample name this engine's roles read (a histogram's bucket, sum, count)."""
        names: set[str] = set()
        for families in self.histograms.values():
            for family in families:
                names.update((f"{family}_bucket", f"{family}_sum", f"{family}_count"))
        for alternatives in self.counters.values():
            for alternative in alternatives:
                names.update(alternative)
        for gauges in self.gauges.values():
            names.update(gauges)
        for seconds, tokens in self.per_token.values():
            names.update((seconds, tokens))
        return frozenset(names)


VLLM = Engine(
    "vllm",
    "vllm:",
    histograms={
        "ttft": ("vllm:time_to_first_token_seconds",),
        "queue": ("vllm:request_queue_time_seconds",),
        "prefill": ("vllm:request_prefill_time_seconds",),
        "decode": ("vllm:request_decode_time_seconds",),
        "e2e": ("vllm:e2e_request_latency_seconds",),
        "tpot": ("vllm:request_time_per_output_token_seconds",),
        "itl": ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
    },
    counters={
        "output_tokens": (("vllm:generation_tokens_total",),),
        "input_tokens": (("vllm:prompt_tokens_total",),),
        "requests": (("vllm:request_success_total",),),
    },
    gauges={
        "running": ("vllm:num_requests_running",),
        "waiting": ("vllm:num_requests_waiting",),
        "kv_cache_usage": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    },
)

SGLANG = Engine(
    "sglang",
    "sglang:",
    histograms={
        "ttft": ("sglang:time_to_first_token_seconds",),
        "queue": ("sglang:queue_time_seconds",),
        "e2e": ("sglang:e2e_request_latency_seconds",),
        "itl": ("sglang:inter_token_latency_seconds", "sglang:time_per_output_token_seconds"),
    },
    counters={
        "output_tokens": (("sglang:generation_tokens_total",),),
        "input_tokens": (("sglang:prompt_tokens_total",),),
        "requests": (("sglang:num_requests_total",),),
    },
    gauges={
        "running": ("sglang:num_running_reqs",),
        "waiting": ("sglang:num_queue_reqs",),
        "kv_cache_usage": ("sglang:token_usage",),
    },
)

TGI = Engine(
    "tgi",
    "tgi_",
    histograms={
        "queue": ("tgi_request_queue_duration",),
        "e2e": ("tgi_request_duration",),
        "tpot": ("tgi_request_mean_time_per_token_duration",),
    },
    counters={
        "output_tokens": (("tgi_request_generated_tokens_sum",),),
        "input_tokens": (("tgi_request_input_length_sum",),),
        "requests": (("tgi_request_success_total",), ("tgi_request_success",)),
    },
    gauges={
        "running": ("tgi_batch_current_size",),
        "waiting": ("tgi_queue_size",),
    },
)

LLAMA_CPP = Engine(
    "llama.cpp",
    "llamacpp:",
    counters={
        "output_tokens": (("llamacpp:tokens_predicted_total",),),
        "input_tokens": (
            ("llamacpp:prompt_tokens_total", "llamacpp:prompt_tokens_cached_total"),
            ("llamacpp:prompt_tokens_total",),
        ),
    },
    gauges={
        "running": ("llamacpp:requests_processing",),
        "waiting": ("llamacpp:requests_deferred",),
        "kv_cache_usage": ("llamacpp:kv_cache_usage_ratio",),
    },
    per_token={
        "prefill_s": ("llamacpp:prompt_seconds_total", "llamacpp:prompt_tokens_total"),
        "decode_s": ("llamacpp:tokens_predicted_seconds_total", "llamacpp:tokens_predicted_total"),
    },
)

LITELLM = Engine(
    "litellm",
    "litellm_",
    histograms={
        # what LiteLLM calls its TTFT is its upstream's first chunk, from after its own auth
        # (checked against a real proxy: the empty role chunk vLLM and our mock open a stream
        # with counts, and LiteLLM does not forward it), so it is a `ttfc`; its E2E is the
        # whole request through the gateway, its queue included
        "ttfc": ("litellm_llm_api_time_to_first_token_metric",),
        "queue": ("litellm_request_queue_time_seconds",),
        "e2e": ("litellm_request_total_latency_metric",),
    },
    counters={
        "output_tokens": (
            ("litellm_output_tokens_metric_total",),
            ("litellm_output_tokens_total",),
        ),
        "input_tokens": (("litellm_input_tokens_metric_total",), ("litellm_input_tokens_total",)),
        "requests": (
            ("litellm_proxy_total_requests_metric_total",),
            ("litellm_requests_metric_total",),
        ),
    },
    gauges={"running": ("litellm_in_flight_requests",)},
)

#: every engine the harness recognises, in the order `recognise` tries them
ENGINES: tuple[Engine, ...] = (VLLM, SGLANG, TGI, LLAMA_CPP, LITELLM)
ENGINE_BY_NAME: Mapping[str, Engine] = {e.name: e for e in ENGINES}


def recognise(names: Iterable[str]) -> Engine | None:
    """The engine whose names these are: the first of `ENGINES` whose marker starts one of
    them; None when none does (summary.json says ``"unknown"``)."""
    seen = tuple(names)
    for engine in ENGINES:
        if any(name.startswith(engine.marker) for name in seen):
            return engine
    return None

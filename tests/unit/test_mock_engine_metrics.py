"""The mock's vLLM-shaped ``/metrics``: valid exposition, vLLM's names and buckets, true figures.

The text is checked against ``prometheus_client`` (its parser reads it; its own writer, fed
the same observations, writes the same bytes) and against vLLM's lists, transcribed here from
vllm-project/vllm (vllm/v1/metrics/buckets.py at 139b1c3f, loggers.py's documentation
strings), not from the mock. The figures are checked from synthetic request timelines (every
time an argument: no clock, no server), and the token-wise shape the server gives every
reply, normal or faulty, against the bytes of that reply's schedule.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from harness.mock.completions import Endpoint, Generation, parse_generation, reply_length
from harness.mock.emitter import Payload
from harness.mock.engine_metrics import EngineMetrics
from harness.mock.faults import FAULTS, FaultInjector, FaultPlan
from harness.mock.personalities import PERSONALITIES
from harness.mock.profiles import LatencyProfile
from harness.mock.protocols import SHAPES
from harness.mock.server import MockServer
from harness.mock.token_writes import REFUSED, TokenWrites, batch_writes, stream_writes

# -- vLLM's side, transcribed -------------------------------------------------------------------

LATENCY = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
           120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]  # fmt: skip
TTFT = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
        10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]  # fmt: skip
ITL = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
       20.0, 40.0, 80.0]  # fmt: skip
TOKENS: list[float] = [
    1,
    2,
    5,
    10,
    20,
    50,
    100,
    200,
    500,
    1000,
    2000,
    5000,
    10000,
    20000,
]  # max_model_len 32768

#: (name, documentation, buckets) in vLLM's order of registration
VLLM_HISTOGRAMS: list[tuple[str, str, list[float]]] = [
    ("vllm:request_prompt_tokens", "Number of prefill tokens processed.", TOKENS),
    ("vllm:request_generation_tokens", "Number of generation tokens processed.", TOKENS),
    ("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT),
    (
        "vllm:time_per_output_token_seconds",
        "Histogram of time per output token in seconds."
        "DEPRECATED: Use vllm:inter_token_latency_seconds instead.",
        ITL,
    ),
    ("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", ITL),
    (
        "vllm:request_time_per_output_token_seconds",
        "Histogram of time_per_output_token_seconds per request.",
        ITL,
    ),
    ("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", LATENCY),
    (
        "vllm:request_queue_time_seconds",
        "Histogram of time spent in WAITING phase for request.",
        LATENCY,
    ),
    (
        "vllm:request_inference_time_seconds",
        "Histogram of time spent in RUNNING phase for request.",
        LATENCY,
    ),
    (
        "vllm:request_prefill_time_seconds",
        "Histogram of time spent in PREFILL phase for request.",
        LATENCY,
    ),
    (
        "vllm:request_decode_time_seconds",
        "Histogram of time spent in DECODE phase for request.",
        LATENCY,
    ),
]
VLLM_GAUGES = [
    ("vllm:num_requests_running", "Number of requests in model execution batches."),
    ("vllm:num_requests_waiting", "Number of requests waiting to be processed."),
    ("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage."),
]
VLLM_COUNTERS = [
    ("vllm:prompt_tokens", "Number of prefill tokens processed."),
    ("vllm:generation_tokens", "Number of generation tokens processed."),
]
VLLM_SUCCESS = ("vllm:request_success", "Count of successfully processed requests.")

MODEL = "mock-llm"


def families(metrics: EngineMetrics) -> dict[str, Metric]:
    return {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}


def value(metrics: EngineMetrics, sample: str, model: str = MODEL, **labels: str) -> float:
    """One sample's value in the rendered text, found by name and labels."""
    want = {"engine": "0", "model_name": model, **labels}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            if s.name == sample and s.labels == want:
                return float(s.value)
    raise AssertionError(f"no sample {sample} {want}")


def stream_request(
    metrics: EngineMetrics,
    written: Sequence[float],
    *,
    n: int,
    arrival: float = 0.0,
    slot: float = 0.0,
    finish: str | None = "stop",
    whole: bool = True,
    model: str = MODEL,
    prompt: int = 13,
) -> None:
    """A streamed request's life: the head, then ``n`` token writes, then the closing write
    (``written``: the times of the items written, fewer when it ended early)."""
    trace = metrics.begin(model, arrival, prompt)
    metrics.started(trace, slot)
    metrics.finished(trace, stream_writes(n, finish), written, whole=whole)


# -- the text -----------------------------------------------------------------------------------


def test_every_family_parses_with_its_type() -> None:
    parsed = {name: f.type for name, f in families(EngineMetrics(MODEL)).items()}
    expected = {name: "histogram" for name, _, _ in VLLM_HISTOGRAMS}
    expected |= {name: "gauge" for name, _ in VLLM_GAUGES}
    expected |= {name: "counter" for name, _ in [*VLLM_COUNTERS, VLLM_SUCCESS]}
    assert parsed == expected


@pytest.mark.parametrize(("name", "bounds"), [(n, b) for n, _, b in VLLM_HISTOGRAMS])
def test_bucket_bounds_are_vllms(name: str, bounds: list[float]) -> None:
    family = families(EngineMetrics(MODEL))[name]
    edges = [s.labels["le"] for s in family.samples if s.name == f"{name}_bucket"]
    assert edges == [repr(float(b)) for b in bounds] + ["+Inf"]


def test_text_is_byte_for_byte_what_prometheus_client_writes() -> None:
    """Fed the same observations, ``prometheus_client`` (as vLLM uses it) writes the same
    text, but for its ``_created`` samples: names, help, order, labels, escapes, floats."""
    odd = 'a "quoted" \\ model\nname'
    metrics = EngineMetrics(MODEL, slot_limit=4)
    head, tokens = 0.5, [0.6, 0.62, 0.6405, 0.66]
    stream_request(metrics, [head, *tokens, tokens[-1]], n=4, arrival=0.25, slot=0.5, prompt=13)
    stream_request(metrics, [1.0, 1.1], n=1, finish="length", arrival=1.0, slot=1.0, prompt=6)
    stream_request(metrics, [2.0, 2.1, 2.3, 2.3], n=2, arrival=2.0, slot=2.0, model=odd)
    running = metrics.begin(odd, 3.0, 5)
    metrics.started(running, 3.0)
    waiting = metrics.begin(odd, 3.0, 5)
    metrics.queued(waiting)

    registry = CollectorRegistry()
    labels = ["model_name", "engine"]
    gauges = {n: Gauge(n, d, labels, registry=registry) for n, d in VLLM_GAUGES}
    counters = {n: Counter(n, d, labels, registry=registry) for n, d in VLLM_COUNTERS}
    success = Counter(*VLLM_SUCCESS, [*labels, "finished_reason"], registry=registry)
    hist = {n: Histogram(n, d, labels, buckets=b, registry=registry) for n, d, b in VLLM_HISTOGRAMS}
    for model in sorted((MODEL, odd)):  # label sets in the mock's order: by model
        for reason in ("stop", "length"):
            success.labels(model, "0", reason)
        for family in [*gauges.values(), *counters.values(), *hist.values()]:
            family.labels(model, "0")
    gauges["vllm:num_requests_running"].labels(odd, "0").set(1)
    gauges["vllm:num_requests_waiting"].labels(odd, "0").set(1)
    gauges["vllm:kv_cache_usage_perc"].labels(odd, "0").set(0.25)

    def observe(model: str, arrival: float, slot: float, times: list[float], reason: str) -> None:
        h = {name: family.labels(model, "0") for name, family in hist.items()}
        n = len(times)
        h["vllm:time_to_first_token_seconds"].observe(times[0] - arrival)
        h["vllm:request_prefill_time_seconds"].observe(times[0] - slot)
        for a, b in itertools.pairwise(times):
            h["vllm:inter_token_latency_seconds"].observe(b - a)
            h["vllm:time_per_output_token_seconds"].observe(b - a)
        h["vllm:request_queue_time_seconds"].observe(slot - arrival)
        h["vllm:e2e_request_latency_seconds"].observe(times[-1] - arrival)
        h["vllm:request_decode_time_seconds"].observe(times[-1] - times[0])
        h["vllm:request_inference_time_seconds"].observe(times[-1] - slot)
        tpot = (times[-1] - times[0]) / (n - 1) if n > 1 else 0.0
        h["vllm:request_time_per_output_token_seconds"].observe(tpot)
        h["vllm:request_generation_tokens"].observe(n)
        counters["vllm:generation_tokens"].labels(model, "0").inc(n)
        success.labels(model, "0", reason).inc()

    observe(MODEL, 0.25, 0.5, tokens, "stop")
    observe(MODEL, 1.0, 1.0, [1.1], "length")
    observe(odd, 2.0, 2.0, [2.1, 2.3], "stop")
    for model, prompts in ((MODEL, [13, 6]), (odd, [13])):
        for p in prompts:
            hist["vllm:request_prompt_tokens"].labels(model, "0").observe(p)
        counters["vllm:prompt_tokens"].labels(model, "0").inc(sum(prompts))

    theirs = generate_latest(registry).decode().splitlines(keepends=True)
    # their families in our order (gauges, counters, histograms), without `_created`
    blocks: dict[str, list[str]] = {}
    current = ""
    for line in theirs:
        if line.startswith("# HELP "):
            current = line.split(" ")[2]
        if "_created" not in current:
            blocks.setdefault(current, []).append(line)
    order = [n for n, _ in VLLM_GAUGES]
    order += [f"{n}_total" for n, _ in [*VLLM_COUNTERS, VLLM_SUCCESS]]
    order += [n for n, _, _ in VLLM_HISTOGRAMS]
    assert metrics.render().decode() == "".join("".join(blocks[n]) for n in order)


def test_every_series_has_the_engine_and_the_model() -> None:
    metrics = EngineMetrics(MODEL)
    stream_request(metrics, [0.0, 0.1, 0.1], n=1, model="other-model")
    models = set()
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            assert s.labels["engine"] == "0", s
            models.add(s.labels["model_name"])
    assert models == {MODEL, "other-model"}


# -- where observations land --------------------------------------------------------------------


def buckets(metrics: EngineMetrics, name: str) -> dict[str, float]:
    family = families(metrics)[name]
    return {s.labels["le"]: s.value for s in family.samples if s.name.endswith("_bucket")}


def test_a_value_on_a_bound_is_in_that_bucket() -> None:
    metrics = EngineMetrics(MODEL)
    stream_request(metrics, [0.0, 0.1, 0.1], n=1)  # TTFT exactly 0.1: le is inclusive
    got = buckets(metrics, "vllm:time_to_first_token_seconds")
    assert (got["0.08"], got["0.1"], got["0.25"], got["+Inf"]) == (0.0, 1.0, 1.0, 1.0)


def test_buckets_are_cumulative_and_inf_is_the_count() -> None:
    metrics = EngineMetrics(MODEL)
    for ttft in (0.0005, 0.03, 0.03, 0.2, 3000.0):
        stream_request(metrics, [0.0, ttft, ttft], n=1)
    got = buckets(metrics, "vllm:time_to_first_token_seconds")
    assert (got["0.001"], got["0.04"], got["0.25"], got["2560.0"], got["+Inf"]) == (1, 3, 4, 4, 5)
    values = list(got.values())
    assert values == sorted(values)
    assert value(metrics, "vllm:time_to_first_token_seconds_count") == 5
    assert value(metrics, "vllm:time_to_first_token_seconds_sum") == pytest.approx(3000.2605)


# -- the figures of one request -----------------------------------------------------------------


def test_a_stream_is_timed_by_its_writes() -> None:
    metrics = EngineMetrics(MODEL)
    # arrival 1.0, slot 1.5, head at once, tokens at 1.6, 1.62, 1.65, closing with the last
    stream_request(metrics, [1.5, 1.6, 1.62, 1.65, 1.65], n=3, arrival=1.0, slot=1.5, prompt=7)
    sums = {
        role: value(metrics, f"vllm:{role}_sum")
        for role in (
            "time_to_first_token_seconds",
            "request_queue_time_seconds",
            "request_prefill_time_seconds",
            "request_decode_time_seconds",
            "request_inference_time_seconds",
            "e2e_request_latency_seconds",
            "request_time_per_output_token_seconds",
            "inter_token_latency_seconds",
        )
    }
    assert sums == pytest.approx(
        {
            "time_to_first_token_seconds": 0.6,
            "request_queue_time_seconds": 0.5,
            "request_prefill_time_seconds": 0.1,
            "request_decode_time_seconds": 0.05,
            "request_inference_time_seconds": 0.15,
            "e2e_request_latency_seconds": 0.65,
            "request_time_per_output_token_seconds": 0.025,
            "inter_token_latency_seconds": 0.05,
        }
    )
    assert value(metrics, "vllm:inter_token_latency_seconds_count") == 2  # tokens − 1
    assert (
        value(metrics, "vllm:time_per_output_token_seconds_sum")
        == sums["inter_token_latency_seconds"]
    )
    assert value(metrics, "vllm:generation_tokens_total") == 3
    assert value(metrics, "vllm:prompt_tokens_total") == 7
    assert value(metrics, "vllm:request_generation_tokens_sum") == 3
    assert value(metrics, "vllm:request_success_total", finished_reason="stop") == 1


def test_a_batch_is_timed_by_its_schedule_and_its_body() -> None:
    metrics = EngineMetrics(MODEL)
    trace = metrics.begin(MODEL, 0.5, 6)
    metrics.started(trace, 1.0)
    # planned at 0.1, 0.12, 0.14 after the slot; the body really left at 1.1405
    metrics.finished(trace, batch_writes([0.1, 0.12, 0.14], "length"), [1.1405], whole=True)
    assert value(metrics, "vllm:time_to_first_token_seconds_sum") == pytest.approx(0.6)
    assert value(metrics, "vllm:e2e_request_latency_seconds_sum") == pytest.approx(0.6405)
    assert value(metrics, "vllm:request_decode_time_seconds_sum") == pytest.approx(0.0405)
    assert value(metrics, "vllm:inter_token_latency_seconds_sum") == pytest.approx(0.0405)
    assert value(metrics, "vllm:inter_token_latency_seconds_count") == 2
    assert value(metrics, "vllm:request_success_total", finished_reason="length") == 1
    assert value(metrics, "vllm:request_success_total", finished_reason="stop") == 0


def test_a_stream_cut_short_counts_what_it_wrote_and_no_success() -> None:
    metrics = EngineMetrics(MODEL)
    # 5 tokens planned; the client went away after the head and two tokens
    stream_request(metrics, [0.0, 0.1, 0.12], n=5, whole=False, prompt=9)
    assert value(metrics, "vllm:time_to_first_token_seconds_count") == 1
    assert value(metrics, "vllm:request_queue_time_seconds_count") == 1
    assert value(metrics, "vllm:inter_token_latency_seconds_count") == 1
    assert value(metrics, "vllm:generation_tokens_total") == 2
    assert value(metrics, "vllm:prompt_tokens_total") == 9
    assert value(metrics, "vllm:e2e_request_latency_seconds_count") == 0
    assert value(metrics, "vllm:request_decode_time_seconds_count") == 0
    assert value(metrics, "vllm:request_success_total", finished_reason="stop") == 0


def test_a_stream_that_ends_in_an_error_is_no_success() -> None:
    metrics = EngineMetrics(MODEL)
    stream_request(metrics, [0.0, 0.1, 0.12, 0.14], n=2, finish=None)  # written whole
    assert value(metrics, "vllm:generation_tokens_total") == 2
    assert value(metrics, "vllm:request_success_total", finished_reason="stop") == 0
    assert value(metrics, "vllm:e2e_request_latency_seconds_count") == 0


def test_a_refused_request_counts_in_nothing() -> None:
    metrics = EngineMetrics(MODEL, slot_limit=2)
    trace = metrics.begin(MODEL, 0.0, 13)
    metrics.started(trace, 0.0)
    metrics.finished(trace, REFUSED, [0.0], whole=True)
    assert metrics.render() == EngineMetrics(MODEL, slot_limit=2).render()


def test_a_client_that_left_its_queue_counts_in_nothing() -> None:
    metrics = EngineMetrics(MODEL, slot_limit=1)
    trace = metrics.begin(MODEL, 0.0, 13)
    metrics.queued(trace)
    assert value(metrics, "vllm:num_requests_waiting") == 1
    metrics.left(trace)
    assert metrics.render() == EngineMetrics(MODEL, slot_limit=1).render()


def test_a_success_without_a_token_counts_its_e2e_and_no_timing_of_tokens() -> None:
    metrics = EngineMetrics(MODEL)
    trace = metrics.begin(MODEL, 0.0, 13)
    metrics.started(trace, 0.0)
    metrics.finished(trace, TokenWrites((), "stop"), [0.0, 0.1], whole=True)  # `empty`
    assert value(metrics, "vllm:e2e_request_latency_seconds_sum") == pytest.approx(0.1)
    assert value(metrics, "vllm:request_generation_tokens_count") == 1
    assert value(metrics, "vllm:request_success_total", finished_reason="stop") == 1
    assert value(metrics, "vllm:prompt_tokens_total") == 13
    assert value(metrics, "vllm:time_to_first_token_seconds_count") == 0
    assert value(metrics, "vllm:request_decode_time_seconds_count") == 0


# -- gauges and reset ---------------------------------------------------------------------------


def test_gauges_follow_the_queue_and_the_slots() -> None:
    metrics = EngineMetrics(MODEL, slot_limit=2)
    first, second = metrics.begin(MODEL, 0.0, 1), metrics.begin(MODEL, 0.0, 1)
    metrics.started(first, 0.0)
    metrics.queued(second)
    gauges = ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc")
    assert [value(metrics, g) for g in gauges] == [1, 1, 0.5]
    metrics.finished(first, stream_writes(1, "stop"), [0.0, 0.1, 0.1], whole=True)
    metrics.started(second, 0.1)
    assert [value(metrics, g) for g in gauges] == [1, 0, 0.5]
    metrics.finished(second, stream_writes(1, "stop"), [0.1, 0.2, 0.2], whole=True)
    assert [value(metrics, g) for g in gauges] == [0, 0, 0]


def test_kv_cache_usage_is_zero_without_a_slot_limit() -> None:
    metrics = EngineMetrics(MODEL)
    metrics.started(metrics.begin(MODEL, 0.0, 1), 0.0)
    assert value(metrics, "vllm:num_requests_running") == 1
    assert value(metrics, "vllm:kv_cache_usage_perc") == 0


def test_reset_restarts_counters_and_keeps_what_is_under_way() -> None:
    metrics = EngineMetrics(MODEL)
    stream_request(metrics, [0.0, 0.1, 0.1], n=1)
    stream_request(metrics, [0.0, 0.1, 0.1], n=1, model="gone")
    under_way = metrics.begin("busy", 0.0, 1)
    metrics.started(under_way, 0.0)
    before = metrics.summary(reset=True)
    assert (before["requests"], before["generation_tokens"], before["ttft_count"]) == (2, 2, 2)
    assert value(metrics, "vllm:generation_tokens_total") == 0
    assert value(metrics, "vllm:time_to_first_token_seconds_count") == 0
    assert value(metrics, "vllm:num_requests_running", model="busy") == 1
    models = {s.labels["model_name"] for f in families(metrics).values() for s in f.samples}
    assert models == {MODEL, "busy"}
    assert metrics.summary()["requests"] == 0


def test_summary_is_the_truth_of_the_text() -> None:
    metrics = EngineMetrics(MODEL)
    stream_request(metrics, [0.2, 0.3, 0.32, 0.32], n=2, arrival=0.1, slot=0.2)
    summary = metrics.summary()
    assert summary == {
        "requests": 1,
        "generation_tokens": 2,
        "prompt_tokens": 13,
        "ttft_count": 1,
        "ttft_sum_s": value(metrics, "vllm:time_to_first_token_seconds_sum"),
        "queue_count": 1,
        "queue_sum_s": value(metrics, "vllm:request_queue_time_seconds_sum"),
        "e2e_sum_s": value(metrics, "vllm:e2e_request_latency_seconds_sum"),
    }


# -- the shape of every reply, against its bytes ------------------------------------------------

PROFILE = LatencyProfile(ttft_s=0.1, itl_s=0.02, output_tokens=9)
#: a token's text in every protocol and fault: " tok3", " think3", utf8_split's " tök3🙂"
TOKEN_TEXT = re.compile(r"tok\d+|think\d+|tök\d+🙂")
ROUTES = [Endpoint.CHAT, Endpoint.COMPLETIONS, Endpoint.MESSAGES, Endpoint.RESPONSES]


def generation(endpoint: Endpoint, *, stream: bool) -> Generation:
    body: dict[str, object] = {"model": MODEL, "stream": stream, "max_tokens": 50}
    if endpoint is Endpoint.COMPLETIONS:
        body["prompt"] = "say hello"
    elif endpoint is Endpoint.RESPONSES:
        body["input"] = "say hello"
    else:
        body["messages"] = [{"role": "user", "content": "say hello"}]
    raw = json.dumps(body).encode()
    shape = SHAPES.get(endpoint)
    return shape.parse(raw, MODEL) if shape else parse_generation(endpoint, raw, MODEL)


def tokens_after_each_item(schedule: Sequence[tuple[float, Payload]]) -> list[int]:
    """How many different whole token texts the bytes written so far hold, after each item
    (a closing event may repeat the text written before: Responses' ``….done``)."""
    written = b""
    out = []
    for _, payload in schedule:
        if isinstance(payload, bytes):
            written += payload
        out.append(len(set(TOKEN_TEXT.findall(written.decode(errors="ignore")))))
    return out


def planned(
    profile: LatencyProfile, gen: Generation, **server: object
) -> tuple[list[tuple[float, Payload]], TokenWrites]:
    """The reply an unstarted mock plans for ``gen`` (its emitter's sockets closed after)."""
    mock = MockServer(profile, model=MODEL, **server)  # type: ignore[arg-type]
    try:
        return mock.plan_reply(gen, 0, keep_alive=True)
    finally:
        mock.close()


def check_shape(schedule: Sequence[tuple[float, Payload]], writes: TokenWrites, n: int) -> None:
    """``writes`` agrees with the bytes: a stream's tokens are in the items it says, up to
    the closing write (which may repeat the text); a batch's are in its one body."""
    assert len(writes.tokens) <= len(schedule)
    planned = list(itertools.accumulate(writes.tokens))
    if writes.batch_offsets:
        assert len(writes.batch_offsets) == n == writes.total
        body = writes.tokens.index(n)
        assert body == max(i for i, (_, p) in enumerate(schedule) if isinstance(p, bytes))
        assert tokens_after_each_item(schedule)[body] == n
        return
    seen = tokens_after_each_item(schedule)
    last = len(schedule) - 1
    assert planned[:last] == seen[: min(last, len(planned))]
    assert all(p == 0 for p in writes.tokens[last:]), "the closing write carries no token"


@pytest.mark.parametrize("personality", list(PERSONALITIES))
@pytest.mark.parametrize("endpoint", ROUTES)
@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("extras", ["plain", "reasoning", "tool_call"])
def test_normal_replies_carry_one_token_per_write(
    personality: str, endpoint: Endpoint, stream: bool, extras: str
) -> None:
    profile = PROFILE
    if extras == "reasoning":
        profile = LatencyProfile(ttft_s=0.1, itl_s=0.02, output_tokens=9, reasoning_tokens=3)
    elif extras == "tool_call":
        profile = LatencyProfile(ttft_s=0.1, itl_s=0.02, output_tokens=9, tool_call=True)
    gen = generation(endpoint, stream=stream)
    schedule, writes = planned(profile, gen, personality=personality)
    n = reply_length(gen, profile)[0]
    chat_extras = extras != "plain" and endpoint is not Endpoint.COMPLETIONS
    n += profile.reasoning_tokens if chat_extras else 0
    assert writes.total == n
    assert writes.finish == "stop"
    check_shape(schedule, writes, n)


FAULT_CASES = [
    (name, endpoint, stream, personality)
    for name in FAULTS
    for endpoint in ROUTES
    for stream in (True, False)
    for personality in ("openai", "litellm")
]


@pytest.mark.parametrize(("fault", "endpoint", "stream", "personality"), FAULT_CASES)
def test_every_fault_reply_has_the_shape_the_metrics_count(
    fault: str, endpoint: Endpoint, stream: bool, personality: str
) -> None:
    injector = FaultInjector(FaultPlan(schedule=(fault,), after_tokens=3))
    gen = generation(endpoint, stream=stream)
    schedule, writes = planned(PROFILE, gen, personality=personality, faults=injector)
    if not injector.injected:  # no form for this request: answered normally
        assert (writes.total, writes.finish) == (9, "stop")
        return
    if not writes.generates:
        assert writes == REFUSED
        return
    body = b"".join(p for _, p in schedule if isinstance(p, bytes)).decode(errors="ignore")
    whole = set(TOKEN_TEXT.findall(body))
    # LiteLLM transforms the faults of OpenAI's routes only (the injector's rule)
    behind = "openai" if endpoint in SHAPES else personality
    expected = FAULTS[fault].expected_for(gen.mode, behind)
    if expected in ("ok", "empty") or (fault == "stall" and stream):
        assert writes.finish == "stop"
    else:
        assert writes.finish is None
    if writes.batch_offsets:
        check_shape(schedule, writes, 9)
    elif stream:
        check_shape(schedule, writes, writes.total)
        assert writes.total in (0, 3, 9)
    else:  # a cut batch body: no token reached the client
        assert writes.total == 0
        assert len(whole) < 9

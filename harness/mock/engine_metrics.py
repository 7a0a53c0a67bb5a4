"""The mock's engine metrics: a vLLM-shaped ``GET /metrics`` whose figures are its true timings.

A harness scraping the target's own Prometheus endpoint reports the server's view next to the
client's. `EngineMetrics` publishes what vLLM's V1 engine does (`harness.mock.vllm_metrics`):
the same family names, ``# HELP`` texts, types, bucket bounds and labels (``engine="0"``,
``model_name`` the model the request named), with the mock's truth as values, so that tests
can check the harness's arithmetic against known figures. The text is written by
`harness.mock.exposition`.

The times of one request (a `RequestTrace`), all `perf_counter()`: **arrival** is the mock's
``t_base`` (the kernel's arrival stamp of the request's last byte); the **slot** is when it
may generate (its arrival, or with ``--slots`` when a slot freed); a stream's token is
generated when the emitter **wrote** its bytes (`Completion.written`, not the planned
deadline). A batch answer is written at once, when its last token is due, so its tokens are
timed by the schedule the mock decides that moment by: token ``i`` at ``slot + offset_i``,
the last when the body was really written. Hence TTFT = arrival → first token, queue =
arrival → slot (exactly 0 without slots), prefill = slot → first token, decode = first → last
token, inference = slot → last token, E2E = arrival → last token, ITL = each gap between two
consecutive tokens (one observation per token after the first; ``time_per_output_token`` is
the same observations under vLLM's older name), per-request TPOT = decode / (tokens − 1), 0 for
one token, as vLLM's.

What counts (the shape of each reply: `harness.mock.token_writes`): a request refused before
generation (an injected 429 or 5xx, an error document or event without a token; a 4xx for a bad
body never gets this far) counts in nothing. One that ends early (the client went away, a cut
stream) counts its queue time, its TTFT and prefill if a token was written, its ITL gaps and its
written tokens in ``generation_tokens_total``, and no success. A request counts in
``prompt_tokens_total`` (its usage's prompt tokens) once it has a token, or when it succeeds.
Only a reply written whole as a normal answer is a success: E2E, decode, inference, TPOT, the
token-count histograms, and ``request_success_total`` by its finish reason (``stop``,
``length``). A success without a token (the ``empty`` fault) counts in E2E (arrival → its last
write), the token-count histograms and the success counter only. Observations land when the
request ends (vLLM observes TTFT and ITL as tokens come: only a scrape in the middle of a
request can tell). Gauges are live: ``num_requests_running`` counts the generations holding a
slot, ``num_requests_waiting`` those queued for one, ``kv_cache_usage_perc`` is running /
slots (0 without a limit). `EngineMetrics.reset` restarts counters and histograms at 0, as a
restarted server would, and keeps the gauges. The server calls everything on its loop thread;
a lock makes reading from another thread safe. Standard library only; like the rest of the
mock it must not import the harness: the mock is the yardstick.
"""

from __future__ import annotations

import itertools
import threading
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from harness.mock.exposition import family_head, histogram_lines, sample_line
from harness.mock.token_writes import TokenWrites
from harness.mock.vllm_metrics import (
    COUNTERS,
    ENGINE,
    FINISH_REASONS,
    GAUGES,
    HISTOGRAMS,
    TIME_PER_OUTPUT_TOKEN,
)

__all__ = ["EngineMetrics", "Histogram", "RequestTrace", "token_times"]


class Histogram:
    """Observations in fixed buckets (``le`` inclusive, as Prometheus's), their sum, count."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        """Observations per bucket, not cumulative; the last: above every bound."""
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def clear(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0


class _Series:
    """Every figure of one ``model_name``."""

    __slots__ = ("counters", "histograms", "running", "success", "waiting")

    def __init__(self) -> None:
        self.histograms = {role: Histogram(f.bounds) for role, f in HISTOGRAMS.items()}
        self.counters = {"prompt_tokens": 0, "generation_tokens": 0}
        self.success = dict.fromkeys(FINISH_REASONS, 0)
        self.running = 0
        self.waiting = 0

    def clear(self) -> None:
        for histogram in self.histograms.values():
            histogram.clear()
        self.counters = dict.fromkeys(self.counters, 0)
        self.success = dict.fromkeys(self.success, 0)


@dataclass(slots=True)
class RequestTrace:
    """One generation request as the metrics follow it: the model it named, when it arrived,
    its usage's prompt tokens, when it got its slot (None: not yet), whether it waits."""

    model: str
    t_arrival: float
    prompt_tokens: int
    t_slot: float | None = None
    queued: bool = False


def token_times(writes: TokenWrites, written: Sequence[float], t_slot: float) -> list[float]:
    """When each output token was generated, from the times of the items written so far
    (``written[i]``: schedule item ``i``). A stream's token when its write happened; a batch
    body's tokens at ``t_slot`` + their planned offsets, the last when the body was written.
    """
    times: list[float] = []
    for carried, t_written in zip(writes.tokens, written, strict=False):
        if not carried:
            continue
        if writes.batch_offsets:
            times += [t_slot + offset for offset in writes.batch_offsets[:-1]]
            times.append(t_written)
        else:
            times += [t_written] * carried
    return times


class EngineMetrics:
    """vLLM's engine metrics for every model the mock was asked for (see the module doc).

    The server tells it each request's life: `begin` a trace when a generation request is
    accepted; `queued` if it waits for a slot; `started` when it gets one; `finished` when its
    schedule ended (whole or not), or `left` if the client went away while it waited.
    `render` is the text of ``GET /metrics``, `summary` the truth for ``/mock/stats``.
    """

    def __init__(self, default_model: str, *, slot_limit: int = 0) -> None:
        self.default_model = default_model
        """Published before any request names it (vLLM's served model)."""
        self.slot_limit = slot_limit
        self._lock = threading.Lock()
        self._series: dict[str, _Series] = {default_model: _Series()}

    def begin(self, model: str, t_arrival: float, prompt_tokens: int) -> RequestTrace:
        """The trace of a generation request for ``model`` that arrived at ``t_arrival``."""
        return RequestTrace(model, t_arrival, prompt_tokens)

    def queued(self, trace: RequestTrace) -> None:
        """No slot was free: ``trace`` waits."""
        with self._lock:
            trace.queued = True
            self._series_of(trace.model).waiting += 1

    def started(self, trace: RequestTrace, t_slot: float) -> None:
        """``trace`` got its slot at ``t_slot``: it generates from then."""
        with self._lock:
            series = self._series_of(trace.model)
            if trace.queued:
                series.waiting -= 1
                trace.queued = False
            series.running += 1
            trace.t_slot = t_slot

    def left(self, trace: RequestTrace) -> None:
        """The client went away while ``trace`` waited: it counts in nothing."""
        with self._lock:
            if trace.queued:
                self._series_of(trace.model).waiting -= 1
                trace.queued = False

    def finished(
        self, trace: RequestTrace, writes: TokenWrites, written: Sequence[float], *, whole: bool
    ) -> None:
        """``trace``'s schedule, of shape ``writes``, ended: ``written`` holds the times of the
        items written, all of them when ``whole`` (fewer when the client went away or a write
        failed)."""
        with self._lock:
            series = self._series_of(trace.model)
            if trace.t_slot is None:
                return
            series.running -= 1
            if writes.generates:
                _observe(series, trace, writes, written, whole, trace.t_slot)

    def reset(self) -> None:
        """Counters and histograms back to 0; gauges (requests under way) kept; a model
        nothing is under way for is forgotten (but the default one)."""
        with self._lock:
            for model, series in list(self._series.items()):
                if model != self.default_model and not (series.running or series.waiting):
                    del self._series[model]
                else:
                    series.clear()

    def summary(self, *, reset: bool = False) -> dict[str, object]:
        """The truth summed over models, for ``/mock/stats`` ``engine_metrics``: ``requests``
        (successes), ``generation_tokens``, ``prompt_tokens``, ``ttft_count``, ``ttft_sum_s``,
        ``queue_count``, ``queue_sum_s``, ``e2e_sum_s``; ``reset`` zeroes after reading."""
        with self._lock:
            every = list(self._series.values())
            h = [s.histograms for s in every]
            out: dict[str, object] = {
                "requests": sum(sum(s.success.values()) for s in every),
                "generation_tokens": sum(s.counters["generation_tokens"] for s in every),
                "prompt_tokens": sum(s.counters["prompt_tokens"] for s in every),
                "ttft_count": sum(x["ttft"].count for x in h),
                "ttft_sum_s": sum(x["ttft"].total for x in h),
                "queue_count": sum(x["queue"].count for x in h),
                "queue_sum_s": sum(x["queue"].total for x in h),
                "e2e_sum_s": sum(x["e2e"].total for x in h),
            }
        if reset:
            self.reset()
        return out

    def render(self) -> bytes:
        """The exposition text: every family, one label set per model (sorted)."""
        with self._lock:
            return _render(sorted(self._series.items()), self.slot_limit).encode()

    def _series_of(self, model: str) -> _Series:
        found = self._series.get(model)
        if found is None:
            found = self._series[model] = _Series()
        return found


def _observe(
    series: _Series,
    trace: RequestTrace,
    writes: TokenWrites,
    written: Sequence[float],
    whole: bool,
    t_slot: float,
) -> None:
    h = series.histograms
    arrival = trace.t_arrival
    times = token_times(writes, written, t_slot)
    n = len(times)
    success = whole and writes.finish is not None
    h["queue"].observe(t_slot - arrival)
    if n:
        first, last = times[0], times[-1]
        h["ttft"].observe(first - arrival)
        h["prefill"].observe(first - t_slot)
        itl = h["itl"]
        for a, b in itertools.pairwise(times):
            itl.observe(b - a)
    if n or success:
        series.counters["prompt_tokens"] += trace.prompt_tokens
    series.counters["generation_tokens"] += n
    if not success:
        return
    if n:
        h["e2e"].observe(last - arrival)
        h["decode"].observe(last - first)
        h["inference"].observe(last - t_slot)
        h["tpot"].observe((last - first) / (n - 1) if n > 1 else 0.0)
    else:
        h["e2e"].observe((written[-1] if written else t_slot) - arrival)
    h["prompt_tokens"].observe(trace.prompt_tokens)
    h["generation_tokens"].observe(n)
    series.success["length" if writes.finish == "length" else "stop"] += 1


def _labels(model: str) -> list[tuple[str, str]]:
    return [("engine", ENGINE), ("model_name", model)]


def _render(models: list[tuple[str, _Series]], slot_limit: int) -> str:
    out: list[str] = []
    gauges = {
        "running": {m: float(s.running) for m, s in models},
        "waiting": {m: float(s.waiting) for m, s in models},
        "kv_cache": {m: s.running / slot_limit if slot_limit else 0.0 for m, s in models},
    }
    for role, values in gauges.items():
        family = GAUGES[role]
        out.append(family_head(family.name, family.help, "gauge"))
        out += [sample_line(family.name, _labels(m), v) for m, v in values.items()]
    for role in ("prompt_tokens", "generation_tokens"):
        name = COUNTERS[role].name + "_total"
        out.append(family_head(name, COUNTERS[role].help, "counter"))
        out += [sample_line(name, _labels(m), s.counters[role]) for m, s in models]
    name = COUNTERS["success"].name + "_total"
    out.append(family_head(name, COUNTERS["success"].help, "counter"))
    for m, s in models:
        for reason in FINISH_REASONS:
            labels = [*_labels(m), ("finished_reason", reason)]
            out.append(sample_line(name, labels, s.success[reason]))
    for role, family in HISTOGRAMS.items():
        for f in (TIME_PER_OUTPUT_TOKEN, family) if role == "itl" else (family,):
            out.append(family_head(f.name, f.help, "histogram"))
            for m, s in models:
                h = s.histograms[role]
                out.append(histogram_lines(f.name, _labels(m), f.bounds, h.counts, h.total))
    return "".join(out)

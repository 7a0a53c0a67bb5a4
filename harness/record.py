"""RequestRecord: one request's walk down the latency ladder, and the figures derived from it.

Timestamps are `time.perf_counter()` seconds taken by the client and passed in; this module never
reads a clock (so it is deterministic under test). Durations are seconds, named `<figure>_s`.
Figures that do not apply are `None`, never 0.

The ladder (docs/design.md)::

    t0              just before the request bytes are written
    t_headers       status line and headers received (TTFB: a diagnostic, never TTFT)
    t_first_token   first token-bearing event (any channel: content, reasoning, refusal, tools)
    t_first_content first visible-content event (differs from TTFT for reasoning models)
    t_first_tool_call first tool-call delta (a function name or argument bytes)
    t_last_token    last token-bearing event (a usage chunk after it does not move it)
    t_end           `[DONE]`, a clean end of stream after a finish_reason, or the batch body read

Per-chunk data is kept in `array('d')` / `array('l')`: no Python object per chunk, nothing for
the garbage collector to walk. Pure module: standard library only.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from harness.errors import TIMED_OUTCOMES, ErrorClass, Mode, Outcome


@dataclass(slots=True, eq=False)
class RequestRecord:
    """Everything measured about one request. Filled by the client, read by sinks."""

    mode: Mode
    model: str
    endpoint: str
    #: the name of the target it was sent to (`targets:`, docs/targets.md); "" when the run
    #: has one target
    target: str = ""
    t0: float = 0.0
    t_sched: float | None = None
    #: `mix: paired`: the pair this request belongs to (one prompt, both modes, one due time)
    pair: int | None = None
    t_headers: float | None = None
    t_first_token: float | None = None
    t_first_content: float | None = None
    t_last_token: float | None = None
    t_end: float | None = None
    #: arrival time of every token-bearing event, in order
    chunk_times: array[float] = field(default_factory=lambda: array("d"))
    #: cumulative completion tokens reported with each token-bearing event (vLLM
    #: continuous usage); filled only while every token event carried one
    chunk_cumulative_tokens: array[int] = field(default_factory=lambda: array("l"))
    #: server `usage.completion_tokens` (the last value seen: usage is cumulative)
    server_output_tokens: int | None = None
    input_tokens: int | None = None
    #: arrival of the first tool-call delta (a function name or argument bytes); None when
    #: the answer called no tool, or was not streamed
    t_first_tool_call: float | None = None
    #: bytes (UTF-8) of tool-call arguments received, streamed or whole
    tool_call_bytes: int = 0
    #: reasoning (thinking) tokens, from the server's usage when it reports them; they are
    #: part of the output tokens
    reasoning_tokens: int | None = None
    #: token-bearing events that carried reasoning/thinking, not visible text
    reasoning_events: int = 0
    finish_reason: str | None = None
    status: int | None = None
    outcome: Outcome | None = None
    error_class: ErrorClass | None = None
    #: attempts sent for this request (more than 1 only with opt-in retries)
    attempts: int = 1
    #: the server's Retry-After, in seconds, when it sent one with a 429 or 503
    retry_after_s: float | None = None
    #: times the request was written again on a fresh connection because the reused one
    #: turned out closed by the server before any response byte (the server never saw the
    #: first write: not a retry, not a failure, never inside TTFT; also noted `reconnect`)
    reconnects: int = 0
    #: seconds the user waited, before sending this request, backing off after consecutive
    #: instant failures (refused, reset before headers, 503); 0.0 when it did not wait
    backoff_s: float = 0.0
    #: the server's own per-request timings when it sends them (llama.cpp's `timings`:
    #: `prompt_ms`, `predicted_n`, `predicted_per_token_ms`, …); numbers only
    server_timings: dict[str, float] | None = None
    #: the path's response headers worth showing (Server, Via, X-Accel-Buffering, a
    #: recognised gateway's identity), taken from this request's response; None if none came
    path_headers: dict[str, str] | None = None
    #: non-standard things seen on the wire, by kind (created on first use)
    anomalies: dict[str, int] | None = None
    #: the generated text, kept only when the client is asked to (tests, debugging)
    text: list[str] | None = None
    #: the workload's view (harness.workload): the turn of a multi-turn conversation (1, 2,
    #: …; None: a single-turn prompt), whether its shared prefix was used before in this
    #: process (None: no shared prefix), and the input and output lengths it asked for, in
    #: tokens (None: not asked; output: its `max_tokens`)
    turn: int | None = None
    prefix_reuse: bool | None = None
    requested_input_tokens: int | None = None
    requested_output_tokens: int | None = None
    #: whether the request met every goodput limit of the run (harness.load.goodput); set
    #: when it is published, None when the run has no goodput limits
    met_goodput: bool | None = None

    # ------------------------------------------------------------------ filling (client side)

    def on_token_event(
        self, t: float, *, visible: bool, cumulative_tokens: int | None = None
    ) -> None:
        """A token-bearing event arrived at `t`. `visible`: it carries user-visible content."""
        if t == self.t_last_token:
            # several token events in one read: a buffering proxy or a server that batches
            # writes; gaps of 0 understate ITL (catalogue NET-14/NET-15)
            self.note("burst_delivery")
        if self.t_first_token is None:
            self.t_first_token = t
        if visible and self.t_first_content is None:
            self.t_first_content = t
        self.t_last_token = t
        chunk_times = self.chunk_times
        if cumulative_tokens is not None and len(self.chunk_cumulative_tokens) == len(chunk_times):
            self.chunk_cumulative_tokens.append(cumulative_tokens)
        chunk_times.append(t)

    def on_tool_call(self, t: float | None, argument_bytes: int) -> None:
        """A tool-call delta (a function name or `argument_bytes` of arguments) arrived at `t`
        (None: in a whole body, untimed)."""
        if t is not None and self.t_first_tool_call is None:
            self.t_first_tool_call = t
        self.tool_call_bytes += argument_bytes

    def note(self, kind: str, n: int = 1) -> None:
        """Count an anomaly of `kind` on this request."""
        if self.anomalies is None:
            self.anomalies = {}
        self.anomalies[kind] = self.anomalies.get(kind, 0) + n

    def fail(self, error_class: ErrorClass, t: float) -> None:
        """Mark the request failed with `error_class` at `t` (first failure wins)."""
        if self.outcome is None or self.outcome not in (
            Outcome.FAILED,
            Outcome.CANCELLED,
        ):
            self.outcome = Outcome.FAILED
            self.error_class = error_class
            if self.t_end is None:
                self.t_end = t

    # ------------------------------------------------------------------ derived figures

    @property
    def timed(self) -> bool:
        """Whether this request's latencies belong in the histograms (successes only)."""
        return self.outcome in TIMED_OUTCOMES

    @property
    def chunk_count(self) -> int:
        """Token-bearing events received (also the client-side token count)."""
        return len(self.chunk_times)

    @property
    def output_tokens(self) -> int:
        """Server usage when it reported a positive count, else counted token-bearing chunks."""
        server = self.server_output_tokens
        if server is not None and server > 0:
            return server
        return len(self.chunk_times)

    @property
    def output_tokens_source(self) -> str:
        """`server` or `client`: where `output_tokens` came from."""
        server = self.server_output_tokens
        return "server" if server is not None and server > 0 else "client"

    @property
    def token_count_mismatch(self) -> bool:
        """Server usage and counted chunks disagree though one token per chunk was implied."""
        server = self.server_output_tokens
        return (
            server is not None
            and not self.chunk_cumulative_tokens
            and server != len(self.chunk_times)
            and len(self.chunk_times) > 0
        )

    @property
    def tokens_per_chunk(self) -> array[int] | None:
        """Tokens carried by each token-bearing event, when known; else None.

        Known when every token event carried a cumulative usage count (vLLM continuous usage),
        or when server usage equals the number of token events (one token per chunk).
        """
        n = len(self.chunk_times)
        if n == 0:
            return None
        cumulative = self.chunk_cumulative_tokens
        if len(cumulative) == n:
            per_chunk = array("l", [cumulative[0]])
            per_chunk.extend(cumulative[i] - cumulative[i - 1] for i in range(1, n))
            if all(k > 0 for k in per_chunk):
                return per_chunk
            return None
        if self.server_output_tokens == n:
            return array("l", [1]) * n
        return None

    @property
    def ttft_s(self) -> float | None:
        """Time to first token: first token-bearing event − t0 (streams only)."""
        if self.mode is not Mode.STREAM or self.t_first_token is None:
            return None
        return self.t_first_token - self.t0

    @property
    def ttfc_s(self) -> float | None:
        """Time to first visible content: first content event − t0 (streams only)."""
        if self.mode is not Mode.STREAM or self.t_first_content is None:
            return None
        return self.t_first_content - self.t0

    @property
    def tool_call_s(self) -> float | None:
        """Time to the first tool-call delta − t0 (streams that called a tool only)."""
        if self.mode is not Mode.STREAM or self.t_first_tool_call is None:
            return None
        return self.t_first_tool_call - self.t0

    @property
    def reasoning_share(self) -> float | None:
        """Reasoning tokens / output tokens, when the server's usage reported both (and a
        positive output count); else None."""
        reasoning, output = self.reasoning_tokens, self.server_output_tokens
        if reasoning is None or output is None or output <= 0:
            return None
        return reasoning / output

    @property
    def ttfb_s(self) -> float | None:
        """Time to response headers: a diagnostic, never reported as TTFT."""
        return None if self.t_headers is None else self.t_headers - self.t0

    @property
    def e2e_s(self) -> float | None:
        """End to end: t_end − t0."""
        return None if self.t_end is None else self.t_end - self.t0

    @property
    def first_visible_s(self) -> float | None:
        """What a person waits for before seeing anything: TTFT (stream) or E2E (batch, and
        a stream the server answered with one whole body: `stream_not_honored`)."""
        if self.mode is Mode.STREAM and (
            self.anomalies is None or "stream_not_honored" not in self.anomalies
        ):
            return self.ttft_s
        return self.e2e_s

    def inter_chunk_gaps(self) -> Iterator[float]:
        """Gaps between consecutive token-bearing events (inter-chunk latency)."""
        times = self.chunk_times
        for i in range(1, len(times)):
            yield times[i] - times[i - 1]

    def itl_samples(self) -> Iterator[float]:
        """Per-token inter-token latencies when tokens per chunk are known, else nothing.

        A chunk carrying k tokens after a gap g contributes k samples of g / k (catalogue
        OAI-13). Tokens of the first chunk contribute nothing: they are TTFT.
        """
        per_chunk = self.tokens_per_chunk
        if per_chunk is None:
            return
        times = self.chunk_times
        for i in range(1, len(times)):
            k = per_chunk[i]
            gap = (times[i] - times[i - 1]) / k
            for _ in range(k):
                yield gap

    @property
    def tpot_s(self) -> float | None:
        """Time per output token after the first chunk.

        (t_last_token − t_first_token) / (output tokens − tokens of the first chunk); the first
        chunk's tokens are 1 unless per-chunk counts say otherwise (catalogue OAI-13). Absent
        when no token follows the first chunk.
        """
        if self.t_first_token is None or self.t_last_token is None:
            return None
        per_chunk = self.tokens_per_chunk
        first = per_chunk[0] if per_chunk is not None else 1
        after_first = self.output_tokens - first
        if after_first <= 0 or len(self.chunk_times) < 2:
            return None
        return (self.t_last_token - self.t_first_token) / after_first

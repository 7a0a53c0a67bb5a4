"""Opt-in retries: which failures are worth another attempt, and how long to wait.

Off by default, because retries change the offered load (catalogue P2). When on, a request is
retried after rate limiting (honouring Retry-After), a 5xx, a refused or timed-out connect, or a
reset before the first token — never after tokens arrived, since that would hide a broken
stream. Every attempt is counted (`attempts` in the statistics); the request's outcome counts
once, timed from its first attempt.

Back-off (`Backoff`, on by default) is another matter: it never repeats a request. After
consecutive *instant* failures (`is_fast_failure`) a user waits before its next request, so a
server that is down or restarting is not hit by a retry storm; the wait is recorded in the next
request's `backoff_s` and is never inside a latency. Pure: standard library only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from harness.errors import ErrorClass, Outcome
from harness.record import RequestRecord

RETRYABLE = frozenset(
    {
        ErrorClass.RATE_LIMITED,
        ErrorClass.HTTP_5XX,
        ErrorClass.CONNECT_REFUSED,
        ErrorClass.CONNECT_TIMEOUT,
    }
)


#: a stream that broke off: what `--llm-stream-fallback` answers with a batch request
INTERRUPTED_STREAM = frozenset(
    {ErrorClass.STREAM_RESET, ErrorClass.STREAM_TRUNCATED, ErrorClass.STALL_TIMEOUT}
)


def is_retryable(record: RequestRecord) -> bool:
    """Whether a finished attempt may be retried (no token may have been received)."""
    error_class = record.error_class
    if error_class is None or record.chunk_count:
        return False
    return error_class in RETRYABLE or error_class is ErrorClass.STREAM_RESET


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Up to `attempts` retries; exponential backoff with full jitter, capped."""

    attempts: int = 0
    base_s: float = 0.5
    max_backoff_s: float = 10.0

    def delay_s(
        self, attempt: int, retry_after_s: float | None, rng: random.Random | None = None
    ) -> float:
        """The wait before retry number `attempt` (1-based): Retry-After when the server
        gave one, else a random share of base × 2^(attempt−1); never above the cap."""
        if retry_after_s is not None:
            return min(retry_after_s, self.max_backoff_s)
        ceiling = min(self.base_s * 2 ** (attempt - 1), self.max_backoff_s)
        return (rng or random).uniform(0.0, ceiling)


# ------------------------------------------------------------------ back-off on instant failures

#: a failure faster than this is *instant*: the server could not take the request (refused,
#: reset before any response byte, a 5xx answered at once). A user that met two in a row
#: backs off, so a down or restarting server sees a trickle, not thousands of requests a second
FAST_FAILURE_S = 0.050
#: consecutive instant failures before the first wait: one alone never changes the load
BACKOFF_AFTER = 2
#: the first wait's ceiling; each further instant failure doubles it, up to the cap
BACKOFF_BASE_S = 0.050
BACKOFF_MAX_S = 5.0


def is_fast_failure(record: RequestRecord) -> bool:
    """Whether a finished request failed at once because the server could not take it.

    Failed, no token received, E2E (from t0 to the failure) under `FAST_FAILURE_S`, and
    either no response status (refused, DNS, TLS, reset or EOF before the headers) or a
    5xx status (503 "Loading model", a gateway with no upstream). A 429 or another 4xx is
    an answer about the request or its rate: the offered load stays what the user asked for.
    """
    if record.error_class is None or record.chunk_count:
        return False
    e2e_s = record.e2e_s
    if e2e_s is None or e2e_s >= FAST_FAILURE_S:
        return False
    return record.status is None or record.status >= 500


@dataclass(slots=True)
class Backoff:
    """A user's back-off after consecutive instant failures: exponential, full jitter, capped.

    After the n-th consecutive instant failure (n >= `BACKOFF_AFTER`) the next request waits
    a uniform random time in [0, min(max_s, base_s × 2^(n − BACKOFF_AFTER))]. An instant 503
    with Retry-After is waited as the server asked (up to `max_s`), from the first one. Any
    other outcome (a success, a slow failure) resets it. `max_s` 0 turns back-off off.
    """

    max_s: float = BACKOFF_MAX_S
    base_s: float = BACKOFF_BASE_S
    rng: random.Random = field(default_factory=random.Random)
    #: consecutive instant failures so far
    streak: int = 0
    _retry_after_s: float | None = None

    def observe(self, record: RequestRecord) -> None:
        """Account for a finished request (cancelled ones change nothing)."""
        if record.outcome is Outcome.CANCELLED:
            return
        if is_fast_failure(record):
            self.streak += 1
            self._retry_after_s = record.retry_after_s if record.status == 503 else None
        else:
            self.streak = 0
            self._retry_after_s = None

    def wait_s(self) -> float:
        """Seconds to wait before the next request (0.0: send it now)."""
        if self.max_s <= 0 or self.streak == 0:
            return 0.0
        if self._retry_after_s is not None:
            return min(self._retry_after_s, self.max_s)
        if self.streak < BACKOFF_AFTER:
            return 0.0
        ceiling = min(self.base_s * 2 ** (self.streak - BACKOFF_AFTER), self.max_s)
        return self.rng.uniform(0.0, ceiling)

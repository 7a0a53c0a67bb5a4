"""Opt-in retries: which failures are worth another attempt, and how long to wait.

Off by default, because retries change the offered load (catalogue P2). When on, a request is
retried after rate limiting (honouring Retry-After), a 5xx, a refused or timed-out connect, or a
reset before the first token — never after tokens arrived, since that would hide a broken
stream. Every attempt is counted (`attempts` in the statistics); the request's outcome counts
once, timed from its first attempt. Pure: standard library only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from harness.errors import ErrorClass
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

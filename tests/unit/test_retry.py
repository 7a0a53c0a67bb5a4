"""Opt-in retries: what is retried and how long the user waits (catalogue NET-07)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from harness.errors import ErrorClass, Mode, Outcome
from harness.record import RequestRecord
from harness.retry import (
    BACKOFF_AFTER,
    BACKOFF_BASE_S,
    FAST_FAILURE_S,
    Backoff,
    RetryPolicy,
    is_fast_failure,
    is_retryable,
)


def _failed(error_class: ErrorClass, tokens: int = 0) -> RequestRecord:
    record = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/chat/completions")
    for i in range(tokens):
        record.on_token_event(0.1 * (i + 1), visible=True)
    record.fail(error_class, 1.0)
    return record


@pytest.mark.parametrize(
    "error_class",
    [
        ErrorClass.RATE_LIMITED,
        ErrorClass.HTTP_5XX,
        ErrorClass.CONNECT_REFUSED,
        ErrorClass.STREAM_RESET,
    ],
)
def test_transient_failures_before_any_token_are_retried(error_class: ErrorClass) -> None:
    assert is_retryable(_failed(error_class))


def test_a_failure_after_tokens_is_never_retried() -> None:
    assert not is_retryable(_failed(ErrorClass.STREAM_RESET, tokens=1))


@pytest.mark.parametrize(
    "error_class", [ErrorClass.AUTH_ERROR, ErrorClass.HTTP_4XX, ErrorClass.STREAM_ERROR_EVENT]
)
def test_failures_a_retry_cannot_fix_are_not_retried(error_class: ErrorClass) -> None:
    assert not is_retryable(_failed(error_class))


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=3, max_backoff_s=10.0)
    assert policy.delay_s(1, 7.0) == 7.0
    assert policy.delay_s(1, 3600.0) == 10.0


def test_backoff_without_retry_after_doubles_per_attempt_up_to_the_cap() -> None:
    """Full jitter: each wait is uniform in [0, min(base × 2^(attempt−1), cap)], so the
    largest of many seeded draws shows each attempt's ceiling."""
    policy = RetryPolicy(attempts=5, base_s=0.5, max_backoff_s=3.0)
    rng = random.Random(1)
    draws = {a: [policy.delay_s(a, None, rng) for _ in range(2000)] for a in (1, 2, 3, 4, 5)}
    ceilings = [0.5, 1.0, 2.0, 3.0, 3.0]
    for (attempt, delays), ceiling in zip(draws.items(), ceilings, strict=True):
        assert 0.97 * ceiling < max(delays) <= ceiling, attempt
        assert 0.0 <= min(delays) < 0.03 * ceiling, attempt  # the whole range is used


# ------------------------------------------------------------------ back-off on instant failures


def _finished(
    *, status: int | None = None, e2e_s: float = 0.001, error: ErrorClass | None = None
) -> RequestRecord:
    record = RequestRecord(mode=Mode.BATCH, model="m", endpoint="/v1/chat/completions", t0=10.0)
    record.status = status
    if error is None:
        record.outcome, record.t_end = Outcome.OK, 10.0 + e2e_s
    else:
        record.fail(error, 10.0 + e2e_s)
    return record


REFUSED: dict[str, Any] = {"error": ErrorClass.CONNECT_REFUSED}


@pytest.mark.parametrize(
    ("kwargs", "fast"),
    [
        (REFUSED, True),
        ({"error": ErrorClass.STREAM_RESET}, True),  # reset before any response byte
        ({"error": ErrorClass.HTTP_5XX, "status": 503}, True),
        ({"error": ErrorClass.HTTP_5XX, "status": 500}, True),
        ({"error": ErrorClass.HTTP_5XX, "status": 503, "e2e_s": FAST_FAILURE_S}, False),
        ({"error": ErrorClass.RATE_LIMITED, "status": 429}, False),  # an answer: load stays
        ({"error": ErrorClass.HTTP_4XX, "status": 400}, False),
        ({"error": ErrorClass.CONNECT_TIMEOUT, "e2e_s": 10.0}, False),
        ({}, False),
    ],
)
def test_which_failures_are_instant(kwargs: dict[str, Any], fast: bool) -> None:
    assert is_fast_failure(_finished(**kwargs)) is fast


def test_a_failure_after_a_token_is_not_instant() -> None:
    record = _finished(error=ErrorClass.STREAM_RESET)
    record.chunk_times.append(10.0005)
    assert not is_fast_failure(record)


def test_back_off_starts_at_the_second_instant_failure_doubles_and_stays_under_the_cap() -> None:
    backoff = Backoff(max_s=1.0, rng=random.Random(3))
    backoff.observe(_finished(**REFUSED))
    assert backoff.wait_s() == 0.0  # one instant failure alone never changes the load
    ceilings = []
    for _ in range(8):
        backoff.observe(_finished(**REFUSED))
        ceilings.append(min(BACKOFF_BASE_S * 2 ** (backoff.streak - BACKOFF_AFTER), 1.0))
        waits = [backoff.wait_s() for _ in range(200)]
        assert all(0.0 <= w <= ceilings[-1] for w in waits)
        assert max(waits) > ceilings[-1] * 0.9  # full jitter: the whole range is used
        assert min(waits) < ceilings[-1] * 0.1
    assert ceilings == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]


def test_a_success_or_a_slow_failure_resets_the_back_off() -> None:
    backoff = Backoff()
    for reset in (_finished(), _finished(error=ErrorClass.HTTP_5XX, status=503, e2e_s=0.5)):
        for _ in range(5):
            backoff.observe(_finished(**REFUSED))
        assert backoff.streak == 5
        backoff.observe(reset)
        assert backoff.streak == 0
        assert backoff.wait_s() == 0.0


def test_a_cancelled_request_changes_nothing() -> None:
    backoff = Backoff()
    for _ in range(3):
        backoff.observe(_finished(**REFUSED))
    cancelled = _finished()
    cancelled.outcome = Outcome.CANCELLED
    backoff.observe(cancelled)
    assert backoff.streak == 3


def test_an_instant_503_with_retry_after_is_waited_as_asked_up_to_the_cap() -> None:
    backoff = Backoff(max_s=5.0)
    record = _finished(error=ErrorClass.HTTP_5XX, status=503)
    record.retry_after_s = 2.0
    backoff.observe(record)
    assert backoff.wait_s() == 2.0  # from the first: the server asked
    record.retry_after_s = 120.0
    backoff.observe(record)
    assert backoff.wait_s() == 5.0


def test_max_0_turns_the_back_off_off() -> None:
    backoff = Backoff(max_s=0.0)
    for _ in range(10):
        backoff.observe(_finished(**REFUSED))
    assert backoff.wait_s() == 0.0

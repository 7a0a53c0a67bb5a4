"""Opt-in retries: what is retried and how long the user waits (catalogue NET-07)."""

from __future__ import annotations

import random

import pytest

from harness.errors import ErrorClass, Mode
from harness.record import RequestRecord
from harness.retry import RetryPolicy, is_retryable


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


def test_backoff_without_retry_after_grows_and_stays_under_the_cap() -> None:
    policy = RetryPolicy(attempts=5, base_s=0.5, max_backoff_s=3.0)
    rng = random.Random(1)
    delays = [policy.delay_s(attempt, None, rng) for attempt in (1, 2, 3, 4, 5)]
    assert all(0 <= d <= c for d, c in zip(delays, [0.5, 1.0, 2.0, 3.0, 3.0], strict=True))

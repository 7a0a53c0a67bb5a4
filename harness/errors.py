"""The closed vocabularies of a request's fate, and the exceptions the harness raises on purpose.

Per-request failures are *data* (an `ErrorClass` on a `RequestRecord`); program failures are
*exceptions*. The tree::

    HarnessError                    every exception the harness raises on purpose
    ├── ConfigError                 bad scenario / CLI / environment; exit code 2
    ├── PreflightError              (harness.preflight) the target cannot serve the run; exit 2
    └── RequestError                one request failed; .error_class is the closed-list value
                                    (the failure a Locust row shows; the client records
                                    failures as data and never raises it)

`str()` and `repr()` of a `RequestError` are the error class alone: Locust keys its failure rows
on `repr(exception)`, so this keeps the rows bounded and keeps secrets and server text out of the
web UI. Pure module: imports nothing outside the standard library.
"""

from __future__ import annotations

import enum


class Mode(enum.StrEnum):
    """How the completion is delivered."""

    STREAM = "stream"
    BATCH = "batch"


#: The modes' names in report order (streaming first): plain strings, as summary.json keys.
MODES: tuple[str, ...] = tuple(mode.value for mode in Mode)


class Outcome(enum.StrEnum):
    """What became of one request. Exactly one per request."""

    OK = "ok"
    OK_LENGTH = "ok_length"  # finish_reason "length": cut by max_tokens, still a success
    CONTENT_FILTERED = "content_filtered"
    EMPTY = "empty"  # a 200 with no token: a failure by default
    FAILED = "failed"
    CANCELLED = "cancelled"  # in flight when the run stopped: neither success nor failure


#: Outcomes whose latencies enter the histograms (docs/design.md).
TIMED_OUTCOMES = frozenset({Outcome.OK, Outcome.OK_LENGTH, Outcome.CONTENT_FILTERED})
#: Outcomes that count as a Locust success.
SUCCESS_OUTCOMES = TIMED_OUTCOMES


def is_failure(outcome: str) -> bool:
    """Whether `outcome` (an `Outcome` or its name in summary.json) counts as a failure.

    Every outcome but a success and `cancelled` (in flight when the run stopped: neither
    success nor failure, and not a finished request either; docs/design.md).
    """
    return outcome not in SUCCESS_OUTCOMES and outcome != Outcome.CANCELLED


class ErrorClass(enum.StrEnum):
    """The closed list of failure causes (docs/design.md). Add a class there first."""

    CONNECT_REFUSED = "connect_refused"
    DNS = "dns"
    CONNECT_TIMEOUT = "connect_timeout"
    TLS = "tls"
    HEADER_TIMEOUT = "header_timeout"
    TTFT_TIMEOUT = "ttft_timeout"
    STALL_TIMEOUT = "stall_timeout"
    TOTAL_TIMEOUT = "total_timeout"
    AUTH_ERROR = "auth_error"
    RATE_LIMITED = "rate_limited"
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    REDIRECT = "redirect"
    BAD_CONTENT_TYPE = "bad_content_type"
    ERROR_IN_BODY = "error_in_body"
    STREAM_ERROR_EVENT = "stream_error_event"
    STREAM_RESET = "stream_reset"
    STREAM_TRUNCATED = "stream_truncated"
    MALFORMED_EVENT = "malformed_event"
    EVENT_TOO_LARGE = "event_too_large"
    #: a Content-Encoding the client cannot decode (it asks for identity; gzip and deflate
    #: are decoded as they arrive): its bytes never reach the SSE parser
    UNSUPPORTED_ENCODING = "unsupported_encoding"
    CLIENT_POOL_TIMEOUT = "client_pool_timeout"
    HARNESS_INTERNAL = "harness_internal"


class HarnessError(Exception):
    """Base of every exception the harness raises on purpose."""


class ConfigError(HarnessError):
    """Bad configuration or usage: one line naming the problem. Nothing has been sent."""


class RequestError(HarnessError):
    """One request failed with `error_class`. Its text is the class alone, never server text."""

    def __init__(self, error_class: ErrorClass, *, status: int | None = None) -> None:
        super().__init__(error_class.value)
        self.error_class = error_class
        self.status = status

    def __str__(self) -> str:
        return self.error_class.value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.error_class.value!r})"


def error_class_for_status(status: int) -> ErrorClass:
    """Map a non-2xx HTTP status to its error class."""
    if status in (401, 403):
        return ErrorClass.AUTH_ERROR
    if status == 429:
        return ErrorClass.RATE_LIMITED
    if 300 <= status < 400:
        return ErrorClass.REDIRECT
    if status >= 500:
        return ErrorClass.HTTP_5XX
    return ErrorClass.HTTP_4XX

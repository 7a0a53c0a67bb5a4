"""The closed vocabularies of a request's fate, and the exceptions the harness raises on purpose.

Per-request failures are *data* (an `ErrorClass` on a `RequestRecord`); program failures are
*exceptions*. The tree::

    HarnessError                    every exception the harness raises on purpose
    ├── ConfigError                 bad scenario / CLI / environment; exit code 2
    └── RequestError                one request failed; .error_class is the closed-list value
        ├── TransportError          connect_refused, dns, connect_timeout, tls,
        │                           client_pool_timeout, stream_reset
        ├── DeadlineError           header_timeout, ttft_timeout, stall_timeout, total_timeout
        ├── StatusError             auth_error, rate_limited, http_4xx, http_5xx, redirect
        └── ResponseError           bad_content_type, error_in_body, stream_error_event,
                                    stream_truncated, malformed_event, event_too_large,
                                    unsupported_encoding

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


class TransportError(RequestError):
    """The connection failed: refused, DNS, TLS, reset, pool."""


class DeadlineError(RequestError):
    """A configured deadline passed: header, TTFT, stall between chunks, or total."""


class StatusError(RequestError):
    """The server answered with a non-2xx status."""


class ResponseError(RequestError):
    """The status was 2xx but the body was not a valid completion."""


_GROUP_OF: dict[ErrorClass, type[RequestError]] = {
    **dict.fromkeys(
        (
            ErrorClass.CONNECT_REFUSED,
            ErrorClass.DNS,
            ErrorClass.CONNECT_TIMEOUT,
            ErrorClass.TLS,
            ErrorClass.CLIENT_POOL_TIMEOUT,
            ErrorClass.STREAM_RESET,
        ),
        TransportError,
    ),
    **dict.fromkeys(
        (
            ErrorClass.HEADER_TIMEOUT,
            ErrorClass.TTFT_TIMEOUT,
            ErrorClass.STALL_TIMEOUT,
            ErrorClass.TOTAL_TIMEOUT,
        ),
        DeadlineError,
    ),
    **dict.fromkeys(
        (
            ErrorClass.AUTH_ERROR,
            ErrorClass.RATE_LIMITED,
            ErrorClass.HTTP_4XX,
            ErrorClass.HTTP_5XX,
            ErrorClass.REDIRECT,
        ),
        StatusError,
    ),
}


def request_error(error_class: ErrorClass, *, status: int | None = None) -> RequestError:
    """Build the `RequestError` subclass that `error_class` belongs to."""
    group = _GROUP_OF.get(error_class, ResponseError)
    return group(error_class, status=status)


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

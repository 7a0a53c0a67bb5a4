"""The scrubber: no secret survives in any text that leaves the process (SEC-02, SEC-05)."""

from __future__ import annotations

import base64
import logging

import pytest

from harness.redact import RedactingFilter, Redactor, hint

CANARY = "sk-canary-5b1f0c9e2d7a4"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Incorrect API key provided: {CANARY}", "Incorrect API key provided: ***"),
        (f"Illegal header value b'Bearer {CANARY}\\n'", "Illegal header value b'Bearer ***\\n'"),
        (
            "GET https://api.example.com/v1?key=SECRETQ&x=1",
            "GET https://api.example.com/v1?key=***&x=1",
        ),
        (
            "ConnectError http://user:SECRETPASS@host:8000/v1",
            "ConnectError http://***@host:8000/v1",
        ),
        ("Authorization: Basic dXNlcjpwYXNz\r\nHost: x", "Authorization: ***\r\nHost: x"),
        ("x-api-key: abcdef123456", "x-api-key: ***"),
        ('{"api-key": "abcdef123456"}', '{"api-key": "***"}'),
    ],
)
def test_secrets_and_secret_shaped_text_are_masked(text: str, expected: str) -> None:
    assert Redactor([CANARY]).scrub(text) == expected


def test_encoded_forms_of_the_key_are_masked() -> None:
    encoded = base64.b64encode(CANARY.encode()).decode()
    scrubbed = Redactor([CANARY]).scrub(f"echo {encoded} and sk-canary%2D")
    assert "c2stY2FuYXJ5" not in scrubbed


def test_hint_shows_at_most_four_trailing_characters() -> None:
    assert hint(CANARY) == "…d7a4"
    assert hint("short") == "…"
    assert hint(None) == "(none)"


def test_log_records_are_scrubbed_with_their_arguments_and_traceback() -> None:
    redactor = Redactor([CANARY])
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "key=%s", (CANARY,), None)
    try:
        raise ValueError(f"bad {CANARY}")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter(redactor).filter(record)
    formatted = logging.Formatter().format(record)
    assert CANARY not in formatted
    assert "key=***" in formatted
    assert "ValueError: bad ***" in formatted

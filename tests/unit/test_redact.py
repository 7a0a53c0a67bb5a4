"""The scrubber: no secret survives in any text that leaves the process (SEC-02, SEC-05)."""

from __future__ import annotations

import base64
import logging
import urllib.parse

import pytest

from harness.redact import RedactingFilter, Redactor, hint, redact_url

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


def test_the_base64_form_of_the_key_is_masked() -> None:
    encoded = base64.b64encode(CANARY.encode()).decode()
    assert encoded.endswith("=")
    # the form is matched without its padding, so it is found inside a longer base64 text too
    assert Redactor([CANARY]).scrub(f"echo {encoded} and more") == "echo ***= and more"


def test_the_url_encoded_form_of_the_key_is_masked() -> None:
    key = "sk-canary/5b1f+0c9e=2d7a4"
    encoded = urllib.parse.quote(key, safe="")
    assert encoded == "sk-canary%2F5b1f%2B0c9e%3D2d7a4"
    assert Redactor([key]).scrub(f"GET /v1/x?q={encoded}&n=1") == "GET /v1/x?q=***&n=1"


def test_a_prefix_of_the_key_with_an_encoded_dash_is_not_the_key_and_stays() -> None:
    assert Redactor([CANARY]).scrub("sk-canary%2D") == "sk-canary%2D"


def test_the_key_with_its_dashes_percent_encoded_is_masked() -> None:
    over_encoded = CANARY.replace("-", "%2D")
    assert Redactor([CANARY]).scrub(f"echo {over_encoded}") == "echo ***"


def test_the_key_percent_encoded_whole_in_lower_case_hex_is_masked() -> None:
    every_byte = "".join(f"%{b:02x}" for b in CANARY.encode())
    assert Redactor([CANARY]).scrub(f"a={every_byte}&b=1") == "a=***&b=1"


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


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@api.example.com/v1?key=k#frag", "https://***@api.example.com/v1"),
        ("http://@127.0.0.1:8000/v1", "http://***@127.0.0.1:8000/v1"),
        ("http://127.0.0.1:8000/v1?api_key=sk-x", "http://127.0.0.1:8000/v1"),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
    ],
)
def test_a_url_is_shown_without_credentials_query_or_fragment(url: str, shown: str) -> None:
    assert redact_url(url) == shown

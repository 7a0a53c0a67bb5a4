"""One scrubber for every text that leaves the process: logs, error details, reports.

`Redactor.scrub(text)` removes, in this order (catalogue SEC-02):

- the configured secrets (the API key), and their base64 and URL-encoded forms;
- the values of `Authorization`, `Proxy-Authorization`, `api-key` and `x-api-key` headers, and
  `Bearer …` tokens;
- URL userinfo (`https://user:pass@host` → `https://***@host`);
- the `key`, `api_key`, `apikey`, `token`, `access_token` and `sig` query parameters.

`install_log_redaction()` puts a filter on the root logger's handlers so every log record (its
message *and* its arguments, tracebacks included) is scrubbed before it is written (SEC-05).
`hint(key)` is the only way a key may be named to a person: its last four characters, and
`redact_url(url)` the only way a URL is shown in an error (no credentials, query or fragment).

Pure: standard library only.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "***"

_HEADER = re.compile(
    r"(?i)\b(authorization|proxy-authorization|api-key|x-api-key)(\"?\s*[:=]\s*\"?)([^\"\r\n,;}\]]+)"
)
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_QUERY = re.compile(r"(?i)([?&](?:key|api_key|apikey|token|access_token|sig)=)[^&#\s'\"]+")


def hint(key: str | None) -> str:
    """A key as it may be shown to a person: `…` and at most its last four characters."""
    if not key:
        return "(none)"
    return "…" + key[-4:] if len(key) >= 12 else "…"


def redact_url(url: str) -> str:
    """`url` without credentials, query or fragment: safe to print (the one way a URL is shown
    in an error)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=netloc, query="", fragment="").geturl()


def _percent_encodable(secret: str) -> str:
    """A pattern matching `secret` with any of its characters percent-encoded or not, in
    either case of hex (`-`, `%2D` and `%2d` alike; a non-ASCII character as its UTF-8
    bytes): however a URL or a form encoder spelt it."""
    parts = []
    for char in secret:
        encoded = "".join(
            f"%[{h[0]}{h[0].lower()}][{h[1]}{h[1].lower()}]"
            for h in (f"{b:02X}" for b in char.encode())
        )
        parts.append(f"(?:{re.escape(char)}|{encoded})")
    return "".join(parts)


class Redactor:
    """Scrubs known secrets and secret-shaped substrings out of text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Also scrub `secret`, its URL-encoded and base64 forms from now on."""
        if not secret or len(secret) < 4:
            return
        forms = {secret, base64.b64encode(secret.encode()).decode().rstrip("=")}
        # longest first, so a secret that contains another is replaced whole
        self._secrets = sorted(set(self._secrets) | forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(_percent_encodable(s) for s in self._secrets))

    def scrub(self, text: str) -> str:
        """`text` with every secret and secret-shaped substring replaced by `***`."""
        if self._pattern is not None and "%" in text:
            text = self._pattern.sub(MASK, text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        text = _HEADER.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
        text = _BEARER.sub("Bearer " + MASK, text)
        text = _USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
        return _QUERY.sub(lambda m: m.group(1) + MASK, text)


#: the process-wide redactor that logging uses; secrets are added as they are read
REDACTOR = Redactor()


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs each record's final text, tracebacks included."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        scrub = self._redactor.scrub
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = scrub(message)
        record.args = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def install_log_redaction(redactor: Redactor = REDACTOR) -> None:
    """Scrub every record written by the root logger's handlers (idempotent)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(redactor))

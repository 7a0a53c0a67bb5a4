"""Where requests go and how long they may take: `Target`, `Timeouts`, and Retry-After.

Values a run is configured with, parsed once and checked with one clear line. Pure: standard
library only (no gevent, no HTTP library); `harness.client` re-exports these names.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.errors import ConfigError
from harness.redact import redact_url


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Deadlines of one request, in seconds. Each has its own error class (docs/design.md).

    `stall_s` is measured between token-bearing events, so keep-alive comments cannot hold a
    dead stream open (catalogue NET-06); `ttft_s` likewise ignores everything but tokens.
    """

    connect_s: float = 10.0
    header_s: float = 60.0
    ttft_s: float = 120.0
    stall_s: float = 60.0
    total_s: float = 600.0


@dataclass(frozen=True, slots=True)
class Target:
    """Where requests go: a base URL up to and including `/v1`, split once."""

    scheme: str
    host: str
    port: int
    path_prefix: str

    @classmethod
    def parse(cls, base_url: str) -> Target:
        """Parse and check a base URL such as `http://127.0.0.1:8000/v1`."""
        url = base_url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"base URL {redact_url(url)!r}: expected http://host[:port]/v1 "
                "or https://host[:port]/v1"
            )
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise ConfigError(f"base URL {redact_url(url)!r}: bad port") from exc
        prefix = parts.path.rstrip("/")
        for suffix in ("/chat/completions", "/completions"):
            if prefix.endswith(suffix):  # catalogue CFG-06: never double the endpoint
                prefix = prefix[: -len(suffix)]
        return cls(parts.scheme, parts.hostname, port, prefix)

    @property
    def tls(self) -> bool:
        """Whether requests go over TLS (`https`)."""
        return self.scheme == "https"

    @property
    def display(self) -> str:
        """The base URL without credentials or query: safe for logs, reports and labels."""
        default = 443 if self.scheme == "https" else 80
        port = "" if self.port == default else f":{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{port}{self.path_prefix}"


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP-date; None when unreadable."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)

"""Checks of the two values that reach the wire: the base URL and the API key.

`normalise_base_url()` (catalogue CFG-06) and `check_api_key()` (CFG-09) return the cleaned
value and one-line notes on what they changed, and raise `ConfigError` for what cannot be
used — naming a key's bad character by code point and position, never printing the key.
`read_api_key_file()` is the one reader of a key file (`--llm-api-key-file`,
`LOCUST_LLM_API_KEY_FILE`, a scenario's `target.api_key_file`); URLs in its errors go through
`harness.redact.redact_url()`, the one way a URL is made safe to print. Pure: standard library
only (reading a file is its only I/O).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from harness.errors import ConfigError
from harness.redact import redact_url

if TYPE_CHECKING:
    from harness.strict_yaml import Node


def normalise_base_url(url: str, node: Node | None = None) -> tuple[str, list[str]]:
    """A base URL up to and including /v1, and notes on what was changed (catalogue CFG-06).

    A scheme (http or https) and a host are required; surrounding whitespace, a trailing
    ``/``, an endpoint suffix (``/chat/completions``), credentials and a query are removed
    with a note each; a path without ``/v1`` gets a note.
    """

    def fail(problem: str) -> ConfigError:
        return node.error(problem) if node is not None else ConfigError(f"base URL: {problem}")

    notes: list[str] = []
    stripped = url.strip()
    if stripped != url:
        notes.append("surrounding whitespace removed")
    parts = urlsplit(stripped)
    if parts.scheme not in ("http", "https") or "://" not in stripped:
        shown = redact_url(stripped)
        if "://" not in stripped:
            raise fail(
                f"expected http://host[:port]/v1 or https://host[:port]/v1, got {shown!r} "
                "(no scheme)"
            )
        raise fail(
            f"expected http://host[:port]/v1 or https://host[:port]/v1, got {shown!r} "
            f"(scheme {parts.scheme!r})"
        )
    if not parts.hostname:
        raise fail(f"expected a host in {redact_url(stripped)!r}")
    try:
        port = parts.port
    except ValueError:
        raise fail(f"bad port in {redact_url(stripped)!r} (expected 1-65535)") from None
    if port == 0:
        raise fail(f"bad port in {redact_url(stripped)!r} (expected 1-65535)")
    netloc = parts.netloc
    if "@" in netloc:
        netloc = netloc.rsplit("@", 1)[1]
        notes.append("credentials in the URL are not sent and were removed; use api_key_env")
    if parts.query or parts.fragment:
        notes.append("the query string is not sent and was removed")
    path = parts.path.rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            notes.append(f"{suffix} removed: the base URL ends before the endpoint")
            break
    if not path.endswith("/v1"):
        notes.append("the path does not end in /v1; requests go to " + (path or "") + "/…")
    return f"{parts.scheme}://{netloc}{path}", notes


_QUOTES = {0x201C, 0x201D, 0x2018, 0x2019, 0x00AB, 0x00BB}


def check_api_key(raw: str, name: str) -> tuple[str | None, list[str]]:
    """Clean and check an API key before any request (catalogue CFG-09).

    Surrounding whitespace (a trailing newline from a Kubernetes secret file) and a
    "Bearer " prefix are removed, each with a note; control and non-ASCII characters are
    refused by position and code point, never by printing the key. Empty: (None, notes).
    """
    notes: list[str] = []
    key = raw.strip()
    if key != raw:
        notes.append(f"{name}: surrounding whitespace removed from the API key")
    if key.lower().startswith("bearer "):
        key = key[7:].strip()
        notes.append(f'{name}: "Bearer " removed from the API key (the harness adds it)')
    for position, char in enumerate(key):
        if not (0x21 <= ord(char) <= 0x7E):
            hint = " (smart quote?)" if ord(char) in _QUOTES else ""
            raise ConfigError(
                f"{name}: the API key contains U+{ord(char):04X} at position {position}"
                f"{hint}; expected printable ASCII"
            )
    return (key or None), notes


#: the largest key file read: anything larger is not a key
MAX_KEY_FILE_BYTES = 64 * 1024


def read_api_key_file(path: Path, label: str = "", warnings: list[str] | None = None) -> str:
    """The API key in the file at `path`, checked like any key (catalogue CFG-09).

    UTF-8 text (a byte-order mark is dropped) of at most `MAX_KEY_FILE_BYTES`, cleaned by
    `check_api_key` (a trailing newline from a Kubernetes secret file is removed, with a
    note). Raises `ConfigError` in one line, ``"{label}: {problem}"`` (the problem alone
    without a label), never showing the key; the notes go into `warnings` with the same
    prefix.
    """
    prefix = f"{label}: " if label else ""

    def fail(problem: str) -> ConfigError:
        return ConfigError(prefix + problem)

    try:
        data = path.read_bytes()[: MAX_KEY_FILE_BYTES + 1]
    except FileNotFoundError:
        raise fail(f"no such file: {path}") from None
    except IsADirectoryError:
        raise fail(f"{path} is a directory") from None
    except OSError as exc:
        raise fail(f"cannot read {path} ({exc.strerror or exc})") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise fail(f"{path} is larger than {MAX_KEY_FILE_BYTES:,} bytes; not a key")
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise fail(f"{path} is not UTF-8 text") from None
    try:
        key, notes = check_api_key(raw, f"the key in {path.name}")
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if key is None:
        raise fail(f"{path} is empty")
    if warnings is not None:
        warnings.extend(prefix + note for note in notes)
    return key

"""Preflight: check the target before ramp-up, and fail fast with one line.

Before any user starts, one `GET {base}/models` shows whether the endpoint can be reached, the
key is accepted and the model is served (catalogue CFG-10, NET-01, NET-02, NET-16). Thousands of
identical failures tell a person less than one sentence: "cannot connect to
http://127.0.0.1:1/v1 (connection refused)". A 404 on `/models` is only a warning when the base
URL ends in `/v1` (some servers do not list models); without `/v1` it is the usual mistake, and
the error says so. A 503 (llama.cpp while it loads its model) is waited for, up to
`--llm-preflight-wait`. A refusal (400, 401, 403, 500, …) stops the run with the status and the
server's own message, redacted.

The models request is the protocol's (`WireProtocol.models_path`, `models_headers`,
`read_models`) and is sent from one place, `request_models()`: by preflight, and by a user
that has to discover the model (preflight skipped, or on a worker).
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.errors import ConfigError, HarnessError
from harness.protocols import WireProtocol
from harness.protocols.registry import make_protocol
from harness.redact import REDACTOR, hint
from harness.target import Target
from harness.transport.geventhttp import Fetched, fetch


class PreflightError(HarnessError):
    """The target cannot serve the run; the message is one line for a person."""


@dataclass(frozen=True, slots=True)
class PreflightResult:
    """What the server told us: the models it lists (empty if it does not say)."""

    models: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())


#: how often a 503 answer is checked again while preflight waits
RECHECK_S = 1.0
#: longest server error message quoted in a preflight error line
MESSAGE_CHARS = 200
_KEY_SHAPED = re.compile(r"\b(sk-|sk_)[A-Za-z0-9._\-]{4,}")
#: timeouts of a user's model discovery (geventhttpclient's default connect timeout)
DISCOVERY_CONNECT_S = 5.0
DISCOVERY_NETWORK_S = 10.0


def request_models(
    target: Target,
    protocol: WireProtocol,
    api_key: str | None,
    *,
    connection_timeout_s: float,
    network_timeout_s: float,
) -> Fetched:
    """The one models request: `GET {base}{models_path}` with the protocol's headers.
    Socket, ssl and HTTP exceptions are raised as they come."""
    return fetch(
        target,
        target.path_prefix + protocol.models_path,
        protocol.models_headers(api_key),
        connection_timeout_s=connection_timeout_s,
        network_timeout_s=network_timeout_s,
    )


def discover_model(target: Target, protocol: WireProtocol, api_key: str | None) -> str:
    """The first model the target lists; `ConfigError` (one line) when it lists none."""
    try:
        answer = request_models(
            target,
            protocol,
            api_key,
            connection_timeout_s=DISCOVERY_CONNECT_S,
            network_timeout_s=DISCOVERY_NETWORK_S,
        )
        return protocol.read_models(answer.body)[0]
    except Exception as exc:  # noqa: BLE001 - turned into one clear line
        raise ConfigError(
            f"no model given and GET {target.display}{protocol.models_path} did not list one "
            f"({type(exc).__name__}); pass --llm-model NAME"
        ) from None


def preflight(
    target: Target,
    *,
    api_key: str | None,
    model: str,
    api_key_env: str = "OPENAI_API_KEY",
    timeout_s: float = 10.0,
    wait_s: float = 60.0,
    on_wait: Callable[[str], None] | None = None,
    protocol: WireProtocol | None = None,
) -> PreflightResult:
    """Check `target` with `GET /models`; raise `PreflightError` when the run cannot work.

    A 503 (a server still loading its model) is checked again every `RECHECK_S` for up to
    `wait_s`; `on_wait` is told once, with one line, that preflight waits. A 404 is a
    warning when the base URL ends in `/v1` (some servers list no models), else an error
    suggesting `/v1`; 400, 401, 403, other refusals and 5xx are errors quoting the status
    and the server's own message (redacted, one line).
    """
    protocol = protocol if protocol is not None else make_protocol()
    url = f"{target.display}{protocol.models_path}"
    deadline: float | None = None
    while True:
        status, body, retry_after = _get_models(target, protocol, api_key, timeout_s)
        if status != 503:
            break
        now = time.perf_counter()
        reason = _server_message(body) or "Service Unavailable"
        if deadline is None:
            deadline = now + wait_s
            if wait_s > 0 and on_wait is not None:
                on_wait(
                    f"GET {url} answers 503 ({reason}): waiting up to {wait_s:g}s for the "
                    "server to be ready (--llm-preflight-wait)"
                )
        if now >= deadline:
            waited = f" after waiting {wait_s:g}s (--llm-preflight-wait)" if wait_s > 0 else ""
            raise PreflightError(f"GET {url} still answers 503 ({reason}){waited}")
        pause = min(retry_after or RECHECK_S, RECHECK_S * 5)
        time.sleep(max(min(pause, deadline - now), 0.0))

    if status in (401, 403):
        key = f"key {hint(api_key)}" if api_key else f"no key: set {api_key_env}"
        raise PreflightError(
            f"authentication failed at {url} (HTTP {status}, {key}){_quoted(body)}"
        )
    if status == 404:
        if not target.path_prefix.endswith("/v1"):
            raise PreflightError(
                f"GET {url} returned 404: the base URL usually ends in /v1 — try "
                f"--host {target.display}/v1"
            )
        return PreflightResult(warnings=(f"GET {url} returned 404: the model is not checked",))
    if _refused(status):
        # a gateway without a key may answer anything (LiteLLM 1.108: a bare 500)
        unkeyed = "" if api_key else f" (no API key was sent: set {api_key_env})"
        raise PreflightError(f"GET {url} returned HTTP {status}{_quoted(body)}{unkeyed}")
    if not 200 <= status < 300:
        return PreflightResult(warnings=(f"GET {url} returned HTTP {status}",))
    models = _model_ids(protocol, body)
    if model and models and model not in models:
        listed = ", ".join(models[:10]) + (" …" if len(models) > 10 else "")
        raise PreflightError(
            f"model {model!r} is not served by {target.display}; it lists: {listed}"
        )
    if not model and not models:
        raise PreflightError(f"no model given and {url} lists none; pass --llm-model NAME")
    return PreflightResult(models=tuple(models))


def _refused(status: int) -> bool:
    """Whether a `/models` status says the run cannot work.

    Any 4xx but 404 (no model list), 405 (no GET there) and 429 (rate limited: the run
    measures that); any 5xx but 501 (not implemented) and 503 (waited for above).
    """
    if 400 <= status < 500:
        return status not in (404, 405, 429)
    return status >= 500 and status not in (501, 503)


def _get_models(
    target: Target, protocol: WireProtocol, api_key: str | None, timeout_s: float
) -> tuple[int, bytes, float | None]:
    """One models request: status, body (up to 64 KiB) and Retry-After in seconds."""
    try:
        answer = request_models(
            target, protocol, api_key, connection_timeout_s=timeout_s, network_timeout_s=timeout_s
        )
    except socket.gaierror:
        raise PreflightError(f"cannot resolve {target.host} (DNS lookup failed)") from None
    except ConnectionRefusedError:
        raise PreflightError(f"cannot connect to {target.display} (connection refused)") from None
    except ssl.SSLError as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise PreflightError(f"TLS handshake with {target.display} failed ({reason})") from None
    except TimeoutError:
        raise PreflightError(
            f"no answer from {target.display} within {timeout_s:g}s (connect or read timeout)"
        ) from None
    except OSError as exc:
        raise PreflightError(
            f"cannot connect to {target.display} ({exc.strerror or type(exc).__name__})"
        ) from None
    retry_after = _seconds(answer.headers.get("retry-after"))
    return answer.status, answer.body[:65536], retry_after


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 3600 else None


def _server_message(body: bytes) -> str:
    """The server's own error message, redacted and cut to one short line ("" if none).

    OpenAI-style `{"error": {"message": …}}`, `{"error": "…"}`, FastAPI's `{"detail": …}`,
    `{"message": …}`, else the body's text.
    """
    text = body.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        found: object = doc.get("error", doc.get("detail", doc.get("message")))
        if isinstance(found, dict):
            found = found.get("message", found.get("detail", found))
        if found is not None:
            text = found if isinstance(found, str) else json.dumps(found)
    line = " ".join(text.split())
    line = _KEY_SHAPED.sub(lambda m: m.group(1) + "***", REDACTOR.scrub(line))
    if len(line) > MESSAGE_CHARS:
        line = line[: MESSAGE_CHARS - 1] + "…"
    return line


def _quoted(body: bytes) -> str:
    message = _server_message(body)
    return f": {message}" if message else ""


def _model_ids(protocol: WireProtocol, body: bytes) -> list[str]:
    try:
        return protocol.read_models(body)
    except (ValueError, KeyError, TypeError):
        return []

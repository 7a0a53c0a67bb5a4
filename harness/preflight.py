"""Preflight: check the target before ramp-up, and fail fast with one line.

Before any user starts, one `GET {base}/models` shows whether the endpoint can be reached, the
key is accepted and the model is served (catalogue CFG-10, NET-01, NET-02, NET-16). Thousands of
identical failures tell a person less than one sentence: "cannot connect to
http://127.0.0.1:1/v1 (connection refused)". A 404 on `/models` is only a warning: some servers
do not list models.
"""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import dataclass, field

from geventhttpclient import HTTPClient

from harness.client import Target
from harness.errors import HarnessError
from harness.redact import hint


class PreflightError(HarnessError):
    """The target cannot serve the run; the message is one line for a person."""


@dataclass(frozen=True, slots=True)
class PreflightResult:
    """What the server told us: the models it lists (empty if it does not say)."""

    models: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())


def preflight(
    target: Target,
    *,
    api_key: str | None,
    model: str,
    api_key_env: str = "OPENAI_API_KEY",
    timeout_s: float = 10.0,
) -> PreflightResult:
    """Check `target` with `GET /models`; raise `PreflightError` when the run cannot work."""
    url = f"{target.display}/models"
    http = HTTPClient(
        target.host,
        target.port,
        ssl=target.scheme == "https",
        connection_timeout=timeout_s,
        network_timeout=timeout_s,
        concurrency=1,
    )
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    try:
        response = http.get(target.path_prefix + "/models", headers=headers)
        status = response.status_code
        body = response.read()
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
    finally:
        http.close()

    if status in (401, 403):
        key = f"key {hint(api_key)}" if api_key else f"no key: set {api_key_env}"
        raise PreflightError(f"authentication failed at {url} (HTTP {status}, {key})")
    if status == 404:
        return PreflightResult(warnings=(f"GET {url} returned 404: the model is not checked",))
    if not 200 <= status < 300:
        return PreflightResult(warnings=(f"GET {url} returned HTTP {status}",))
    models = _model_ids(body)
    if model and models and model not in models:
        listed = ", ".join(models[:10]) + (" …" if len(models) > 10 else "")
        raise PreflightError(
            f"model {model!r} is not served by {target.display}; it lists: {listed}"
        )
    if not model and not models:
        raise PreflightError(f"no model given and {url} lists none; pass --llm-model NAME")
    return PreflightResult(models=tuple(models))


def _model_ids(body: bytes) -> list[str]:
    try:
        doc = json.loads(body)
        return [str(item["id"]) for item in doc["data"] if isinstance(item, dict) and "id" in item]
    except (ValueError, KeyError, TypeError):
        return []

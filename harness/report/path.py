"""What the path to the server did: its headers per mode, and the anomalies that change a reading.

A gateway or a proxy between the load generator and the model server changes what the
figures mean: a buffering proxy delivers several tokens in one read (ITL understated), a
gateway may cover an upstream truncation with an invented finish (its usage then counts more
tokens than it delivered), an endpoint may ignore `stream: true`. The client records, per
response, the headers that tell (`RequestRecord.path_headers`); `harness.events` keeps the most
recent non-empty set per mode (`merge_server_path`) as summary.json's `run.server_path`. The
functions here turn that and a mode's figures into the sentences every report shows
(terminal, summary.md, report.html, the web UI's LLM tab); docs/design.md ("Anomalies")
explains each kind at length.

Pure module: standard library only, a function of its arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from harness.errors import MODES

#: The keys of one mode's `run.server_path` entry, in display order.
PATH_KEYS = (
    "gateway",
    "x-litellm-version",
    "server",
    "via",
    "x-accel-buffering",
    "content-encoding",
)
#: Longest header value kept (the client truncates to the same).
MAX_VALUE_CHARS = 100
#: Gateways recognised by their headers, by the `gateway` value the client sets.
GATEWAY_NAMES = {"litellm": "LiteLLM"}

#: The anomaly kinds that change how the figures read, in the order the reports list them
#: (`stream_not_honored` is not listed: it gets its own warning, `stream_not_honored_warning`).
PATH_ANOMALIES = ("token_count_mismatch", "burst_delivery", "reconnect")

_MEANING = {
    "burst_delivery": (
        "several tokens arrived in one read: a buffering proxy, a server writing tokens "
        "together, or a load generator too busy to read between them; the gaps inside a "
        "burst are 0, so ITL is understated"
    ),
    "reconnect": (
        "the server had closed a kept-alive connection, so the request was written again on "
        "a fresh one: not counted as a failure, and not inside TTFT"
    ),
}


class PathAnomaly(NamedTuple):
    """One anomaly kind that occurred in a mode: how often, and what it means."""

    kind: str
    times: int
    meaning: str


# ------------------------------------------------------------------ the server path


def clean_path_headers(headers: Any) -> dict[str, str]:
    """The `PATH_KEYS` of `headers` with non-empty string values, each cut to
    `MAX_VALUE_CHARS`; a gateway recognised by `x-litellm-version` alone is named."""
    if not isinstance(headers, Mapping):
        return {}
    clean: dict[str, str] = {}
    for key in PATH_KEYS:
        value = headers.get(key)
        if isinstance(value, str) and value:
            clean[key] = value[:MAX_VALUE_CHARS]
    if "gateway" not in clean and "x-litellm-version" in clean:
        clean["gateway"] = "litellm"
    return clean


def merge_server_path(into: dict[str, dict[str, str]], mode: str, headers: Any) -> bool:
    """Keep `headers` (cleaned) as `mode`'s server path when it is non-empty: the most
    recent response wins, so a path that changes during the run shows as it ended. Only
    `MODES` are kept. True when `into` changed."""
    if mode not in MODES:
        return False
    clean = clean_path_headers(headers)
    if not clean or into.get(mode) == clean:
        return False
    into[mode] = clean
    return True


def gateway_name(headers: Mapping[str, Any] | None) -> str | None:
    """The display name of the gateway `headers` show (``LiteLLM``), else None."""
    if not isinstance(headers, Mapping):
        return None
    gateway = headers.get("gateway")
    if not isinstance(gateway, str) or not gateway:
        return "LiteLLM" if headers.get("x-litellm-version") else None
    return GATEWAY_NAMES.get(gateway, gateway[:MAX_VALUE_CHARS])


def describe_path(headers: Mapping[str, Any] | None) -> str | None:
    """One mode's server path in words, e.g. ``through a LiteLLM gateway (version 1.74.9);
    Server: uvicorn; X-Accel-Buffering: no``; None when nothing is known."""
    clean = clean_path_headers(headers)
    if not clean:
        return None
    parts = []
    gateway = gateway_name(clean)
    if gateway is not None:
        version = clean.get("x-litellm-version")
        parts.append(f"through a {gateway} gateway" + (f" (version {version})" if version else ""))
    for key, label in (
        ("server", "Server"),
        ("via", "Via"),
        ("x-accel-buffering", "X-Accel-Buffering"),
        ("content-encoding", "Content-Encoding"),
    ):
        if key in clean:
            parts.append(f"{label}: {clean[key]}")
    return "; ".join(parts)


def server_paths(summary: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """`run.server_path` of a summary document, cleaned; {} when absent."""
    run = summary.get("run")
    paths = run.get("server_path") if isinstance(run, Mapping) else None
    if not isinstance(paths, Mapping):
        return {}
    out = {}
    for mode in MODES:
        clean = clean_path_headers(paths.get(mode))
        if clean:
            out[mode] = clean
    return out


# ------------------------------------------------------------------ anomalies


def token_count_meaning(mismatch: int, excess: int | None, gateway: str | None) -> str:
    """What `mismatch` requests whose server usage disagreed with the chunks received mean;
    `excess` of them had usage above the chunks (None: not known, an older summary)."""
    if excess is None:
        return (
            "the server's usage disagreed with the token-bearing chunks received; output "
            "tokens are taken from the usage"
        )
    if excess == 0:
        return (
            "the server's usage counted fewer output tokens than token-bearing chunks arrived; "
            "output tokens are taken from the usage"
        )
    share = "" if excess == mismatch else f" ({excess:,} of them)"
    if gateway is not None:
        return (
            f"the gateway reported more tokens than it delivered{share}: its usage counts "
            "output tokens that never arrived, as when it covers a truncated upstream stream "
            "with an invented finish (those requests count as ok)"
        )
    return (
        f"the server reported more tokens than it delivered as chunks{share}: either chunks "
        "carry several tokens each (then ITL is per chunk), or something on the path cut the "
        "stream and reported a finish"
    )


def path_anomalies(
    figures: Mapping[str, Any], headers: Mapping[str, Any] | None = None
) -> list[PathAnomaly]:
    """The `PATH_ANOMALIES` that occurred in one mode's `figures`, with what each means.

    `headers` is the mode's server path (a recognised gateway changes what a token count
    mismatch means). Reconnects come from the mode's `reconnects` total, else from the
    `reconnect` anomaly count.
    """
    tally = figures.get("anomalies")
    kinds = tally if isinstance(tally, Mapping) else {}
    found = []
    mismatch = _int(figures.get("token_count_mismatch")) or _int(kinds.get("token_count_mismatch"))
    if mismatch:
        excess = _int(figures.get("token_count_excess"))
        known = excess if "token_count_excess" in figures else None
        meaning = token_count_meaning(mismatch, known, gateway_name(headers))
        found.append(PathAnomaly("token_count_mismatch", mismatch, meaning))
    bursts = _int(kinds.get("burst_delivery"))
    if bursts:
        found.append(PathAnomaly("burst_delivery", bursts, _MEANING["burst_delivery"]))
    reconnects = _int(figures.get("reconnects")) or _int(kinds.get("reconnect"))
    if reconnects:
        found.append(PathAnomaly("reconnect", reconnects, _MEANING["reconnect"]))
    return found


def stream_not_honored_warning(figures: Mapping[str, Any]) -> str | None:
    """The once-per-run warning when the endpoint answered stream requests with one JSON
    body; None when it did not."""
    tally = figures.get("anomalies")
    n = _int(tally.get("stream_not_honored")) if isinstance(tally, Mapping) else 0
    if not n:
        return None
    requests = "request was" if n == 1 else "requests were"
    return (
        f"Warning: the endpoint does not stream: {n:,} stream {requests} answered with one "
        "JSON body (stream_not_honored); they count as successes with an E2E but no TTFT "
        "or ITL."
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

"""What the mock received, request by request, for ``/mock/stats`` ``received``.

A test that drives a workload (multi-turn conversations, a shared prefix, a length
distribution) checks it at the server: `ReceivedLog` keeps, in arrival order, one entry per
accepted generation request (a valid body, whatever its answer: faults included), made of what
the request asked for and what the mock read of its prompt (`harness.mock.prompt.Prompt`). The
entry is recorded when the request has been parsed, before its reply is scheduled; the log
holds a reference to the request and builds the JSON only when asked. It keeps the first
``cap`` entries (default 10,000), counts the rest and says ``received_truncated: true``.
Standard library only; like the rest of the mock it must not import the harness: the mock is
the yardstick.
"""

from __future__ import annotations

import threading

from harness.mock.completions import Endpoint, Generation

__all__ = ["DEFAULT_RECEIVED_CAP", "ReceivedLog", "received_entry"]

#: entries kept at most; later requests are counted, not kept
DEFAULT_RECEIVED_CAP = 10_000


#: the ``protocol`` of an entry, for the routes other than OpenAI's (whose entries have none)
_PROTOCOLS = {Endpoint.MESSAGES: "anthropic", Endpoint.RESPONSES: "responses"}


def received_entry(gen: Generation) -> dict[str, object]:
    """One ``received`` entry: ``mode`` (stream or batch), ``prompt_tokens``, ``messages``,
    ``max_tokens``, ``ignore_eos``, ``min_tokens``, ``roles``, ``assistant``, ``first_user``,
    ``last_user``, ``prefix_sha1`` (see `harness.mock.prompt.Prompt` for what each says);
    ``protocol`` (``anthropic``, ``responses``) for ``/v1/messages`` and ``/v1/responses``."""
    prompt = gen.prompt
    entry: dict[str, object] = {
        "mode": "stream" if gen.stream else "batch",
        "prompt_tokens": prompt.tokens,
        "messages": prompt.messages,
        "max_tokens": gen.max_tokens,
        "ignore_eos": gen.ignore_eos,
        "min_tokens": gen.min_tokens,
        "roles": list(prompt.roles),
        "assistant": list(prompt.assistant),
        "first_user": prompt.first_user,
        "last_user": prompt.last_user,
        "prefix_sha1": prompt.prefix_sha1,
    }
    protocol = _PROTOCOLS.get(gen.endpoint)
    if protocol is not None:
        entry["protocol"] = protocol
    return entry


class ReceivedLog:
    """The accepted generation requests, in arrival order; thread-safe, bounded by ``cap``."""

    def __init__(self, cap: int = DEFAULT_RECEIVED_CAP) -> None:
        if cap < 1:
            raise ValueError(f"cap must be >= 1, got {cap}")
        self.cap = cap
        self._lock = threading.Lock()
        self._kept: list[Generation] = []
        self._count = 0

    def record(self, gen: Generation) -> None:
        """One request, as parsed (a reference: nothing is built here)."""
        with self._lock:
            self._count += 1
            if len(self._kept) < self.cap:
                self._kept.append(gen)

    def snapshot(self, *, reset: bool = False) -> dict[str, object]:
        """``{"received": [entry, …], "received_truncated": bool}``: the first ``cap`` requests
        (see `received_entry`), and whether later ones were not kept. ``reset`` forgets them
        all after reading."""
        with self._lock:
            kept, count = self._kept, self._count
            if reset:
                self._kept, self._count = [], 0
            else:
                kept = kept[:]
        return {
            "received": [received_entry(gen) for gen in kept],
            "received_truncated": count > len(kept),
        }

"""What the client tests share: the scripted server's address and counters, one request
sent the way every test sends it, and the catalogue's CI tolerance."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from harness.client import LLMClient, Timeouts
from harness.errors import ErrorClass, Mode, Outcome
from harness.record import RequestRecord

TOL = 0.015  # catalogue §0: ±15 ms on CI
FAST = Timeouts(connect_s=1.0, header_s=2.0, ttft_s=2.0, stall_s=2.0, total_s=3.0)


@dataclass(frozen=True)
class Server:
    url: str

    def base(self, case: str) -> str:
        return f"{self.url}/case/{case}/v1"

    def counts(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/counts", timeout=5) as reply:
            doc: dict[str, Any] = json.load(reply)
        return doc

    def requests(self, case: str) -> int:
        return int(self.counts()["requests"].get(case, 0))

    def connections(self, case: str) -> list[int]:
        return list(self.counts()["connections"].get(case, []))

    def wait_ended(self, serial: int, within_s: float = 2.0) -> bool:
        """Whether the server saw connection `serial` end within `within_s`."""
        deadline = time.monotonic() + within_s
        while serial not in self.counts()["ended"]:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True


MakeClient = Callable[..., LLMClient]


def send(client: LLMClient, mode: Mode) -> RequestRecord:
    """One request; no exception may escape, and the error class matches the outcome."""
    record = client.new_record(mode, "m")
    body = client.protocol.build_body(model="m", prompt="hi", stream=mode is Mode.STREAM)
    try:
        client.send(record, body)
    except Exception as exc:  # noqa: BLE001 - the point: nothing escapes send()
        pytest.fail(f"send() raised {exc!r}")
    if record.outcome is Outcome.FAILED:
        assert isinstance(record.error_class, ErrorClass)
    else:
        assert record.error_class is None, record.error_class
    assert record.outcome is not None
    return record


def near(value: float | None, expected: float) -> bool:
    return value is not None and abs(value - expected) <= TOL

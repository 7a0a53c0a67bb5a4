"""Shared fixtures: the embedded mock server as a real process on loopback.

The mock always runs in its own process: test modules that import Locust monkey-patch the
pytest process with gevent, and the yardstick must not share a loop with what it measures.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Terminate `process` (then kill it if it lingers) and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def counts_by_mode(stats: dict[str, Any], table: str = "requests") -> dict[str, int]:
    """A `/mock/stats` count table (endpoint → mode → n), summed over endpoints by mode."""
    counts: dict[str, int] = {}
    for by_mode in stats[table].values():
        for mode, n in by_mode.items():
            counts[mode] = counts.get(mode, 0) + int(n)
    return counts


@dataclass
class MockProcess:
    """A running mock server: its base URL (…/v1) and its process."""

    url: str
    process: subprocess.Popen[str]

    @property
    def origin(self) -> str:
        return self.url.removesuffix("/v1")

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.origin + "/mock/stats", timeout=5) as response:
            data: dict[str, Any] = json.load(response)
        return data


@contextlib.contextmanager
def run_mock(*args: str, cpu: int | None = None) -> Iterator[MockProcess]:
    """Start `python -m harness.mock --port 0 ARGS…` and stop it afterwards."""
    cmd = [sys.executable, "-m", "harness.mock", "--port", "0", *args]
    if cpu is not None and (os.cpu_count() or 1) > cpu:
        cmd += ["--cpu", str(cpu)]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://\S+/v1)", line)
        assert match, f"mock did not start: {line!r}"
        yield MockProcess(match.group(1), process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def mock_server() -> Iterator[MockProcess]:
    """A mock with the acceptance profile: TTFT 200 ms, ITL 20 ms, 64 tokens."""
    with run_mock("--ttft", "200ms", "--itl", "20ms", "--tokens", "64", cpu=1) as mock:
        yield mock

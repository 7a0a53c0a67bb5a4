"""Fixtures of the integration tests: the scripted server (a subprocess) and clients of it."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from harness.client import LLMClient, Target, Timeouts
from tests.conftest import ROOT
from tests.integration.scripted import FAST, MakeClient, Server


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.scripted_server"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        match = re.fullmatch(r"scripted listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match is not None, f"unexpected first line {line!r}"
        yield Server(match[1])
    finally:
        proc.kill()
        proc.wait(timeout=5)
        proc.stdout.close()


@pytest.fixture
def make_client(server: Server) -> Iterator[MakeClient]:
    clients: list[LLMClient] = []

    def make(case: str, timeouts: Timeouts = FAST, *, base_url: str | None = None) -> LLMClient:
        url = base_url if base_url is not None else server.base(case)
        client = LLMClient(target=Target.parse(url), timeouts=timeouts, keep_text=True)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()

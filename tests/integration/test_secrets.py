"""Catalogue SEC-01: the canary sweep. A real run at DEBUG level with every sink switched on; the
API key must appear nowhere a person or another program can read: stdout, stderr, reports, the
web UI's pages and JSON, /metrics."""

from __future__ import annotations

import base64
import gzip
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, http_get, run_mock
from tests.conftest import free_port as _free_port

pytestmark = pytest.mark.slow

CANARY = "sk-canary-5b1f0c9e2d7a4"


def _forms(secret: str) -> list[str]:
    """The key and the encodings it could leak in (base64 at each alignment, URL-encoded)."""
    forms = {secret, urllib.parse.quote(secret, safe=""), f"Bearer {secret}"}
    for offset in range(3):
        encoded = base64.b64encode(("x" * offset + secret).encode()).decode()
        forms.add(encoded[4 * ((offset + 2) // 3) : -4])  # the part that depends on the key only
    return sorted(forms)


def test_the_api_key_appears_nowhere(tmp_path: Path) -> None:
    web_port, metrics_port = _free_port(), _free_port()
    out = tmp_path / "report"
    texts: dict[str, str] = {}
    with run_mock("--ttft", "20ms", "--itl", "5ms", "--tokens", "8") as mock:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "locust", "-f", str(ROOT / "locustfiles/batch_vs_stream.py"),
                "--host", mock.url, "--web-host", "127.0.0.1", "--web-port", str(web_port),
                "--autostart", "-u", "4", "-r", "4", "-t", "4s", "--autoquit", "3",
                "--loglevel", "DEBUG", "--llm-out", str(out),
                "--llm-prometheus-port", str(metrics_port), "--llm-prometheus-linger", "1s",
            ],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "OPENAI_API_KEY": CANARY},
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{web_port}"
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    if '"stream e2e"' in http_get(base + "/stats/requests"):
                        break
                except OSError:
                    pass
                time.sleep(0.3)
            for path in (
                "/", "/stats/requests", "/stats/failures/csv", "/exceptions",
                "/stats/requests/csv", "/llm/stats", "/llm/summary.json", "/llm/summary.md",
            ):  # fmt: skip
                texts[f"web {path}"] = http_get(base + path)
            texts["/metrics"] = http_get(f"http://127.0.0.1:{metrics_port}/metrics")
        finally:
            stdout, stderr = process.communicate(timeout=60)
    texts["stdout"], texts["stderr"] = stdout, stderr
    for file in out.iterdir():
        data = gzip.decompress(file.read_bytes()) if file.suffix == ".gz" else file.read_bytes()
        texts[str(file.name)] = data.decode(errors="replace")

    assert '"stream e2e"' in texts["web /stats/requests"]  # the run really sent requests
    assert "llm_requests_total" in texts["/metrics"]
    assert {"summary.json", "summary.md", "requests.jsonl.gz"} <= set(texts)
    assert "DEBUG" in stderr  # and it really logged at DEBUG
    leaks = [
        (where, form) for where, text in texts.items() for form in _forms(CANARY) if form in text
    ]
    assert leaks == []

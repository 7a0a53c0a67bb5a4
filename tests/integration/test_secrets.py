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
#: a second target's own key (`targets:` with `api_key_env`)
TARGET_CANARY = "sk-canary-target-77c3a90e"


def _forms(secret: str) -> list[str]:
    """The key and the encodings it could leak in (base64 at each alignment, URL-encoded)."""
    forms = {secret, urllib.parse.quote(secret, safe=""), f"Bearer {secret}"}
    for offset in range(3):
        encoded = base64.b64encode(("x" * offset + secret).encode()).decode()
        forms.add(encoded[4 * ((offset + 2) // 3) : -4])  # the part that depends on the key only
    return sorted(forms)


@pytest.mark.parametrize("targets", [False, True], ids=["one target", "two targets"])
def test_the_api_key_appears_nowhere(tmp_path: Path, targets: bool) -> None:
    web_port, metrics_port = _free_port(), _free_port()
    out = tmp_path / "report"
    texts: dict[str, str] = {}
    row = '"a: stream e2e"' if targets else '"stream e2e"'
    with run_mock("--ttft", "20ms", "--itl", "5ms", "--tokens", "8") as mock:
        where = ["--host", mock.url]
        if targets:  # the second target has a key of its own
            scenario = tmp_path / "targets.yaml"
            scenario.write_text(
                f"targets:\n  - {{name: a, base_url: {mock.url}}}\n"
                f"  - {{name: b, base_url: {mock.url}, api_key_env: TARGET_KEY}}\n",
                encoding="utf-8",
            )
            where = ["--llm-scenario", str(scenario)]
        process = subprocess.Popen(
            [
                sys.executable, "-m", "locust", "-f", str(ROOT / "locustfiles/batch_vs_stream.py"),
                *where, "--web-host", "127.0.0.1", "--web-port", str(web_port),
                "--autostart", "-u", "4", "-r", "4", "-t", "4s", "--autoquit", "3",
                "--loglevel", "DEBUG", "--llm-out", str(out),
                "--llm-prometheus-port", str(metrics_port), "--llm-prometheus-linger", "1s",
            ],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "OPENAI_API_KEY": CANARY, "TARGET_KEY": TARGET_CANARY},
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{web_port}"
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    if row in http_get(base + "/stats/requests"):
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

    assert row in texts["web /stats/requests"]  # the run really sent requests
    assert "llm_requests_total" in texts["/metrics"]
    assert {"summary.json", "summary.md", "requests.jsonl.gz"} <= set(texts)
    assert "DEBUG" in stderr  # and it really logged at DEBUG
    forms = _forms(CANARY) + _forms(TARGET_CANARY)
    leaks = [(place, form) for place, text in texts.items() for form in forms if form in text]
    assert leaks == []

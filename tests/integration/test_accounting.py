"""Catalogue MEAS-01: accounting invariants of a real Locust run under the full fault mix.

50 users, both modes, for 60 s against the mock with a dozen fault kinds injected at fixed
probabilities (and the benign ones too). Every request must be accounted for once, in every
place that counts it, and every injected fault must come back as exactly the error class (or
outcome) that `harness.mock.faults.FAULTS` maps it to:

- Locust's rows (success + failure) = summary.json requests = the mock's accepted requests;
- summary.json's per-class error counts (and `empty`, `ok` outcomes) = the mock's injected
  counts mapped through `FAULTS`, per mode, exactly;
- Locust's failure table has one row per (mode, class) that occurred, named by the class
  alone, so at most |error classes| rows per mode;
- every successful stream has a TTFT sample;
- `llm_requests_total` scraped from /metrics after the run equals Locust's totals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ErrorClass
from harness.mock.faults import FAULTS, OK
from tests.conftest import ROOT, pin_to_cpu, run_mock
from tests.conftest import free_port as _free_port

pytestmark = pytest.mark.slow

USERS = 50
RUN_TIME_S = 60
STALL_TIMEOUT = "1s"  # shorter than the injected stall (2 s): the stall is stall_timeout
MIX = {
    "rate_limited": 0.04,
    "http_500": 0.02,
    "http_502": 0.01,
    "http_503": 0.01,
    "reset_mid_stream": 0.03,
    "stall": 0.01,
    "truncated": 0.02,
    "inband_error": 0.02,
    "inband_error_vllm": 0.01,
    "inband_error_tgi": 0.01,
    "inband_error_llamacpp": 0.01,
    "error_body_200": 0.01,
    "error_json_in_sse": 0.01,
    "malformed_json": 0.02,
    "html_200": 0.02,
    "empty": 0.02,
    "keepalive": 0.02,
    "crlf": 0.01,
    "multi_token": 0.01,
    "utf8_split": 0.01,
    "slow_headers": 0.005,
}

# the test's own locustfile: the harness's users, plus Locust's failure table at the end
LOCUSTFILE = """
import json
import os

from locust import events

from harness.users import BatchUser, StreamingUser


@events.quitting.add_listener
def _dump_failures(environment, **_):
    rows = [
        {"name": e.name, "error": e.parse_error(e.error), "occurrences": e.occurrences}
        for e in environment.runner.stats.errors.values()
    ]
    with open(os.environ["FAILURES_JSON"], "w") as f:
        json.dump(rows, f)
"""


def _metrics(url: str) -> dict[tuple[str, str, str], float]:
    """`llm_requests_total` by (mode, outcome, error_class), from the exposition text."""
    with urllib.request.urlopen(url, timeout=5) as reply:
        text = reply.read().decode()
    out: dict[tuple[str, str, str], float] = {}
    for line in text.splitlines():
        if not line.startswith("llm_requests_total{"):
            continue
        labels_text, value = line[len("llm_requests_total{") :].rsplit("} ", 1)
        labels = dict(
            (part.split("=", 1)[0], part.split("=", 1)[1].strip('"'))
            for part in labels_text.split('",')
            if "=" in part
        )
        key = (labels["mode"], labels["outcome"], labels["error_class"])
        out[key] = out.get(key, 0.0) + float(value)
    return out


def test_every_request_and_every_injected_fault_is_accounted_for_exactly(tmp_path: Path) -> None:
    out = tmp_path / "report"
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    failures_json = tmp_path / "failures.json"
    metrics_port = _free_port()
    faults = ",".join(f"{name}:{p}" for name, p in MIX.items())
    mock_args = (
        "--ttft", "20ms", "--itl", "5ms", "--tokens", "16", "--faults", faults,
        "--fault-seed", "3", "--fault-stall-length", "2s", "--fault-header-delay", "200ms",
    )  # fmt: skip
    with run_mock(*mock_args, cpu=1) as mock:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
                "--host", mock.url, "-u", str(USERS), "-r", str(USERS),
                "-t", f"{RUN_TIME_S}s", "--stop-timeout", "20", "--exit-code-on-error", "0",
                "--only-summary", "--llm-out", str(out), "--json-file", str(tmp_path / "locust"),
                "--llm-stall-timeout", STALL_TIMEOUT, "--llm-prometheus-port", str(metrics_port),
                "--llm-prometheus-linger", "3s",
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "FAILURES_JSON": str(failures_json)}, preexec_fn=pin_to_cpu(0),
        )  # fmt: skip
        try:
            # the summary is written when the run ends; /metrics keeps serving (linger)
            deadline = time.monotonic() + RUN_TIME_S + 60
            while not (out / "summary.json").exists():
                assert process.poll() is None, process.communicate()[1][-3000:]
                assert time.monotonic() < deadline, "the run did not end"
                time.sleep(0.2)
            time.sleep(0.3)
            metrics = _metrics(f"http://127.0.0.1:{metrics_port}/metrics")
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        mock_stats = mock.stats()
    assert process.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]

    summary = json.loads((out / "summary.json").read_text())
    modes: dict[str, Any] = summary["modes"]
    rows = {row["name"]: row for row in json.loads((tmp_path / "locust.json").read_text())}
    failures = json.loads(failures_json.read_text())
    injected: dict[str, dict[str, int]] = mock_stats["injected_by_mode"]
    received = {
        mode: sum(by_mode.get(mode, 0) for by_mode in mock_stats["requests"].values())
        for mode in ("stream", "batch")
    }

    # what the faults' mapping says each mode must show
    expected_errors: dict[str, Counter[str]] = {}
    expected_empty: dict[str, int] = {}
    for mode in ("stream", "batch"):
        errors: Counter[str] = Counter()
        empty = 0
        for name, n in injected[mode].items():
            expectation = FAULTS[name].expected_for(mode)
            assert expectation is not None, (mode, name)  # never injected where it has no form
            if expectation == "empty":
                empty += n
            elif expectation != OK:
                errors[expectation] += n
        expected_errors[mode], expected_empty[mode] = errors, empty

    locust_total = 0
    for mode in ("stream", "batch"):
        figures = modes[mode]
        requests = figures["requests"]
        row = rows[f"{mode} e2e"]
        failed = sum(expected_errors[mode].values())
        # one request, one attempt, one row entry, one mock arrival; none cancelled
        assert row["num_requests"] == requests == received[mode] == figures["attempts"]
        assert row["num_failures"] == failed + expected_empty[mode]
        locust_total += row["num_requests"]
        # per class, exactly what was injected
        assert figures["errors"] == dict(expected_errors[mode]), (mode, injected[mode])
        outcomes = {"ok": requests - failed - expected_empty[mode]}
        if failed:
            outcomes["failed"] = failed
        if expected_empty[mode]:
            outcomes["empty"] = expected_empty[mode]
        assert figures["outcomes"] == outcomes, mode
        # every success is timed; every successful stream has its TTFT
        assert figures["e2e_s"]["count"] == outcomes["ok"]
        if mode == "stream":
            assert figures["ttft_s"]["count"] == outcomes["ok"]
            assert rows["stream ttft"]["num_requests"] == outcomes["ok"]
    assert sum(received.values()) == locust_total
    assert mock_stats["in_flight"] == 0
    # the mix did happen: every kind, in the modes it has a form for
    for name in MIX:
        assert mock_stats["injected"].get(name, 0) > 0, name

    # Locust's failure table: one row per (mode, class), named by the class alone
    table = {(f["name"], f["error"]): f["occurrences"] for f in failures}
    expected_table = {
        (f"{mode} e2e", f"RequestError({cls!r})"): n
        for mode in ("stream", "batch")
        for cls, n in expected_errors[mode].items()
    }
    for mode in ("stream", "batch"):
        if expected_empty[mode]:
            expected_table[f"{mode} e2e", "EmptyCompletion('empty')"] = expected_empty[mode]
    assert table == expected_table
    for mode in ("stream", "batch"):
        assert sum(1 for name, _ in table if name == f"{mode} e2e") <= len(ErrorClass) + 1

    # the Prometheus counter equals Locust's totals, class by class
    assert sum(metrics.values()) == locust_total
    for mode in ("stream", "batch"):
        by_class = {
            cls: n for (m, outcome, cls), n in metrics.items() if m == mode and outcome == "failed"
        }
        assert by_class == {cls: float(n) for cls, n in expected_errors[mode].items()}

    total_injected = sum(mock_stats["injected"].values())
    print(
        f"\nMEAS-01: {locust_total} requests ({received}), {total_injected} faults injected, "
        f"errors stream={dict(expected_errors['stream'])} batch={dict(expected_errors['batch'])}"
        f", empty={expected_empty}, injected={mock_stats['injected']}"
    )

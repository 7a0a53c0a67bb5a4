"""A down server sees a trickle, not a retry storm; `--llm-abort-after` ends a hopeless run.

Real `locust` / `locust-llm run` subprocesses against a closed loopback port (every request
refused at once) and against the real mock (killed and restarted mid-run; answering every
request with an instant 503).

The bound, from harness.retry's parameters (base 50 ms, doubling, cap C, full jitter, from
the 2nd consecutive instant failure): a user's requests r1, r2 go out without a wait, r3…r9
wait at most 0.05, 0.1, …, 3.2 s (with C = 5 s), and every later one waits U(0, C). Sending
9 + m requests within T seconds needs m capped waits to sum to at most T, whose probability
is at most (T/C)^m / m! (the volume of a simplex). With m = 12, T ≤ 6 s and C = 5 s that is
2e-8 per user: a user sends at most 21 requests in a 5 s down window — not a question of
luck. Without back-off the same 4 users sent about 20,000 (4,000/s).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    ROOT,
    counts_by_mode,
    free_port,
    mock_stats,
    run_locust,
    run_mock,
    stop_process,
)

pytestmark = pytest.mark.slow

LOCUSTFILE = ROOT / "harness" / "locustfile.py"
RAMP = 9  # requests a user may send before its waits reach the cap (see above)


def bound_per_user(down_s: float, cap_s: float, ramp: int = RAMP) -> int:
    """Requests one user sends while down for `down_s`, but with probability below 1e-7."""
    m = 1
    while (down_s / cap_s) ** m / math.factorial(m) > 1e-7 / 4:
        m += 1
    return ramp + m


def _locust(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Any:
    return run_locust("-f", str(LOCUSTFILE), "--headless", *args, env=env, timeout=timeout)


def _modes(out: Path) -> tuple[dict[str, Any], float]:
    summary = json.loads((out / "summary.json").read_text())
    return summary["modes"], float(summary["run"]["duration_s"])


def test_a_refused_port_sees_a_trickle_and_the_waits_are_counted(tmp_path: Path) -> None:
    port = free_port()  # bound and closed: every connect is refused at once
    out = tmp_path / "out"
    result = _locust(
        "--host", f"http://127.0.0.1:{port}/v1", "-u", "4", "-r", "4", "-t", "5s",
        "--llm-no-preflight", "--llm-model", "m", "--llm-out", str(out),
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    modes, duration_s = _modes(out)
    bound = 4 * bound_per_user(duration_s, cap_s=5.0)
    assert bound <= 100
    requests = sum(m["requests"] for m in modes.values())
    assert 8 <= requests <= bound, (requests, bound, duration_s)  # old code: ~20,000
    for mode in ("stream", "batch"):
        figures = modes[mode]
        assert set(figures["errors"]) == {"connect_refused"}
        # every user waited, and never longer than the run
        assert 0 < figures["backoff_s"] <= 2 * duration_s
    assert "Traceback" not in result.stderr


def test_without_back_off_the_same_run_is_a_storm(tmp_path: Path) -> None:
    """The control: `--llm-backoff-max 0` sends what the old code sent (so the bound above
    is a real difference, not a slow machine)."""
    port = free_port()
    out = tmp_path / "out"
    result = _locust(
        "--host", f"http://127.0.0.1:{port}/v1", "-u", "4", "-r", "4", "-t", "3s",
        "--llm-no-preflight", "--llm-model", "m", "--llm-out", str(out),
        "--llm-backoff-max", "0",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    modes, duration_s = _modes(out)
    requests = sum(m["requests"] for m in modes.values())
    assert requests > 10 * 4 * bound_per_user(duration_s, cap_s=5.0)
    assert all(m["backoff_s"] == 0 for m in modes.values())


def test_instant_503s_back_off_and_the_mock_saw_exactly_what_was_counted(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    with run_mock(
        "--ttft", "5ms", "--itl", "1ms", "--tokens", "4", "--fault", "http_503=1"
    ) as mock:
        result = _locust(
            "--host", mock.url, "-u", "4", "-r", "4", "-t", "5s", "--llm-out", str(out),
        )  # fmt: skip
        received = counts_by_mode(mock.stats(), "requests")
    assert result.returncode == 1, result.stderr[-3000:]
    modes, duration_s = _modes(out)
    assert {m: f["requests"] for m, f in modes.items()} == received
    assert all(set(f["errors"]) == {"http_5xx"} for f in modes.values())
    requests = sum(received.values())
    assert 8 <= requests <= 4 * bound_per_user(duration_s, cap_s=5.0)
    assert all(f["backoff_s"] > 0 for f in modes.values())


def _start_mock(port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.mock", "--port", str(port), "--ttft", "10ms",
         "--itl", "2ms", "--tokens", "4"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    assert "http://" in process.stdout.readline()
    process.stdout.close()
    return process


def test_a_server_killed_mid_run_sees_a_trickle_and_the_run_recovers_when_it_is_back(
    tmp_path: Path,
) -> None:
    """2 users; the mock is killed at ~2 s and restarted 3 s later on the same port. While
    down the users back off (cap 1 s here, so they come back within a second of the restart:
    the first success resets the back-off)."""
    port = free_port()
    out = tmp_path / "out"
    down_s, cap_s = 3.0, 1.0
    mock = _start_mock(port)
    locust = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host",
         f"http://127.0.0.1:{port}/v1", "-u", "2", "-r", "2", "-t", "9s", "--llm-out",
         str(out), "--llm-backoff-max", "1s", "--only-summary"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        time.sleep(2.0)
        before = sum(counts_by_mode(mock_stats(f"http://127.0.0.1:{port}"), "requests").values())
        stop_process(mock)
        time.sleep(down_s)
        mock = _start_mock(port)
        _, stderr = locust.communicate(timeout=60)
        after = sum(counts_by_mode(mock_stats(f"http://127.0.0.1:{port}"), "requests").values())
    finally:
        stop_process(locust)
        stop_process(mock)
        if locust.stderr is not None:
            locust.stderr.close()
    assert locust.returncode == 1, stderr[-3000:]  # the refused requests are failures
    modes, _ = _modes(out)
    refused = sum(f["errors"].get("connect_refused", 0) for f in modes.values())
    ok = sum(f["outcomes"].get("ok", 0) + f["outcomes"].get("ok_length", 0) for f in modes.values())
    # a reset on the killed connection may add one stream_reset per user; nothing else fails
    assert 2 <= refused <= 2 * bound_per_user(down_s + 0.5, cap_s=cap_s, ramp=7)
    assert before > 20
    assert after > 20  # back within a second of the restart, at full speed again
    assert ok >= before + after - 4


def test_abort_after_stops_a_run_whose_every_request_fails_with_exit_1(tmp_path: Path) -> None:
    port = free_port()
    t = time.monotonic()
    result = _locust(
        "--host", f"http://127.0.0.1:{port}/v1", "-u", "2", "-r", "2", "-t", "60s",
        "--llm-no-preflight", "--llm-model", "m", "--llm-abort-after", "2s",
        "--exit-code-on-error", "0",  # the exit code is ours, not Locust's
    )  # fmt: skip
    took = time.monotonic() - t
    assert result.returncode == 1, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, result.stderr[-3000:]
    assert "every request failed for 2s (" in lines[0]
    assert lines[0].endswith("failures, no success): stopping the run (--llm-abort-after)")
    assert took < 30


def test_abort_after_through_locust_llm_run_exits_1(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--host", f"http://127.0.0.1:{port}/v1",
         "--headless", "--users", "2", "--run-time", "60s", "--out", str(tmp_path / "out"),
         "--model", "m", "--llm-no-preflight", "--llm-abort-after", "2s"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    assert "every request failed for 2s" in result.stderr


def test_abort_after_does_not_fire_while_requests_succeed(tmp_path: Path) -> None:
    with run_mock("--ttft", "5ms", "--itl", "1ms", "--tokens", "4") as mock:
        result = _locust(
            "--host", mock.url, "-u", "2", "-r", "2", "-t", "3s", "--llm-abort-after", "1s",
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--llm-abort-after" not in result.stderr

"""A request that fails inside the harness exits 3 on every path (docs/design.md, exit codes).

`harness_internal` is the harness's own failure, so the run exits 3 whether a scenario
judges it or not, through `locust-llm run` and plain `locust` alike (it used to exit 1
without a scenario: the failures alone decided). Real processes against the real mock; the
bug is a protocol that raises on the third event of every stream (catalogue MEAS-02).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, MockProcess, run_mock

pytestmark = pytest.mark.slow

BUGGY_LOCUSTFILE = """
from harness import users
from harness.protocols.openai import OpenAIProtocol


class BuggyProtocol(OpenAIProtocol):
    def read_event(self, event, record):
        record.note("seen")
        if record.anomalies["seen"] == 3:
            raise KeyError("bug on the third event")
        return super().read_event(event, record)


class BuggyUser(users.StreamingUser):
    def on_start(self):
        super().on_start()
        self._client.protocol = BuggyProtocol()
"""


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with run_mock("--ttft", "20ms", "--itl", "5ms", "--tokens", "8") as server:
        yield server


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    environ.pop("OPENAI_API_KEY", None)
    environ["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=environ,
        check=False,
    )


def buggy(tmp_path: Path) -> Path:
    path = tmp_path / "buggy.py"
    path.write_text(BUGGY_LOCUSTFILE)
    return path


def internal_failures(out: Path) -> int:
    summary = json.loads((out / "summary.json").read_text())
    stream = summary["modes"]["stream"]
    assert stream["errors"] == {"harness_internal": stream["requests"]}, stream["outcomes"]
    count: int = stream["requests"]
    return count


LOAD = ("--users", "2", "--spawn-rate", "2", "--run-time", "3s")


def test_without_a_scenario_locust_llm_run_exits_3(tmp_path: Path, mock: MockProcess) -> None:
    out = tmp_path / "report"
    result = run(
        "harness.cli", "run", "--host", mock.url, "--locustfile", str(buggy(tmp_path)),
        "--headless", *LOAD, "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr[-3000:]
    assert internal_failures(out) > 0


def test_with_a_scenario_locust_llm_run_exits_3(tmp_path: Path, mock: MockProcess) -> None:
    out = tmp_path / "report"
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        f"target:\n  base_url: {mock.url}\n"
        "load: {users: 2, spawn_rate: 2, run_time: 3s}\n"
        "slos:\n  - {metric: failure_ratio, max: 1.0}\n",  # a gate the failures cannot miss
        encoding="utf-8",
    )
    result = run(
        "harness.cli", "run", str(scenario), "--locustfile", str(buggy(tmp_path)),
        "--headless", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr[-3000:]
    assert internal_failures(out) > 0
    assert "failed inside the harness (harness_internal): exit code 3" in result.stderr


def test_plain_locust_exits_3(tmp_path: Path, mock: MockProcess) -> None:
    out = tmp_path / "report"
    result = run(
        "locust", "-f", str(buggy(tmp_path)), "--headless", "--host", mock.url,
        "-u", "2", "-r", "2", "-t", "3s", "--stop-timeout", "5", "--llm-out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr[-3000:]
    assert internal_failures(out) > 0

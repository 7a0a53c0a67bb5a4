"""Goodput in a real run: `locust-llm run` against the real mock (TTFT 100 ms).

With a TTFT limit under the mock's TTFT no stream counts (and every batch request does: a
batch answer has no TTFT); with limits well above the mock's figures every finished request
counts. The goodput gates judge the run's exit code, and a gate without limits is a
configuration error before anything is sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness.report.summary import load_schema
from tests.conftest import MockProcess, locust_llm, run_mock

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with run_mock("--ttft", "100ms", "--itl", "5ms", "--tokens", "8") as server:
        yield server


def scenario(tmp_path: Path, mock: MockProcess, body: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(
        f"target:\n  base_url: {mock.url}\n"
        "request: {max_tokens: 8}\n"
        "load: {users: 2, spawn_rate: 2, run_time: 3s}\n" + body,
        encoding="utf-8",
    )
    return path


def finished(figures: dict[str, Any]) -> int:
    return int(figures["requests"]) - int(figures["outcomes"].get("cancelled", 0))


def test_a_ttft_limit_under_the_servers_ttft_gives_no_stream_goodput(
    tmp_path: Path, mock: MockProcess
) -> None:
    path = scenario(
        tmp_path,
        mock,
        "slos:\n  - {mode: stream, metric: goodput, min: 0.1/s}\n",
    )
    result = locust_llm(
        "run", str(path), "--headless", "--llm-goodput", "ttft=50ms", cwd=tmp_path, timeout=120
    )
    assert result.returncode == 1, result.stderr[-3000:]
    summary = json.loads((tmp_path / "llm-report" / "summary.json").read_text())
    jsonschema.validate(summary, load_schema())
    stream, batch = summary["modes"]["stream"], summary["modes"]["batch"]
    assert stream["outcomes"].get("ok", 0) > 0
    assert stream["goodput"] == {
        "limits": {"ttft_s": 0.05},
        "met": 0,
        "goodput_per_s": 0.0,
        "slo_attainment": 0.0,
    }
    # a batch answer has no TTFT: every one that succeeded counts
    assert batch["goodput"]["limits"] == {}
    assert batch["goodput"]["met"] == batch["outcomes"]["ok"] == finished(batch)
    assert batch["goodput"]["slo_attainment"] == 1.0
    [gate, failures] = summary["slos"]
    assert gate == {
        "name": "stream goodput >= 0.1/s",
        "metric": "goodput",
        "mode": "stream",
        "min_per_s": 0.1,
        "value_per_s": 0.0,
        "passed": False,
    }
    assert failures["name"] == "failure_ratio"
    assert "FAIL stream goodput >= 0.1/s: 0/s (min 0.1/s)" in result.stdout


def test_limits_above_the_servers_figures_count_every_finished_request(
    tmp_path: Path, mock: MockProcess
) -> None:
    path = scenario(
        tmp_path,
        mock,
        "goodput: {ttft: 1s, itl: 500ms, e2e: 5s}\n"
        "slos:\n"
        "  - {metric: slo_attainment, min: 1.0}\n"
        "  - {metric: goodput, min: 1/s}\n",
    )
    result = locust_llm("run", str(path), "--headless", "--out", "out", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    jsonschema.validate(summary, load_schema())
    stream, batch = summary["modes"]["stream"], summary["modes"]["batch"]
    assert stream["goodput"]["limits"] == {"ttft_s": 1.0, "itl_s": 0.5, "e2e_s": 5.0}
    assert batch["goodput"]["limits"] == {"e2e_s": 5.0}
    for figures in (stream, batch):
        assert figures["goodput"]["met"] == finished(figures) > 0
        assert figures["goodput"]["slo_attainment"] == 1.0
        assert figures["goodput"]["goodput_per_s"] == figures["requests_per_s"]
    [attainment, goodput, _] = summary["slos"]
    assert (attainment["name"], attainment["value"], attainment["passed"]) == (
        "slo_attainment >= 1",
        1.0,
        True,
    )
    assert goodput["value_per_s"] == (
        stream["goodput"]["goodput_per_s"] + batch["goodput"]["goodput_per_s"]
    )
    assert goodput["passed"] is True
    markdown = (tmp_path / "out" / "summary.md").read_text()
    assert (
        "streaming: TTFT ≤ 1.00 s, every ITL ≤ 500.0 ms, E2E ≤ 5.00 s; batch: E2E ≤ 5.00 s."
        in markdown
    )
    assert "| SLO attainment | 100.0% | 100.0% |" in markdown


def test_a_goodput_gate_without_limits_exits_2_and_sends_nothing(
    tmp_path: Path, mock: MockProcess
) -> None:
    path = scenario(tmp_path, mock, "slos:\n  - {metric: goodput, min: 5/s}\n")
    before = mock.stats()["requests"]
    result = locust_llm("run", str(path), "--headless", cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr == (
        f"locust-llm: error: {path}:6:5: goodput >= 5/s: a goodput gate needs goodput "
        "limits: set goodput: {ttft: 500ms, e2e: 20s} in the scenario or --llm-goodput "
        "ttft=500ms,e2e=20s\n"
    )
    assert mock.stats()["requests"] == before
    assert not (tmp_path / "llm-report").exists()


def test_print_config_shows_the_limits_and_where_they_came_from(
    tmp_path: Path, mock: MockProcess
) -> None:
    path = scenario(tmp_path, mock, "goodput: {e2e: 20s, ttft: 500ms}\n")
    result = locust_llm("run", str(path), "--print-config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [row] = [line.split() for line in result.stdout.splitlines() if "goodput" in line]
    assert row == ["goodput", "ttft=500ms,e2e=20s", f"{path}:5:10"]
    flag = locust_llm(
        "run", str(path), "--print-config", "--llm-goodput", "tpot=50ms", cwd=tmp_path
    )
    [row] = [line.split() for line in flag.stdout.splitlines() if "goodput" in line]
    assert row == ["goodput", "tpot=50ms", "--llm-goodput"]

"""requests.jsonl.gz from real runs against the real mock: one line per request sent (the mock
counts them too), each with the stage and warm-up of the figures; nothing secret in it;
complete before summary.json; `locust-llm report FOLDER` rebuilds the run's figures from it;
`--llm-no-records` writes none; a master writes its workers' lines.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    ROOT,
    MockProcess,
    counts_by_mode,
    free_port,
    locust_llm,
    run_locust,
    run_mock,
)

pytestmark = pytest.mark.slow

PROMPT_CANARY = "prompt-canary-8d41e07b"
KEY_CANARY = "sk-key-canary-3f9a62c1d5"
LOCUSTFILE = ROOT / "harness" / "locustfile.py"


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with run_mock("--ttft", "30ms", "--itl", "5ms", "--tokens", "8") as server:
        yield server


def requests_received(mock: MockProcess) -> int:
    return sum(counts_by_mode(mock.stats()).values())


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


def requests_of(modes: dict[str, Any]) -> int:
    return sum(int(figures["requests"]) for figures in modes.values())


@dataclass
class Run:
    out: Path
    result: subprocess.CompletedProcess[str]
    sent: int  # what the mock received during the run
    summary: dict[str, Any]
    lines: list[dict[str, Any]]


@pytest.fixture(scope="module")
def staged_run(tmp_path_factory: pytest.TempPathFactory, mock: MockProcess) -> Run:
    """An open stage with a warm-up, then a closed one; canaries in the prompt and the key."""
    tmp = tmp_path_factory.mktemp("records")
    scenario = tmp / "scenario.yaml"
    scenario.write_text(
        f"target:\n  base_url: {mock.url}\n  api_key_env: LLM_KEY\n"
        f'prompts: ["Say something about {PROMPT_CANARY}."]\n'
        "request: {max_tokens: 8}\n"
        "load:\n"
        "  stages: [{duration: 3s, rate: 12/s, warmup: 1s}, {duration: 2s, users: 2}]\n"
        "  arrival: constant\n"
        "  max_in_flight: 8\n",
        encoding="utf-8",
    )
    before = requests_received(mock)
    result = locust_llm(
        "run", str(scenario), "--headless", "--out", "out", cwd=tmp, env={"LLM_KEY": KEY_CANARY}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp / "out"
    summary = json.loads((out / "summary.json").read_text())
    return Run(
        out, result, requests_received(mock) - before, summary, lines_of(out / "requests.jsonl.gz")
    )


def test_every_request_sent_is_one_line(staged_run: Run) -> None:
    summary, lines = staged_run.summary, staged_run.lines
    warmup = summary["run"]["load"]["warmup_requests"]
    assert warmup > 5  # the first second at 12/s
    assert len(lines) == requests_of(summary["modes"]) + warmup == staged_run.sent
    assert sum(1 for line in lines if line.get("warmup")) == warmup
    cancelled = sum(m["outcomes"].get("cancelled", 0) for m in summary["modes"].values())
    assert sum(1 for line in lines if line["outcome"] == "cancelled") == cancelled
    assert {line["mode"] for line in lines} == {"stream", "batch"}


def test_each_line_is_in_the_stage_whose_figures_count_it(staged_run: Run) -> None:
    summary, lines = staged_run.summary, staged_run.lines
    counted = [line for line in lines if not line.get("warmup")]
    for index, stage in enumerate(summary["stages"]):
        assert sum(1 for line in counted if line["stage"] == index) == requests_of(stage["modes"])
    assert {line["stage"] for line in lines if line.get("warmup")} == {0}
    # the open stage's requests were due on the schedule; the closed stage's were not
    assert all("t_sched" in line for line in lines if line["stage"] == 0)


def test_neither_the_prompt_nor_the_key_reaches_the_records(staged_run: Run) -> None:
    records = gzip.decompress((staged_run.out / "requests.jsonl.gz").read_bytes()).decode()
    summary = (staged_run.out / "summary.json").read_text()
    assert records.count("\n") == len(staged_run.lines) > 0
    for canary in (PROMPT_CANARY, KEY_CANARY):
        assert canary not in records
        assert canary not in summary
    assert KEY_CANARY not in staged_run.result.stdout + staged_run.result.stderr


def test_the_records_are_complete_before_summary_json_is_written(staged_run: Run) -> None:
    records, summary = staged_run.out / "requests.jsonl.gz", staged_run.out / "summary.json"
    assert records.stat().st_mtime_ns <= summary.stat().st_mtime_ns
    gzip.decompress(records.read_bytes())  # a whole gzip stream: closed, not cut short


def test_report_rebuilds_the_runs_figures_from_the_records(staged_run: Run, tmp_path: Path) -> None:
    result = locust_llm("report", str(staged_run.out), "--out", "again", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Figures rebuilt from {staged_run.out / 'requests.jsonl.gz'}" in result.stdout
    rebuilt = json.loads((tmp_path / "again" / "summary.json").read_text())
    problems: list[str] = []
    compare(staged_run.summary["modes"], rebuilt["modes"], "modes", problems)
    assert problems == []
    for key in ("run", "slos", "stages"):
        assert rebuilt[key] == staged_run.summary[key]
    assert {p.name for p in (tmp_path / "again").iterdir()} == {
        "junit.xml",
        "report.html",
        "summary.json",
        "summary.md",
    }


def compare(run: Any, rebuilt: Any, where: str, problems: list[str]) -> None:
    """Counts exactly, seconds within a microsecond, everything else equal."""
    if isinstance(run, dict) and isinstance(rebuilt, dict):
        if set(run) != set(rebuilt):
            problems.append(f"{where}: keys {sorted(set(run) ^ set(rebuilt))}")
        for key in set(run) & set(rebuilt):
            compare(run[key], rebuilt[key], f"{where}.{key}", problems)
    elif isinstance(run, list) and isinstance(rebuilt, list) and len(run) == len(rebuilt):
        for i, (a, b) in enumerate(zip(run, rebuilt, strict=True)):
            compare(a, b, f"{where}[{i}]", problems)
    elif isinstance(run, float) and isinstance(rebuilt, float):
        if abs(run - rebuilt) > 1e-6:
            problems.append(f"{where}: {run!r} != {rebuilt!r}")
    elif run != rebuilt or type(run) is not type(rebuilt):
        problems.append(f"{where}: {run!r} != {rebuilt!r}")


def test_no_records_writes_no_file_and_removes_an_earlier_runs(
    tmp_path: Path, mock: MockProcess
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "requests.jsonl.gz").write_bytes(gzip.compress(b'{"v": 1}\n'))  # an earlier run's
    result = locust_llm(
        "run", "--host", mock.url, "--headless", "-u", "2", "-t", "2s", "--out", "out",
        "--llm-no-records", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == [
        "junit.xml",
        "report.html",
        "summary.json",
        "summary.md",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert requests_of(summary["modes"]) > 0


def test_a_master_writes_the_lines_its_worker_shipped(tmp_path: Path, mock: MockProcess) -> None:
    port = free_port()
    common = ["-f", str(LOCUSTFILE), "--master-port", str(port)]
    worker_dir = tmp_path / "worker"
    worker_dir.mkdir()
    worker = subprocess.Popen(
        [sys.executable, "-m", "locust", *common, "--worker", "--master-host", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=worker_dir,
    )  # fmt: skip
    before = requests_received(mock)
    out = tmp_path / "out"
    try:
        result = run_locust(
            *common, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port",
            str(port), "--expect-workers", "1", "--headless", "--host", mock.url, "-u", "2",
            "-r", "2", "-t", "3s", "--stop-timeout", "5", "--exit-code-on-error", "0",
            "--only-summary", "--llm-out", str(out),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
    finally:
        worker.wait(timeout=30)
    sent = requests_received(mock) - before
    summary = json.loads((out / "summary.json").read_text())
    lines = lines_of(out / "requests.jsonl.gz")
    assert len(lines) == requests_of(summary["modes"]) == sent > 0
    assert {line.get("worker") for line in lines} == {0}
    assert list(worker_dir.iterdir()) == []  # a worker writes no file

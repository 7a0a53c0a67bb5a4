"""`benchmarks/open_loop.py --quick` runs to its end and prints its table (benchmarks/README.md).

A smoke run: 10 and 100 requests/s, 3 s each, locust-llm and the reference asyncio client in
turn against a fresh mock. Nothing here asserts a speed (benchmarks never pass or fail a
build): only that every row and every run is there, with figures in every cell.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

HEADER = [
    "offered/s",
    "achieved/s",
    "lag p50 ms",
    "lag p99 ms",
    "lag max ms",
    "its core %",
    "lag p99 ×",
    "core ×",
]
PAIR = r"\d+\.\d+ / \d+\.\d+"


@pytest.fixture(scope="module")
def quick_run() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "benchmarks/open_loop.py", "--quick", "--markdown"],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=ROOT,
        check=False,
    )


def _table(stdout: str) -> list[list[str]]:
    rows = [line for line in stdout.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_quick_run_exits_0(quick_run: subprocess.CompletedProcess[str]) -> None:
    assert quick_run.returncode == 0, quick_run.stdout + quick_run.stderr


def test_quick_run_prints_one_row_per_rate_with_every_figure(
    quick_run: subprocess.CompletedProcess[str],
) -> None:
    header, *rows = _table(quick_run.stdout)
    assert header == HEADER
    assert [row[0] for row in rows] == ["10", "100"]
    for row in rows:
        for cell in row[1:5]:
            assert re.fullmatch(PAIR, cell), (row, quick_run.stdout)
        assert re.fullmatch(r"\d+ / \d+", row[5]), (row, quick_run.stdout)
        assert re.fullmatch(r"\d+\.\d\d", row[6]), (row, quick_run.stdout)


def test_quick_run_reports_each_run_without_failures(
    quick_run: subprocess.CompletedProcess[str],
) -> None:
    runs = [line for line in quick_run.stdout.splitlines() if re.match(r"- \d+/(?!s:)", line)]
    tools = [line.split(":", 1)[0] for line in runs]
    assert tools == ["- 10/locust-llm", "- 10/reference", "- 100/locust-llm", "- 100/reference"]
    for line in runs:
        assert re.search(r": \d+ sent, \d+ unsent at the end; 0 failed; window \d", line), line


def test_quick_run_compares_with_the_reference_at_each_rate(
    quick_run: subprocess.CompletedProcess[str],
) -> None:
    verdicts = [line for line in quick_run.stdout.splitlines() if "/s: locust-llm " in line]
    assert [v.split(":", 1)[0] for v in verdicts] == ["- 10/s", "- 100/s"]
    for line in verdicts:
        assert re.fullmatch(r"- \d+/s: locust-llm (not worse|WORSE than the reference: .+)", line)

"""`locust-llm compare` on real runs: two `locust-llm demo` runs against the embedded mock, one
with a slower time to first token, compared as CI would (subprocesses, loopback only). The
runs write requests.jsonl.gz, so the intervals are bootstrapped over their requests; one run
without records shows the other path, from the summaries' ci95."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import locust_llm


def demo(folder: Path, ttft: str) -> Path:
    """A short demo run (6 s, 4 users, 8-token answers) with the mock's TTFT `ttft`."""
    result = locust_llm(
        "demo", "--ttft", ttft, "--tokens", "8", "--run-time", "6s", "--users", "4",
        "--out", str(folder), cwd=folder.parent, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert (folder / "summary.json").is_file()
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare-runs")
    return {
        "base": demo(root / "base", "200ms"),
        "slower": demo(root / "slower", "240ms"),
        "same": demo(root / "same", "200ms"),
    }


def compare(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return locust_llm("compare", *args, cwd=cwd, timeout=60)


@pytest.mark.slow
def test_a_slower_ttft_exits_1_and_names_ttft(runs: dict[str, Path], tmp_path: Path) -> None:
    result = compare(str(runs["base"]), str(runs["slower"]), "--out", "out", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "# locust-llm compare: REGRESSION"
    # +40 ms on 200 ms: the worst regression, named first
    assert lines[4].startswith(
        ("- worse: stream ttft p50 +", "- worse: stream first_visible p50 +")
    ), lines[4]
    assert "- worse: stream ttft p50 +" in result.stdout
    assert result.stderr == ""
    suite = ET.parse(tmp_path / "out" / "compare.junit.xml").getroot().find("testsuite")
    assert suite is not None
    failed = {c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None}
    assert "stream ttft p50" in failed


@pytest.mark.slow
def test_the_same_profile_twice_exits_0(runs: dict[str, Path], tmp_path: Path) -> None:
    result = compare(str(runs["base"]), str(runs["same"]), "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("# locust-llm compare: no regression\n")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "compare.html",
        "compare.junit.xml",
        "compare.md",
    ]


def test_a_file_that_is_not_a_summary_exits_2_in_one_line(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": "world"}))
    result = compare(str(other), str(other), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"locust-llm: error: BASE {other}: not a locust-llm summary "
        '(expected "schema": "locust-llm/summary/v1")\n'
    )
    assert not (tmp_path / "llm-compare").exists()


@pytest.mark.slow
def test_the_intervals_come_from_the_records_else_from_the_summaries(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    with_records = compare(str(runs["base"]), str(runs["slower"]), "--out", "a", cwd=tmp_path)
    assert "bootstrap over both runs' requests.jsonl.gz" in with_records.stdout
    # the summaries alone (as a CI artefact without the records would be)
    for name in ("base", "slower"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text((runs[name] / "summary.json").read_text())
    alone = compare(str(tmp_path / "base"), str(tmp_path / "slower"), "--out", "b", cwd=tmp_path)
    assert alone.returncode == 1, alone.stdout + alone.stderr
    assert "bootstrap" not in alone.stdout
    assert "ci95" in alone.stdout
    assert "- worse: stream ttft p50 +" in alone.stdout

"""`locust-llm compare BASE NEW` as a user calls it (harness.cli `main`, in this process): its
exit codes, what it prints, the three files it writes, and bad input as one line (exit 2)."""

from __future__ import annotations

import json
import random
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cli import main
from harness.record import RequestRecord
from tests.unit.compare_runs import batch_record, stream_record, write_run


def streams(n: int, ttft_s: float, *, seed: int = 0) -> list[RequestRecord]:
    rng = random.Random(seed)
    return [stream_record(i * 0.1, ttft_s * rng.uniform(0.99, 1.01), [0.02] * 7) for i in range(n)]


def runs(tmp_path: Path, new_ttft_s: float) -> tuple[Path, Path]:
    base = write_run(tmp_path / "base", [*streams(200, 0.2), batch_record(0.0, 0.3)])
    new = write_run(tmp_path / "new", [*streams(200, new_ttft_s, seed=1), batch_record(0.0, 0.3)])
    return base, new


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_a_slower_run_exits_1_naming_the_worst_regression_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, new = runs(tmp_path, 0.24)
    code = main(["compare", str(base), str(new), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0] == "# locust-llm compare: REGRESSION"
    assert out[2].startswith("**")
    assert "worse by more than 10 % (exit code 1)" in out[2]
    assert re.fullmatch(
        r"- worse: stream (ttft|first_visible) p\d\d \+\d\d\.\d % "
        r"\(\d+\.\d ms → \d+\.\d ms, \+\d+\.\d…\+\d+\.\d ms\)",
        out[4],
    ), out[4]


def test_the_same_profile_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, new = runs(tmp_path, 0.2)
    code = main(["compare", str(base), str(new), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(
        "# locust-llm compare: no regression\n\n"
        "**No figure worse by more than 10 % (exit code 0)**\n"
    )


def test_a_higher_threshold_lets_the_same_change_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, new = runs(tmp_path, 0.24)
    out = str(tmp_path / "out")
    assert main(["compare", str(base), str(new), "--out", out, "--threshold", "25%"]) == 0
    assert main(["compare", str(base), str(new), "--out", out, "--threshold", "0.15"]) == 1
    capsys.readouterr()


def test_summary_json_paths_are_taken_as_well_as_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, new = runs(tmp_path, 0.24)
    args = [str(base / "summary.json"), str(new / "summary.json"), "--out", str(tmp_path / "o")]
    assert main(["compare", *args]) == 1
    assert f"BASE `{base / 'summary.json'}`" in capsys.readouterr().out


def test_it_writes_markdown_html_and_junit_and_prints_the_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, new = runs(tmp_path, 0.24)
    out_dir = tmp_path / "out"
    main(["compare", str(base), str(new), "--out", str(out_dir)])
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "compare.html",
        "compare.junit.xml",
        "compare.md",
    ]
    markdown = (out_dir / "compare.md").read_text()
    assert printed.startswith(markdown)
    assert printed.endswith(
        f"\nCompare reports: {out_dir / 'compare.md'}, {out_dir / 'compare.html'}, "
        f"{out_dir / 'compare.junit.xml'}\n"
    )


def test_the_default_output_folder_is_llm_compare(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, new = runs(tmp_path, 0.2)
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(base), str(new)]) == 0
    capsys.readouterr()
    assert (tmp_path / "llm-compare" / "compare.md").is_file()


def test_junit_has_one_case_per_figure_and_a_failure_per_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, new = runs(tmp_path, 0.24)
    main(["compare", str(base), str(new), "--out", str(tmp_path / "out")])
    capsys.readouterr()
    suite = ET.parse(tmp_path / "out" / "compare.junit.xml").getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    failed = [c for c in cases if c.find("failure") is not None]
    # stream: 5 latencies × 3 percentiles + failure ratio + 2 rates; batch: 2 × 3 + 3
    assert len(cases) == int(suite.get("tests", "-1")) == 18 + 9
    assert len(failed) == int(suite.get("failures", "-1")) == 6
    failure = next(c for c in failed if c.get("name") == "stream ttft p50").find("failure")
    assert failure is not None
    message = failure.get("message", "")
    assert message.startswith("worse: stream ttft p50 +")
    assert message.endswith(": worse by more than the 10 % threshold")
    assert "ms →" in message


def test_the_html_is_self_contained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, new = runs(tmp_path, 0.24)
    main(["compare", str(base), str(new), "--out", str(tmp_path / "out")])
    capsys.readouterr()
    html = (tmp_path / "out" / "compare.html").read_text()
    assert "Content-Security-Policy" in html
    assert "default-src 'none'" in html
    assert "<script" not in html
    assert re.findall(r'(?:src|href)="([^"]*)"', html) == ["data:,"]
    assert "worse: stream ttft p50 +" in html
    assert html.count('<td class="fail">') == 6


def test_different_workloads_are_warnings_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_run(tmp_path / "base", streams(50, 0.2), run={"scenario": "a"})
    new = write_run(tmp_path / "new", streams(50, 0.2), run={"scenario": "b"})
    assert main(["compare", str(base), str(new), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert captured.err == ("locust-llm: warning: different scenario: 'a' in BASE, 'b' in NEW\n")
    assert "- different scenario: 'a' in BASE, 'b' in NEW" in captured.out


# ------------------------------------------------------------------ bad input: exit 2, one line


def test_a_missing_path_is_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = runs(tmp_path, 0.2)
    missing = tmp_path / "nowhere"
    assert main(["compare", str(base), str(missing)]) == 2
    assert one_error_line(capsys) == (f"locust-llm: error: NEW {missing}: no such file or folder")


def test_a_folder_without_a_summary_is_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = runs(tmp_path, 0.2)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["compare", str(empty), str(base)]) == 2
    assert one_error_line(capsys) == (
        f"locust-llm: error: BASE {empty}: no summary.json in this folder"
    )


def test_a_file_that_is_not_a_summary_is_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = runs(tmp_path, 0.2)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "something/else", "modes": {}}))
    assert main(["compare", str(base), str(other)]) == 2
    assert one_error_line(capsys) == (
        f"locust-llm: error: NEW {other}: not a locust-llm summary "
        '(expected "schema": "locust-llm/summary/v1")'
    )


def test_a_file_that_is_not_json_is_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = runs(tmp_path, 0.2)
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    assert main(["compare", str(text), str(base)]) == 2
    assert one_error_line(capsys) == (
        f"locust-llm: error: BASE {text}: not a locust-llm summary "
        "(not JSON: Expecting value at line 1)"
    )


def test_a_binary_file_is_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = runs(tmp_path, 0.2)
    records = base / "requests.jsonl.gz"
    assert main(["compare", str(base), str(records)]) == 2
    assert one_error_line(capsys) == (
        f"locust-llm: error: NEW {records}: not a locust-llm summary (not UTF-8 text)"
    )


def test_a_bad_records_file_is_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, new = runs(tmp_path, 0.2)
    (new / "requests.jsonl.gz").write_bytes(b"not gzip")
    assert main(["compare", str(base), str(new), "--out", str(tmp_path / "out")]) == 2
    line = one_error_line(capsys)
    assert line.startswith(
        f"locust-llm: error: NEW {new / 'requests.jsonl.gz'}: not a gzip JSON-lines file ("
    )


def test_a_bad_threshold_is_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, new = runs(tmp_path, 0.2)
    assert main(["compare", str(base), str(new), "--threshold", "ten"]) == 2
    assert one_error_line(capsys) == (
        "locust-llm: error: --threshold: expected a relative change such as 10% or 0.1, got 'ten'"
    )


def test_an_output_folder_that_is_a_file_is_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, new = runs(tmp_path, 0.2)
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["compare", str(base), str(new), "--out", str(blocker)]) == 2
    assert one_error_line(capsys).startswith(
        f"locust-llm: error: --out {blocker}: cannot create the folder ("
    )

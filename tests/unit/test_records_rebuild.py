"""`locust-llm report` from records: the figures rebuilt from requests.jsonl.gz equal the run's,
per target; the summary's metadata stay; records of another run are refused; a records file
alone gets a minimal summary; and the rule for where summary.json is written.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.errors import ConfigError
from harness.load.goodput import GoodputLimits
from harness.report.enrich import add_goodput_limits, complete_summary
from harness.report.rebuild import (
    figures_window_s,
    find_sources,
    rebuild_summary,
    summary_from_records,
)
from harness.report.records import RECORDS_FILE, record_to_line, write_lines
from harness.report.summary import RunInfo, build_summary
from harness.stats import RunStats
from tests.unit.test_records_lines import T_START, sample_records, stats_of

WINDOW_S = 8.75
RUN = RunInfo(
    started_at="2026-01-31T12:00:00+00:00",
    duration_s=9.5,
    host="http://127.0.0.1:8000/v1",
    users=8,
    locust_version="2.47.0",
    harness_version="0.1.0",
    client_saturated=False,
)
HOSTS = {
    "fast": {"host": "http://127.0.0.1:8001/v1", "protocol": "openai"},
    "slow": {"host": "http://127.0.0.1:8002/v1", "protocol": "openai", "via": "fast"},
}


def run_summary(stats: RunStats, *, targets: dict[str, dict[str, str]] | None = None) -> Any:
    """The summary a run writes of `stats` (LLMRun.summary, then the reports' additions)."""
    first = next(iter(targets or {}), None)
    summary = build_summary(stats.summary(WINDOW_S, target=first), run=RUN)
    summary["run"]["load"] = {"kind": "open", "measured_s": WINDOW_S, "sent": 239}
    summary["slos"] = [{"name": "failure_ratio", "limit": 0.1, "value": 0.08, "passed": True}]
    if targets:
        summary["targets"] = {
            name: {
                **info,
                "models": sorted({g.model for g in stats.groups() if g.target == name}),
                "modes": stats.summary(WINDOW_S, target=name),
            }
            for name, info in targets.items()
        }
    return complete_summary(summary, stats=stats, config=None, timeline=None)


def write_records(folder: Path, records: list[Any], summary: Any | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RECORDS_FILE
    write_lines(path, [record_to_line(r, T_START) for r in records])
    if summary is not None:
        (folder / "summary.json").write_text(json.dumps(summary))
    return path


# ------------------------------------------------------------------ the figures


def test_the_rebuilt_summary_equals_the_runs(tmp_path: Path) -> None:
    records = sample_records()
    summary = run_summary(stats_of(records))
    path = write_records(tmp_path, records)
    assert rebuild_summary(json.loads(json.dumps(summary)), path) == json.loads(json.dumps(summary))


def test_each_target_is_rebuilt_from_its_own_requests(tmp_path: Path) -> None:
    records = sample_records(targets=("fast", "slow"))
    summary = json.loads(json.dumps(run_summary(stats_of(records), targets=HOSTS)))
    path = write_records(tmp_path, records)
    rebuilt = rebuild_summary(summary, path)
    assert rebuilt == summary
    assert rebuilt["targets"]["slow"]["via"] == "fast"
    stream = rebuilt["targets"]["slow"]["modes"]["stream"]["requests"]
    assert stream == sum(1 for r in records if r.target == "slow" and r.mode == "stream")


def test_what_the_statistics_do_not_make_is_kept(tmp_path: Path) -> None:
    records = sample_records()
    summary = json.loads(json.dumps(run_summary(stats_of(records))))
    workload = {"lengths": {"output": {"requested": {"count": 1, "mean": 64}}}}
    summary["modes"]["stream"]["workload"] = workload
    add_goodput_limits(summary, GoodputLimits(ttft_s=0.5))
    summary["timeline"] = {"interval_s": 1.0, "points": [{"t_s": 1.0}]}
    before = copy.deepcopy(summary)
    path = write_records(tmp_path, records)
    rebuilt = rebuild_summary(summary, path)
    assert rebuilt["modes"]["stream"]["workload"] == workload
    assert rebuilt["modes"]["stream"]["goodput"] == before["modes"]["stream"]["goodput"]
    assert rebuilt["modes"]["stream"]["goodput"]["limits"] == {"ttft_s": 0.5}
    for key in ("run", "slos", "timeline"):
        assert rebuilt[key] == before[key]


def test_the_figures_come_from_the_records_not_the_summary(tmp_path: Path) -> None:
    records = sample_records()
    summary = json.loads(json.dumps(run_summary(stats_of(records))))
    truth = summary["modes"]["stream"]["ttft_s"]["p99"]
    summary["modes"]["stream"]["ttft_s"]["p99"] = 99.0  # an edited summary
    path = write_records(tmp_path, records)
    assert rebuild_summary(summary, path)["modes"]["stream"]["ttft_s"]["p99"] == truth


def test_warm_up_lines_are_left_out_of_the_figures(tmp_path: Path) -> None:
    records = sample_records()
    summary = json.loads(json.dumps(run_summary(stats_of(records[5:]))))
    path = tmp_path / RECORDS_FILE
    write_lines(path, [record_to_line(r, T_START, warmup=i < 5) for i, r in enumerate(records)])
    assert rebuild_summary(summary, path) == summary


def test_records_of_another_run_are_refused_in_one_line(tmp_path: Path) -> None:
    records = sample_records()
    summary = json.loads(json.dumps(run_summary(stats_of(records[:100]))))
    path = write_records(tmp_path, records)
    with pytest.raises(ConfigError) as caught:
        rebuild_summary(summary, path)
    assert str(caught.value) == (
        "requests.jsonl.gz: its requests (stream 180, batch 60) are not the ones summary.json "
        "counted (stream 75, batch 25): the records are of another run (--no-records reports "
        "the summary's own figures)"
    )


def test_the_window_is_read_back_from_the_summarys_own_rates() -> None:
    summary = run_summary(stats_of(sample_records()))
    assert figures_window_s(summary) == pytest.approx(WINDOW_S, rel=1e-15)
    only_cancelled: dict[str, Any] = {
        "run": {"duration_s": 9.5, "load": {"measured_s": 4.0}},
        "modes": {"stream": {"requests": 2, "outcomes": {"cancelled": 2}, "requests_per_s": 0.0}},
    }
    assert figures_window_s(only_cancelled) == 4.0
    del only_cancelled["run"]["load"]
    assert figures_window_s(only_cancelled) == 9.5
    no_rates = {"run": {"duration_s": 9.5}, "modes": {"stream": {"requests": 2}}}
    assert figures_window_s(no_rates) == 0.0


# ------------------------------------------------------------------ a records file alone


def test_records_alone_give_a_minimal_summary_over_their_span(tmp_path: Path) -> None:
    records = sample_records(targets=("fast", "slow"))
    path = write_records(tmp_path, records)
    summary = summary_from_records(path)
    first = min(r.t0 for r in records)
    last = max(r.t_end if r.t_end is not None else r.t0 for r in records)
    span = last - first
    stats = stats_of(records)
    assert summary["run"]["duration_s"] == round(span, 3)
    assert (summary["run"]["host"], summary["run"]["users"], summary["slos"]) == ("", 0, [])
    assert list(summary["targets"]) == ["fast", "slow"]
    slow = {mode: dict(figures) for mode, figures in summary["targets"]["slow"]["modes"].items()}
    for figures in slow.values():
        assert figures.pop("quantiles")["percentiles"][:3] == [0, 1, 2]  # the reports' own
    assert slow == stats.summary(span, target="slow")
    batch = dict(summary["modes"]["batch"])
    assert batch.pop("quantiles")["percentiles"][:3] == [0, 1, 2]  # the reports' additions
    assert batch == stats.summary(span, target="fast")["batch"]
    assert summary["run"]["models"] == ["model-a", "model-b"]


# ------------------------------------------------------------------ what a PATH names


def test_a_folder_a_summary_or_a_records_file_finds_what_lies_beside_it(tmp_path: Path) -> None:
    records = sample_records(20)
    path = write_records(tmp_path, records, run_summary(stats_of(records)))
    summary = tmp_path / "summary.json"
    renamed = tmp_path / "saved.bin"
    renamed.write_bytes(path.read_bytes())
    assert find_sources(tmp_path) == find_sources(summary)
    assert (find_sources(tmp_path).summary, find_sources(tmp_path).records) == (summary, path)
    assert find_sources(renamed).records == renamed  # told by its gzip magic, not its name
    assert find_sources(renamed).summary == summary
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=r"empty: no summary\.json or requests\.jsonl\.gz"):
        find_sources(empty)
    with pytest.raises(ConfigError, match=r"nothing\.json: no such file$"):
        find_sources(tmp_path / "nothing.json")


# ------------------------------------------------------------------ locust-llm report


def test_report_rebuilds_into_another_folder_with_its_summary_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = sample_records()
    summary = json.loads(json.dumps(run_summary(stats_of(records))))
    write_records(tmp_path / "run", records, summary)
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "again")]) == 0
    names = sorted(p.name for p in (tmp_path / "again").iterdir())
    assert names == ["junit.xml", "report.html", "summary.json", "summary.md"]
    assert json.loads((tmp_path / "again" / "summary.json").read_text()) == summary
    assert f"Figures rebuilt from {tmp_path / 'run' / RECORDS_FILE}" in capsys.readouterr().out


def test_report_never_replaces_the_summary_json_it_read(tmp_path: Path) -> None:
    records = sample_records()
    summary = run_summary(stats_of(records))
    summary["run"]["note"] = "as the run wrote it"
    write_records(tmp_path, records, summary)
    text = (tmp_path / "summary.json").read_text()
    assert main(["report", str(tmp_path / RECORDS_FILE)]) == 0
    assert (tmp_path / "summary.json").read_text() == text
    assert (tmp_path / "summary.md").is_file()


def test_report_of_records_alone_writes_a_summary_beside_them(tmp_path: Path) -> None:
    write_records(tmp_path, sample_records(30))
    assert main(["report", str(tmp_path)]) == 0
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["modes"]["stream"]["requests"] == 23


def test_report_no_records_reports_the_summarys_own_figures(tmp_path: Path) -> None:
    records = sample_records()
    summary = json.loads(json.dumps(run_summary(stats_of(records[:100]))))
    write_records(tmp_path, records, summary)  # not this summary's records
    assert main(["report", str(tmp_path), "--no-records", "--out", str(tmp_path / "o")]) == 0
    assert "summary.json" not in {p.name for p in (tmp_path / "o").iterdir()}
    assert main(["report", str(tmp_path)]) == 2


def test_report_of_a_bad_records_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.gz"
    path.write_bytes(b"\x1f\x8b not really gzip")
    assert main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("locust-llm: error: broken.gz: ")
    assert err.count("\n") == 1

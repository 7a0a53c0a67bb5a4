"""Runs made up for the tests of `locust-llm compare`: request records, and report folders
holding the summary.json (built by the harness's own statistics) and requests.jsonl.gz (the
records' lines, harness.report.records) a run would write."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import ErrorClass, Mode, Outcome
from harness.record import RequestRecord
from harness.report.records import RECORDS_FILE, record_to_line, write_lines
from harness.report.summary import RunInfo, build_summary
from harness.stats import RunStats

MODEL = "mock-llm"


def stream_record(
    t0: float,
    ttft_s: float,
    gaps_s: Sequence[float],
    *,
    target: str = "",
    outcome: Outcome = Outcome.OK,
) -> RequestRecord:
    """A streamed request: its first token `ttft_s` after `t0`, one token after each gap."""
    record = RequestRecord(mode=Mode.STREAM, model=MODEL, endpoint="/v1/chat/completions")
    record.target = target
    record.t0 = t0
    record.t_headers = t0 + min(ttft_s, 0.001)
    t = t0 + ttft_s
    record.on_token_event(t, visible=True)
    for gap in gaps_s:
        t += gap
        record.on_token_event(t, visible=True)
    record.server_output_tokens = 1 + len(gaps_s)
    record.finish_reason = "stop"
    record.t_end = t + 0.0001
    record.status = 200
    record.outcome = outcome
    if outcome is Outcome.FAILED:
        record.error_class = ErrorClass.HTTP_5XX
    return record


def batch_record(
    t0: float, e2e_s: float, *, tokens: int = 8, target: str = "", failed: bool = False
) -> RequestRecord:
    """A batch request answered whole `e2e_s` after `t0` (or failed with an HTTP 5xx)."""
    record = RequestRecord(mode=Mode.BATCH, model=MODEL, endpoint="/v1/chat/completions")
    record.target = target
    record.t0 = t0
    record.t_headers = record.t_end = t0 + e2e_s
    if failed:
        record.status = 500
        record.fail(ErrorClass.HTTP_5XX, t0 + e2e_s)
        return record
    record.status = 200
    record.server_output_tokens = tokens
    record.finish_reason = "stop"
    record.outcome = Outcome.OK
    return record


def summary_of(
    records: Sequence[RequestRecord],
    *,
    duration_s: float = 60.0,
    targets: Sequence[str] = (),
    run: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The summary.json document of `records`, as the harness builds it: with `targets`, the
    first target's figures in `modes` and every target's in `targets`."""
    stats = RunStats()
    for record in records:
        stats.observe(record)
    info = RunInfo(
        "2025-01-31T12:00:00Z", duration_s, "http://127.0.0.1:8000/v1", 8, "2.47.0", "0.1.0", False
    )
    first = targets[0] if targets else None
    summary = build_summary(stats.summary(duration_s, target=first), run=info)
    if targets:
        summary["targets"] = {
            name: {
                "host": f"http://127.0.0.1:{8001 + i}/v1",
                "protocol": "openai",
                "models": [MODEL],
                "modes": stats.summary(duration_s, target=name),
            }
            for i, name in enumerate(targets)
        }
    summary["run"].update(run or {})
    return summary


def write_run(
    folder: Path,
    records: Sequence[RequestRecord],
    *,
    with_records: bool = True,
    duration_s: float = 60.0,
    targets: Sequence[str] = (),
    run: Mapping[str, Any] | None = None,
) -> Path:
    """A report folder of `records`: summary.json, and requests.jsonl.gz unless told not."""
    folder.mkdir(parents=True, exist_ok=True)
    summary = summary_of(records, duration_s=duration_s, targets=targets, run=run)
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    if with_records:
        write_lines(folder / RECORDS_FILE, (record_to_line(r, 0.0) for r in records))
    return folder

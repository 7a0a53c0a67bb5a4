"""`requests.jsonl.gz`: one JSON line per request sent, the run's raw material.

Every request a run sends is one line (docs/records.md describes each field): its mode,
target, model and endpoint; the latency ladder's timestamps in seconds from the run's start
(`t0`, `t_sched`, `t_headers`, `t_first_token`, `t_first_content`, `t_last_token`, `t_end`);
the arrival time of every token-bearing event as seconds after `t0` (`chunks`) and, when the
server said, its cumulative completion tokens (`cumulative_tokens`); the figures derived from
them (`ttft_s`, `ttfc_s`, `ttfb_s`, `tpot_s`, `e2e_s`, `first_visible_s`, `tail_s`), the
token counts, the outcome and its one error class, and the workload's and load plan's view
(turn, stage, pair, warm-up). A prompt's text, an answer's text and any key never go in it.

`record_to_line()` and `record_from_line()` are inverse: a record rebuilt from its line gives
the same figures (times are kept to the microsecond, relative to the run's start, so their
differences are those measured). `write_lines()` and `read_lines()` handle the gzip file.
Pure: standard library and the core only.
"""

from __future__ import annotations

import gzip
import json
import os
from array import array
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, ErrorClass, Mode, Outcome
from harness.record import RequestRecord

#: the file's name in a report folder
RECORDS_FILE = "requests.jsonl.gz"
#: the first key of every line: the format's version
RECORD_VERSION = 1
#: timestamps are kept to this many decimals of a second (a microsecond)
_DIGITS = 6

#: the ladder's timestamps, written relative to the run's start
_TIMES = ("t_sched", "t_headers", "t_first_token", "t_first_content", "t_last_token", "t_end")
#: figures derived from the ladder, written for readers of the file (never read back: they
#: are the record's own properties)
_FIGURES = ("ttft_s", "ttfc_s", "ttfb_s", "tpot_s", "e2e_s", "first_visible_s")
#: plain values copied as they are (None is left out)
_VALUES = (
    "status",
    "input_tokens",
    "server_output_tokens",
    "finish_reason",
    "attempts",
    "reconnects",
    "retry_after_s",
    "turn",
    "pair",
    "prefix_reuse",
    "requested_input_tokens",
    "requested_output_tokens",
    "met_goodput",
)


def record_to_line(
    record: RequestRecord,
    t_start: float,
    *,
    stage: int | None = None,
    warmup: bool = False,
) -> dict[str, Any]:
    """The JSON-safe line of one finished request; times relative to `t_start` (the run's
    start, perf_counter seconds). `stage`: the load plan's stage it belongs to; `warmup`:
    sent during a warm-up (not in the figures)."""
    t0 = record.t0
    line: dict[str, Any] = {
        "v": RECORD_VERSION,
        "mode": str(record.mode),
        "target": record.target,
        "model": record.model,
        "endpoint": record.endpoint,
        "t0": round(t0 - t_start, _DIGITS),
    }
    for name in _TIMES:
        value = getattr(record, name)
        if value is not None:
            line[name] = round(value - t_start, _DIGITS)
    line["outcome"] = None if record.outcome is None else str(record.outcome)
    line["error_class"] = None if record.error_class is None else str(record.error_class)
    for name in _FIGURES:
        value = getattr(record, name)
        if value is not None:
            line[name] = round(value, _DIGITS)
    if record.mode is Mode.STREAM and record.t_last_token is not None and record.t_end:
        line["tail_s"] = round(max(record.t_end - record.t_last_token, 0.0), _DIGITS)
    line["output_tokens"] = record.output_tokens
    line["output_tokens_source"] = record.output_tokens_source
    for name in _VALUES:
        value = getattr(record, name)
        if value is not None:
            line[name] = value
    if record.backoff_s:
        line["backoff_s"] = round(record.backoff_s, _DIGITS)
    if record.chunk_times:
        line["chunks"] = [round(t - t0, _DIGITS) for t in record.chunk_times]
    if record.chunk_cumulative_tokens:
        line["cumulative_tokens"] = list(record.chunk_cumulative_tokens)
    if record.anomalies:
        line["anomalies"] = dict(record.anomalies)
    if record.server_timings:
        line["server_timings"] = dict(record.server_timings)
    if stage is not None:
        line["stage"] = stage
    if warmup:
        line["warmup"] = True
    return line


def record_from_line(line: Mapping[str, Any], *, where: str = "line") -> RequestRecord:
    """The record a line describes (times relative to the run's start, which is 0);
    `ConfigError` naming `where` and the field for a line that is not one of ours."""
    try:
        if line.get("v") != RECORD_VERSION:
            raise ValueError(f"v: expected {RECORD_VERSION}, got {line.get('v')!r}")
        record = RequestRecord(
            mode=Mode(line["mode"]),
            model=str(line["model"]),
            endpoint=str(line.get("endpoint", "")),
            target=str(line.get("target", "")),
        )
        record.t0 = float(line["t0"])
        for name in _TIMES:
            if line.get(name) is not None:
                setattr(record, name, float(line[name]))
        outcome = line.get("outcome")
        record.outcome = None if outcome is None else Outcome(outcome)
        error = line.get("error_class")
        record.error_class = None if error is None else ErrorClass(error)
        for name in _VALUES:
            if name in line:
                setattr(record, name, line[name])
        record.backoff_s = float(line.get("backoff_s", 0.0))
        t0 = record.t0
        record.chunk_times = array("d", (t0 + float(t) for t in line.get("chunks", ())))
        record.chunk_cumulative_tokens = array("l", line.get("cumulative_tokens", ()))
        anomalies = line.get("anomalies")
        record.anomalies = dict(anomalies) if anomalies else None
        timings = line.get("server_timings")
        record.server_timings = dict(timings) if timings else None
    except (KeyError, ValueError, TypeError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ConfigError(f"{where}: not a request record of locust-llm ({detail})") from None
    return record


def write_lines(path: str | os.PathLike[str], lines: Iterable[Mapping[str, Any]]) -> int:
    """Write `lines` to a gzip JSON-lines file (replacing it); how many were written."""
    n = 0
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as out:
        for line in lines:
            out.write(json.dumps(line, separators=(",", ":"), allow_nan=False))
            out.write("\n")
            n += 1
    return n


def read_lines(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The lines of a `requests.jsonl.gz`, parsed; `ConfigError` (one line, naming the file
    and line number) for a file that is not gzip JSON lines."""
    label = Path(path).name
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for number, text in enumerate(lines, 1):
                if not text.strip():
                    continue
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{label}: line {number}: not JSON ({exc.msg})") from None
                if not isinstance(value, dict):
                    raise ConfigError(f"{label}: line {number}: expected a JSON object")
                yield value
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{label}: not a gzip JSON-lines file ({exc})") from None


def read_records(
    path: str | os.PathLike[str], *, include_warmup: bool = False
) -> Iterator[tuple[RequestRecord, dict[str, Any]]]:
    """Each request of the file as (record, its line); warm-up requests only when asked."""
    label = Path(path).name
    for number, line in enumerate(read_lines(path), 1):
        if line.get("warmup") and not include_warmup:
            continue
        yield record_from_line(line, where=f"{label}: line {number}"), line

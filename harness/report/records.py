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
the same figures, bit for bit. Times are written as the exact floats of their differences from
the run's start (no rounding): a difference of two clock readings less than twice the start
apart is exact (Sterbenz), so subtracting two rebuilt times gives exactly the duration
measured, and the statistics rebuilt from the file equal the run's, not merely come close (a
histogram bucket edge would magnify any rounding into 0.1 % of a percentile).

`RecordsWriter` appends lines to one open gzip stream in batches, each batch flushed so that a
reader (or a run that crashed) finds every line written so far; `write_lines()` writes a whole
file at once and `read_lines()` / `read_records()` read one back. Pure: standard library and
the core only (file I/O, never a clock).
"""

from __future__ import annotations

import gzip
import json
import math
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
#: gzip level of the file a run writes as it goes: 1 costs the load generator half the CPU
#: of 6 for about 10 % more bytes (JSON floats compress little at any level)
STREAM_COMPRESSLEVEL = 1

#: the ladder's timestamps, written relative to the run's start
_TIMES = (
    "t_sched",
    "t_headers",
    "t_first_token",
    "t_first_content",
    "t_first_tool_call",
    "t_last_token",
    "t_end",
)
#: figures derived from the ladder, written for readers of the file (never read back: they
#: are the record's own properties)
_FIGURES = ("ttft_s", "ttfc_s", "ttfb_s", "tpot_s", "e2e_s", "first_visible_s")
#: plain values copied as they are (None is left out), with the types a line may give them
_VALUES: dict[str, tuple[type, ...]] = {
    "status": (int,),
    "input_tokens": (int,),
    "server_output_tokens": (int,),
    "finish_reason": (str,),
    "attempts": (int,),
    "reconnects": (int,),
    "retry_after_s": (int, float),
    "turn": (int,),
    "pair": (int,),
    "prefix_reuse": (bool,),
    "requested_input_tokens": (int,),
    "requested_output_tokens": (int,),
    "met_goodput": (bool,),
    "reasoning_tokens": (int,),
}
#: counts written only when not 0
_COUNTS = ("tool_call_bytes", "reasoning_events")


def record_to_line(
    record: RequestRecord,
    t_start: float,
    *,
    stage: int | None = None,
    warmup: bool = False,
) -> dict[str, Any]:
    """The JSON-safe line of one finished request; times relative to `t_start` (the run's
    start, perf_counter seconds), exact floats. `stage`: the load plan's stage it belongs
    to; `warmup`: sent during a warm-up (not in the figures)."""
    t0 = record.t0
    line: dict[str, Any] = {
        "v": RECORD_VERSION,
        "mode": str(record.mode),
        "target": record.target,
        "model": record.model,
        "endpoint": record.endpoint,
        "t0": t0 - t_start,
    }
    for name in _TIMES:
        value = getattr(record, name)
        if value is not None:
            line[name] = value - t_start
    line["outcome"] = None if record.outcome is None else str(record.outcome)
    line["error_class"] = None if record.error_class is None else str(record.error_class)
    for name in _FIGURES:
        value = getattr(record, name)
        if value is not None:
            line[name] = value
    if record.mode is Mode.STREAM and record.t_last_token is not None and record.t_end:
        line["tail_s"] = max(record.t_end - record.t_last_token, 0.0)
    line["output_tokens"] = record.output_tokens
    line["output_tokens_source"] = record.output_tokens_source
    for name in _VALUES:
        value = getattr(record, name)
        if value is not None:
            line[name] = value
    if record.backoff_s:
        line["backoff_s"] = record.backoff_s
    for name in _COUNTS:
        if getattr(record, name):
            line[name] = getattr(record, name)
    if record.chunk_times:
        line["chunks"] = [t - t0 for t in record.chunk_times]
    if record.chunk_cumulative_tokens:
        line["cumulative_tokens"] = list(record.chunk_cumulative_tokens)
    if record.anomalies:
        line["anomalies"] = dict(record.anomalies)
    if record.server_timings:
        # the server's numbers: a non-finite one (a server may send NaN) is not JSON
        timings = {k: v for k, v in record.server_timings.items() if math.isfinite(v)}
        if timings:
            line["server_timings"] = timings
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
            model=_text(line, "model"),
            endpoint=_text(line, "endpoint", ""),
            target=_text(line, "target", ""),
        )
        record.t0 = _number(line, "t0")
        for name in _TIMES:
            if line.get(name) is not None:
                setattr(record, name, _number(line, name))
        outcome = line.get("outcome")
        record.outcome = None if outcome is None else Outcome(outcome)
        error = line.get("error_class")
        record.error_class = None if error is None else ErrorClass(error)
        for name, types in _VALUES.items():
            value = line.get(name)
            if value is None:
                continue
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                raise ValueError(f"{name}: expected {types[0].__name__}, got {value!r}")
            setattr(record, name, value)
        record.backoff_s = _number(line, "backoff_s", 0.0)
        for name in _COUNTS:
            count = line.get(name, 0)
            if not isinstance(count, int) or isinstance(count, bool):
                raise ValueError(f"{name}: expected int, got {count!r}")
            setattr(record, name, count)
        t0 = record.t0
        record.chunk_times = array("d", (t0 + float(t) for t in _list(line, "chunks")))
        record.chunk_cumulative_tokens = array("l", _list(line, "cumulative_tokens"))
        anomalies = line.get("anomalies")
        record.anomalies = {str(k): int(n) for k, n in anomalies.items()} if anomalies else None
        timings = line.get("server_timings")
        record.server_timings = {str(k): float(v) for k, v in timings.items()} if timings else None
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ConfigError(f"{where}: not a request record of locust-llm ({detail})") from None
    return record


def _text(line: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = line[name] if default is None else line.get(name, default)
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a string, got {value!r}")
    return value


def _number(line: Mapping[str, Any], name: str, default: float | None = None) -> float:
    value = line[name] if default is None else line.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a number of seconds, got {value!r}")
    return float(value)


def _list(line: Mapping[str, Any], name: str) -> list[Any]:
    value = line.get(name, [])
    if not isinstance(value, list):
        raise ValueError(f"{name}: expected a list, got {value!r}")
    return value


#: one encoder for every line (json.dumps builds one per call for these options)
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def encode_line(line: Mapping[str, Any]) -> bytes:
    """One line of the file: compact JSON and a newline (no NaN: a `ValueError`)."""
    return _ENCODER.encode(line).encode() + b"\n"


class RecordsWriter:
    """A `requests.jsonl.gz` being written: one gzip stream, appended to in batches.

    Opening replaces the file. A `write()` flushes the stream unless told not to (a zlib
    sync flush), so a reader finds every line written until then, and a crash loses only
    what came after; `close()` ends the stream. `lines` counts the lines written.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, compresslevel: int = STREAM_COMPRESSLEVEL
    ) -> None:
        self.path = Path(path)
        self.lines = 0
        # open across batches until close(): no context manager can hold it
        self._file: gzip.GzipFile | None = gzip.open(  # noqa: SIM115
            self.path, "wb", compresslevel=compresslevel
        )

    @property
    def closed(self) -> bool:
        """Whether `close()` was called (nothing more can be written)."""
        return self._file is None

    def write(self, lines: Iterable[Mapping[str, Any]], *, flush: bool = True) -> int:
        """Append `lines` (then flush, unless `flush` is False); how many were written.
        `ValueError` when closed, or for a line that is not JSON (NaN)."""
        out = self._file
        if out is None:
            raise ValueError(f"{self.path.name}: already closed")
        data = [encode_line(line) for line in lines]
        if data:
            out.write(b"".join(data))
            self.lines += len(data)
        if flush:
            out.flush()
        return len(data)

    def flush(self) -> None:
        """Flush what was written (nothing when closed)."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """End the gzip stream and close the file (again: nothing)."""
        out, self._file = self._file, None
        if out is not None:
            out.close()


def write_lines(
    path: str | os.PathLike[str], lines: Iterable[Mapping[str, Any]], *, compresslevel: int = 6
) -> int:
    """Write `lines` to a gzip JSON-lines file (replacing it); how many were written."""
    n = 0
    with gzip.open(path, "wb", compresslevel=compresslevel) as out:
        for line in lines:
            out.write(encode_line(line))
            n += 1
    return n


def read_lines(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The lines of a `requests.jsonl.gz`, parsed; `ConfigError` (one line, naming the file
    and line number) for a file that is not gzip JSON lines."""
    label = Path(path).name
    number = 0
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
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a {RECORDS_FILE}") from None
    except EOFError:
        raise ConfigError(
            f"{label}: ends after line {number}, before the end of its gzip stream (the run "
            "that wrote it did not finish)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
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

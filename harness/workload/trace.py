"""Trace replay files: when each request of a recorded workload arrived, and its input and output
lengths, read into a `Trace` sorted by time.

A trace is JSONL, one request per line, in one of two shapes (one shape, and one time key, per
file):

- **Mooncake** (its published traces exactly): ``{"timestamp": 27482, "input_length": 6955,
  "output_length": 52, "hash_ids": [46, 47, …]}``. ``timestamp`` is in **milliseconds**
  (integers in Mooncake's files; any number of 0 or more is read). A file may give
  ``timestamp_s`` instead, in **seconds**. ``hash_ids`` (optional) are the ids of the prompt's
  blocks of `Trace.block_tokens` tokens (512 in Mooncake's traces): requests that share a
  block id share that part of their prompt.
- **Azure LLM inference trace**, converted to JSONL: ``{"TIMESTAMP": "2023-11-16
  18:15:46.6805900", "ContextTokens": 4808, "GeneratedTokens": 10}``: an ISO date-time
  (digits beyond microseconds dropped; a time zone is converted to UTC, a time without one
  is read as UTC).

Times become seconds from the trace's first (earliest) request. Every malformed line is a
one-line `ConfigError`, ``FILE:LINE: field: what is wrong (what was expected)``. Pure: standard
library and the pure harness modules only; it never reads the clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.workload.records import counted, is_integer, json_lines, read_record_file, shown

#: tokens per hash block in Mooncake's traces
MOONCAKE_BLOCK_TOKENS = 512

#: each time key, the shape of the line it starts, and how its value is read
TIME_KEYS = {
    "timestamp": "milliseconds",
    "timestamp_s": "seconds",
    "TIMESTAMP": "ISO date-time",
}
_LENGTH_KEYS = {  # time key -> (input length key, output length key)
    "timestamp": ("input_length", "output_length"),
    "timestamp_s": ("input_length", "output_length"),
    "TIMESTAMP": ("ContextTokens", "GeneratedTokens"),
}
_EXPECTED_TIME = (
    'expected "timestamp" in milliseconds, "timestamp_s" in seconds, or "TIMESTAMP" as an ISO '
    "date-time"
)
_ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One request of the trace."""

    #: seconds from the trace's first request (the first is 0.0)
    t_s: float
    input_length: int
    output_length: int
    #: the ids of the prompt's blocks of `Trace.block_tokens` tokens, shared across requests
    hash_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Trace:
    """A trace's requests in time order, and how the file was read."""

    file: str
    #: sorted by t_s (stably: requests at the same time keep their file order)
    entries: tuple[TraceEntry, ...]
    #: tokens per hash block (512: Mooncake's)
    block_tokens: int
    #: lines whose time was earlier than the line before's (the file was sorted)
    unsorted: int

    def duration_s(self, speed: float = 1.0) -> float:
        """Seconds from the first request to the last, replayed `speed` times as fast."""
        return self.entries[-1].t_s / _checked_speed(speed)

    def times(self, speed: float = 1.0) -> tuple[float, ...]:
        """Each request's due time in seconds from the start, replayed `speed` times as fast."""
        speed = _checked_speed(speed)
        return tuple(entry.t_s / speed for entry in self.entries)

    def describe(self, speed: float = 1.0) -> str:
        """One line: ``trace t.jsonl: 1,000 requests over 3m20s (5.0/s), ×2 speed``."""
        duration = self.duration_s(speed)
        text = f"trace {self.file}: {counted(len(self.entries), 'request')} over "
        text += _duration_text(duration)
        if duration > 0:
            rate = len(self.entries) / duration
            text += f" ({rate:.1f}/s)" if rate >= 1 else f" ({rate:.2g}/s)"
        if speed != 1.0:
            text += f", ×{speed:g} speed"
        if any(entry.hash_ids for entry in self.entries):
            text += f", hash_ids in {self.block_tokens}-token blocks"
        if self.unsorted:
            text += f", {counted(self.unsorted, 'line')} out of time order (sorted)"
        return text


def read_trace(
    file: Path, *, block_tokens: int = MOONCAKE_BLOCK_TOKENS, limit: int | None = None
) -> Trace:
    """The requests of a trace file (Mooncake or Azure shape, see the module), sorted by time.

    Every line is checked. `limit` keeps the first `limit` requests in time order (all when
    the trace has fewer). An empty file, or any malformed line, is a one-line `ConfigError`.
    """
    if not is_integer(block_tokens) or block_tokens < 1:
        raise ConfigError(
            f"block_tokens: got {shown(block_tokens)} (expected an integer of 1 or more)"
        )
    if limit is not None and (not is_integer(limit) or limit < 1):
        raise ConfigError(f"limit: got {shown(limit)} (expected an integer of 1 or more)")
    text = read_record_file(file)
    time_key: str | None = None
    first_date: datetime | None = None  # ISO times are read as seconds since the first line's
    rows: list[tuple[float, int, int, tuple[int, ...]]] = []  # (time in the file's unit, …)
    for where, item in json_lines(text, file):
        if not isinstance(item, dict):
            raise ConfigError(
                f'{where}: got {shown(item)} (expected an object {{"timestamp": …, '
                '"input_length": …, "output_length": …})'
            )
        key = _time_key(item, where, time_key)
        time_key = key
        input_key, output_key = _LENGTH_KEYS[key]
        instant = _instant(item[key], key, where)
        if isinstance(instant, datetime):
            first_date = first_date or instant
            instant = (instant - first_date) / _ONE_SECOND
        rows.append(
            (
                instant,
                _length(item, input_key, where),
                _length(item, output_key, where),
                _hash_ids(item, where) if key != "TIMESTAMP" else (),
            )
        )
    if not rows:
        raise ConfigError(
            f"{file}: holds no requests (expected one JSON object per line, "
            '{"timestamp": …, "input_length": …, "output_length": …})'
        )
    unsorted = sum(rows[i][0] < rows[i - 1][0] for i in range(1, len(rows)))
    rows.sort(key=lambda row: row[0])  # stable
    if limit is not None:
        rows = rows[:limit]
    first = rows[0][0]
    scale = 1000.0 if time_key == "timestamp" else 1.0
    entries = tuple(
        TraceEntry((instant - first) / scale, n_in, n_out, hashes)
        for instant, n_in, n_out, hashes in rows
    )
    return Trace(file=str(file), entries=entries, block_tokens=block_tokens, unsorted=unsorted)


def _time_key(item: dict[str, Any], where: str, file_key: str | None) -> str:
    """The line's time key: exactly one, and the same as the file's first line's."""
    keys = [key for key in TIME_KEYS if key in item]
    if not keys:
        raise ConfigError(f"{where}: timestamp: missing ({_EXPECTED_TIME})")
    if len(keys) > 1:
        raise ConfigError(
            f"{where}: {keys[1]}: given with {keys[0]} (expected one time key per line)"
        )
    if file_key is not None and keys[0] != file_key:
        raise ConfigError(
            f'{where}: {keys[0]}: the first request gives "{file_key}" (expected one time key '
            "in the whole file)"
        )
    return keys[0]


def _instant(value: Any, key: str, where: str) -> float | datetime:
    """A line's time as given: a number (milliseconds or seconds) or a UTC date-time."""
    if key == "TIMESTAMP":
        expected = 'expected an ISO date-time such as "2023-11-16 18:15:46.6805900"'
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key}: got {shown(value)} ({expected})")
        try:
            instant = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ConfigError(f"{where}: {key}: got {shown(value)} ({expected})") from None
        if instant.tzinfo is not None:
            instant = instant.astimezone(UTC).replace(tzinfo=None)
        return instant
    unit = TIME_KEYS[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: {key}: got {shown(value)} (expected a number of {unit})")
    if not math.isfinite(value) or value < 0:
        raise ConfigError(
            f"{where}: {key}: got {shown(value)} (expected a number of {unit}, 0 or more)"
        )
    return float(value)


def _length(item: dict[str, Any], key: str, where: str) -> int:
    """A token length of 1 or more."""
    if key not in item:
        raise ConfigError(f"{where}: {key}: missing (expected an integer of 1 or more)")
    value = item[key]
    if not is_integer(value) or value < 1:
        raise ConfigError(f"{where}: {key}: got {shown(value)} (expected an integer of 1 or more)")
    return int(value)


def _hash_ids(item: dict[str, Any], where: str) -> tuple[int, ...]:
    """The optional block ids: a list of integers."""
    value = item.get("hash_ids", [])
    if not isinstance(value, list):
        raise ConfigError(f"{where}: hash_ids: got {shown(value)} (expected a list of integers)")
    for i, block in enumerate(value):
        if not is_integer(block):
            raise ConfigError(f"{where}: hash_ids[{i}]: got {shown(block)} (expected an integer)")
    return tuple(value)


def _checked_speed(speed: float) -> float:
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not speed > 0:
        raise ConfigError(f"speed: got {shown(speed)} (expected a number above 0)")
    if not math.isfinite(speed):
        raise ConfigError(f"speed: got {shown(speed)} (expected a finite number above 0)")
    return float(speed)


def _duration_text(seconds: float) -> str:
    """``29.5s``, ``3m20s``, ``1h02m05s``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s"

"""What every reader of a user's record file shares: the file read whole, a JSON value shown in
an error, and a seeded sample of records.

The readers (`sharegpt`, `jsonl`, `trace`) read the user's file whole, at most
`MAX_RECORD_FILE_BYTES` (the limit of harness/prompts.py), and report every problem as a
one-line `ConfigError` naming the file (and, in the reader, the record and field). Pure:
standard library and harness.errors only.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

#: Record files are read whole; beyond this they are the wrong file (as prompt files).
MAX_RECORD_FILE_BYTES = 256 * 1024 * 1024

#: the longest value an error message quotes before cutting it with "…"
_SHOWN_CHARS = 40


def json_lines(text: str, file: Path) -> Iterator[tuple[str, Any]]:
    """Each non-blank line of a JSONL text, parsed, with where it is (``FILE:LINE``); a line
    that is not JSON is a one-line `ConfigError` naming its line and column."""
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{file}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}:{exc.colno}: not JSON ({exc.msg})") from None
        yield where, item


def read_record_file(file: Path) -> str:
    """The whole text of `file`, UTF-8 (a leading byte-order mark dropped).

    Raises a one-line `ConfigError` for a missing file, a directory, an unreadable or too
    large file, and bytes that are not UTF-8 (naming the line of the first bad byte).
    """
    try:
        if file.is_dir():
            raise ConfigError(f"{file}: is a directory (expected a file)")
        with file.open("rb") as f:
            data = f.read(MAX_RECORD_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > MAX_RECORD_FILE_BYTES:
        raise ConfigError(f"{file}: larger than {MAX_RECORD_FILE_BYTES:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{file}:{line}: not UTF-8 (save the file as UTF-8)") from None


def shown(value: Any) -> str:
    """`value` as an error message quotes it: JSON scalars as JSON (cut after 40 characters),
    a list or an object by its kind (``a list``, ``an object``)."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def is_integer(value: Any) -> bool:
    """Whether a JSON value is an integer (``true`` and ``false`` are not, nor is ``3.0``)."""
    return isinstance(value, int) and not isinstance(value, bool)


def sample_indices(available: int, sample: int | None, seed: int, what: str) -> tuple[int, ...]:
    """The indices (ascending) of `sample` of `available` records, drawn without replacement by
    `random.Random(seed)`; all of them when `sample` is None.

    The same (available, sample, seed) always gives the same indices. `what` names the records
    in the error for a sample larger than what is available (``conversations``).
    """
    if sample is None:
        return tuple(range(available))
    if not is_integer(sample) or sample < 1:
        raise ConfigError(f"sample: got {shown(sample)} (expected an integer of 1 or more)")
    if sample > available:
        raise ConfigError(
            f"sample: asked for {sample:,} {what}, there are {available:,} "
            "(after the length filters)"
        )
    return tuple(sorted(random.Random(seed).sample(range(available), sample)))


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``1 conversation``, ``1,200 conversations``: a count with its noun, plural when not 1."""
    return f"{number:,} {noun if number == 1 else (plural or noun + 's')}"

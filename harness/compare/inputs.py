"""BASE and NEW as given on the command line: a report folder or a summary.json path.

`load_run("llm-report/", "BASE")` finds the folder's summary.json (or takes the file given),
checks that it is a locust-llm summary (``"schema": "locust-llm/summary/v1"``) and looks for
the run's per-request records (`requests.jsonl.gz`, harness.report.records) beside it. Bad
input is a `ConfigError` of one line that names the side and the path. Pure apart from reading
the files: standard library and the report layer only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.report.records import RECORDS_FILE
from harness.report.summary import SUMMARY_JSON, load_summary


@dataclass(frozen=True, slots=True)
class RunInput:
    """One side of the comparison: its `label` (BASE or NEW), the summary's path and
    document, and the records file beside it (None when the run wrote none)."""

    label: str
    summary_path: Path
    summary: Mapping[str, Any]
    records_path: Path | None

    @property
    def run(self) -> Mapping[str, Any]:
        """The summary's `run` object ({} when it has none)."""
        run = self.summary.get("run")
        return run if isinstance(run, Mapping) else {}


def load_run(argument: str, label: str) -> RunInput:
    """The run that `argument` names (a folder holding summary.json, or the file itself)."""
    path = Path(argument)
    if path.is_dir():
        summary_path = path / SUMMARY_JSON
        if not summary_path.is_file():
            raise ConfigError(f"{label} {argument}: no {SUMMARY_JSON} in this folder")
    elif path.exists():
        summary_path = path
    else:
        raise ConfigError(f"{label} {argument}: no such file or folder")
    try:
        summary = load_summary(summary_path)
    except UnicodeDecodeError:
        raise ConfigError(
            f"{label} {summary_path}: not a locust-llm summary (not UTF-8 text)"
        ) from None
    except ValueError as exc:
        raise ConfigError(f"{label} {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{label} {summary_path}: cannot read it ({exc.strerror})") from None
    records = summary_path.parent / RECORDS_FILE
    return RunInput(label, summary_path, summary, records if records.is_file() else None)

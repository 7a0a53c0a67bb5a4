"""The `summary.json` document (docs/design.md): build it, write it with its Markdown twin, load it.

The document is ``{"schema": "locust-llm/summary/v1", "run": {...}, "modes": {...},
"slos": [...]}`` (optionally ``"timeline"`` and ``"cost"``, harness.report.enrich).
`"modes"` is what `harness.stats.RunStats.summary()` returns, taken as is; durations are
seconds and figures that do not apply are absent, never 0. `write_all_reports` adds
report.html (harness.report.html) and junit.xml (harness.report.junit) beside summary.json
and summary.md. `summary.schema.json` beside this module is the JSON Schema of the document
(`load_schema()`). Pure apart from the file I/O of the writers and `load_summary`: standard
library only.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from harness.report.markdown import render_markdown

SCHEMA_ID = "locust-llm/summary/v1"
"""The value of the document's `"schema"` key; bumped only when the contract changes."""

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
REPORT_HTML = "report.html"
JUNIT_XML = "junit.xml"

_FILE_MODE = 0o644


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What the `"run"` object of summary.json says about the run.

    `started_at` is ISO-8601 UTC (``2025-01-31T12:00:00Z`` or ``…+00:00``), a wall-clock
    stamp for people; `duration_s` is the measured run time in seconds. `host` must already
    be redacted by the caller (no credentials, no query string). `client_saturated` is true
    when the load generator was too busy to timestamp faithfully. `models`
    and `endpoint` are optional: left out of the document when empty or None.
    """

    started_at: str
    duration_s: float
    host: str
    users: int
    locust_version: str
    harness_version: str
    client_saturated: bool
    models: tuple[str, ...] = ()
    endpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The `"run"` object; optional fields that are unset are absent, never null."""
        run: dict[str, Any] = {
            "started_at": self.started_at,
            "duration_s": float(self.duration_s),
            "host": self.host,
            "users": self.users,
            "locust_version": self.locust_version,
            "harness_version": self.harness_version,
            "client_saturated": self.client_saturated,
        }
        if self.models:
            run["models"] = list(self.models)
        if self.endpoint is not None:
            run["endpoint"] = self.endpoint
        return run


def build_summary(
    modes: dict[str, Any], *, run: RunInfo, slos: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The summary.json document for `modes` (from `RunStats.summary()`), `run` and `slos`.

    `modes` and `slos` are deep-copied, so the document does not alias the caller's
    state. `slos` (SLO gate results) defaults to an empty list.

        >>> run = RunInfo("2025-01-31T12:00:00Z", 60.0, "http://127.0.0.1:8000/v1", 8,
        ...               "2.47.0", "0.1.0", False)
        >>> build_summary({}, run=run)["schema"]
        'locust-llm/summary/v1'
    """
    return {
        "schema": SCHEMA_ID,
        "run": run.to_dict(),
        "modes": copy.deepcopy(modes),
        "slos": copy.deepcopy(slos) if slos is not None else [],
    }


def write_reports(summary: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write `summary.json` and `summary.md` into `out_dir` (created if missing).

    Each file is written to a temporary file and renamed into place, so a reader never
    sees half a report; files are mode 0644. Returns the paths, JSON first.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / SUMMARY_JSON
    md_path = out_dir / SUMMARY_MD
    _write_text(json_path, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    _write_text(md_path, render_markdown(summary))
    return [json_path, md_path]


def write_all_reports(summary: dict[str, Any], out_dir: Path) -> list[Path]:
    """`write_reports`, then report.html and junit.xml beside them; returns every path."""
    return write_reports(summary, out_dir) + _write_html_and_junit(summary, Path(out_dir))


def write_extra_reports(summary: dict[str, Any], out_dir: Path) -> list[Path]:
    """Rebuild summary.md, report.html and junit.xml from a summary (`locust-llm report`).

    summary.json itself is left as it is.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path = out_dir / SUMMARY_MD
    _write_text(md_path, render_markdown(summary))
    return [md_path, *_write_html_and_junit(summary, out_dir)]


def _write_html_and_junit(summary: dict[str, Any], out_dir: Path) -> list[Path]:
    from harness.report.html import render_html
    from harness.report.junit import render_junit

    html_path = out_dir / REPORT_HTML
    junit_path = out_dir / JUNIT_XML
    _write_text(html_path, render_html(summary))
    _write_text(junit_path, render_junit(summary))
    return [html_path, junit_path]


def load_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a summary.json written by `write_reports`.

    Raises `ValueError` with a one-line message when the file is not JSON or not a
    locust-llm summary of this schema version; `OSError` when it cannot be read.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path}: not a locust-llm summary (not JSON: {exc.msg} at line {exc.lineno})"
        ) from None
    found = document.get("schema") if isinstance(document, dict) else None
    if not isinstance(document, dict) or found != SCHEMA_ID:
        if isinstance(found, str) and found.startswith("locust-llm/summary/"):
            reason = f"unsupported schema {found!r}, this version reads {SCHEMA_ID!r}"
        else:
            reason = f'expected "schema": {json.dumps(SCHEMA_ID)}'
        raise ValueError(f"{path}: not a locust-llm summary ({reason})")
    summary: dict[str, Any] = document
    return summary


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of summary.json, shipped in this package."""
    text = (
        resources.files("harness.report")
        .joinpath("summary.schema.json")
        .read_text(encoding="utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


def _write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, _FILE_MODE)  # mkstemp creates 0600; reports are for everyone
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""`locust-llm compare BASE NEW`: read both runs, compare them, write and print the results.

`run_compare()` loads BASE and NEW (harness.compare.inputs), reads both runs' request records
when both have them (harness.compare.samples), warns of different workloads
(harness.compare.workload), compares every figure (harness.compare.changes), writes
compare.md, compare.html and compare.junit.xml into the output folder, prints compare.md and
returns the exit code: 1 when a figure regressed, 0 otherwise. Bad input raises `ConfigError`
(one line; the command exits 2). Pure apart from reading and writing the files: standard
library and the report layer only.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TextIO

from harness.compare.changes import Comparison, compare_runs
from harness.compare.html import render_html
from harness.compare.inputs import load_run
from harness.compare.junit import render_junit
from harness.compare.markdown import render_markdown
from harness.compare.samples import read_samples
from harness.compare.verdict import parse_threshold
from harness.compare.workload import workload_warnings
from harness.errors import ConfigError

#: the output folder when none is given
DEFAULT_OUT = "llm-compare"
COMPARE_MD = "compare.md"
COMPARE_HTML = "compare.html"
COMPARE_JUNIT = "compare.junit.xml"


def build_comparison(base_argument: str, new_argument: str, threshold: float) -> Comparison:
    """The comparison of the runs the two arguments name (folders or summary.json paths)."""
    base, new = load_run(base_argument, "BASE"), load_run(new_argument, "NEW")
    base_samples = new_samples = None
    if base.records_path is not None and new.records_path is not None:
        base_samples = read_samples(base.records_path, "BASE")
        new_samples = read_samples(new.records_path, "NEW")
    return compare_runs(
        base,
        new,
        threshold,
        base_samples=base_samples,
        new_samples=new_samples,
        warnings=workload_warnings(base.summary, new.summary),
    )


def write_outputs(comparison: Comparison, out_dir: Path) -> list[Path]:
    """Write compare.md, compare.html and compare.junit.xml into `out_dir` (created if
    missing), each replaced whole; returns their paths."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out_dir}: cannot create the folder ({exc.strerror})") from None
    written = []
    for name, text in (
        (COMPARE_MD, render_markdown(comparison)),
        (COMPARE_HTML, render_html(comparison)),
        (COMPARE_JUNIT, render_junit(comparison)),
    ):
        path = out_dir / name
        _write_text(path, text)
        written.append(path)
    return written


def run_compare(
    base_argument: str,
    new_argument: str,
    *,
    threshold_text: str,
    out_dir: str | None,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """The whole command: warnings on `stderr`, compare.md and the outputs' paths on
    `stdout`; the exit code (0 or 1)."""
    threshold = parse_threshold(threshold_text)
    comparison = build_comparison(base_argument, new_argument, threshold)
    for warning in comparison.warnings:
        print(f"locust-llm: warning: {warning}", file=stderr)
    paths = write_outputs(comparison, Path(out_dir if out_dir is not None else DEFAULT_OUT))
    stdout.write(render_markdown(comparison))
    print(f"\nCompare reports: {', '.join(str(p) for p in paths)}", file=stdout)
    return comparison.exit_code


def _write_text(path: Path, text: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write it ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot write it ({exc.strerror})") from None

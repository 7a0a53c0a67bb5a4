"""A summary's figures rebuilt from its run's `requests.jsonl.gz` (`locust-llm report`).

`find_sources(path)` says what a report PATH holds: a report folder, a summary.json or a
requests.jsonl.gz (told by its gzip magic, whatever its name), and what lies beside it.
`stats_from_records()` counts the file's requests (warm-up ones left out, as the run did) in a
`RunStats`, each in its target's groups. `rebuild_summary()` recomputes the summary's `modes`
and each `targets.NAME.modes` from them over the same window the run used (`figures_window_s`),
then the reports' own additions that need no configuration (quantiles, models:
harness.report.enrich); the summary's `run`, `slos`, `load`, `stages`, `timeline`, `cost` and
`paired` stay as the run wrote them, and a key of a mode the statistics do not make (the
workload's figures, the goodput limits) is kept. The records must be the summary's own: the
requests per mode and target must match, or `ConfigError`. `summary_from_records()` builds a
minimal summary for a records file alone.

Pure: standard library, the core and the report layer (file reading only).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import __version__
from harness.errors import ConfigError, Outcome
from harness.record import RequestRecord
from harness.report.enrich import complete_summary
from harness.report.records import RECORDS_FILE, read_records
from harness.report.summary import SUMMARY_JSON, RunInfo, build_summary, load_summary
from harness.stats import RunStats

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class ReportSources:
    """What a report PATH names: the summary.json and the records file found (None: not
    there), and the folder they are in (where the reports go by default)."""

    folder: Path
    summary: Path | None
    records: Path | None


def find_sources(path: Path) -> ReportSources:
    """The summary and records of a report folder, a summary.json or a requests.jsonl.gz
    (each with what lies beside it under its usual name); `ConfigError` when there is
    neither."""
    if path.is_dir():
        summary, records = path / SUMMARY_JSON, path / RECORDS_FILE
        found = ReportSources(
            path, summary if summary.is_file() else None, records if records.is_file() else None
        )
        if found.summary is None and found.records is None:
            raise ConfigError(f"{path}: no {SUMMARY_JSON} or {RECORDS_FILE} in this folder")
        return found
    try:
        with path.open("rb") as f:
            magic = f.read(2)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    folder = path.parent
    if magic == _GZIP_MAGIC:
        beside = folder / SUMMARY_JSON
        return ReportSources(folder, beside if beside.is_file() else None, path)
    beside = folder / RECORDS_FILE
    return ReportSources(folder, path, beside if beside.is_file() else None)


def read_summary(path: Path) -> dict[str, Any]:
    """A summary.json, or `ConfigError` in one line."""
    try:
        return load_summary(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a summary.json") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a locust-llm summary (not UTF-8 text)") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def stats_from_records(records: Iterable[RequestRecord]) -> RunStats:
    """The run's statistics of `records`, each counted in its (mode, model, target) group."""
    stats = RunStats()
    for record in records:
        stats.observe(record)
    return stats


def figures_window_s(summary: Mapping[str, Any]) -> float:
    """The seconds the summary's rates were computed over (`LLMRun.summary`: the measured
    window of a load plan, else the run's duration), read back from its own figures:
    completed requests / `requests_per_s` of any mode (exact to the last bit or two). A
    summary whose requests all were cancelled has no such pair: then the load's measured
    time, else the run's duration; with no rate at all, 0 (the run's window was empty)."""
    blocks = _mode_blocks(summary)
    any_rate = False
    for block in blocks:
        rate = block.get("requests_per_s")
        if not isinstance(rate, int | float):
            continue
        any_rate = True
        completed = _completed(block)
        if rate > 0 and completed > 0:
            return completed / rate
    if blocks and not any_rate:
        return 0.0
    run = summary.get("run") or {}
    measured = (run.get("load") or {}).get("measured_s")
    if isinstance(measured, int | float) and measured > 0:
        return float(measured)
    duration = run.get("duration_s")
    return float(duration) if isinstance(duration, int | float) else 0.0


def rebuild_summary(
    summary: Mapping[str, Any], records_path: str | os.PathLike[str]
) -> dict[str, Any]:
    """`summary` with its figures recomputed from the records at `records_path` (see the
    module's docstring); `ConfigError` when the file is not the summary's."""
    stats = stats_from_records(record for record, _ in read_records(records_path))
    rebuilt: dict[str, Any] = copy.deepcopy(dict(summary))
    window = figures_window_s(summary)
    targets = rebuilt.get("targets")
    named = targets if isinstance(targets, dict) and targets else {}
    first = next(iter(named), None)
    _check_counts(Path(records_path).name, rebuilt.get("modes") or {}, stats, first, "")
    for name, entry in named.items():
        _check_counts(Path(records_path).name, entry.get("modes") or {}, stats, name, name)
    rebuilt["modes"] = _kept(rebuilt.get("modes"), stats.summary(window, target=first))
    for name, entry in named.items():
        entry["modes"] = _kept(entry.get("modes"), stats.summary(window, target=name))
        entry["models"] = sorted({g.model for g in stats.groups() if g.target == name and g.model})
    return complete_summary(rebuilt, stats=stats, config=None, timeline=None)


def summary_from_records(
    records_path: str | os.PathLike[str], *, started_at: datetime | None = None
) -> dict[str, Any]:
    """A minimal summary of a records file alone: its figures over the time from the first
    request's `t0` to the last one's end, per target when the lines name targets (host
    unknown: ""), and nothing the file cannot say (no SLOs, no load, no cost). `started_at`
    (the wall clock, for people) defaults to the file's modification time less that span."""
    path = Path(records_path)
    stats = RunStats()
    first_t0: float | None = None
    last_end: float | None = None
    order: dict[str, None] = {}
    for record, _ in read_records(path):
        stats.observe(record)
        end = record.t_end if record.t_end is not None else record.t0
        first_t0 = record.t0 if first_t0 is None else min(first_t0, record.t0)
        last_end = end if last_end is None else max(last_end, end)
        if record.target:
            order.setdefault(record.target, None)
    span = max(last_end - first_t0, 0.0) if first_t0 is not None and last_end is not None else 0.0
    if started_at is None:
        started_at = datetime.fromtimestamp(path.stat().st_mtime - span, UTC)
    run = RunInfo(
        started_at=started_at.isoformat(timespec="seconds"),
        duration_s=round(span, 3),
        host="",
        users=0,
        locust_version="unknown",
        harness_version=__version__,
        client_saturated=False,
    )
    first = next(iter(order), None)
    summary = build_summary(stats.summary(span, target=first), run=run)
    if order:
        summary["targets"] = {
            name: {
                "host": "",
                "models": sorted({g.model for g in stats.groups() if g.target == name and g.model}),
                "modes": stats.summary(span, target=name),
            }
            for name in order
        }
    return complete_summary(summary, stats=stats, config=None, timeline=None)


def _mode_blocks(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every mode block of the summary: `modes` and each target's."""
    containers = [summary.get("modes")]
    targets = summary.get("targets")
    if isinstance(targets, dict):
        containers += [t.get("modes") for t in targets.values() if isinstance(t, dict)]
    return [b for c in containers if isinstance(c, dict) for b in c.values() if isinstance(b, dict)]


def _completed(block: Mapping[str, Any]) -> int:
    requests = block.get("requests")
    outcomes = block.get("outcomes") or {}
    cancelled = outcomes.get(str(Outcome.CANCELLED), 0) if isinstance(outcomes, dict) else 0
    return requests - cancelled if isinstance(requests, int) else 0


def _check_counts(
    label: str, modes: Mapping[str, Any], stats: RunStats, target: str | None, name: str
) -> None:
    """The records count the requests the summary counted, per mode (of `target`)."""
    rebuilt: dict[str, int] = {}
    for group in stats.groups():
        if target is None or group.target == target:
            rebuilt[group.mode] = rebuilt.get(group.mode, 0) + group.requests
    counted = {mode: b.get("requests") for mode, b in modes.items() if isinstance(b, dict)}
    if rebuilt != counted:
        where = f" of target {name}" if name else ""
        raise ConfigError(
            f"{label}: its requests{where} ({_counts(rebuilt)}) are not the ones "
            f"{SUMMARY_JSON} counted ({_counts(counted)}): the records are of another run "
            "(--no-records reports the summary's own figures)"
        )


def _counts(by_mode: Mapping[str, Any]) -> str:
    modes = sorted(by_mode, key=lambda mode: (mode != "stream", mode))
    return ", ".join(f"{mode} {by_mode[mode]}" for mode in modes) or "none"


def _kept(old: Any, new: dict[str, Any]) -> dict[str, Any]:
    """The rebuilt mode blocks, with what the run's blocks held beyond the statistics (a
    key the statistics did not make: the workload's figures; a goodput block's limits)."""
    if not isinstance(old, dict):
        return new
    for mode, block in new.items():
        before = old.get(mode)
        if isinstance(before, dict):
            _keep_extras(before, block)
    return new


def _keep_extras(before: dict[str, Any], block: dict[str, Any]) -> None:
    for key, value in before.items():
        if key not in block:
            block[key] = value
    limits = (before.get("goodput") or {}).get("limits")
    if limits is not None and isinstance(block.get("goodput"), dict):
        block["goodput"] = {"limits": limits, **block["goodput"]}
    models, old_models = block.get("models"), before.get("models")
    if isinstance(models, dict) and isinstance(old_models, dict):
        for model, entry in models.items():
            if isinstance(old_models.get(model), dict) and isinstance(entry, dict):
                _keep_extras(old_models[model], entry)
